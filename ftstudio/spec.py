"""The experiment spec: the one contract between the window, the CLI and the engine.

An :class:`ExperimentSpec` describes a whole fine-tuning experiment (data, backbone, head,
freezing, training, export) as plain dataclasses that round-trip through JSON. Everything
the user chooses in the window lands here; ``ftstudio train spec.json`` replays it.

Standard library only: this module is imported by the window before TensorFlow loads.

Example:
    >>> spec = ExperimentSpec.from_json('{"data": {"path": "x.csv", "text_column": "t",'
    ...                                  ' "label_column": "y"}}')
    >>> spec.training.epochs
    3
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self, Union, get_args, get_origin

from ftstudio.errors import SpecError

SPEC_VERSION = 1

FreezeMode = Literal["all", "none", "last_n", "layers"]
Optimizer = Literal["sgd", "adam", "adamw", "adagrad", "rmsprop"]
Schedule = Literal["constant", "cosine", "exponential", "step"]
BackboneSource = Literal["auto", "keras_hub", "applications", "file", "library", "none"]
Pooling = Literal["auto", "pooled", "cls", "mean", "avg", "max", "flatten"]
LayerType = Literal["dense", "dropout", "batch_norm"]
Task = Literal["classification", "regression"]
OutputActivation = Literal["auto", "softmax", "sigmoid", "linear"]
ExportFormat = Literal["keras"]
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


@dataclass
class ExportSpec:
    """What is written besides the run folder's ``model.keras``."""

    formats: list[ExportFormat] = field(default_factory=lambda: ["keras"])
    """Export formats (``keras`` today; SavedModel/TFLite/ONNX with parity checks are planned)."""
    dir: str | None = None
    """Also copy the exported model (with ``labels.json``) into this folder."""


def read_json_object(path: str | Path, what: str = "spec file") -> dict[str, Any]:
    """Read a JSON file that must hold an object at the top level.

    Raises:
        SpecError: the file is missing or unreadable, not JSON, or not an object; the
            message names the file (``what`` says what kind of file it is).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{what} not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"cannot read {what} {path}: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path} must hold a JSON object at the top level")
    return data


class _JsonSpec:
    """JSON round-trip, file I/O and ``key=value`` overrides shared by the spec documents.

    A subclass is a dataclass with ``validate()`` and ``resolved(base)``.
    """

    def validate(self) -> None:  # pragma: no cover - every subclass overrides it
        """Check cross-field rules (raise SpecError)."""

    def resolved(self, base: Path) -> Self:  # pragma: no cover - every subclass overrides it
        """Return a copy whose relative paths are made absolute against ``base``."""
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as plain JSON-able data."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self, indent: int = 2) -> str:
        """Return the spec as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build and validate a spec from plain data.

        Raises:
            SpecError: naming the bad key and what is allowed there.
        """
        spec = _build(cls, data, "")
        spec.validate()
        return spec  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Parse and validate a JSON document."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(f"spec is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(data, dict):
            raise SpecError("spec must be a JSON object at the top level")
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path, overrides: list[str] | None = None) -> Self:
        """Read a spec file, apply ``key=value`` overrides, resolve relative paths.

        Relative paths (``data.path``, ``data.image_dir``, …) are resolved against the
        spec file's folder, so a spec works from any working directory.
        """
        path = Path(path)
        data = read_json_object(path)
        for item in overrides or []:
            apply_override(data, item)
        return cls.from_dict(data).resolved(path.resolve().parent)

    def save(self, path: str | Path) -> None:
        """Write the spec as JSON (atomically)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.to_json() + "\n", encoding="utf-8")
        tmp.replace(path)


@dataclass
class ExperimentSpec(_JsonSpec):
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

    def resolved(self, base: Path) -> ExperimentSpec:
        """Return a copy whose relative file paths are made absolute against ``base``."""
        spec = dataclasses.replace(
            self,
            data=dataclasses.replace(self.data),
            backbone=dataclasses.replace(self.backbone),
        )
        for obj, attr in ((spec.data, "path"), (spec.data, "image_dir"), (spec.backbone, "path")):
            value = getattr(obj, attr)
            if value and not Path(value).expanduser().is_absolute():
                setattr(obj, attr, str((base / value).resolve()))
            elif value:
                setattr(obj, attr, str(Path(value).expanduser()))
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
        d = self.data
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
        b = self.backbone
        if b.sequence_length < 8 or b.sequence_length > 4096:
            raise SpecError(f"backbone.sequence_length must be 8..4096, got {b.sequence_length}")
        if b.image_size is not None and (len(b.image_size) != 2 or min(b.image_size) < 8):
            raise SpecError(f"backbone.image_size must be [height, width] of at least 8, "
                            f"got {b.image_size}")
        if b.source not in ("none", "auto") and not (b.name or b.path):
            raise SpecError(f"backbone.source '{b.source}' needs backbone.name or backbone.path")
        h = self.head
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
        f = self.freeze
        if f.last_n < 0:
            raise SpecError(f"freeze.last_n must be >= 0, got {f.last_n}")
        if f.head_first_epochs < 0:
            raise SpecError("freeze.head_first_epochs must be >= 0")
        if f.unfreeze_lr_factor <= 0:
            raise SpecError("freeze.unfreeze_lr_factor must be above 0")
        t = self.training
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


# ---------------------------------------------------------------- parsing
def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in get_args(tp))
    if origin is list:
        return f"a list of {_type_name(get_args(tp)[0])}"
    if origin is dict:
        return "an object"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return "an object"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, str(tp))


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Convert ``value`` to type ``tp`` or raise a SpecError naming ``key``."""
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        errors = []
        for arg in get_args(tp):
            try:
                return _coerce(arg, value, key)
            except SpecError as exc:
                errors.append(exc)
        raise SpecError(f"{key} must be {_type_name(tp)}, got {value!r}")
    if tp is type(None):
        if value is None:
            return None
        raise SpecError(f"{key} must be null, got {value!r}")
    if origin is Literal:
        if value in get_args(tp):
            return value
        raise SpecError(f"{key} must be {_type_name(tp)}, got {value!r}")
    if origin is list:
        if not isinstance(value, list):
            raise SpecError(f"{key} must be {_type_name(tp)}, got {value!r}")
        (arg,) = get_args(tp)
        return [_coerce(arg, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SpecError(f"{key} must be an object, got {value!r}")
        _, val_tp = get_args(tp)
        return {str(k): _coerce(val_tp, v, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise SpecError(f"{key} must be an object, got {value!r}")
        return _build(tp, value, key + ".")
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    else:  # pragma: no cover - a field type this parser does not know is a bug
        raise TypeError(f"unsupported spec field type {tp!r}")
    raise SpecError(f"{key} must be {_type_name(tp)}, got {value!r}")


def _build(cls: Any, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = prefix.rstrip(".") or "the spec"
        raise SpecError(f"unknown key '{prefix}{unknown[0]}' in {where}; allowed: "
                        f"{', '.join(fields)}")
    kwargs = {name: _coerce(hints[name], value, prefix + name) for name, value in data.items()}
    return cls(**kwargs)


def apply_override(data: dict[str, Any], item: str) -> None:
    """Apply one ``dotted.key=value`` override to raw spec data in place.

    The value is parsed as JSON when it can be (numbers, true/false, null, lists),
    otherwise taken as a string: ``training.epochs=2``, ``data.path=reviews.csv``.

    Raises:
        SpecError: when the item is not of the ``key=value`` form.
    """
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SpecError(f"--set expects key=value (for example training.epochs=2), got {item!r}")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise SpecError(f"--set {key}: '{part}' is not a section")
        node = child
    node[parts[-1]] = value


# ============================================================ autoencoder pretraining
PretrainKind = Literal["auto", "dense", "conv"]
NoiseType = Literal["gaussian", "dropout"]


@dataclass
class PretrainSpec(_JsonSpec):
    """Autoencoder pretraining on unlabelled data; the encoder is saved to the model library.

    The data section is a :class:`DataSpec`: ``path`` (+ optional ``feature_columns``; by
    default every numeric column except ``label_column``) for a numeric CSV, or ``image_dir``
    for images (a flat folder or one sub-folder per class; labels are not used).
    ``PretrainSpec.from_json(spec.to_json()) == spec``.
    """

    name: str = "pretrain"
    description: str = ""
    version: int = SPEC_VERSION
    data: DataSpec = field(default_factory=DataSpec)
    kind: PretrainKind = "auto"
    """``dense`` (numeric CSV, or images flattened), ``conv`` (images); ``auto``: ``conv`` for
    images, ``dense`` for a CSV."""
    encoder_units: list[int] = field(default_factory=lambda: [64, 32])
    """Dense: units of each encoder layer. Conv: filters of each block (each halves the size)."""
    latent_dim: int = 16
    """Dense: size of the code. Conv: channels of a 1x1 bottleneck (0 = none)."""
    activation: str = "relu"
    noise: float = 0.0
    """Denoising: corruption applied to the inputs while training (0 = plain autoencoder)."""
    noise_type: NoiseType = "gaussian"
    """``gaussian``: add noise of std ``noise`` (standardised units / pixels in 0..1);
    ``dropout``: zero a fraction ``noise`` of the inputs (masking noise)."""
    image_size: list[int] = field(default_factory=lambda: [32, 32])
    """``[height, width]`` images are resized to (conv); divisible by 2 per encoder block."""
    channels: int = 3
    """Image channels: 1 (grayscale) or 3 (RGB)."""
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    val_fraction: float = 0.1
    """Rows held out to report the validation reconstruction loss (0 = none)."""
    seed: int = 42
    save_as: str = "my-encoder"
    """Name of the library entry the encoder is saved as (``backbone.name`` in a fine-tune
    spec with ``backbone.source = "library"``)."""

    def resolved(self, base: Path) -> PretrainSpec:
        """Return a copy whose relative data paths are made absolute against ``base``."""
        spec = dataclasses.replace(self, data=dataclasses.replace(self.data))
        for attr in ("path", "image_dir"):
            value = getattr(spec.data, attr)
            if value and not Path(value).expanduser().is_absolute():
                setattr(spec.data, attr, str((base / value).resolve()))
            elif value:
                setattr(spec.data, attr, str(Path(value).expanduser()))
        return spec

    # ----------------------------------------------------------- semantics
    @property
    def modality(self) -> Literal["image", "tabular"]:
        """``image`` when the data is an image folder, else ``tabular``."""
        return "image" if self.data.image_dir else "tabular"

    @property
    def resolved_kind(self) -> Literal["dense", "conv"]:
        """The autoencoder kind, with ``auto`` decided from the data section."""
        if self.kind != "auto":
            return self.kind
        return "conv" if self.data.image_dir else "dense"

    def validate(self) -> None:
        """Check cross-field rules; field types were checked while parsing.

        Raises:
            SpecError: naming the key and what is allowed.
        """
        d = self.data
        if d.text_column:
            raise SpecError("pretraining works on numeric CSV columns or images, not text: "
                            "remove data.text_column")
        if d.image_dir and d.path:
            raise SpecError("use only one input kind: data.path (numeric CSV) or data.image_dir")
        if not (d.image_dir or d.path):
            raise SpecError("set data.path (a numeric CSV) or data.image_dir (a folder of images)")
        if d.feature_columns is not None and not d.feature_columns:
            raise SpecError("data.feature_columns is empty: list the numeric columns or remove "
                            "the key to use every numeric column")
        kind = self.resolved_kind
        if kind == "conv" and not d.image_dir:
            raise SpecError("kind 'conv' needs images: set data.image_dir or use kind 'dense'")
        if not self.encoder_units or any(u < 1 for u in self.encoder_units):
            raise SpecError(f"encoder_units must list at least one size of 1 or more, "
                            f"got {self.encoder_units}")
        if len(self.encoder_units) > 6:
            raise SpecError(f"encoder_units: at most 6 layers, got {len(self.encoder_units)}")
        if self.latent_dim < (0 if kind == "conv" else 1):
            raise SpecError(f"latent_dim must be at least {0 if kind == 'conv' else 1}, "
                            f"got {self.latent_dim}")
        if not 0 <= self.noise < (1 if self.noise_type == "dropout" else 10):
            raise SpecError(f"noise must be >= 0 (and below 1 for noise_type 'dropout'), "
                            f"got {self.noise}")
        if len(self.image_size) != 2 or min(self.image_size) < 4:
            raise SpecError(f"image_size must be [height, width] of at least 4, "
                            f"got {self.image_size}")
        if kind == "conv":
            step = 2 ** len(self.encoder_units)
            if any(s % step for s in self.image_size):
                raise SpecError(f"image_size {self.image_size} must be divisible by {step} "
                                f"(2 per encoder block of encoder_units)")
        if self.channels not in (1, 3):
            raise SpecError(f"channels must be 1 or 3, got {self.channels}")
        if self.epochs < 1:
            raise SpecError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise SpecError(f"batch_size must be at least 1, got {self.batch_size}")
        if not self.learning_rate > 0:
            raise SpecError(f"learning_rate must be above 0, got {self.learning_rate}")
        if not 0 <= self.val_fraction < 0.9:
            raise SpecError(f"val_fraction must be in [0, 0.9), got {self.val_fraction}")
        if not is_library_name(self.save_as):
            raise SpecError(f"save_as {self.save_as!r} is not a usable library name: use "
                            f"letters, digits, '.', '_' or '-' (1-64, starting with a letter "
                            f"or digit)")


def is_library_name(name: str) -> bool:
    """Return whether ``name`` is a usable library entry name (1-64 of ``A-Za-z0-9._-``).

    The first character is a letter or digit (so a name is never a hidden or relative path).
    """
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    return (0 < len(name) <= 64 and name[0].isascii() and name[0].isalnum()
            and all(c in allowed for c in name))
