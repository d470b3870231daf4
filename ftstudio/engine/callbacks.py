"""Keras callbacks that connect ``fit()`` to a Reporter and keep a run folder resumable.

At an epoch's end they run in this order (the order matters for a kill between them):
:class:`HistoryLogger` (the epoch's row), :class:`BestCheckpoint` (the best weights),
:class:`AtomicBackupAndRestore` (the resume point), then the reporter and :class:`RunWatch`.
A kill after the row but before the backup makes the resumed run redo that epoch (the row is
trimmed); a kill after the backup continues with the next one.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from ftstudio.engine import faults
from ftstudio.engine.reporting import Reporter
from ftstudio.engine.run_files import atomic_save, atomic_write_text
from ftstudio.engine.runs import (
    RunFolder,
    history_text,
    read_backup_stamp,
    read_history_rows,
    stamp_backup,
)

EXPLOSION_FACTOR = 1e6
"""A loss this many times its first value has diverged, even while still finite."""
OVERFLOW_LOSS = 1e30
"""A loss above this is useless whatever it started at (float32 overflows near 3.4e38)."""


def _scalar(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


class ReporterCallback(keras.callbacks.Callback):
    """Forwards batch and epoch results to a Reporter and stops when it asks.

    It also watches the loss: when it becomes NaN or infinite, or explodes (a million times
    its first value, or above 1e30), training stops after that batch and :attr:`diverged`
    tells where (:attr:`divergence` how), so the caller fails with a clear message and keeps
    the last good weights. The callbacks that write checkpoints skip a diverged epoch.

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
        self.divergence = ""
        self._first_loss: float | None = None
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
        problem = self._loss_problem(mean)
        if problem:
            self.diverged = f"epoch {self._epoch + 1}, batch {batch + 1}"
            self.divergence = problem
            self.model.stop_training = True
        elif self.reporter.should_stop():
            self.stopped_by_user = True
            self.model.stop_training = True

    def _loss_problem(self, mean: float) -> str:
        """Why the loss shows divergence ("" when it does not)."""
        if math.isnan(mean):
            return "the loss became NaN"
        if not math.isfinite(mean):
            return "the loss became infinite"
        if self._first_loss is None:
            self._first_loss = abs(mean)
            return ""
        if mean > OVERFLOW_LOSS or mean > EXPLOSION_FACTOR * max(self._first_loss, 1e-6):
            return (f"the loss exploded to {mean:.3g} (it started at "
                    f"{self._first_loss:.3g})")
        return ""

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


def save_weights_npz(model: Any, path: Path) -> None:
    """Write ``model``'s layer weights (no optimizer state) to ``path``, atomically."""
    weights = model.get_weights()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, *weights)

    atomic_save(Path(path), write, suffix=".npz",
                needed=sum(int(w.nbytes) for w in weights) + 4096)


def load_weights_npz(model: Any, path: Path) -> None:
    """Load weights written by :func:`save_weights_npz` into ``model``."""
    with np.load(path) as data:
        model.set_weights([data[f"arr_{i}"] for i in range(len(data.files))])


class BestCheckpoint(keras.callbacks.Callback):
    """Saves the model's weights (not the optimizer's) whenever ``monitor`` improves.

    Unlike ``ModelCheckpoint(save_weights_only=True)``, the file holds only the layers'
    weights, so it loads back after the optimizer changed (two-phase recipe), and it is
    written atomically (a crash mid-write keeps the previous best). A diverged epoch is
    never the best, however its monitor value looks.

    Args:
        path: where to write (a ``.npz`` file).
        monitor: the log key to watch.
        lower_is_better: ``True`` for losses and errors.
        initial_value: the value to beat (a resumed run's best so far), or ``None``.
        skip: tells when the epoch must not be saved (it diverged).
    """

    def __init__(self, path: Any, monitor: str, lower_is_better: bool,
                 initial_value: float | None = None,
                 skip: Callable[[], bool] | None = None) -> None:
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.lower_is_better = lower_is_better
        self.best = initial_value
        self.skip = skip or (lambda: False)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        value = _scalar((logs or {}).get(self.monitor))
        if not math.isfinite(value) or self.skip():
            return
        if self.best is not None and not (
                value < self.best if self.lower_is_better else value > self.best):
            return
        self.best = value
        save_weights_npz(self.model, Path(self.path))

    @staticmethod
    def restore(model: Any, path: Any) -> None:
        """Load weights written by this callback into ``model``."""
        load_weights_npz(model, Path(path))


def _seed_states(model: Any) -> list[Any]:
    """The random-number states of the model's layers (dropout, augmentation), in order."""
    return [v for v in model.non_trainable_variables if "seed_generator_state" in v.path]


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` whose backup survives a kill and restores the random state.

    Keras writes ``latest.weights.h5`` in place, so a process killed during the write leaves
    a corrupt file and ``--resume`` fails ("bad object header"). Here each file is written
    to a temporary name, flushed to the disk and moved into place, weights first, so the
    folder always holds a complete backup (at worst one epoch old). The metadata also holds
    the layers' random-number states (dropout), which Keras does not save, so a resumed run
    draws the same numbers as an uninterrupted one. A diverged epoch is not backed up.

    Args:
        backup_dir: the backup folder.
        skip: tells when the epoch must not be saved (it diverged).
        **kwargs: passed to ``BackupAndRestore``.
    """

    def __init__(self, backup_dir: str, skip: Callable[[], bool] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(backup_dir, **kwargs)
        self.skip = skip or (lambda: False)

    def save_now(self, epoch: int) -> None:
        """Back the model up now, as having finished ``epoch`` epochs."""
        self._current_epoch = epoch
        self._last_batch_seen = 0
        self._save_model()

    def _save_model(self) -> None:
        if self.skip():
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        variables = self.model.variables + (self.model.optimizer.variables
                                            if self.model.optimizer else [])
        needed = sum(int(np.prod(v.shape)) * 4 for v in variables) + 65536
        meta = {"epoch": self._current_epoch, "batch": self._last_batch_seen,
                "seed_states": [np.asarray(v.numpy()).tolist()
                                for v in _seed_states(self.model)]}

        def write(tmp: Path) -> None:
            self.model.save_weights(filepath=str(tmp), overwrite=True)
            stamp_backup(tmp, meta)

        # The weights file carries its own epoch: its rename alone commits the backup, so a
        # kill before the metadata file follows cannot pair new weights with an old epoch.
        atomic_save(Path(self._weights_path), write, suffix=".weights.h5", needed=needed)
        atomic_write_text(Path(self._training_metadata_path), json.dumps(meta))

    def _load_model(self) -> None:
        super()._load_model()
        meta = read_backup_stamp(Path(self._weights_path))
        if meta is None:
            return
        self.model._initial_epoch = int(meta["epoch"])
        saved = meta.get("seed_states") or []
        states = _seed_states(self.model)
        if len(saved) == len(states):
            for variable, value in zip(states, saved, strict=True):
                variable.assign(np.asarray(value, dtype=variable.dtype))


class HistoryLogger(keras.callbacks.Callback):
    """``history.csv`` with one row per epoch, rewritten atomically at every epoch's end.

    Keras' ``CSVLogger`` appends in place, so a kill mid-write leaves a torn row and two
    writers interleave rows; here the file is always whole. The columns are those of
    ``CSVLogger`` (``epoch``, then the sorted log keys, ``val_`` ones added as ``NA`` when
    there is no validation).

    Args:
        path: the ``history.csv`` file; existing rows are kept (appended to).
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        logs = logs or {}
        header, rows = read_history_rows(self.path)
        if not header:
            keys = sorted(logs)
            if keys and not any(k.startswith("val_") for k in keys):
                keys += [f"val_{k}" for k in keys]
            header = ["epoch", *keys]
        row = [str(epoch)] + [_csv_value(logs.get(k, "NA")) for k in header[1:]]
        atomic_write_text(self.path, history_text(header, [*rows, row]))


def _csv_value(value: Any) -> str:
    return value if isinstance(value, str) else str(_scalar(value))


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """``EarlyStopping`` that remembers the epochs before a resume.

    Args:
        monitor: the log key to watch.
        patience: epochs without improvement before stopping.
        lower_is_better: direction of the monitor.
        past: the monitor's values of this phase's earlier epochs (a resumed run's history).
        first_epoch: the phase's first epoch (from 0).
    """

    def __init__(self, monitor: str, patience: int, lower_is_better: bool,
                 past: Sequence[float] = (), first_epoch: int = 0) -> None:
        super().__init__(monitor=monitor, patience=patience,
                         mode="min" if lower_is_better else "max", restore_best_weights=False)
        self.past = [float(v) for v in past]
        self.first_epoch = first_epoch

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        super().on_train_begin(logs)
        if self.monitor_op is None:
            self._set_monitor_op()
        wait: int = 0
        best: float | None = None
        for i, value in enumerate(self.past):  # the same steps as EarlyStopping.on_epoch_end
            wait += 1
            if self._is_improvement(value, best):
                best, self.best_epoch, wait = value, self.first_epoch + i, 0
        self.wait, self.best = wait, best

    def exhausted(self) -> bool:
        """Whether an uninterrupted run would have stopped after the past epochs already."""
        self.on_train_begin()
        last = self.first_epoch + len(self.past) - 1
        return bool(self.past) and self.wait >= self.patience and last > 0


class RunWatch(keras.callbacks.Callback):
    """Keeps the run's heartbeat fresh and marks the fault-injection points of an epoch.

    Args:
        run: the run folder being written.
    """

    def __init__(self, run: RunFolder) -> None:
        super().__init__()
        self.run = run

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self.run.heartbeat()
        if batch == 0:
            faults.point("mid-epoch")

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self.run.heartbeat()
        faults.point("between-epochs")


class PauseGate(keras.callbacks.Callback):
    """Holds training between two batches while the reporter asks to pause.

    The reporter's optional ``should_pause()`` says so (the window's pause button; reporters
    without it never pause). Nothing is lost: the weights, the optimizer and the data order
    wait where they are. While paused the run's ``status.json`` says ``phase: paused`` and its
    heartbeat stays fresh (a paused run never reads as interrupted); a stop request ends the
    wait and the fit, as a stop after this batch would (put it after the
    :class:`ReporterCallback`, which then reports the batch first and the stop at the epoch's
    end).

    Args:
        reporter: the run's reporter.
        run: the run folder being written.
        poll_seconds: how often the pause is looked at again.
    """

    def __init__(self, reporter: Reporter, run: RunFolder, poll_seconds: float = 0.1) -> None:
        super().__init__()
        self.reporter = reporter
        self.run = run
        self.poll_seconds = poll_seconds
        self.pauses = 0
        """How many times training was held (for tests)."""
        self._epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        self._epoch = epoch

    def _paused(self) -> bool:
        ask = getattr(self.reporter, "should_pause", None)
        return bool(ask()) if ask is not None else False

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        if not self._paused() or self.reporter.should_stop():
            return
        self.pauses += 1
        previous = self.run.recorded_status().get("phase", "training")
        self.run.update_status(phase="paused")
        self.reporter.status(f"Paused after batch {batch + 1} of epoch {self._epoch + 1}: "
                             f"press Resume to continue")
        while self._paused() and not self.reporter.should_stop():
            time.sleep(self.poll_seconds)
            self.run.heartbeat()
        self.run.update_status(phase=previous)
        if self.reporter.should_stop():
            self.model.stop_training = True
            self.reporter.status("Stopping…")
        else:
            self.reporter.status("Resumed")
