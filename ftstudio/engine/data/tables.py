"""Reading CSV files into DataFrames, tolerating the usual real-world problems.

:func:`read_table` reads a whole file, :func:`preview_table` its first rows quickly. Encodings
fall back from UTF-8 to cp1252 and latin-1, the delimiter is sniffed, ragged rows are skipped
with a warning, and everything else the user can get wrong ends in a one-sentence
:class:`~ftstudio.errors.DataError`. Line numbers in messages are *file* line numbers as a text
editor shows them (the header is line 1).

pandas is imported inside the functions that need it.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ftstudio.engine.data.labels import listing, plural
from ftstudio.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

_FALLBACK_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
_SNIFF_CHARS = 8192
_DELIMITERS = ",;\t|"
_RAGGED_LIMIT = 0.2
_PREVIEW_BYTES = 2 * 1024 * 1024
_INT_RE = re.compile(r"[+-]?\d{1,18}")


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
        raise DataError(f"cannot read {p}: {exc.strerror or exc}") from exc
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
        except LookupError as exc:
            raise DataError(f"unknown encoding '{encoding}' in data.encoding; use e.g. "
                            f"'utf-8', 'cp1252' or 'latin-1', or leave it empty") from exc
        except UnicodeDecodeError as exc:
            raise DataError(f"{name} cannot be read as {encoding} (bad byte at position "
                            f"{exc.start}); set the right data.encoding or leave it empty to "
                            f"detect it") from exc
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        errors = "replace" if truncated else "strict"
        if truncated and len(raw) % 2:
            raw = raw[:-1]
        try:
            return raw.decode("utf-16", errors=errors), [fallback_warning(name, "utf-16")]
        except UnicodeDecodeError:
            pass
    for enc in _FALLBACK_ENCODINGS:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "utf-8-sig":
            return text, []
        return text, [fallback_warning(name, enc)]
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


def csv_reader(lines: Iterable[str], delimiter: str) -> Any:
    """The one CSV dialect every reader here uses (quotes ``"``, doubled to escape)."""
    if csv.field_size_limit() < 2**27:
        csv.field_size_limit(2**27)
    return csv.reader(lines, delimiter=delimiter, quotechar='"', doublequote=True,
                      skipinitialspace=False, strict=False)


def iter_records(reader: Any, name: str) -> Iterator[tuple[int, list[str]]]:
    """``(first file line, fields)`` of each non-blank record a :func:`csv_reader` reads.

    Raises:
        DataError: the text cannot be parsed as CSV (naming the line).
    """
    last_end = 0
    try:
        for row in reader:
            start, last_end = last_end + 1, reader.line_num
            if not row or not "".join(row).strip():  # no field holds anything
                continue
            yield start, row
    except csv.Error as exc:
        raise DataError(f"{name} cannot be parsed as CSV near line {last_end + 1}: "
                        f"{exc}") from exc


def fallback_warning(name: str, encoding: str) -> str:
    """The warning that a file was not UTF-8 and was read as ``encoding``."""
    if encoding == "utf-16":
        return f"{name} is not UTF-8; read it as UTF-16."
    return (f"{name} is not UTF-8; read it as {encoding} (set data.encoding if the text looks "
            f"wrong).")


def check_ragged(ragged: Sequence[int], n_records: int, n_fields: int, name: str,
                 delimiter: str, warns: list[str], preview: bool = False) -> None:
    """Warn about rows whose number of fields differs from the header's; too many: an error.

    Args:
        ragged: the file lines of those rows.
        n_records: the rows with the right number of fields.
        n_fields: the header's number of fields.
        name: the file's name.
        delimiter: the delimiter used (named in the message).
        warns: where the warning goes.
        preview: a preview only warns, even about too many of them.

    Raises:
        DataError: more than 20 % of the rows are ragged (probably the wrong delimiter).
    """
    if not ragged:
        return
    total = len(ragged) + n_records
    if len(ragged) / total > _RAGGED_LIMIT:
        msg = (f"{len(ragged)} of {total} rows in {name} do not have the header's "
               f"{n_fields} fields (first at line {ragged[0]}), so the "
               f"delimiter is probably not {_delimiter_name(delimiter)}; set data.delimiter")
        if not preview:
            raise DataError(msg)
        warns.append(msg + ".")
    else:
        warns.append(f"Skipped {plural(len(ragged), 'row')} of {name} whose number "
                     f"of fields differs from the header's {n_fields} (lines "
                     f"{listing(list(ragged))}).")


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
    reader = csv_reader(io.StringIO(text, newline=""), delimiter)
    header: list[str] | None = None
    header_line = 0
    records: list[list[str]] = []
    lines: list[int] = []
    ragged: list[int] = []
    last: tuple[int, list[str]] | None = None
    for start, row in iter_records(reader, name):
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
    check_ragged(parsed.ragged, len(parsed.records), len(parsed.header), name, delim, warns,
                 preview)
    return _frame(parsed), warns


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

