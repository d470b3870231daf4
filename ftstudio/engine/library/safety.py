"""Import sources as untrusted input: what a path is, pickle refusal, safe copying, sizes.

A file is judged by its contents, not only its name: a pickle is refused by its extension
before anything opens it, an ``.h5`` must be HDF5 and a ``.keras`` a Keras zip archive.
Lambda layers and the model loader itself live in :mod:`ftstudio.engine.model_files`.
"""

from __future__ import annotations

import json
import shutil
import struct
import zipfile
from pathlib import Path

from ftstudio.engine.model_files import h5_model_config, is_hdf5, keras_zip_config
from ftstudio.engine.reporting import Reporter
from ftstudio.errors import LibraryError

__all__ = ["PICKLE_SUFFIXES", "copy_model_folder", "detect_kind", "refuse_pickle",
           "safetensors_params"]

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt", ".npy",
                   ".npz", ".msgpack", ".ot", ".dill"}
"""File endings of pickle-based formats, which ftstudio never loads."""
_SKIPPED_NAMES = {".gitattributes", ".git", "__pycache__", ".DS_Store", "tf_model.h5",
                  "flax_model.msgpack", "onnx", "openvino", "coreml"}


def refuse_pickle(path: Path) -> None:
    """Raise: ``path`` is pickle-based.

    Raises:
        LibraryError: always, saying why and what to do instead.
    """
    raise LibraryError(f"{path.name} is a pickle-based file ({path.suffix}); ftstudio never "
                       f"loads pickles because loading one can run arbitrary code. Convert the "
                       f"weights to safetensors or save the model as .keras, then import that")


def _folder_kind(path: Path) -> str:
    if (path / "model.keras").is_file() and (path / "spec.json").is_file():
        return "run"
    config_path = path / "config.json"
    if not config_path.is_file():
        raise LibraryError(f"{path} is not a model folder: expected a keras-hub preset or a "
                           f"Hugging Face folder (config.json + model.safetensors) or a run "
                           f"folder (model.keras + spec.json)")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LibraryError(f"{config_path} is not valid JSON ({exc})") from exc
    if not isinstance(config, dict):
        raise LibraryError(f"{config_path} is not a JSON object")
    if "registered_name" in config:
        return "keras_hub_preset"
    if "model_type" in config or "architecture" in config:
        return "huggingface"
    raise LibraryError(f"{config_path} is neither a keras-hub preset config nor a Hugging "
                       f"Face config (no registered_name / model_type / architecture)")


def detect_kind(path: str | Path) -> str:
    """Tell what an import source is, from its contents (not only its name).

    Returns:
        ``run``, ``keras_hub_preset``, ``huggingface``, ``model_file`` or
        ``applications_weights``.

    Raises:
        LibraryError: when the path is missing, is a pickle, or is not a usable model.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise LibraryError(f"nothing to import at {path}: the path does not exist")
    if path.is_dir():
        return _folder_kind(path)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        refuse_pickle(path)
    if suffix == ".keras":
        keras_zip_config(path)
        return "model_file"
    if suffix in (".h5", ".hdf5"):
        if not is_hdf5(path):
            kind = "a zip archive" if zipfile.is_zipfile(path) else "not an HDF5 file"
            raise LibraryError(f"{path.name} is {kind}, though its name says HDF5 (.h5): it is "
                               f"not a Keras model or weights file")
        if path.name.lower().endswith(".weights.h5") or h5_model_config(path) is None:
            return "applications_weights"
        return "model_file"
    if suffix == ".safetensors":
        raise LibraryError(f"{path.name} alone is not enough: import the folder that holds it "
                           f"with its config.json (a Hugging Face model folder)")
    raise LibraryError(f"cannot import {path.name}: expected a .keras or .h5 model file, a "
                       f"weights .h5 file, or a model folder")


def copy_model_folder(src: Path, dest: Path, reporter: Reporter) -> list[str]:
    """Copy a model folder, skipping pickles and bulky alternative formats.

    Returns:
        The relative paths left out.
    """
    skipped = []
    files = [p for p in sorted(src.rglob("*")) if p.is_file()]
    total = sum(p.stat().st_size for p in files) or 1
    done = 0
    dest.mkdir(parents=True, exist_ok=True)
    for path in files:
        rel = path.relative_to(src)
        if any(part in _SKIPPED_NAMES or part.startswith(".") for part in rel.parts) or \
                path.suffix.lower() in PICKLE_SUFFIXES:
            skipped.append(rel.as_posix())
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        done += path.stat().st_size
        reporter.progress(done, total)
    return skipped


def safetensors_params(path: Path) -> int:
    """Parameter count from a safetensors header; checks the file is complete.

    Raises:
        LibraryError: not a safetensors file, or truncated.
    """
    size = path.stat().st_size
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                raise ValueError("file shorter than its header")
            (length,) = struct.unpack("<Q", head)
            if length > min(size, 100_000_000):
                raise ValueError("header length out of range")
            header = json.loads(handle.read(length).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise LibraryError(f"{path.name} is not a valid safetensors file ({exc})") from exc
    total, end = 0, 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        count = 1
        for dim in info.get("shape", []):
            count *= int(dim)
        total += count
        end = max(end, int(info.get("data_offsets", [0, 0])[1]))
    if 8 + length + end > size:
        raise LibraryError(f"{path.name} is truncated: its header describes {8 + length + end} "
                           f"bytes but the file has {size}")
    return total
