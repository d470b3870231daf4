"""Per-example results: every validation and test example with its prediction and loss.

:func:`examples_csv` writes ``predictions.csv`` of a run folder; :func:`parse_examples` reads
its columns back (the window's error analysis and the HTML report use it). One row per
example of the validation and test splits:

==================  ===========================================================================
column              meaning
==================  ===========================================================================
``split``           ``test`` or ``val``
``row``             where the example is in the data, the number a user sees: CSV files: the
                    line in the file (the header is line 1, so the first data row is 2, as in
                    a spreadsheet); image folders: the image's number from 1 (class folders by
                    name, then files by name; unreadable images are skipped and get none)
``input``           text: the text; images: the image file's path
``input.<feature>`` tabular data: each feature's value (instead of ``input``)
``<out>.true``      the true class name (classification) or value (regression)
``<out>.pred``      the predicted class name or value
``<out>.confidence``classification: the probability of the predicted class
``<out>.error``     regression: predicted minus true value (the residual)
``<out>.loss``      the example's loss: cross-entropy ``-log p(true class)`` (probabilities
                    clipped at 1e-7, as Keras does) or the squared error (regression); their
                    mean over a split is the split's loss of that output
``<out>.p.<class>`` classification: the probability of each class, in class index order
==================  ===========================================================================

Test rows come first, then validation rows, each in data order. Standard library and numpy.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ftstudio.engine.data import LoadedData
    from ftstudio.spec import ExperimentSpec

__all__ = ["EPSILON", "ExampleColumns", "SplitOutputs", "class_probabilities", "example_losses",
           "examples_csv", "parse_examples", "row_label", "row_numbers", "to_float"]

EPSILON = 1e-7
"""Probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` for the loss, as Keras clips them."""


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


# ------------------------------------------------------------------ row numbers
def row_label(modality: str) -> str:
    """What the ``row`` column counts, in the words the window shows."""
    return "image number" if modality == "image" else "line in the file"


def row_numbers(data: LoadedData, spec: ExperimentSpec) -> np.ndarray:
    """The number of each example as the user sees it (see the module docstring).

    CSV data: ``LoadedData.row_ids`` count data lines from 1 after the header, so the file
    line is that plus the header's line (read off the file's first rows, as the Data page
    previews it). Image folders: the loader's index plus one.
    """
    ids = np.asarray(data.row_ids, dtype=np.int64)
    if data.modality == "image":
        return ids + 1
    from ftstudio.engine.data import preview_table
    from ftstudio.errors import DataError

    header_line = 1
    try:
        frame, _ = preview_table(data.source, max_rows=1, encoding=spec.data.encoding,
                                 delimiter=spec.data.delimiter)
        header_line = int(frame.attrs.get("header_line", 1))
    except (DataError, OSError):
        pass  # the file changed since it was loaded: the usual header line
    return ids + header_line


# ------------------------------------------------------------------ losses
def example_losses(task: str, y_true: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Each example's loss: cross-entropy of the true class, or the squared error.

    Args:
        task: ``classification`` or ``regression``.
        y_true: class indices or values.
        outputs: ``(n, k)`` class probabilities (``(n, 1)`` sigmoid outputs are read as
            ``[1 - p, p]``) or predicted values.
    """
    if task == "classification":
        y = np.asarray(y_true, dtype=np.int64)
        probs = class_probabilities(outputs, max(2, int(np.asarray(outputs).shape[-1])))
        picked = probs[np.arange(len(y)), y] if len(y) else np.zeros(0)
        return -np.log(np.clip(picked, EPSILON, 1.0 - EPSILON))
    pred = np.asarray(outputs, dtype=np.float64).reshape(len(y_true), -1)[:, 0]
    return (pred - np.asarray(y_true, dtype=np.float64)) ** 2


# ------------------------------------------------------------------ writing
@dataclass
class SplitOutputs:
    """One split's examples: positions into the data, row numbers and model outputs."""

    split: str
    idx: np.ndarray
    rows: np.ndarray
    outputs: dict[str, np.ndarray]


def examples_csv(data: LoadedData, spec: ExperimentSpec, output_columns: dict[str, str],
                 parts: list[SplitOutputs]) -> str:
    """``predictions.csv``: one row per example of ``parts`` (see the module docstring)."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    tabular = data.modality == "tabular"
    header = ["split", "row"]
    header += [f"input.{f}" for f in data.feature_names] if tabular else ["input"]
    for o in spec.head.outputs:
        header += [f"{o.name}.true", f"{o.name}.pred"]
        if o.task == "classification":
            classes = data.classes[output_columns[o.name]]
            header += [f"{o.name}.confidence", f"{o.name}.loss"]
            header += [f"{o.name}.p.{c}" for c in classes]
        else:
            header += [f"{o.name}.error", f"{o.name}.loss"]
    writer.writerow(header)
    for part in parts:
        columns = [_input_cells(data, part.idx)]
        for o in spec.head.outputs:
            col = output_columns[o.name]
            y = data.targets[col][part.idx]
            if o.task == "classification":
                columns.append(_class_cells(y, part.outputs[o.name], data.classes[col]))
            else:
                columns.append(_value_cells(y, part.outputs[o.name]))
        for j, row in enumerate(part.rows):
            cells: list[Any] = [part.split, int(row)]
            for column in columns:
                cells += column[j]
            writer.writerow(cells)
    return buf.getvalue()


def _input_cells(data: LoadedData, idx: np.ndarray) -> list[list[str]]:
    inputs = np.asarray(data.inputs)[idx]
    if data.modality == "tabular":
        return [[f"{v:.6g}" for v in row] for row in inputs]
    return [[str(v)] for v in inputs]


def _class_cells(y: np.ndarray, outputs: np.ndarray, classes: list[str]) -> list[list[str]]:
    probs = class_probabilities(outputs, len(classes))
    pred = probs.argmax(axis=1)
    losses = example_losses("classification", y, probs)
    return [[classes[int(t)], classes[int(p)], f"{pr[p]:.4f}", f"{loss:.5g}"]
            + [f"{v:.4f}" for v in pr]
            for t, p, pr, loss in zip(y, pred, probs, losses, strict=True)]


def _value_cells(y: np.ndarray, outputs: np.ndarray) -> list[list[str]]:
    pred = np.asarray(outputs, dtype=np.float64).reshape(len(y), -1)[:, 0]
    losses = example_losses("regression", y, pred)
    return [[f"{t:.6g}", f"{p:.6g}", f"{p - t:.6g}", f"{loss:.6g}"]
            for t, p, loss in zip(y, pred, losses, strict=True)]


# ------------------------------------------------------------------ reading
@dataclass
class ExampleColumns:
    """Where one output's values are in a ``predictions.csv`` header.

    Attributes:
        name: the output's name.
        task: ``classification`` (it has ``<out>.p.<class>`` columns) or ``regression``.
        true: the column of the true label; ``pred``, ``loss``, ``confidence`` and
            ``error`` likewise (-1 when the file lacks it: runs older than these columns).
        classes: class names in index order (classification).
        probabilities: the column of each class's probability.
    """

    name: str
    task: str
    true: int
    pred: int
    loss: int = -1
    confidence: int = -1
    error: int = -1
    classes: list[str] = field(default_factory=list)
    probabilities: list[int] = field(default_factory=list)


def parse_examples(header: list[str]) -> tuple[dict[str, int], list[ExampleColumns]]:
    """Find the input columns and each output's columns in a ``predictions.csv`` header.

    Returns:
        ``({"split": i, "row": j, "input": k, "input.<feature>": …}, outputs)``; a column the
        file lacks is left out of the first dict (older runs have ``row_id`` instead of
        ``row`` and no ``split``, which means the test split).
    """
    where = {name: i for i, name in enumerate(header)}
    inputs = {k: v for k, v in where.items()
              if k in ("split", "row", "row_id", "input") or k.startswith("input.")}
    outputs: list[ExampleColumns] = []
    for name in header:
        if not name.endswith(".true"):
            continue
        out = name[:-len(".true")]
        prefix = f"{out}.p."
        probs = [(h[len(prefix):], i) for i, h in enumerate(header) if h.startswith(prefix)]
        task = "classification" if probs or f"{out}.confidence" in where else "regression"
        outputs.append(ExampleColumns(
            out, task, where[name], where.get(f"{out}.pred", -1), where.get(f"{out}.loss", -1),
            where.get(f"{out}.confidence", -1), where.get(f"{out}.error", -1),
            [c for c, _ in probs], [i for _, i in probs]))
    return inputs, outputs


def to_float(text: str) -> float:
    """A cell as a float (NaN when empty or not a number)."""
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan
