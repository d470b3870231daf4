"""Progress reporting without Qt: the Reporter protocol shared by the CLI and the window.

The engine never prints and never touches Qt. It calls a :class:`Reporter`; the CLI passes a
:class:`ConsoleReporter`, the window a Qt reporter (``ftstudio.bridge.qt_reporter``) that turns
the calls into throttled signals, tests a :class:`RecordingReporter`.

Standard library only (no TensorFlow): the bridge imports this before the engine loads.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Protocol, TextIO, runtime_checkable

from ftstudio.formatting import format_duration


@runtime_checkable
class Reporter(Protocol):
    """What a long engine job tells the outside world, and how it learns to stop.

    Every method may be called from a worker thread. ``info`` and ``logs`` hold plain
    Python numbers and strings only.
    """

    def status(self, text: str) -> None:
        """A short line saying what the job is doing now ("Loading backbone…")."""

    def warning(self, text: str) -> None:
        """Something the user should know that does not stop the job (dropped rows…)."""

    def progress(self, done: float, total: float | None) -> None:
        """Progress of the current phase; ``total`` is ``None`` when unknown."""

    def train_begin(self, info: dict[str, Any]) -> None:
        """Training starts. ``info``: epochs, steps_per_epoch, train_samples, batch_size, phase."""

    def batch_end(self, step: int, logs: dict[str, float]) -> None:
        """A batch ended; ``step`` counts batches over the whole run (from 1).

        ``logs`` has ``loss`` (running mean of the epoch, as Keras reports it),
        ``batch_loss`` (this batch alone), ``lr``, ``epoch`` and ``samples_per_s``.
        """

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """An epoch ended (``epoch`` from 1) with train and ``val_`` metrics and ``lr``."""

    def train_end(self, logs: dict[str, Any]) -> None:
        """Training ended (finished, stopped early, or stopped by the user)."""

    def should_stop(self) -> bool:
        """True once the user asked to stop; checked after every batch."""
        ...


class BaseReporter:
    """A Reporter that ignores everything; subclass and override what you need."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def status(self, text: str) -> None:  # noqa: D102
        pass

    def warning(self, text: str) -> None:  # noqa: D102
        pass

    def progress(self, done: float, total: float | None) -> None:  # noqa: D102
        pass

    def train_begin(self, info: dict[str, Any]) -> None:  # noqa: D102
        pass

    def batch_end(self, step: int, logs: dict[str, float]) -> None:  # noqa: D102
        pass

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:  # noqa: D102
        pass

    def train_end(self, logs: dict[str, Any]) -> None:  # noqa: D102
        pass

    def request_stop(self) -> None:
        """Ask the job to stop after the current batch (thread-safe)."""
        self._stop.set()

    def should_stop(self) -> bool:  # noqa: D102
        return self._stop.is_set()


class RecordingReporter(BaseReporter):
    """Keeps every call as ``(method, args)`` in :attr:`calls`; for tests.

    Args:
        stop_after_batches: request a stop once this many batches were reported.
    """

    def __init__(self, stop_after_batches: int | None = None) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.stop_after_batches = stop_after_batches

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def of(self, name: str) -> list[tuple[Any, ...]]:
        """The argument tuples of every call to ``name``."""
        return [args for method, args in self.calls if method == name]

    def status(self, text: str) -> None:  # noqa: D102
        self._record("status", text)

    def warning(self, text: str) -> None:  # noqa: D102
        self._record("warning", text)

    def progress(self, done: float, total: float | None) -> None:  # noqa: D102
        self._record("progress", done, total)

    def train_begin(self, info: dict[str, Any]) -> None:  # noqa: D102
        self._record("train_begin", dict(info))

    def batch_end(self, step: int, logs: dict[str, float]) -> None:  # noqa: D102
        self._record("batch_end", step, dict(logs))
        if self.stop_after_batches is not None and len(self.of("batch_end")) >= \
                self.stop_after_batches:
            self.request_stop()

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:  # noqa: D102
        self._record("epoch_end", epoch, dict(logs))

    def train_end(self, logs: dict[str, Any]) -> None:  # noqa: D102
        self._record("train_end", dict(logs))


class ConsoleReporter(BaseReporter):
    """Reports to a terminal: a live bar with ETA on a TTY, plain lines otherwise.

    Args:
        stream: where to write (default ``sys.stderr``).
        tty: force bar (True) or plain-line (False) mode; default asks the stream.
        min_interval: seconds between redraws of the bar (plain mode prints per epoch).
    """

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None,
                 min_interval: float = 0.1) -> None:
        super().__init__()
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.min_interval = min_interval
        self._info: dict[str, Any] = {}
        self._t0 = 0.0
        self._last_draw = 0.0
        self._first_step = 0

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()

    def status(self, text: str) -> None:  # noqa: D102
        self._line(text)

    def warning(self, text: str) -> None:  # noqa: D102
        self._line(f"warning: {text}")

    def train_begin(self, info: dict[str, Any]) -> None:  # noqa: D102
        self._info = dict(info)
        self._t0 = time.monotonic()
        self._first_step = int(info.get("initial_step", 0))
        phase = f" ({info['phase']})" if info.get("phase") else ""
        epochs = info.get("phase_epochs", info.get("epochs"))
        self._line(f"Training{phase}: {epochs} epochs x "
                   f"{info.get('steps_per_epoch')} steps, {info.get('train_samples')} examples")

    def batch_end(self, step: int, logs: dict[str, float]) -> None:  # noqa: D102
        if not self.tty:
            return
        now = time.monotonic()
        if now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        total = int(self._info.get("epochs", 0)) * int(self._info.get("steps_per_epoch", 0))
        done = step - self._first_step
        left = total - step
        elapsed = now - self._t0
        eta = format_duration(elapsed / done * left) if done > 0 and total else "?"
        frac = step / total if total else 0.0
        width = 24
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        self.stream.write(
            f"\r\033[K[{bar}] epoch {int(logs.get('epoch', 0))} step {step}/{total} "
            f"loss {logs.get('loss', float('nan')):.4f} "
            f"{logs.get('samples_per_s', 0):.0f} ex/s ETA {eta}")
        self.stream.flush()

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:  # noqa: D102
        shown = " ".join(f"{k} {v:.4g}" for k, v in logs.items()
                         if isinstance(v, (int, float)) and k != "epoch")
        elapsed = format_duration(time.monotonic() - self._t0)
        self._line(f"epoch {epoch}/{self._info.get('epochs', '?')} [{elapsed}] {shown}")

    def train_end(self, logs: dict[str, Any]) -> None:  # noqa: D102
        if logs.get("stopped_by_user"):
            self._line("Stopped by user; kept the best weights so far.")
