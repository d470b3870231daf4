"""The embedding map: every labelled example's features projected to 2-D, with its errors.

:func:`pca_2d` projects features on their two principal components (numpy SVD: no extra
package, deterministic up to sign, which is fixed so the largest loading is positive).
:func:`map_and_review` computes the frozen features of a spec's examples once and gives both
the map (coloured by label, or by whether the out-of-fold probe gets the example wrong) and
the likely-label-error review of :mod:`ftstudio.engine.label_errors` on the same
probabilities.

numpy at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ftstudio.engine.data_features import spec_features
from ftstudio.engine.label_errors import LabelReview, review_features

if TYPE_CHECKING:
    from ftstudio.engine.reporting import Reporter
    from ftstudio.spec import ExperimentSpec

__all__ = ["EmbeddingMap", "map_and_review", "pca_2d"]


@dataclass
class EmbeddingMap:
    """Every labelled example as a point.

    Attributes:
        xy: float32 ``(n, 2)`` coordinates.
        labels: the given class index of each example.
        predicted: the out-of-fold probe's class index of each example.
        classes: class names in index order.
        rows: each example's row number as the user sees it.
        inputs: each example as text (the text, the image path, the feature values).
        explained: the share of the feature variance each axis shows.
        description: what the features are.
    """

    xy: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray
    classes: list[str]
    rows: np.ndarray
    inputs: list[str]
    explained: tuple[float, float]
    description: str

    @property
    def wrong(self) -> np.ndarray:
        """Where the probe disagrees with the given label (an error, or a label error)."""
        return self.labels != self.predicted


def pca_2d(features: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """The first two principal components of ``features`` (standardised).

    Returns:
        ``(xy (n, 2) float32, (share of variance of axis 1, of axis 2))``.
    """
    x = np.asarray(features, dtype=np.float64)
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    if x.shape[1] < 2:
        x = np.concatenate([x, np.zeros((len(x), 2 - x.shape[1]))], axis=1)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:2]
    signs = np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])
    axes = axes * np.where(signs == 0, 1.0, signs)[:, None]
    total = float((s ** 2).sum()) or 1.0
    return (x @ axes.T).astype(np.float32), (float(s[0] ** 2 / total),
                                             float(s[1] ** 2 / total))


def map_and_review(spec: ExperimentSpec, reporter: Reporter | None = None,
                   folds: int = 5) -> tuple[EmbeddingMap, LabelReview]:
    """The embedding map and the label review of a spec's data, from one feature pass."""
    examples = spec_features(spec, reporter)
    review, probs = review_features(spec, examples, folds)
    xy, explained = pca_2d(examples.features)
    data = examples.prepared.data
    labels = data.targets[review.label_column]
    inputs = [""] * len(labels)
    rows = np.zeros(len(labels), dtype=np.int64)
    for issue in review.issues:
        inputs[issue.position] = issue.input
        rows[issue.position] = issue.row
    return EmbeddingMap(xy, np.asarray(labels, dtype=np.int64), probs.argmax(axis=1),
                        review.classes, rows, inputs, explained, examples.description), review
