"""Background jobs: a callable run once in its own QThread, with Qt signals for the outcome.

Usage (from a GUI-thread QObject)::

    job = Job(engine_calls.preview_data, path)
    job.succeeded.connect(self._on_preview)      # a bound @Slot(int, object) method
    job.failed.connect(self._on_error)           # a bound @Slot(int, object) method
    self.runner.start(job)

The job's signals are emitted from its worker thread; connected to bound slots of objects
living in the GUI thread they are queued there. Never connect them to a lambda or a plain
function: those have no thread affinity and would run in the worker thread.

Every exception escaping the callable becomes an :class:`ErrorInfo`: an
:class:`~ftstudio.errors.FtStudioError` is a user error with a readable message (and its cause,
if it has one, as details); anything else is a bug and carries the traceback as details. The job
never lets an exception reach Qt.
"""

from __future__ import annotations

import itertools
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QObject, QThread, Signal, Slot

from ftstudio.errors import CancelledError, FtStudioError

__all__ = ["ErrorInfo", "Job", "JobRunner", "error_info"]

_ids = itertools.count(1)


@dataclass
class ErrorInfo:
    """A failure, ready to show to the user.

    Attributes:
        title: a short title ("Training failed").
        message: one or two sentences for the user.
        details: the traceback for unexpected errors; for user errors the cause's traceback
            (``raise … from cause``; for errors of the job child process, its traceback), else
            ``None``.
        user_error: True for :class:`FtStudioError` (the user can fix it).
        cancelled: True when the user stopped the job.
        kind: the exception's class name.
    """

    title: str
    message: str
    details: str | None = None
    user_error: bool = False
    cancelled: bool = False
    kind: str = ""


def error_info(exc: BaseException, title: str = "Something went wrong") -> ErrorInfo:
    """Turn an exception into an :class:`ErrorInfo`.

    Args:
        exc: the exception.
        title: the dialog title for it.
    """
    kind = type(exc).__name__
    if isinstance(exc, FtStudioError):
        cause = exc.__cause__
        details = None if cause is None else "".join(
            traceback.format_exception(type(cause), cause, cause.__traceback__))
        return ErrorInfo(title, str(exc) or kind, details, True,
                         isinstance(exc, CancelledError), kind)
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    text = str(exc).strip() or kind
    message = (f"An unexpected error happened ({kind}): {text}\n\nThis is a bug in ftstudio; "
               "the details below help to fix it. Your project is unchanged.")
    return ErrorInfo(title, message, detail, False, False, kind)


class Job(QObject):
    """Runs ``fn(*args, **kwargs)`` once, in the thread it was moved to.

    Signals:
        succeeded(int, object): the job id and the callable's return value.
        failed(int, object): the job id and an :class:`ErrorInfo`.
        done(int): the job id; always emitted last, after succeeded or failed.

    Args:
        fn: what to run (it may import the engine: it runs off the GUI thread).
        *args: positional arguments for ``fn``.
        title: the title of the error dialog should ``fn`` fail.
        **kwargs: keyword arguments for ``fn``.
    """

    succeeded = Signal(int, object)
    failed = Signal(int, object)
    done = Signal(int)

    def __init__(self, fn: Callable[..., Any], *args: Any, title: str = "Something went wrong",
                 **kwargs: Any) -> None:
        super().__init__()
        self.id = next(_ids)
        self.title = title
        self._fn = fn
        self._args = args
        self._kwargs = kwargs
        self._stop = threading.Event()
        self._stop_hooks: list[Callable[[], None]] = []

    def add_stop_hook(self, hook: Callable[[], None]) -> None:
        """Call ``hook`` when a stop is requested (e.g. the reporter's ``request_stop``)."""
        self._stop_hooks.append(hook)

    def request_stop(self) -> None:
        """Ask the job to stop (thread-safe); a job without stop hooks simply runs to its end."""
        if self._stop.is_set():
            return
        self._stop.set()
        for hook in self._stop_hooks:
            hook()

    @property
    def stop_requested(self) -> bool:
        """True once :meth:`request_stop` was called."""
        return self._stop.is_set()

    @Slot()
    def run(self) -> None:
        """Call the function and report; never raises."""
        try:
            result = self._fn(*self._args, **self._kwargs)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the user
            self.failed.emit(self.id, error_info(exc, self.title))
        else:
            self.succeeded.emit(self.id, result)
        finally:
            self._fn = self._args = self._kwargs = None  # type: ignore[assignment]
            self.done.emit(self.id)


class JobRunner(QObject):
    """Starts jobs on their own QThreads and keeps them alive until their thread ends.

    Signals:
        busyChanged(bool): True when the first job starts, False when the last one ends.
    """

    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._threads: dict[int, tuple[QThread, Job]] = {}

    def start(self, job: Job) -> Job:
        """Move ``job`` to a fresh QThread and run it.

        Connect the job's signals before calling this.
        """
        thread = QThread()
        thread.setObjectName(f"ftstudio-job-{job.id}")
        job.moveToThread(thread)
        thread.started.connect(job.run)
        job.done.connect(thread.quit)
        thread.finished.connect(self._on_thread_finished)
        was_busy = self.busy
        self._threads[job.id] = (thread, job)
        thread.start()
        if not was_busy:
            self.busyChanged.emit(True)
        return job

    @property
    def busy(self) -> bool:
        """True while any job's thread runs."""
        return bool(self._threads)

    def running_jobs(self) -> list[Job]:
        """Return the jobs whose threads have not ended yet."""
        return [job for _, job in self._threads.values()]

    @Slot()
    def _on_thread_finished(self) -> None:
        was_busy = self.busy
        for key, (thread, _job) in list(self._threads.items()):
            if thread.isFinished():
                del self._threads[key]
        if was_busy and not self._threads:
            self.busyChanged.emit(False)

    def wait_all(self, timeout_ms: int = 60_000) -> bool:
        """Block until every job's thread ended (for shutdown and test teardown).

        Queued signals of the finished jobs are delivered before returning.

        Returns:
            True when all threads ended within ``timeout_ms``.
        """
        deadline = QDeadlineTimer(timeout_ms)
        while self._threads:
            for thread, _job in list(self._threads.values()):
                thread.quit()
                if not thread.wait(deadline):
                    return False
            # deliver the finished jobs' queued signals; their slots may start new jobs,
            # which the next round waits for as well
            QCoreApplication.sendPostedEvents()
            QCoreApplication.processEvents()
            self._on_thread_finished()
        return True
