"""The parts of an experiment spec: data, backbone, head, freezing, training, export.

Each part is a plain dataclass; the field annotations are the schema (the parser in
:mod:`ftstudio.spec.parsing` reads them) and the ``Literal`` types are the choice lists
(:func:`ftstudio.spec.choices`). Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "SPEC_VERSION", "AugmentSpec", "BackboneSource", "BackboneSpec", "DataSpec", "ExportFormat",
    "ExportSpec", "Flip", "FreezeMode", "FreezeSpec", "HeadSpec", "LayerSpec", "LayerType",
    "Optimizer", "OutputActivation", "OutputSpec", "POOLINGS_BY_MODALITY", "Pooling",
    "Preprocessing", "Schedule", "Streaming", "Task", "TrainSpec",
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
Flip = Literal["none", "horizontal", "vertical", "horizontal_and_vertical"]
Streaming = Literal["auto", "on", "off"]


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
    streaming: Streaming = "auto"
    """Train without holding every example in memory: ``on``, ``off``, or ``auto`` (on for a
    CSV over 200 MB or an image folder of over 20,000 files; the thresholds are in
    ``engine/data/streaming.py``). The split is the same either way."""


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
    lora_rank: int = 0
    """LoRA adapters of this rank on a keras-hub backbone's attention (0 = off): only the
    adapters (and the head) learn; the saved model has them merged in."""


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
    lr_multipliers: dict[str, float] = field(default_factory=dict)
    """Discriminative learning rates: ``block or layer name -> factor`` on the rate of that
    block's updates (0 = the block does not move; the head is 1 unless named)."""
    layer_decay: float = 1.0
    """Layer-wise rate decay: the top backbone block learns at this factor, each block below
    at one more power of it (1 = off; e.g. 0.8). ``lr_multipliers`` multiply on top."""
    gradual_unfreeze_epochs: int = 0
    """Gradual unfreezing: train the head alone, then unfreeze one more block from the top
    every this many epochs, keeping the optimizer state of what already learns (0 = off)."""


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
    cache_features: Literal["auto", "off"] = "auto"
    """``auto``: while the backbone is frozen (and images are not augmented) run it once over
    the data and train the head on the stored features; ``off``: run it every epoch."""
    devices: Literal["auto", "cpu", "gpu", "all_gpus"] = "auto"
    """``auto``: a GPU when there is one, else the CPU; ``cpu``; ``gpu`` (refused without one);
    ``all_gpus``: ``MirroredStrategy`` over every local GPU. With ``TF_CONFIG`` set the run is
    one worker of a ``MultiWorkerMirroredStrategy`` whatever this says."""
    mixed_precision: Literal["auto", "on", "off"] = "auto"
    """``mixed_float16`` layers with float32 outputs; ``auto``: on a GPU with tensor cores."""
    jit_compile: Literal["auto", "on", "off"] = "auto"
    """XLA-compiled training step; ``auto``: on a GPU."""
    steps_per_execution: int = 0
    """Training steps per call into the device (0 = auto: up to 32 on a GPU, 1 on a CPU); the
    largest divisor of the steps per epoch not above it is used."""
    length_grouping: bool = False
    """Text: batch examples of similar length together and pad each batch only to its longest
    example (rounded up to a few lengths), so short texts cost less; the saved model then
    takes token arrays of any length up to ``backbone.sequence_length``."""
    init_from_run: str | None = None
    """Warm start: the folder of a previous run; after the model is built, every layer whose
    name and weight shapes match a layer of that run's ``model.keras`` starts from its weights
    (the output layer too when the classes are the same); the others start fresh."""


@dataclass
class AugmentSpec:
    """Image augmentation: random changes to the training images, inside the model.

    Active only while training (the layers pass images through unchanged at evaluation,
    prediction and in exports), seeded by ``training.seed``. Any factor above 0 turns the
    feature cache off (the backbone sees new pixels every epoch). Ignored for text and tables.
    """

    flip: Flip = "none"
    """Random mirroring: ``horizontal``, ``vertical``, ``horizontal_and_vertical`` or ``none``."""
    rotation: float = 0.0
    """Random rotation up to this fraction of a full turn either way (0.05 = ±18°; 0 = off)."""
    zoom: float = 0.0
    """Random zoom in or out up to this fraction of the size (0.1 = ±10 %; 0 = off)."""
    translation: float = 0.0
    """Random shift up to this fraction of the height and width (0 = off)."""
    contrast: float = 0.0
    """Random contrast factor in ``[1 - x, 1 + x]`` (0 = off)."""
    brightness: float = 0.0
    """Random brightness shift up to this fraction of the pixel range (0 = off)."""


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
