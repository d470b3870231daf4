"""Why this prediction: Grad-CAM for images, integrated gradients on embeddings for text.

* Images (:func:`image_saliency`): Grad-CAM (Selvaraju et al., 2017) on the model's last
  feature map (the backbone's output before pooling): each channel weighted by the mean
  gradient of the class score, summed, rectified and resized to the image. A model with no
  feature map (no conv backbone) gets a gradient saliency instead: ``|d score / d pixel|``,
  the largest over the colour channels.
* Text (:func:`token_attributions`): integrated gradients (Sundararajan et al., 2017) on the
  token embeddings, from an all-zero embedding to the real one in ``steps`` steps (batched:
  one forward and one backward pass), summed over the embedding width: a signed weight per
  token (positive: pushes towards the class).

:func:`explain` runs either on one example through a loaded run (as try-it does), a few
seconds on CPU. TensorFlow and Keras are imported inside the functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftstudio.engine.artifacts import LoadedRun
from ftstudio.engine.tryit import model_input, try_example
from ftstudio.errors import DataError

__all__ = ["Explanation", "explain", "image_saliency", "token_attributions",
           "token_embedding_layer"]


EXPLAIN_STEPS = 16
"""Integrated-gradient steps for one explained text (a batch of this many forward passes)."""


def _pick(outputs: Any, name: str | None) -> Any:
    """One output tensor of a model call (a dict, a list or one tensor)."""
    if isinstance(outputs, dict):
        return outputs[name] if name in outputs else next(iter(outputs.values()))
    if isinstance(outputs, (list, tuple)):
        return outputs[0]
    return outputs


def _class_score(out: Any, class_index: int) -> Any:
    """The probability (or score) of ``class_index`` per example; sigmoid outputs too."""
    if out.shape[-1] == 1:
        return out[:, 0] if class_index == 1 else 1.0 - out[:, 0]
    return out[:, class_index]


def _outer_output(layer: Any) -> Any:
    """A layer's output tensor in the model that calls it.

    A nested model (the backbone) has its own graph: its ``output`` belongs to that graph,
    while its call in the outer model is its last inbound node.
    """
    nodes = getattr(layer, "_inbound_nodes", None)
    if nodes and nodes[-1].output_tensors:
        return nodes[-1].output_tensors[0]
    return layer.output


def _feature_map_layer(model: Any) -> Any | None:
    """The last top-level layer giving a 2-D feature map ``(batch, h, w, channels)``."""
    import keras

    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        shape = getattr(_outer_output(layer), "shape", None)
        if shape is not None and len(shape) == 4 and (shape[1] or 0) > 1:
            return layer
    return None


def image_saliency(model: Any, image: np.ndarray, class_index: int,
                   output: str | None = None) -> tuple[np.ndarray, str]:
    """Where in the image the model looks for ``class_index``.

    Args:
        model: the run's model (raw pixels in).
        image: ``(h, w, c)`` pixels as the model takes them.
        class_index: the class to explain.
        output: the output's name (several outputs).

    Returns:
        ``(map (h, w) scaled to [0, 1], method)``.
    """
    import keras
    import tensorflow as tf

    x = tf.convert_to_tensor(np.asarray(image, dtype=np.float32)[None])
    layer = _feature_map_layer(model)
    head = _outer_output(model.get_layer(output)) if output and _has_layer(model, output) \
        else model.outputs[0]
    if layer is not None:
        grad_model = keras.Model(model.inputs, [_outer_output(layer), head])
        with tf.GradientTape() as tape:
            fmap, out = grad_model(x, training=False)
            score = _class_score(out, class_index)
        grads = tape.gradient(score, fmap)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * fmap, axis=-1))[0]
        resized = tf.image.resize(cam[..., None], image.shape[:2], method="bilinear")[..., 0]
        return _unit(np.asarray(resized)), f"Grad-CAM on {layer.name}"
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = _class_score(_pick(model(x, training=False), output), class_index)
    grads = np.abs(np.asarray(tape.gradient(score, x))[0]).max(axis=-1)
    return _unit(grads), "gradient saliency (the model has no feature map)"


def _has_layer(model: Any, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def _unit(values: np.ndarray) -> np.ndarray:
    values = np.nan_to_num(np.asarray(values, dtype=np.float64))
    top = values.max() if values.size else 0.0
    return (values / top if top > 0 else np.zeros_like(values)).astype(np.float32)


def token_embedding_layer(model: Any) -> Any:
    """The model's token embedding: the embedding layer with the largest vocabulary.

    Raises:
        DataError: the model has no embedding layer.
    """
    import keras

    found = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
             if isinstance(layer, keras.layers.Embedding)]
    if not found:
        raise DataError("this model has no token embedding to attribute to")
    return max(found, key=lambda layer: int(layer.input_dim))


def token_attributions(model: Any, inputs: Any, class_index: int, output: str | None = None,
                       steps: int = 24) -> np.ndarray:
    """Integrated gradients of the class score on each token's embedding.

    Args:
        model: a text model (token ids in, through a ``keras.layers.Embedding``).
        inputs: one example as the model takes it (token ids, or the preprocessor's dict),
            batch size 1.
        class_index: the class to explain.
        output: the output's name (several outputs).
        steps: interpolation steps from the zero embedding.

    Returns:
        ``(sequence length,)`` signed attributions.
    """
    import tensorflow as tf

    layer = token_embedding_layer(model)
    alphas = tf.reshape((tf.range(steps, dtype=tf.float32) + 0.5) / steps, (steps, 1, 1))
    batch = tf.nest.map_structure(lambda t: tf.repeat(tf.convert_to_tensor(t), steps, axis=0),
                                  inputs)
    seen: dict[str, Any] = {}
    original = layer.call

    def scaled_call(*args: Any, **kwargs: Any) -> Any:
        embedded = original(*args, **kwargs)
        if kwargs.get("reverse"):
            return embedded
        seen["embedded"] = embedded
        seen["scaled"] = embedded * tf.cast(alphas, embedded.dtype)
        tape.watch(seen["scaled"])
        return seen["scaled"]

    object.__setattr__(layer, "call", scaled_call)
    try:
        with tf.GradientTape() as tape:
            score = tf.reduce_sum(_class_score(_pick(model(batch, training=False), output),
                                               class_index))
        grads = tape.gradient(score, seen["scaled"])
    finally:
        object.__delattr__(layer, "call")
    mean_grad = tf.reduce_mean(grads, axis=0)
    return np.asarray(tf.reduce_sum(seen["embedded"][0] * mean_grad, axis=-1), np.float64)


@dataclass
class Explanation:
    """Why a run predicted what it did for one example.

    Attributes:
        output: the output explained.
        predicted: the predicted class (the one explained).
        probability: its probability.
        method: how (``Grad-CAM on …``, ``integrated gradients …``).
        heatmap: images: ``(h, w)`` in ``[0, 1]`` at the model's input size.
        tokens: text: ``[(token, attribution), …]`` without padding and the tokenizer's
            markers (``[CLS]``, ``[SEP]`` …).
        seconds: what it took.
    """

    output: str
    predicted: str
    probability: float
    method: str
    heatmap: np.ndarray | None = None
    tokens: list[tuple[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def explain(loaded: LoadedRun, *, text: str | None = None, image: str | Path | None = None,
            output: str | None = None) -> Explanation:
    """Explain a run's prediction for one text or image (its most probable class).

    Raises:
        DataError: a tabular run, or an example the run cannot read.
    """
    started = time.perf_counter()
    spec = loaded.spec
    if spec.modality == "tabular":
        raise DataError("saliency is for image and text runs")
    name = output or spec.head.outputs[0].name
    answer = try_example(loaded, text=text, image=image, top_k=1)[name]
    if answer["task"] != "classification":
        raise DataError("saliency explains classification outputs")
    predicted, probability = answer["top"][0]
    classes = loaded.labels.get(name) or []
    index = classes.index(predicted) if predicted in classes else int(predicted)
    x = model_input(loaded, text, image, None)
    result = Explanation(name, str(predicted), float(probability), "")
    if spec.modality == "image":
        result.heatmap, result.method = image_saliency(loaded.model, x[0], index, name)
    else:
        try:  # a model built for any length reads just the real tokens: much faster
            trimmed = _without_padding(x)
            scores = token_attributions(loaded.model, trimmed, index, name, EXPLAIN_STEPS)
            x = trimmed
        except ValueError:  # built for its fixed sequence length: the padded input
            scores = token_attributions(loaded.model, x, index, name, EXPLAIN_STEPS)
        result.tokens = _token_texts(loaded, x, scores)
        result.method = f"integrated gradients on the token embeddings ({EXPLAIN_STEPS} steps)"
    result.seconds = time.perf_counter() - started
    return result


def _without_padding(x: Any) -> Any:
    """The tokenised example cut after its last real token (padding costs time, adds nothing)."""
    mask = x.get("padding_mask") if isinstance(x, dict) else None
    if mask is None:
        return x
    length = int(np.asarray(mask)[0].astype(bool).sum())
    return {k: np.asarray(v)[:, :max(1, length)] for k, v in x.items()}


def _token_texts(loaded: LoadedRun, x: Any, scores: np.ndarray) -> list[tuple[str, float]]:
    """Each real (not padding) token of the example with its attribution."""
    ids = np.asarray(x["token_ids"])[0]
    mask = np.asarray(x.get("padding_mask", np.ones_like(ids)))[0].astype(bool)
    tokenizer = getattr(loaded.backbone.preprocessor, "tokenizer", None)
    words = [str(tokenizer.id_to_token(int(t))) if tokenizer is not None else str(int(t))
             for t in ids]
    # the markers the tokenizer adds ([CLS], [SEP], <s> …) are not the user's words
    markers = {str(t) for t in getattr(tokenizer, "special_tokens", None) or []
               if "unk" not in str(t).lower()}
    return [(w, float(s)) for w, s, keep in zip(words, scores, mask, strict=False)
            if keep and w not in markers]
