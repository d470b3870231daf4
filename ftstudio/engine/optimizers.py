"""Discriminative learning rates and optimizer state kept across recompiles.

* :func:`learning_rate_factors` turns ``freeze.layer_decay`` and ``freeze.lr_multipliers``
  into one factor per model variable.
* :func:`with_lr_factors` swaps a plain Keras optimizer for its ``Scaled*`` twin, which
  multiplies each variable's *update* (learning rate and decoupled weight decay) by its
  factor. Scaling the gradient instead would do nothing under Adam / AdamW / RMSprop, which
  divide the gradient by its own running scale; a factor of 0 leaves the variable exactly as
  it was.
* :func:`carry_state` moves the optimizer state (moments, step count) of the variables that
  already learned into the optimizer of the next phase (gradual unfreezing).

The ``Scaled*`` optimizers are registered (package ``ftstudio``) and serialise their factors
by variable path, so ``model.keras`` and the phase backups hold them like any optimizer.
This module imports Keras at the top: import it only from inside engine functions.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import keras

from ftstudio.engine.freezing import all_sublayers, walk_layers
from ftstudio.errors import SpecError
from ftstudio.spec import FreezeSpec

if TYPE_CHECKING:
    from ftstudio.engine.backbone_base import Backbone

__all__ = ["ScaledAdam", "ScaledAdamW", "ScaledAdagrad", "ScaledRMSprop", "ScaledSGD",
           "carry_state", "check_rate_settings", "learning_rate_factors", "slot_lists",
           "with_lr_factors"]

VariableFactors = list[tuple[Any, float]]
"""``(model variable, factor)`` pairs for the variables whose factor is not 1."""


class _ScaledUpdates:
    """Mixin for a Keras optimizer: each variable's update times its own factor.

    Args:
        lr_factors: variable path -> factor (1 when a variable is not named).
        **kwargs: the optimizer's own arguments.
    """

    # provided by the Keras optimizer this is mixed into
    learning_rate: Any
    weight_decay: Any
    _var_key: Any

    def __init__(self, *args: Any, lr_factors: dict[str, float] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lr_factors = {str(k): float(v) for k, v in (lr_factors or {}).items()}
        self._factor_of_id: dict[int, float] = {}
        self._factor_of_key: dict[Any, float] = {}

    def set_variable_factors(self, pairs: VariableFactors) -> None:
        """Name the variables by object (paths can repeat across nested models)."""
        self._factor_of_id = {id(v): float(f) for v, f in pairs}
        self.lr_factors = {v.path: float(f) for v, f in pairs}

    def build(self, variables: list[Any]) -> None:  # noqa: D102
        super().build(variables)  # type: ignore[misc]
        self._factor_of_key = {
            self._var_key(v): self._factor_of_id.get(id(v), self.lr_factors.get(v.path, 1.0))
            for v in variables}

    def factor(self, variable: Any) -> float:
        """The update factor of ``variable`` (a model variable or its backend variable)."""
        return self._factor_of_key.get(self._var_key(variable), 1.0)

    def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> Any:  # noqa: D102
        factor = self.factor(variable)
        if factor == 0.0:
            return None  # the variable and its optimizer state stay exactly as they are
        if factor != 1.0:
            learning_rate = keras.ops.multiply(learning_rate, factor)
        return super().update_step(gradient, variable, learning_rate)  # type: ignore[misc]

    def _apply_weight_decay(self, variables: list[Any]) -> None:
        """Decoupled weight decay (AdamW) at each variable's own rate.

        The optimizer's own decay runs once per group of equal factors with its (traced,
        Python-side) rate scaled, so a distribution strategy is honoured as before.
        """
        if self.weight_decay is None:
            return
        groups: dict[float, list[Any]] = {}
        for variable in variables:
            groups.setdefault(self.factor(variable), []).append(variable)
        base = self.weight_decay
        try:
            for factor, group in groups.items():
                if factor != 0.0:
                    self.weight_decay = base * factor
                    super()._apply_weight_decay(group)  # type: ignore[misc]
        finally:
            self.weight_decay = base

    def get_config(self) -> dict[str, Any]:  # noqa: D102
        config: dict[str, Any] = super().get_config()  # type: ignore[misc]
        config["lr_factors"] = dict(self.lr_factors)
        return config


@keras.saving.register_keras_serializable(package="ftstudio")
class ScaledAdam(_ScaledUpdates, keras.optimizers.Adam):
    """Adam with a learning-rate factor per variable."""


@keras.saving.register_keras_serializable(package="ftstudio")
class ScaledAdamW(_ScaledUpdates, keras.optimizers.AdamW):
    """AdamW with a learning-rate (and weight-decay) factor per variable."""


@keras.saving.register_keras_serializable(package="ftstudio")
class ScaledSGD(_ScaledUpdates, keras.optimizers.SGD):
    """SGD with a learning-rate factor per variable."""


@keras.saving.register_keras_serializable(package="ftstudio")
class ScaledAdagrad(_ScaledUpdates, keras.optimizers.Adagrad):
    """Adagrad with a learning-rate factor per variable."""


@keras.saving.register_keras_serializable(package="ftstudio")
class ScaledRMSprop(_ScaledUpdates, keras.optimizers.RMSprop):
    """RMSprop with a learning-rate factor per variable."""


_SCALED: dict[type, type] = {
    keras.optimizers.AdamW: ScaledAdamW, keras.optimizers.Adam: ScaledAdam,
    keras.optimizers.SGD: ScaledSGD, keras.optimizers.Adagrad: ScaledAdagrad,
    keras.optimizers.RMSprop: ScaledRMSprop}


# ------------------------------------------------------------------ the factors
def check_rate_settings(freeze: FreezeSpec) -> None:
    """Refuse rate settings that make no sense (negative, not finite, decay above 1).

    Raises:
        SpecError: naming the key and what is allowed.
    """
    if not (0.0 < freeze.layer_decay <= 1.0):
        raise SpecError(f"freeze.layer_decay must be above 0 and at most 1 (1 = off), got "
                        f"{freeze.layer_decay}")
    for name, factor in freeze.lr_multipliers.items():
        if not (math.isfinite(factor) and factor >= 0):
            raise SpecError(f"freeze.lr_multipliers['{name}'] must be 0 or more, got {factor}")
    if freeze.gradual_unfreeze_epochs < 0:
        raise SpecError("freeze.gradual_unfreeze_epochs must be 0 (off) or more")


def learning_rate_factors(model: keras.Model, backbone: Backbone,
                          freeze: FreezeSpec) -> VariableFactors:
    """Each variable's learning-rate factor under ``freeze`` (only those that are not 1).

    The top backbone block learns at ``layer_decay``, the one below at ``layer_decay ** 2``
    and so on (the head and backbone layers outside the blocks at 1). A name in
    ``lr_multipliers`` (a block, or a layer at any depth: the innermost named one wins)
    multiplies that.

    Raises:
        SpecError: a name that is neither a block nor a layer of the model, or a bad value.
    """
    check_rate_settings(freeze)
    if freeze.layer_decay == 1.0 and not freeze.lr_multipliers:
        return []
    blocks = backbone.blocks if backbone.model is not None else []
    layers = {layer.name: layer for layer, _ in walk_layers(model)}
    base_layers = {layer.name: layer for layer, _ in walk_layers(backbone.model)} \
        if backbone.model is not None else {}
    decay: dict[int, float] = {}
    named: dict[int, float] = {}
    for i, (block, names) in enumerate(blocks):
        for layer in (base_layers[n] for n in names if n in base_layers):
            for v in layer.weights:
                decay[id(v)] = freeze.layer_decay ** (len(blocks) - i)
                if block in freeze.lr_multipliers:
                    named[id(v)] = freeze.lr_multipliers[block]
    block_names = {b for b, _ in blocks}
    unknown = [n for n in freeze.lr_multipliers if n not in block_names and n not in layers]
    if unknown:
        raise SpecError(f"freeze.lr_multipliers names what the model does not have: "
                        f"{', '.join(unknown[:5])}; use block names "
                        f"({', '.join(b for b, _ in blocks[-4:]) or 'none'}) or layer names")
    for layer, _ in walk_layers(model):  # outer layers first: inner names override
        if layer.name in freeze.lr_multipliers and layer.name not in block_names:
            for sub in all_sublayers(layer):
                for v in sub.weights:
                    named[id(v)] = freeze.lr_multipliers[layer.name]
    out: VariableFactors = []
    for v in model.weights:
        factor = decay.get(id(v), 1.0) * named.get(id(v), 1.0)
        if factor != 1.0:
            out.append((v, factor))
    return out


def with_lr_factors(optimizer: Any, factors: VariableFactors) -> Any:
    """``optimizer`` as its ``Scaled*`` twin with ``factors`` (itself when there are none)."""
    if not factors:
        return optimizer
    scaled_class: Any = _SCALED.get(type(optimizer))
    if scaled_class is None:  # pragma: no cover - make_optimizer only makes the five above
        raise SpecError(f"per-block learning rates do not work with "
                        f"{type(optimizer).__name__}")
    scaled = scaled_class.from_config(optimizer.get_config())
    scaled.set_variable_factors(factors)
    return scaled


# ------------------------------------------------------------------ state across phases
def slot_lists(optimizer: Any) -> dict[str, list[Any]]:
    """The optimizer's per-variable state lists (moments...), aligned with its variables."""
    variables = list(getattr(optimizer, "_trainable_variables", []))
    if not variables:
        return {}
    return {name: value for name, value in vars(optimizer).items()
            if isinstance(value, list) and len(value) == len(variables) and name not in
            ("_trainable_variables",) and all(isinstance(x, keras.Variable) for x in value)}


def carry_state(old: Any, new: Any, variables: list[Any], first_step: int) -> int:
    """Build ``new`` over ``variables`` and copy over ``old``'s state of the shared ones.

    Args:
        old: the previous phase's optimizer (``None`` or unbuilt: nothing to copy).
        new: the freshly compiled optimizer.
        variables: the model's trainable variables now.
        first_step: the step count to start from when there is nothing to copy (the
            schedule's position at the phase's first epoch).

    Returns:
        How many variables kept their state.
    """
    new.build(variables)
    new = getattr(new, "inner_optimizer", new)  # under a loss-scale wrapper (mixed precision)
    old = getattr(old, "inner_optimizer", old)
    if old is None or not getattr(old, "built", False) or old is new:
        new.iterations.assign(first_step)
        return 0
    old_index = {id(v): i for i, v in enumerate(old._trainable_variables)}
    old_slots = slot_lists(old)
    for name, new_list in slot_lists(new).items():
        old_list = old_slots.get(name)
        if old_list is None:
            continue
        for j, v in enumerate(new._trainable_variables):
            i = old_index.get(id(v))
            if i is not None:
                new_list[j].assign(old_list[i])
    kept = sum(1 for v in new._trainable_variables if id(v) in old_index)
    new.iterations.assign(old.iterations)
    return kept
