"""The keras.applications architectures: weights-file matching, building, importing weights.

A weights file (``.h5`` / ``.weights.h5``) carries no architecture, so it is matched by its
number of float arrays and parameters against a table measured on Keras 3
(``include_top=False``), then loaded strictly into each candidate until one fits.

Keras and h5py are imported inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftstudio.engine.library.keras_entries import save_model_entry
from ftstudio.engine.library.store import LibraryEntry, sha256_file
from ftstudio.engine.model_files import (
    load_weights_strict,
    pixel_preprocessing,
    weights_signature,
)
from ftstudio.engine.reporting import Reporter
from ftstudio.errors import LibraryError
from ftstudio.formatting import format_params

__all__ = ["applications_constructor", "applications_preprocessing",
           "build_application", "default_image_side", "import_applications_weights",
           "match_applications_weights"]

# (arch, kwargs) -> float-variable count, float parameter count, feature channels, all for
# include_top=False. Measured on keras 3 applications built with weights=None.
_APPS_TABLE: list[tuple[str, dict[str, Any], int, int, int]] = [
    ("MobileNet", {"alpha": 0.25}, 135, 218544, 256),
    ("MobileNet", {"alpha": 0.5}, 135, 829536, 512),
    ("MobileNet", {"alpha": 0.75}, 135, 1832976, 768),
    ("MobileNet", {"alpha": 1.0}, 135, 3228864, 1024),
    ("MobileNetV2", {"alpha": 0.35}, 260, 410208, 1280),
    ("MobileNetV2", {"alpha": 0.5}, 260, 706224, 1280),
    ("MobileNetV2", {"alpha": 0.75}, 260, 1382064, 1280),
    ("MobileNetV2", {"alpha": 1.0}, 260, 2257984, 1280),
    ("MobileNetV2", {"alpha": 1.3}, 260, 3766048, 1664),
    ("MobileNetV2", {"alpha": 1.4}, 260, 4363712, 1792),
    ("MobileNetV3Small", {"alpha": 0.75, "minimalistic": False}, 206, 583160, 432),
    ("MobileNetV3Small", {"alpha": 0.75, "minimalistic": True}, 170, 273800, 432),
    ("MobileNetV3Small", {"alpha": 1.0, "minimalistic": False}, 206, 939120, 576),
    ("MobileNetV3Small", {"alpha": 1.0, "minimalistic": True}, 170, 441000, 576),
    ("MobileNetV3Large", {"alpha": 0.75, "minimalistic": False}, 262, 1808736, 720),
    ("MobileNetV3Large", {"alpha": 0.75, "minimalistic": True}, 230, 865520, 720),
    ("MobileNetV3Large", {"alpha": 1.0, "minimalistic": False}, 262, 2996352, 960),
    ("MobileNetV3Large", {"alpha": 1.0, "minimalistic": True}, 230, 1437608, 960),
    ("ResNet50", {}, 318, 23587712, 2048),
    ("ResNet101", {}, 624, 42658176, 2048),
    ("ResNet152", {}, 930, 58370944, 2048),
    ("ResNet50V2", {}, 270, 23564800, 2048),
    ("ResNet101V2", {}, 542, 42626560, 2048),
    ("ResNet152V2", {}, 814, 58331648, 2048),
    ("VGG16", {}, 26, 14714688, 512),
    ("VGG19", {}, 32, 20024384, 512),
    ("InceptionV3", {}, 376, 21802784, 2048),
    ("InceptionResNetV2", {}, 896, 54336736, 1536),
    ("Xception", {}, 234, 20861480, 2048),
    ("DenseNet121", {}, 604, 7037504, 1024),
    ("DenseNet169", {}, 844, 12642880, 1664),
    ("DenseNet201", {}, 1004, 18321984, 1920),
    ("NASNetMobile", {}, 1124, 4269716, 1056),
    ("NASNetLarge", {}, 1544, 84916818, 4032),
    ("EfficientNetB0", {}, 311, 4049570, 1280),
    ("EfficientNetB1", {}, 439, 6575238, 1280),
    ("EfficientNetB2", {}, 439, 7768568, 1408),
    ("EfficientNetB3", {}, 496, 10783534, 1536),
    ("EfficientNetB4", {}, 610, 17673822, 1792),
    ("EfficientNetB5", {}, 738, 28513526, 2048),
    ("EfficientNetB6", {}, 852, 40960142, 2304),
    ("EfficientNetB7", {}, 1037, 64097686, 2560),
    ("EfficientNetV2B0", {}, 359, 5919312, 1280),
    ("EfficientNetV2B1", {}, 441, 6931124, 1280),
    ("EfficientNetV2B2", {}, 460, 8769374, 1408),
    ("EfficientNetV2B3", {}, 536, 12930622, 1536),
    ("EfficientNetV2S", {}, 670, 20331360, 1280),
    ("EfficientNetV2M", {}, 961, 53150388, 1280),
    ("EfficientNetV2L", {}, 1329, 117746848, 1280),
    ("ConvNeXtTiny", {}, 180, 27820128, 768),
    ("ConvNeXtSmall", {}, 342, 49454688, 768),
    ("ConvNeXtBase", {}, 342, 87566464, 1024),
    ("ConvNeXtLarge", {}, 342, 196230336, 1536),
    ("ConvNeXtXLarge", {}, 342, 348147968, 2048),
]

_APPS_DEFAULT_SIZE = {
    "InceptionV3": 299, "InceptionResNetV2": 299, "Xception": 299, "NASNetLarge": 331,
    "EfficientNetB1": 240, "EfficientNetB2": 260, "EfficientNetB3": 300, "EfficientNetB4": 380,
    "EfficientNetB5": 456, "EfficientNetB6": 528, "EfficientNetB7": 600, "EfficientNetV2B1": 240,
    "EfficientNetV2B2": 260, "EfficientNetV2B3": 300, "EfficientNetV2S": 384,
    "EfficientNetV2M": 480, "EfficientNetV2L": 480,
}


def default_image_side(arch: str) -> int:
    """The image side an architecture was trained at (224 unless the table says otherwise)."""
    return _APPS_DEFAULT_SIZE.get(arch, 224)


def applications_preprocessing(arch: str) -> str:
    """The pixel scaling a keras.applications architecture expects (the one rule)."""
    return pixel_preprocessing(arch)


def applications_constructor(arch: str) -> Callable[..., Any]:
    """The ``keras.applications`` function called ``arch`` (exact name).

    Raises:
        LibraryError: there is no such architecture.
    """
    import keras

    fn = getattr(keras.applications, arch, None)
    if fn is None or not callable(fn) or not arch[:1].isupper():
        raise LibraryError(f"keras.applications has no architecture '{arch}'")
    return fn


def match_applications_weights(path: str | Path,
                               arch: str | None = None) -> list[tuple[str, dict[str, Any], int]]:
    """Candidate architectures for a weights file: ``(arch, kwargs, classes)`` triples.

    ``classes`` is 0 when the file has no classifier top, else the number of classes.
    Cheap: compares the file's variable count and parameter count with a table.
    """
    n, total, _ = weights_signature(Path(path))
    out = []
    for name, kwargs, count, params, features in _APPS_TABLE:
        if arch and name.lower() != arch.lower():
            continue
        if count == n and params == total:
            out.append((name, dict(kwargs), 0))
        elif count + 2 == n and total > params:
            extra = total - params
            if extra % (features + 1) == 0:
                out.append((name, dict(kwargs), extra // (features + 1)))
    return out


def build_application(arch: str, kwargs: dict[str, Any], classes: int, flexible: bool) -> Any:
    """Build ``arch`` with random weights.

    With a ``classes``-way top, or without one (``classes=0``; any image size when
    ``flexible``, NASNet excepted).
    """
    fn = applications_constructor(arch)
    size = default_image_side(arch)
    if classes:
        return fn(include_top=True, weights=None, classes=classes,
                  input_shape=(size, size, 3), classifier_activation=None, **kwargs)
    shape = (None, None, 3) if flexible and not arch.startswith("NASNet") else (size, size, 3)
    return fn(include_top=False, weights=None, input_shape=shape, **kwargs)


def _load_first_fitting(src: Path, candidates: list[tuple[str, dict[str, Any], int]]
                        ) -> tuple[str, dict[str, Any], int, Any] | None:
    import keras

    for cand_arch, kwargs, classes in candidates:
        keras.backend.clear_session()
        model = build_application(cand_arch, kwargs, classes, flexible=not classes)
        try:
            load_weights_strict(model, src, cand_arch)
        except Exception:  # noqa: BLE001 - a layout mismatch: try the next candidate
            continue
        return cand_arch, kwargs, classes, model
    return None


def import_applications_weights(src: Path, name: str, arch: str | None,
                                preprocessing: str | None, image_size: list[int] | None,
                                description: str | None, replace: bool,
                                root: str | Path | None, reporter: Reporter,
                                kind: str = "applications_weights", network: bool = False,
                                source: str | None = None) -> LibraryEntry:
    """Import a keras.applications weights file as a ``keras`` entry (the no-top backbone).

    A file with a classifier top is loaded into the full model and its backbone layers'
    weights copied into a flexible-size no-top model.

    Raises:
        LibraryError: no architecture matches the file, or none of the matches loads it.
    """
    candidates = match_applications_weights(src, arch)
    if not candidates:
        n, total, _ = weights_signature(src)
        which = f"'{arch}'" if arch else "any keras.applications architecture"
        raise LibraryError(f"{src.name} ({n} weight arrays, {total:,} parameters) does not "
                           f"match {which} (with or without a classifier top); check --arch, "
                           f"or save the weights of an include_top=False model")
    reporter.status(f"Matching {src.name} to {candidates[0][0]}…")
    chosen = _load_first_fitting(src, candidates)
    if chosen is None:
        raise LibraryError(f"{src.name} looked like {candidates[0][0]} but its weights do not "
                           f"load into it; pass --arch or re-save the weights")
    cand_arch, kwargs, classes, model = chosen
    if classes:
        backbone = build_application(cand_arch, kwargs, 0, flexible=True)
        for layer in backbone.layers:
            if layer.weights:
                layer.set_weights(model.get_layer(layer.name).get_weights())
    else:
        backbone = model
    size = default_image_side(cand_arch)
    variant = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    label = f"{cand_arch}({variant})" if variant else cand_arch
    top = f"; its {classes}-class top was left out" if classes else ""
    return save_model_entry(
        backbone, name, kind=kind, source=source or str(src),
        description=description or f"keras.applications {label} with the weights of "
                                   f"{src.name} ({format_params(backbone.count_params())} "
                                   f"params{top})",
        modality="image", preprocessing=preprocessing or applications_preprocessing(cand_arch),
        image_size=image_size or [size, size], architecture=cand_arch,
        licence_folder=src.parent, origin_sha256=sha256_file(src),
        extra={"arch_kwargs": kwargs, "top_classes": classes}, network=network,
        replace=replace, root=root, reporter=reporter)
