"""A :class:`~ftstudio.engine.reporting.Reporter` that turns engine calls into Qt signals.

The engine calls the reporter from the training thread, once per batch. Emitting a signal per
batch would flood the GUI event queue (tiny models run thousands of batches a second), so batch
results are buffered and emitted together at most every ``min_interval`` seconds (20 Hz by
default). Nothing is dropped: every batch reaches the window, in chunks. Epoch ends, status lines
and warnings are rare and go out at once (after flushing the pending batches, so the order holds).

The reporter is a QObject living in the GUI thread; its signals are emitted from the worker
thread, so Qt queues them to the GUI-thread slots they are connected to. Connect them to bound
``@Slot`` methods of GUI-thread QObjects, never to lambdas (a lambda has no thread affinity and
would run in the worker thread).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from PySide6.QtCore import QObject, Signal

from ftstudio.engine.reporting import BaseReporter

__all__ = ["DEVICE_STATUS_PREFIX", "QtReporter", "device_from_status"]

DEVICE_STATUS_PREFIX = "Training on "
"""How the engine's status line naming the device starts
(``engine.devices.DevicePlan.describe``: ``Training on CPU (no GPU found…): float32, no XLA``)."""


def device_from_status(text: str) -> str | None:
    """The device part of the engine's device status line (``CPU (why): float32, …``), else None."""
    if text.startswith(DEVICE_STATUS_PREFIX):
        return text[len(DEVICE_STATUS_PREFIX):].strip() or None
    return None


class QtReporter(QObject):
    """Reporter protocol implementation that emits throttled Qt signals.

    Signals:
        statusChanged(str): a status line ("Loading backbone…").
        warningRaised(str): a non-fatal warning from the engine.
        progressed(float, object): ``done, total`` (``total`` may be ``None``); throttled.
        trainBegan(dict): ``info`` of ``train_begin`` (epochs, steps_per_epoch, …).
        batchesArrived(list): ``[(step, logs), …]`` of every batch since the last emit.
        epochEnded(int, dict): epoch number (from 1) and its logs.
        trainEnded(dict): the logs of ``train_end``.
        previewReady(str): a preview image was (re)written at this path (pretraining's
            originals-vs-reconstructions strip).
        deviceReported(str): the run said which device trains it and how (the status line
            after :data:`DEVICE_STATUS_PREFIX`: ``GPU: NVIDIA H200: mixed precision, XLA``).

    Args:
        min_interval: the least number of seconds between two batch (or progress) emits.
        parent: the Qt parent.
    """

    statusChanged = Signal(str)
    warningRaised = Signal(str)
    progressed = Signal(float, object)
    trainBegan = Signal(object)
    batchesArrived = Signal(object)
    epochEnded = Signal(int, object)
    trainEnded = Signal(object)
    previewReady = Signal(str)
    deviceReported = Signal(str)

    def __init__(self, min_interval: float = 0.05, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.min_interval = float(min_interval)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._pending: list[tuple[int, dict[str, float]]] = []
        self._last_batch_emit = 0.0
        self._last_progress_emit = 0.0
        self.emits = 0
        """How many batch chunks were emitted (for tests and benchmarks)."""

    # ------------------------------------------------------------- control
    def request_stop(self) -> None:
        """Ask the job to stop after the current batch (thread-safe)."""
        self._stop.set()

    def should_stop(self) -> bool:
        """Return True once :meth:`request_stop` was called."""
        return self._stop.is_set()

    def reset(self) -> None:
        """Forget a previous stop request and pending batches (before a new run)."""
        self._stop.clear()
        with self._lock:
            self._pending.clear()
        self._last_batch_emit = 0.0
        self._last_progress_emit = 0.0

    def flush(self) -> None:
        """Emit the batches buffered so far, if any."""
        with self._lock:
            chunk, self._pending = self._pending, []
        if chunk:
            self._last_batch_emit = time.monotonic()
            self.emits += 1
            self.batchesArrived.emit(chunk)

    # ------------------------------------------------------- the protocol
    def status(self, text: str) -> None:
        """Forward a status line (and the device, when the line names it)."""
        self.statusChanged.emit(str(text))
        device = device_from_status(str(text))
        if device is not None:
            self.deviceReported.emit(device)

    def warning(self, text: str) -> None:
        """Forward a warning."""
        self.warningRaised.emit(str(text))

    def progress(self, done: float, total: float | None) -> None:
        """Forward phase progress, at most every ``min_interval`` (and always at the end)."""
        now = time.monotonic()
        final = total is not None and done >= total
        if not final and now - self._last_progress_emit < self.min_interval:
            return
        self._last_progress_emit = now
        self.progressed.emit(float(done), None if total is None else float(total))

    def train_begin(self, info: dict[str, Any]) -> None:
        """Forward the start of training (a phase)."""
        self.flush()
        self.trainBegan.emit(dict(info))

    def batch_end(self, step: int, logs: dict[str, float]) -> None:
        """Buffer one batch; emit the buffer when ``min_interval`` has passed."""
        with self._lock:
            self._pending.append((int(step), dict(logs)))
        if time.monotonic() - self._last_batch_emit >= self.min_interval:
            self.flush()

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Flush the batches, then forward the epoch's results."""
        self.flush()
        self.epochEnded.emit(int(epoch), dict(logs))

    def train_end(self, logs: dict[str, Any]) -> None:
        """Flush the batches, then forward the end of training."""
        self.flush()
        self.trainEnded.emit(dict(logs))

    def preview(self, path: str) -> None:
        """Forward a refreshed preview image (not part of the Reporter protocol)."""
        self.flush()
        self.previewReady.emit(str(path))


# The protocol's default-argument behaviour lives in BaseReporter; make sure this class keeps
# every method the engine may call (a static check that costs nothing at run time).
_MISSING = [name for name in vars(BaseReporter) if not name.startswith("_")
            and not hasattr(QtReporter, name)]
assert not _MISSING, f"QtReporter lacks {_MISSING}"
