"""LoRA adapters on keras-hub backbones (``backbone.lora_rank``).

keras-hub's ``Backbone.enable_lora(rank)`` adds low-rank matrices ``A`` (random) and
``B`` (zeros) beside the query and value kernels of every attention layer. Here only those
matrices learn (the kernels and biases stay as pretrained), so the adapters alone
(:func:`save_adapters`, a small ``adapters.lora.h5``) plus the pretrained backbone give back
the trained backbone.

Saving merges: Keras writes a LoRA layer's kernel as ``kernel + A @ B * alpha / rank`` and no
adapter, and a keras-hub backbone is rebuilt from its own config (which knows nothing of LoRA),
so ``model.keras`` and every export are plain models. A weights file written mid-run (the
phase backups) is merged the same way and loads back with ``A = B = 0``, from which LoRA
cannot learn again; :class:`ReviveAdapters` gives ``A`` fresh random values after such a
restore (the model's outputs do not change: ``B`` is zero).

This module imports Keras at the top: import it only from inside engine functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras

from ftstudio.errors import SpecError

__all__ = ["ADAPTERS_FILE", "ReviveAdapters", "enable_lora", "keep_only_adapters",
           "lora_backbone", "lora_layers", "revive_adapters", "save_adapters"]

ADAPTERS_FILE = "adapters.lora.h5"
"""The run folder's copy of the LoRA matrices alone (keras-hub ``load_lora_weights``)."""


def lora_layers(model: Any) -> list[Any]:
    """Every layer inside ``model`` with LoRA switched on."""
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is None:
        return []
    return [layer for layer in flatten(include_self=False, recursive=True)
            if getattr(layer, "lora_enabled", False)]


def enable_lora(model: Any, rank: int, label: str) -> int:
    """Switch LoRA of ``rank`` on in a keras-hub backbone; returns the adapted layer count.

    Raises:
        SpecError: the backbone is not a keras-hub one, or has no layer LoRA adapts.
    """
    if rank < 0:
        raise SpecError(f"backbone.lora_rank must be 0 (off) or more, got {rank}")
    if rank == 0:
        return 0
    if not hasattr(model, "enable_lora"):
        raise SpecError(f"backbone.lora_rank needs a keras-hub backbone (BERT, MiniLM, …); "
                        f"'{label}' is not one: set backbone.lora_rank to 0")
    try:
        model.enable_lora(int(rank))
    except ValueError as exc:
        raise SpecError(f"cannot put LoRA adapters on '{label}': {exc}") from exc
    count = len(lora_layers(model))
    if not count:
        raise SpecError(f"'{label}' has no attention layers LoRA can adapt: set "
                        f"backbone.lora_rank to 0")
    return count


def lora_backbone(model: Any) -> Any | None:
    """The keras-hub backbone with LoRA inside ``model`` (or ``model`` itself), if any."""
    flatten = getattr(model, "_flatten_layers", None)
    if flatten is None:
        return None
    for layer in flatten(include_self=True, recursive=True):
        if getattr(layer, "_lora_enabled_layers", None):
            return layer
    return None


def keep_only_adapters(base: Any) -> None:
    """In ``base``, let only the LoRA matrices of layers that may learn go on learning.

    Called after the freeze mode set the flags: an adapted layer inside a frozen block stays
    frozen; everything else in the backbone (kernels, biases, norms, embeddings) is frozen.
    """
    adapted = lora_layers(base)
    if not adapted:
        return
    on = [layer for layer in adapted if layer.trainable]
    for sub in base._flatten_layers(include_self=True, recursive=True):
        for variable in sub._trainable_variables:
            variable.trainable = False
    for layer in on:
        layer.lora_kernel_a.trainable = True
        layer.lora_kernel_b.trainable = True


def revive_adapters(model: Any) -> int:
    """Give ``A`` fresh random values where a merged restore left ``A = B = 0``.

    Returns:
        How many layers were revived.
    """
    revived = 0
    for layer in lora_layers(model):
        a, b = layer.lora_kernel_a, layer.lora_kernel_b
        if not (bool(keras.ops.all(a == 0)) and bool(keras.ops.all(b == 0))):
            continue
        a.assign(keras.initializers.HeUniform()(a.shape, dtype=a.dtype))
        revived += 1
    return revived


class ReviveAdapters(keras.callbacks.Callback):
    """After the backup restore at the start of a fit, make merged adapters learn again."""

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:  # noqa: D102
        revive_adapters(self.model)


def save_adapters(model: Any, path: Path) -> bool:
    """Write the LoRA matrices of ``model``'s backbone alone to ``path`` (``*.lora.h5``).

    Returns:
        Whether there were adapters to write.
    """
    backbone = lora_backbone(model)
    if backbone is None:
        return False
    backbone.save_lora_weights(str(path))
    return True
