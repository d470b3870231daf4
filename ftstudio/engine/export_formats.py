"""Writing one export format of a finished run into a folder (``.keras``, SavedModel, TFLite, ONNX).

Each writer takes the loaded run and an empty (staging) folder, writes the artefact files and
returns what the parity check must load (:class:`Artefact`). A conversion that cannot be done
raises :class:`~ftstudio.errors.FtStudioError` naming the op and layer that blocked it and what
to try instead; :mod:`ftstudio.engine.export` turns that into the format's error and goes on.

- ``keras``: ``model.keras`` (no optimizer state) + ``ftstudio_layers.py`` (the model's own layer
  classes, a copy of :mod:`ftstudio.engine.layers`) + ``preprocessor/`` for text. A Functional
  model with the keras-hub preprocessor inside would save but not load (keras-hub #1522), so
  the preprocessor stays a keras-hub preset beside the model.
- ``savedmodel``: raw inputs through ``keras.export.ExportArchive``: strings (tokenizer inside),
  uint8 images of any size (resize and scaling inside) or float32 features.
- ``tflite`` / ``onnx``: the model's own inputs (token ids for text, with ``preprocessor/``
  beside it; float pixels 0..255; features), TFLite builtin ops only (no Flex delegate needed).

TensorFlow, Keras, keras-hub and tf2onnx are imported inside the writers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.engine.artifacts import PREPROCESSOR_DIR, LoadedRun
from ftstudio.engine.model_files import first_line
from ftstudio.errors import FtStudioError

EXPORT_PINS = ("tf2onnx>=1.17,<1.18", "onnxruntime>=1.20", "ai-edge-litert>=2.0")
"""The ``export`` extra of pyproject.toml (tf2onnx 1.16 pins protobuf < 4: not with TF 2.21)."""

INSTALL_EXPORT = "pip install 'ftstudio[export]'  (or: pip install " + " ".join(
    f"'{pin}'" for pin in EXPORT_PINS) + ")"
"""The command that installs the optional export dependencies."""

LAYERS_FILE = "ftstudio_layers.py"
"""The copy of :mod:`ftstudio.engine.layers` shipped beside an exported ``model.keras``."""

_NEEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "tflite": (("ai_edge_litert", "ai-edge-litert"),),
    "onnx": (("tf2onnx", "tf2onnx"), ("onnxruntime", "onnxruntime")),
}


@dataclass
class Artefact:
    """One file the parity check loads: ``key`` names it in the report (``tflite-int8``)."""

    key: str
    format: str
    file: Path
    quantized: bool = False
    seconds: float | None = None
    """How long writing this file took, when the format writes several."""


def missing_dependency(fmt: str) -> str | None:
    """Why ``fmt`` cannot be exported here (a package is missing), or None.

    ``import tf2onnx`` can raise AttributeError (an old tf2onnx against a new NumPy or
    protobuf) rather than ImportError; both count as missing.
    """
    for module, package in _NEEDS.get(fmt, ()):
        if importlib.util.find_spec(module) is None:
            return f"{fmt} export needs the '{package}' package: {INSTALL_EXPORT}"
        if module == "tf2onnx":
            try:
                import tf2onnx  # noqa: F401
            except (ImportError, AttributeError) as exc:
                return (f"{fmt} export needs a tf2onnx that works with this TensorFlow "
                        f"({type(exc).__name__}: {exc}): {INSTALL_EXPORT}")
    return None


# ------------------------------------------------------------------ .keras
def write_keras(loaded: LoadedRun, folder: Path, quantize: bool = False) -> list[Artefact]:
    """``model.keras`` + ``ftstudio_layers.py`` (+ ``preprocessor/`` for text)."""
    from ftstudio.engine import layers

    file = folder / "model.keras"
    loaded.model.save(str(file))
    source = inspect.getsource(layers)
    (folder / LAYERS_FILE).write_text(
        "# The layer classes of ftstudio models (a copy of ftstudio/engine/layers.py).\n"
        "# Import this module before keras.saving.load_model('model.keras').\n" + source,
        encoding="utf-8")
    copy_preprocessor(loaded, folder)
    return [Artefact("keras", "keras", file)]


def copy_preprocessor(loaded: LoadedRun, folder: Path) -> None:
    """Copy a text run's keras-hub preprocessor preset (vocabulary + settings) into ``folder``."""
    source = loaded.run.file(PREPROCESSOR_DIR)
    if loaded.spec.modality == "text" and source.is_dir():
        shutil.copytree(source, folder / PREPROCESSOR_DIR)


# ------------------------------------------------------------------ SavedModel
def write_savedmodel(loaded: LoadedRun, folder: Path, quantize: bool = False) -> list[Artefact]:
    """A SavedModel whose ``serve`` endpoint takes raw strings / uint8 images / features."""
    import keras

    # The endpoint tracks the variables it uses; track(model) as well would save every
    # weight twice (Keras 3.15 keeps both lists), doubling the folder.
    archive = keras.export.ExportArchive()
    serve, signature = _raw_endpoint(loaded, archive)
    archive.add_endpoint("serve", serve, input_signature=signature)
    target = folder / "saved_model"
    try:
        archive.write_out(str(target), verbose=False)
    except Exception as exc:  # noqa: BLE001 - TF raises many kinds here; all mean "cannot save"
        raise FtStudioError(f"SavedModel export failed: {first_line(exc)}; the .keras export "
                            f"keeps the model") from exc
    return [Artefact("savedmodel", "savedmodel", target)]


def _raw_endpoint(loaded: LoadedRun, archive: Any) -> tuple[Callable[[Any], Any], list[Any]]:
    """The ``serve`` function and its input signature for the run's modality."""
    import tensorflow as tf

    model = loaded.model
    if loaded.spec.modality == "text":
        preprocessor = loaded.backbone.preprocessor
        preprocessor(tf.constant(["build the tokenizer"]))  # ExportArchive needs it built
        archive.track(preprocessor)

        def serve_text(texts: Any) -> Any:
            return model(preprocessor(texts), training=False)

        return serve_text, [tf.TensorSpec([None], tf.string, name="text")]
    if loaded.spec.modality == "image":
        assert loaded.backbone.image_shape is not None
        height, width, channels = loaded.backbone.image_shape

        def serve_image(images: Any) -> Any:
            pixels = tf.image.resize(images, (height, width), antialias=True)
            return model(pixels, training=False)

        return serve_image, [tf.TensorSpec([None, None, None, channels], tf.uint8,
                                           name="image")]
    spec = model.inputs[0]

    def serve_features(features: Any) -> Any:
        return model(features, training=False)

    return serve_features, [tf.TensorSpec(spec.shape, tf.float32, name="features")]


# ------------------------------------------------------------------ TFLite
def write_tflite(loaded: LoadedRun, folder: Path, quantize: bool = False) -> list[Artefact]:
    """``model.tflite`` (float32) and, with ``quantize``, ``model_int8.tflite`` (dynamic range)."""
    import tensorflow as tf

    artefacts = [_litert(loaded.model, folder / "model.tflite", None)]
    if quantize:
        artefacts.append(_litert(loaded.model, folder / "model_int8.tflite",
                                 [tf.lite.Optimize.DEFAULT]))
    copy_preprocessor(loaded, folder)
    return artefacts


def _litert(model: Any, file: Path, optimizations: list[Any] | None) -> Artefact:
    """Convert with Keras' LiteRT exporter, TFLite builtin ops only."""
    import tensorflow as tf

    extra: dict[str, Any] = {"optimizations": optimizations} if optimizations else {}
    started = time.perf_counter()
    try:
        with _quiet_loggers("tensorflow", "absl"):
            model.export(str(file), format="litert", verbose=False,
                         target_spec={"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]},
                         **extra)
    except Exception as exc:  # noqa: BLE001 - the converter raises ConverterError and others
        file.unlink(missing_ok=True)
        ops = sorted(set(re.findall(r"'tf\.(\w+)' op", str(exc))))
        paths = re.findall(r'fused\["\w+:", "([^"@]+)@', str(exc))
        raise FtStudioError(blocked_message("TFLite", ops, paths, model, exc)) from exc
    seconds = round(time.perf_counter() - started, 3)
    if optimizations:
        return Artefact("tflite-int8", "tflite", file, quantized=True, seconds=seconds)
    return Artefact("tflite", "tflite", file, seconds=seconds)


# ------------------------------------------------------------------ ONNX
def write_onnx(loaded: LoadedRun, folder: Path, quantize: bool = False) -> list[Artefact]:
    """``model.onnx`` through tf2onnx, checked for ops ONNX does not define."""
    import onnx

    problem = missing_dependency("onnx")
    if problem:
        raise FtStudioError(problem)
    proto = _onnx_proto(loaded.model)
    unknown = [node for node in proto.graph.node if not onnx.defs.has(node.op_type, node.domain)]
    if unknown:
        raise FtStudioError(blocked_message(
            "ONNX", sorted({n.op_type for n in unknown}), [n.name for n in unknown],
            loaded.model, None))
    file = folder / "model.onnx"
    onnx.save(proto, str(file))
    copy_preprocessor(loaded, folder)
    return [Artefact("onnx", "onnx", file)]


def _onnx_proto(model: Any) -> Any:
    """Freeze the model's call and convert it with tf2onnx.

    ``model.export(format="onnx")`` hands tf2onnx a function whose captured constants (a
    ``Normalization`` layer's mean and variance) become extra graph inputs the user would have
    to feed; freezing first turns them into constants.
    """
    import tensorflow as tf
    import tf2onnx
    from tf2onnx import tf_loader

    if isinstance(model.input, dict):
        signature: Any = {k: tf.TensorSpec(v.shape, v.dtype, name=k)
                          for k, v in model.input.items()}
    else:
        first = model.inputs[0]
        signature = tf.TensorSpec(first.shape, first.dtype, name=first.name)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(signature)
    captured = {id(internal) for _, internal in concrete.graph.captures}
    inputs = [t.name for t in concrete.inputs if id(t) not in captured]
    outputs = [t.name for t in concrete.outputs]
    renames = tf2onnx.convert.tensor_names_from_structed(concrete, inputs, outputs)
    try:
        with _quiet_loggers("tf2onnx", "tensorflow", "absl"):
            frozen = tf_loader.from_function(concrete, inputs, outputs)
            proto, _ = tf2onnx.convert.from_graph_def(
                frozen, name=model.name, input_names=inputs, output_names=outputs,
                tensors_to_rename=renames)
    except Exception as exc:  # noqa: BLE001 - tf2onnx raises anything from its handlers
        raise FtStudioError(f"ONNX conversion failed: {first_line(exc)}; try the SavedModel "
                            f"or TFLite export instead") from exc
    return proto


# ------------------------------------------------------------------ messages
def blocked_message(what: str, ops: list[str], paths: list[str], model: Any,
                    exc: BaseException | None) -> str:
    """Say which op (and layer) a converter could not handle, and what to try."""
    if not ops:
        detail = first_line(exc) if exc else "unknown reason"
        return (f"{what} conversion failed: {detail}; try another format (SavedModel or "
                f".keras keep every layer)")
    layers = layers_of(paths, model)
    where = f" in layer{'s' if len(layers) > 1 else ''} {', '.join(layers)}" if layers else ""
    return (f"{what} cannot convert the op{'s' if len(ops) > 1 else ''} {', '.join(ops)}{where}: "
            f"{what} has no such op. Try the SavedModel or .keras export (they keep every "
            f"layer), or rebuild the model without that layer")


def layers_of(paths: list[str], model: Any) -> list[str]:
    """The model's layer names that op paths such as ``functional_1/odd_1/erfinv/Erfinv`` name."""
    names = {layer.name for layer in _all_layers(model)}
    found: list[str] = []
    for path in paths:
        parts = [re.sub(r"_\d+$", "", part) for part in path.split("/")]
        hits = [part for part in parts if part in names and part != model.name]
        if hits and hits[-1] not in found:
            found.append(hits[-1])
    return [f"'{name}'" for name in found]


def _all_layers(model: Any) -> Iterator[Any]:
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _all_layers(layer)


@contextlib.contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    """Silence converter chatter (deprecation notes, "op not supported" lines we report)."""
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


WRITERS: dict[str, Callable[[LoadedRun, Path, bool], list[Artefact]]] = {
    "keras": write_keras, "savedmodel": write_savedmodel, "tflite": write_tflite,
    "onnx": write_onnx,
}
"""Format name -> writer."""
