"""The experiment spec: the one document a fine-tuning run is made from.

Standard library only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ftstudio.errors import SpecError
from ftstudio.spec.parsing import JsonSpecMixin, make_paths_absolute
from ftstudio.spec.parts import (
    SPEC_VERSION,
    AugmentSpec,
    BackboneSpec,
    DataSpec,
    ExportSpec,
    FreezeSpec,
    HeadSpec,
    TrainSpec,
)

__all__ = ["ExperimentSpec"]


@dataclass
class ExperimentSpec(JsonSpecMixin):
    """A whole experiment. ``ExperimentSpec.from_json(spec.to_json()) == spec``."""

    name: str = "experiment"
    description: str = ""
    version: int = SPEC_VERSION
    data: DataSpec = field(default_factory=DataSpec)
    backbone: BackboneSpec = field(default_factory=BackboneSpec)
    head: HeadSpec = field(default_factory=HeadSpec)
    freeze: FreezeSpec = field(default_factory=FreezeSpec)
    training: TrainSpec = field(default_factory=TrainSpec)
    export: ExportSpec = field(default_factory=ExportSpec)
    augment: AugmentSpec = field(default_factory=AugmentSpec)

    def resolved(self, base: Path) -> ExperimentSpec:
        """Return a copy whose relative file paths are made absolute against ``base``."""
        spec = dataclasses.replace(
            self,
            data=dataclasses.replace(self.data),
            backbone=dataclasses.replace(self.backbone),
            training=dataclasses.replace(self.training),
        )
        make_paths_absolute(base, ((spec.data, "path"), (spec.data, "image_dir"),
                                   (spec.backbone, "path"), (spec.training, "init_from_run")))
        return spec

    # ----------------------------------------------------------- semantics
    @property
    def modality(self) -> Literal["text", "image", "tabular"]:
        """The input kind the data section asks for."""
        if self.data.image_dir:
            return "image"
        if self.data.text_column:
            return "text"
        return "tabular"

    def label_columns(self) -> list[str]:
        """The label column of each output, in output order."""
        return [o.label_column or self.data.label_column or "" for o in self.head.outputs]

    def validate(self) -> None:
        """Check cross-field rules; field types were checked while parsing.

        Raises:
            SpecError: naming the key and what is allowed.
        """
        _check_data(self.data)
        _check_backbone(self.backbone)
        _check_head(self.head, self.data)
        _check_freeze_and_training(self.freeze, self.training)
        _check_augment(self.augment)


def _check_data(d: DataSpec) -> None:
    kinds = [k for k, v in (("data.text_column", d.text_column),
                            ("data.feature_columns", d.feature_columns),
                            ("data.image_dir", d.image_dir)) if v]
    if len(kinds) > 1:
        raise SpecError(f"use only one input kind, got {' and '.join(kinds)}")
    if (d.text_column or d.feature_columns) and not d.path:
        raise SpecError(f"{kinds[0]} needs data.path (the CSV file)")
    if d.path and not kinds:
        raise SpecError("data.path is set but no input column: set data.text_column "
                        "or data.feature_columns")
    if len(d.split) != 3 or any(x < 0 for x in d.split) or abs(sum(d.split) - 1) > 1e-6:
        raise SpecError(f"data.split must be three fractions (train, val, test) summing to 1, "
                        f"got {d.split}")
    if d.split[0] <= 0:
        raise SpecError("data.split: the train fraction must be above 0")


def _check_backbone(b: BackboneSpec) -> None:
    if b.sequence_length < 8 or b.sequence_length > 4096:
        raise SpecError(f"backbone.sequence_length must be 8..4096, got {b.sequence_length}")
    if b.lora_rank < 0:
        raise SpecError(f"backbone.lora_rank must be 0 (off) or more, got {b.lora_rank}")
    if b.image_size is not None and (len(b.image_size) != 2 or min(b.image_size) < 8):
        raise SpecError(f"backbone.image_size must be [height, width] of at least 8, "
                        f"got {b.image_size}")
    if b.source not in ("none", "auto") and not (b.name or b.path):
        raise SpecError(f"backbone.source '{b.source}' needs backbone.name or backbone.path")


def _check_head(h: HeadSpec, d: DataSpec) -> None:
    if not h.outputs:
        raise SpecError("head.outputs must hold at least one output")
    names = [o.name for o in h.outputs]
    if len(set(names)) != len(names):
        raise SpecError(f"head.outputs names must be unique, got {names}")
    for i, o in enumerate(h.outputs):
        if not (o.label_column or d.label_column):
            raise SpecError(f"head.outputs[{i}] ('{o.name}') has no label column: set "
                            f"data.label_column or head.outputs[{i}].label_column")
        if o.task == "regression" and o.activation in ("softmax", "sigmoid"):
            raise SpecError(f"head.outputs[{i}].activation '{o.activation}' does not fit a "
                            f"regression output: use 'linear' or 'auto'")
        if o.task == "classification" and o.activation == "linear":
            raise SpecError(f"head.outputs[{i}].activation 'linear' does not fit a "
                            f"classification output: use 'softmax', 'sigmoid' or 'auto'")
        if o.loss_weight < 0:
            raise SpecError(f"head.outputs[{i}].loss_weight must be >= 0")
    for i, layer in enumerate(h.layers):
        if layer.type == "dense" and layer.units < 1:
            raise SpecError(f"head.layers[{i}].units must be at least 1")
        if layer.type == "dropout" and not 0 <= layer.rate < 1:
            raise SpecError(f"head.layers[{i}].rate must be in [0, 1), got {layer.rate}")
        if layer.l1 < 0 or layer.l2 < 0:
            raise SpecError(f"head.layers[{i}]: l1 and l2 must be >= 0")
    if not 0 <= h.dropout < 1:
        raise SpecError(f"head.dropout must be in [0, 1), got {h.dropout}")


def _check_freeze_and_training(f: FreezeSpec, t: TrainSpec) -> None:
    if f.last_n < 0:
        raise SpecError(f"freeze.last_n must be >= 0, got {f.last_n}")
    if f.head_first_epochs < 0:
        raise SpecError("freeze.head_first_epochs must be >= 0")
    if f.unfreeze_lr_factor <= 0:
        raise SpecError("freeze.unfreeze_lr_factor must be above 0")
    if not 0 < f.layer_decay <= 1:
        raise SpecError(f"freeze.layer_decay must be in (0, 1] (1 = off), got {f.layer_decay}")
    if f.gradual_unfreeze_epochs < 0:
        raise SpecError("freeze.gradual_unfreeze_epochs must be >= 0 (0 = off)")
    for name, factor in f.lr_multipliers.items():
        if not factor >= 0:
            raise SpecError(f"freeze.lr_multipliers['{name}'] must be >= 0 (0 = the block "
                            f"does not move), got {factor}")
    if t.epochs < 1:
        raise SpecError(f"training.epochs must be at least 1, got {t.epochs}")
    if f.head_first_epochs >= t.epochs:
        raise SpecError(f"freeze.head_first_epochs ({f.head_first_epochs}) must be below "
                        f"training.epochs ({t.epochs})")
    if t.batch_size < 1:
        raise SpecError(f"training.batch_size must be at least 1, got {t.batch_size}")
    if not t.learning_rate > 0:
        raise SpecError(f"training.learning_rate must be above 0, got {t.learning_rate}")
    if not 0 <= t.warmup_fraction < 1:
        raise SpecError(f"training.warmup_fraction must be in [0, 1), got {t.warmup_fraction}")
    if t.early_stopping_patience < 0:
        raise SpecError("training.early_stopping_patience must be >= 0")
    if isinstance(t.class_weight, str) and t.class_weight != "balanced":
        raise SpecError(f"training.class_weight must be null, 'balanced' or a map of class "
                        f"name to weight, got '{t.class_weight}'")
    if t.step_epochs < 1:
        raise SpecError("training.step_epochs must be at least 1")
    if t.init_from_run is not None and not t.init_from_run.strip():
        raise SpecError("training.init_from_run must be a run folder (holding model.keras) "
                        "or null")
    if t.steps_per_execution < 0:
        raise SpecError(f"training.steps_per_execution must be >= 0 (0 = chosen for the "
                        f"device), got {t.steps_per_execution}")


def _check_augment(a: AugmentSpec) -> None:
    for key in ("rotation", "zoom", "translation", "contrast", "brightness"):
        value = getattr(a, key)
        if not 0 <= value < 1:
            raise SpecError(f"augment.{key} must be in [0, 1) (0 = off), got {value}")
