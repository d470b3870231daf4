"""Which layers learn: the layer table for the window and the freezing modes.

* :func:`describe_layers` lists every layer (nested models and backbones included) as
  :class:`LayerInfo` rows for the layer tree.
* :func:`apply_freeze` sets ``layer.trainable`` from a :class:`~ftstudio.spec.FreezeSpec`.
  BatchNormalization layers of the backbone always stay frozen, which in Keras 3 also runs
  them in inference mode (their moving statistics stay as pretrained). Recompile after it.

This module imports Keras at the top: import it only from inside engine functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import keras

from ftstudio.engine.lora import keep_only_adapters
from ftstudio.errors import SpecError
from ftstudio.spec import FreezeSpec

if TYPE_CHECKING:
    from ftstudio.engine.backbones import Backbone


@dataclass
class LayerInfo:
    """One row of the layer table."""

    name: str
    type: str
    """Class name (``Dense``, ``TransformerEncoder``, ``Functional``...)."""
    output_shape: str
    """Readable, e.g. ``(None, 5, 5, 1280)``; ``?`` when unknown."""
    params: int
    """All weights of the layer (nested layers included), trainable or not."""
    trainable: bool
    """Whether the layer learns: its own flag and all of its parents' flags are on."""
    block: str | None
    """Backbone block (``Backbone.blocks``) the layer belongs to; ``None`` outside them."""
    depth: int
    """0 for the model's own layers, 1 inside a nested model (the backbone), ..."""


# ------------------------------------------------------------------ walking
def _walk(model: keras.Model, depth: int = 0,
          parent_trainable: bool = True) -> Iterator[tuple[keras.layers.Layer, int, bool]]:
    """Yield ``(layer, depth, effective trainable)``, parents before their nested layers."""
    for layer in model.layers:
        trainable = parent_trainable and bool(layer.trainable)
        yield layer, depth, trainable
        if isinstance(layer, keras.Model):
            yield from _walk(layer, depth + 1, trainable)


def walk_layers(model: keras.Model) -> Iterator[tuple[keras.layers.Layer, int]]:
    """Yield ``(layer, depth)`` for every layer, nested models opened, parents first."""
    for layer, depth, _ in _walk(model):
        yield layer, depth


def all_sublayers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """Return ``layer`` and every layer tracked inside it, at any depth."""
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is not None:
        return list(flatten(include_self=True, recursive=True))
    found = [layer]  # pragma: no cover - Keras 3 always has _flatten_layers
    for sub in getattr(layer, "layers", []):
        found.extend(all_sublayers(sub))
    return found


def _shape_text(shape: Any) -> str:
    if isinstance(shape, dict):
        return ", ".join(f"{k}: {_shape_text(v)}" for k, v in shape.items())
    if isinstance(shape, (list, tuple)) and shape and not all(
            s is None or isinstance(s, int) for s in shape):
        return ", ".join(_shape_text(s) for s in shape)
    try:
        return "(" + ", ".join("None" if s is None else str(int(s)) for s in shape) + ")"
    except (TypeError, ValueError):
        return "?"


def _output_shape(layer: keras.layers.Layer) -> str:
    try:
        output = layer.output
    except (AttributeError, ValueError, RuntimeError):
        return "?"
    try:
        if isinstance(output, dict):
            return _shape_text({k: tuple(v.shape) for k, v in output.items()})
        if isinstance(output, (list, tuple)):
            return _shape_text([tuple(o.shape) for o in output])
        return _shape_text(tuple(output.shape))
    except (AttributeError, TypeError):
        return "?"


def _params(layer: keras.layers.Layer) -> int:
    try:
        return int(layer.count_params())
    except ValueError:  # not built
        return 0


# ------------------------------------------------------------------ public API
def describe_layers(model: keras.Model,
                    blocks: list[tuple[str, list[str]]] | None = None) -> list[LayerInfo]:
    """List every layer of ``model``, nested models (the backbone) opened in place.

    Args:
        model: the whole model from ``build_model`` or a bare backbone model.
        blocks: ``Backbone.blocks``; a nested layer without a block of its own takes its
            parent's block.

    Returns:
        Rows in model order, each parent right before its nested layers.
    """
    block_of = {name: block for block, names in (blocks or []) for name in names}
    rows: list[LayerInfo] = []
    parent_blocks: dict[int, str | None] = {}
    for layer, depth, trainable in _walk(model):
        block = block_of.get(layer.name)
        if block is None and depth > 0:
            block = parent_blocks.get(depth - 1)
        parent_blocks[depth] = block
        rows.append(LayerInfo(name=layer.name, type=type(layer).__name__,
                              output_shape=_output_shape(layer), params=_params(layer),
                              trainable=trainable, block=block, depth=depth))
    return rows


def count_params(model: keras.Model) -> tuple[int, int]:
    """Return ``(trainable, total)`` parameter counts (total includes BN moving statistics)."""
    seen: set[int] = set()
    trainable = 0
    for weight in model.trainable_weights:
        if id(weight) not in seen:
            seen.add(id(weight))
            trainable += int(_size(weight.shape))
    return trainable, int(model.count_params())


def _size(shape: Any) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def set_trainable(layer: keras.layers.Layer, value: bool) -> None:
    """Set ``trainable`` on ``layer`` and every layer inside it, at any depth.

    Plain ``layer.trainable = True`` is not enough with the TensorFlow backend: its
    ``__setattr__`` skips the assignment when the value is already the same object
    (``True is True``), so a model that is trainable itself does not re-enable nested layers
    that were frozen one by one.
    """
    setter = keras.layers.Layer.trainable.fset
    for sub in all_sublayers(layer):
        setter(sub, bool(value))


def freeze_batch_norm(layer: keras.layers.Layer) -> int:
    """Set every BatchNormalization layer inside ``layer`` to ``trainable=False``.

    Returns:
        How many BatchNormalization layers were found.
    """
    count = 0
    for sub in all_sublayers(layer):
        if isinstance(sub, keras.layers.BatchNormalization):
            keras.layers.Layer.trainable.fset(sub, False)
            count += 1
    return count


def apply_freeze(model: keras.Model, backbone: Backbone, freeze: FreezeSpec,
                 head_only: bool = False, top_blocks: int | None = None) -> int:
    """Set which layers of ``model`` learn.

    Modes: ``all`` freezes the whole backbone (linear probe); ``none`` trains all of it;
    ``last_n`` trains the top ``freeze.last_n`` blocks of ``backbone.blocks`` and freezes the
    rest (0 = like ``all``); ``layers`` trains everything except the layers that
    ``freeze.layers`` maps to ``false`` (names from :func:`describe_layers`, any depth).
    Head layers (everything outside the backbone) always learn and backbone
    BatchNormalization layers never do. In a backbone with LoRA adapters only the adapters
    of the layers the mode lets learn do. Recompile the model afterwards.

    Args:
        model: the model from ``build_model`` over ``backbone``.
        backbone: its backbone (``backbone.model`` must be the nested model inside ``model``).
        freeze: the freezing spec.
        head_only: freeze the whole backbone whatever the mode (phase 1 of the two-phase
            recipe).
        top_blocks: also freeze every block but the top ``top_blocks`` (a stage of gradual
            unfreezing); ``None`` leaves the mode as it is.

    Returns:
        The trainable parameter count afterwards.

    Raises:
        SpecError: ``layers`` mode names layers the model does not have.
    """
    set_trainable(model, True)
    base = backbone.model
    if base is None:
        return count_params(model)[0]
    if head_only or freeze.mode == "all":
        set_trainable(base, False)
    elif freeze.mode == "last_n":
        _freeze_last_n(base, backbone.blocks, freeze.last_n)
    elif freeze.mode == "layers":
        _freeze_layers(model, base, freeze.layers)
    elif freeze.mode != "none":
        raise SpecError(f"freeze.mode '{freeze.mode}' is unknown: use all, none, last_n "
                        f"or layers")
    if top_blocks is not None and not head_only:
        _freeze_last_n(base, backbone.blocks, top_blocks)
    freeze_batch_norm(base)
    keep_only_adapters(base)
    _freeze_unused_pooler(model, base)
    return count_params(model)[0]


def _freeze_unused_pooler(model: keras.Model, base: keras.Model) -> None:
    """Freeze a keras-hub ``pooled_dense`` the head does not use (mean / cls pooling).

    Its weights get no gradient then; leaving them trainable only makes Keras warn on every
    compile and inflates the trainable count.
    """
    names = {layer.name for layer in model.layers}
    base_names = {layer.name for layer in base.layers}
    if "pooling" in names and "pooled_dense" in base_names:
        set_trainable(base.get_layer("pooled_dense"), False)


def _freeze_last_n(base: keras.Model, blocks: list[tuple[str, list[str]]], last_n: int) -> None:
    if not blocks:
        set_trainable(base, last_n > 0)
        return
    if last_n >= len(blocks):
        return
    keep = {name for _, names in blocks[len(blocks) - last_n:] for name in names} \
        if last_n > 0 else set()
    for layer in base.layers:
        if layer.name not in keep:
            set_trainable(layer, False)


def _freeze_layers(model: keras.Model, base: keras.Model, wanted: dict[str, bool]) -> None:
    inside = {layer.name: layer for layer, _, _ in _walk(base)}
    inside.setdefault(base.name, base)
    known = {layer.name for layer, _, _ in _walk(model)}
    unknown = [name for name in wanted if name not in inside and name not in known]
    if unknown:
        examples = [layer.name for layer, _, _ in _walk(base) if layer.weights][-6:]
        raise SpecError(f"freeze.layers names layers the model does not have: "
                        f"{', '.join(unknown[:5])}; valid names include {', '.join(examples)}")
    ordered = [layer for layer, _, _ in _walk(base) if layer.name in wanted]
    if base.name in wanted:
        set_trainable(base, wanted[base.name])
    for layer in ordered:
        set_trainable(layer, wanted[layer.name])
