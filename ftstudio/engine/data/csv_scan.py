"""The first pass over a streamed CSV file: check everything, keep only row ids and labels.

:func:`scan_csv` reads the file once, in chunks of :data:`~.streaming.CHUNK_ROWS` rows, and
applies the in-memory loader's rules (:mod:`~ftstudio.engine.data.csv_loader`): the same
columns, the same empty cells dropped with the same warnings, the same number rules, the same
class names. It keeps per row only the file line and the label codes (and regression
values); the input cells are checked and forgotten, apart from a few positions of odd cells.
So the split made from the result is the split the in-memory loader gives.
"""

from __future__ import annotations

import codecs
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ftstudio.engine.data import streaming
from ftstudio.engine.data.csv_loader import (
    HUGE_TEXT_CHARS,
    dropped_warning,
    huge_text_warning,
    no_usable_rows,
    non_numeric,
)
from ftstudio.engine.data.csv_loader import _input_columns as input_columns
from ftstudio.engine.data.labels import LoadedData, check_classes, label_tasks
from ftstudio.engine.data.streaming import CHUNK_ROWS, CsvStream, open_text
from ftstudio.engine.data.tables import (
    _INT_RE,
    _NA_TOKENS,
    _PREVIEW_BYTES,
    _check_file,
    _clean_header,
    _decode,
    _read_bytes,
    _sniff,
    check_ragged,
    csv_reader,
    fallback_warning,
    iter_records,
)
from ftstudio.errors import DataError

if TYPE_CHECKING:
    from ftstudio.engine.reporting import Reporter
    from ftstudio.spec import ExperimentSpec

OK, MISSING, BLANK, NOT_A_NUMBER, INFINITE = 0, 1, 2, 3, 4
"""Cell states: a number or text; an NA token (``NA``, ``null``…); empty; text in a number
column; an infinite number."""

_ODD_KEPT = 64
"""Odd cells whose text is kept per column (for the messages)."""


def cell_states(cells: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's state and number, by the in-memory reader's rules (``tables._frame``).

    Plain numbers are parsed in one vectorised call; only the cells that are not (missing,
    blank, text, padded with spaces) go through the exact rules one by one.
    """
    import pandas as pd

    numbers = pd.to_numeric(np.array(cells, dtype=object), errors="coerce").astype(np.float64)
    odd = np.flatnonzero(np.isnan(numbers))
    if len(odd):
        states, numbers[odd] = _exact_states([cells[i] for i in odd])
    else:
        states = np.zeros(0, dtype=np.int8)
    out = np.zeros(len(cells), dtype=np.int8)
    out[np.isinf(numbers)] = INFINITE
    out[odd] = states
    return out, numbers


def _exact_states(cells: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """State and number of each cell, stripped and with NA tokens, as ``tables._frame``."""
    import pandas as pd

    stripped = [c.strip() for c in cells]
    missing = np.array([v.lower() in _NA_TOKENS for v in stripped], dtype=bool)
    blank = np.array([not v for v in stripped], dtype=bool)
    numbers = pd.to_numeric(pd.Series(stripped, dtype=object).where(~missing, None),
                            errors="coerce").to_numpy(dtype=np.float64)
    states = np.full(len(cells), OK, dtype=np.int8)
    states[np.isinf(numbers)] = INFINITE
    states[np.isnan(numbers) & ~missing] = NOT_A_NUMBER
    states[missing] = MISSING
    states[blank] = BLANK
    return states, numbers


@dataclass
class _Column:
    """What the first pass keeps of one column.

    ``role``: ``class`` (a classification label: a code per row into its distinct cells),
    ``value`` (a regression label: a number and a state per row), ``number`` (a feature:
    the positions of its odd cells only) or ``text`` (the text input: its blank cells and
    its huge texts).
    """

    name: str
    index: int
    role: Literal["class", "value", "number", "text"]
    distinct: dict[str, int] = field(default_factory=dict)
    parts: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    odd: list[np.ndarray] = field(default_factory=list)
    odd_states: list[np.ndarray] = field(default_factory=list)
    odd_text: dict[int, str] = field(default_factory=dict)
    huge: list[tuple[int, int]] = field(default_factory=list)

    def flush(self, first: int, rows: list[list[str]]) -> None:
        """Check this column's cells of a chunk of ``rows`` (positions from ``first``)."""
        cells = list(map(itemgetter(self.index), rows))
        if self.role == "class":
            table = self.distinct
            self.parts.append(np.fromiter((table.setdefault(c.strip(), len(table))
                                           for c in cells), dtype=np.int32, count=len(cells)))
            return
        if self.role == "text":
            states = np.array([not c.strip() for c in cells], dtype=np.int8) * BLANK
            sizes = np.fromiter((len(c) for c in cells), dtype=np.int64, count=len(cells))
            self.huge += [(first + int(i), int(sizes[i]))
                          for i in np.flatnonzero(sizes > HUGE_TEXT_CHARS)]
        else:
            states, numbers = cell_states(cells)
        if self.role == "value":
            self.values.append(numbers)
        odd = np.flatnonzero(states)
        self.odd.append(first + odd)
        self.odd_states.append(states[odd])
        for i in odd[:max(0, _ODD_KEPT - len(self.odd_text))]:
            self.odd_text[first + int(i)] = cells[i]

    def states(self, n: int) -> np.ndarray:
        """Every row's cell state (``class`` columns: by their distinct cells)."""
        if self.role == "class":
            distinct_states, _ = cell_states(list(self.distinct))
            return distinct_states[np.concatenate(self.parts)] if self.parts else \
                np.zeros(0, np.int8)
        out = np.zeros(n, dtype=np.int8)
        if self.odd:
            out[np.concatenate(self.odd)] = np.concatenate(self.odd_states)
        return out


def _is_number_column(states: np.ndarray) -> bool:
    """A column is numeric when no cell is text and not every cell is missing."""
    return not (states == NOT_A_NUMBER).any() and bool(
        ((states == OK) | (states == INFINITE)).any())


def _empty_cells(states: np.ndarray, numeric: bool) -> np.ndarray:
    """The loader's one rule: missing or infinite in number columns, blank in text ones."""
    if numeric:
        return (states == MISSING) | (states == BLANK) | (states == INFINITE)
    return states == BLANK


@dataclass
class _Scan:
    """What the pass read: the header, the rows' file lines, the ragged rows."""

    header: list[str]
    header_line: int
    lines: np.ndarray
    ragged: list[int]
    unclosed_quote: int | None


def _read_records(records: Iterator[tuple[int, list[str]]], header: list[str],
                  columns: list[_Column], progress: Any) -> tuple[np.ndarray, list[int],
                                                                  int | None]:
    """Read every record after the header into the columns, chunk by chunk."""
    lines = array("q")
    ragged: list[int] = []
    n_fields = len(header)
    last_ragged: list[str] | None = None
    chunk: list[list[str]] = []
    for start, row in records:
        if len(row) != n_fields:
            ragged.append(start)
            last_ragged = row
            continue
        last_ragged = None
        lines.append(start)
        chunk.append(row)
        if len(chunk) == CHUNK_ROWS:
            for col in columns:
                col.flush(len(lines) - len(chunk), chunk)
            chunk = []
            progress(len(lines))
    for col in columns:
        col.flush(len(lines) - len(chunk), chunk)
    progress(len(lines))
    unclosed = ragged[-1] if last_ragged is not None and any(
        "\n" in f or "\r" in f for f in last_ragged) else None
    return np.frombuffer(lines, dtype=np.int64).copy(), ragged, unclosed


def _columns(spec: ExperimentSpec, modality: str, header: list[str], tasks: dict[str, str],
             name: str) -> tuple[list[_Column], list[str]]:
    """The columns to check: labels first (in output order), then the inputs."""
    inputs = input_columns(spec, modality, header, tasks, name)
    cols = [_Column(c, header.index(c), "class" if t == "classification" else "value")
            for c, t in tasks.items()]
    kind: Literal["text", "number"] = "text" if modality == "text" else "number"
    cols += [_Column(c, header.index(c), kind) for c in inputs]
    return cols, inputs


def _scan_file(path: Path, encoding: str, delimiter: str, spec: ExperimentSpec,
               modality: str, reporter: Reporter | None) -> tuple[_Scan, list[_Column],
                                                                  list[str]]:
    """One pass over the file in ``encoding`` (UnicodeDecodeError when it is not that)."""
    name, size = path.name, max(1, path.stat().st_size)
    handle, counter = open_text(str(path), encoding)
    with handle:
        records = iter_records(csv_reader(handle, delimiter), name)
        first = next(records, None)
        if first is None:
            raise DataError(f"{name} is empty: it has no header and no data rows")
        header_line, header = first[0], _clean_header(first[1])
        columns, inputs = _columns(spec, modality, header, label_tasks(spec), name)

        def progress(rows: int) -> None:
            if reporter is not None:
                reporter.status(f"Checking {name}: {rows:,} rows…")
                reporter.progress(min(counter.count, size), size)

        lines, ragged, unclosed = _read_records(records, header, columns, progress)
    return _Scan(header, header_line, lines, ragged, unclosed), columns, inputs


def _encodings(path: Path, given: str | None, name: str) -> list[str]:
    """The encodings to try, in order: the given one, or UTF-8 and the fallbacks."""
    if given:
        enc = "utf-8-sig" if given.lower().replace("_", "-") in ("utf-8", "utf8") else given
        try:
            codecs.lookup(enc)
        except LookupError as exc:
            raise DataError(f"unknown encoding '{given}' in data.encoding; use e.g. "
                            f"'utf-8', 'cp1252' or 'latin-1', or leave it empty") from exc
        return [enc]
    with path.open("rb") as fh:
        if fh.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            return ["utf-16"]
    return ["utf-8-sig", "cp1252", "latin-1"]


def _sniffed_delimiter(path: Path, spec: ExperimentSpec) -> str:
    """Check the start of the file as the in-memory reader does and sniff the delimiter."""
    name = path.name
    raw, truncated = _read_bytes(path, _PREVIEW_BYTES)
    if not raw.strip():
        raise DataError(f"{name} is empty: it has no header and no data rows")
    text, _ = _decode(raw, spec.data.encoding, name, truncated)
    if "\x00" in text[:8192]:
        raise DataError(f"{name} does not look like a text CSV file (it holds binary data); "
                        f"save it as CSV first")
    if not text.strip():
        raise DataError(f"{name} is empty: it has no header and no data rows")
    return spec.data.delimiter or _sniff(text)


def _scan_decoded(path: Path, delimiter: str, spec: ExperimentSpec, modality: str,
                  reporter: Reporter | None) -> tuple[str, tuple[_Scan, list[_Column],
                                                                 list[str]]]:
    """Scan the file in the first encoding (of the given one, or the fallbacks) that reads it."""
    tries = _encodings(path, spec.data.encoding, path.name)
    for enc in tries[:-1]:
        try:
            return enc, _scan_file(path, enc, delimiter, spec, modality, reporter)
        except UnicodeDecodeError:
            continue
    try:
        return tries[-1], _scan_file(path, tries[-1], delimiter, spec, modality, reporter)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path.name} cannot be read as {spec.data.encoding or tries[-1]} "
                        f"(bad byte near position {exc.start}); set the right data.encoding "
                        f"or leave it empty to detect it") from exc


def scan_csv(spec: ExperimentSpec, modality: Literal["text", "tabular"],
             reporter: Reporter | None = None) -> LoadedData:
    """The first pass over ``spec.data.path``: streamed :class:`LoadedData` (no inputs).

    Args:
        spec: the experiment; ``spec.data`` and ``spec.head.outputs`` are read.
        modality: ``text`` or ``tabular``.
        reporter: told the progress (bytes read) and the rows checked.

    Returns:
        The data with its targets, classes, row ids and warnings, ``inputs`` empty and
        ``stream`` a :class:`~ftstudio.engine.data.streaming.CsvStream`.

    Raises:
        DataError: what the in-memory loader raises for the same file.
    """
    path = _check_file(str(spec.data.path))
    name = path.name
    delimiter = _sniffed_delimiter(path, spec)
    enc, (scan, columns, inputs) = _scan_decoded(path, delimiter, spec, modality, reporter)
    warns = [fallback_warning(name, enc)] if not spec.data.encoding and enc != "utf-8-sig" \
        else []
    if scan.unclosed_quote is not None:
        raise DataError(f"line {scan.unclosed_quote} of {name} opens a quote (\") that is "
                        f"never closed, so the rest of the file reads as one field; fix the "
                        f"quoting there")
    if not len(scan.lines) and not scan.ragged:
        raise DataError(f"{name} is empty: it has a header but no data rows")
    check_ragged(scan.ragged, len(scan.lines), len(scan.header), name, delimiter, warns)
    keep = _drop_empty(scan, columns, modality, name, warns)
    data = _encode(spec, scan, columns, keep, modality, name, warns)
    stream = CsvStream(str(path), enc, delimiter, scan.header_line, len(scan.header),
                       tuple(scan.header.index(c) for c in inputs), modality)
    data.feature_names = list(inputs) if modality == "tabular" else []
    data.inputs = np.empty((0, len(inputs)), np.float32) if modality == "tabular" else \
        np.empty(0, dtype=object)
    data.stream = stream
    _warn_if_sorted(data, name, warns)
    return data


def _warn_if_sorted(data: LoadedData, name: str, warns: list[str]) -> None:
    """Warn when the rows look sorted by their first label: streaming shuffles in windows."""
    window = streaming.SHUFFLE_WINDOW_ROWS
    if not data.classes or len(data.row_ids) <= window:
        return
    column = next(iter(data.classes))
    codes = data.targets[column]
    shares = np.bincount(codes) / len(codes)
    expected = (len(codes) - 1) * (1.0 - float((shares ** 2).sum()))
    changes = int(np.count_nonzero(codes[1:] != codes[:-1]))
    if changes < 0.5 * expected:
        warns.append(f"The rows of {name} look sorted by '{column}' ({changes:,} label changes "
                     f"where shuffled rows have about {expected:,.0f}); streamed training "
                     f"shuffles only within windows of {window:,} rows, so shuffle the file's "
                     f"rows first (or set data.streaming to off if it fits in memory).")


def _drop_empty(scan: _Scan, columns: list[_Column], modality: str, name: str,
                warns: list[str]) -> np.ndarray:
    """Which rows are kept once rows with an empty label or input are dropped (warned)."""
    n = len(scan.lines)
    keep = np.ones(n, dtype=bool)
    what = "text" if modality == "text" else "value"
    for col in columns:
        states = col.states(n)
        numeric = col.role != "text" and _is_number_column(states)
        empty = _empty_cells(states, numeric) & keep
        if empty.any():
            kind = what if col.role in ("text", "number") else None
            warns.append(dropped_warning(scan.lines[empty], col.name, kind, numeric))
            keep &= ~empty
    if not keep.any():
        raise no_usable_rows(name, [c.name for c in columns if c.role in ("text", "number")]
                             + [c.name for c in columns if c.role in ("class", "value")])
    return keep


def _check_numbers(col: _Column, states: np.ndarray, keep: np.ndarray, lines: np.ndarray,
                   what: str, name: str) -> None:
    """Raise on the first kept cell of a number column that is not a finite number."""
    bad = np.flatnonzero((states != OK) & keep)
    if len(bad):
        i = int(bad[0])
        raise non_numeric(col.name, what, col.odd_text.get(i, "?"), int(lines[i]), name)


def _class_codes(col: _Column, keep: np.ndarray, warns: list[str]) -> tuple[np.ndarray,
                                                                             list[str]]:
    """The kept rows' class codes and the class names, by ``_label_text``'s rule."""
    distinct = list(col.distinct)
    states, numbers = cell_states(distinct)
    if _is_number_column(states):  # every distinct cell occurs, so its states are the rows'
        whole = not ((states == MISSING) | (states == BLANK)).any() and all(
            _INT_RE.fullmatch(v) for v in distinct)
        texts = [str(int(v)) if whole or float(v).is_integer() else str(v)
                 for v in (numbers.astype(np.int64) if whole else numbers)]
    else:
        texts = distinct
    ids = np.concatenate(col.parts)[keep]
    names = sorted({texts[i] for i in np.unique(ids)})
    index = {c: i for i, c in enumerate(names)}
    to_class = np.array([index.get(t, -1) for t in texts], dtype=np.int64)
    codes = to_class[ids]
    counts = np.bincount(codes, minlength=len(names))
    check_classes(dict(zip(names, counts.tolist(), strict=True)), col.name, "row",
                  "remove those rows", warns)
    return codes, names


def _encode(spec: ExperimentSpec, scan: _Scan, columns: list[_Column], keep: np.ndarray,
            modality: str, name: str, warns: list[str]) -> LoadedData:
    """Check the kept rows' numbers, encode the labels and make the :class:`LoadedData`."""
    n = len(scan.lines)
    lines = scan.lines
    for col in columns:
        if col.role == "text" and col.huge:
            huge = [(p, s) for p, s in col.huge if keep[p]]
            if huge:
                pos, size = max(huge, key=lambda h: h[1])
                warns.append(huge_text_warning(len(huge), col.name, name, int(lines[pos]),
                                               size))
        elif col.role == "number":
            _check_numbers(col, col.states(n), keep, lines, "a feature column", name)
    targets: dict[str, np.ndarray] = {}
    classes: dict[str, list[str]] = {}
    for col in columns:
        if col.role == "value":
            _check_numbers(col, col.states(n), keep, lines, "a regression label", name)
            targets[col.name] = np.concatenate(col.values)[keep].astype(np.float32)
        elif col.role == "class":
            targets[col.name], classes[col.name] = _class_codes(col, keep, warns)
    return LoadedData(modality="text" if modality == "text" else "tabular",
                      inputs=np.empty(0, dtype=object), feature_names=[], targets=targets,
                      classes=classes, row_ids=lines[keep] - scan.header_line,
                      warnings=warns, source=str(Path(str(spec.data.path)).expanduser()))
