"""Likely label errors: confident learning on out-of-fold predicted probabilities.

Every example gets a probability for each class from a model that never saw it: k-fold
logistic-regression probes on the frozen backbone features (raw columns for tabular data,
:func:`out_of_fold_probabilities`), or a finished run's held-out predictions
(``predictions.csv``). Confident learning (Northcutt et al., 2021) then reads them
(:func:`confident_learning`):

* each class ``j`` gets a threshold ``t_j``: the mean probability of ``j`` over the examples
  labelled ``j`` (how sure the model usually is about that class);
* an example labelled ``y`` is *flagged* when another class ``j`` reaches its own threshold
  (``p_j >= t_j``): the model is as sure it is a ``j`` as it usually is about real ``j``'s;
  the suggested label is the most probable such class;
* examples are ranked flagged first, then by margin ``p_y - max_{j != y} p_j`` (lowest
  first): the most confidently contradicted labels lead the review list.

Corrections never touch the user's file: :func:`write_corrections` writes a new CSV (or a new
image folder), with the confirmed relabels and drops applied.

numpy at import time; scikit-learn, pandas and the backbone inside the functions.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ftstudio.engine.data_features import ExampleFeatures, spec_features
from ftstudio.engine.examples import parse_examples, row_label, row_numbers, to_float
from ftstudio.errors import DataError, RunError

if TYPE_CHECKING:
    from ftstudio.engine.reporting import Reporter
    from ftstudio.spec import ExperimentSpec

__all__ = ["LabelIssue", "LabelReview", "ScoredLabels", "confident_learning",
           "out_of_fold_probabilities", "ranking_quality", "review_features", "review_run",
           "review_spec", "write_corrections"]


@dataclass
class ScoredLabels:
    """Confident-learning scores of every example (arrays in data order).

    Attributes:
        thresholds: per class, the mean probability of the class over its own examples.
        self_confidence: the probability of the given label.
        margin: ``p(given) - max p(other class)`` (negative: another class is more likely).
        flagged: another class reaches its threshold (a likely label error).
        suggested: the most probable class reaching its threshold (else the most probable
            other class).
        order: the ranking, most likely error first.
    """

    thresholds: np.ndarray
    self_confidence: np.ndarray
    margin: np.ndarray
    flagged: np.ndarray
    suggested: np.ndarray
    order: np.ndarray


def out_of_fold_probabilities(features: np.ndarray, labels: np.ndarray, n_classes: int,
                              folds: int = 5, seed: int = 0) -> np.ndarray:
    """Each example's class probabilities from a logistic-regression probe that never saw it.

    Args:
        features: ``(n, d)`` features.
        labels: ``(n,)`` class indices.
        n_classes: the number of classes (a class missing from a fold's training gets 0).
        folds: the number of folds (fewer when the smallest class is smaller).
        seed: the fold shuffle seed.

    Returns:
        ``(n, n_classes)`` probabilities.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(labels)
    smallest = int(counts[counts > 0].min()) if len(labels) else 0
    k = max(2, min(folds, len(labels)))
    splitter: Any = (StratifiedKFold(min(k, smallest), shuffle=True, random_state=seed)
                     if smallest >= 2 else KFold(k, shuffle=True, random_state=seed))
    probs = np.zeros((len(labels), n_classes))
    for train, held in splitter.split(features, labels):
        y = labels[train]
        if len(np.unique(y)) < 2:  # a degenerate fold: no opinion beyond the one class
            probs[held, y[0]] = 1.0
            continue
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
        probe.fit(features[train], y)
        probs[np.ix_(held, probe.classes_.astype(int))] = probe.predict_proba(features[held])
    return probs


def confident_learning(probs: np.ndarray, labels: np.ndarray) -> ScoredLabels:
    """Score every given label against out-of-fold probabilities (see the module docstring)."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n, k = probs.shape
    thresholds = np.ones(k)
    for j in range(k):
        own = labels == j
        if own.any():
            thresholds[j] = probs[own, j].mean()
    rows = np.arange(n)
    self_conf = probs[rows, labels]
    others = probs.copy()
    others[rows, labels] = -np.inf
    margin = self_conf - others.max(axis=1)
    above = (probs >= thresholds[None, :]) & np.isfinite(others)
    flagged = above.any(axis=1)
    suggested = np.where(flagged, np.where(above, probs, -np.inf).argmax(axis=1),
                         others.argmax(axis=1))
    order = np.lexsort((rows, margin, ~flagged))
    return ScoredLabels(thresholds, self_conf, margin, flagged, suggested, order)


def ranking_quality(order: np.ndarray, is_error: np.ndarray,
                    fractions: tuple[float, ...] = (0.05, 0.1, 0.15, 0.2, 0.3)
                    ) -> list[tuple[float, float, float]]:
    """Precision and recall of the top of a ranking against known errors.

    Returns:
        ``[(fraction reviewed, precision, recall), …]``.
    """
    is_error = np.asarray(is_error, dtype=bool)
    total = max(1, int(is_error.sum()))
    out = []
    for f in fractions:
        top = order[:max(1, int(round(f * len(order))))]
        hits = int(is_error[top].sum())
        out.append((f, hits / len(top), hits / total))
    return out


@dataclass
class LabelIssue:
    """One example of the review list."""

    position: int
    row: int
    input: str
    given: str
    suggested: str
    self_confidence: float
    margin: float
    flagged: bool


@dataclass
class LabelReview:
    """Every example ranked by how likely its label is wrong (most likely first)."""

    modality: str
    source: str
    label_column: str
    classes: list[str]
    thresholds: list[float]
    method: str
    row_label: str
    issues: list[LabelIssue] = field(default_factory=list)

    @property
    def flagged(self) -> list[LabelIssue]:
        """The examples confident learning flags as likely label errors."""
        return [i for i in self.issues if i.flagged]


def _review(probs: np.ndarray, labels: np.ndarray, classes: list[str], rows: np.ndarray,
            inputs: list[str], **about: Any) -> LabelReview:
    scored = confident_learning(probs, labels)
    review = LabelReview(classes=list(classes), thresholds=[float(t) for t in scored.thresholds],
                         **about)
    for i in scored.order:
        review.issues.append(LabelIssue(
            int(i), int(rows[i]), inputs[i], classes[int(labels[i])],
            classes[int(scored.suggested[i])], float(scored.self_confidence[i]),
            float(scored.margin[i]), bool(scored.flagged[i])))
    return review


def review_features(spec: ExperimentSpec, examples: ExampleFeatures, folds: int = 5
                    ) -> tuple[LabelReview, np.ndarray]:
    """The review of a spec's labels from features already computed.

    Returns:
        ``(review, out-of-fold probabilities (n, k))``.
    """
    data = examples.prepared.data
    first = _classification_output(spec)
    column = examples.prepared.output_columns[first]
    labels, classes = data.targets[column], data.classes[column]
    probs = out_of_fold_probabilities(examples.features, labels, len(classes), folds,
                                      spec.training.seed)
    inputs = [_shown(data, i) for i in range(len(labels))]
    method = (f"{folds}-fold logistic-regression probes on {examples.description}, "
              f"confident learning")
    review = _review(probs, labels, classes, row_numbers(data, spec), inputs,
                     modality=data.modality, source=data.source, label_column=column,
                     method=method, row_label=row_label(data.modality))
    return review, probs


def review_spec(spec: ExperimentSpec, reporter: Reporter | None = None,
                folds: int = 5) -> LabelReview:
    """Rank a spec's labelled examples by how likely their label is wrong (before any run)."""
    return review_features(spec, spec_features(spec, reporter), folds)[0]


def review_run(run_dir: str | Path) -> LabelReview:
    """Rank a finished run's validation and test examples by its held-out predictions."""
    import csv

    from ftstudio.spec import ExperimentSpec

    path = Path(run_dir)
    spec = ExperimentSpec.load(path / "spec.json")
    try:
        with open(path / "predictions.csv", encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise RunError(f"{path} has no predictions.csv; evaluate the run first") from exc
    inputs, outputs = parse_examples(rows[0])
    out = next((o for o in outputs if o.task == "classification" and o.probabilities), None)
    if out is None:
        raise RunError(f"{path} has no classification output to review")
    body = rows[1:]
    index = {c: i for i, c in enumerate(out.classes)}
    labels = np.array([index[r[out.true]] for r in body], dtype=np.int64)
    probs = np.array([[to_float(r[i]) for i in out.probabilities] for r in body])
    row_col = inputs.get("row", inputs.get("row_id", 0))
    shown = [r[inputs["input"]] if "input" in inputs else
             ", ".join(r[i] for k, i in inputs.items() if k.startswith("input.")) for r in body]
    column = next((o.label_column for o in spec.head.outputs if o.name == out.name), None)
    return _review(probs, labels, out.classes, np.array([int(r[row_col]) for r in body]),
                   shown, modality=spec.modality,
                   source=str(spec.data.image_dir if spec.modality == "image" else spec.data.path),
                   label_column=column or spec.data.label_column or out.name,
                   method=f"the held-out predictions of run {path.name}, confident learning",
                   row_label=row_label(spec.modality))


def _classification_output(spec: ExperimentSpec) -> str:
    for o in spec.head.outputs:
        if o.task == "classification":
            return o.name
    raise DataError("label review needs a classification output; this spec has none")


def _shown(data: Any, i: int) -> str:
    if data.modality == "tabular":
        return ", ".join(f"{v:.4g}" for v in data.inputs[i])
    return str(data.inputs[i])


def write_corrections(review: LabelReview, relabel: dict[int, str], drop: set[int] | list[int],
                      out: str | Path, encoding: str | None = None,
                      delimiter: str | None = None) -> Path:
    """Write the corrected data to a NEW file or folder; the original is never modified.

    Args:
        review: the review the rows come from (its ``source`` and ``label_column``).
        relabel: row number (as the review shows it) -> the new class name.
        drop: the row numbers to leave out.
        out: the new CSV file (CSV data) or the new image folder (image data).
        encoding: the source CSV's encoding (``None``: detected).
        delimiter: the source CSV's delimiter (``None``: detected).

    Returns:
        The path written.

    Raises:
        DataError: ``out`` is the source itself, already exists (images), or a row is unknown.
    """
    source, target = Path(review.source).resolve(), Path(out).expanduser().resolve()
    if target == source:
        raise DataError("write the corrections to a new file; the original is never modified")
    if review.modality == "image":
        return _copy_images(review, relabel, set(drop), target)
    from ftstudio.engine.data import read_table

    frame, _ = read_table(source, encoding, delimiter)
    unknown = [r for r in [*relabel, *drop] if r not in frame.index]
    if unknown:
        raise DataError(f"{source.name} has no data line(s) {unknown[:5]}")
    frame = frame.astype({review.label_column: object})
    for row, label in relabel.items():
        frame.loc[row, review.label_column] = label
    frame = frame.drop(index=sorted(set(drop)))
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(target, index=False)
    return target


def _copy_images(review: LabelReview, relabel: dict[int, str], drop: set[int],
                 target: Path) -> Path:
    """A new image folder: every kept image copied into its (corrected) class folder."""
    if target.exists():
        raise DataError(f"{target} exists; choose a new folder for the corrected images")
    by_row = {i.row: i for i in review.issues}
    for row, issue in sorted(by_row.items()):
        if row in drop:
            continue
        label = relabel.get(row, issue.given)
        folder = target / label
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy2(issue.input, folder / f"{row}_{Path(issue.input).name}")
    return target
