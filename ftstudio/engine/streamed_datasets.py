"""``tf.data`` pipelines over streamed data (:mod:`ftstudio.engine.data.streaming`).

:func:`streamed_dataset` is what :func:`ftstudio.engine.datasets.make_dataset` builds for
streamed data: a generator reads a split's inputs from the CSV file in chunks (or takes an
image folder's paths), orders a CSV's rows window by window (a split of at most
:data:`~ftstudio.engine.data.streaming.SHUFFLE_WINDOW_ROWS` rows exactly as in-memory
training orders it: the same stateless permutation of ``(seed, epoch)``; image paths are
shuffled as one window, exactly as in memory), and yields batches;
texts are tokenised per batch by the backbone's preprocessor, images decoded per batch.
Only the compact per-row arrays (labels, sample weights) and one window of inputs are held.

numpy at import time; TensorFlow inside the functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ftstudio.engine.data import LoadedData, iter_split_inputs, load_images
from ftstudio.engine.data.streaming import CHUNK_ROWS, SHUFFLE_WINDOW_ROWS, CsvStream

__all__ = ["streamed_dataset", "window_orders"]


def window_orders(n: int, seed: int, epoch: int, shuffle: bool,
                  window: int | None = None) -> Iterator[np.ndarray]:
    """The order of a streamed split's rows in one epoch, window by window.

    Rows come in file order, in windows of ``window`` (default :data:`SHUFFLE_WINDOW_ROWS`)
    consecutive rows; each window is
    shuffled by a stateless permutation keyed by ``(seed, epoch)`` (window 0; later windows
    mix their number into the key): for window 0 the permutation in-memory training applies
    to the whole split, so a split of at most ``window`` rows is ordered exactly as in memory.

    Yields:
        For each window in turn, its row positions (into the split) in the order to use.
    """
    import tensorflow as tf

    window = window or SHUFFLE_WINDOW_ROWS
    for w, begin in enumerate(range(0, n, window)):
        size = min(window, n - begin)
        if not shuffle:
            yield np.arange(begin, begin + size, dtype=np.int64)
            continue
        key = tf.constant([seed, epoch + (w << 32)], dtype=tf.int64)
        order = tf.argsort(tf.random.stateless_uniform([size], seed=key)).numpy()
        yield begin + order.astype(np.int64)


class _Rows:
    """A split's inputs in order, taken a window at a time from a stream of chunks."""

    def __init__(self, chunks: Iterator[np.ndarray]) -> None:
        self._chunks = chunks
        self._held: list[np.ndarray] = []
        self._count = 0

    def take(self, k: int) -> np.ndarray:
        while self._count < k:
            chunk = next(self._chunks)
            self._held.append(chunk)
            self._count += len(chunk)
        rows = np.concatenate(self._held) if len(self._held) > 1 else self._held[0]
        rest = rows[k:]
        self._held, self._count = ([rest], len(rest)) if len(rest) else ([], 0)
        return rows[:k]


def _split_chunks(data: LoadedData, idx: np.ndarray) -> Iterator[np.ndarray]:
    """The split's inputs in order: read from the CSV file in chunks, or the image paths."""
    if isinstance(data.stream, CsvStream):
        return iter_split_inputs(data, idx, chunk=CHUNK_ROWS)
    paths = np.array([str(p).encode("utf-8") for p in np.asarray(data.inputs)[idx]],
                     dtype=object)
    return iter([paths])


def _as_model_input(x: np.ndarray) -> np.ndarray:
    """Texts as UTF-8 bytes (``tf.string``); numbers and paths as they are."""
    if x.dtype == object and len(x) and isinstance(x[0], str):
        return np.array([s.encode("utf-8") for s in x], dtype=object)
    return x


def _epoch_batches(data: LoadedData, idx: np.ndarray, columns: dict[str, np.ndarray],
                   batch_size: int, seed: int, epoch: int, shuffle: bool
                   ) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """One epoch of ``(inputs, {name: per-row array})`` batches, in window order."""
    rows = _Rows(_split_chunks(data, idx))
    carry_x: np.ndarray | None = None
    carry_pos = np.zeros(0, dtype=np.int64)
    # image paths are all in memory: one window, the whole split shuffled
    window = None if isinstance(data.stream, CsvStream) else max(1, len(idx))
    for order in window_orders(len(idx), seed, epoch, shuffle, window):
        begin = int(order.min())
        x = _as_model_input(rows.take(len(order)))[order - begin]
        if carry_x is not None and len(carry_x):
            x, order = np.concatenate([carry_x, x]), np.concatenate([carry_pos, order])
        full = len(order) - len(order) % batch_size
        for start in range(0, full, batch_size):
            pos = order[start:start + batch_size]
            yield x[start:start + batch_size], {k: v[pos] for k, v in columns.items()}
        carry_x, carry_pos = x[full:], order[full:]
    if carry_x is not None and len(carry_x):
        yield carry_x, {k: v[carry_pos] for k, v in columns.items()}


def _signature(data: LoadedData, columns: dict[str, np.ndarray]) -> tuple[Any, Any]:
    """The ``tf.data`` signature of one batch of inputs and of the per-row arrays."""
    import tensorflow as tf

    if data.modality == "tabular":
        x = tf.TensorSpec((None, len(data.feature_names)), tf.float32)
    else:
        x = tf.TensorSpec((None,), tf.string)
    per_row = {k: tf.TensorSpec((None,), tf.as_dtype(v.dtype)) for k, v in columns.items()}
    return x, per_row


def _image_decoder(backbone: Any) -> Any:
    """A ``tf`` function decoding a batch of image paths to float32 pixels (as in memory)."""
    import tensorflow as tf

    h, w, c = backbone.image_shape

    def decode(paths: np.ndarray) -> np.ndarray:
        return load_images([p.decode("utf-8") for p in paths], (h, w), channels=c)

    def convert(paths: Any) -> Any:
        pixels = tf.numpy_function(decode, [paths], tf.uint8)
        pixels.set_shape((None, h, w, c))
        return tf.cast(pixels, tf.float32)

    return convert


def streamed_dataset(data: LoadedData, idx: np.ndarray, targets: dict[str, np.ndarray] | None,
                     backbone: Any, batch_size: int, seed: int, shuffle: bool,
                     sample_weights: dict[str, np.ndarray] | None = None,
                     epochs: tuple[int, int] | None = None) -> Any:
    """A batched ``tf.data.Dataset`` of one split of streamed data.

    Args:
        data: streamed data (``data.stream`` set).
        idx: the split's sorted positions into the data.
        targets: the split's labels per output name (``None``: inputs only).
        backbone: its ``preprocessor`` (text) or ``image_shape`` (images).
        batch_size: examples per batch.
        seed: the shuffle seed.
        shuffle: shuffle (within windows) every epoch.
        sample_weights: the split's per-example weights per output name.
        epochs: ``(first, end)``: one dataset for those epochs, each ordered by
            ``(seed, epoch)`` alone (as :func:`~ftstudio.engine.datasets.make_dataset`).

    Returns:
        A ``tf.data.Dataset`` of ``x``, ``(x, y)`` or ``(x, y, sample_weights)``.
    """
    import tensorflow as tf

    columns = {f"y/{k}": np.asarray(v) for k, v in (targets or {}).items()}
    columns.update({f"w/{k}": np.asarray(v) for k, v in (sample_weights or {}).items()})
    first, end = epochs if (shuffle and epochs is not None) else (0, 1)
    iterations = [0]

    def generate() -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
        span = range(first, end) if epochs is not None or not shuffle else \
            range(iterations[0], iterations[0] + 1)
        iterations[0] += 1
        for epoch in span:
            yield from _epoch_batches(data, idx, columns, batch_size, seed, epoch, shuffle)

    ds = tf.data.Dataset.from_generator(generate, output_signature=_signature(data, columns))
    per_epoch = -(-len(idx) // batch_size)
    ds = ds.apply(tf.data.experimental.assert_cardinality(per_epoch * (end - first)))
    convert = _converter(data, backbone)
    with_targets = targets is not None

    def arrange(x: Any, per_row: dict[str, Any]) -> Any:
        x = convert(x) if convert is not None else x
        if not with_targets:
            return x
        y = {k[2:]: v for k, v in per_row.items() if k.startswith("y/")}
        w = {k[2:]: v for k, v in per_row.items() if k.startswith("w/")}
        return (x, y, w) if w else (x, y)

    ds = ds.map(arrange, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _converter(data: LoadedData, backbone: Any) -> Any:
    """What turns a batch into model input: the text preprocessor, the image decoder or none."""
    if data.modality == "text":
        return backbone.preprocessor
    if data.modality == "image":
        return _image_decoder(backbone)
    return None
