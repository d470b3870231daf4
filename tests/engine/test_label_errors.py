"""Likely label errors: confident learning on out-of-fold probabilities finds flipped labels."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ftstudio.engine.label_errors import (
    confident_learning,
    out_of_fold_probabilities,
    ranking_quality,
    review_run,
    review_spec,
    write_corrections,
)
from ftstudio.errors import DataError
from ftstudio.spec import ExperimentSpec
from tests.helpers.eval_runs import trained_run
from tests.helpers.specs import tabular_spec_data, write_tabular_csv


def _flipped_digits(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Digits (raw pixels) with 10% of the labels flipped to another class at random."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    flip = rng.choice(len(y), size=len(y) // 10, replace=False)
    noisy = y.copy()
    noisy[flip] = (y[flip] + rng.integers(1, 10, len(flip))) % 10
    return x.astype(np.float32), y, noisy


@pytest.mark.parametrize("seed", [0, 1])
def test_flipped_digit_labels_rank_in_the_top_15_percent(seed: int) -> None:
    x, clean, noisy = _flipped_digits(seed)
    probs = out_of_fold_probabilities(x, noisy, 10, folds=5, seed=seed)
    scored = confident_learning(probs, noisy)
    flipped = noisy != clean
    quality = dict((f, (p, r)) for f, p, r in ranking_quality(scored.order, flipped))
    assert quality[0.15][1] >= 0.70  # recall of the flipped labels in the top 15%
    assert quality[0.05][0] >= 0.8  # the very top is nearly all real errors
    assert flipped[scored.flagged].mean() >= 0.6  # what is flagged is mostly wrong
    suggestions_right = (scored.suggested[flipped & scored.flagged] ==
                         clean[flipped & scored.flagged]).mean()
    assert suggestions_right >= 0.8


def test_confident_learning_thresholds_flags_and_order() -> None:
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.4, 0.6], [0.95, 0.05]])
    labels = np.array([0, 0, 1, 1, 1])  # the last one is labelled 1 but looks like a 0
    scored = confident_learning(probs, labels)
    assert scored.thresholds == pytest.approx([0.8, (0.8 + 0.6 + 0.05) / 3])
    assert scored.flagged.tolist() == [False, False, False, False, True]
    assert scored.suggested[4] == 0 and scored.order[0] == 4
    assert scored.margin[4] == pytest.approx(-0.9)


def _noisy_tabular(tmp_path: Path, rows_flipped: list[int]) -> tuple[Path, dict[int, str]]:
    """The tiny tabular CSV with the label of some data rows flipped; file line -> true label."""
    path = write_tabular_csv(tmp_path / "data.csv", n=300, seed=1)
    lines = path.read_text().splitlines()
    truth = {}
    other = {"high": "low", "low": "high", "mid": "high"}
    for r in rows_flipped:
        cells = lines[r].split(",")
        truth[r + 1] = cells[-2]
        cells[-2] = other[cells[-2]]
        lines[r] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    return path, truth


def test_a_spec_review_finds_flipped_rows_and_corrections_go_to_a_new_file(
        tmp_path: Path) -> None:
    flipped = list(range(5, 300, 20))  # 15 data rows
    path, truth = _noisy_tabular(tmp_path, flipped)
    original = path.read_bytes()
    spec = ExperimentSpec.from_dict(tabular_spec_data(path))
    review = review_spec(spec)
    assert review.row_label == "line in the file" and len(review.issues) == 300
    top = {i.row for i in review.issues[:45]}  # the top 15%
    assert len(top & set(truth)) >= 0.7 * len(truth)
    first = next(i for i in review.issues if i.row in truth and i.flagged)
    assert first.given != truth[first.row] and first.suggested in ("high", "mid", "low")
    fixes = {row: truth[row] for row in list(truth)[:3]}
    out = write_corrections(review, fixes, [list(truth)[3]], tmp_path / "fixed.csv")
    assert path.read_bytes() == original  # the user's file is never modified
    with out.open() as fh:
        fixed = list(csv.DictReader(fh))
    assert len(fixed) == 299
    assert [fixed[row - 2]["label"] for row in fixes] == list(fixes.values())
    with pytest.raises(DataError, match="never modified"):
        write_corrections(review, fixes, [], path)


def test_a_run_review_ranks_its_held_out_examples() -> None:
    run = trained_run("tabular")
    review = review_run(run)
    with (run / "predictions.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(review.issues) == len(rows)
    assert sorted(i.row for i in review.issues) == sorted(int(r["row"]) for r in rows)
    assert "held-out predictions" in review.method
    assert review.classes == json.loads((run / "labels.json").read_text())["label"]
    margins = [i.margin for i in review.issues if not i.flagged]
    assert margins == sorted(margins)


def test_the_embedding_map_and_the_review_share_one_feature_pass(tmp_path: Path) -> None:
    from ftstudio.engine.embedding_map import map_and_review, pca_2d

    flipped = [5, 105, 205]
    path, truth = _noisy_tabular(tmp_path, flipped)
    spec = ExperimentSpec.from_dict(tabular_spec_data(path))
    points, review = map_and_review(spec)
    assert points.xy.shape == (300, 2) and points.classes == review.classes
    assert sum(points.explained) <= 1.0 and points.explained[0] >= points.explained[1]
    wrong_rows = set(points.rows[points.wrong].tolist())
    assert set(truth) <= wrong_rows  # every flipped row is shown as a disagreement
    by_row = {i.row: i for i in review.issues}
    assert all(points.inputs[by_row[r].position] == by_row[r].input for r in truth)
    line = np.linspace(0, 1, 50)[:, None] * np.array([[1.0, 2.0, 0.0]])
    xy, explained = pca_2d(line + np.random.default_rng(0).normal(0, 1e-3, (50, 3)))
    assert explained[0] > 0.6 and np.corrcoef(xy[:, 0], line[:, 0])[0, 1] > 0.99


def test_image_labels_are_reviewed_on_backbone_features_and_fixed_in_a_new_folder(
        tmp_path: Path) -> None:
    from tests.helpers.eval_runs import green_only_backbone
    from tests.helpers.specs import image_spec_data, write_image_folder

    folder = write_image_folder(tmp_path / "images", per_class=10)
    data = image_spec_data(folder)
    data["backbone"] = {"source": "file", "preprocessing": "scale_0_1",
                        "path": str(green_only_backbone(tmp_path / "green.keras"))}
    review = review_spec(ExperimentSpec.from_dict(data), folds=3)
    assert len(review.issues) == 20 and review.row_label == "image number"
    assert "pooled" in review.method and sorted(review.classes) == ["blue", "red"]
    first, second = review.issues[0], review.issues[1]
    out = write_corrections(review, {first.row: "red" if first.given == "blue" else "blue"},
                            [second.row], tmp_path / "fixed")
    copied = sorted(p.parent.name for p in out.rglob("*.png"))
    assert len(copied) == 19 and len(list(folder.rglob("*.png"))) == 20
    with pytest.raises(DataError, match="exists"):
        write_corrections(review, {}, [], out)
