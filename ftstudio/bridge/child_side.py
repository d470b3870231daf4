"""The job child's side: the allow-listed calls, and the loop that runs one and reports back.

A child process (started by :mod:`ftstudio.bridge.child_process`) imports the engine, waits for
one call, runs it with a :class:`_PipeReporter` that forwards every report through the pipe,
sends back the result or the error, and exits.
"""

from __future__ import annotations

import importlib
import os
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from ftstudio import config

__all__ = ["CHILD_CALLS", "child_entry", "child_main", "resolve_call"]

CHILD_CALLS: dict[str, str] = {
    "train": "ftstudio.bridge.long_calls:run_training",
    "pretrain": "ftstudio.bridge.long_calls:run_pretraining",
    "export": "ftstudio.bridge.long_calls:run_export",
    "extend": "ftstudio.bridge.run_control:run_extension",
    "lr_find": "ftstudio.bridge.recipe_calls:run_lr_find",
    "sweep": "ftstudio.bridge.recipe_calls:run_sweep",
    "memory_estimate": "ftstudio.bridge.recipe_calls:run_estimate_memory",
}
"""The calls a child may run: name -> ``module:function``. Each function takes its arguments
and a ``reporter`` keyword and returns a picklable result (a dataclass of bridge.types)."""

_WARM_MODULES = ("ftstudio.engine.training", "ftstudio.engine.autoencoder",
                 "ftstudio.engine.backbones", "ftstudio.engine.heads",
                 "ftstudio.engine.freezing", "ftstudio.engine.data", "ftstudio.engine.export")
"""Imported by a waiting child, so that a prewarmed child starts its job at once."""

_FLUSH_SECONDS = 0.05


def resolve_call(name: str) -> Callable[..., Any]:
    """Return the function of the allow-listed call ``name``.

    Raises:
        ValueError: ``name`` is not in :data:`CHILD_CALLS`.
    """
    try:
        target = CHILD_CALLS[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a call a job child may run") from None
    module, _, function = target.partition(":")
    fn: Callable[..., Any] = getattr(importlib.import_module(module), function)
    return fn


class _PipeReporter:
    """The Reporter the engine sees in the child: forwards calls through the pipe.

    Batch results are sent in chunks (at most every 50 ms); everything else at once.
    ``should_stop`` reads a pending "stop" message without blocking.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._stop = False
        self._pause = False
        self._batches: list[tuple[int, dict[str, float]]] = []
        self._last_flush = time.monotonic()

    def _send(self, name: str, *args: Any) -> None:
        self.flush()
        self.conn.send(("call", name, args))

    def flush(self) -> None:
        """Send the batches buffered so far."""
        if self._batches:
            chunk, self._batches = self._batches, []
            self.conn.send(("batches", chunk))
        self._last_flush = time.monotonic()

    def status(self, text: str) -> None:  # noqa: D102
        self._send("status", text)

    def warning(self, text: str) -> None:  # noqa: D102
        self._send("warning", text)

    def progress(self, done: float, total: float | None) -> None:  # noqa: D102
        self._send("progress", done, total)

    def train_begin(self, info: dict[str, Any]) -> None:  # noqa: D102
        self._send("train_begin", dict(info))

    def batch_end(self, step: int, logs: dict[str, float]) -> None:  # noqa: D102
        self._batches.append((int(step), dict(logs)))
        if time.monotonic() - self._last_flush >= _FLUSH_SECONDS:
            self.flush()

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:  # noqa: D102
        self._send("epoch_end", epoch, dict(logs))

    def train_end(self, logs: dict[str, Any]) -> None:  # noqa: D102
        self._send("train_end", dict(logs))

    def preview(self, path: str) -> None:
        """A preview image (pretraining's reconstructions) was written to ``path``."""
        self._send("preview", str(path))

    def request_stop(self) -> None:  # noqa: D102
        self._stop = True

    def should_stop(self) -> bool:  # noqa: D102
        self._read_requests()
        return self._stop

    def should_pause(self) -> bool:
        """True while the parent asks to hold training (its ``pause_requested()``)."""
        self._read_requests()
        return self._pause and not self._stop

    def _read_requests(self) -> None:
        """Take the parent's pending "stop", "pause" and "resume" messages."""
        while not self._stop and self.conn.poll():
            message = self.conn.recv()
            if message == ("stop",):
                self._stop = True
            elif message in (("pause",), ("resume",)):
                self._pause = message == ("pause",)


def child_main(conn: Connection) -> None:
    """The child process: import the engine, wait for one call, run it, report, exit."""
    config.quiet_tensorflow_logs()
    nice = config.job_child_nice()
    if nice > 0 and hasattr(os, "nice"):
        try:
            os.nice(nice)
        except OSError:  # pragma: no cover - not allowed: run at normal priority
            pass
    try:
        from ftstudio.engine.runtime import import_tensorflow_quietly

        import_tensorflow_quietly()
        for module in _WARM_MODULES:
            importlib.import_module(module)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        _send_error(conn, exc)
        return
    conn.send(("ready",))
    try:
        message = conn.recv()
    except (EOFError, OSError):
        return
    if not message or message[0] != "run":
        return
    _, name, args, kwargs = message
    reporter = _PipeReporter(conn)
    try:
        result = resolve_call(name)(*args, reporter=reporter, **kwargs)
        reporter.flush()
        conn.send(("result", result))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        _send_error(conn, exc)
    finally:
        conn.close()


def _send_error(conn: Connection, exc: BaseException) -> None:
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    classes = [cls.__name__ for cls in type(exc).__mro__]
    plain = all(isinstance(a, str | int | float | bool | None) for a in exc.args)
    args = tuple(exc.args) if plain else (str(exc),)
    try:
        conn.send(("error", classes, str(exc), detail, args))
    except (OSError, ValueError):  # pragma: no cover - the parent is gone
        pass


def child_entry(fd: int) -> None:
    """Entry point of a child started with a socket on file descriptor ``fd``."""
    child_main(Connection(fd))
