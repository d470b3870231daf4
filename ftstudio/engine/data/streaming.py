"""Streamed data: a CSV file too large for memory, or a very large image folder.

When streaming (``data.streaming``: ``auto`` streams a CSV over :data:`STREAM_CSV_BYTES` or
an image folder over :data:`STREAM_IMAGE_FILES` files), nothing holds the rows:

* a first pass (:func:`scan_csv`, in :mod:`~ftstudio.engine.data.csv_scan`) reads the CSV in
  chunks, checks the schema, the labels and every input cell by the in-memory loader's rules,
  and keeps only compact per-row arrays: row ids and label codes. The seeded, stratified split
  is then made from those (:func:`~ftstudio.engine.data.split_indices`), exactly as in memory;
* each split's inputs are read back from the file, chunk by chunk, in file order
  (:func:`iter_split_inputs`), and shuffled within windows of :data:`SHUFFLE_WINDOW_ROWS`
  rows (a split no larger than that is shuffled exactly as in memory);
* an image folder keeps its paths only; images are decoded per batch.

The ``tf.data`` side is in :mod:`ftstudio.engine.streamed_datasets`. numpy only here.
"""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ftstudio.engine.data.labels import LoadedData
from ftstudio.engine.data.tables import csv_reader, iter_records
from ftstudio.errors import DataError

if TYPE_CHECKING:
    from ftstudio.spec import ExperimentSpec

STREAM_CSV_BYTES = 200 * 1024 * 1024
"""``data.streaming: auto`` streams a CSV file larger than this (bytes)."""
STREAM_IMAGE_FILES = 20_000
"""``data.streaming: auto`` streams an image folder with more files than this."""
CHUNK_ROWS = 8192
"""Rows read and checked at a time."""
SHUFFLE_WINDOW_ROWS = 65_536
"""A streamed split is shuffled within windows of this many consecutive rows."""


@dataclass(frozen=True)
class CsvStream:
    """How to read a streamed CSV file's inputs back.

    Attributes:
        path: the file.
        encoding: the encoding the first pass read it with.
        delimiter: the field delimiter.
        header_line: the header's file line (row id = file line - header line).
        n_fields: the header's number of fields (other rows were skipped).
        columns: the input columns' field positions (text: one).
        modality: ``text`` or ``tabular``.
    """

    path: str
    encoding: str
    delimiter: str
    header_line: int
    n_fields: int
    columns: tuple[int, ...]
    modality: Literal["text", "tabular"]


@dataclass(frozen=True)
class ImageStream:
    """An image folder whose images are decoded per batch (``LoadedData.inputs``: paths)."""


def is_streamed(data: LoadedData) -> bool:
    """Whether ``data`` is streamed (its examples are not all decoded in memory).

    A table made from streamed data with its own inputs in memory (``dataclasses.replace``
    of the inputs or the modality, e.g. cached features) is not.
    """
    stream = data.stream
    if isinstance(stream, CsvStream):
        return data.modality == stream.modality and len(data.inputs) == 0
    return isinstance(stream, ImageStream) and data.modality == "image"


def streaming_wanted(spec: ExperimentSpec) -> bool:
    """Whether ``spec``'s data is streamed: ``data.streaming``, ``auto`` by size."""
    mode = getattr(spec.data, "streaming", "auto")
    if mode != "auto":
        return bool(mode == "on")
    if spec.modality == "image":
        return _more_files_than(Path(str(spec.data.image_dir)).expanduser(), STREAM_IMAGE_FILES)
    try:
        return os.path.getsize(Path(str(spec.data.path)).expanduser()) > STREAM_CSV_BYTES
    except OSError:
        return False  # the loader says what is wrong with the path


def _more_files_than(root: Path, limit: int) -> bool:
    """Whether the folder tree holds more than ``limit`` files (stops counting there)."""
    count = 0
    for _, _, files in os.walk(root):
        count += len(files)
        if count > limit:
            return True
    return False


# ------------------------------------------------------------------ reading the file
class _CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read (the first pass's progress)."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._fh.readinto(buffer)
        self.count += n or 0
        return int(n or 0)

    def close(self) -> None:
        self._fh.close()
        super().close()


def open_text(path: str, encoding: str) -> tuple[io.TextIOWrapper, _CountingReader]:
    """Open ``path`` as text for the CSV reader (no newline translation), counting bytes."""
    codecs.lookup(encoding)
    raw = _CountingReader(open(path, "rb"))  # noqa: SIM115 - closed by the wrapper
    return io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding=encoding,
                            newline=""), raw


def iter_split_inputs(data: LoadedData, positions: np.ndarray,
                      chunk: int = CHUNK_ROWS) -> Iterator[np.ndarray]:
    """The inputs of the rows at ``positions`` of a streamed CSV, chunk by chunk, in order.

    Args:
        data: streamed CSV data (``data.stream`` is a :class:`CsvStream`).
        positions: sorted positions into ``data.row_ids`` (a split).
        chunk: rows per yielded array.

    Yields:
        Text: object arrays of ``str``; tabular: float32 ``(k, features)``; together the
        rows of ``positions`` in order.

    Raises:
        DataError: the file changed since the first pass (rows are missing).
    """
    stream = data.stream
    assert isinstance(stream, CsvStream), "iter_split_inputs needs a streamed CSV"
    ids = np.asarray(data.row_ids, dtype=np.int64)[np.asarray(positions, dtype=np.int64)]
    if not len(ids):
        return
    mask = np.zeros(int(ids.max()) + 1, dtype=np.uint8)
    mask[ids] = 1
    wanted = mask.tobytes()  # bytes index faster than numpy scalars, row by row
    last, header, cols, total = len(wanted) - 1, stream.header_line, stream.columns, len(ids)
    first_col = cols[0]
    text = stream.modality == "text"
    rows: list[Any] = []
    found = 0
    handle, _ = open_text(stream.path, stream.encoding)
    name = Path(stream.path).name
    with handle:
        for start, row in iter_records(csv_reader(handle, stream.delimiter), name):
            line_id = start - header
            if line_id <= 0 or line_id > last or not wanted[line_id]:
                continue
            rows.append(row[first_col] if text else [row[j] for j in cols])
            if len(rows) >= chunk:
                found += len(rows)
                yield _inputs_array(rows, text)
                rows = []
                if found == total:
                    break
            elif found + len(rows) == total:
                break
    found += len(rows)
    if rows:
        yield _inputs_array(rows, text)
    if found != len(ids):
        raise DataError(f"{name} changed while it was being read ({found:,} of {len(ids):,} "
                        f"rows found again); keep the file unchanged while training")


def _inputs_array(rows: list[Any], text: bool) -> np.ndarray:
    if text:
        return np.array(rows, dtype=object)
    return np.array(rows, dtype=np.float64).astype(np.float32)


def feature_stats(data: LoadedData, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of each feature over the rows at ``positions`` (one streamed pass).

    Chunks are merged with Chan's parallel update in float64; a split read in one chunk
    gives exactly what ``x.mean(axis=0)`` and ``x.var(axis=0)`` give in memory.

    Returns:
        ``(mean, var)``, float32 ``(features,)`` each.
    """
    n = 0
    mean: np.ndarray | None = None
    m2: np.ndarray | None = None
    for x in iter_split_inputs(data, positions, chunk=SHUFFLE_WINDOW_ROWS):
        k = len(x)
        x_mean, x_var = x.mean(axis=0), x.var(axis=0)
        if mean is None or m2 is None:
            n, mean, m2 = k, x_mean, x_var * k
            continue
        total = n + k
        delta = x_mean.astype(np.float64) - mean
        mean = mean + delta * (k / total)
        m2 = m2 + x_var.astype(np.float64) * k + delta ** 2 * (n * k / total)
        n = total
    if mean is None or m2 is None:
        width = len(data.feature_names)
        return np.zeros(width, np.float32), np.ones(width, np.float32)
    return np.asarray(mean, np.float32), np.asarray(m2 / n, np.float32)
