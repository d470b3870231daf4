"""Per-example results and Try it on real (tiny) finished runs: text, image, tabular, regression."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ftstudio.errors import DataError
from tests.helpers.eval_runs import trained_run


def _rows(run: Path) -> tuple[list[str], list[list[str]]]:
    with (run / "predictions.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


@pytest.mark.parametrize("kind", ["text", "image", "tabular", "regression"])
def test_predictions_hold_every_val_and_test_example_in_full(kind: str) -> None:
    from ftstudio.engine.examples import parse_examples

    run = trained_run(kind)
    header, rows = _rows(run)
    inputs, outputs = parse_examples(header)
    splits = json.loads((run / "splits.json").read_text())["row_ids"]
    metrics = json.loads((run / "metrics.json").read_text())
    for split in ("test", "val"):
        mine = [r for r in rows if r[inputs["split"]] == split]
        assert len(mine) == len(splits[split]) > 0
    out = outputs[0]
    test = [r for r in rows if r[inputs["split"]] == "test"]
    losses = np.array([float(r[out.loss]) for r in test])
    # the per-example losses average to the split's loss (one output, no regularisation)
    assert losses.mean() == pytest.approx(metrics["test.loss"], rel=2e-3)
    if out.task == "classification":
        probs = np.array([[float(r[i]) for i in out.probabilities] for r in test])
        assert np.allclose(probs.sum(axis=1), 1.0, atol=2e-3)
        assert [out.classes[k] for k in probs.argmax(axis=1)] == [r[out.pred] for r in test]
        assert np.allclose(probs.max(axis=1), [float(r[out.confidence]) for r in test])
    else:
        errors = [float(r[out.pred]) - float(r[out.true]) for r in test]
        assert np.allclose(errors, [float(r[out.error]) for r in test], atol=1e-3)
    ev = json.loads((run / "evaluation.json").read_text())
    assert ev["row_label"] == ("image number" if kind == "image" else "line in the file")


def test_text_rows_are_file_lines() -> None:
    from ftstudio.engine.examples import parse_examples

    run = trained_run("text")
    spec = json.loads((run / "spec.json").read_text())
    lines = Path(spec["data"]["path"]).read_text(encoding="utf-8").splitlines()
    header, rows = _rows(run)
    inputs, outputs = parse_examples(header)
    assert lines[2] == "text,label"  # two blank lines first: the header is line 3
    for r in rows:
        text, label = next(csv.reader([lines[int(r[inputs["row"]]) - 1]]))
        assert (text, label) == (r[inputs["input"]], r[outputs[0].true])


def test_image_rows_count_from_one_and_inputs_are_the_files() -> None:
    from ftstudio.engine.examples import parse_examples

    header, rows = _rows(trained_run("image"))
    inputs, outputs = parse_examples(header)
    numbers = sorted(int(r[inputs["row"]]) for r in rows)
    assert numbers[0] >= 1 and numbers[-1] <= 60
    for r in rows:
        path = Path(r[inputs["input"]])
        assert path.is_file() and path.parent.name == r[outputs[0].true]


def test_evaluation_json_has_curves_for_every_split() -> None:
    ev = json.loads((trained_run("tabular") / "evaluation.json").read_text())
    rep = ev["splits"]["test"]["outputs"]["label"]
    assert len(rep["roc"]) == len(rep["pr"]) == 3
    assert 0 <= rep["calibration"]["ece"] <= 1 and sum(rep["calibration"]["count"]) == rep["n"]
    assert set(ev["splits"]) == {"val", "test"}


# ------------------------------------------------------------------ try it
def test_try_text_matches_predict() -> None:
    from ftstudio.engine.inference import predict
    from ftstudio.engine.tryit import open_run, try_example

    run = trained_run("text")
    loaded = open_run(run)
    answer = try_example(loaded, text="the good movie")["label"]
    assert answer["task"] == "classification"
    assert sum(p for _, p in answer["top"]) == pytest.approx(1.0, abs=1e-5)
    reference = predict(run, texts=["the good movie"])[0]["label"]
    assert answer["top"][0] == (reference["label"], pytest.approx(reference["confidence"]))
    with pytest.raises(DataError, match="type or paste"):
        try_example(loaded, text="   ")


def test_try_image_uses_the_run_preprocessing(tmp_path: Path) -> None:
    from ftstudio.engine.examples import parse_examples
    from ftstudio.engine.tryit import open_run, try_example

    run = trained_run("image")
    header, rows = _rows(run)
    inputs, outputs = parse_examples(header)
    row = rows[0]
    loaded = open_run(run)
    top = dict(try_example(loaded, image=row[inputs["input"]])["label"]["top"])
    out = outputs[0]
    assert [top[c] for c in out.classes] == \
        pytest.approx([float(row[i]) for i in out.probabilities], abs=1e-3)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really a picture")
    with pytest.raises(DataError, match="cannot read image"):
        try_example(loaded, image=broken)
    with pytest.raises(DataError, match="not found"):
        try_example(loaded, image=tmp_path / "missing.png")


@pytest.mark.parametrize("kind", ["tabular", "regression"])
def test_try_a_feature_row(kind: str) -> None:
    from ftstudio.engine.examples import parse_examples
    from ftstudio.engine.tryit import open_run, try_example

    run = trained_run(kind)
    header, rows = _rows(run)
    inputs, outputs = parse_examples(header)
    row = rows[0]
    features = {k[len("input."):]: float(row[i]) for k, i in inputs.items()
                if k.startswith("input.")}
    loaded = open_run(run)
    answer = try_example(loaded, features=features)[outputs[0].name]
    if kind == "regression":
        assert answer["value"] == pytest.approx(float(row[outputs[0].pred]), rel=1e-3, abs=1e-3)
    else:
        top = dict(answer["top"])
        assert [top[c] for c in outputs[0].classes] == \
            pytest.approx([float(row[i]) for i in outputs[0].probabilities], abs=1e-3)
    with pytest.raises(DataError, match="missing: f3"):
        try_example(loaded, features={k: v for k, v in features.items() if k != "f3"})
    with pytest.raises(DataError, match="number"):
        try_example(loaded, features={**features, "f0": "abc"})  # type: ignore[dict-item]
