"""Keras callbacks that connect ``fit()`` to a :class:`~ftstudio.engine.reporting.Reporter`."""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ftstudio.engine.reporting import Reporter
from ftstudio.engine.runs import atomic_save, atomic_write_text


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


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model's weights (not the optimizer's) whenever ``monitor`` improves.

    Unlike ``ModelCheckpoint(save_weights_only=True)``, the file holds only the layers'
    weights, so it loads back after the optimizer changed (two-phase recipe), and it is
    written atomically (a crash mid-write keeps the previous best).

    Args:
        path: where to write (a ``.npz`` file).
        monitor: the log key to watch.
        lower_is_better: ``True`` for losses and errors.
        initial_value: the value to beat (a resumed run's best so far), or ``None``.
    """

    def __init__(self, path: Any, monitor: str, lower_is_better: bool,
                 initial_value: float | None = None) -> None:
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.lower_is_better = lower_is_better
        self.best = initial_value

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        value = _scalar((logs or {}).get(self.monitor))
        if not math.isfinite(value):
            return
        if self.best is not None and not (
                value < self.best if self.lower_is_better else value > self.best):
            return
        self.best = value
        weights = self.model.get_weights()

        def write(tmp: Any) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, *weights)

        atomic_save(self.path, write, suffix=".npz")

    @staticmethod
    def restore(model: Any, path: Any) -> None:
        """Load weights written by this callback into ``model``."""
        with np.load(path) as data:
            model.set_weights([data[f"arr_{i}"] for i in range(len(data.files))])


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose backup survives a kill in the middle of writing it.

    Keras writes ``latest.weights.h5`` in place, so a process killed during the write leaves
    a corrupt file and ``--resume`` fails ("bad object header"). Here each file is written
    next to its final name and moved into place with ``os.replace``, weights first, so the
    folder always holds a complete backup (at worst one epoch old).
    """

    def _save_model(self) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        final = self._weights_path
        tmp = final[: -len(".weights.h5")] + ".partial.weights.h5"
        self.model.save_weights(filepath=tmp, overwrite=True)
        os.replace(tmp, final)
        meta = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        atomic_write_text(Path(self._training_metadata_path), json.dumps(meta))
