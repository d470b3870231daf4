"""Data loading and splits: CSV files and image folders become validated arrays.

The engine's single entry point for user data. :func:`load_data` turns the ``data`` section of
an :class:`~ftstudio.spec.ExperimentSpec` into a :class:`LoadedData` (inputs, encoded targets,
class names, row ids, warnings); :func:`split_indices` makes the seeded, stratified
train / validation / test split; :func:`load_images` decodes image files into a uint8 batch.

Everything the user can get wrong (a missing column, a wrong delimiter, an odd encoding, empty
labels, a class with one example, corrupt images …) ends in a one-sentence
:class:`~ftstudio.errors.DataError` or a warning in :attr:`LoadedData.warnings`.

Line numbers in messages are *file* line numbers as a text editor shows them (the header is
line 1). ``LoadedData.row_ids`` count data lines instead (1 = the first line after the header).

No TensorFlow here. pandas, scikit-learn and Pillow are imported inside the functions that
need them, so importing this module costs only numpy.

Example:
    >>> spec = ExperimentSpec.from_dict({"data": {"path": "reviews.csv", "text_column": "text",
    ...                                           "label_column": "label"}})
    >>> data = load_data(spec)                                   # doctest: +SKIP
    >>> parts = split_indices(len(data.inputs), data.targets["label"], spec.data.split, 42)
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
import warnings as _warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ftstudio.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from ftstudio.engine.reporting import Reporter
    from ftstudio.spec import ExperimentSpec

__all__ = [
    "IMAGE_EXTENSIONS",
    "LoadedData",
    "class_counts",
    "load_data",
    "load_images",
    "preview_table",
    "read_table",
    "split_indices",
]

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
"""File suffixes (lower case) taken from image folders."""

_FALLBACK_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_SNIFF_CHARS = 8192
_DELIMITERS = ",;\t|"
_RAGGED_LIMIT = 0.2
_IMBALANCE_RATIO = 10.0
_MAX_LISTED = 10
_PREVIEW_BYTES = 2 * 1024 * 1024
_INT_RE = re.compile(r"[+-]?\d{1,18}")


@dataclass
class LoadedData:
    """A data set ready for splitting and training.

    Attributes:
        modality: ``"text"``, ``"image"`` or ``"tabular"``.
        inputs: text: object array of ``str``; tabular: float32 ``(n, f)``; image: object
            array of absolute file paths.
        feature_names: tabular: the feature columns in ``inputs`` order; else ``[]``.
        targets: label column -> int64 class index (classification) or float32 (regression).
        classes: label column -> class names in index order (classification columns only,
            in the order of ``spec.label_columns()``; the first key is the one to stratify on).
        row_ids: int64; CSV data line number (1 = first line after the header) or image index.
        warnings: dropped rows, encoding fallback, corrupt images, imbalance …
        source: the CSV path or image folder.
    """

    modality: Literal["text", "image", "tabular"]
    inputs: np.ndarray
    feature_names: list[str]
    targets: dict[str, np.ndarray]
    classes: dict[str, list[str]]
    row_ids: np.ndarray
    warnings: list[str] = field(default_factory=list)
    source: str = ""


# ===================================================================== small helpers
def _listing(items: Sequence[Any], limit: int = _MAX_LISTED) -> str:
    """``1, 2, 3`` or ``1, 2, … and 5 more`` for long lists."""
    shown = ", ".join(str(x) for x in items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tab", " ": "space"}.get(delimiter, f"'{delimiter}'")


def _check_file(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"data file not found: {p}; check data.path")
    if p.is_dir():
        raise DataError(f"{p} is a folder, not a CSV file; set data.path to a CSV file "
                        f"(or use data.image_dir for a folder of images)")
    return p


def _read_bytes(p: Path, limit: int | None = None) -> tuple[bytes, bool]:
    """Return the file's bytes (at most ``limit``) and whether they were cut short."""
    try:
        with p.open("rb") as fh:
            raw = fh.read() if limit is None else fh.read(limit + 1)
    except OSError as exc:
        raise DataError(f"cannot read {p}: {exc.strerror or exc}") from None
    if limit is not None and len(raw) > limit:
        raw = raw[:limit]
        cut = raw.rfind(b"\n")
        return (raw[:cut + 1] if cut > 0 else raw), True
    return raw, False


def _decode(raw: bytes, encoding: str | None, name: str,
            truncated: bool = False) -> tuple[str, list[str]]:
    """Decode CSV bytes, trying UTF-8 then legacy encodings when none is given."""
    if encoding:
        enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        try:
            return raw.decode(enc), []
        except LookupError:
            raise DataError(f"unknown encoding '{encoding}' in data.encoding; use e.g. "
                            f"'utf-8', 'cp1252' or 'latin-1', or leave it empty") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{name} cannot be read as {encoding} (bad byte at position "
                            f"{exc.start}); set the right data.encoding or leave it empty to "
                            f"detect it") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        errors = "replace" if truncated else "strict"
        if truncated and len(raw) % 2:
            raw = raw[:-1]
        try:
            return raw.decode("utf-16", errors=errors), [f"{name} is not UTF-8; read it as "
                                                         f"UTF-16."]
        except UnicodeDecodeError:
            pass
    for enc in _FALLBACK_ENCODINGS:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "utf-8-sig":
            return text, []
        return text, [f"{name} is not UTF-8; read it as {enc} (set data.encoding if the "
                      f"text looks wrong)."]
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _sniff(text: str) -> str:
    """Guess the delimiter from the first few KB, checked against the header; default ','."""
    sample = text[:_SNIFF_CHARS]
    if len(text) > _SNIFF_CHARS and "\n" in sample:
        sample = sample[:sample.rfind("\n")]
    header = next((line for line in sample.splitlines() if line.strip()), "")
    in_header = [d for d in _DELIMITERS if d in header]
    try:
        guess = csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        guess = None
    if guess and (guess in header or not in_header):
        return guess
    if len(in_header) == 1:
        return in_header[0]
    if in_header:
        return max(in_header, key=header.count)
    return ","


@dataclass
class _Parsed:
    header: list[str]
    header_line: int
    records: list[list[str]]
    lines: list[int]
    ragged: list[int]
    unclosed_quote: int | None


def _parse(text: str, delimiter: str, name: str, max_rows: int | None = None) -> _Parsed:
    """Split CSV text into records with their starting file line numbers (1-based)."""
    if "\x00" in text[:_SNIFF_CHARS]:
        raise DataError(f"{name} does not look like a text CSV file (it holds binary data); "
                        f"save it as CSV first")
    if csv.field_size_limit() < 2**27:
        csv.field_size_limit(2**27)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"',
                        doublequote=True, skipinitialspace=False, strict=False)
    header: list[str] | None = None
    header_line = 0
    records: list[list[str]] = []
    lines: list[int] = []
    ragged: list[int] = []
    last_end = 0
    last: tuple[int, list[str]] | None = None
    try:
        for row in reader:
            start, last_end = last_end + 1, reader.line_num
            if not row or all(not f.strip() for f in row):
                continue
            if header is None:
                header, header_line = row, start
                continue
            last = (start, row)
            if len(row) != len(header):
                ragged.append(start)
                continue
            records.append(row)
            lines.append(start)
            if max_rows is not None and len(records) >= max_rows:
                break
    except csv.Error as exc:
        raise DataError(f"{name} cannot be parsed as CSV near line {last_end + 1}: "
                        f"{exc}") from None
    if header is None:
        raise DataError(f"{name} is empty: it has no header and no data rows")
    unclosed = None
    if (max_rows is None or len(records) < max_rows) and last is not None and ragged \
            and ragged[-1] == last[0] and any("\n" in f or "\r" in f for f in last[1]):
        tail = "".join(io.StringIO(text, newline="").readlines()[last[0] - 1:])
        if tail.count('"') % 2:
            unclosed = last[0]
    return _Parsed(_clean_header(header), header_line, records, lines, ragged, unclosed)


def _clean_header(header: list[str]) -> list[str]:
    """Strip names, name blank ones ``column_N`` and make duplicates unique (``a``, ``a.1``)."""
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(header):
        name = raw.strip() or f"column_{i + 1}"
        base = name
        while name in seen:
            seen[base] += 1
            name = f"{base}.{seen[base]}"
        seen.setdefault(name, 0)
        out.append(name)
    return out


_NA_TOKENS = frozenset({"", "nan", "na", "n/a", "null", "none"})


def _frame(parsed: _Parsed) -> pd.DataFrame:
    """Build a DataFrame (index = file line numbers) with numeric columns inferred.

    A column is numeric when every cell is a number or missing (empty, ``NaN``, ``NA``,
    ``null``, ``None``); it becomes int64 when all cells are plain integers, else float64.
    Other columns keep their text exactly, with ``None`` for empty cells.
    """
    import pandas as pd

    columns: dict[str, Any] = {}
    for j, name in enumerate(parsed.header):
        values = [row[j] for row in parsed.records]
        stripped = [v.strip() for v in values]
        missing = np.array([v.lower() in _NA_TOKENS for v in stripped], dtype=bool)
        numeric = False
        if len(values) and not missing.all():
            cells = pd.Series(stripped, dtype=object).where(~missing, None)
            numbers = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64)
            numeric = not (np.isnan(numbers) & ~missing).any()
        if not numeric:
            empty = [not v for v in stripped]
            columns[name] = [None if e else v for v, e in zip(values, empty, strict=True)]
        elif not missing.any() and all(_INT_RE.fullmatch(v) for v in stripped):
            columns[name] = numbers.astype(np.int64)
        else:
            columns[name] = numbers
    index = pd.Index(np.asarray(parsed.lines, dtype=np.int64), name="line")
    frame = pd.DataFrame(columns, index=index, columns=parsed.header)
    frame.attrs["header_line"] = parsed.header_line
    return frame


def _read(path: str | os.PathLike[str], encoding: str | None, delimiter: str | None,
          max_rows: int | None) -> tuple[pd.DataFrame, list[str]]:
    p = _check_file(path)
    name = p.name
    preview = max_rows is not None
    raw, truncated = _read_bytes(p, _PREVIEW_BYTES if preview else None)
    if not raw.strip():
        raise DataError(f"{name} is empty: it has no header and no data rows")
    text, warns = _decode(raw, encoding, name, truncated)
    if not text.strip():
        raise DataError(f"{name} is empty: it has no header and no data rows")
    delim = delimiter or _sniff(text)
    parsed = _parse(text, delim, name, max_rows)
    if parsed.unclosed_quote is not None:
        raise DataError(f"line {parsed.unclosed_quote} of {name} opens a quote (\") that is "
                        f"never closed, so the rest of the file reads as one field; fix the "
                        f"quoting there")
    if not parsed.records and not parsed.ragged:
        raise DataError(f"{name} is empty: it has a header but no data rows")
    if parsed.ragged:
        total = len(parsed.ragged) + len(parsed.records)
        share = len(parsed.ragged) / total
        if share > _RAGGED_LIMIT:
            msg = (f"{len(parsed.ragged)} of {total} rows in {name} do not have the header's "
                   f"{len(parsed.header)} fields (first at line {parsed.ragged[0]}), so the "
                   f"delimiter is probably not {_delimiter_name(delim)}; set data.delimiter")
            if not preview:
                raise DataError(msg)
            warns.append(msg + ".")
        else:
            warns.append(f"Skipped {_plural(len(parsed.ragged), 'row')} of {name} whose number "
                         f"of fields differs from the header's {len(parsed.header)} (lines "
                         f"{_listing(parsed.ragged)}).")
    return _frame(parsed), warns


# ===================================================================== tables
def read_table(path: str | os.PathLike[str], encoding: str | None = None,
               delimiter: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Read a CSV file into a DataFrame, tolerating the usual real-world problems.

    The encoding falls back from UTF-8 to cp1252 and latin-1 (with a warning), the delimiter
    is sniffed when not given, rows with the wrong number of fields are skipped (with a
    warning listing their line numbers), blank lines are ignored. Columns whose values are all
    numbers (or empty) become int64 / float64; others keep their text, empty cells are
    ``None`` / NaN.

    Args:
        path: the CSV file.
        encoding: the file's encoding; ``None`` detects it.
        delimiter: the field delimiter; ``None`` sniffs it (default ``","``).

    Returns:
        ``(frame, warnings)``. ``frame.index`` holds each row's file line number (the header
        is line 1, named ``"line"``); ``frame.attrs["header_line"]`` the header's.

    Raises:
        DataError: the file is missing, a folder, empty, binary, undecodable with the given
            encoding, has an unclosed quote, or more than 20 % of its rows are ragged.
    """
    return _read(path, encoding, delimiter, None)


def preview_table(path: str | os.PathLike[str], max_rows: int = 200,
                  encoding: str | None = None,
                  delimiter: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Read the first ``max_rows`` rows of a CSV file quickly, for the data page's preview.

    Like :func:`read_table` but reads at most the first 2 MB, and too many ragged rows give a
    warning (so the user can see the table and fix the delimiter) instead of an error.

    Args:
        path: the CSV file.
        max_rows: the most data rows returned.
        encoding: the file's encoding; ``None`` detects it.
        delimiter: the field delimiter; ``None`` sniffs it.

    Returns:
        ``(frame, warnings)`` as :func:`read_table` returns them.

    Raises:
        DataError: the file is missing, a folder, empty or unreadable.
    """
    return _read(path, encoding, delimiter, max(1, int(max_rows)))


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
    """Mark the cells that are NaN / None or only whitespace."""
    missing = values.isna().to_numpy()
    if values.dtype.kind in "biuf":
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
    return f"line {lines[0]}" if len(lines) == 1 else f"lines {_listing(list(lines))}"


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
            raise DataError(f"column '{column}' ({what}) has a non-numeric value "
                            f"'{as_text.iloc[i]}' at line {lines[i]} of {name}; it must hold "
                            f"numbers only")
    inf = np.flatnonzero(~np.isfinite(arr))
    if len(inf):
        raise DataError(f"column '{column}' ({what}) has an infinite or missing value at line "
                        f"{lines[inf[0]]} of {name}; it must hold finite numbers")
    return arr


def _label_tasks(spec: ExperimentSpec) -> dict[str, str]:
    """Label column -> task, in output order, each column once."""
    tasks: dict[str, str] = {}
    for output, column in zip(spec.head.outputs, spec.label_columns(), strict=True):
        if not column:
            raise DataError(f"output '{output.name}' has no label column; set "
                            f"data.label_column or its head.outputs label_column")
        if tasks.get(column, output.task) != output.task:
            raise DataError(f"label column '{column}' is used by a classification and a "
                            f"regression output; use one task per column")
        tasks[column] = output.task
    return tasks


def _encode_classes(labels: list[str], column: str, unit: str, remedy: str,
                    warns: list[str]) -> tuple[np.ndarray, list[str]]:
    """Encode class names (sorted as strings) and check there are enough of each."""
    names = sorted(set(labels))
    index = {c: i for i, c in enumerate(names)}
    codes = np.fromiter((index[v] for v in labels), dtype=np.int64, count=len(labels))
    counts = np.bincount(codes, minlength=len(names))
    _check_classes(dict(zip(names, counts.tolist(), strict=True)), column, unit, remedy, warns)
    return codes, names


def _check_classes(counts: dict[str, int], column: str, unit: str, remedy: str,
                   warns: list[str]) -> None:
    if len(counts) < 2:
        only = next(iter(counts), None)
        raise DataError(f"'{column}' has only one class, '{only}'; a classifier needs at least "
                        f"two classes")
    small = [(c, n) for c, n in counts.items() if n < 2]
    if small:
        listed = ", ".join(f"'{c}' ({_plural(n, unit)})" for c, n in small)
        one = len(small) == 1
        raise DataError(f"{'class' if one else 'classes'} {listed} of '{column}' "
                        f"{'has' if one else 'have'} fewer than 2 {unit}s; add examples of "
                        f"{'it' if one else 'them'} or {remedy}")
    big = max(counts, key=lambda c: counts[c])
    tiny = min(counts, key=lambda c: counts[c])
    if counts[big] > _IMBALANCE_RATIO * counts[tiny]:
        warns.append(f"Classes of '{column}' are imbalanced: '{big}' has {counts[big]} {unit}s "
                     f"but '{tiny}' only {counts[tiny]} ({counts[big] / counts[tiny]:.0f}x); "
                     f"consider training.class_weight = 'balanced'.")


# ===================================================================== load_data
def load_data(spec: ExperimentSpec, reporter: Reporter | None = None) -> LoadedData:
    """Load and validate the data an experiment spec points at.

    Text CSVs give an object array of strings, numeric CSVs a float32 matrix of the feature
    columns, image folders (one sub-folder per class) the absolute paths of every readable
    image. Each label column (``spec.label_columns()``) is encoded by its output's task:
    classification -> int64 indices into the sorted class names, regression -> float32.

    Args:
        spec: the experiment; only ``spec.data`` and ``spec.head.outputs`` are read.
        reporter: told ``status`` once and every warning; optional.

    Returns:
        The loaded data; its ``warnings`` are also sent to ``reporter.warning``.

    Raises:
        DataError: one clear sentence on what is wrong with the data and what to do.
    """
    d = spec.data
    modality = spec.modality
    if modality == "image":
        source = str(d.image_dir)
    elif d.path:
        source = str(d.path)
    else:
        raise DataError("no data given; set data.path (a CSV file) or data.image_dir "
                        "(a folder of class folders)")
    if reporter is not None:
        reporter.status(f"Loading data from {Path(source).name}…")
    if modality == "image":
        data = _load_image_folder(spec, reporter)
    else:
        data = _load_csv(spec, modality)
    if reporter is not None:
        for text in data.warnings:
            reporter.warning(text)
    return data


def _load_csv(spec: ExperimentSpec, modality: Literal["text", "tabular"]) -> LoadedData:
    d = spec.data
    path = Path(str(d.path)).expanduser()
    name = path.name
    frame, warns = read_table(path, d.encoding, d.delimiter)
    columns = [str(c) for c in frame.columns]
    tasks = _label_tasks(spec)
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

    # Drop rows with missing labels, then missing inputs, counting each reason once.
    for col in tasks:
        empty = _is_empty(frame[col])
        if empty.any():
            lines = frame.index.to_numpy()[empty]
            warns.append(f"Dropped {_plural(int(empty.sum()), 'row')} with an empty "
                         f"'{col}' label ({_lines_of(lines)}).")
            frame = frame.loc[~empty]
    for col in inputs_cols:
        empty = _is_empty(frame[col])
        if empty.any():
            lines = frame.index.to_numpy()[empty]
            what = "text" if modality == "text" else "value"
            warns.append(f"Dropped {_plural(int(empty.sum()), 'row')} with an empty {what} in "
                         f"'{col}' ({_lines_of(lines)}).")
            frame = frame.loc[~empty]
    if len(frame) == 0:
        raise DataError(f"{name} has no usable rows: every row lacks a label or an input; "
                        f"fill in columns {', '.join(map(repr, [*inputs_cols, *tasks]))}")

    lines = frame.index.to_numpy().astype(np.int64)
    header_line = int(frame.attrs.get("header_line", 1))
    if modality == "text":
        inputs = np.array([str(v) for v in frame[inputs_cols[0]]], dtype=object)
        feature_names: list[str] = []
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
            targets[col], classes[col] = _encode_classes(
                labels, col, "row", "remove those rows", warns)
    return LoadedData(modality=modality, inputs=inputs, feature_names=feature_names,
                      targets=targets, classes=classes, row_ids=lines - header_line,
                      warnings=warns, source=str(path))


def _is_hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


def _image_ok(path: Path) -> bool:
    """Return True when Pillow can verify and fully decode the file."""
    from PIL import Image

    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            with Image.open(path) as im:
                im.verify()
            with Image.open(path) as im:
                im.load()
        return True
    except Exception:  # noqa: BLE001 - any decoder failure means "skip this file"
        return False


def _load_image_folder(spec: ExperimentSpec, reporter: Reporter | None) -> LoadedData:
    d = spec.data
    root = Path(str(d.image_dir)).expanduser()
    if not root.exists():
        raise DataError(f"image folder not found: {root}; check data.image_dir")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; data.image_dir must be a folder with one "
                        f"sub-folder of images per class")
    tasks = _label_tasks(spec)
    for col, task in tasks.items():
        if task != "classification":
            raise DataError(f"label '{col}' is a regression output, but an image folder only "
                            f"gives class labels (its sub-folder names); use classification")
    class_dirs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                        key=lambda p: p.name)
    if not class_dirs:
        raise DataError(f"{root} has no class sub-folders; put the images of each class in a "
                        f"sub-folder named after the class (e.g. {root.name}/cat/1.png)")
    if len(class_dirs) < 2:
        raise DataError(f"{root} has only one class folder, '{class_dirs[0].name}'; a "
                        f"classifier needs at least two classes (one sub-folder each)")

    found: list[tuple[Path, int]] = []
    other = 0
    for k, cdir in enumerate(class_dirs):
        for dirpath, dirnames, filenames in os.walk(cdir):
            dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
            for fname in sorted(filenames):
                if fname.startswith("."):
                    continue
                p = Path(dirpath) / fname
                if p.suffix.lower() in IMAGE_EXTENSIONS:
                    found.append((p, k))
                else:
                    other += 1

    warns: list[str] = []
    good_paths: list[str] = []
    labels: list[int] = []
    bad: list[str] = []
    total = len(found)
    for i, (p, k) in enumerate(found):
        if _image_ok(p):
            good_paths.append(os.path.abspath(p))
            labels.append(k)
        else:
            bad.append(p.relative_to(root).as_posix())
        if reporter is not None and (i + 1) % 100 == 0:
            reporter.progress(i + 1, total)
    if reporter is not None and total:
        reporter.progress(total, total)
    if bad:
        warns.append(f"Skipped {_plural(len(bad), 'unreadable image')} in {root.name}: "
                     f"{_listing(bad)}.")
    if other:
        exts = " ".join(IMAGE_EXTENSIONS)
        warns.append(f"Ignored {_plural(other, 'file')} in {root.name} that "
                     f"{'is not an image' if other == 1 else 'are not images'} ({exts}).")
    names = [p.name for p in class_dirs]
    codes = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(codes, minlength=len(names)) if len(codes) else np.zeros(len(names),
                                                                                  np.int64)
    _check_classes(dict(zip(names, counts.tolist(), strict=True)),
                   next(iter(tasks)), "image", "remove those folders", warns)
    return LoadedData(modality="image", inputs=np.array(good_paths, dtype=object),
                      feature_names=[], targets={col: codes.copy() for col in tasks},
                      classes={col: list(names) for col in tasks},
                      row_ids=np.arange(len(good_paths), dtype=np.int64),
                      warnings=warns, source=str(root))


# ===================================================================== splits
def _split_sizes(n: int, fractions: Sequence[float]) -> tuple[int, int]:
    """(n_val, n_test): rounded, at least 1 when asked for and at least 1 row left to train."""
    if len(fractions) != 3:
        raise DataError(f"the split needs three fractions (train, val, test), got "
                        f"{list(fractions)}")
    _, f_val, f_test = (max(0.0, float(f)) for f in fractions)
    n_val = max(1, round(n * f_val)) if f_val > 0 else 0
    n_test = max(1, round(n * f_test)) if f_test > 0 else 0
    while n_val + n_test > n - 1 and (n_val or n_test):
        if n_test >= n_val and n_test:
            n_test -= 1
        else:
            n_val -= 1
    return n_val, n_test


def _cut(idx: np.ndarray, size: int, strat: np.ndarray | None,
         seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (rest, part of ``size``), stratified if that is possible."""
    from sklearn.model_selection import train_test_split

    if size == 0:
        return idx, idx[:0]
    if strat is not None:
        try:
            rest, part = train_test_split(idx, test_size=size, random_state=seed, shuffle=True,
                                          stratify=strat)
            return np.asarray(rest), np.asarray(part)
        except ValueError:
            pass
    rest, part = train_test_split(idx, test_size=size, random_state=seed, shuffle=True)
    return np.asarray(rest), np.asarray(part)


def split_indices(n: int, stratify: np.ndarray | None, fractions: Sequence[float],
                  seed: int) -> dict[str, np.ndarray]:
    """Split ``n`` rows into train / validation / test positions, seeded and stratified.

    Sizes are ``round(n * fraction)`` for validation and test (at least 1 each when their
    fraction is above 0, and never leaving training empty); training gets the rest. The split
    is stratified on ``stratify`` (class indices) when every class is big enough, and silently
    falls back to a plain shuffled split otherwise (tiny data).

    Args:
        n: number of rows.
        stratify: class index per row (usually the first classification target), or ``None``.
        fractions: ``[train, val, test]`` fractions (summing to 1).
        seed: random seed; the same seed gives the same split.

    Returns:
        ``{"train", "val", "test"}`` -> sorted int64 positions; each position is in exactly
        one of them; ``val`` / ``test`` are empty when their fraction is 0.
    """
    n = int(n)
    all_idx = np.arange(n, dtype=np.int64)
    empty = all_idx[:0]
    n_val, n_test = _split_sizes(n, fractions)
    strat = None
    if stratify is not None:
        strat = np.asarray(stratify)
        if strat.shape[0] != n:
            raise ValueError(f"stratify has {strat.shape[0]} labels for {n} rows")
    if n == 0:
        return {"train": empty, "val": empty.copy(), "test": empty.copy()}
    seed = int(seed) % (2**32)
    rest, test = _cut(all_idx, n_test, strat, seed)
    rest_strat = strat[rest] if strat is not None else None
    train, val = _cut(rest, n_val, rest_strat, seed)
    return {"train": np.sort(train).astype(np.int64), "val": np.sort(val).astype(np.int64),
            "test": np.sort(test).astype(np.int64)}


def class_counts(data: LoadedData) -> dict[str, dict[str, int]]:
    """Rows per class for every classification label column.

    Args:
        data: loaded data.

    Returns:
        label column -> {class name: count}, classes in index order.
    """
    out: dict[str, dict[str, int]] = {}
    for col, names in data.classes.items():
        counts = np.bincount(np.asarray(data.targets[col], dtype=np.int64),
                             minlength=len(names))
        out[col] = {name: int(c) for name, c in zip(names, counts, strict=False)}
    return out


# ===================================================================== images
def load_images(paths: Sequence[str], size: tuple[int, int], channels: int = 3) -> np.ndarray:
    """Decode image files into one uint8 batch.

    Each image is turned upright by its EXIF orientation, converted to RGB (``channels=3``)
    or greyscale (``channels=1``) and resized to ``size`` with bilinear filtering.

    Args:
        paths: image files.
        size: ``(height, width)`` of the output.
        channels: 3 (RGB) or 1 (greyscale).

    Returns:
        uint8 array ``(len(paths), height, width, channels)``.

    Raises:
        DataError: a file cannot be read as an image.
        ValueError: ``channels`` is not 1 or 3.
    """
    from PIL import Image, ImageOps

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    h, w = int(size[0]), int(size[1])
    mode = "RGB" if channels == 3 else "L"
    out = np.empty((len(paths), h, w, channels), dtype=np.uint8)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as im:
                if im.format == "JPEG":
                    im.draft(mode, (max(h, w), max(h, w)))
                img = ImageOps.exif_transpose(im) or im
                if img.mode == "P" and "transparency" in img.info:
                    img = img.convert("RGBA")
                if img.mode != mode:
                    img = img.convert(mode)
                if img.size != (w, h):
                    img = img.resize((w, h), Image.Resampling.BILINEAR)
                arr = np.asarray(img, dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as exc:
            raise DataError(f"cannot read image {path}: {exc}") from None
        out[i] = arr.reshape(h, w, channels)
    return out
