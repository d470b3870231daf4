"""Learning-rate schedules with linear warm-up, as one serialisable Keras schedule."""

from __future__ import annotations

import math
from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ftstudio")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0, then constant / cosine / exponential / step decay.

    Args:
        base_lr: the peak learning rate (reached at the end of warm-up).
        kind: ``constant``, ``cosine`` (to 0 at ``total_steps``), ``exponential``
            (× ``decay_rate`` per epoch, smooth) or ``step`` (× ``decay_rate`` every
            ``step_epochs`` epochs).
        steps_per_epoch: optimizer steps in one epoch.
        total_steps: optimizer steps in the whole run.
        warmup_steps: steps of linear warm-up (0 = none).
        decay_rate: factor for ``exponential`` and ``step``.
        step_epochs: epochs between two ``step`` decays.
    """

    def __init__(self, base_lr: float, kind: str = "constant", steps_per_epoch: int = 1,
                 total_steps: int = 1, warmup_steps: int = 0, decay_rate: float = 0.5,
                 step_epochs: int = 1) -> None:
        self.base_lr = float(base_lr)
        self.kind = kind
        self.steps_per_epoch = max(1, int(steps_per_epoch))
        self.total_steps = max(1, int(total_steps))
        self.warmup_steps = max(0, int(warmup_steps))
        self.decay_rate = float(decay_rate)
        self.step_epochs = max(1, int(step_epochs))

    def __call__(self, step: Any) -> Any:
        """The learning rate at optimizer step ``step`` (0-based)."""
        step = ops.cast(step, "float32")
        warm = float(self.warmup_steps)
        if self.kind == "cosine":
            span = max(1.0, float(self.total_steps) - warm)
            progress = ops.clip((step - warm) / span, 0.0, 1.0)
            decayed = 0.5 * self.base_lr * (1.0 + ops.cos(math.pi * progress))
        elif self.kind == "exponential":
            epochs = ops.maximum(step - warm, 0.0) / float(self.steps_per_epoch)
            decayed = self.base_lr * ops.power(self.decay_rate, epochs)
        elif self.kind == "step":
            epochs = ops.floor(step / float(self.steps_per_epoch * self.step_epochs))
            decayed = self.base_lr * ops.power(self.decay_rate, epochs)
        else:
            decayed = self.base_lr * ops.ones_like(step)
        if self.warmup_steps:
            ramp = self.base_lr * (step + 1.0) / warm
            return ops.where(step < warm, ramp, decayed)
        return decayed

    def get_config(self) -> dict[str, Any]:  # noqa: D102
        return {"base_lr": self.base_lr, "kind": self.kind,
                "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps, "decay_rate": self.decay_rate,
                "step_epochs": self.step_epochs}
