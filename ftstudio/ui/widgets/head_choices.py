"""What the head builder offers, derived from the spec: layer types, poolings, tasks, activations.

Kept apart from the widget so the choice tables (and the one-line layer description) can be
read and tested without building the builder.
"""

from __future__ import annotations

from ftstudio.spec import (
    POOLINGS_BY_MODALITY,
    LayerSpec,
    OutputActivation,
    Pooling,
    Task,
)
from ftstudio.ui.choices import spec_values

__all__ = ["ACTIVATIONS", "DATA_LABEL", "LAYER_BUTTONS", "LAYER_DEFAULTS", "OUTPUT_ACTIVATIONS",
           "POOLINGS", "TASKS", "TASK_LABELS", "describe_layer"]

ACTIVATIONS = ["relu", "gelu", "silu", "tanh", "sigmoid", "elu", "selu", "linear"]
"""Suggestions of the (editable) activation box of a Dense layer."""
POOLINGS: dict[str, list[str]] = {
    **{kind: list(values) for kind, values in POOLINGS_BY_MODALITY.items()},
    "": spec_values(Pooling),
}
"""The poolings that make sense per data kind ("": not known yet: every one the spec has)."""
DATA_LABEL = "(default)"
TASK_LABELS: dict[str, str] = {"classification": "classes", "regression": "number"}
"""How the outputs table shows the spec's tasks."""
TASKS = [(TASK_LABELS.get(value, value), value) for value in spec_values(Task)]
"""The tasks an output offers: (display text, spec value)."""
OUTPUT_ACTIVATIONS = spec_values(OutputActivation)
LAYER_BUTTONS: dict[str, str] = {"dense": "+ Dense", "dropout": "+ Dropout",
                                 "batch_norm": "+ BatchNorm"}
"""The head layer types the builder adds, with their button texts (keys: the spec's types)."""
LAYER_DEFAULTS: dict[str, LayerSpec] = {
    "dense": LayerSpec(type="dense", units=128, activation="relu"),
    "dropout": LayerSpec(type="dropout", rate=0.2),
    "batch_norm": LayerSpec(type="batch_norm"),
}
"""The layer each button adds."""



def describe_layer(layer: LayerSpec) -> str:
    """One line for a head layer: ``Dense 128 · relu · L2 1e-4``."""
    if layer.type == "dense":
        reg = []
        if layer.l1:
            reg.append(f"L1 {layer.l1:g}")
        if layer.l2:
            reg.append(f"L2 {layer.l2:g}")
        return " · ".join([f"Dense {layer.units}", layer.activation, *reg])
    if layer.type == "dropout":
        return f"Dropout {layer.rate:g}"
    return "Batch normalization"
