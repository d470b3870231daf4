"""Importing model folders: keras-hub presets and Hugging Face folders keras-hub converts.

The folder is copied as the entry's ``preset/`` (pickles and other formats left out); nothing
is loaded here: keras-hub reads it when a training starts.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from ftstudio.engine.library.licences import licence_text
from ftstudio.engine.library.safety import (
    PICKLE_SUFFIXES,
    copy_model_folder,
    safetensors_params,
)
from ftstudio.engine.library.store import (
    PRESET_DIR,
    LibraryEntry,
    commit_entry,
    library_root,
    staging_folder,
)
from ftstudio.engine.model_files import is_hdf5, refuse_unsafe_layers, weights_signature
from ftstudio.engine.reporting import Reporter
from ftstudio.errors import LibraryError
from ftstudio.formatting import format_params

__all__ = ["HF_IMAGE_TYPES", "HF_TEXT_TYPES", "TIMM_PREFIXES", "import_hf_folder",
           "import_keras_hub_preset"]

HF_TEXT_TYPES = {"bert", "distilbert", "roberta", "xlm-roberta", "albert"}
"""Hugging Face ``model_type`` values keras-hub converts to a text encoder backbone."""
HF_IMAGE_TYPES = {"vit", "deit", "dinov2", "dinov2_with_registers", "swin"}
"""Hugging Face ``model_type`` values keras-hub converts to an image backbone."""
TIMM_PREFIXES = ("resnet", "csp", "dark", "densenet", "mobilenet", "vgg", "efficientnet",
                 "hgnetv2")
"""timm ``architecture`` prefixes keras-hub converts."""
_TEXT_CLASS_HINTS = ("bert", "gpt", "llama", "gemma", "t5")


# ------------------------------------------------------------------ keras-hub presets
def _preset_params(src: Path) -> int:
    weights = src / "model.weights.h5"
    if weights.exists():
        if not is_hdf5(weights):
            raise LibraryError(f"{src.name}/model.weights.h5 is not an HDF5 file (damaged?)")
        return weights_signature(weights)[1]
    if (src / "model.weights.json").exists():
        return sum(weights_signature(shard)[1] for shard in src.glob("*.weights*.h5"))
    raise LibraryError(f"{src} has no model.weights.h5: it is not a complete keras-hub "
                       f"preset (save one with backbone.save_to_preset)")


def _preset_modality(src: Path, cls: str) -> str:
    if (src / "tokenizer.json").exists():
        return "text"
    if (src / "image_converter.json").exists():
        return "image"
    return "text" if any(k in cls.lower() for k in _TEXT_CLASS_HINTS) else "image"


def import_keras_hub_preset(src: Path, name: str, description: str | None, replace: bool,
                            root: str | Path | None, reporter: Reporter,
                            kind: str = "keras_hub_preset", network: bool = False,
                            source: str | None = None) -> LibraryEntry:
    """Copy a keras-hub preset folder into the library as entry ``name``.

    Raises:
        LibraryError: a Lambda layer in its configs, or no (readable) weights file.
    """
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    for json_file in sorted(src.glob("*.json")):
        with contextlib.suppress(OSError, UnicodeDecodeError, json.JSONDecodeError):
            refuse_unsafe_layers(json.loads(json_file.read_text(encoding="utf-8")),
                                 f"{src.name}/{json_file.name}")
    params = _preset_params(src)
    cls = str(config.get("registered_name") or config.get("class_name") or "?")
    modality = _preset_modality(src, cls)
    inner = config.get("config", {}) if isinstance(config.get("config"), dict) else {}
    image_shape = inner.get("image_shape")
    input_shape: list[int | None] = list(image_shape) if modality == "image" and image_shape \
        else [None]
    lib = library_root(root)
    with staging_folder(lib, name) as tmp:
        skipped = copy_model_folder(src, tmp / PRESET_DIR, reporter)
        if skipped:
            reporter.warning(f"not copied (pickles / other formats): {', '.join(skipped[:8])}")
        meta = {}
        with contextlib.suppress(OSError, UnicodeDecodeError, json.JSONDecodeError):
            meta = json.loads((src / "metadata.json").read_text(encoding="utf-8"))
        params = int(meta.get("parameter_count") or params)
        entry = LibraryEntry(
            name=name, modality=modality, format="keras_hub", payload=PRESET_DIR, kind=kind,
            source=source or str(src),
            description=description or f"keras-hub {cls.split('>')[-1]}, "
                                       f"{format_params(params)} params",
            input_shape=input_shape, params=params, architecture=cls.split(">")[-1],
            preprocessing="auto", licence=licence_text(src), network=network,
            image_size=[int(image_shape[0]), int(image_shape[1])]
            if modality == "image" and image_shape and image_shape[0] else None,
            extra={"keras_hub_class": cls, "skipped": skipped})
        return commit_entry(tmp, lib, entry, replace)


# ------------------------------------------------------------------ Hugging Face folders
def _hf_modality(src: Path, model_type: str, architecture: str) -> str:
    if model_type:
        if model_type in HF_TEXT_TYPES:
            return "text"
        if model_type in HF_IMAGE_TYPES:
            return "image"
        raise LibraryError(
            f"{src.name}: keras-hub cannot convert Hugging Face model_type '{model_type}' "
            f"into a backbone ftstudio fine-tunes; supported: "
            f"{', '.join(sorted(HF_TEXT_TYPES | HF_IMAGE_TYPES))}")
    if architecture.startswith(TIMM_PREFIXES):
        return "image"
    raise LibraryError(f"{src.name}: keras-hub has no converter for timm architecture "
                       f"'{architecture}'; supported families: {', '.join(TIMM_PREFIXES)}")


def _hf_params(src: Path, modality: str) -> int:
    shards = sorted(src.glob("model*.safetensors"))
    if not shards:
        pickles = [p.name for p in src.iterdir() if p.suffix.lower() in PICKLE_SUFFIXES]
        extra = f" (it has {', '.join(pickles)}, which ftstudio never loads: pickles can run " \
                f"code)" if pickles else ""
        raise LibraryError(f"{src.name} has no model.safetensors{extra}; convert the weights "
                           f"to safetensors (e.g. save_pretrained(safe_serialization=True))")
    params = sum(safetensors_params(p) for p in shards)
    if modality == "text":
        vocab = [n for n in ("vocab.txt", "tokenizer.json", "vocab.json", "spiece.model",
                             "sentencepiece.bpe.model") if (src / n).exists()]
        if not vocab:
            raise LibraryError(f"{src.name} has no tokenizer files (vocab.txt, tokenizer.json "
                               f"or a sentencepiece model): copy them next to config.json")
    return params


def _hf_image_size(config: dict[str, Any]) -> list[int]:
    pretrained = config.get("pretrained_cfg") or {}
    insize = pretrained.get("input_size") or [3, config.get("image_size", 224),
                                              config.get("image_size", 224)]
    return [int(insize[-2]), int(insize[-1])]


def import_hf_folder(src: Path, name: str, description: str | None, replace: bool,
                     root: str | Path | None, reporter: Reporter) -> LibraryEntry:
    """Copy a Hugging Face folder (safetensors weights) into the library as entry ``name``.

    Raises:
        LibraryError: a model type keras-hub cannot convert, no safetensors weights (pickles
            only), or no tokenizer files for a text model.
    """
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    model_type = str(config.get("model_type", ""))
    architecture = str(config.get("architecture", ""))
    modality = _hf_modality(src, model_type, architecture)
    params = _hf_params(src, modality)
    lib = library_root(root)
    with staging_folder(lib, name) as tmp:
        skipped = copy_model_folder(src, tmp / PRESET_DIR, reporter)
        what = model_type or architecture
        layers = config.get("num_hidden_layers")
        hidden = config.get("hidden_size")
        detail = f", {layers} layers, hidden {hidden}" if layers and hidden else ""
        size = _hf_image_size(config) if modality == "image" else None
        input_shape: list[int | None] = [None]
        if modality == "image":
            input_shape = [size[0], size[1], 3] if size else [None, None, 3]
        entry = LibraryEntry(
            name=name, modality=modality, format="hf", payload=PRESET_DIR, kind="huggingface",
            source=str(src),
            description=description or f"Hugging Face {what}{detail}, "
                                       f"{format_params(params)} params "
                                       f"(converted by keras-hub on load)",
            input_shape=input_shape, params=params, architecture=what, preprocessing="auto",
            image_size=size, licence=licence_text(src),
            extra={"model_type": model_type,
                   "max_sequence_length": config.get("max_position_embeddings"),
                   "skipped": skipped, "architectures": config.get("architectures")})
        return commit_entry(tmp, lib, entry, replace)
