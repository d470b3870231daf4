"""A spec's CSV file becomes :class:`LoadedData`.

Input and label columns are checked, rows with empty cells dropped (with a warning) and labels
encoded by their output's task.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ftstudio.engine.data.labels import (
    LoadedData,
    encode_classes,
    label_tasks,
    listing,
    plural,
)
from ftstudio.engine.data.tables import read_table
from ftstudio.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from ftstudio.spec import ExperimentSpec


def load_csv(spec: ExperimentSpec, modality: Literal["text", "tabular"]) -> LoadedData:
    """Load the CSV file of ``spec.data`` as text or tabular data.

    Args:
        spec: the experiment; ``spec.data`` and ``spec.head.outputs`` are read.
        modality: ``"text"`` (one text column) or ``"tabular"`` (numeric feature columns).

    Returns:
        The loaded data, with its warnings (dropped rows, encoding fallback, imbalance …).

    Raises:
        DataError: a column is missing or used twice, no row is usable, a value is not a number.
    """
    d = spec.data
    path = Path(str(d.path)).expanduser()
    name = path.name
    frame, warns = read_table(path, d.encoding, d.delimiter)
    tasks = label_tasks(spec)
    inputs_cols = _input_columns(spec, modality, [str(c) for c in frame.columns], tasks, name)
    frame = _drop_empty_rows(frame, inputs_cols, tasks, modality, name, warns)

    lines = frame.index.to_numpy().astype(np.int64)
    header_line = int(frame.attrs.get("header_line", 1))
    if modality == "text":
        inputs = np.array([str(v) for v in frame[inputs_cols[0]]], dtype=object)
        feature_names: list[str] = []
        _warn_huge_texts(inputs, lines, inputs_cols[0], name, warns)
    else:
        matrix = [_to_numbers(frame[c], c, lines, "a feature column", name) for c in inputs_cols]
        inputs = np.stack(matrix, axis=1).astype(np.float32)
        feature_names = inputs_cols

    targets: dict[str, np.ndarray] = {}
    classes: dict[str, list[str]] = {}
    for col, task in tasks.items():
        if task == "regression":
            targets[col] = _to_numbers(frame[col], col, lines, "a regression label",
                                       name).astype(np.float32)
        else:
            labels = [_label_text(v) for v in frame[col]]
            targets[col], classes[col] = encode_classes(
                labels, col, "row", "remove those rows", warns)
    return LoadedData(modality=modality, inputs=inputs, feature_names=feature_names,
                      targets=targets, classes=classes, row_ids=lines - header_line,
                      warnings=warns, source=str(path))


HUGE_TEXT_CHARS = 1_000_000
"""A text longer than this is absurd as a model input (models read a few hundred tokens)."""


def _warn_huge_texts(texts: np.ndarray, lines: np.ndarray, column: str, name: str,
                     warns: list[str]) -> None:
    """Warn about absurdly long text fields: they cost memory and teach nothing."""
    sizes = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    huge = np.flatnonzero(sizes > HUGE_TEXT_CHARS)
    if not len(huge):
        return
    biggest = int(huge[np.argmax(sizes[huge])])
    warns.append(huge_text_warning(len(huge), column, name, int(lines[biggest]),
                                   int(sizes[biggest])))


def huge_text_warning(count: int, column: str, name: str, line: int, size: int) -> str:
    """The warning about ``count`` texts over :data:`HUGE_TEXT_CHARS` (the longest at ``line``)."""
    return (f"{plural(count, 'text')} in '{column}' of {name} "
            f"{'is' if count == 1 else 'are'} over {HUGE_TEXT_CHARS:,} characters "
            f"(the longest, line {line}, has {size:,}); a model "
            f"reads only its first few hundred tokens, so the rest only costs memory "
            f"(about twice its size while training): shorten or split such fields.")


def _input_columns(spec: ExperimentSpec, modality: str, columns: list[str],
                   tasks: dict[str, str], name: str) -> list[str]:
    """The input columns the spec names, checked against the file's columns and the labels."""
    d = spec.data
    if modality == "text":
        assert d.text_column is not None
        inputs_cols = [d.text_column]
        _require_column(d.text_column, columns, name, "data.text_column")
    else:
        if not d.feature_columns:
            raise DataError("no input columns; set data.text_column (text) or "
                            "data.feature_columns (numbers)")
        inputs_cols = list(d.feature_columns)
        for col in inputs_cols:
            _require_column(col, columns, name, "data.feature_columns")
        if len(set(inputs_cols)) != len(inputs_cols):
            dup = sorted({c for c in inputs_cols if inputs_cols.count(c) > 1})
            raise DataError(f"data.feature_columns lists {', '.join(map(repr, dup))} twice; "
                            f"list each column once")
    for col in tasks:
        _require_column(col, columns, name, "label column")
        if col in inputs_cols:
            raise DataError(f"'{col}' is both an input and a label column; a model cannot "
                            f"learn a label from itself, so remove it from the inputs")
    return inputs_cols


def _drop_empty_rows(frame: pd.DataFrame, inputs_cols: list[str], tasks: dict[str, str],
                     modality: str, name: str, warns: list[str]) -> pd.DataFrame:
    """Drop rows with missing labels, then missing inputs, counting each reason once."""
    what = "text" if modality == "text" else "value"
    for col, kind in [*((c, None) for c in tasks), *((c, what) for c in inputs_cols)]:
        empty = _is_empty(frame[col])
        if empty.any():
            lines = frame.index.to_numpy()[empty]
            warns.append(dropped_warning(lines, col, kind, frame[col].dtype.kind == "f"))
            frame = frame.loc[~empty]
    if len(frame) == 0:
        raise no_usable_rows(name, [*inputs_cols, *tasks])
    return frame


def dropped_warning(lines: np.ndarray, column: str, what: str | None, numeric: bool) -> str:
    """The warning about rows dropped for an empty cell of ``column``.

    Args:
        lines: the file lines of the dropped rows.
        column: the column.
        what: ``text`` or ``value`` for an input column, ``None`` for a label column.
        numeric: a number column (its empty cells may be missing or infinite).
    """
    why = "missing or infinite; " if numeric else ""
    where = f"an empty '{column}' label" if what is None else f"an empty {what} in '{column}'"
    return f"Dropped {plural(len(lines), 'row')} with {where} ({why}{_lines_of(lines)})."


def no_usable_rows(name: str, columns: list[str]) -> DataError:
    """The error for a file none of whose rows has every column filled in."""
    return DataError(f"{name} has no usable rows: every row lacks a label or an input; "
                     f"fill in columns {', '.join(map(repr, columns))}")


def non_numeric(column: str, what: str, value: Any, line: int, name: str) -> DataError:
    """The error for a cell that should hold a number and does not."""
    return DataError(f"column '{column}' ({what}) has a non-numeric value '{value}' at line "
                     f"{line} of {name}; it must hold numbers only")


def _require_column(column: str, columns: list[str], name: str, key: str) -> None:
    """Raise a DataError naming the columns there are (and a close match) if one is missing."""
    if column in columns:
        return
    lower = {c.lower(): c for c in columns}
    match = lower.get(column.strip().lower())
    if match is None:
        close = difflib.get_close_matches(column, columns, n=1, cutoff=0.6)
        match = close[0] if close else None
    hint = f" (did you mean '{match}'?)" if match else ""
    there = ", ".join(f"'{c}'" for c in columns)
    raise DataError(f"column '{column}' ({key}) is not in {name}{hint}; its columns are: {there}")


def _is_empty(values: pd.Series) -> np.ndarray:
    """Mark the cells that hold no usable value: the one rule for every column.

    Missing cells (empty, ``NaN``, ``NA``, ``null``…) and, in number columns, infinite ones
    (``inf``) count as empty; text cells that are only whitespace too.
    """
    missing = values.isna().to_numpy()
    if values.dtype.kind == "f":
        return ~np.isfinite(values.to_numpy(dtype=np.float64))
    if values.dtype.kind in "biu":
        return missing
    text = values.astype(object).where(~missing, "")
    return missing | np.array([not str(v).strip() for v in text], dtype=bool)


def _label_text(value: Any) -> str:
    """Turn a cell into a class name: ints stay ints (``1.0`` -> ``"1"``), text is stripped."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value).strip()


def _lines_of(lines: np.ndarray) -> str:
    return f"line {lines[0]}" if len(lines) == 1 else f"lines {listing(list(lines))}"


def _to_numbers(values: pd.Series, column: str, lines: np.ndarray, what: str,
                name: str) -> np.ndarray:
    """Convert a column to float64 or raise naming the column, a bad value and its line."""
    import pandas as pd

    if values.dtype.kind in "biuf":
        arr = values.to_numpy(dtype=np.float64)
    else:
        as_text = values.astype(object)
        arr = pd.to_numeric(as_text.map(lambda v: str(v).strip()), errors="coerce").to_numpy(
            dtype=np.float64)
        bad = np.flatnonzero(np.isnan(arr))
        if len(bad):
            i = bad[0]
            raise non_numeric(column, what, as_text.iloc[i], int(lines[i]), name)
    inf = np.flatnonzero(~np.isfinite(arr))
    if len(inf):  # the rows were dropped before; a guard for callers that did not
        raise DataError(f"column '{column}' ({what}) has an empty value (missing or infinite) "
                        f"at line {lines[inf[0]]} of {name}; it must hold finite numbers")
    return arr


