"""What a fit is made of: the seed, the optimizer with its schedule, class weights, env.json.

Split from :mod:`ftstudio.engine.training` (which runs the fit and writes the run folder).
NumPy at import time; Keras and TensorFlow are imported inside the functions.
"""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING, Any

import numpy as np

from ftstudio.errors import SpecError

if TYPE_CHECKING:
    from ftstudio.engine.datasets import PreparedData
    from ftstudio.engine.devices import DevicePlan
    from ftstudio.spec import ExperimentSpec

__all__ = ["class_weights", "environment", "make_optimizer", "sample_weights", "set_seed"]


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TF ops deterministic (CPU: same numbers)."""
    import keras
    import tensorflow as tf

    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # noqa: BLE001 - older TF without it: best effort only
        pass


def make_optimizer(spec: ExperimentSpec, steps_per_epoch: int, epochs: int,
                   lr_factor: float = 1.0) -> Any:
    """The optimizer of ``spec.training`` with its learning-rate schedule."""
    import keras

    from ftstudio.engine.schedules import WarmupSchedule

    t = spec.training
    total = steps_per_epoch * epochs
    lr: Any = t.learning_rate * lr_factor
    if t.schedule != "constant" or t.warmup_fraction > 0:
        lr = WarmupSchedule(lr, t.schedule, steps_per_epoch, total,
                            int(round(t.warmup_fraction * total)), t.decay_rate, t.step_epochs)
    kw: dict[str, Any] = {"learning_rate": lr}
    if t.gradient_clip_norm:
        kw["clipnorm"] = t.gradient_clip_norm
    if t.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=t.momentum, **kw)
    if t.optimizer == "adam":
        return keras.optimizers.Adam(**kw)
    if t.optimizer == "adamw":
        return keras.optimizers.AdamW(weight_decay=t.weight_decay, **kw)
    if t.optimizer == "adagrad":
        return keras.optimizers.Adagrad(**kw)
    return keras.optimizers.RMSprop(**kw)


def class_weights(spec: ExperimentSpec, prepared: PreparedData) -> dict[int, float] | None:
    """Per-class weights of the first output from ``training.class_weight`` (or None)."""
    cw = spec.training.class_weight
    if cw is None:
        return None
    first = spec.head.outputs[0]
    if len(spec.head.outputs) > 1:
        raise SpecError("training.class_weight works with one output only; remove it or "
                        "use a single output")
    if first.task != "classification":
        raise SpecError("training.class_weight needs a classification output")
    classes = prepared.data.classes[prepared.output_columns[first.name]]
    y = prepared.targets(first.name, "train")
    if cw == "balanced":
        counts = np.bincount(y, minlength=len(classes)).astype(float)
        n, k = counts.sum(), int((counts > 0).sum())
        return {i: float(n / (k * c)) if c else 0.0 for i, c in enumerate(counts)}
    assert isinstance(cw, dict)
    unknown = sorted(set(cw) - set(classes))
    if unknown:
        raise SpecError(f"training.class_weight names unknown class '{unknown[0]}'; classes "
                        f"are: {', '.join(classes)}")
    return {i: float(cw.get(name, 1.0)) for i, name in enumerate(classes)}


def sample_weights(spec: ExperimentSpec, prepared: PreparedData) -> dict[str, np.ndarray] | None:
    """Per-example weights of the training split from :func:`class_weights` (or None)."""
    cw = class_weights(spec, prepared)
    if not cw:
        return None
    name = spec.head.outputs[0].name
    y_train = prepared.targets(name, "train")
    return {name: np.array([cw[int(c)] for c in y_train], dtype=np.float32)}


def environment(seed: int, devices: DevicePlan | None = None) -> dict[str, Any]:
    """Versions, device and seed, for ``env.json`` (``devices``: where and how it trains)."""
    import keras
    import tensorflow as tf

    import ftstudio

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    env = {"ftstudio": ftstudio.__version__, "python": platform.python_version(),
           "tensorflow": tf.__version__, "keras": keras.__version__,
           "platform": platform.platform(), "seed": seed,
           "device": "GPU: " + ", ".join(gpus) if gpus else "CPU", "cpu_count": os.cpu_count()}
    if devices is not None:
        env["device"], env["devices"] = devices.device, devices.to_json()
    try:
        import keras_hub

        env["keras_hub"] = keras_hub.__version__
    except ImportError:  # pragma: no cover
        pass
    return env
