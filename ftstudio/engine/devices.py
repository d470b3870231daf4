"""Which device trains and how: GPU or CPU (and why), precision, XLA, steps per execution.

:func:`plan_devices` looks at the machine and ``spec.training`` once, before any model is
built, and returns a :class:`DevicePlan`: the device (the GPU's name, or CPU with the reason
no GPU is used), the distribution strategy (one device; ``MirroredStrategy`` over the local
GPUs when ``training.devices`` is ``all_gpus``; ``MultiWorkerMirroredStrategy`` when
``TF_CONFIG`` describes a cluster), mixed precision (``mixed_float16`` with float32 outputs)
and XLA, both on by default on a GPU only, and ``steps_per_execution``. :func:`model_scope`
builds a model under the plan, :func:`compile_options` passes it to ``compile``, and
:func:`out_of_memory_batch` decides the smaller batch after the GPU ran out of memory.

Standard library at import time; TensorFlow and Keras are imported inside the functions.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ftstudio import config
from ftstudio.errors import FtStudioError, SpecError

if TYPE_CHECKING:
    from ftstudio.spec import TrainSpec

__all__ = ["AUTO_STEPS_PER_EXECUTION", "DevicePlan", "build_for_multi_worker",
           "compile_options", "gpu_names", "in_plan_precision", "is_out_of_memory",
           "machine_device", "model_scope", "out_of_memory_batch", "plan_devices",
           "steps_per_execution", "strategy_scope", "why_no_gpu"]

AUTO_STEPS_PER_EXECUTION = 32
"""The most training steps one call into the device runs when ``steps_per_execution`` is 0
(auto) on a GPU; on a CPU auto means 1 (no gain there, and every batch is reported)."""


@dataclass
class DevicePlan:
    """Where and how a run trains (recorded in ``env.json`` under ``devices``)."""

    device: str
    """``GPU: <name>``, ``2 GPUs: <name>, <name>`` or ``CPU``."""
    reason: str = ""
    """Why the CPU trains when it does ("no GPU found", …); empty on a GPU."""
    strategy: str = "one device"
    """``one device``, ``MirroredStrategy`` or ``MultiWorkerMirroredStrategy``."""
    replicas: int = 1
    """Model copies a step runs on (devices times workers)."""
    mixed_precision: bool = False
    """``mixed_float16`` layers with float32 outputs."""
    jit_compile: bool = False
    """XLA-compiled training step."""
    steps_per_execution: int = 1
    """The requested steps per call into the device (0 = auto); see :func:`steps_per_execution`."""
    on_gpu: bool = False
    distribution: Any = field(default=None, repr=False, compare=False)
    """The ``tf.distribute`` strategy, or None for TensorFlow's default one."""

    def describe(self) -> str:
        """One line for the log: ``Training on GPU: NVIDIA H200 (mixed precision, XLA, …)``."""
        knobs = []
        if self.strategy != "one device":
            knobs.append(f"{self.strategy}, {self.replicas} replicas")
        knobs.append("mixed precision" if self.mixed_precision else "float32")
        knobs.append("XLA" if self.jit_compile else "no XLA")
        if self.steps_per_execution != 1:
            steps = self.steps_per_execution or f"up to {AUTO_STEPS_PER_EXECUTION}"
            knobs.append(f"{steps} steps per execution")
        where = f"{self.device} ({self.reason})" if self.reason else self.device
        return f"Training on {where}: {', '.join(knobs)}"

    def to_json(self) -> dict[str, Any]:
        """The plan as ``env.json`` records it."""
        return {"device": self.device, "reason": self.reason, "strategy": self.strategy,
                "replicas": self.replicas, "mixed_precision": self.mixed_precision,
                "jit_compile": self.jit_compile,
                "steps_per_execution": self.steps_per_execution or "auto"}


def gpu_names() -> list[str]:
    """The names of the GPUs TensorFlow sees (``NVIDIA H200``), in device order."""
    import tensorflow as tf

    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except (RuntimeError, ValueError):  # pragma: no cover - no details on this platform
            details = {}
        names.append(str(details.get("device_name") or gpu.name))
    return names


def why_no_gpu() -> str:
    """Why TensorFlow trains on the CPU here, in words a user can act on."""
    import tensorflow as tf

    if not tf.test.is_built_with_cuda():
        return "TensorFlow without CUDA; on Linux install ftstudio[gpu] for an NVIDIA GPU"
    if config.package_dir("nvidia") is None:  # the CUDA wheels of tensorflow[and-cuda]
        return "no GPU found: TensorFlow's CUDA libraries are not installed; on Linux " \
            "install ftstudio[gpu]"
    return "no GPU found: check the NVIDIA driver with nvidia-smi"


def machine_device() -> str:
    """What this machine trains on (the window's status): ``GPU: <names>`` or ``CPU (<why>)``."""
    names = gpu_names()
    return f"GPU: {', '.join(names)}" if names else f"CPU ({why_no_gpu()})"


def _enable_memory_growth() -> None:
    """Let TensorFlow take GPU memory as it needs it rather than all of it at start."""
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except (RuntimeError, ValueError):  # already initialised: the setting stays as it is
            pass


def _fast_float16(on_gpu: bool) -> bool:
    """Whether the GPUs have float16 tensor cores (compute capability 7.0 or newer)."""
    import tensorflow as tf

    if not on_gpu:
        return False
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            capability = tf.config.experimental.get_device_details(gpu).get(
                "compute_capability")
        except (RuntimeError, ValueError):  # pragma: no cover
            capability = None
        if capability and tuple(capability) < (7, 0):
            return False
    return True


def _knob(value: str, auto: bool) -> bool:
    return auto if value == "auto" else value == "on"


def plan_devices(training: TrainSpec) -> DevicePlan:
    """Choose the device, strategy and knobs of a run (before any model is built).

    A multi-worker strategy must be created before TensorFlow runs anything, so call this
    right after TensorFlow is imported.

    Raises:
        SpecError: ``training.devices`` is ``gpu`` and there is no GPU.
    """
    import tensorflow as tf

    _enable_memory_growth()
    gpus = gpu_names() if training.devices != "cpu" else []
    plan = DevicePlan(device="CPU")
    if config.tf_config():
        strategy: Any = tf.distribute.MultiWorkerMirroredStrategy()
        plan.strategy, plan.distribution = "MultiWorkerMirroredStrategy", strategy
        plan.replicas = int(strategy.num_replicas_in_sync)
    if training.devices == "cpu":
        plan.reason = "training.devices is 'cpu'"
        if plan.distribution is None:
            plan.distribution = tf.distribute.OneDeviceStrategy("/cpu:0")
    elif gpus:
        plan.device = (f"GPU: {gpus[0]}" if len(gpus) == 1
                       else f"{len(gpus)} GPUs: {', '.join(gpus)}")
        plan.on_gpu = True
    elif training.devices == "gpu":
        raise SpecError(f"training.devices is 'gpu' but {why_no_gpu()}; set it to 'auto' "
                        f"to train on the CPU")
    else:
        plan.reason = why_no_gpu()
    if training.devices == "all_gpus" and plan.distribution is None:
        _mirror(plan, len(gpus))
    plan.mixed_precision = _knob(training.mixed_precision, _fast_float16(plan.on_gpu))
    plan.jit_compile = _knob(training.jit_compile, plan.on_gpu)
    plan.steps_per_execution = training.steps_per_execution
    if not plan.on_gpu and training.steps_per_execution == 0:
        plan.steps_per_execution = 1
    return plan


def _mirror(plan: DevicePlan, n_gpus: int) -> None:
    """Mirror over every local GPU; without GPUs, over the logical CPU devices set up.

    Tests split the CPU in two with ``tf.config.set_logical_device_configuration``.
    """
    import tensorflow as tf

    if n_gpus > 1:
        devices = [d.name for d in tf.config.list_logical_devices("GPU")]
    elif n_gpus == 0:
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    else:
        devices = []
    if len(devices) > 1:
        plan.distribution = tf.distribute.MirroredStrategy(devices)
        plan.strategy, plan.replicas = "MirroredStrategy", len(devices)
        if n_gpus == 0:
            plan.device = f"CPU ({len(devices)} logical devices)"


@contextlib.contextmanager
def model_scope(plan: DevicePlan | None) -> Iterator[None]:
    """Build a model under ``plan``: its strategy's scope and its precision policy.

    With mixed precision the global policy is ``mixed_float16`` inside; the previous policy
    is restored after (it is global state).
    """
    import keras

    if plan is None:
        yield
        return
    previous = keras.mixed_precision.global_policy()
    if plan.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        with strategy_scope(plan):
            yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


@contextlib.contextmanager
def strategy_scope(plan: DevicePlan | None) -> Iterator[None]:
    """The plan's distribution scope (a model and its optimizer are made and fitted in it)."""
    if plan is None or plan.distribution is None:
        yield
        return
    with plan.distribution.scope():
        yield


def steps_per_execution(requested: int, steps_per_epoch: int, on_gpu: bool) -> int:
    """The steps per device call: the largest divisor of ``steps_per_epoch`` up to the request.

    The request 0 means auto: :data:`AUTO_STEPS_PER_EXECUTION` on a GPU, 1 on a CPU.

    A divisor, because one call runs that many steps whatever the epoch length: a call that
    ran past the epoch's end would take the next epoch's first batches.
    """
    target = requested or (AUTO_STEPS_PER_EXECUTION if on_gpu else 1)
    target = max(1, min(target, steps_per_epoch))
    return max(d for d in range(1, target + 1) if steps_per_epoch % d == 0)


def compile_options(plan: DevicePlan | None, steps_per_epoch: int) -> dict[str, Any]:
    """The ``model.compile`` keywords of the plan (``{}`` without one)."""
    if plan is None:
        return {}
    return {"jit_compile": plan.jit_compile,
            "steps_per_execution": steps_per_execution(plan.steps_per_execution,
                                                       steps_per_epoch, plan.on_gpu)}


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says the device ran out of memory (TensorFlow's ResourceExhausted)."""
    import tensorflow as tf

    return isinstance(exc, tf.errors.ResourceExhaustedError)


def out_of_memory_batch(batch_size: int) -> int:
    """The batch size to continue with after running out of memory at ``batch_size``.

    Raises:
        FtStudioError: the batch is already 1 example: a smaller one does not exist.
    """
    if batch_size <= 1:
        raise FtStudioError("the GPU ran out of memory with a batch of 1 example; use a smaller "
                       "backbone, a shorter backbone.sequence_length or smaller images, or "
                       "set training.devices to 'cpu'")
    return max(1, math.ceil(batch_size / 2))


def build_for_multi_worker(model: Any, train_ds: Any, plan: DevicePlan | None) -> None:
    """Build ``model`` for ``fit`` under a multi-worker strategy from one plain batch.

    Keras 3's ``fit`` builds a distributed model from a batch it averages across the workers
    first, which fails under ``MultiWorkerMirroredStrategy`` (keras-team/keras#20585); built
    here in the strategy's scope, and with the strategy left to the scope ``fit`` runs in
    (:func:`strategy_scope`), ``fit`` skips that step. Nothing happens for other strategies.
    """
    if plan is None or plan.strategy != "MultiWorkerMirroredStrategy":
        return
    _mean_scalar_logs_across_workers()
    batch = next(iter(train_ds.take(1)))
    with plan.distribution.scope():
        model._symbolic_build(data_batch=batch)
    model._distribute_strategy = None


def _mean_scalar_logs_across_workers() -> None:
    """Average a step's logs over the workers with ``axis=None`` (they are scalars).

    Keras 3 averages them with ``axis=0`` under a multi-worker strategy, which fails on a
    scalar; its ``reduce_per_replica`` is wrapped once to take the scalar case.
    """
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original = tf_trainer.reduce_per_replica
    if getattr(original, "ftstudio_wrapped", False):
        return

    def reduce_per_replica(values: Any, strategy: Any, reduction: str) -> Any:
        if reduction in ("auto", "mean") and isinstance(
                strategy, tf_trainer.tf.distribute.MultiWorkerMirroredStrategy):
            return tf_trainer.tree.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return original(values, strategy, reduction)

    reduce_per_replica.ftstudio_wrapped = True  # type: ignore[attr-defined]
    tf_trainer.reduce_per_replica = reduce_per_replica


def in_plan_precision(model: Any, plan: DevicePlan | None) -> Any:
    """``model`` with mixed-precision layers when the plan asks for them (else itself).

    A model loaded from a file keeps the float32 policy it was saved with whatever the global
    policy says, so under mixed precision it is rebuilt from its config with each float32
    layer policy made ``mixed_float16`` (variables stay float32) and given its weights back.
    keras-hub presets already follow the global policy and come back unchanged.
    """
    if model is None or plan is None or not plan.mixed_precision:
        return model
    config = model.get_config()
    mixed = _mixed_policies(config)
    if mixed == config:
        return model
    rebuilt = model.__class__.from_config(mixed)
    rebuilt.set_weights(model.get_weights())
    rebuilt.trainable = model.trainable
    return rebuilt


def _mixed_policies(config: Any) -> Any:
    """``config`` with every float32 ``DTypePolicy`` made ``mixed_float16`` (recursively)."""
    if isinstance(config, list):
        return [_mixed_policies(item) for item in config]
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "DTypePolicy" and \
            config.get("config", {}).get("name") == "float32":
        return {**config, "config": {**config["config"], "name": "mixed_float16"}}
    return {key: _mixed_policies(value) for key, value in config.items()}
