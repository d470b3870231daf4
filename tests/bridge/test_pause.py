"""Pause and resume: the engine holds between batches without losing anything (the same weights
as a run never paused), says "paused" in status.json, and a stop ends a pause; the child's
reporter and the relay pass pause / resume through the stop channel."""

from __future__ import annotations

import json
from multiprocessing import Pipe
from pathlib import Path

import numpy as np
import pytest

from ftstudio.bridge.child_process import _relay_pause
from ftstudio.bridge.child_side import _PipeReporter
from ftstudio.bridge.run_control import PausableReporter
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_tabular_csv


class PausingReporter(RecordingReporter):
    """Asks to pause once, at batch ``at``, for ``polls`` questions; may ask to stop then."""

    def __init__(self, run: Path, at: int = 3, polls: int = 4, stop: bool = False) -> None:
        super().__init__()
        self.run, self.at, self.polls, self.stop = run, at, polls, stop
        self.batches = 0
        self.asked = 0
        self.phase_while_paused: str | None = None

    def batch_end(self, step, logs):  # noqa: D102
        super().batch_end(step, logs)
        self.batches += 1

    def should_pause(self) -> bool:  # noqa: D102
        if self.batches != self.at or self.asked >= self.polls:
            return False
        self.asked += 1
        if self.asked == 2:
            status = json.loads((self.run / "status.json").read_text())
            self.phase_while_paused = status.get("phase")
            if self.stop:
                self.request_stop()
        return True


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> ExperimentSpec:
    csv_path = write_tabular_csv(tmp_path_factory.mktemp("pause") / "d.csv", n=80)
    return ExperimentSpec.from_dict(tabular_spec_data(
        csv_path, name="pause", seed=2, epochs=2, baseline=False))


def _weights(run: Path) -> list[np.ndarray]:
    from ftstudio.engine.artifacts import load_run_model
    from ftstudio.engine.runs import RunFolder

    return load_run_model(RunFolder(run)).get_weights()


def test_a_paused_run_ends_as_one_never_paused(spec, tmp_path):
    from ftstudio.engine.training import train

    rep = PausingReporter(tmp_path / "paused")
    result = train(spec, rep, out_dir=tmp_path / "paused")
    train(spec, None, out_dir=tmp_path / "plain")
    assert rep.phase_while_paused == "paused"
    statuses = [s for (s,) in rep.of("status")]
    assert any(s.startswith("Paused after batch") for s in statuses)
    assert "Resumed" in statuses
    assert not result.stopped_by_user
    for got, want in zip(_weights(tmp_path / "paused"), _weights(tmp_path / "plain"),
                         strict=True):
        np.testing.assert_array_equal(got, want)
    assert (tmp_path / "paused" / "history.csv").read_text() == \
        (tmp_path / "plain" / "history.csv").read_text()


def test_stop_while_paused_stops_after_that_batch(spec, tmp_path):
    from ftstudio.engine.training import train

    rep = PausingReporter(tmp_path / "run", at=2, polls=10_000, stop=True)
    result = train(spec, rep, out_dir=tmp_path / "run")
    assert result.stopped_by_user
    assert len(rep.of("batch_end")) == rep.at  # held after batch 2, then stopped: no third
    assert json.loads((tmp_path / "run" / "status.json").read_text())["status"] == "stopped"


def test_the_child_reporter_reads_pause_resume_and_stop_from_the_pipe():
    parent, child = Pipe()
    reporter = _PipeReporter(child)
    assert not reporter.should_pause()
    parent.send(("pause",))
    assert reporter.should_pause() and not reporter.should_stop()
    parent.send(("resume",))
    assert not reporter.should_pause()
    parent.send(("pause",))
    parent.send(("stop",))
    assert reporter.should_stop() and not reporter.should_pause()


def test_the_relay_sends_a_change_of_the_pause_switch_once():
    parent, child = Pipe()
    reporter = PausableReporter()
    assert _relay_pause(parent, reporter, False) is False and not child.poll()
    reporter.request_pause(True)
    assert reporter.should_pause()
    assert _relay_pause(parent, reporter, False) is True
    assert child.recv() == ("pause",)
    assert _relay_pause(parent, reporter, True) is True and not child.poll()
    reporter.request_pause(False)
    assert _relay_pause(parent, reporter, True) is False
    assert child.recv() == ("resume",)
    reporter.request_pause(True)
    reporter.request_stop()
    assert not reporter.should_pause()  # a stop wins over a pause
    reporter.reset()
    assert not reporter.pause_requested()
