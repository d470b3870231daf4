"""What every backbone loader shares: the :class:`Backbone` result, blocks, sizes, names.

This module imports Keras at the top: import it only from inside engine functions.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

import keras

from ftstudio.engine.bundled import APPLICATIONS, shipped_backbones
from ftstudio.spec import BackboneSpec

__all__ = [
    "APPLICATIONS", "DEFAULT_IMAGE_SIZE", "Backbone", "Modality", "applications_name",
    "group_blocks", "group_layer_names", "hub_preset_names", "image_shape", "is_network_error",
    "unknown_name_message",
]

Modality = Literal["text", "image", "tabular"]

DEFAULT_IMAGE_SIZE = 224
"""Image side used when neither the spec nor the model fixes one."""

_NETWORK_HINTS = ("url fetch failure", "name or service not known", "max retries exceeded",
                  "temporary failure in name resolution", "failed to resolve",
                  "connection", "network is unreachable", "timed out")


@dataclass
class Backbone:
    """A loaded backbone and everything the head and the data pipeline need to know about it."""

    model: keras.Model | None
    """The feature extractor; ``None`` when there is no backbone (tabular MLP)."""
    modality: Modality
    """The input kind the backbone takes."""
    preprocessor: Any | None = None
    """Text: the keras-hub preprocessor layer (``tf.string`` batch -> dict of token tensors)."""
    image_shape: tuple[int, int, int] | None = None
    """Images: ``(height, width, channels)`` the model takes."""
    preprocessing: str = "none"
    """Images: the resolved pixel scaling mode (see ``layers.ImagePreprocess``)."""
    blocks: list[tuple[str, list[str]]] = field(default_factory=list)
    """``(block name, layer names)`` bottom -> top, layer names of ``model``'s own layers."""
    description: str = ""
    """One line for logs and the window."""


# ------------------------------------------------------------------ names
def _normalise(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def applications_name(name: str) -> str | None:
    """Return the ``keras.applications`` function name for ``name`` (case, -, _ ignored).

    ``"mobilenet_v2"`` -> ``"MobileNetV2"``; ``None`` when it is no such architecture.
    """
    return {_normalise(n): n for n in APPLICATIONS}.get(_normalise(name))


def hub_preset_names() -> list[str]:
    """The keras-hub backbone preset names (empty when keras-hub cannot list them)."""
    try:
        import keras_hub
        return list(keras_hub.models.Backbone.presets)
    except Exception:  # noqa: BLE001 - presets are only used for hints
        return []


def unknown_name_message(name: str, kinds: str | None = None) -> str:
    """Say that no backbone is called ``name``, with close names as hints.

    Args:
        name: the unknown name.
        kinds: what was searched, in words (default: every kind of name).
    """
    candidates = {n.lower(): n for n in APPLICATIONS}
    if kinds is None:
        candidates.update({b.name.lower(): b.name for b in shipped_backbones()})
        candidates.update({n.lower(): n for n in hub_preset_names()})
    close = difflib.get_close_matches(name.lower(), list(candidates), n=4, cutoff=0.6)
    what = kinds or ("bundled model, keras.applications architecture, keras-hub preset or "
                     "model library entry")
    hint = (f"; did you mean {', '.join(repr(candidates[c]) for c in close)}?" if close
            else "; pick one from the model list or set backbone.path")
    return f"unknown backbone '{name}': no {what} has that name{hint}"


def is_network_error(exc: BaseException) -> bool:
    """Whether ``exc`` looks like a failed download (no network, DNS, timeout)."""
    text = f"{type(exc).__name__} {exc}".lower()
    return isinstance(exc, ConnectionError) or any(h in text for h in _NETWORK_HINTS)


# ------------------------------------------------------------------ sizes
def image_shape(model: keras.Model, spec: BackboneSpec) -> tuple[int, int, int]:
    """``(height, width, channels)``: the spec's size, else the model's, else 224x224."""
    shape = model.inputs[0].shape if getattr(model, "inputs", None) else (None,) * 4
    if isinstance(model.input, dict):
        shape = next(iter(model.input.values())).shape
    channels = shape[-1] if len(shape) == 4 and shape[-1] else 3
    if spec.image_size:
        height, width = int(spec.image_size[0]), int(spec.image_size[1])
    elif len(shape) == 4 and shape[1] and shape[2]:
        height, width = int(shape[1]), int(shape[2])
    else:
        height = width = DEFAULT_IMAGE_SIZE
    return (height, width, int(channels))


# ------------------------------------------------------------------ blocks
_BLOCK_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"^(conv\d+)_block\d+_", r"\1"),               # ResNet, DenseNet stages: conv2 ... conv5
    (r"^(stack\d+)_block\d+_", r"\1"),              # keras-hub ResNet stages: stack0 ...
    (r"^(block_\d+)_", r"\1"),                      # MobileNetV2: block_1 ... block_16
    (r"^(expanded_conv(?:_\d+)?)_", r"\1"),         # MobileNetV2 block 0, MobileNetV3 blocks
    (r"^(block\d+)[a-z]?_", r"\1"),                 # EfficientNet(V2), VGG, Xception
    (r"^conv_(?:dw|pw|pad)_(\d+)", r"block_\1"),    # MobileNet (v1)
    (r"_stage_(\d+)_", r"stage_\1"),                # ConvNeXt
    (r"^(.*(?:layer|block)_\d+)$", r"\1"),          # keras-hub transformer_layer_0 ...
)
_TOP_PATTERN = re.compile(r"^(?:top_|post_|out_relu|Conv_1(?:_|$)|conv_1(?:_|$))")


def _block_of(name: str) -> str | None:
    for pattern, repl in _BLOCK_PATTERNS:
        match = re.search(pattern, name)
        if match:
            return match.expand(repl)
    return None


def group_layer_names(layers: list[tuple[str, bool]],
                      stem: str = "stem") -> list[tuple[str, list[str]]]:
    """Group layer names into blocks, bottom -> top.

    Known naming schemes (ResNet ``conv2_block1_*`` -> ``conv2``, MobileNetV2 ``block_3_*`` ->
    ``block_3``, EfficientNet ``block2a_*`` -> ``block2``, keras-hub ``transformer_layer_0``...)
    give one block per stage; layers before the first block form ``stem``, layers after it join
    the block before them (or ``top`` for ``top_*`` / ``Conv_1`` / ``post_*`` layers). Without a
    known scheme every layer with weights starts a block of its own.

    Args:
        layers: ``(layer name, has weights)`` in model order (no input layers).
        stem: name of the block of the layers before the first block.

    Returns:
        ``[(block name, [layer names])]``; empty blocks are left out.
    """
    keys = [_block_of(name) for name, _ in layers]
    blocks: dict[str, list[str]] = {}
    if not any(keys):
        current = stem
        for name, weighted in layers:
            if weighted:
                current = name
            blocks.setdefault(current, []).append(name)
        return [(k, v) for k, v in blocks.items() if v]
    current = stem
    started = False
    for (name, _), key in zip(layers, keys, strict=True):
        if key is not None:
            current, started = key, True
        elif started and _TOP_PATTERN.match(name):
            current = "top"
        blocks.setdefault(current, []).append(name)
    return [(k, v) for k, v in blocks.items() if v]


def group_blocks(model: keras.Model, stem: str = "stem") -> list[tuple[str, list[str]]]:
    """:func:`group_layer_names` over ``model``'s own layers (input layers left out)."""
    layers = [(layer.name, bool(layer.weights)) for layer in model.layers
              if not isinstance(layer, keras.layers.InputLayer)]
    return group_layer_names(layers, stem=stem)
