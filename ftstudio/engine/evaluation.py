"""Evaluation: a model's metrics and per-example results on the held-out splits.

:func:`evaluate_model` predicts the validation and test splits once and gives the flat metrics
(``metrics.json``), the detailed reports (``evaluation.json``: classification and regression
reports from scikit-learn) and the test split's per-example predictions (``predictions.csv``).

Everything returned is plain JSON-able Python (lists, floats), so it can be written to the
run folder and drawn by the window without TensorFlow. TensorFlow and Keras are imported by
:func:`evaluate_model` only (through the dataset pipeline and the heads' losses).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ftstudio.engine.datasets import PreparedData, make_dataset

if TYPE_CHECKING:
    from ftstudio.spec import ExperimentSpec


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
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true = np.asarray(y_true, dtype=np.int64)
    k = len(classes)
    probs = class_probabilities(probs, k)
    y_pred = probs.argmax(axis=1)
    labels = list(range(k))
    p, r, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0)
    confusion = confusion_matrix(y_true, y_pred, labels=labels)
    auc, roc = _roc(y_true, probs, classes)
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


def _roc(y_true: np.ndarray, probs: np.ndarray,
         classes: Sequence[str]) -> tuple[float, list[dict[str, Any]]]:
    """ROC AUC (macro one-vs-rest for several classes; NaN when undefined) and ROC curves."""
    from sklearn.metrics import roc_auc_score, roc_curve

    k = len(classes)
    labels = list(range(k))
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
    return auc, roc


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


# ------------------------------------------------------------------ a model on its splits
def outputs_by_name(outputs: Any, names: list[str]) -> dict[str, np.ndarray]:
    """A model's predictions as ``{output name: array}`` (from a dict, list or one array)."""
    if isinstance(outputs, dict):
        return {k: np.asarray(v) for k, v in outputs.items()}
    if isinstance(outputs, (list, tuple)):
        return {n: np.asarray(v) for n, v in zip(names, outputs, strict=False)}
    return {names[0]: np.asarray(outputs)}


def evaluate_model(model: Any, prepared: PreparedData, backbone: Any, spec: ExperimentSpec,
                   images: dict[str, np.ndarray] | None = None
                   ) -> tuple[dict[str, float], dict[str, Any], str]:
    """Evaluate on the validation and test splits.

    Args:
        model: the trained model (outputs keyed by ``OutputSpec.name``).
        prepared: the data and its split.
        backbone: the backbone (or a saved run's stand-in) the data pipeline needs.
        spec: the experiment.
        images: already decoded images per split (image data), to decode them only once.

    Returns:
        ``(metrics, evaluation, predictions_csv)``: flat metrics for ``metrics.json``
        (``test.accuracy``, ``test.loss``, ``val.macro_f1``, …), the detailed reports for
        ``evaluation.json`` and the test split's per-example predictions as CSV text.
    """
    from ftstudio.engine.heads import loss_and_metrics

    loss_fns, loss_weights, _ = loss_and_metrics(spec, prepared.output_sizes)
    images = images or {}
    names = [o.name for o in spec.head.outputs]
    metrics: dict[str, float] = {}
    evaluation: dict[str, Any] = {"splits": {}}
    predictions = ""
    t = spec.training
    for split in ("val", "test"):
        idx = prepared.splits[split]
        if len(idx) == 0:
            continue
        ds_x = make_dataset(prepared, backbone, split, t.batch_size, t.seed, False,
                            with_targets=False, images=images.get(split))
        outputs = outputs_by_name(model.predict(ds_x, verbose=0), names)
        reports: dict[str, dict[str, Any]] = {}
        for o in spec.head.outputs:
            col = prepared.output_columns[o.name]
            y = prepared.targets(o.name, split)
            if o.task == "classification":
                reports[o.name] = classification_report(y, outputs[o.name],
                                                        prepared.data.classes[col])
            else:
                reports[o.name] = regression_report(y, outputs[o.name])
        metrics.update(flat_metrics(split, reports))
        # The loss from the same predictions (one pass over the split, not two); like
        # Keras' val_loss it is the weighted sum of the output losses, without the
        # regularisation penalties.
        metrics[f"{split}.loss"] = sum(
            loss_weights[o.name] * float(loss_fns[o.name](prepared.targets(o.name, split),
                                                          outputs[o.name]))
            for o in spec.head.outputs)
        evaluation["splits"][split] = {"n": int(len(idx)), "outputs": reports}
        if split == "test":
            predictions = _predictions_csv(prepared, spec, idx, outputs)
    evaluation["outputs"] = [{"name": o.name, "task": o.task,
                              "label_column": prepared.output_columns[o.name]}
                             for o in spec.head.outputs]
    return {k: round(float(v), 6) for k, v in metrics.items()}, evaluation, predictions


def _predictions_csv(prepared: PreparedData, spec: ExperimentSpec, idx: np.ndarray,
                     outputs: dict[str, np.ndarray]) -> str:
    """Per-example test predictions (the base of error analysis)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    header = ["row_id"]
    for o in spec.head.outputs:
        header += [f"{o.name}.true", f"{o.name}.pred"] + (
            [f"{o.name}.confidence"] if o.task == "classification" else [])
    writer.writerow(header)
    cols: dict[str, tuple[list[Any], ...]] = {}
    for o in spec.head.outputs:
        col = prepared.output_columns[o.name]
        y = prepared.data.targets[col][idx]
        if o.task == "classification":
            classes = prepared.data.classes[col]
            probs = class_probabilities(outputs[o.name], len(classes))
            pred = probs.argmax(axis=1)
            cols[o.name] = ([classes[i] for i in y], [classes[i] for i in pred],
                            [f"{p:.4f}" for p in probs.max(axis=1)])
        else:
            cols[o.name] = ([f"{v:.6g}" for v in y],
                            [f"{v:.6g}" for v in np.asarray(outputs[o.name]).ravel()])
    for j, row_id in enumerate(prepared.data.row_ids[idx]):
        row: list[Any] = [int(row_id)]
        for o in spec.head.outputs:
            row += [c[j] for c in cols[o.name]]
        writer.writerow(row)
    return buf.getvalue()
