"""Jobs run in their own QThread, report in the GUI thread, and never leak an exception."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, QThread, Slot

from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner, error_info
from ftstudio.errors import CancelledError, DataError

pytestmark = pytest.mark.gui


class Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.results: list[object] = []
        self.errors: list[ErrorInfo] = []
        self.done: list[int] = []
        self.threads: set[object] = set()
        self.busy: list[bool] = []

    @Slot(int, object)
    def on_ok(self, job_id: int, value: object) -> None:
        self.results.append(value)
        self.threads.add(QThread.currentThread())

    @Slot(int, object)
    def on_error(self, job_id: int, info: object) -> None:
        assert isinstance(info, ErrorInfo)
        self.errors.append(info)

    @Slot(int)
    def on_done(self, job_id: int) -> None:
        self.done.append(job_id)

    @Slot(bool)
    def on_busy(self, busy: bool) -> None:
        self.busy.append(busy)


def _worker_thread_name() -> str:
    return QThread.currentThread().objectName()


def run_job(qtbot, fn, *args):  # noqa: ANN001, ANN201
    runner = JobRunner()
    rec = Receiver()
    runner.busyChanged.connect(rec.on_busy)
    job = Job(fn, *args, title="It failed")
    job.succeeded.connect(rec.on_ok)
    job.failed.connect(rec.on_error)
    job.done.connect(rec.on_done)
    runner.start(job)
    qtbot.waitUntil(lambda: bool(rec.done), timeout=10_000)
    assert runner.wait_all(10_000)
    assert not runner.busy
    return rec, job


def test_success_runs_off_the_gui_thread_and_reports_on_it(qtbot) -> None:
    rec, job = run_job(qtbot, _worker_thread_name)
    assert rec.results == [f"ftstudio-job-{job.id}"]
    assert rec.threads == {QThread.currentThread()}
    assert rec.busy == [True, False]


def test_user_error_is_readable(qtbot) -> None:
    def fail() -> None:
        raise DataError("column 'x' is missing; pick another column")

    rec, _ = run_job(qtbot, fail)
    (info,) = rec.errors
    assert info.user_error and info.details is None
    assert info.message == "column 'x' is missing; pick another column"
    assert info.title == "It failed"


def test_bug_carries_the_traceback(qtbot) -> None:
    def crash() -> None:
        raise ValueError("boom")

    rec, _ = run_job(qtbot, crash)
    (info,) = rec.errors
    assert not info.user_error
    assert "ValueError" in info.message and "boom" in info.message
    assert info.details and "Traceback" in info.details and "crash" in info.details


def test_error_info_marks_cancellation() -> None:
    assert error_info(CancelledError("stopped")).cancelled
