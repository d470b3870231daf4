"""Evaluation: a model's metrics, curves and per-example results on the held-out splits.

:func:`evaluate_model` predicts the validation and test splits once and gives the flat metrics
(``metrics.json``), the detailed reports (``evaluation.json``: classification reports with
ROC, precision-recall and reliability curves, regression reports; numbers from scikit-learn)
and the per-example results (``predictions.csv``, written by :mod:`ftstudio.engine.examples`).

Everything returned is plain JSON-able Python (lists, floats), so it can be written to the
run folder and drawn by the window without TensorFlow. TensorFlow and Keras are imported by
:func:`evaluate_model` only (through the dataset pipeline and the heads' losses).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ftstudio.engine.data import CsvStream, is_streamed, iter_split_inputs
from ftstudio.engine.datasets import PreparedData, make_dataset
from ftstudio.engine.examples import (
    SplitOutputs,
    class_probabilities,
    examples_csv,
    row_label,
    row_numbers,
)
from ftstudio.engine.run_files import atomic_save

if TYPE_CHECKING:
    from ftstudio.spec import ExperimentSpec

__all__ = ["SCALAR_KEYS", "calibration", "class_probabilities", "classification_report",
           "evaluate_model", "evaluate_model_chunks", "flat_metrics", "outputs_by_name",
           "regression_report", "split_reports", "write_predictions"]


def _f(x: Any) -> float:
    """A float that JSON can hold (NaN stays NaN; the writer keeps it as NaN)."""
    return float(x)


def classification_report(y_true: Sequence[int] | np.ndarray, probs: np.ndarray,
                          classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class and macro precision/recall/F1, confusion matrix and curves.

    Args:
        y_true: class indices.
        probs: ``(n, k)`` class probabilities (or a sigmoid column for two classes).
        classes: class names in index order.

    Returns:
        A dict with ``accuracy``, ``macro_precision``, ``macro_recall``, ``macro_f1``,
        ``weighted_f1``, ``roc_auc`` and ``average_precision`` (NaN when undefined),
        ``per_class`` rows, ``confusion`` (rows = true class), ``roc`` and ``pr`` curves
        (the positive class for two classes, else one per class, one-vs-rest),
        ``calibration`` (reliability bins and the expected calibration error), ``classes``.
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
    ap, pr = _precision_recall(y_true, probs, classes)
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
        "average_precision": _f(ap),
        "per_class": per_class,
        "confusion": confusion.astype(int).tolist(),
        "roc": roc,
        "pr": pr,
        "calibration": calibration(y_true, probs),
    }


def _curve_classes(y_true: np.ndarray, k: int) -> list[int]:
    """The classes that get a curve: the positive class of two, else each class present."""
    present = [c for c in range(k) if (y_true == c).any()]
    if len(present) < 2:
        return []
    return [1] if k == 2 else present


def _roc(y_true: np.ndarray, probs: np.ndarray,
         classes: Sequence[str]) -> tuple[float, list[dict[str, Any]]]:
    """ROC AUC (macro one-vs-rest for several classes; NaN when undefined) and ROC curves."""
    from sklearn.metrics import roc_auc_score, roc_curve

    k = len(classes)
    labels = list(range(k))
    roc: list[dict[str, Any]] = []
    auc = math.nan
    curve_classes = _curve_classes(y_true, k)
    if not curve_classes:
        return auc, roc
    try:
        if k == 2:
            auc = roc_auc_score(y_true, probs[:, 1])
        elif len(curve_classes) == k:
            norm = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)
            auc = roc_auc_score(y_true, norm, multi_class="ovr", average="macro",
                                labels=labels)
    except ValueError:
        auc = math.nan
    for c in curve_classes:
        fpr, tpr, _ = roc_curve(y_true == c, probs[:, c])
        roc.append({"class": classes[c], "fpr": _thin(fpr), "tpr": _thin(tpr),
                    "auc": _f(roc_auc_score(y_true == c, probs[:, c]))})
    return auc, roc


def _precision_recall(y_true: np.ndarray, probs: np.ndarray,
                      classes: Sequence[str]) -> tuple[float, list[dict[str, Any]]]:
    """Average precision (of the positive class, or the macro mean one-vs-rest) and PR curves."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    curves: list[dict[str, Any]] = []
    for c in _curve_classes(y_true, len(classes)):
        precision, recall, _ = precision_recall_curve(y_true == c, probs[:, c])
        curves.append({"class": classes[c], "precision": _thin(precision),
                       "recall": _thin(recall), "prevalence": _f((y_true == c).mean()),
                       "ap": _f(average_precision_score(y_true == c, probs[:, c]))})
    ap = float(np.mean([c["ap"] for c in curves])) if curves else math.nan
    return ap, curves


def calibration(y_true: np.ndarray, probs: np.ndarray, bins: int = 10) -> dict[str, Any]:
    """The reliability curve of the top class: confidence vs accuracy in equal-width bins.

    Uses scikit-learn's ``calibration_curve`` on (predicted class is right, its probability);
    ``ece`` is the expected calibration error (the count-weighted gap between the two).
    """
    from sklearn.calibration import calibration_curve

    n = len(y_true)
    if n == 0:
        return {"confidence": [], "accuracy": [], "count": [], "ece": math.nan}
    confidence = np.clip(probs.max(axis=1), 0.0, 1.0)
    correct = (probs.argmax(axis=1) == y_true).astype(int)
    accuracy, mean_conf = calibration_curve(correct, confidence, n_bins=bins, strategy="uniform")
    # the bins as calibration_curve makes them, to know how many examples each one holds
    which = np.searchsorted(np.linspace(0.0, 1.0, bins + 1)[1:-1], confidence)
    used = np.bincount(which, minlength=bins)
    used = used[used > 0]
    ece = float(np.sum(used * np.abs(accuracy - mean_conf)) / n)
    return {"confidence": [float(v) for v in mean_conf], "accuracy": [float(v) for v in accuracy],
            "count": [int(v) for v in used], "ece": ece}


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
               "roc_auc", "average_precision", "mae", "rmse", "r2")


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
    """Evaluate on the validation and test splits (:func:`evaluate_model_chunks`, joined)."""
    metrics, evaluation, chunks = evaluate_model_chunks(model, prepared, backbone, spec, images)
    return metrics, evaluation, "".join(chunks)


def evaluate_model_chunks(model: Any, prepared: PreparedData, backbone: Any,
                          spec: ExperimentSpec, images: dict[str, np.ndarray] | None = None
                          ) -> tuple[dict[str, float], dict[str, Any], Iterator[str]]:
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
        ``evaluation.json`` and the per-example results of the test and validation splits
        (``predictions.csv``, see :mod:`ftstudio.engine.examples`) as text chunks, made as
        they are read (:func:`write_predictions`): a streamed CSV's rows are read back a
        chunk at a time, never all held.
    """
    images = images or {}
    names = [o.name for o in spec.head.outputs]
    metrics: dict[str, float] = {}
    evaluation: dict[str, Any] = {"splits": {}}
    parts: list[SplitOutputs] = []
    numbers = row_numbers(prepared.data, spec)
    t = spec.training
    for split in ("test", "val"):
        idx = prepared.splits[split]
        if len(idx) == 0:
            continue
        ds_x = make_dataset(prepared, backbone, split, t.batch_size, t.seed, False,
                            with_targets=False, images=images.get(split))
        outputs = outputs_by_name(model.predict(ds_x, verbose=0), names)
        reports = split_reports(prepared, spec, split, outputs)
        metrics.update(flat_metrics(split, reports))
        metrics[f"{split}.loss"] = _split_loss(prepared, spec, split, outputs)
        evaluation["splits"][split] = {"n": int(len(idx)), "outputs": reports}
        parts.append(SplitOutputs(split, idx, numbers[idx], outputs))
    evaluation["outputs"] = [{"name": o.name, "task": o.task,
                              "label_column": prepared.output_columns[o.name]}
                             for o in spec.head.outputs]
    evaluation["row_label"] = row_label(prepared.data.modality)
    predictions = _examples_chunks(prepared, spec, parts)
    return {k: round(float(v), 6) for k, v in metrics.items()}, evaluation, predictions


def write_predictions(path: Path, chunks: Iterable[str]) -> None:
    """Write ``predictions.csv`` (text chunks) atomically, one chunk at a time."""
    def write(tmp: Path) -> None:
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            for chunk in chunks:
                fh.write(chunk)

    atomic_save(path, write)


def _examples_chunks(prepared: PreparedData, spec: ExperimentSpec,
                     parts: list[SplitOutputs]) -> Iterator[str]:
    """``predictions.csv`` in chunks; a streamed CSV's inputs are read back chunk by chunk."""
    data, columns = prepared.data, prepared.output_columns
    if not (is_streamed(data) and isinstance(data.stream, CsvStream)):
        yield examples_csv(data, spec, columns, parts)
        return
    header = examples_csv(data, spec, columns, [])
    yield header
    for part in parts:
        begin = 0
        for x in iter_split_inputs(data, part.idx):
            end = begin + len(x)
            chunk = dataclasses.replace(data, inputs=x, targets={
                c: data.targets[c][part.idx[begin:end]] for c in columns.values()})
            outputs = {k: v[begin:end] for k, v in part.outputs.items()}
            yield examples_csv(chunk, spec, columns, [SplitOutputs(
                part.split, np.arange(len(x)), part.rows[begin:end], outputs)])[len(header):]
            begin = end


def split_reports(prepared: PreparedData, spec: ExperimentSpec, split: str,
                  outputs: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """The classification or regression report of each output on ``split``.

    Args:
        prepared: the data and its split.
        spec: the experiment (its outputs).
        split: ``"val"`` or ``"test"``.
        outputs: class probabilities or values per output name, in split order.
    """
    reports: dict[str, dict[str, Any]] = {}
    for o in spec.head.outputs:
        col = prepared.output_columns[o.name]
        y = prepared.targets(o.name, split)
        if o.task == "classification":
            reports[o.name] = classification_report(y, outputs[o.name],
                                                    prepared.data.classes[col])
        else:
            reports[o.name] = regression_report(y, outputs[o.name])
    return reports


def _split_loss(prepared: PreparedData, spec: ExperimentSpec, split: str,
                outputs: dict[str, np.ndarray]) -> float:
    """The loss of a split from its predictions (one pass over the split, not two).

    Like Keras' ``val_loss`` it is the weighted sum of the output losses, without the
    regularisation penalties.
    """
    from ftstudio.engine.heads import loss_and_metrics

    loss_fns, loss_weights, _ = loss_and_metrics(spec, prepared.output_sizes)
    return sum(loss_weights[o.name] * float(loss_fns[o.name](prepared.targets(o.name, split),
                                                             outputs[o.name]))
               for o in spec.head.outputs)
