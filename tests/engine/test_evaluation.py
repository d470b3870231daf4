"""Evaluation numbers and per-example results, on hand-made predictions (no training)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from ftstudio.engine.evaluation import calibration, classification_report, regression_report
from ftstudio.engine.examples import (
    SplitOutputs,
    example_losses,
    examples_csv,
    parse_examples,
    row_numbers,
)


def _probs(n: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 2.0 * np.eye(k)[y]
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, p


def test_binary_report_has_roc_pr_and_calibration_from_sklearn() -> None:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y, p = _probs(80, 2)
    rep = classification_report(y, p, ["no", "yes"])
    assert [c["class"] for c in rep["roc"]] == ["yes"] == [c["class"] for c in rep["pr"]]
    assert rep["roc_auc"] == pytest.approx(roc_auc_score(y, p[:, 1]))
    assert rep["roc"][0]["auc"] == pytest.approx(rep["roc_auc"])
    assert rep["average_precision"] == pytest.approx(average_precision_score(y, p[:, 1]))
    assert rep["pr"][0]["prevalence"] == pytest.approx(y.mean())
    cal = rep["calibration"]
    assert sum(cal["count"]) == 80 and len(cal["count"]) == len(cal["confidence"])
    conf, right = p.max(axis=1), (p.argmax(axis=1) == y)
    bins = np.minimum((conf * 10).astype(int), 9)  # no confidence sits exactly on an edge here
    expected = sum(abs(right[bins == b].mean() - conf[bins == b].mean()) * (bins == b).sum()
                   for b in set(bins)) / 80
    assert cal["ece"] == pytest.approx(expected)


def test_multiclass_curves_are_one_vs_rest_per_class() -> None:
    from sklearn.metrics import average_precision_score

    y, p = _probs(90, 3, seed=1)
    rep = classification_report(y, p, ["a", "b", "c"])
    assert [c["class"] for c in rep["pr"]] == ["a", "b", "c"] == [c["class"] for c in rep["roc"]]
    aps = [average_precision_score(y == k, p[:, k]) for k in range(3)]
    assert [c["ap"] for c in rep["pr"]] == pytest.approx(aps)
    assert rep["average_precision"] == pytest.approx(np.mean(aps))
    # one class absent from the split: no macro AUC, and no curve for it
    mask = y != 2
    rep = classification_report(y[mask], p[mask], ["a", "b", "c"])
    assert math.isnan(rep["roc_auc"]) and [c["class"] for c in rep["roc"]] == ["a", "b"]


def test_calibration_of_a_perfect_model_is_exact() -> None:
    y = np.array([0, 1, 1, 0])
    cal = calibration(y, np.eye(2)[y])
    assert cal["accuracy"] == [1.0] and cal["confidence"] == [1.0] and cal["ece"] == 0.0
    assert calibration(np.zeros(0, int), np.zeros((0, 2)))["count"] == []


def test_example_losses_are_keras_losses_per_example() -> None:
    import keras

    y, p = _probs(20, 3)
    losses = example_losses("classification", y, p)
    keras_mean = float(keras.losses.SparseCategoricalCrossentropy()(y, p))
    assert losses.mean() == pytest.approx(keras_mean, rel=1e-5)
    sigmoid = np.array([[0.9], [0.2], [0.6]])
    bce = float(keras.losses.BinaryCrossentropy()(np.array([1, 0, 0]), sigmoid))
    assert example_losses("classification", np.array([1, 0, 0]), sigmoid).mean() == \
        pytest.approx(bce, rel=1e-5)
    values = example_losses("regression", np.array([1.0, 2.0]), np.array([[1.5], [0.0]]))
    assert values.tolist() == [0.25, 4.0]


def _loaded(modality: str):  # noqa: ANN202
    from ftstudio.engine.data import LoadedData

    inputs = (np.array([[1.0, 2.0], [3.0, 4.0]], np.float32) if modality == "tabular"
              else np.array(["a, quoted \"text\"", "b"], dtype=object))
    return LoadedData(modality=modality, inputs=inputs,
                      feature_names=["x", "y"] if modality == "tabular" else [],
                      targets={"label": np.array([0, 1]), "v": np.array([1.0, 2.0], np.float32)},
                      classes={"label": ["neg", "pos"]}, row_ids=np.array([1, 2]))


@pytest.mark.parametrize("modality", ["text", "tabular"])
def test_examples_csv_round_trips_through_parse_examples(modality: str) -> None:
    import csv
    import io

    from ftstudio.spec import ExperimentSpec

    spec = ExperimentSpec.from_dict({"head": {"outputs": [
        {"name": "label", "label_column": "label"},
        {"name": "v", "label_column": "v", "task": "regression"}]}})
    data = _loaded(modality)
    parts = [SplitOutputs("test", np.array([1]), np.array([3]),
                          {"label": np.array([[0.2, 0.8]]), "v": np.array([[2.5]])}),
             SplitOutputs("val", np.array([0]), np.array([2]),
                          {"label": np.array([[0.7, 0.3]]), "v": np.array([[0.0]])})]
    text = examples_csv(data, spec, {"label": "label", "v": "v"}, parts)
    rows = list(csv.reader(io.StringIO(text)))
    inputs, outputs = parse_examples(rows[0])
    assert [r[inputs["split"]] for r in rows[1:]] == ["test", "val"]
    assert [r[inputs["row"]] for r in rows[1:]] == ["3", "2"]
    if modality == "text":
        assert rows[2][inputs["input"]] == "a, quoted \"text\""
    else:
        assert [rows[1][inputs[f"input.{f}"]] for f in ("x", "y")] == ["3", "4"]
    label, value = outputs
    assert (label.name, label.task, label.classes) == ("label", "classification", ["neg", "pos"])
    first = rows[1]
    assert (first[label.true], first[label.pred], first[label.confidence]) == \
        ("pos", "pos", "0.8000")
    assert [float(first[i]) for i in label.probabilities] == [0.2, 0.8]
    assert float(first[label.loss]) == pytest.approx(-math.log(0.8), rel=1e-4)
    assert (value.task, float(first[value.error]), float(first[value.loss])) == \
        ("regression", 0.5, 0.25)


def test_old_prediction_files_still_parse() -> None:
    inputs, outputs = parse_examples(["row_id", "label.true", "label.pred", "label.confidence"])
    assert inputs == {"row_id": 0}
    assert outputs[0].task == "classification" and outputs[0].loss == -1


def test_row_numbers_are_what_a_spreadsheet_shows(tmp_path: Path) -> None:
    from ftstudio.engine.data import load_data
    from ftstudio.spec import ExperimentSpec
    from tests.helpers.specs import write_image_folder

    path = tmp_path / "d.csv"
    path.write_text("\n\ntext,label\nfirst,a\n,a\nsecond,a\nthird,b\nfourth,b\n",
                    encoding="utf-8")
    spec = ExperimentSpec.from_dict({"data": {"path": str(path), "text_column": "text",
                                              "label_column": "label"}})
    data = load_data(spec)
    numbers = row_numbers(data, spec)
    lines = path.read_text().splitlines()
    # the header is line 3; the empty text on line 5 was dropped; each number is its file line
    assert numbers.tolist() == [4, 6, 7, 8]
    assert [lines[n - 1].split(",")[0] for n in numbers] == list(data.inputs)

    folder = write_image_folder(tmp_path / "img", per_class=2)
    spec = ExperimentSpec.from_dict({"data": {"image_dir": str(folder), "label_column": "c"}})
    data = load_data(spec)
    assert row_numbers(data, spec).tolist() == [1, 2, 3, 4]


def test_regression_report_numbers() -> None:
    rep = regression_report(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    assert rep["mae"] == pytest.approx(1 / 3) and rep["rmse"] == pytest.approx(math.sqrt(1 / 3))
    assert rep["y_pred"] == [1.0, 2.0, 4.0]
