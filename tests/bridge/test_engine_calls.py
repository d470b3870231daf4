"""The bridge's engine calls return plain bridge types built from the real engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftstudio.bridge import engine_calls
from ftstudio.bridge.types import DataCheck, DataPreview, ModelDescription
from ftstudio.errors import DataError
from ftstudio.spec import BackboneSpec, DataSpec, ExperimentSpec, LayerSpec


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    rows = ["id,review,score,label"]
    for i in range(60):
        label = ["good", "bad", "meh"][i % 3]
        rows.append(f"{i},\"this is review number {i}, quite a long text about a film\","
                    f"{i * 0.37:.2f},{label}")
    path = tmp_path / "r.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_preview_guesses_columns(csv_file: Path) -> None:
    p = engine_calls.preview_data(str(csv_file), max_rows=10)
    assert isinstance(p, DataPreview)
    assert p.kind == "csv" and p.n_rows_shown == 10 and p.truncated
    kinds = {c.name: c.kind for c in p.columns}
    assert kinds == {"id": "numeric", "review": "text", "score": "numeric", "label": "category"}
    assert p.suggested["text_column"] == "review"
    assert p.suggested["label_column"] == "label"
    assert list(p.frame.columns) == ["id", "review", "score", "label"]


def test_preview_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(DataError):
        engine_calls.preview_data(str(tmp_path / "nope.csv"))


def test_check_data_counts_and_split(csv_file: Path) -> None:
    spec = ExperimentSpec(data=DataSpec(path=str(csv_file), text_column="review",
                                        label_column="label"))
    check = engine_calls.check_data(spec)
    assert isinstance(check, DataCheck)
    assert check.n_examples == 60
    assert check.labels[0].counts == {"bad": 20, "good": 20, "meh": 20}
    assert sum(check.split_sizes.values()) == 60


def test_check_data_regression_histogram(csv_file: Path) -> None:
    spec = ExperimentSpec(data=DataSpec(path=str(csv_file), feature_columns=["id"],
                                        label_column="score"))
    spec.head.outputs[0].task = "regression"
    check = engine_calls.check_data(spec)
    edges, counts = check.labels[0].histogram
    assert sum(counts) == 60 and len(edges) == len(counts) + 1


def test_preview_images(tmp_path: Path) -> None:
    from PIL import Image

    for c in ("cat", "dog"):
        (tmp_path / "pets" / c).mkdir(parents=True)
        for i in range(3):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(tmp_path / "pets" / c / f"{i}.png")
    p = engine_calls.preview_data(str(tmp_path / "pets"))
    assert p.kind == "images" and p.classes == {"cat": 3, "dog": 3}
    assert list(p.frame["class"]) == ["cat"] * 3 + ["dog"] * 3


def test_describe_tabular_model(csv_file: Path) -> None:
    spec = ExperimentSpec(data=DataSpec(path=str(csv_file), feature_columns=["id", "score"],
                                        label_column="label"),
                          backbone=BackboneSpec(source="none"))
    spec.head.layers = [LayerSpec(units=4)]
    desc = engine_calls.describe_model(spec)
    assert isinstance(desc, ModelDescription)
    dense = [r for r in desc.layers if r.type == "Dense"]
    assert [r.params for r in dense] == [2 * 4 + 4, 4 * 3 + 3]
    assert not any(r.in_backbone for r in desc.layers)
    assert desc.trainable_params == sum(r.params for r in dense)
    assert desc.output_sizes == {"label": 3}


def test_list_and_load_runs(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "20250101-000000-demo"
    run.mkdir(parents=True)
    (run / "spec.json").write_text(json.dumps({"name": "demo"}))
    (run / "status.json").write_text(json.dumps({"status": "finished"}))
    (run / "metrics.json").write_text(json.dumps({"test.accuracy": 0.9}))
    (run / "history.csv").write_text("epoch,loss,val_loss\n0,1.0,1.1\n1,0.5,0.7\n")
    (run / "evaluation.json").write_text(json.dumps({"splits": {"test": {"n": 2, "outputs": {
        "label": {"task": "classification", "accuracy": 0.9}}}}}))
    (run / "predictions.csv").write_text("row_id,label.true,label.pred\n1,a,b\n")
    folder, rows = engine_calls.list_runs(str(tmp_path / "runs"))
    assert folder == str(tmp_path / "runs")
    assert [(r.name, r.status, r.metrics) for r in rows] == [
        ("demo", "finished", {"test.accuracy": 0.9})]
    details = engine_calls.load_run(rows[0].path)
    assert details.history[1]["val_loss"] == 0.7
    assert details.predictions == (["row_id", "label.true", "label.pred"], [["1", "a", "b"]])
    assert details.evaluation["splits"]["test"]["outputs"]["label"]["accuracy"] == 0.9


def test_bundled_choices_come_from_the_engine_registry() -> None:
    from ftstudio.engine import bundled

    choices = engine_calls.bundled_backbones()
    shipped = bundled.shipped_backbones()
    apps = bundled.applications_backbones()
    assert len(choices) == len(shipped) + len(apps)
    for choice, backbone in zip(choices, shipped, strict=False):
        # offered by name, so a spec that picks it runs on any machine
        assert (choice.source, choice.name, choice.path) == ("auto", backbone.name, None)
        assert choice.pretrained and choice.group == backbone.group
    for choice, backbone in zip(choices[len(shipped):], apps, strict=True):
        assert (choice.source, choice.name) == (backbone.spec.source, backbone.spec.name)
        assert choice.label == backbone.label and choice.group == "Keras applications"
        assert choice.pretrained == backbone.pretrained and choice.modality == "image"


def test_recommended_training_is_the_engine_recipe() -> None:
    from ftstudio.engine import recipes

    spec = ExperimentSpec(data=DataSpec(path="x.csv", feature_columns=["a"], label_column="y"),
                          backbone=BackboneSpec(source="none"))
    assert engine_calls.recommended_training(spec) == recipes.recommended_training(spec)
