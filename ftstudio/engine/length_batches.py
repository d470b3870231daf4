"""Length grouping for text: batches of similar length, each padded only to its longest text.

Reviews are mostly far shorter than ``backbone.sequence_length``, so a batch padded to the
full length spends most of its compute on padding. Here each epoch's seeded shuffle is cut
into windows of :data:`WINDOW_BATCHES` batches; a window is sorted by length and cut into
batches, and the batches are shuffled (Hugging Face's ``group_by_length``). Each batch is
padded to its longest example rounded up to one of a few lengths (:func:`bucket_lengths`),
so the training step is traced for a handful of shapes only.

Every epoch sees every example exactly once, and its batches are a function of
``(seed, epoch)`` alone, as for :func:`ftstudio.engine.datasets.make_dataset`'s fixed
batches: a run resumed at any epoch sees the batches an uninterrupted one sees.

NumPy at import time; TensorFlow is imported by :func:`grouped_dataset`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["WINDOW_BATCHES", "bucket_lengths", "epoch_batches", "grouped_dataset",
           "padded_length"]

WINDOW_BATCHES = 50
"""Batches per sorted window: larger windows group lengths more tightly, smaller ones keep
more of the shuffle's randomness."""

_BUCKET_FRACTIONS = (1 / 8, 1 / 4, 1 / 2, 3 / 4, 1)


def bucket_lengths(sequence_length: int) -> list[int]:
    """The lengths a batch is padded to: 1/8, 1/4, 1/2, 3/4 and all of ``sequence_length``.

    Each is rounded up to a multiple of 8 (never above ``sequence_length``).
    """
    out = {min(sequence_length, 8 * math.ceil(sequence_length * f / 8))
           for f in _BUCKET_FRACTIONS}
    return sorted(out)


def padded_length(longest: int, buckets: list[int]) -> int:
    """The smallest bucket holding ``longest`` tokens."""
    for size in buckets:
        if size >= longest:
            return size
    return buckets[-1]


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int,
                  epoch: int | None) -> list[np.ndarray]:
    """The batches (positions into ``lengths``) of one epoch, grouped by length.

    Args:
        lengths: tokens of each example (its padding mask's sum).
        batch_size: examples per batch (the last batch of the epoch may be smaller).
        seed: the run's seed.
        epoch: the epoch the order is keyed on; ``None``: no shuffle, longest first
            (validation).

    Returns:
        ``ceil(n / batch_size)`` index arrays holding every position once.
    """
    n = len(lengths)
    if epoch is None:
        order = np.argsort(-lengths, kind="stable")
        return [order[i:i + batch_size] for i in range(0, n, batch_size)]
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(n)
    window = batch_size * WINDOW_BATCHES
    for start in range(0, n, window):
        part = order[start:start + window]
        order[start:start + window] = part[np.argsort(-lengths[part], kind="stable")]
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    full = len(batches) - (1 if n % batch_size else 0)
    # the short last batch stays last, so every other batch has batch_size examples
    shuffled = [batches[i] for i in rng.permutation(full)]
    return shuffled + batches[full:]


def grouped_dataset(parts: tuple[Any, ...], batch_size: int, seed: int,
                    epochs: tuple[int, int] | None, sequence_length: int) -> Any:
    """A ``tf.data.Dataset`` of length-grouped batches of tokenised text.

    Args:
        parts: ``(tokens, …)``: the token arrays (``token_ids``, ``padding_mask`` …, each
            ``(n, sequence_length)``) then the targets and sample weights, if any.
        batch_size: examples per batch.
        seed: the run's seed.
        epochs: ``(first, end)``: the batches of these epochs, each in its own seeded order;
            ``None``: one pass, longest first (validation).
        sequence_length: the token arrays' length (the largest bucket).

    Returns:
        Batches like ``parts``, the token arrays cut to the batch's bucket length.
    """
    import tensorflow as tf

    tokens = parts[0]
    lengths = np.asarray(tokens["padding_mask"]).sum(axis=1).astype(np.int64)
    buckets = bucket_lengths(sequence_length)
    epoch_list = [None] if epochs is None else list(range(*epochs))
    batches = [b for e in epoch_list for b in epoch_batches(lengths, batch_size, seed, e)]
    flat = np.concatenate(batches).astype(np.int64)
    sizes = np.array([len(b) for b in batches], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    pads = np.array([padded_length(int(lengths[b].max()), buckets) for b in batches],
                    dtype=np.int64)
    tensors = tf.nest.map_structure(tf.convert_to_tensor, parts)
    positions = tf.constant(flat)

    def gather(start: Any, size: Any, pad: Any) -> Any:
        index = positions[start:start + size]
        x = {k: tf.gather(v, index)[:, :pad] for k, v in tensors[0].items()}
        rest = tf.nest.map_structure(lambda t: tf.gather(t, index), tensors[1:])
        return (x, *rest) if rest else x

    return tf.data.Dataset.from_tensor_slices((starts, sizes, pads)).map(
        gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
