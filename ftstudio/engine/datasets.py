"""Dataset preparation: loaded tables become split, encoded ``tf.data`` pipelines.

:func:`prepare_data` loads a spec's data and splits it (or reuses a run's saved split);
:func:`make_dataset` turns one split into a batched ``tf.data.Dataset`` for a backbone;
:func:`load_split_images` decodes a split's images once, up front. Training, evaluation and
re-evaluating a run all read data through here.

numpy only at import time; TensorFlow is imported by :func:`make_dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ftstudio.engine.data import (
    LoadedData,
    feature_stats,
    is_streamed,
    iter_split_inputs,
    load_data,
    load_images,
    positions_of,
    split_indices,
)
from ftstudio.engine.length_batches import grouped_dataset
from ftstudio.errors import SpecError

if TYPE_CHECKING:
    from ftstudio.engine.reporting import Reporter
    from ftstudio.spec import ExperimentSpec

SPLITS = ("train", "val", "test")
"""The split names, in order."""


@dataclass
class PreparedData:
    """Loaded data with its split, encoded for the model."""

    data: LoadedData
    splits: dict[str, np.ndarray]
    output_columns: dict[str, str]  # output name -> label column
    output_sizes: dict[str, int]
    feature_stats: tuple[np.ndarray, np.ndarray] | None

    def targets(self, output: str, split: str) -> np.ndarray:
        """The encoded labels of ``output`` on ``split``."""
        return self.data.targets[self.output_columns[output]][self.splits[split]]

    def saved_splits(self) -> dict[str, list[int]]:
        """The split as row ids (what ``splits.json`` holds; :func:`prepare_data` reads it)."""
        return {k: [int(r) for r in self.data.row_ids[v]] for k, v in self.splits.items()}


def prepare_data(spec: ExperimentSpec, reporter: Reporter,
                 saved_splits: dict[str, list[int]] | None = None) -> PreparedData:
    """Load the data, split it (or reuse ``saved_splits`` row ids) and size the outputs."""
    data = load_data(spec, reporter, stream=True)
    columns = {o.name: (o.label_column or spec.data.label_column or "")
               for o in spec.head.outputs}
    first = spec.head.outputs[0]
    stratify = data.targets[columns[first.name]] if first.task == "classification" else None
    if saved_splits:
        splits = {k: positions_of(data.row_ids, v) for k, v in saved_splits.items()}
    else:
        splits = split_indices(len(data.row_ids), stratify, spec.data.split, spec.training.seed)
    if len(splits["train"]) == 0:
        raise SpecError("the train split is empty: add data or raise data.split[0]")
    sizes = {}
    for o in spec.head.outputs:
        col = columns[o.name]
        sizes[o.name] = len(data.classes[col]) if o.task == "classification" else 1
    stats = None
    if data.modality == "tabular" and is_streamed(data):
        stats = feature_stats(data, splits["train"])
    elif data.modality == "tabular":
        x = np.asarray(data.inputs, dtype=np.float32)[splits["train"]]
        stats = (x.mean(axis=0), x.var(axis=0))
    return PreparedData(data, splits, columns, sizes, stats)


def make_dataset(prepared: PreparedData, backbone: Any, split: str, batch_size: int,
                 seed: int, shuffle: bool, with_targets: bool = True,
                 images: np.ndarray | None = None,
                 sample_weights: dict[str, np.ndarray] | None = None,
                 epochs: tuple[int, int] | None = None,
                 tokens: dict[str, np.ndarray] | None = None,
                 length_grouping: bool = False) -> Any:
    """A batched, prefetched ``tf.data.Dataset`` of one split.

    Text goes through the backbone's keras-hub preprocessor after batching (as a
    hand-written keras-hub script would), unless it was tokenised up front (``tokens``);
    images are decoded once, up front.

    Args:
        prepared: the data and its split.
        backbone: what the pipeline needs of the backbone: ``preprocessor`` (text) and
            ``image_shape`` (images).
        split: ``"train"``, ``"val"`` or ``"test"``.
        batch_size: examples per batch.
        seed: the shuffle seed.
        shuffle: reshuffle every epoch (training).
        with_targets: yield ``(x, y)`` (and sample weights) rather than ``x`` alone.
        images: the split's decoded images, if already decoded.
        sample_weights: per-example weights of the split, keyed by output name.
        epochs: ``(first, end)``: one dataset for epochs ``first .. end - 1`` (fit it with
            ``steps_per_epoch``), each epoch's order a function of ``(seed, epoch)`` alone,
            so a run resumed at any epoch sees the batches an uninterrupted one sees.
        tokens: the split's token arrays from :func:`tokenise_split` (text).
        length_grouping: with ``tokens`` and targets, batch texts of similar length
            together, each batch padded to its own longest text
            (:mod:`~ftstudio.engine.length_batches`; the order is only kept without it).

    Returns:
        A ``tf.data.Dataset``.
    """
    import tensorflow as tf

    data = prepared.data
    idx = prepared.splits[split]
    if is_streamed(data):  # read (and tokenise, decode) per batch: nothing up front
        from ftstudio.engine.streamed_datasets import streamed_dataset

        y_of = {n: data.targets[c][idx] for n, c in prepared.output_columns.items()}
        return streamed_dataset(data, idx, y_of if with_targets else None, backbone,
                                batch_size, seed, shuffle, sample_weights, epochs)
    x = _split_inputs(prepared, backbone, split, images, tokens)
    parts: tuple[Any, ...] = (x,)
    if with_targets:
        y = {name: data.targets[col][idx] for name, col in prepared.output_columns.items()}
        parts = (x, y, sample_weights) if sample_weights else (x, y)
    if length_grouping and tokens is not None and with_targets:
        ds = grouped_dataset(parts, batch_size, seed, epochs if shuffle else None,
                             int(np.shape(tokens["padding_mask"])[1]))
    elif shuffle and epochs is not None:
        ds = _epoch_ordered(parts, len(idx), batch_size, seed, epochs)
    else:
        ds = tf.data.Dataset.from_tensor_slices(parts if with_targets else x)
        if shuffle:
            ds = ds.shuffle(len(idx), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size)
    convert = _batch_converter(data.modality, backbone, tokens is not None)
    if convert is not None:
        ds = ds.map(lambda x, *rest: (convert(x), *rest) if rest else convert(x),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _split_inputs(prepared: PreparedData, backbone: Any, split: str,
                  images: np.ndarray | None, tokens: dict[str, np.ndarray] | None) -> Any:
    """The model inputs of one split, before batching."""
    import tensorflow as tf

    data = prepared.data
    idx = prepared.splits[split]
    if data.modality == "text":
        if tokens is not None:
            return tokens
        return tf.constant(np.asarray(data.inputs, dtype=object)[idx].astype(str))
    if data.modality == "image":
        return images if images is not None else load_split_images(prepared, backbone, split)
    return np.asarray(data.inputs, dtype=np.float32)[idx]


def _batch_converter(modality: str, backbone: Any, tokenised: bool) -> Any:
    """What turns a batch into model input: the text preprocessor, a cast, or nothing."""
    import tensorflow as tf

    if modality == "text":
        return None if tokenised else backbone.preprocessor
    if modality == "image":
        def cast(im: Any) -> Any:
            return tf.cast(im, tf.float32)
        return cast
    return None


def _epoch_ordered(parts: tuple[Any, ...], n: int, batch_size: int, seed: int,
                   epochs: tuple[int, int]) -> Any:
    """Batches of epochs ``first .. end - 1``, each epoch in its own seeded order.

    The order of epoch ``e`` is a stateless shuffle keyed by ``(seed, e)``: nothing carries
    over from one epoch to the next, so resuming at epoch ``e`` needs no iterator state.
    """
    import tensorflow as tf

    tensors = tf.nest.map_structure(tf.convert_to_tensor, parts)

    def epoch_batches(epoch: Any) -> Any:
        key = tf.stack([tf.constant(seed, tf.int64), epoch])
        order = tf.argsort(tf.random.stateless_uniform([n], seed=key))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    first, end = epochs
    batches = tf.data.Dataset.range(first, end).flat_map(epoch_batches)
    return batches.map(lambda batch: tf.nest.map_structure(lambda t: tf.gather(t, batch),
                                                            tensors))


def tokenise_split(prepared: PreparedData, backbone: Any, split: str,
                   reporter: Reporter | None = None, chunk: int = 1024,
                   counted: tuple[int, int] = (0, 0)) -> dict[str, np.ndarray]:
    """Run the text preprocessor over one split once, in chunks, reporting progress.

    Args:
        prepared: the data and its split.
        backbone: the text backbone (its ``preprocessor``).
        split: the split to tokenise.
        reporter: told ``Tokenising n/N texts…`` and the progress.
        chunk: texts per preprocessor call.
        counted: ``(done before, total)`` across several splits, for the progress.

    Returns:
        The preprocessor's outputs (``token_ids``, ``padding_mask`` …) as arrays.
    """
    import tensorflow as tf

    idx = prepared.splits[split]
    if is_streamed(prepared.data):  # read back from the file, a chunk at a time
        chunks: Any = iter_split_inputs(prepared.data, idx, chunk)
    else:
        texts = np.asarray(prepared.data.inputs, dtype=object)[idx]
        chunks = (texts[start:start + chunk] for start in range(0, len(texts), chunk))
    n, total = counted
    total = total or len(idx)
    parts: dict[str, list[np.ndarray]] = {}
    for part in chunks:  # not "texts": the generator above slices that name lazily
        out = backbone.preprocessor(tf.constant(part.astype(str)))
        for key, value in out.items():
            parts.setdefault(key, []).append(np.asarray(value))
        n += len(part)
        if reporter is not None:
            reporter.status(f"Tokenising {n:,}/{total:,} texts…")
            reporter.progress(n, total)
    return {key: np.concatenate(values) for key, values in parts.items()}


def load_split_images(prepared: PreparedData, backbone: Any, split: str) -> np.ndarray:
    """Decode the images of one split at the backbone's input size (uint8)."""
    h, w, c = backbone.image_shape
    paths = np.asarray(prepared.data.inputs, dtype=object)[prepared.splits[split]]
    return load_images([str(p) for p in paths], (h, w), channels=c)


def load_images_of_splits(prepared: PreparedData, backbone: Any,
                          splits: tuple[str, ...] = SPLITS) -> dict[str, np.ndarray]:
    """The decoded images of ``splits`` for image data; ``{}`` for text and tabular data."""
    if prepared.data.modality != "image" or is_streamed(prepared.data):
        return {}  # streamed images are decoded per batch
    return {s: load_split_images(prepared, backbone, s) for s in splits}
