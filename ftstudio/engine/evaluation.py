"""Metrics on a held-out split: classification and regression reports (scikit-learn).

Everything returned is plain JSON-able Python (lists, floats), so it can be written to the
run folder and drawn by the window without TensorFlow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _f(x: Any) -> float:
    """A float that JSON can hold (NaN stays NaN; the writer keeps it as NaN)."""
    return float(x)


def class_probabilities(raw: np.ndarray, n_classes: int) -> np.ndarray:
    """Turn a model output into an ``(n, n_classes)`` probability matrix.

    A sigmoid output of shape ``(n, 1)`` for two classes becomes ``[1-p, p]``.
    """
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim == 1:
        raw = raw[:, None]
    if raw.shape[1] == 1 and n_classes == 2:
        raw = np.concatenate([1.0 - raw, raw], axis=1)
    return raw


def classification_report(y_true: Sequence[int] | np.ndarray, probs: np.ndarray,
                          classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class and macro precision/recall/F1, confusion matrix and ROC.

    Args:
        y_true: class indices.
        probs: ``(n, k)`` class probabilities (or a sigmoid column for two classes).
        classes: class names in index order.

    Returns:
        A dict with ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1``,
        ``weighted_f1``, ``roc_auc`` (NaN when undefined), ``per_class`` rows,
        ``confusion`` (rows = true class), ``roc`` curves per class, ``classes``.
    """
    from sklearn.metrics import (
        confusion_matrix,
        precision_recall_fscore_support,
        roc_auc_score,
        roc_curve,
    )

    y_true = np.asarray(y_true, dtype=np.int64)
    k = len(classes)
    probs = class_probabilities(probs, k)
    y_pred = probs.argmax(axis=1)
    labels = list(range(k))
    p, r, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    present = [c for c in labels if (y_true == c).any()]
    roc: list[dict[str, Any]] = []
    auc = math.nan
    if len(present) >= 2 and len(y_true):
        try:
            if k == 2:
                auc = roc_auc_score(y_true, probs[:, 1])
            else:
                norm = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)
                auc = roc_auc_score(y_true, norm, multi_class="ovr", average="macro",
                                    labels=labels) if len(present) == k else math.nan
        except ValueError:
            auc = math.nan
        for c in (present if k > 2 else [1]):
            fpr, tpr, _ = roc_curve(y_true == c, probs[:, c])
            roc.append({"class": classes[c], "fpr": _thin(fpr), "tpr": _thin(tpr)})
    per_class = [{"class": classes[i], "precision": _f(p[i]), "recall": _f(r[i]),
                  "f1": _f(f1[i]), "support": int(support[i])} for i in labels]
    present_mask = support > 0
    n = len(y_true)
    return {
        "task": "classification",
        "classes": list(classes),
        "n": int(n),
        "accuracy": _f((y_pred == y_true).mean()) if n else math.nan,
        "macro_precision": _f(p[present_mask].mean()) if present_mask.any() else math.nan,
        "macro_recall": _f(r[present_mask].mean()) if present_mask.any() else math.nan,
        "macro_f1": _f(f1[present_mask].mean()) if present_mask.any() else math.nan,
        "weighted_f1": _f(np.average(f1, weights=support)) if support.sum() else math.nan,
        "roc_auc": _f(auc),
        "per_class": per_class,
        "confusion": confusion.astype(int).tolist(),
        "roc": roc,
    }


def _thin(values: np.ndarray, max_points: int = 200) -> list[float]:
    """At most ``max_points`` evenly spaced points of a curve (keeps the file small)."""
    if len(values) > max_points:
        idx = np.unique(np.linspace(0, len(values) - 1, max_points).round().astype(int))
        values = values[idx]
    return [float(v) for v in values]


def regression_report(y_true: np.ndarray, y_pred: np.ndarray,
                      max_points: int = 2000) -> dict[str, Any]:
    """MAE, RMSE and R² plus (a sample of) the predicted-vs-true points."""
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    y_true = np.asarray(y_true, dtype=np.float64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.float64).ravel()
    n = len(y_true)
    take = np.arange(n) if n <= max_points else np.linspace(0, n - 1, max_points).astype(int)
    return {
        "task": "regression",
        "n": int(n),
        "mae": _f(mean_absolute_error(y_true, y_pred)) if n else math.nan,
        "rmse": _f(math.sqrt(mean_squared_error(y_true, y_pred))) if n else math.nan,
        "r2": _f(r2_score(y_true, y_pred)) if n >= 2 else math.nan,
        "y_true": [float(v) for v in y_true[take]],
        "y_pred": [float(v) for v in y_pred[take]],
    }


SCALAR_KEYS = ("accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1",
               "roc_auc", "mae", "rmse", "r2")


def flat_metrics(split: str, reports: dict[str, dict[str, Any]]) -> dict[str, float]:
    """``{"test.accuracy": …}`` for one output, ``{"test.<output>.accuracy": …}`` for several."""
    out: dict[str, float] = {}
    single = len(reports) == 1
    for name, rep in reports.items():
        prefix = f"{split}." if single else f"{split}.{name}."
        for key in SCALAR_KEYS:
            if key in rep:
                out[prefix + key] = rep[key]
    return out
