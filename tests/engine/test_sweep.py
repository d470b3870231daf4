"""A sweep of four trials over a tiny tabular spec: run folders, results, plots, best spec."""

from __future__ import annotations

import json

import pytest

from ftstudio.engine.reporting import RecordingReporter
from ftstudio.engine.sweep import (
    _TrialReporter,
    apply_params,
    default_space,
    parse_space,
    run_sweep,
)
from ftstudio.errors import RunError, SpecError
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_tabular_csv


def _spec(tmp_path, **training):
    data = tabular_spec_data(write_tabular_csv(tmp_path / "d.csv", n=120), seed=3,
                             **{"epochs": 2, **training})
    return ExperimentSpec.from_dict(data)


def test_four_trials_write_runs_results_plots_and_the_best_spec(tmp_path):
    spec = _spec(tmp_path)
    space = {"training.learning_rate": {"low": 1e-3, "high": 0.3, "log": True},
             "training.batch_size": [8, 16], "head.dropout": {"low": 0.0, "high": 0.5}}
    rep = RecordingReporter()
    result = run_sweep(spec, 4, space, rep, out_dir=tmp_path / "sweep")
    folder = tmp_path / "sweep"
    assert [t.number for t in result.trials] == [0, 1, 2, 3]
    for t in result.trials:
        assert t.state in ("complete", "pruned"), t
        assert json.loads((folder / f"trial-{t.number:03d}" / "status.json").read_text())[
            "status"] in ("finished", "stopped")
        assert 1e-3 <= t.params["training.learning_rate"] <= 0.3
        assert t.params["training.batch_size"] in (8, 16)
        run_spec = json.loads((folder / f"trial-{t.number:03d}" / "spec.json").read_text())
        assert run_spec["training"]["batch_size"] == t.params["training.batch_size"]
        assert run_spec["training"]["baseline"] is False
    complete = [t for t in result.trials if t.state == "complete"]
    assert complete and result.best in complete
    assert result.best.value == min(t.value for t in complete)
    table = (folder / "results.csv").read_text().splitlines()
    assert table[0].startswith("trial,state,val_loss,epochs,seconds") and len(table) == 5
    assert len(json.loads((folder / "results.json").read_text())["trials"]) == 4
    assert sorted(p.name for p in result.plots) == [
        "objective-batch_size.png", "objective-dropout.png", "objective-learning_rate.png"]
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in result.plots)
    best = ExperimentSpec.load(folder / "best_spec.json")
    assert best.training.learning_rate == pytest.approx(
        result.best.params["training.learning_rate"])
    assert best.head.dropout == pytest.approx(result.best.params["head.dropout"])
    assert best.training.epochs == 2 and best.name == "tiny-best"
    assert any(s[0].startswith("Trial 4/4") for s in rep.of("status"))


def test_space_checks_and_defaults(tmp_path):
    spec = _spec(tmp_path)
    with pytest.raises(SpecError, match="cannot search"):
        parse_space({"training.seed": [1, 2]}, spec)
    with pytest.raises(SpecError, match="range"):
        parse_space({"training.learning_rate": {"low": 0, "high": 1, "log": True}}, spec)
    space = default_space(spec)
    assert set(space) == {"training.learning_rate", "training.batch_size", "head.dropout"}
    assert space["training.learning_rate"]["low"] == pytest.approx(1e-3)
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "results.json").write_text("{}")
    with pytest.raises(RunError, match="already holds a sweep"):
        run_sweep(spec, 1, out_dir=tmp_path / "old")
    deep = apply_params(spec, {"freeze.last_n": 3})
    assert deep.freeze.mode == "last_n" and deep.freeze.last_n == 3


class _FakeTrial:
    """Stands in for an Optuna trial whose pruner prunes once a value exceeds ``limit``."""

    def __init__(self, limit):
        self.limit, self.reports = limit, []

    def report(self, value, step):
        self.reports.append((step, value))

    def should_prune(self):
        return self.reports[-1][1] > self.limit


def test_a_pruned_trial_asks_training_to_stop():
    outer = RecordingReporter()
    watcher = _TrialReporter(outer, _FakeTrial(limit=1.0), "val_loss", "Trial 1/2")
    watcher.epoch_end(1, {"loss": 0.9, "val_loss": 0.8})
    assert not watcher.should_stop()
    watcher.epoch_end(2, {"loss": 0.9, "val_loss": 1.5})
    assert watcher.pruned and watcher.should_stop()
    assert watcher.trial.reports == [(1, 0.8), (2, 1.5)]
    assert [e[0] for e in outer.of("epoch_end")] == [1, 2]  # relayed for the live charts
    assert "pruned after epoch 2" in outer.of("status")[-1][0]
    other = _TrialReporter(outer, _FakeTrial(limit=9.0), "val_loss", "Trial 2/2")
    outer.request_stop()
    assert other.should_stop() and not other.pruned
