"""A library error in a training started the window's way is a user error, not "a bug"."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Slot

from ftstudio.bridge import child_process, engine_calls
from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner
from ftstudio.bridge.qt_reporter import QtReporter
from ftstudio.spec import BackboneSpec, DataSpec, ExperimentSpec, TrainSpec

pytestmark = pytest.mark.gui


class Outcome(QObject):
    """Collects what the training job reports, on the GUI thread."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[object] = []
        self.errors: list[ErrorInfo] = []

    @Slot(int, object)
    def on_ok(self, job_id: int, value: object) -> None:
        self.results.append(value)

    @Slot(int, object)
    def on_error(self, job_id: int, info: object) -> None:
        assert isinstance(info, ErrorInfo)
        self.errors.append(info)


def test_unknown_library_entry_in_a_window_training_is_a_user_error(
        qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("FTSTUDIO_TRAIN_IN_THREAD", raising=False)  # the child process path
    rows = ["a,b,y"] + [f"{i % 7},{i % 5},{'yes' if i % 2 else 'no'}" for i in range(40)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    spec = ExperimentSpec(data=DataSpec(path=str(tmp_path / "d.csv"), feature_columns=["a", "b"],
                                        label_column="y"),
                          backbone=BackboneSpec(source="library", name="no-such-encoder"),
                          training=TrainSpec(epochs=1))
    runner = JobRunner()
    reporter = QtReporter()
    outcome = Outcome()
    # as the Train page does it: a Job over engine_calls.train with a QtReporter
    job = Job(engine_calls.train, spec, reporter, str(tmp_path / "runs"), title="Training failed")
    job.succeeded.connect(outcome.on_ok)
    job.failed.connect(outcome.on_error)
    try:
        runner.start(job)
        qtbot.waitUntil(lambda: bool(outcome.results or outcome.errors), timeout=180_000)
    finally:
        assert runner.wait_all(180_000)
        child_process.shutdown()
    assert outcome.results == []
    (info,) = outcome.errors
    assert info.user_error and not info.cancelled
    assert info.kind == "LibraryError"
    assert "no-such-encoder" in info.message
    assert "bug" not in info.message
    assert info.details and "Traceback" in info.details  # the child's, for the details view
