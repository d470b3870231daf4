"""What to label next: uncertainty mixed with diversity, and a pool-based simulation.

Given the current model's class probabilities on a pool of unlabelled examples and the
examples' features, :func:`select_next` keeps the most uncertain candidates (smallest margin
between the two most probable classes, or highest entropy), then picks among them by k-center
greedy on the features (each pick the candidate farthest from everything labelled or picked
so far), so the batch is both informative and varied rather than ``n`` near-copies of the
same hard case.

:func:`simulate` replays the labelling loop on a fully labelled set (hide the labels, reveal
the ones a strategy picks, refit) to compare strategies; :func:`rank_pool` ranks a spec's
unlabelled CSV or image folder with logistic-regression probes on the frozen features.

numpy at import time; scikit-learn and the backbone inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ftstudio.engine.data import IMAGE_EXTENSIONS, LoadedData, read_table
from ftstudio.engine.data_features import pool_features, spec_features
from ftstudio.errors import DataError

if TYPE_CHECKING:
    from ftstudio.engine.reporting import Reporter
    from ftstudio.spec import ExperimentSpec

__all__ = ["CANDIDATES_PER_PICK", "PoolRanking", "RankedExample", "append_labels",
           "k_center_greedy", "rank_pool", "read_pool", "select_next", "simulate", "uncertainty"]

Strategy = Literal["random", "uncertainty", "uncertainty+diversity"]

CANDIDATES_PER_PICK = 4
"""Uncertain candidates kept per example to pick, before k-center greedy chooses among them."""


def uncertainty(probs: np.ndarray, kind: Literal["margin", "entropy"] = "margin") -> np.ndarray:
    """How unsure the model is about each example (higher: more unsure), in ``[0, 1]``.

    ``margin``: one minus the gap between the two most probable classes; ``entropy``: the
    entropy of the probabilities over its maximum ``log k``.
    """
    probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    if kind == "entropy":
        return -(probs * np.log(probs)).sum(axis=1) / np.log(max(2, probs.shape[1]))
    top = np.sort(probs, axis=1)[:, -2:]
    return 1.0 - (top[:, 1] - top[:, 0])


def k_center_greedy(features: np.ndarray, anchors: np.ndarray, n: int) -> np.ndarray:
    """Pick ``n`` rows of ``features``, each the farthest from the anchors and the picks so far.

    Args:
        features: ``(m, d)`` candidates.
        anchors: ``(a, d)`` already labelled examples (may be empty).
        n: how many to pick (at most ``m``).

    Returns:
        The picked row positions, in pick order.
    """
    m = len(features)
    n = min(n, m)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if len(anchors):
        nearest = np.full(m, np.inf)
        for start in range(0, len(anchors), 2048):  # bounded memory on large labelled sets
            block = anchors[start:start + 2048]
            nearest = np.minimum(nearest, _squared_distances(features, block).min(axis=1))
    else:
        nearest = np.full(m, np.inf)
        nearest[0] = -1.0  # nothing labelled: start from the first candidate
    picks: list[int] = []
    for _ in range(n):
        i = int(np.argmax(nearest))
        picks.append(i)
        nearest = np.minimum(nearest, _squared_distances(features, features[i:i + 1])[:, 0])
        nearest[picks] = -np.inf
    return np.array(picks, dtype=np.int64)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :])


def select_next(probs: np.ndarray, pool: np.ndarray, labelled: np.ndarray, n: int,
                strategy: Strategy = "uncertainty+diversity", seed: int = 0) -> np.ndarray:
    """The pool positions to label next, most useful first.

    Args:
        probs: ``(m, k)`` the current model's probabilities on the pool.
        pool: ``(m, d)`` the pool's features.
        labelled: ``(a, d)`` the labelled examples' features (diversity is measured from them).
        n: how many to pick.
        strategy: ``uncertainty+diversity`` (the default), ``uncertainty`` or ``random``.
        seed: the seed of ``random``.
    """
    n = min(n, len(pool))
    if strategy == "random":
        return np.random.default_rng(seed).permutation(len(pool))[:n].astype(np.int64)
    unsure = np.argsort(-uncertainty(probs), kind="stable")
    if strategy == "uncertainty":
        return unsure[:n].astype(np.int64)
    candidates = unsure[:max(n, CANDIDATES_PER_PICK * n)]
    scale = pool.std(axis=0) + 1e-6  # distances on standardised features
    picked = k_center_greedy(pool[candidates] / scale, labelled / scale, n)
    return candidates[picked].astype(np.int64)


def _probe(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000)).fit(x, y)


def _pool_probs(model: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    probs = np.zeros((len(x), n_classes))
    probs[:, model.classes_.astype(int)] = model.predict_proba(x)
    return probs


def simulate(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
             strategy: Strategy, seed: int, start: float = 0.05, step: float = 0.05,
             rounds: int = 5) -> list[float]:
    """Replay the labelling loop on a labelled pool; the test accuracy after each round.

    Starts from a seeded random ``start`` fraction of the pool labelled, then ``rounds``
    times reveals ``step`` of the pool chosen by ``strategy`` and refits the probe.

    Returns:
        ``rounds + 1`` test accuracies (the first: the starting labels).
    """
    rng = np.random.default_rng(seed)
    n_classes = int(max(y.max(), y_test.max())) + 1
    labelled = rng.permutation(len(x))[:max(2, int(round(start * len(x))))]
    batch = max(1, int(round(step * len(x))))
    scores = []
    for r in range(rounds + 1):
        model = _probe(x[labelled], y[labelled])
        scores.append(float((model.predict(x_test) == y_test).mean()))
        if r == rounds:
            break
        rest = np.setdiff1d(np.arange(len(x)), labelled)
        picks = select_next(_pool_probs(model, x[rest], n_classes), x[rest], x[labelled],
                            batch, strategy, seed * 1000 + r)
        labelled = np.concatenate([labelled, rest[picks]])
    return scores


# ================================================================ a spec's unlabelled pool
@dataclass
class RankedExample:
    """One unlabelled example proposed for labelling."""

    position: int
    row: int
    input: str
    guess: str
    confidence: float
    uncertainty: float


@dataclass
class PoolRanking:
    """The examples of a pool to label next, most useful first."""

    pool: str
    pool_size: int
    classes: list[str]
    label_column: str
    method: str
    examples: list[RankedExample] = field(default_factory=list)


def read_pool(spec: ExperimentSpec, path: str | Path) -> LoadedData:
    """Unlabelled examples: a CSV with the spec's input column(s), or a folder of images.

    Rows are numbered as a text editor shows the CSV's lines (images: from 1, by path).

    Raises:
        DataError: the file or folder is missing, lacks the input columns, or is empty.
    """
    path = Path(path).expanduser()
    if spec.modality == "image":
        if not path.is_dir():
            raise DataError(f"the pool of unlabelled images must be a folder: {path}")
        files = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        inputs = np.array(files, dtype=object)
        ids = np.arange(1, len(files) + 1, dtype=np.int64)
        names: list[str] = []
    else:
        if not path.is_file():
            raise DataError(f"pool file not found: {path}")
        frame, _ = read_table(path)
        columns = ([spec.data.text_column or "text"] if spec.modality == "text"
                   else list(spec.data.feature_columns or []))
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{path.name} lacks the input column(s) {', '.join(missing)}")
        frame = frame.dropna(subset=columns)
        ids = frame.index.to_numpy().astype(np.int64)
        names = columns if spec.modality == "tabular" else []
        inputs = (frame[columns[0]].astype(str).to_numpy(dtype=object) if spec.modality == "text"
                  else frame[columns].to_numpy(dtype=np.float32))
    if not len(ids):
        raise DataError(f"{path} has no unlabelled examples")
    return LoadedData(modality=spec.modality, inputs=inputs, feature_names=names, targets={},
                      classes={}, row_ids=ids, source=str(path))


def rank_pool(spec: ExperimentSpec, pool_path: str | Path, n: int = 20,
              reporter: Reporter | None = None) -> PoolRanking:
    """Rank a pool of unlabelled examples: which ``n`` to label next.

    A logistic-regression probe on the frozen features of the labelled data gives the
    uncertainty; k-center greedy on the same features gives the diversity.
    """
    labelled = spec_features(spec, reporter)
    data = labelled.prepared.data
    name = next((o.name for o in spec.head.outputs if o.task == "classification"), None)
    if name is None:
        raise DataError("choosing what to label next needs a classification output")
    column = labelled.prepared.output_columns[name]
    classes = data.classes[column]
    pool = read_pool(spec, pool_path)
    x_pool = pool_features(spec, labelled, pool)
    model = _probe(labelled.features, data.targets[column])
    probs = _pool_probs(model, x_pool, len(classes))
    picks = select_next(probs, x_pool, labelled.features, n)
    unsure = uncertainty(probs)
    ranking = PoolRanking(str(pool_path), len(pool.row_ids), list(classes), column,
                          f"margin uncertainty of a logistic-regression probe on "
                          f"{labelled.description}, then k-center greedy")
    for i in picks:
        best = int(probs[i].argmax())
        shown = (", ".join(f"{v:.4g}" for v in pool.inputs[i]) if spec.modality == "tabular"
                 else str(pool.inputs[i]))
        ranking.examples.append(RankedExample(int(i), int(pool.row_ids[i]), shown,
                                              classes[best], float(probs[i, best]),
                                              float(unsure[i])))
    return ranking


def append_labels(spec: ExperimentSpec, ranking: PoolRanking, labels: dict[int, str],
                  out: str | Path) -> Path:
    """Write the labelled data plus the newly labelled pool rows to a NEW CSV or folder.

    Args:
        spec: the experiment whose data gets the new labels.
        ranking: where the pool rows come from.
        labels: pool row number -> class name.
        out: a new CSV (CSV data) or a new folder (images: the class folders copied, then
            each newly labelled image added to its class).

    Raises:
        DataError: ``out`` exists (images) or is the data file itself.
    """
    import shutil

    target = Path(out).expanduser().resolve()
    by_row = {e.row: e for e in ranking.examples}
    if spec.modality == "image":
        if target.exists():
            raise DataError(f"{target} exists; choose a new folder")
        shutil.copytree(Path(str(spec.data.image_dir)).expanduser(), target)
        for row, label in labels.items():
            (target / label).mkdir(exist_ok=True)
            shutil.copy2(by_row[row].input, target / label / Path(by_row[row].input).name)
        return target
    import pandas as pd

    source = Path(str(spec.data.path)).expanduser().resolve()
    if target == source:
        raise DataError("write the new labels to a new file; the original is never modified")
    frame, _ = read_table(source, spec.data.encoding, spec.data.delimiter)
    pool, _ = read_table(ranking.pool)
    added = pool.loc[sorted(labels)].copy()
    added[ranking.label_column] = [labels[r] for r in sorted(labels)]
    merged = pd.concat([frame, added[[c for c in frame.columns if c in added.columns]]],
                       ignore_index=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    merged.to_csv(target, index=False)
    return target
