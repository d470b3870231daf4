"""Custom Keras layers that ftstudio models are built from.

Every layer here is registered under the ``ftstudio`` package and has a ``get_config``, so a
``model.keras`` written by a run reloads with ``keras.saving.load_model(path, safe_mode=True)``
once this module is imported.

This module imports Keras at the top: import it only from inside engine functions.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

IMAGE_PREPROCESSING_MODES: tuple[str, ...] = ("none", "scale_0_1", "scale_-1_1", "caffe", "torch")
"""The pixel scaling modes :class:`ImagePreprocess` knows."""

_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="ftstudio")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean of token vectors over the positions where the padding mask is true.

    Called on ``[sequence, padding_mask]``: ``sequence`` is ``(batch, tokens, hidden)``,
    ``padding_mask`` is ``(batch, tokens)`` (bool or 0/1). Returns ``(batch, hidden)``.
    An example whose mask is all false pools to zeros.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = False

    def call(self, inputs: list[Any]) -> Any:
        """Pool ``inputs = [sequence, padding_mask]``."""
        sequence, padding_mask = inputs
        mask = ops.cast(padding_mask, sequence.dtype)
        mask = ops.expand_dims(mask, axis=-1)
        total = ops.sum(sequence * mask, axis=1)
        count = ops.maximum(ops.sum(mask, axis=1), 1.0)
        return total / count

    def compute_output_shape(self, input_shape: list[tuple[int | None, ...]]) -> tuple:
        """``(batch, hidden)`` from the sequence shape."""
        sequence_shape = input_shape[0]
        return (sequence_shape[0], sequence_shape[-1])

    def get_config(self) -> dict[str, Any]:
        """No settings besides the base layer's."""
        return super().get_config()


@keras.saving.register_keras_serializable(package="ftstudio")
class ClsPooling(keras.layers.Layer):
    """The vector of the first token (``[CLS]``): ``(batch, tokens, hidden) -> (batch, hidden)``."""

    def call(self, inputs: Any) -> Any:
        """Take token 0."""
        return inputs[:, 0, :]

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple:
        """``(batch, hidden)``."""
        return (input_shape[0], input_shape[-1])

    def get_config(self) -> dict[str, Any]:
        """No settings besides the base layer's."""
        return super().get_config()


@keras.saving.register_keras_serializable(package="ftstudio")
class ImagePreprocess(keras.layers.Layer):
    """Scales raw pixels (0..255, channels last, RGB) the way a backbone was trained.

    Args:
        mode: ``"none"`` (pass through), ``"scale_0_1"`` (``x / 255``), ``"scale_-1_1"``
            (``x / 127.5 - 1``), ``"caffe"`` (RGB -> BGR, minus the ImageNet BGR mean, like
            ``keras.applications.resnet50.preprocess_input``) or ``"torch"`` (``x / 255``, then
            ImageNet mean / std per channel).
        **kwargs: base layer arguments (``name``, ``dtype``...).

    Raises:
        ValueError: unknown ``mode``, or ``caffe`` / ``torch`` on images without 3 channels.
    """

    def __init__(self, mode: str = "none", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if mode not in IMAGE_PREPROCESSING_MODES:
            raise ValueError(f"unknown image preprocessing mode {mode!r}; use one of "
                             f"{', '.join(IMAGE_PREPROCESSING_MODES)}")
        self.mode = mode

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        """Check the channel count for the modes that need RGB."""
        if self.mode in ("caffe", "torch") and input_shape[-1] != 3:
            raise ValueError(f"image preprocessing {self.mode!r} needs 3 (RGB) channels, "
                             f"got {input_shape[-1]}")
        super().build(input_shape)

    def call(self, inputs: Any) -> Any:
        """Scale ``inputs`` (float pixels 0..255)."""
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "none":
            return x
        if self.mode == "scale_0_1":
            return x / 255.0
        if self.mode == "scale_-1_1":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            x = ops.flip(x, axis=-1)
            return x - ops.convert_to_tensor(_CAFFE_BGR_MEAN, dtype=self.compute_dtype)
        mean = ops.convert_to_tensor(_TORCH_MEAN, dtype=self.compute_dtype)
        std = ops.convert_to_tensor(_TORCH_STD, dtype=self.compute_dtype)
        return (x / 255.0 - mean) / std

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple:
        """Return the input shape unchanged."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """Return the base layer's settings plus ``mode``."""
        config = super().get_config()
        config["mode"] = self.mode
        return config
