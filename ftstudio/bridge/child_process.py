"""Long engine calls (training, pretraining, export) in a child process, run from a job's QThread.

Why a process: Keras' ``fit`` loop runs Python for every batch, and in the window's process that
Python competes for the GIL with the GUI thread. Measured (benchmarks/ui_stall.py), training in
a thread of the window stalled the UI for 100–400 ms at a time and made training 10–50 % slower
than the CLI. In a child process the engine has an interpreter to itself, exactly as the CLI
does. ``FTSTUDIO_TRAIN_IN_THREAD=1`` (:func:`ftstudio.config.jobs_in_thread`) runs the same
calls in the calling thread instead, for debugging.

How: :func:`run_call` (called by a :class:`~ftstudio.bridge.jobs.Job` on its QThread) sends the
name of an allow-listed call (:data:`CHILD_CALLS`) and its picklable arguments to a child Python
process and relays the child's reporter calls to the job's reporter (a
:class:`~ftstudio.bridge.qt_reporter.QtReporter` turns them into throttled signals). Stop goes the
other way: once the reporter is asked to stop, the child's reporter answers ``should_stop()``
with True after the current batch (a call listed in :data:`STOP_GRACE_SECONDS` that does not
look up in time has its child ended). Pause and resume go the same way: a reporter's optional
``pause_requested()`` becomes the child reporter's ``should_pause()``. The child returns a typed
result of :mod:`ftstudio.bridge.types`; an exception in the child is rebuilt here
(:func:`rebuild_error`): an :class:`~ftstudio.errors.FtStudioError` as the same class with the
same message, anything else as a bug; both carry the child's traceback as their cause.

A child is started in advance (:func:`prewarm`, once the engine has loaded) so the next job does
not wait for TensorFlow to import; every job gets a fresh process.
"""

from __future__ import annotations

import atexit
import builtins
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ftstudio import config, errors
from ftstudio.bridge.child_side import CHILD_CALLS, child_main, resolve_call

__all__ = ["CHILD_CALLS", "STOP_GRACE_SECONDS", "prewarm", "rebuild_error", "resolve_call",
           "run_call", "run_in_child", "shutdown"]

STOP_GRACE_SECONDS: dict[str, float] = {"export": 5.0}
"""Calls whose child is ended when it has not stopped this many seconds after a stop request.
An export asks whether to stop only between files, and one conversion can take a minute; it
writes into a staging folder that its caller removes (``bridge.export_calls``). Training and
pretraining stop after the current batch, keeping what they learned, and are never ended."""

_RELAYED = frozenset({"status", "warning", "progress", "train_begin", "epoch_end", "train_end",
                      "preview"})
"""Reporter methods a child may call on the parent's reporter (``preview`` is optional)."""

_POLL_SECONDS = 0.05


# ============================================================= the parent side
def rebuild_error(classes: list[str], message: str, detail: str,
                  args: tuple[Any, ...] | None = None) -> BaseException:
    """Rebuild an exception raised in the child from its class names (most derived first).

    An :class:`~ftstudio.errors.FtStudioError` comes back as the most derived class of
    :mod:`ftstudio.errors` it is, with the same message; a built-in exception as itself (with
    ``args`` when given); anything else as a ``RuntimeError`` naming the child's class. The
    child's traceback is the cause (``__cause__``), so ``--debug`` and the error dialog's
    details show it.

    Args:
        classes: the names of the exception's classes, its own first (``__mro__``).
        message: ``str(exc)``.
        detail: the child's formatted traceback.
        args: the exception's ``args`` (plain values only).
    """
    rebuilt: BaseException | None = None
    for name in classes:
        cls = getattr(errors, name, None)
        if isinstance(cls, type) and issubclass(cls, errors.FtStudioError):
            rebuilt = cls(message)
            break
    if rebuilt is None:
        cls = getattr(builtins, classes[0], None) if classes else None
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                rebuilt = cls(*(args if args is not None else (message,)))
            except TypeError:  # a built-in that needs more arguments
                rebuilt = None
    if rebuilt is None:
        kind = classes[0] if classes else "Exception"
        rebuilt = RuntimeError(f"{kind}: {message}" if message else kind)
    # the stdlib's own idea (multiprocessing.pool): the remote traceback as the cause
    rebuilt.__cause__ = RuntimeError(f"in the job process:\n{detail}")
    return rebuilt


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
            code = ("import sys; from ftstudio.bridge.child_side import child_entry; "
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
            self.process = ctx.Process(target=child_main, args=(child_conn,),
                                       name="ftstudio-job", daemon=False)
            self.process.start()
            child_conn.close()

    def alive(self) -> bool:
        """True while the child runs."""
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
    """Start a child that imports TensorFlow now, so the next job starts at once."""
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


def _take_child() -> tuple[_Child, bool]:
    """A child for a job, and whether it is the warm one (which is then no longer warm)."""
    global _warm
    with _lock:
        child, _warm = _warm, None
    if child is None or not child.alive():
        return _Child(), False
    return child, True


def run_call(name: str, *args: Any, reporter: Any, keep_warm: bool = False,
             **kwargs: Any) -> Any:
    """Run the allow-listed call ``name`` for a job: in a child process, or in this thread.

    The child is the default; ``FTSTUDIO_TRAIN_IN_THREAD=1`` runs the call in the calling
    thread (the same function, the same reporter). Blocks until the call ends.

    Args:
        name: a key of :data:`CHILD_CALLS`.
        *args: its picklable arguments.
        reporter: receives the call's reports; ``reporter.request_stop()`` stops it.
        keep_warm: see :func:`run_in_child`.
        **kwargs: its picklable keyword arguments.

    Returns:
        The call's result.
    """
    if config.jobs_in_thread():
        return resolve_call(name)(*args, reporter=reporter, **kwargs)
    return run_in_child(name, *args, reporter=reporter, keep_warm=keep_warm, **kwargs)


def run_in_child(name: str, *args: Any, reporter: Any, keep_warm: bool = False,
                 **kwargs: Any) -> Any:
    """Run the allow-listed call ``name`` in a child process; relay its reports to ``reporter``.

    Blocks until the call ends (call it from a worker thread). ``reporter.request_stop()``
    stops the child after its current batch (or ends it, see :data:`STOP_GRACE_SECONDS`).
    A short call (``keep_warm``) that took the warm child starts another when it ends, so
    the next training still starts at once.

    Raises:
        FtStudioError: the call's user errors, rebuilt with their class and message.
        CancelledError: the child was ended because it did not stop in time.
        RuntimeError: the child died without a result, or a bug in the child.
    """
    resolve_call(name)  # refuse an unknown call before starting anything
    child, was_warm = _take_child()
    if not child.conn.poll(0):
        reporter.status("Starting the background process (loading TensorFlow)…")
    try:
        outcome = _relay(child.conn, child.alive, reporter, ("run", name, args, kwargs),
                         STOP_GRACE_SECONDS.get(name))
        if outcome[0] == "overdue":
            child.terminate()
    finally:
        child.close(timeout=30.0)
        if keep_warm and was_warm:
            prewarm()
    kind, *payload = outcome
    if kind == "result":
        return payload[0]
    if kind == "error":
        raise rebuild_error(*payload)
    if kind == "overdue":
        raise errors.CancelledError(f"{name} stopped")
    raise RuntimeError(f"the job process ended without a result (exit code {child.exitcode}); "
                       "it may have run out of memory")


def _relay(conn: Connection, alive: Callable[[], bool], reporter: Any,
           job: tuple[Any, ...], grace: float | None = None) -> tuple[Any, ...]:
    """Send ``job`` once the child is ready, relay its reports; return its last message.

    Args:
        conn: our end of the child's pipe.
        alive: tells whether the child still runs.
        reporter: receives the child's reports; says when to stop.
        job: the ``("run", name, args, kwargs)`` message.
        grace: give up on a child this many seconds after sending it "stop" (None: never).

    Returns:
        ``("result", value)``, ``("error", classes, message, detail, args)``, ``("gone",)``
        or ``("overdue",)`` (the child did not stop within ``grace``).
    """
    sent = False
    stop_sent_at: float | None = None
    paused = False
    while True:
        if sent and stop_sent_at is None:
            paused = _relay_pause(conn, reporter, paused)
        if sent and stop_sent_at is None and reporter.should_stop():
            try:
                conn.send(("stop",))
            except OSError:
                pass
            stop_sent_at = time.monotonic()
        if grace is not None and stop_sent_at is not None and \
                time.monotonic() - stop_sent_at > grace:
            return ("overdue",)
        try:
            if not conn.poll(_POLL_SECONDS):
                # drain whatever a child sent before it ended
                if not alive() and not conn.poll(0):
                    return ("gone",)
                continue
            message = conn.recv()
        except (EOFError, OSError):
            return ("gone",)
        kind = message[0]
        if kind == "ready":
            if reporter.should_stop():
                raise errors.CancelledError("stopped before the job started")
            conn.send(job)
            sent = True
        elif kind == "batches":
            for step, logs in message[1]:
                reporter.batch_end(step, logs)
        elif kind == "call":
            _relay_call(reporter, message[1], message[2])
        elif kind in ("result", "error"):
            return tuple(message)


def _relay_pause(conn: Connection, reporter: Any, paused: bool) -> bool:
    """Tell the child when the reporter's optional ``pause_requested()`` changed."""
    ask = getattr(reporter, "pause_requested", None)
    wanted = bool(ask()) if ask is not None else False
    if wanted != paused:
        try:
            conn.send(("pause",) if wanted else ("resume",))
        except OSError:
            return paused
    return wanted


def _relay_call(reporter: Any, name: str, args: tuple[Any, ...]) -> None:
    if name not in _RELAYED:
        raise RuntimeError(f"the job process sent an unknown report {name!r}")
    method = getattr(reporter, name, None)
    if method is None and name == "preview":
        return  # a reporter without previews (the CLI's, a test's) just skips them
    method(*args)  # type: ignore[misc]
