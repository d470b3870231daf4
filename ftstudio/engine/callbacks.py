"""Keras callbacks that connect ``fit()`` to a :class:`~ftstudio.engine.reporting.Reporter`."""

from __future__ import annotations

import math
import time
from typing import Any

import keras

from ftstudio.engine.reporting import Reporter


def _scalar(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class ReporterCallback(keras.callbacks.Callback):
    """Forwards batch and epoch results to a Reporter and stops when it asks.

    It also watches for a NaN/inf loss: training stops after that batch and
    :attr:`diverged` tells where, so the caller can fail with a clear message
    (without ``TerminateOnNaN``, whose stop would delete the resume backup).

    Args:
        reporter: where results go.
        info: static facts for ``train_begin`` (epochs, steps_per_epoch, train_samples,
            batch_size, phase).
        batch_size: examples per batch (for samples/s).
    """

    def __init__(self, reporter: Reporter, info: dict[str, Any], batch_size: int) -> None:
        super().__init__()
        self.reporter = reporter
        self.info = dict(info)
        self.batch_size = batch_size
        self.steps_per_epoch = int(info.get("steps_per_epoch") or 1)
        self.stopped_by_user = False
        self.diverged: str | None = None
        self._epoch = 0
        self._prev_mean = 0.0
        self._t_batch = 0.0
        self._rate = 0.0

    def _lr(self) -> float:
        opt = getattr(self.model, "optimizer", None)
        if opt is None:
            return math.nan
        return _scalar(opt.learning_rate)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self.reporter.train_begin(self.info)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self._epoch = epoch
        self._prev_mean = 0.0
        self._t_batch = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        logs = logs or {}
        mean = _scalar(logs.get("loss"))
        # Keras 3 reports the running mean of the epoch; recover this batch's own loss.
        batch_loss = mean * (batch + 1) - self._prev_mean * batch
        self._prev_mean = mean
        now = time.perf_counter()
        dt = now - self._t_batch
        self._t_batch = now
        if dt > 0:
            rate = self.batch_size / dt
            self._rate = rate if not self._rate else 0.8 * self._rate + 0.2 * rate
        step = self._epoch * self.steps_per_epoch + batch + 1
        out = {k: _scalar(v) for k, v in logs.items()}
        out.update(batch_loss=batch_loss, lr=self._lr(), epoch=float(self._epoch + 1),
                   samples_per_s=self._rate)
        self.reporter.batch_end(step, out)
        if not math.isfinite(mean):
            self.diverged = f"epoch {self._epoch + 1}, batch {batch + 1}"
            self.model.stop_training = True
        elif self.reporter.should_stop():
            self.stopped_by_user = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        out = {k: _scalar(v) for k, v in (logs or {}).items()}
        out["lr"] = self._lr()
        self.reporter.epoch_end(epoch + 1, out)
        if self.reporter.should_stop():
            self.stopped_by_user = True
            self.model.stop_training = True

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self.reporter.train_end({"stopped_by_user": self.stopped_by_user,
                                 "diverged": self.diverged, "phase": self.info.get("phase")})


class BestWeights(keras.callbacks.Callback):
    """Keeps the best weights seen at an epoch end in memory.

    "Best" is by ``monitor``: lower is better for losses, higher for everything else. A
    stopped or early-stopped run ends on these weights.
    """

    def __init__(self, monitor: str = "val_loss") -> None:
        super().__init__()
        self.monitor = monitor
        self.mode_max = "loss" not in monitor and "error" not in monitor
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.weights: list[Any] | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        value = _scalar((logs or {}).get(self.monitor))
        if not math.isfinite(value):
            return
        better = self.best is None or (value > self.best if self.mode_max else value < self.best)
        if better:
            self.best, self.best_epoch = value, epoch + 1
            self.weights = self.model.get_weights()

    def restore(self) -> bool:
        """Put the best weights back into the model; False when none were recorded."""
        if self.weights is None:
            return False
        self.model.set_weights(self.weights)
        return True
