"""The parts of an experiment spec: data, backbone, head, freezing, training, export.

Each part is a plain dataclass; the field annotations are the schema (the parser in
:mod:`ftstudio.spec.parsing` reads them) and the ``Literal`` types are the choice lists
(:func:`ftstudio.spec.choices`). Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "SPEC_VERSION", "BackboneSource", "BackboneSpec", "DataSpec", "ExportFormat", "ExportSpec",
    "FreezeMode", "FreezeSpec", "HeadSpec", "LayerSpec", "LayerType", "Optimizer",
    "OutputActivation", "OutputSpec", "POOLINGS_BY_MODALITY", "Pooling", "Preprocessing",
    "Schedule", "Task", "TrainSpec",
]

SPEC_VERSION = 1

FreezeMode = Literal["all", "none", "last_n", "layers"]
Optimizer = Literal["sgd", "adam", "adamw", "adagrad", "rmsprop"]
Schedule = Literal["constant", "cosine", "exponential", "step"]
BackboneSource = Literal["auto", "keras_hub", "applications", "file", "library", "none"]
Pooling = Literal["auto", "pooled", "cls", "mean", "avg", "max", "flatten"]
POOLINGS_BY_MODALITY: dict[str, tuple[str, ...]] = {
    "text": ("auto", "pooled", "cls", "mean"),
    "image": ("auto", "avg", "max", "flatten"),
    "tabular": ("auto",),
}
"""The poolings that apply to each data kind (the engine checks them, the window offers them)."""
LayerType = Literal["dense", "dropout", "batch_norm"]
Task = Literal["classification", "regression"]
OutputActivation = Literal["auto", "softmax", "sigmoid", "linear"]
ExportFormat = Literal["keras", "savedmodel", "tflite", "onnx"]
Preprocessing = Literal["auto", "none", "scale_0_1", "scale_-1_1", "caffe", "torch"]


@dataclass
class DataSpec:
    """Where the examples come from and which columns mean what.

    Exactly one input kind is used: ``text_column`` (text CSV), ``feature_columns``
    (numeric CSV) or ``image_dir`` (one sub-folder per class).
    """

    path: str | None = None
    """CSV file (text or numeric features). Relative paths resolve against the spec file."""
    text_column: str | None = None
    """Column holding the text to classify."""
    label_column: str | None = None
    """Column holding the label (the default label of every output)."""
    feature_columns: list[str] | None = None
    """Numeric columns used as features (tabular data)."""
    image_dir: str | None = None
    """Folder with one sub-folder per class, each holding images."""
    split: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    """Train / validation / test fractions; stratified on the first label, seeded."""
    encoding: str | None = None
    """CSV encoding; ``None`` tries UTF-8 and falls back (and says which it used)."""
    delimiter: str | None = None
    """CSV delimiter; ``None`` sniffs it."""


@dataclass
class BackboneSpec:
    """The pretrained model the head is put on."""

    source: BackboneSource = "auto"
    """``auto`` decides from ``name``/``path``; ``none`` means no backbone (tabular MLP)."""
    name: str | None = None
    """keras-hub preset name, keras.applications architecture name, or library entry."""
    path: str | None = None
    """Local preset / Hugging Face folder, or a ``.keras``/``.h5`` model file."""
    weights: str | None = None
    """``imagenet`` (online), a local weights file, or ``None`` (the file's own / random)."""
    submodel: str | None = None
    """Name of a nested model inside a model file to use as the backbone."""
    cut_layer: str | None = None
    """Use the model up to (and including) this layer's output."""
    sequence_length: int = 128
    """Tokens per text example (text backbones)."""
    image_size: list[int] | None = None
    """``[height, width]`` images are resized to; ``None`` takes the backbone's own."""
    preprocessing: Preprocessing = "auto"
    """Pixel scaling for image backbones; ``auto`` picks the architecture's own."""


@dataclass
class LayerSpec:
    """One layer of the head, between the pooled backbone features and the outputs."""

    type: LayerType = "dense"
    units: int = 128
    activation: str = "relu"
    l1: float = 0.0
    l2: float = 0.0
    rate: float = 0.1
    """Dropout rate (``dropout`` layers only)."""


@dataclass
class OutputSpec:
    """One output of the model (several outputs make a multi-task Functional model)."""

    name: str = "label"
    label_column: str | None = None
    """Defaults to ``data.label_column``."""
    task: Task = "classification"
    activation: OutputActivation = "auto"
    """``auto``: softmax for classification, linear for regression."""
    loss_weight: float = 1.0


@dataclass
class HeadSpec:
    """What goes on top of the backbone."""

    pooling: Pooling = "auto"
    """Text: ``pooled`` / ``cls`` / ``mean`` (masked). Images: ``avg`` / ``max`` / ``flatten``."""
    layers: list[LayerSpec] = field(default_factory=list)
    outputs: list[OutputSpec] = field(default_factory=lambda: [OutputSpec()])
    dropout: float = 0.0
    """Dropout applied to the pooled features before the head layers."""


@dataclass
class FreezeSpec:
    """Which backbone layers learn."""

    mode: FreezeMode = "none"
    """``all`` (linear probe), ``none`` (full fine-tune), ``last_n`` blocks, or ``layers``."""
    last_n: int = 2
    """Number of trainable blocks from the top when ``mode`` is ``last_n``."""
    layers: dict[str, bool] = field(default_factory=dict)
    """Explicit ``layer name -> trainable`` map when ``mode`` is ``layers``."""
    head_first_epochs: int = 0
    """Two-phase recipe: train only the head this many epochs first (0 = off)."""
    unfreeze_lr_factor: float = 0.1
    """Learning-rate multiplier for the second phase of the two-phase recipe."""


@dataclass
class TrainSpec:
    """How the model is optimised."""

    epochs: int = 3
    batch_size: int = 32
    seed: int = 42
    optimizer: Optimizer = "adamw"
    learning_rate: float = 5e-5
    weight_decay: float = 0.01
    """Used by AdamW (decoupled) and as L2-free decay elsewhere where supported."""
    momentum: float = 0.9
    """SGD momentum."""
    schedule: Schedule = "constant"
    warmup_fraction: float = 0.0
    """Fraction of all steps spent warming the learning rate up linearly from 0."""
    decay_rate: float = 0.5
    """``exponential``: factor per epoch. ``step``: factor every ``step_epochs``."""
    step_epochs: int = 1
    early_stopping_patience: int = 0
    """Stop after this many epochs without improvement and restore the best (0 = off)."""
    monitor: str = "val_loss"
    class_weight: str | dict[str, float] | None = None
    """``None``, ``balanced``, or a ``class name -> weight`` map (first output)."""
    gradient_clip_norm: float | None = None
    baseline: bool = True
    """Classification (and regression) runs also fit a linear probe on the frozen pretrained
    features (same split and seed) so the run shows what fine-tuning added; ``false`` skips it."""


@dataclass
class ExportSpec:
    """What is written besides the run folder's ``model.keras``."""

    formats: list[ExportFormat] = field(default_factory=lambda: ["keras"])
    """Formats exported and parity-checked at the end of training (one folder each). The run
    folder always holds ``model.keras``; ``["keras"]`` alone with no ``dir`` adds nothing."""
    dir: str | None = None
    """Where the export folders go (default ``<run>/export``)."""
    quantize: bool = False
    """Also write a dynamic-range int8 TFLite file (its accuracy change is reported)."""
