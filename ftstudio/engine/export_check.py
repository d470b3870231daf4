"""The export check's child process: load exported files the way a user would, and predict.

Run by path (``python -I export_check.py MANIFEST``), never imported: it imports no ftstudio
module (an import hook refuses them), so an export that passes here works on a machine with
nothing of ftstudio installed. It needs only what each format's README names: Keras and
keras-hub (``.keras``), TensorFlow and TF-Text (SavedModel), ``ai-edge-litert`` (TFLite) and
``onnxruntime`` (ONNX); text exports on token ids also read their keras-hub tokenizer.

The manifest (JSON) names the modality, the inputs (``inputs.npz``: ``x``, the test split as
the studio reads it), the checks (``key``, ``format``, ``file``) and where to write the outputs
(``outputs.npz``, keys ``<check key>/<output name>``) and the per-check results (JSON:
``seconds`` and ``error``). One check failing does not stop the others.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

PREPROCESSOR_DIR = "preprocessor"
LAYERS_FILE = "ftstudio_layers"


class _RefuseFtstudio(importlib.abc.MetaPathFinder):
    """Makes any import of the ftstudio package fail, so the check proves its absence."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "ftstudio" or name.startswith("ftstudio."):
            raise ImportError(f"the export check imported {name}; exported files must load "
                              f"without ftstudio")
        return None


def _predict_keras(file: Path, modality: str, x: Any) -> Any:
    import keras

    if (file.parent / f"{LAYERS_FILE}.py").is_file():
        sys.path.insert(0, str(file.parent))
        __import__(LAYERS_FILE)
    if modality == "text":
        import keras_hub  # noqa: F401 - registers the backbone classes the file names
    model = keras.saving.load_model(str(file), compile=False, safe_mode=True)
    if modality == "text":
        x = _preprocessor(file.parent)(x.tolist())
    elif modality == "image":
        x = x.astype(np.float32)  # the model takes float pixels 0..255
    return model.predict(x, batch_size=64, verbose=0)


def _predict_savedmodel(folder: Path, modality: str, x: Any) -> Any:
    import tensorflow as tf

    if modality == "text":
        import tensorflow_text  # noqa: F401 - registers the tokenizer's ops
    loaded = tf.saved_model.load(str(folder))
    outputs: dict[str, list[Any]] = {}
    for start in range(0, len(x), 64):
        batch = loaded.serve(tf.constant(x[start:start + 64]))
        for name, value in batch.items():
            outputs.setdefault(name, []).append(value.numpy())
    return {name: np.concatenate(parts) for name, parts in outputs.items()}


def _predict_tflite(file: Path, modality: str, x: Any) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(file)).get_signature_runner()
    details = runner.get_input_details()
    outputs: dict[str, list[Any]] = {}
    for row in _model_inputs(file.parent, modality, x, details):
        for name, value in runner(**row).items():
            outputs.setdefault(name, []).append(np.asarray(value))
    return {name: np.concatenate(parts) for name, parts in outputs.items()}


def _predict_onnx(file: Path, modality: str, x: Any) -> Any:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(file), providers=["CPUExecutionProvider"])
    types = {i.name: _onnx_dtype(i.type) for i in session.get_inputs()}
    names = [o.name for o in session.get_outputs()]
    details = {name: {"dtype": dtype} for name, dtype in types.items()}
    outputs: dict[str, list[Any]] = {}
    for row in _model_inputs(file.parent, modality, x, details):
        for name, value in zip(names, session.run(names, row), strict=True):
            outputs.setdefault(name, []).append(np.asarray(value))
    return {name: np.concatenate(parts) for name, parts in outputs.items()}


def _onnx_dtype(type_name: str) -> Any:
    return {"tensor(bool)": np.bool_, "tensor(int32)": np.int32, "tensor(int64)": np.int64,
            "tensor(uint8)": np.uint8}.get(type_name, np.float32)


def _model_inputs(folder: Path, modality: str, x: Any, details: dict[str, Any]) -> Any:
    """Batches of feeds for a model on token ids / pixels / features, cast to its dtypes."""
    for start in range(0, len(x), 64):
        chunk = x[start:start + 64]
        if modality == "text":
            tokens = _preprocessor(folder)(chunk.tolist())
            feeds = {name: np.asarray(tokens[name]) for name in details}
        else:
            feeds = {next(iter(details)): np.asarray(chunk)}
        yield {name: value.astype(details[name]["dtype"]) for name, value in feeds.items()}


_PREPROCESSORS: dict[Path, Any] = {}


def _preprocessor(folder: Path) -> Any:
    """The keras-hub preprocessor shipped beside a text export (loaded once)."""
    if folder not in _PREPROCESSORS:
        import keras_hub

        _PREPROCESSORS[folder] = keras_hub.models.TextClassifierPreprocessor.from_preset(
            str(folder / PREPROCESSOR_DIR))
    return _PREPROCESSORS[folder]


_PREDICTORS = {"keras": _predict_keras, "savedmodel": _predict_savedmodel,
               "tflite": _predict_tflite, "onnx": _predict_onnx}


def run_checks(manifest: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run every check of ``manifest``; returns the per-check results and the outputs."""
    with np.load(manifest["inputs"], allow_pickle=False) as saved:
        x = saved["x"]
    modality = manifest["modality"]
    results: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for check in manifest["checks"]:
        started = time.perf_counter()
        try:
            outputs = _PREDICTORS[check["format"]](Path(check["file"]), modality, x)
            if not isinstance(outputs, dict):
                outputs = {check["output_names"][0]: outputs}
            for name, value in outputs.items():
                arrays[f"{check['key']}/{name}"] = np.asarray(value, dtype=np.float64)
            results[check["key"]] = {"error": None}
        except Exception as exc:  # noqa: BLE001 - reported per check, the others still run
            lines = traceback.format_exception_only(type(exc), exc)
            results[check["key"]] = {"error": "".join(lines).strip()[-1500:]}
        results[check["key"]]["seconds"] = round(time.perf_counter() - started, 3)
    leaked = sorted(m for m in sys.modules if m == "ftstudio" or m.startswith("ftstudio."))
    if leaked:
        raise RuntimeError(f"ftstudio modules were imported: {', '.join(leaked)}")
    return results, arrays


def main(argv: list[str]) -> int:
    """Read the manifest named by ``argv[1]``, run its checks, write outputs and results."""
    sys.meta_path.insert(0, _RefuseFtstudio())
    sys.dont_write_bytecode = True  # no __pycache__ inside the export folders
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    manifest = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    results, arrays = run_checks(manifest)
    with open(manifest["outputs"], "wb") as out:
        np.savez(out, allow_pickle=False, **arrays)
    Path(manifest["results"]).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
