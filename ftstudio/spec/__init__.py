"""The experiment spec: the one contract between the window, the CLI and the engine.

An :class:`ExperimentSpec` describes a whole fine-tuning experiment (data, backbone, head,
freezing, training, export) as plain dataclasses that round-trip through JSON. Everything
the user chooses in the window lands here; ``ftstudio train spec.json`` replays it. A
:class:`PretrainSpec` does the same for autoencoder pretraining.

Standard library only: this package is imported by the window before TensorFlow loads.

Modules: :mod:`~ftstudio.spec.parts` (the parts and the ``Literal`` choice types),
:mod:`~ftstudio.spec.experiment`, :mod:`~ftstudio.spec.pretrain` and
:mod:`~ftstudio.spec.parsing` (JSON in and out, ``--set`` overrides, :func:`choices`).

Example:
    >>> spec = ExperimentSpec.from_json('{"data": {"path": "x.csv", "text_column": "t",'
    ...                                  ' "label_column": "y"}}')
    >>> spec.training.epochs
    3
    >>> choices(Schedule)
    ('constant', 'cosine', 'exponential', 'step')
"""

from __future__ import annotations

from ftstudio.spec.experiment import ExperimentSpec
from ftstudio.spec.parsing import apply_override, choices, read_json_object
from ftstudio.spec.parts import (
    POOLINGS_BY_MODALITY,
    SPEC_VERSION,
    BackboneSource,
    BackboneSpec,
    DataSpec,
    ExportFormat,
    ExportSpec,
    FreezeMode,
    FreezeSpec,
    HeadSpec,
    LayerSpec,
    LayerType,
    Optimizer,
    OutputActivation,
    OutputSpec,
    Pooling,
    Preprocessing,
    Schedule,
    Task,
    TrainSpec,
)
from ftstudio.spec.pretrain import NoiseType, PretrainKind, PretrainSpec, is_library_name

__all__ = [
    "SPEC_VERSION", "BackboneSource", "BackboneSpec", "DataSpec", "ExperimentSpec",
    "ExportFormat", "ExportSpec", "FreezeMode", "FreezeSpec", "HeadSpec", "LayerSpec",
    "LayerType", "NoiseType", "Optimizer", "OutputActivation", "OutputSpec",
    "POOLINGS_BY_MODALITY", "Pooling",
    "PretrainKind", "PretrainSpec", "Preprocessing", "Schedule", "Task", "TrainSpec",
    "apply_override", "choices", "is_library_name", "read_json_object",
]
