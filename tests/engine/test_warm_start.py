"""Warm start (``training.init_from_run``): a run begins from a previous run's weights, layer by
layer where names and shapes match (tiny tabular MLP, CPU)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from ftstudio.engine.reporting import RecordingReporter
from ftstudio.engine.runs import RunFolder
from ftstudio.errors import SpecError
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_tabular_csv


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory) -> Path:
    return write_tabular_csv(tmp_path_factory.mktemp("warm") / "d.csv", n=80)


@pytest.fixture(scope="module")
def first_run(csv_path, tmp_path_factory) -> Path:
    from ftstudio.engine.training import train

    out = tmp_path_factory.mktemp("warm_runs") / "first"
    train(spec_of(csv_path, epochs=2), out_dir=out)
    return out


def spec_of(csv_path: Path, **training) -> ExperimentSpec:
    return ExperimentSpec.from_dict(tabular_spec_data(
        csv_path, name="warm", **{"seed": 3, "baseline": False, **training}))


def weights_by_layer(run: Path) -> dict[str, list[np.ndarray]]:
    from ftstudio.engine.artifacts import load_run_model

    model = load_run_model(RunFolder(run))
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


def distance(a: dict[str, list[np.ndarray]], b: dict[str, list[np.ndarray]], name: str) -> float:
    return max(float(np.abs(x - y).max()) for x, y in zip(a[name], b[name], strict=True))


def test_a_warm_started_run_begins_where_the_previous_run_ended(csv_path, first_run, tmp_path):
    from ftstudio.engine.training import train

    tiny = {"epochs": 1, "learning_rate": 1e-7}  # one epoch that barely moves the weights
    reporter = RecordingReporter()
    train(spec_of(csv_path, init_from_run=str(first_run), **tiny), reporter,
          out_dir=tmp_path / "warm")
    train(spec_of(csv_path, seed=11, **tiny), out_dir=tmp_path / "cold")
    before = weights_by_layer(first_run)
    warm, cold = weights_by_layer(tmp_path / "warm"), weights_by_layer(tmp_path / "cold")

    for name in ("head_0_dense", "label"):
        assert distance(warm, before, name) < 1e-4, name
        assert distance(cold, before, name) > 100 * distance(warm, before, name), name
    said = " ".join(text for (text,) in reporter.of("status"))
    assert "Warm start from first:" in said and "kept fresh" not in said


def test_a_new_class_count_keeps_only_the_output_layer_fresh(csv_path, first_run, tmp_path):
    from ftstudio.engine.training import train

    two_classes = tmp_path / "two.csv"  # "mid" merged into "high": 2 classes instead of 3
    with open(csv_path) as src, open(two_classes, "w", newline="") as dst:
        rows = list(csv.reader(src))
        label = rows[0].index("label")
        writer = csv.writer(dst)
        writer.writerow(rows[0])
        for row in rows[1:]:
            writer.writerow(row[:label] + [row[label].replace("mid", "high")] + row[label + 1:])
    reporter = RecordingReporter()
    train(spec_of(two_classes, epochs=1, learning_rate=1e-7, init_from_run=str(first_run)),
          reporter, out_dir=tmp_path / "two")

    said = [text for (text,) in reporter.of("status") if text.startswith("Warm start")]
    assert len(said) == 1 and said[0].endswith("kept fresh (no match by name and shape): label")
    before, after = weights_by_layer(first_run), weights_by_layer(tmp_path / "two")
    assert distance(after, before, "head_0_dense") < 1e-4
    assert after["label"][0].shape != before["label"][0].shape


def test_a_folder_without_a_model_is_a_spec_error_naming_the_key(csv_path, tmp_path):
    from ftstudio.engine.training import train

    (tmp_path / "empty").mkdir()
    with pytest.raises(SpecError, match="training.init_from_run"):
        train(spec_of(csv_path, epochs=1, init_from_run=str(tmp_path / "empty")),
              out_dir=tmp_path / "run")
    with pytest.raises(SpecError, match="training.init_from_run"):
        spec_of(csv_path, init_from_run="  ")


def test_the_feature_key_follows_the_model_a_run_starts_from(csv_path, first_run, tmp_path):
    from ftstudio.engine.datasets import prepare_data
    from ftstudio.engine.feature_store import feature_key

    spec = spec_of(csv_path)
    prepared = prepare_data(spec, RecordingReporter())
    warm = spec_of(csv_path, init_from_run=str(first_run))
    key = feature_key(warm, prepared)
    assert key != feature_key(spec, prepared)
    assert key == feature_key(spec_of(csv_path, init_from_run=str(first_run)), prepared)
    model_file = first_run / "model.keras"
    stat = model_file.stat()
    os.utime(model_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert feature_key(warm, prepared) != key  # a retrained previous run: new features


def test_a_resumed_run_goes_on_when_its_start_run_is_gone(csv_path, tmp_path) -> None:
    from ftstudio.engine.resume import ResumePlan
    from ftstudio.engine.training import _without_lost_start

    spec = spec_of(csv_path, epochs=1, init_from_run=str(tmp_path / "deleted"))
    reporter = RecordingReporter()
    assert _without_lost_start(spec, ResumePlan(), reporter) is spec  # fresh: still checked
    kept = _without_lost_start(spec, ResumePlan(kind="train"), reporter)
    assert kept.training.init_from_run is None
    assert spec.training.init_from_run  # the run's own spec is left as it was
    assert any("init_from_run" in w and "own saved weights" in w
               for (w,) in reporter.of("warning"))
