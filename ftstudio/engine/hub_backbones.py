"""keras-hub backbones: preset folders, Hugging Face folders keras-hub converts, preset names.

This module imports Keras at the top: import it only from inside engine functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras

from ftstudio.engine.backbone_base import (
    Backbone,
    Modality,
    group_blocks,
    image_shape,
    is_network_error,
    unknown_name_message,
)
from ftstudio.engine.lora import enable_lora
from ftstudio.engine.model_files import converter_preprocessing, first_line
from ftstudio.engine.reporting import Reporter
from ftstudio.errors import BackboneError, SpecError
from ftstudio.formatting import format_params
from ftstudio.spec import BackboneSpec

__all__ = ["load_hub_folder", "load_hub_handle"]

_ARCH_NAMES = {"Bert": "BERT", "Roberta": "RoBERTa", "DistilBert": "DistilBERT",
               "Albert": "ALBERT", "Electra": "ELECTRA", "DebertaV3": "DeBERTa-v3",
               "XLMRoberta": "XLM-RoBERTa"}


def load_hub_folder(spec: BackboneSpec, modality: Modality, rep: Reporter) -> Backbone:
    """Load the keras-hub preset or Hugging Face folder at ``spec.path``.

    Raises:
        BackboneError: no such folder, no config.json, a Hugging Face folder without
            safetensors weights, or a model of the wrong kind.
    """
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
        raise BackboneError(f"cannot read {config_file}: {exc}") from exc
    is_hub = isinstance(config, dict) and "class_name" in config and "module" in config
    if not is_hub and not any(folder.glob("*.safetensors")):
        raise BackboneError(f"{folder} looks like a Hugging Face folder without "
                            f"model.safetensors; save the model with safetensors "
                            f"(save_pretrained(..., safe_serialization=True))")
    return load_hub_handle(str(folder), spec, modality, rep, label=folder.name)


def _check_kind(model: keras.Model, modality: Modality, label: str) -> None:
    inputs = model.input
    is_text = isinstance(inputs, dict) and "token_ids" in inputs
    if modality == "text" and not is_text:
        raise BackboneError(f"'{label}' is not a text model (it takes "
                            f"{_describe_inputs(model)}); pick a text backbone such as minilm")
    if modality == "image" and is_text:
        raise BackboneError(f"'{label}' is a text model; image data needs an image backbone "
                            f"such as MobileNetV2")


def load_hub_handle(handle: str, spec: BackboneSpec, modality: Modality, rep: Reporter,
                    label: str) -> Backbone:
    """Load a keras-hub backbone from a local folder or a preset name (online).

    Args:
        handle: a folder path or a keras-hub preset name / URL.
        spec: the backbone spec (sequence length, image size, preprocessing).
        modality: the data kind.
        rep: told what is loading and warned about guessed pixel scaling.
        label: names the model in messages.

    Raises:
        BackboneError: cannot load (offline, unknown preset), or the wrong kind of model.
        SpecError: the sequence length is above what the model takes.
    """
    import keras_hub

    if modality == "tabular":
        raise BackboneError(f"'{label}' is a keras-hub model; numeric feature columns need "
                            f"backbone.source 'none' or a .keras model file")
    local = Path(handle).is_dir()
    rep.status(f"Loading backbone {label}…")
    try:
        model = keras_hub.models.Backbone.from_preset(handle)
    except Exception as exc:  # noqa: BLE001 - every failure becomes one clear message
        raise BackboneError(_hub_error(handle, label, local, exc)) from exc
    _check_kind(model, modality, label)
    enable_lora(model, spec.lora_rank, label)
    if modality == "text":
        return _text_backbone(model, handle, spec, label)
    preprocessing: str = spec.preprocessing
    if preprocessing == "auto":
        preprocessing = _hub_image_preprocessing(handle, rep, label)
    return Backbone(model=model, modality="image", preprocessor=None,
                    image_shape=image_shape(model, spec), preprocessing=preprocessing,
                    blocks=group_blocks(model),
                    description=f"{_hub_arch_name(model)} (keras-hub), "
                                f"{format_params(model.count_params())} params")


def _text_backbone(model: keras.Model, handle: str, spec: BackboneSpec,
                   label: str) -> Backbone:
    import keras_hub

    config = model.get_config()
    max_len = config.get("max_sequence_length")
    if isinstance(max_len, int) and spec.sequence_length > max_len:
        raise SpecError(f"backbone.sequence_length {spec.sequence_length} is above the "
                        f"{max_len} tokens '{label}' can take; lower it")
    try:
        preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(
            handle, sequence_length=spec.sequence_length)
    except Exception as exc:  # noqa: BLE001
        raise BackboneError(f"cannot load the tokenizer of '{label}': {first_line(exc)}; "
                            f"the folder needs its tokenizer files (vocab.txt / "
                            f"tokenizer.json or a saved keras-hub preprocessor)") from exc
    layers_txt = config.get("num_layers")
    hidden = config.get("hidden_dim")
    shape = (f" ({layers_txt} layers, hidden {hidden})"
             if layers_txt is not None and hidden is not None else "")
    return Backbone(model=model, modality="text", preprocessor=preprocessor,
                    image_shape=None, preprocessing="none",
                    blocks=group_blocks(model, stem="embeddings"),
                    description=f"{_hub_arch_name(model)}{shape}, "
                                f"{format_params(model.count_params())} params")


def _hub_error(handle: str, label: str, local: bool, exc: BaseException) -> str:
    if local:
        return (f"cannot load the model folder '{label}' with keras-hub: {first_line(exc)}; "
                f"keras-hub reads its own presets and Hugging Face folders of the "
                f"architectures it knows (BERT, RoBERTa, DistilBERT, ...)")
    if is_network_error(exc):
        return (f"cannot download keras-hub preset '{handle}': there is no network "
                f"connection; download it on a connected machine and import it into the model "
                f"library, or set backbone.path to a local preset folder")
    if isinstance(exc, ValueError) and "preset" in str(exc).lower():
        return unknown_name_message(handle)
    return f"cannot load keras-hub preset '{handle}': {first_line(exc)}"


def _hub_arch_name(model: keras.Model) -> str:
    name = type(model).__name__.removesuffix("Backbone") or type(model).__name__
    return _ARCH_NAMES.get(name, name)


def _hub_image_preprocessing(handle: str, rep: Reporter, label: str) -> str:
    """The pixel scaling of a keras-hub preset's own ImageConverter (0..1 when it has none)."""
    try:
        import keras_hub
        converter: Any = keras_hub.layers.ImageConverter.from_preset(handle)
    except Exception:  # noqa: BLE001 - no converter saved: fall back below
        converter = None
    if converter is not None:
        mode = converter_preprocessing(getattr(converter, "scale", None),
                                       getattr(converter, "offset", None))
        if mode is not None:
            return mode
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
