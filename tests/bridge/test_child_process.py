"""Jobs in a child process: reports relayed, stop obeyed, errors rebuilt with their class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ftstudio import errors
from ftstudio.bridge import child_process
from ftstudio.bridge.types import PretrainOutcome, TrainOutcome
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.errors import DataError
from ftstudio.spec import (
    BackboneSpec,
    DataSpec,
    ExperimentSpec,
    LayerSpec,
    PretrainSpec,
    TrainSpec,
)


def tabular_spec(folder: Path) -> ExperimentSpec:
    """A 60-row, two-feature yes/no task with a 4-unit MLP head, 2 epochs of 6 batches."""
    rows = ["a,b,y"] + [f"{i % 7},{(i * 3) % 5},{'yes' if i % 2 else 'no'}" for i in range(60)]
    (folder / "d.csv").write_text("\n".join(rows) + "\n")
    spec = ExperimentSpec(data=DataSpec(path=str(folder / "d.csv"), feature_columns=["a", "b"],
                                        label_column="y"),
                          backbone=BackboneSpec(source="none"),
                          training=TrainSpec(epochs=2, batch_size=8, learning_rate=1e-2))
    spec.head.layers = [LayerSpec(units=4)]
    return spec


@pytest.fixture(autouse=True)
def _no_idle_child():
    yield
    child_process.shutdown()


def test_child_trains_relays_reports_and_reraises_user_errors(tmp_path: Path) -> None:
    spec = tabular_spec(tmp_path)
    reporter = RecordingReporter()
    outcome = child_process.run_in_child("train", spec.to_json(), str(tmp_path / "runs"),
                                         reporter=reporter)
    assert isinstance(outcome, TrainOutcome)
    assert Path(outcome.run_dir, "model.keras").is_file()
    assert not outcome.stopped_by_user and "test.accuracy" in outcome.metrics
    steps = [args[0] for args in reporter.of("batch_end")]
    assert steps == list(range(1, 2 * 6 + 1))  # every batch, in order
    assert [args[0] for args in reporter.of("epoch_end")] == [1, 2]

    spec.data.path = str(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="not found") as caught:
        child_process.run_in_child("train", spec.to_json(), str(tmp_path / "runs"),
                                   reporter=RecordingReporter())
    assert "Traceback" in str(caught.value.__cause__)  # the child's traceback, for --debug


def test_pretraining_runs_in_the_child_and_stops_when_asked(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = ["a,b,c,d"] + [",".join(f"{v:.3f}" for v in rng.normal(size=4)) for _ in range(64)]
    (tmp_path / "u.csv").write_text("\n".join(rows) + "\n")
    spec = PretrainSpec(data=DataSpec(path=str(tmp_path / "u.csv")), encoder_units=[4],
                        latent_dim=2, epochs=50, batch_size=4, save_as="child-enc")
    reporter = RecordingReporter(stop_after_batches=20)  # in the 2nd epoch (15 batches each)
    outcome = child_process.run_in_child("pretrain", spec.to_json(), False, reporter=reporter)
    assert isinstance(outcome, PretrainOutcome)
    assert outcome.entry_name == "child-enc" and outcome.stopped_by_user
    assert Path(outcome.entry_folder, "backbone.keras").is_file()
    assert len(outcome.history) < 50


def test_only_allow_listed_calls_run() -> None:
    with pytest.raises(ValueError, match="not a call"):
        child_process.run_in_child("os.system", "true", reporter=RecordingReporter())


class EngineLocalError(errors.BackboneError):
    """Stands for an engine class that is not in ftstudio.errors."""


@pytest.mark.parametrize(("raised", "rebuilt_as"), [
    (errors.LibraryError("no model called 'x'"), errors.LibraryError),
    (errors.DataError("column 'y' is missing"), errors.DataError),
    (errors.CancelledError("stopped"), errors.CancelledError),
    (EngineLocalError("backbone gone"), errors.BackboneError),
    (ValueError("boom"), ValueError),
    (KeyError("k"), KeyError),
])
def test_errors_are_rebuilt_with_their_class(raised: BaseException, rebuilt_as: type) -> None:
    classes = [cls.__name__ for cls in type(raised).__mro__]
    rebuilt = child_process.rebuild_error(classes, str(raised), "Traceback (child): here",
                                          raised.args)
    assert type(rebuilt) is rebuilt_as
    assert str(rebuilt) == str(raised)
    assert "Traceback (child): here" in str(rebuilt.__cause__)


def test_an_unknown_class_is_a_bug_naming_it() -> None:
    rebuilt = child_process.rebuild_error(["ResourceExhaustedError", "OpError", "Exception",
                                           "BaseException", "object"], "OOM", "tb")
    assert not isinstance(rebuilt, errors.FtStudioError)
    assert "ResourceExhaustedError" in str(rebuilt) and "OOM" in str(rebuilt)


class _FakeChild:
    """Stands for a started child: answers one job with ``("result", 7)``."""

    conn = type("Conn", (), {"poll": staticmethod(lambda timeout: True)})()
    exitcode = 0

    def alive(self) -> bool:
        return True

    def terminate(self) -> None:
        pass

    def close(self, timeout: float) -> None:
        pass


@pytest.mark.parametrize(("keep_warm", "was_warm", "prewarmed"), [
    (True, True, 1), (True, False, 0), (False, True, 0)])
def test_a_short_call_leaves_a_warm_child_warm(monkeypatch, keep_warm, was_warm,
                                               prewarmed) -> None:  # noqa: ANN001
    started: list[str] = []
    monkeypatch.setattr(child_process, "_take_child", lambda: (_FakeChild(), was_warm))
    monkeypatch.setattr(child_process, "_relay", lambda *a, **k: ("result", 7))
    monkeypatch.setattr(child_process, "prewarm", lambda: started.append("child"))
    result = child_process.run_in_child("memory_estimate", "{}", reporter=RecordingReporter(),
                                        keep_warm=keep_warm)
    assert result == 7 and len(started) == prewarmed
