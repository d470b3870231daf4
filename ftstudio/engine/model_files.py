"""Model files as untrusted input: the one safe loader, strict weights, the pixel rule.

Every ``.keras`` / ``.h5`` model ftstudio opens (a backbone file, a library import, a run's
``model.keras``) goes through :func:`load_model_safely`: the file is checked to be what its
name says, its config is searched for ``Lambda`` layers (Python code) before any loader sees
it, and Keras loads it with ``safe_mode`` on. Pickles are never loaded.

:func:`pixel_preprocessing` is the one rule that says how an image backbone expects its
pixels scaled (the ``Preprocessing`` literals of :mod:`ftstudio.spec`, ``auto`` excepted).

Keras, h5py and keras-hub are imported inside the functions that need them, so this module
is cheap to import.
"""

from __future__ import annotations

import json
import re
import tempfile
import warnings
import zipfile
from pathlib import Path
from typing import Any

from ftstudio.engine.archive_limits import check_h5_limits, check_zip_limits, check_zipped_weights
from ftstudio.errors import BackboneError, LibraryError

__all__ = [
    "MODEL_FILE_SUFFIXES", "converter_preprocessing", "find_unsafe_layer", "h5_model_config",
    "is_hdf5", "keras_zip_config", "load_model_safely", "load_weights_strict",
    "pixel_preprocessing", "refuse_unsafe_layers", "weights_signature",
]

MODEL_FILE_SUFFIXES: tuple[str, ...] = (".keras", ".h5", ".hdf5")
"""File name endings loaded as whole Keras models."""

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_UNSAFE_CLASSES = {"Lambda", "TFOpLambda", "SlicingOpLambda"}


# ------------------------------------------------------------------------ file sniffing
def is_hdf5(path: Path) -> bool:
    """Whether ``path`` starts with the HDF5 signature (at any of its allowed offsets)."""
    try:
        with open(path, "rb") as handle:
            for offset in (0, 512, 1024, 2048):
                handle.seek(offset)
                if handle.read(8) == _HDF5_MAGIC:
                    return True
    except OSError:
        return False
    return False


def h5_model_config(path: Path) -> dict[str, Any] | None:
    """The ``model_config`` of a legacy ``.h5`` model, or None for a weights-only file.

    Raises:
        LibraryError: the file is not readable HDF5 or its config is not JSON.
    """
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            check_h5_limits(path, handle)
            raw = handle.attrs.get("model_config")
    except OSError as exc:
        raise LibraryError(f"{path.name} is not a readable HDF5 file ({exc}); it may be "
                           f"truncated or damaged") from exc
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise LibraryError(f"{path.name} has an unreadable model config") from exc
    return config if isinstance(config, dict) else None


def keras_zip_config(path: Path) -> dict[str, Any]:
    """The ``config.json`` inside a ``.keras`` zip archive, read within the archive limits.

    Raises:
        LibraryError: not a zip, not a Keras model archive, damaged, or beyond the limits
            (:func:`check_zip_limits`).
    """
    if not zipfile.is_zipfile(path):
        raise LibraryError(f"{path.name} is not a Keras model file: a .keras file is a zip "
                           f"archive and this one is not (wrong extension, or damaged: cut "
                           f"short or overwritten)")
    try:
        with zipfile.ZipFile(path) as archive:
            check_zip_limits(path, archive)
            check_zipped_weights(path, archive)
            names = set(archive.namelist())
            if "config.json" not in names or not names & {"model.weights.h5",
                                                          "model.weights.json"}:
                raise LibraryError(f"{path.name} is a zip archive but not a Keras model file "
                                   f"(no config.json + model.weights.h5 inside)")
            config = json.loads(archive.read("config.json").decode("utf-8"))
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LibraryError(f"{path.name} is a damaged Keras model file ({exc})") from exc
    if not isinstance(config, dict):
        raise LibraryError(f"{path.name} has a malformed config.json")
    return config


def find_unsafe_layer(config: Any) -> str | None:
    """Describe the first Lambda-like layer (stored Python code) in a Keras config, or None."""
    if isinstance(config, dict):
        if config.get("class_name") in _UNSAFE_CLASSES:
            inner = config.get("config")
            layer = inner.get("name") if isinstance(inner, dict) else None
            return f"{config['class_name']} layer '{layer or '?'}'"
        children: Any = config.values()
    elif isinstance(config, list):
        children = config
    else:
        return None
    for value in children:
        found = find_unsafe_layer(value)
        if found:
            return found
    return None


def refuse_unsafe_layers(config: Any, what: str) -> None:
    """Raise when a Keras config holds a Lambda layer.

    Raises:
        LibraryError: saying why it is refused and what to do (``what`` names the file).
    """
    found = find_unsafe_layer(config)
    if found:
        raise LibraryError(
            f"{what} contains a {found}: a Lambda layer stores Python code, and loading it would "
            f"run that code, so ftstudio refuses it (Keras safe_mode stays on). Rebuild the model "
            f"with built-in layers (or a registered custom layer class) instead of the Lambda, "
            f"save it again and import that file")


def _model_config(path: Path) -> dict[str, Any]:
    suffix = path.suffix.lower()
    if suffix == ".keras":
        return keras_zip_config(path)
    if suffix in (".h5", ".hdf5"):
        if not is_hdf5(path):
            raise LibraryError(f"{path.name} is not an HDF5 file, though its name says .h5")
        config = h5_model_config(path)
        if config is None:
            raise LibraryError(f"{path.name} holds weights only, no model: use it as "
                               f"backbone.weights, or import it into the model library as a "
                               f"keras.applications weights file")
        return config
    raise LibraryError(f"{path.name}: expected a .keras or .h5 model file")


# ------------------------------------------------------------------------ loading
def _register_custom_objects(config_text: str) -> None:
    """Import the modules that register the serializable classes a model may name."""
    import ftstudio.engine.layers  # noqa: F401 - ftstudio's own layers
    import ftstudio.engine.schedules  # noqa: F401 - learning-rate schedules of saved runs

    if "keras_hub" in config_text:
        import keras_hub  # noqa: F401 - keras-hub's layers (text backbones of fine-tunes)


def load_model_safely(path: str | Path) -> Any:
    """Load a ``.keras`` / ``.h5`` model as untrusted input, without compiling it.

    The file must be what its name says; a Lambda layer anywhere in its config is refused
    before Keras sees the file; Keras then loads it with ``safe_mode`` on.

    Args:
        path: the model file.

    Returns:
        The ``keras.Model``.

    Raises:
        LibraryError: (a :class:`~ftstudio.errors.BackboneError`) the file is missing, not a
            model file, holds a Lambda layer or an unknown layer class, or is damaged.
    """
    path = Path(path)
    if not path.is_file():
        raise LibraryError(f"model file not found: {path}")
    config = _model_config(path)
    refuse_unsafe_layers(config, path.name)
    _register_custom_objects(json.dumps(config))
    import keras

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises ValueError/TypeError/OSError/KeyError here
        raise LibraryError(_load_failure(path, exc)) from exc
    if not isinstance(model, keras.Model):
        raise LibraryError(f"{path.name} does not hold a Keras model")
    return model


def _load_failure(path: Path, exc: BaseException) -> str:
    message = first_line(exc)
    if "Lambda" in message or "safe_mode" in message:
        return (f"{path.name} contains a Lambda layer or needs unsafe deserialization "
                f"({message[:160]}); ftstudio keeps Keras safe_mode on. Rebuild the model "
                f"without Lambda layers and save it again")
    unknown = re.search(r"(?:Unknown layer|Could not locate class)\W+(\w+)", message)
    if unknown or ("not found" in message.lower() and "class" in message.lower()):
        which = f" '{unknown.group(1)}'" if unknown else ""
        return (f"{path.name} uses the custom layer{which}, which ftstudio does not know "
                f"({message[:200]}); save the model with built-in Keras layers, or import "
                f"only a sub-model (--submodel) after re-saving")
    return f"cannot load {path.name} as a Keras model: {message}"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 300 characters), or its type."""
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# ------------------------------------------------------------------------ weights
def weights_signature(path: Path) -> tuple[int, int, list[tuple[str, tuple[int, ...]]]]:
    """``(float arrays, float parameters, [(array path, shape)])`` of an HDF5 weights file.

    Raises:
        LibraryError: the file is not readable HDF5.
    """
    import h5py

    arrays: list[tuple[str, tuple[int, ...]]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" and \
                not name.startswith("optimizer"):
            arrays.append((name, tuple(int(s) for s in obj.shape)))

    try:
        with h5py.File(path, "r") as handle:
            check_h5_limits(path, handle)
            handle.visititems(visit)
    except OSError as exc:
        raise LibraryError(f"{path.name} is not a readable HDF5 file ({exc})") from exc
    total = 0
    for _, shape in arrays:
        count = 1
        for dim in shape:
            count *= dim
        total += count
    return len(arrays), total, arrays


def _same_layout(model: Any, path: Path) -> bool:
    """Whether a Keras 3 weights file holds exactly ``model``'s variables (names and shapes).

    Legacy ``.h5`` weights (keras.applications downloads) are matched by Keras itself.
    """
    import h5py

    with h5py.File(path, "r") as handle:
        if "layer_names" in handle.attrs or "model_weights" in handle:
            return True
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.weights.h5"
        model.save_weights(probe)
        mine = weights_signature(probe)[2]
    return sorted(mine) == sorted(weights_signature(path)[2])


def load_weights_strict(model: Any, path: str | Path, what: str) -> None:
    """Load a weights file into ``model``, refusing partial loads.

    Keras only warns when parts of a weights file find no matching layer (those layers keep
    random weights); here that is an error like a shape mismatch. A Keras 3 weights file must
    also hold exactly the model's variables.

    Args:
        model: the built ``keras.Model``.
        path: a ``.weights.h5`` or legacy ``.h5`` weights file.
        what: names the model in messages (``"MobileNetV2 (include_top=False)"``).

    Raises:
        BackboneError: the weights do not fit ``model``.
    """
    path = Path(path)
    try:
        fits = _same_layout(model, path)
    except (OSError, LibraryError) as exc:
        raise BackboneError(f"the weights in {path.name} do not fit {what}: "
                            f"{first_line(exc)}") from exc
    if not fits:
        raise BackboneError(f"the weights in {path.name} do not fit {what}: their variables "
                            f"(names or shapes) differ from the model's")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(str(path))
        except Exception as exc:  # noqa: BLE001 - every failure becomes one clear message
            raise BackboneError(f"the weights in {path.name} do not fit {what}: "
                                f"{first_line(exc)}") from exc
    partial = [str(w.message) for w in caught
               if re.search(r"skipping|could not be loaded|freshly-initialized|mismatch",
                            str(w.message), re.IGNORECASE)]
    if partial:
        raise BackboneError(f"the weights in {path.name} do not fit {what}: only part of the "
                            f"model found its weights ({partial[0][:160]})")


# ------------------------------------------------------------------------ pixel scaling
_SCALES_ITSELF = ("mobilenetv3", "efficientnet", "convnext", "regnet", "resnetrs")
"""Families Keras builds with their own Rescaling/Normalization layers (by default)."""
_MINUS_ONE_TO_ONE = ("mobilenet", "xception", "inception", "nasnet")


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _has_own_rescaling(model: Any) -> bool:
    import keras

    own = (keras.layers.Rescaling, keras.layers.Normalization)
    first = [layer for layer in getattr(model, "layers", [])
             if not isinstance(layer, keras.layers.InputLayer)][:3]
    return any(isinstance(layer, own) for layer in first)


def pixel_preprocessing(arch_or_hint: str, model: Any = None) -> str:
    """The pixel scaling an image backbone expects: the one rule ftstudio uses.

    The rule, first match wins:

    1. ``model`` starts with its own ``Rescaling`` / ``Normalization`` layer -> ``none``.
    2. The name (``arch_or_hint`` plus, with a model, its name and first layer names; case,
       ``-`` and ``_`` ignored) is a family Keras builds with its own scaling
       (MobileNetV3, EfficientNet(V2), ConvNeXt, RegNet, ResNetRS) -> ``none``; except a
       MobileNetV3 *model* without that layer, which takes ``scale_-1_1``.
    3. MobileNet (v1, v2), Xception, Inception(ResNet), NASNet, ResNet...V2 -> ``scale_-1_1``.
    4. ResNet (v1), VGG -> ``caffe``;  DenseNet -> ``torch``.
    5. Anything else -> ``scale_0_1``.

    Args:
        arch_or_hint: an architecture, model or file name (``"ResNet50"``,
            ``"dog_breed_mobilenetv2 mobilenetv2_1.00_160"``).
        model: the loaded model, when there is one.

    Returns:
        One of ``none``, ``scale_0_1``, ``scale_-1_1``, ``caffe``, ``torch``.
    """
    if model is not None and _has_own_rescaling(model):
        return "none"
    parts = [arch_or_hint]
    if model is not None:
        parts += [str(getattr(model, "name", ""))]
        parts += [layer.name for layer in list(getattr(model, "layers", []))[:3]]
    name = " ".join(_normalise(p) for p in parts)
    if any(k in name for k in _SCALES_ITSELF):
        scales_itself = model is None or "mobilenetv3" not in name
        return "none" if scales_itself else "scale_-1_1"
    if any(k in name for k in _MINUS_ONE_TO_ONE) or re.search(r"resnet\w*v2", name):
        return "scale_-1_1"
    if "resnet" in name or "vgg" in name:
        return "caffe"
    if "densenet" in name:
        return "torch"
    return "scale_0_1"


def converter_preprocessing(scale: Any, offset: Any) -> str | None:
    """The pixel mode a keras-hub ``ImageConverter``'s ``scale`` / ``offset`` amount to.

    Returns:
        ``none``, ``scale_0_1``, ``scale_-1_1`` or ``torch``; None when it is none of them.
    """
    def close(a: Any, b: float) -> bool:
        try:
            return abs(float(a) - b) < 1e-4
        except (TypeError, ValueError):
            return False

    if scale is None and offset is None:
        return "none"
    if close(scale, 1 / 255) and offset is None:
        return "scale_0_1"
    if close(scale, 1 / 127.5) and (close(offset, -1.0) or (
            isinstance(offset, (list, tuple)) and all(close(o, -1.0) for o in offset))):
        return "scale_-1_1"
    if isinstance(scale, (list, tuple)) and len(scale) == 3 and close(scale[0],
                                                                        1 / (255 * 0.229)):
        return "torch"
    return None
