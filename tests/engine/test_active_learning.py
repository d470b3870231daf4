"""What to label next: uncertainty + diversity beats random selection in a pool simulation."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ftstudio.engine.active_learning import (
    append_labels,
    k_center_greedy,
    rank_pool,
    select_next,
    simulate,
    uncertainty,
)
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_tabular_csv


def test_uncertainty_and_diversity_beat_random_at_every_round_on_digits() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    curves: dict[str, list[list[float]]] = {"random": [], "uncertainty+diversity": []}
    for seed in range(3):
        xp, xt, yp, yt = train_test_split(x.astype(np.float32), y, test_size=0.3,
                                          random_state=seed, stratify=y)
        for strategy, scores in curves.items():
            scores.append(simulate(xp, yp, xt, yt, strategy, seed))  # type: ignore[arg-type]
    random, mixed = (np.mean(curves[s], axis=0) for s in curves)
    assert len(mixed) == 6 and mixed[0] == random[0]  # the same starting labels
    assert (mixed[1:] > random[1:]).all(), (mixed, random)


def test_k_center_greedy_and_selection_pick_far_and_uncertain_examples() -> None:
    points = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0], [10.0, 0.0]])
    picks = k_center_greedy(points, np.array([[0.0, 0.1]]), 2)
    assert set(picks.tolist()) == {2, 4} or set(picks.tolist()) == {3, 4}
    probs = np.array([[0.5, 0.5], [0.5, 0.5], [0.99, 0.01], [0.98, 0.02], [0.51, 0.49]])
    assert uncertainty(probs)[0] == 1.0 and uncertainty(probs)[2] < 0.1
    chosen = select_next(probs, points, np.zeros((0, 2)), 2)
    assert len(set(chosen.tolist())) == 2
    assert set(chosen.tolist()) <= {0, 1, 4, 2, 3}
    assert not ({0, 1} <= set(chosen.tolist()))  # two near-copies are not both picked


def test_rank_pool_proposes_uncertain_rows_and_appends_labels_to_a_new_file(
        tmp_path: Path) -> None:
    data = write_tabular_csv(tmp_path / "data.csv", n=120, seed=0)
    pool = write_tabular_csv(tmp_path / "pool.csv", n=200, seed=5)
    spec = ExperimentSpec.from_dict(tabular_spec_data(data))
    ranking = rank_pool(spec, pool, n=10)
    assert len(ranking.examples) == 10 and ranking.pool_size == 200
    rows = [e.row for e in ranking.examples]
    assert len(set(rows)) == 10 and all(2 <= r <= 201 for r in rows)
    assert np.mean([e.uncertainty for e in ranking.examples]) > 0.5
    new = {rows[0]: "mid", rows[1]: "low"}
    out = append_labels(spec, ranking, new, tmp_path / "more.csv")
    with out.open() as fh:
        merged = list(csv.DictReader(fh))
    assert len(merged) == 122  # pool rows are appended in file order
    assert [r["label"] for r in merged[-2:]] == [new[r] for r in sorted(new)]
    assert len(data.read_text().splitlines()) == 121  # the original is untouched
