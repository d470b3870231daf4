"""Training in a child process, driven from the window's TrainWorker thread.

Why a process: Keras' ``fit`` loop runs Python for every batch, and in the window's process that
Python competes for the GIL with the GUI thread. Measured here (benchmarks/ui_stall.py), training
in a thread of the window stalled the UI for 100–400 ms at a time and made training 10–50 %
slower than the CLI. In a child process the engine has an interpreter to itself, exactly as
``ftstudio train`` does. ``FTSTUDIO_TRAIN_IN_THREAD=1`` brings back the in-thread mode.

How: :func:`train_in_process` (called by the training :class:`~ftstudio.bridge.jobs.Job` on its
QThread) hands the spec to a child Python process (see :class:`_Child`) and relays its reporter
calls to the window's :class:`~ftstudio.bridge.qt_reporter.QtReporter`, which turns them into
throttled signals. Stop goes the other way: once the QtReporter is asked to stop, the child's
reporter answers ``should_stop()`` with True after the current batch; the engine then keeps the
best weights, evaluates and saves the run as usual.

A child is started in advance (:func:`prewarm`, once the engine has loaded) so the next run
does not wait for TensorFlow to import; every run gets a fresh process.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ftstudio import errors
from ftstudio.bridge.types import TrainOutcome
from ftstudio.spec import ExperimentSpec

__all__ = ["ChildCrashed", "prewarm", "shutdown", "train_in_process"]

_FLUSH_SECONDS = 0.05
_POLL_SECONDS = 0.05


class ChildCrashed(RuntimeError):
    """The training process ended without a result (killed, out of memory, …)."""


# ============================================================== the child side
class _PipeReporter:
    """The Reporter the engine sees in the child: forwards calls through the pipe.

    Batch results are sent in chunks (at most every 50 ms); everything else at once.
    ``should_stop`` reads a pending "stop" message without blocking.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._stop = False
        self._batches: list[tuple[int, dict[str, float]]] = []
        self._last_flush = time.monotonic()

    def _send(self, name: str, *args: Any) -> None:
        self._flush()
        self.conn.send(("call", name, args))

    def _flush(self) -> None:
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
            self._flush()

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:  # noqa: D102
        self._send("epoch_end", epoch, dict(logs))

    def train_end(self, logs: dict[str, Any]) -> None:  # noqa: D102
        self._send("train_end", dict(logs))

    def request_stop(self) -> None:  # noqa: D102
        self._stop = True

    def should_stop(self) -> bool:  # noqa: D102
        while not self._stop and self.conn.poll():
            if self.conn.recv() == ("stop",):
                self._stop = True
        return self._stop


CHILD_NICE = int(os.environ.get("FTSTUDIO_TRAIN_NICE", "0") or 0)
"""Niceness added to the training process (``FTSTUDIO_TRAIN_NICE``; default 0, like the CLI).
A positive value lets the window's painting go first when the CPU is saturated."""


def _child_main(conn: Connection) -> None:
    """The child process: import the engine, wait for one job, run it, report, exit."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if CHILD_NICE > 0 and hasattr(os, "nice"):
        try:
            os.nice(CHILD_NICE)
        except OSError:  # pragma: no cover - not allowed: run at normal priority
            pass
    try:
        # everything train() needs, imported before the job arrives: a warm child starts
        # training at once, and its train() time is comparable to the CLI's
        from ftstudio.engine.runtime import import_tensorflow_quietly

        import_tensorflow_quietly()
        import keras  # noqa: F401

        from ftstudio.engine import (  # noqa: F401
            backbones,
            callbacks,
            data,
            evaluation,
            freezing,
            heads,
            inference,
            training,
        )
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        _send_error(conn, exc)
        return
    conn.send(("ready",))
    try:
        message = conn.recv()
    except (EOFError, OSError):
        return
    if not message or message[0] != "train":
        return
    _, spec_json, runs_root = message
    reporter = _PipeReporter(conn)
    try:
        spec = ExperimentSpec.from_json(spec_json)
        result = training.train(spec, reporter, runs_root=runs_root)
        reporter._flush()  # noqa: SLF001
        conn.send(("result", {"run_dir": str(result.run_dir), "metrics": dict(result.metrics),
                              "stopped_by_user": bool(result.stopped_by_user),
                              "best_epoch": result.best_epoch}))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        _send_error(conn, exc)
    finally:
        conn.close()


def _send_error(conn: Connection, exc: BaseException) -> None:
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        conn.send(("error", type(exc).__name__, str(exc), detail))
    except (OSError, ValueError):  # pragma: no cover - the parent is gone
        pass


# ============================================================= the parent side
def child_entry(fd: int) -> None:
    """Entry point of a child started with a socket on file descriptor ``fd``."""
    _child_main(Connection(fd))


class _Child:
    """A started child process and our end of its pipe.

    On POSIX the child is ``python -c "…child_entry(FD)"`` with one end of a socket pair
    (nothing of the parent's ``__main__`` is re-imported, so any script may open the window).
    Frozen apps and Windows use ``multiprocessing`` *spawn* instead, which needs
    ``multiprocessing.freeze_support()`` at the start of the frozen app's main.
    """

    def __init__(self) -> None:
        self.popen: subprocess.Popen[bytes] | None = None
        self.process: Any = None
        if os.name == "posix" and not getattr(sys, "frozen", False):
            parent_sock, child_sock = socket.socketpair()
            code = ("import sys; from ftstudio.bridge.train_process import child_entry; "
                    "child_entry(int(sys.argv[1]))")
            env = dict(os.environ)
            root = str(Path(__file__).resolve().parents[2])
            env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
            self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and code
                [sys.executable, "-c", code, str(child_sock.fileno())],
                pass_fds=(child_sock.fileno(),), env=env, stdin=subprocess.DEVNULL)
            child_sock.close()
            self.conn = Connection(parent_sock.detach())
        else:  # pragma: no cover - exercised on Windows / in the frozen app
            ctx = multiprocessing.get_context("spawn")
            self.conn, child_conn = ctx.Pipe(duplex=True)
            self.process = ctx.Process(target=_child_main, args=(child_conn,),
                                       name="ftstudio-train", daemon=False)
            self.process.start()
            child_conn.close()

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return bool(self.process.is_alive())

    @property
    def exitcode(self) -> int | None:
        """The child's exit code (``None`` while it runs)."""
        if self.popen is not None:
            return self.popen.poll()
        return self.process.exitcode  # type: ignore[no-any-return]

    def terminate(self) -> None:
        """End an idle child at once."""
        try:
            self.conn.close()
        except OSError:  # pragma: no cover
            pass
        if self.popen is not None:
            if self.popen.poll() is None:
                self.popen.terminate()
            self.popen.wait(10)
        else:  # pragma: no cover
            self.process.terminate()
            self.process.join(10)

    def close(self, timeout: float = 5.0) -> None:
        """Close our end of the pipe (an idle child exits) and wait for the child."""
        try:
            self.conn.close()
        except OSError:  # pragma: no cover
            pass
        if self.popen is not None:
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:  # pragma: no cover - stuck importing
                self.popen.terminate()
                self.popen.wait(timeout)
            return
        self.process.join(timeout)  # pragma: no cover
        if self.process.is_alive():  # pragma: no cover
            self.process.terminate()
            self.process.join(timeout)


_lock = threading.Lock()
_warm: _Child | None = None


def prewarm() -> None:
    """Start a child that imports TensorFlow now, so the next run starts at once."""
    global _warm
    with _lock:
        if _warm is None or not _warm.alive():
            _warm = _Child()


def shutdown() -> None:
    """End the idle child, if any (on quit and in test teardown).

    An idle child holds no user data (it only imported TensorFlow), so it is terminated
    rather than waited for.
    """
    global _warm
    with _lock:
        child, _warm = _warm, None
    if child is not None:
        child.terminate()


atexit.register(shutdown)  # before multiprocessing joins its children at exit


def _take_child() -> _Child:
    global _warm
    with _lock:
        child, _warm = _warm, None
    if child is None or not child.alive():
        child = _Child()
    return child


def train_in_process(spec: ExperimentSpec, reporter: Any,
                     runs_root: str | None = None) -> TrainOutcome:
    """Run ``engine.training.train`` in a child process; relay its reports to ``reporter``.

    Blocks until the run ends (call it from a worker thread). ``reporter.request_stop()``
    stops the child after its current batch.

    Raises:
        FtStudioError: the engine's user errors, re-raised with their message.
        ChildCrashed: the child died without a result.
        RuntimeError: any other error in the child (its traceback in the message).
    """
    t0 = time.perf_counter()
    child = _take_child()
    conn = child.conn
    if not conn.poll(0):
        reporter.status("Starting the training process (loading TensorFlow)…")
    stop_sent = False
    sent = False
    outcome: dict[str, Any] | None = None
    failure: tuple[str, str, str] | None = None
    try:
        while True:
            if sent and not stop_sent and reporter.should_stop():
                try:
                    conn.send(("stop",))
                except OSError:
                    pass
                stop_sent = True
            try:
                has = conn.poll(_POLL_SECONDS)
            except (EOFError, OSError):
                break
            if not has:
                if not child.alive():
                    # drain whatever it sent before it ended
                    try:
                        if not conn.poll(0):
                            break
                    except (EOFError, OSError):
                        break
                continue
            try:
                message = conn.recv()
            except (EOFError, OSError):
                break
            kind = message[0]
            if kind == "ready":
                if reporter.should_stop():
                    raise errors.CancelledError("stopped before training started")
                conn.send(("train", spec.to_json(), runs_root))
                sent = True
            elif kind == "batches":
                for step, logs in message[1]:
                    reporter.batch_end(step, logs)
            elif kind == "call":
                getattr(reporter, message[1])(*message[2])
            elif kind == "result":
                outcome = message[1]
            elif kind == "error":
                failure = message[1:]
    finally:
        child.close(timeout=30.0)
    if failure is not None:
        name, text, detail = failure
        cls = getattr(errors, name, None)
        if isinstance(cls, type) and issubclass(cls, errors.FtStudioError):
            raise cls(text)
        raise RuntimeError(f"{name}: {text}\n\n{detail}")
    if outcome is None:
        raise ChildCrashed(f"the training process ended without a result (exit code "
                           f"{child.exitcode}); it may have run out of memory")
    return TrainOutcome(run_dir=outcome["run_dir"], metrics=outcome["metrics"],
                        stopped_by_user=outcome["stopped_by_user"],
                        best_epoch=outcome["best_epoch"], seconds=time.perf_counter() - t0)
