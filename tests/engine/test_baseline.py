"""Before vs after: the linear probe on frozen pretrained features, recorded in every run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ftstudio.engine.reporting import RecordingReporter
from ftstudio.spec import ExperimentSpec
from tests.helpers.eval_runs import trained_run
from tests.helpers.specs import tabular_spec_data, write_tabular_csv


def test_fine_tuning_beats_the_probe_on_an_easy_task() -> None:
    # The backbone sees only the green channel; the classes differ only in red and blue. The
    # probe on its frozen features is near chance, fine-tuning the backbone solves the task.
    run = trained_run("image")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test.accuracy"] >= 0.9
    assert metrics["test.accuracy"] > metrics["baseline.test.accuracy"]
    assert metrics["test.macro_f1"] > metrics["baseline.test.macro_f1"]
    details = json.loads((run / "baseline.json").read_text())
    assert details["feature_size"] == 4 and details["seconds"] >= details["feature_seconds"] > 0
    assert "green.keras" in details["features"]
    assert details["train_examples"] == details["train_split"] == 36
    assert details["splits"]["test"]["outputs"]["label"]["accuracy"] == \
        metrics["baseline.test.accuracy"]


@pytest.mark.parametrize("kind", ["text", "tabular", "regression"])
def test_every_run_records_a_sane_baseline(kind: str) -> None:
    metrics = json.loads((trained_run(kind) / "metrics.json").read_text())
    keys = ("accuracy", "macro_f1", "roc_auc") if kind != "regression" else ("mae", "r2")
    for split in ("test", "val"):
        for key in keys:
            value = metrics[f"baseline.{split}.{key}"]
            assert np.isfinite(value)
            if key != "mae":
                assert value <= 1.0
    if kind == "regression":
        # the target is linear in the features: a linear model is nearly exact
        assert metrics["baseline.test.r2"] > 0.99
    if kind == "tabular":
        assert metrics["baseline.test.accuracy"] > 0.8


def test_the_spec_key_turns_it_off(tmp_path: Path) -> None:
    from ftstudio.engine.training import train

    data = tabular_spec_data(write_tabular_csv(tmp_path / "d.csv", n=90), epochs=1)
    data["training"]["baseline"] = False
    spec = ExperimentSpec.from_dict(data)
    assert ExperimentSpec.from_json(spec.to_json()).training.baseline is False
    result = train(spec, out_dir=tmp_path / "run")
    assert not any(k.startswith("baseline.") for k in result.metrics)
    assert not (tmp_path / "run" / "baseline.json").exists()


def _prepared(tmp_path: Path):  # noqa: ANN202
    from ftstudio.engine.datasets import prepare_data
    from ftstudio.engine.reporting import BaseReporter
    from ftstudio.engine.runs import RunFolder

    spec = ExperimentSpec.from_dict(tabular_spec_data(write_tabular_csv(tmp_path / "d.csv")))
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    run.write_json("metrics.json", {"test.accuracy": 0.5})
    return spec, prepare_data(spec, BaseReporter()), run


def test_a_failing_baseline_is_a_warning_not_a_failed_run(tmp_path: Path, monkeypatch) -> None:
    from ftstudio.engine import baseline

    spec, prepared, run = _prepared(tmp_path)

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise ValueError("no luck")

    monkeypatch.setattr(baseline, "fit_probes", broken)
    rep = RecordingReporter()
    assert baseline.record_baseline(run, spec, prepared, None, {}, rep) == {}
    assert any("no luck" in w[0] for w in rep.of("warning"))
    assert "no luck" in run.read_json("baseline.json")["error"]
    assert run.metrics() == {"test.accuracy": 0.5}


def test_a_stopped_run_skips_it_and_a_finished_one_merges_it(tmp_path: Path) -> None:
    from ftstudio.engine import baseline

    spec, prepared, run = _prepared(tmp_path)
    stopping = RecordingReporter()
    stopping.request_stop()
    assert baseline.record_baseline(run, spec, prepared, None, {}, stopping) == {}
    assert "stopped" in run.read_json("baseline.json")["error"]
    added = baseline.record_baseline(run, spec, prepared, None, {}, RecordingReporter())
    assert added["baseline.test.accuracy"] > 0.8
    assert run.metrics() == {"test.accuracy": 0.5, **added}


def test_large_training_splits_are_sampled(tmp_path: Path, monkeypatch) -> None:
    from ftstudio.engine import baseline

    spec, prepared, run = _prepared(tmp_path)
    monkeypatch.setattr(baseline, "MAX_TRAIN_EXAMPLES", 50)
    baseline.record_baseline(run, spec, prepared, None, {}, RecordingReporter())
    details = run.read_json("baseline.json")
    assert details["train_examples"] == 50 and details["train_split"] == 192
