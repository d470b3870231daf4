"""CurrentJobs: callbacks on the GUI thread, a newer job of a kind drops the older one's results."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QThread

from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo, JobRunner
from ftstudio.errors import DataError

pytestmark = pytest.mark.gui


class Calls:
    """Records every callback and the thread it ran on."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []
        self.threads: set[object] = set()

    def result(self, value: object) -> None:
        self.threads.add(QThread.currentThread())
        self.events.append(("result", value))

    def error(self, info: ErrorInfo) -> None:
        self.threads.add(QThread.currentThread())
        self.events.append(("error", info))

    def finished(self) -> None:
        self.threads.add(QThread.currentThread())
        self.events.append(("finished", None))


@pytest.fixture
def jobs(qtbot) -> Iterator[CurrentJobs]:  # noqa: ANN001
    runner = JobRunner()
    jobs = CurrentJobs(runner)
    yield jobs
    assert runner.wait_all(10_000)


def _wait_finished(qtbot, calls: Calls, count: int = 1) -> None:  # noqa: ANN001
    qtbot.waitUntil(lambda: [e for e, _ in calls.events].count("finished") >= count,
                    timeout=10_000)


def _echo(value: object) -> object:
    return value


def _gated(gate: threading.Event, value: object) -> object:
    assert gate.wait(10)
    return value


def test_result_then_finished_on_the_gui_thread(qtbot, jobs: CurrentJobs) -> None:
    calls = Calls()
    jobs.start("preview", _echo, 42, on_result=calls.result, on_error=calls.error,
               on_finished=calls.finished)
    assert jobs.is_running("preview")
    _wait_finished(qtbot, calls)
    assert calls.events == [("result", 42), ("finished", None)]
    assert calls.threads == {QThread.currentThread()}
    assert not jobs.is_running("preview")


def test_error_reaches_on_error_with_the_title(qtbot, jobs: CurrentJobs) -> None:
    def fail() -> None:
        raise DataError("column 'x' is missing")

    calls = Calls()
    jobs.start("check", fail, on_result=calls.result, on_error=calls.error,
               on_finished=calls.finished, title="Cannot check the data")
    _wait_finished(qtbot, calls)
    (kind, info), finished = calls.events
    assert kind == "error" and finished == ("finished", None)
    assert isinstance(info, ErrorInfo) and info.user_error
    assert info.title == "Cannot check the data" and info.message == "column 'x' is missing"


def test_error_without_on_error_is_dropped_quietly(qtbot, jobs: CurrentJobs) -> None:
    def fail() -> None:
        raise DataError("nope")

    calls = Calls()
    jobs.start("check", fail, on_result=calls.result, on_finished=calls.finished)
    _wait_finished(qtbot, calls)
    assert calls.events == [("finished", None)]


def test_a_newer_job_supersedes_the_older_one(qtbot, jobs: CurrentJobs) -> None:
    gate = threading.Event()
    old, new = Calls(), Calls()
    first = jobs.start("preview", _gated, gate, "old", on_result=old.result,
                       on_error=old.error, on_finished=old.finished)
    stops: list[bool] = []
    first.add_stop_hook(lambda: stops.append(True))
    jobs.start("preview", _echo, "new", on_result=new.result, on_finished=new.finished)
    assert first.stop_requested and stops == [True]
    _wait_finished(qtbot, new)
    gate.set()
    assert jobs.runner.wait_all(10_000)
    assert new.events == [("result", "new"), ("finished", None)]
    assert old.events == []


def test_kinds_are_independent_and_cancel_drops(qtbot, jobs: CurrentJobs) -> None:
    gate = threading.Event()
    slow, quick = Calls(), Calls()
    jobs.start("list", _gated, gate, "slow", on_result=slow.result, on_finished=slow.finished)
    jobs.start("open", _echo, "quick", on_result=quick.result, on_finished=quick.finished)
    _wait_finished(qtbot, quick)
    assert jobs.is_running("list") and not jobs.is_running("open")
    jobs.cancel()
    assert not jobs.is_running("list")
    gate.set()
    assert jobs.runner.wait_all(10_000)
    assert quick.events == [("result", "quick"), ("finished", None)]
    assert slow.events == []


def test_on_finished_may_start_the_next_job_of_its_kind(qtbot, jobs: CurrentJobs) -> None:
    calls = Calls()

    def again() -> None:
        calls.finished()
        if len(calls.events) < 4:
            jobs.start("poll", _echo, "second", on_result=calls.result, on_finished=again)

    jobs.start("poll", _echo, "first", on_result=calls.result, on_finished=again)
    _wait_finished(qtbot, calls, 2)
    assert calls.events == [("result", "first"), ("finished", None),
                            ("result", "second"), ("finished", None)]
