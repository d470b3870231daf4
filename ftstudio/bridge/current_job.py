"""The current job of each kind for one page; a new job of a kind supersedes the previous one.

A page that previews data, lists runs or builds a model starts a job every time the user changes
something. Only the latest job's answer matters: an older one may still be running and finish
later, and its answer must not overwrite the newer one. :class:`CurrentJobs` owns that rule (the
idea of Orange's ``ConcurrentWidgetMixin``), so no page keeps ``if job_id != self._x_job`` checks::

    self.jobs = CurrentJobs(runner, self)
    self.jobs.start("preview", engine_calls.preview_data, path,
                    on_result=self._show_preview, on_error=self._show_error,
                    title="Cannot read the data")

Callbacks run on the GUI thread: the job's signals are connected to bound slots of this object
(which lives in the GUI thread, so Qt queues them there), and these slots call the page's
callbacks. A superseded or cancelled job is asked to stop (see :meth:`Job.request_stop`) and none
of its callbacks run afterwards, not even ``on_finished``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Slot

from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner

__all__ = ["CurrentJobs"]


@dataclass
class _Current:
    """The current job of one kind and what to call when it reports."""

    job: Job
    on_result: Callable[[Any], None]
    on_error: Callable[[ErrorInfo], None] | None
    on_finished: Callable[[], None] | None


class CurrentJobs(QObject):
    """The current job of each kind for one page (Orange's ConcurrentWidgetMixin idea).

    Starting a job of a kind supersedes the previous one of that kind (stop requested, late
    results dropped). Jobs of different kinds run side by side.

    Args:
        runner: the window's job runner (it owns the threads).
        parent: the Qt parent (usually the page); must live in the GUI thread.
    """

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self._current: dict[str, _Current] = {}

    def start(self, kind: str, fn: Callable[..., Any], *args: Any,
              on_result: Callable[[Any], None],
              on_error: Callable[[ErrorInfo], None] | None = None,
              on_finished: Callable[[], None] | None = None,
              title: str = "Something went wrong", **kwargs: Any) -> Job:
        """Run ``fn(*args, **kwargs)`` as the current job of ``kind``.

        Args:
            kind: which of the page's jobs this is ("preview", "check", …).
            fn: the engine call to run off the GUI thread.
            *args: positional arguments for ``fn``.
            on_result: called with ``fn``'s return value.
            on_error: called with an :class:`ErrorInfo` when ``fn`` raises.
            on_finished: called last, after ``on_result`` or ``on_error``.
            title: the title of the error should ``fn`` fail.
            **kwargs: keyword arguments for ``fn``.

        Returns:
            The started job.
        """
        return self.start_job(kind, Job(fn, *args, title=title, **kwargs), on_result=on_result,
                              on_error=on_error, on_finished=on_finished)

    def start_job(self, kind: str, job: Job, *, on_result: Callable[[Any], None],
                  on_error: Callable[[ErrorInfo], None] | None = None,
                  on_finished: Callable[[], None] | None = None) -> Job:
        """Run an already built ``job`` (a child-process job, say) as the current one of ``kind``.

        Args:
            kind: which of the page's jobs this is.
            job: the job, not started yet.
            on_result: called with the job's result.
            on_error: called with an :class:`ErrorInfo` when the job fails.
            on_finished: called last, after ``on_result`` or ``on_error``.

        Returns:
            ``job``.
        """
        self.cancel(kind)
        self._current[kind] = _Current(job, on_result, on_error, on_finished)
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(self._on_failed)
        job.done.connect(self._on_done)
        self.runner.start(job)
        return job

    def cancel(self, kind: str | None = None) -> None:
        """Ask the current job of ``kind`` (of every kind when None) to stop; drop its results."""
        kinds = list(self._current) if kind is None else [kind]
        for name in kinds:
            current = self._current.pop(name, None)
            if current is not None:
                current.job.request_stop()

    def is_running(self, kind: str) -> bool:
        """True while a job of ``kind`` is current (started and not finished or superseded)."""
        return kind in self._current

    def job(self, kind: str) -> Job | None:
        """The current job of ``kind``, if any."""
        current = self._current.get(kind)
        return current.job if current else None

    def _find(self, job_id: int) -> tuple[str, _Current] | None:
        for kind, current in self._current.items():
            if current.job.id == job_id:
                return kind, current
        return None

    @Slot(int, object)
    def _on_succeeded(self, job_id: int, result: object) -> None:
        found = self._find(job_id)
        if found is not None:
            found[1].on_result(result)

    @Slot(int, object)
    def _on_failed(self, job_id: int, info: object) -> None:
        found = self._find(job_id)
        if found is not None and found[1].on_error is not None:
            assert isinstance(info, ErrorInfo)
            found[1].on_error(info)

    @Slot(int)
    def _on_done(self, job_id: int) -> None:
        found = self._find(job_id)
        if found is None:
            return
        kind, current = found
        # forget the job before the callback: on_finished may start the next job of this kind
        del self._current[kind]
        if current.on_finished is not None:
            current.on_finished()
