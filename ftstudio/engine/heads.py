"""Heads: put pooling, the head layers and the outputs on a backbone (``build_model``).

The model takes raw inputs (token tensors, float pixels 0..255 or float features) and returns
a dict ``{OutputSpec.name: tensor}``, even with one output, so training, evaluation and
prediction handle one and several outputs the same way.

This module imports Keras at the top: import it only from inside engine functions.
"""

from __future__ import annotations

import re
from typing import Any

import keras
import numpy as np

from ftstudio.engine.augment import AUGMENT_LAYER_NAME, apply_augmentation
from ftstudio.engine.backbones import Backbone
from ftstudio.engine.freezing import freeze_batch_norm
from ftstudio.engine.layers import ClsPooling, ImagePreprocess, MaskedMeanPooling
from ftstudio.errors import SpecError
from ftstudio.spec import POOLINGS_BY_MODALITY, ExperimentSpec, HeadSpec, OutputSpec

TEXT_POOLINGS = POOLINGS_BY_MODALITY["text"]
IMAGE_POOLINGS = POOLINGS_BY_MODALITY["image"]

IMAGE_INPUT_NAME = "image"
"""Name of the image model's input (float32 pixels 0..255, ``(batch, h, w, channels)``)."""
FEATURES_INPUT_NAME = "features"
"""Name of the tabular model's input (float32 ``(batch, features)``)."""


# ------------------------------------------------------------------ outputs
def output_activation(output: OutputSpec, size: int) -> tuple[str, int]:
    """Resolve an output's activation and unit count.

    Args:
        output: the output's spec.
        size: number of classes (classification) or 1 (regression).

    Returns:
        ``(activation, units)``: ``("softmax", n)``, ``("sigmoid", 1)`` or ``("linear", 1)``.

    Raises:
        SpecError: sigmoid with more than two classes, fewer than two classes, or an
            activation that does not fit the task.
    """
    if output.task == "regression":
        if output.activation not in ("auto", "linear"):
            raise SpecError(f"output '{output.name}' is a regression: its activation must be "
                            f"'linear' or 'auto', not '{output.activation}'")
        return "linear", 1
    activation = "softmax" if output.activation == "auto" else output.activation
    if activation == "linear":
        raise SpecError(f"output '{output.name}' is a classification: use 'softmax', 'sigmoid' "
                        f"or 'auto', not 'linear'")
    if size < 2:
        raise SpecError(f"output '{output.name}' needs at least two classes, got {size}")
    if activation == "sigmoid":
        if size > 2:
            raise SpecError(f"output '{output.name}' has {size} classes: a sigmoid output is "
                            f"for two classes only; use 'softmax' (or 'auto')")
        return "sigmoid", 1
    return "softmax", size


def _output_plan(spec: ExperimentSpec,
                 output_sizes: dict[str, int]) -> list[tuple[OutputSpec, str, int]]:
    plan = []
    for output in spec.head.outputs:
        if output.name not in output_sizes:
            raise SpecError(f"no size given for output '{output.name}' (known: "
                            f"{', '.join(output_sizes) or 'none'})")
        activation, units = output_activation(output, int(output_sizes[output.name]))
        plan.append((output, activation, units))
    return plan


def loss_and_metrics(spec: ExperimentSpec, output_sizes: dict[str, int]
                     ) -> tuple[dict[str, Any], dict[str, float], dict[str, list[Any]]]:
    """Losses, loss weights and metrics for ``model.compile``, keyed by output name.

    Softmax outputs: sparse categorical cross-entropy + ``accuracy``; sigmoid (binary)
    outputs: binary cross-entropy + ``accuracy`` (binary accuracy); regression outputs:
    mean squared error + ``mae``. Targets are class indices (int) or values (float), shape
    ``(batch,)``. Metric objects are new on every call (they hold state).

    Returns:
        ``(losses, loss_weights, metrics)``.
    """
    losses: dict[str, Any] = {}
    weights: dict[str, float] = {}
    metrics: dict[str, list[Any]] = {}
    for output, activation, _ in _output_plan(spec, output_sizes):
        name = output.name
        weights[name] = float(output.loss_weight)
        if activation == "softmax":
            losses[name] = keras.losses.SparseCategoricalCrossentropy()
            metrics[name] = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        elif activation == "sigmoid":
            losses[name] = keras.losses.BinaryCrossentropy()
            metrics[name] = [keras.metrics.BinaryAccuracy(name="accuracy")]
        else:
            losses[name] = keras.losses.MeanSquaredError()
            metrics[name] = [keras.metrics.MeanAbsoluteError(name="mae")]
    return losses, weights, metrics


# ------------------------------------------------------------------ model
def build_model(backbone: Backbone, spec: ExperimentSpec, output_sizes: dict[str, int],
                feature_stats: tuple[np.ndarray, np.ndarray] | None = None) -> keras.Model:
    """Build the whole model: inputs, scaling, backbone, pooling, head layers, outputs.

    Args:
        backbone: from :func:`ftstudio.engine.backbones.load_backbone`.
        spec: the experiment (its ``head`` and ``backbone`` sections are used).
        output_sizes: output name -> number of classes (classification) or 1 (regression).
        feature_stats: tabular only: per-feature ``(mean, variance)`` of the training split
            for the ``Normalization`` layer; ``None`` leaves features unscaled.

    Returns:
        A Functional model. Inputs: text -> dict of the preprocessor's tensors
        (``token_ids``, ``padding_mask``, ``segment_ids`` when the backbone takes them, each
        ``(batch, sequence_length)``); images -> ``image``, float32 pixels 0..255;
        tabular -> ``features``, float32 ``(batch, features)``. Outputs: a dict keyed by
        ``OutputSpec.name``.

    Raises:
        SpecError: the head does not fit the backbone or the data.
    """
    plan = _output_plan(spec, output_sizes)
    head = spec.head
    if backbone.modality == "text":
        inputs, features = _text_trunk(backbone, spec, head)
    elif backbone.modality == "image":
        inputs, features = _image_trunk(backbone, head, spec)
    else:
        inputs, features = _tabular_trunk(backbone, spec, feature_stats)

    taken = _taken_names(inputs, backbone)
    for output, _, _ in plan:
        if output.name in taken or output.name.startswith("head_"):
            raise SpecError(f"output name '{output.name}' is taken by a layer of the model; "
                            f"rename the output")

    x = _head_layers(features, head)
    outputs = {}
    for output, activation, units in plan:
        outputs[output.name] = keras.layers.Dense(units, activation=activation, dtype="float32",
                                                  name=output.name)(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name=_model_name(spec.name))
    if backbone.model is not None:
        freeze_batch_norm(backbone.model)
    return model


def _head_layers(features: Any, head: HeadSpec) -> Any:
    """Put the head's dropout and layers (dense, dropout, batch norm) on the features."""
    x = features
    if head.dropout > 0:
        x = keras.layers.Dropout(head.dropout, name="head_dropout")(x)
    for i, layer in enumerate(head.layers):
        if layer.type == "dense":
            regularizer = (keras.regularizers.L1L2(l1=layer.l1, l2=layer.l2)
                           if layer.l1 > 0 or layer.l2 > 0 else None)
            activation = None if layer.activation in ("", "linear", "none") else layer.activation
            try:
                dense = keras.layers.Dense(layer.units, activation=activation,
                                           kernel_regularizer=regularizer,
                                           name=f"head_{i}_dense")
            except ValueError as exc:
                raise SpecError(f"head.layers[{i}].activation '{layer.activation}' is not a "
                                f"Keras activation (use relu, gelu, tanh, sigmoid, ...)") from exc
            x = dense(x)
        elif layer.type == "dropout":
            x = keras.layers.Dropout(layer.rate, name=f"head_{i}_dropout")(x)
        elif layer.type == "batch_norm":
            x = keras.layers.BatchNormalization(name=f"head_{i}_batch_norm")(x)
        else:  # pragma: no cover - the spec parser only lets the three types through
            raise SpecError(f"head.layers[{i}].type '{layer.type}' is unknown")
    return x


def _model_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    return clean or "model"


def _taken_names(inputs: Any, backbone: Backbone) -> set[str]:
    taken = {"head_dropout", "image_preprocess", "normalization", "pooling", "flatten",
             IMAGE_INPUT_NAME, FEATURES_INPUT_NAME, AUGMENT_LAYER_NAME}
    if isinstance(inputs, dict):
        taken.update(inputs)
    if backbone.model is not None:
        taken.add(backbone.model.name)
    return taken


def _text_trunk(backbone: Backbone, spec: ExperimentSpec,
                head: HeadSpec) -> tuple[dict[str, Any], Any]:
    model = backbone.model
    if model is None or not isinstance(model.input, dict):
        raise SpecError("text data needs a text backbone (a keras-hub model such as minilm)")
    pooling = head.pooling
    if pooling not in TEXT_POOLINGS:
        raise SpecError(f"head.pooling '{pooling}' is for images; for text use "
                        f"'mean', 'cls' or 'pooled' (or 'auto')")
    length = getattr(backbone.preprocessor, "sequence_length", None) or \
        spec.backbone.sequence_length
    if spec.training.length_grouping:  # batches padded to their own longest text
        length = None
    inputs = {key: keras.Input(shape=(length,), name=key,
                               dtype="bool" if key == "padding_mask" else "int32")
              for key in model.input}
    out = model(inputs)
    if isinstance(out, dict):
        sequence = out.get("sequence_output")
        pooled = out.get("pooled_output")
    else:
        sequence, pooled = out, None
    if pooling == "auto":
        pooling = "mean"
    if pooling == "pooled":
        if pooled is None:
            raise SpecError("this backbone has no pooled output; set head.pooling to "
                            "'mean' or 'cls'")
        return inputs, pooled
    if sequence is None or len(sequence.shape) != 3:
        raise SpecError("this backbone gives no token sequence to pool; set head.pooling "
                        "to 'pooled'")
    if pooling == "cls":
        return inputs, ClsPooling(name="pooling")(sequence)
    if "padding_mask" in inputs:
        return inputs, MaskedMeanPooling(name="pooling")([sequence, inputs["padding_mask"]])
    return inputs, keras.layers.GlobalAveragePooling1D(name="pooling")(sequence)


def _image_trunk(backbone: Backbone, head: HeadSpec,
                 spec: ExperimentSpec) -> tuple[Any, Any]:
    model = backbone.model
    if model is None or backbone.image_shape is None:
        raise SpecError("image data needs an image backbone (e.g. MobileNetV2)")
    pooling = head.pooling
    if pooling not in IMAGE_POOLINGS:
        raise SpecError(f"head.pooling '{pooling}' is for text; for images use "
                        f"'avg', 'max' or 'flatten' (or 'auto')")
    channels = backbone.image_shape[2]
    if backbone.preprocessing in ("caffe", "torch") and channels != 3:
        raise SpecError(f"backbone.preprocessing '{backbone.preprocessing}' needs RGB images; "
                        f"this backbone takes {channels} channel(s)")
    image = keras.Input(shape=backbone.image_shape, dtype="float32", name=IMAGE_INPUT_NAME)
    x = apply_augmentation(spec, image)  # raw pixels, training only (engine.augment)
    x = ImagePreprocess(backbone.preprocessing, name="image_preprocess")(x)
    x = model(x)
    if isinstance(x, (dict, list, tuple)):
        raise SpecError("this image backbone gives several outputs; cut it at one layer with "
                        "backbone.cut_layer")
    return image, _pool(x, pooling)


def _pool(x: Any, pooling: str) -> Any:
    rank = len(x.shape)
    if rank == 2:
        return x
    if pooling == "flatten":
        return keras.layers.Flatten(name="pooling")(x)
    if rank == 4:
        layer = (keras.layers.GlobalMaxPooling2D if pooling == "max"
                 else keras.layers.GlobalAveragePooling2D)
    elif rank == 3:
        layer = (keras.layers.GlobalMaxPooling1D if pooling == "max"
                 else keras.layers.GlobalAveragePooling1D)
    else:
        return keras.layers.Flatten(name="pooling")(x)
    return layer(name="pooling")(x)


def _tabular_trunk(backbone: Backbone, spec: ExperimentSpec,
                   feature_stats: tuple[np.ndarray, np.ndarray] | None) -> tuple[Any, Any]:
    mean: np.ndarray | None = None
    variance: np.ndarray | None = None
    if feature_stats is not None:
        mean = np.asarray(feature_stats[0], dtype="float32").reshape(-1)
        variance = np.asarray(feature_stats[1], dtype="float32").reshape(-1)
        if mean.shape != variance.shape:
            raise SpecError(f"feature statistics do not match: {mean.size} means and "
                            f"{variance.size} variances")
        n_features = int(mean.size)
    else:
        n_features = len(spec.data.feature_columns or [])
    if n_features < 1:
        raise SpecError("tabular data needs at least one feature column "
                        "(data.feature_columns)")
    features = keras.Input(shape=(n_features,), dtype="float32", name=FEATURES_INPUT_NAME)
    x = features
    if mean is not None:
        x = keras.layers.Normalization(mean=mean, variance=variance, name="normalization")(x)
    if backbone.model is not None:
        width = backbone.model.inputs[0].shape[-1]
        if width is not None and width != n_features:
            raise SpecError(f"the backbone takes {width} features but the data has "
                            f"{n_features}; pick matching feature columns")
        x = backbone.model(x)
        if len(x.shape) > 2:
            x = keras.layers.Flatten(name="flatten")(x)
    return features, x
