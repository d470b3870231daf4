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

from ftstudio.engine.data import LoadedData, load_data, load_images, split_indices
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
    data = load_data(spec, reporter)
    columns = {o.name: (o.label_column or spec.data.label_column or "")
               for o in spec.head.outputs}
    first = spec.head.outputs[0]
    stratify = data.targets[columns[first.name]] if first.task == "classification" else None
    if saved_splits:
        pos = {int(r): i for i, r in enumerate(data.row_ids)}
        splits = {k: np.array(sorted(pos[r] for r in v if r in pos), dtype=np.int64)
                  for k, v in saved_splits.items()}
    else:
        splits = split_indices(len(data.row_ids), stratify, spec.data.split, spec.training.seed)
    if len(splits["train"]) == 0:
        raise SpecError("the train split is empty: add data or raise data.split[0]")
    sizes = {}
    for o in spec.head.outputs:
        col = columns[o.name]
        sizes[o.name] = len(data.classes[col]) if o.task == "classification" else 1
    stats = None
    if data.modality == "tabular":
        x = np.asarray(data.inputs, dtype=np.float32)[splits["train"]]
        stats = (x.mean(axis=0), x.var(axis=0))
    return PreparedData(data, splits, columns, sizes, stats)


def make_dataset(prepared: PreparedData, backbone: Any, split: str, batch_size: int,
                 seed: int, shuffle: bool, with_targets: bool = True,
                 images: np.ndarray | None = None,
                 sample_weights: dict[str, np.ndarray] | None = None) -> Any:
    """A batched, prefetched ``tf.data.Dataset`` of one split.

    Text goes through the backbone's keras-hub preprocessor after batching (as a
    hand-written keras-hub script would); images are decoded once, up front.

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

    Returns:
        A ``tf.data.Dataset``.
    """
    import tensorflow as tf

    data = prepared.data
    idx = prepared.splits[split]
    if data.modality == "text":
        x: Any = tf.constant(np.asarray(data.inputs, dtype=object)[idx].astype(str))
    elif data.modality == "image":
        x = images if images is not None else load_split_images(prepared, backbone, split)
    else:
        x = np.asarray(data.inputs, dtype=np.float32)[idx]
    if with_targets:
        y = {name: data.targets[col][idx] for name, col in prepared.output_columns.items()}
        if sample_weights:
            ds = tf.data.Dataset.from_tensor_slices((x, y, sample_weights))
        else:
            ds = tf.data.Dataset.from_tensor_slices((x, y))
    else:
        ds = tf.data.Dataset.from_tensor_slices(x)
    if shuffle:
        ds = ds.shuffle(len(idx), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if data.modality == "text":
        convert: Any = backbone.preprocessor
    elif data.modality == "image":
        def convert(im: Any) -> Any:
            return tf.cast(im, tf.float32)
    else:
        convert = None
    if convert is not None:
        ds = ds.map(lambda x, *rest: (convert(x), *rest) if rest else convert(x),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_split_images(prepared: PreparedData, backbone: Any, split: str) -> np.ndarray:
    """Decode the images of one split at the backbone's input size (uint8)."""
    h, w, c = backbone.image_shape
    paths = np.asarray(prepared.data.inputs, dtype=object)[prepared.splits[split]]
    return load_images([str(p) for p in paths], (h, w), channels=c)


def load_images_of_splits(prepared: PreparedData, backbone: Any,
                          splits: tuple[str, ...] = SPLITS) -> dict[str, np.ndarray]:
    """The decoded images of ``splits`` for image data; ``{}`` for text and tabular data."""
    if prepared.data.modality != "image":
        return {}
    return {s: load_split_images(prepared, backbone, s) for s in splits}
