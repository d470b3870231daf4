"""How much memory a run will need, against what the machine has free, before it starts.

The estimate adds up what training holds at once: the weights, their gradients and the
optimizer's slots (one or two per trainable weight), the activations of one batch (every
layer's output, attention maps and feed-forward intermediates of transformer layers, kept
for the backward pass), the decoded data (images and tokens are held in memory for the whole
run) and TensorFlow itself. It is an estimate (within a factor of about two): enough to warn
before a run that cannot fit, not to budget bytes.

:func:`profile_model` reads the model once (parameters, activation elements per example);
:func:`estimate_memory` turns a profile and the batch size into a :class:`MemoryEstimate`;
:func:`check_fit_memory` is the one-line hook training calls after building the model.
NumPy and the standard library at import time; TensorFlow only to ask whether a GPU exists.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftstudio.formatting import format_bytes, format_params

if TYPE_CHECKING:
    from ftstudio.engine.reporting import Reporter
    from ftstudio.spec import ExperimentSpec

__all__ = ["FRAMEWORK_BYTES", "MemoryEstimate", "ModelProfile", "available_ram",
           "check_fit_memory", "estimate_memory", "gpu_free_memory", "optimizer_slots",
           "profile_model"]

BYTES_PER_VALUE = 4
"""float32 weights and activations (the engine does not train in mixed precision)."""
FRAMEWORK_BYTES = 800 * 1024 ** 2
"""TensorFlow, Keras and keras-hub themselves, loaded (0.81 GB resident measured on CPU)."""
FIT_MARGIN = 0.9
"""A run "fits" when it needs at most this share of the free memory."""
_OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "rmsprop": 1, "adagrad": 1, "sgd": 1}


@dataclass
class ModelProfile:
    """What a built model costs per example, read once from its layers.

    Attributes:
        total_params: every parameter (weights and statistics).
        trainable_params: the parameters that learn under the current freezing.
        activation_values: output values of all layers for one example (transformer
            layers: with their attention maps and feed-forward intermediates).
    """

    total_params: int
    trainable_params: int
    activation_values: int


@dataclass
class MemoryEstimate:
    """A run's memory needs and the memory free for it (bytes)."""

    profile: ModelProfile
    batch_size: int
    weights: int
    gradients: int
    optimizer_state: int
    activations: int
    data: int
    framework: int
    available_ram: int | None
    gpu_free: int | None = None

    @property
    def model_side(self) -> int:
        """What the device that trains holds: weights, gradients, optimizer, activations."""
        return self.weights + self.gradients + self.optimizer_state + self.activations

    @property
    def ram_needed(self) -> int:
        """Main memory needed (everything on CPU; with a GPU: data, framework, weights)."""
        if self.gpu_free is not None:
            return self.data + self.framework + self.weights
        return self.model_side + self.data + self.framework

    @property
    def fits_ram(self) -> bool:
        """False when the run needs more main memory than is free (True when unknown)."""
        return self.available_ram is None or self.ram_needed <= FIT_MARGIN * self.available_ram

    @property
    def fits_gpu(self) -> bool:
        """False when the model side does not fit the GPU's free memory (True without one)."""
        return self.gpu_free is None or self.model_side <= FIT_MARGIN * self.gpu_free

    def summary(self) -> str:
        """One line: parameters, what is needed and what is free."""
        p = self.profile
        line = (f"Memory estimate: {format_params(p.total_params)} parameters "
                f"({format_params(p.trainable_params)} trainable); needs about "
                f"{format_bytes(self.ram_needed)} (weights {format_bytes(self.weights)}, "
                f"optimizer {format_bytes(self.optimizer_state)}, activations "
                f"{format_bytes(self.activations)} for a batch of {self.batch_size}, data "
                f"{format_bytes(self.data)}, TensorFlow {format_bytes(self.framework)})")
        if self.available_ram is not None:
            line += f" of {format_bytes(self.available_ram)} free RAM"
        if self.gpu_free is not None:
            line += (f"; GPU: {format_bytes(self.model_side)} of "
                     f"{format_bytes(self.gpu_free)} free")
        return line

    def warning(self) -> str | None:
        """A warning when the run will not fit (``None`` when it will)."""
        fix = ("lower training.batch_size, backbone.sequence_length or the image size, or "
               "freeze more of the backbone")
        if not self.fits_gpu:
            assert self.gpu_free is not None
            return (f"This run needs about {format_bytes(self.model_side)} of GPU memory but "
                    f"only {format_bytes(self.gpu_free)} is free: {fix}.")
        if not self.fits_ram:
            assert self.available_ram is not None
            return (f"This run needs about {format_bytes(self.ram_needed)} of memory but only "
                    f"{format_bytes(self.available_ram)} is free: it may fail or swap; {fix}.")
        return None


def optimizer_slots(optimizer: str) -> int:
    """Values the optimizer keeps per trainable parameter (Adam: two moments)."""
    return _OPTIMIZER_SLOTS.get(optimizer, 2)


def profile_model(model: Any, sequence_length: int | None = None) -> ModelProfile:
    """Read a built model's parameter counts and activation values per example.

    Args:
        model: a built Keras model (nested models are walked into).
        sequence_length: fills the free sequence dimension of a text backbone's layers.
    """
    from ftstudio.engine.freezing import count_params

    trainable, total = count_params(model)
    fill = int(sequence_length or 1)
    return ModelProfile(int(total), int(trainable), _activation_values(model, fill))


def _activation_values(model: Any, fill: int) -> int:
    import keras

    total = 0
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.Model):  # a nested backbone: its own layers count
            total += _activation_values(layer, fill)
        elif type(layer).__name__ != "InputLayer":
            total += sum(_values(shape, fill) for shape in _output_shapes(layer))
            total += _transformer_extra(layer, fill)
    return total


def _output_shapes(layer: Any) -> list[tuple[Any, ...]]:
    try:
        output = layer.output
    except (AttributeError, ValueError, RuntimeError):  # a layer used twice, or never
        return []
    outputs = output if isinstance(output, (list, tuple)) else \
        list(output.values()) if isinstance(output, dict) else [output]
    return [tuple(o.shape) for o in outputs if hasattr(o, "shape")]


def _values(shape: tuple[Any, ...], fill: int) -> int:
    return math.prod(fill if d is None else int(d) for d in shape[1:]) if shape else 0


def _transformer_extra(layer: Any, seq: int) -> int:
    """Attention maps and feed-forward values inside one transformer layer (per example)."""
    heads = getattr(layer, "num_heads", None)
    inner = getattr(layer, "intermediate_dim", None)
    if not isinstance(heads, int) or not isinstance(inner, int):
        return 0
    hidden = getattr(layer, "hidden_dim", None) or inner // 4
    return 2 * heads * seq * seq + 2 * seq * inner + 6 * seq * int(hidden)


def estimate_memory(profile: ModelProfile, batch_size: int, optimizer: str,
                    data_bytes: int = 0, available: int | None = None,
                    gpu_free: int | None = None) -> MemoryEstimate:
    """The memory a run needs with ``batch_size`` and ``optimizer``.

    Args:
        profile: from :func:`profile_model`.
        batch_size: examples per step.
        optimizer: ``training.optimizer``.
        data_bytes: the data held in memory for the run (decoded images, tokens…).
        available: free RAM in bytes (``None``: unknown, nothing is compared).
        gpu_free: free memory of the GPU that trains (``None``: training on CPU).
    """
    weights = profile.total_params * BYTES_PER_VALUE
    gradients = profile.trainable_params * BYTES_PER_VALUE
    slots = optimizer_slots(optimizer) * profile.trainable_params * BYTES_PER_VALUE
    factor = 2 if profile.trainable_params else 1  # kept for the backward pass
    activations = factor * profile.activation_values * batch_size * BYTES_PER_VALUE
    return MemoryEstimate(profile, batch_size, weights, gradients, slots, activations,
                          int(data_bytes), FRAMEWORK_BYTES, available, gpu_free)


def available_ram() -> int | None:
    """Free main memory in bytes (``MemAvailable`` on Linux); ``None`` when unknown."""
    meminfo = Path("/proc/meminfo")
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def gpu_free_memory() -> int | None:
    """Free memory of the first GPU TensorFlow sees (``None`` without one or when unknown)."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
        return int(out.split()[0]) * 1024 ** 2
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


def _held_data_bytes(fit: Any) -> int:
    """The data a fit holds for the whole run: decoded images, tokens, tabular features."""
    held = sum(int(a.nbytes) for a in fit.images.values())
    held += sum(int(a.nbytes) for split in fit.tokens.values() for a in split.values())
    inputs = fit.prepared.data.inputs
    if fit.prepared.data.modality == "tabular":
        held += int(getattr(inputs, "nbytes", 0))
    return held


def check_fit_memory(spec: ExperimentSpec, fit: Any, reporter: Reporter) -> MemoryEstimate:
    """Estimate a built fit's memory, say it, and warn when the run will not fit.

    Args:
        spec: the experiment (batch size, optimizer, sequence length).
        fit: the :class:`~ftstudio.engine.fitting.Fit` just built (model, data held).
        reporter: told the estimate (status) and, when it will not fit, a warning.
    """
    from ftstudio.engine.freezing import apply_freeze

    seq = getattr(fit.backbone.preprocessor, "sequence_length", None) or \
        spec.backbone.sequence_length
    apply_freeze(fit.model, fit.backbone, spec.freeze)  # the widest phase; compile re-applies
    estimate = estimate_memory(profile_model(fit.model, seq), spec.training.batch_size,
                               spec.training.optimizer, _held_data_bytes(fit),
                               available_ram(), gpu_free_memory())
    reporter.status(estimate.summary())
    warning = estimate.warning()
    if warning:
        reporter.warning(warning)
    return estimate
