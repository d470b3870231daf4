"""Importing into the library: the kind is told from the path's contents, then imported.

Kinds: a ``.keras`` / ``.h5`` model file, a keras.applications weights file, a keras-hub
preset folder, a Hugging Face folder, or an ftstudio run folder (its fine-tuned backbone).
Every model file is loaded with :func:`~ftstudio.engine.model_files.load_model_safely`.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ftstudio.engine.library.applications import (
    import_applications_weights,
    match_applications_weights,
)
from ftstudio.engine.library.folders import import_hf_folder, import_keras_hub_preset
from ftstudio.engine.library.keras_entries import (
    all_layers,
    describe_model,
    model_modality,
    nested_model_names,
    save_model_entry,
    select_backbone,
)
from ftstudio.engine.library.safety import detect_kind
from ftstudio.engine.library.store import (
    LibraryEntry,
    check_name,
    ensure_free,
    library_root,
    sha256_file,
    suggest_name,
)
from ftstudio.engine.model_files import load_model_safely
from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import LibraryError
from ftstudio.formatting import format_params

__all__ = ["import_path", "inspect_path"]


def _source_path(path: str | Path) -> Path:
    src = Path(path).expanduser()
    return src.resolve() if src.exists() else src


def _check_options(kind: str, submodel: str | None, cut_layer: str | None,
                   arch: str | None) -> None:
    if kind in ("keras_hub_preset", "huggingface") and (submodel or cut_layer):
        raise LibraryError("--submodel/--cut-layer apply to model files and run folders, not "
                           "to preset folders")
    if kind != "applications_weights" and arch:
        raise LibraryError("--arch applies to keras.applications weights files only")


def import_path(path: str | Path, name: str | None = None, *, submodel: str | None = None,
                cut_layer: str | None = None, arch: str | None = None,
                preprocessing: str | None = None, image_size: list[int] | None = None,
                description: str | None = None, replace: bool = False,
                root: str | Path | None = None,
                reporter: Reporter | None = None) -> LibraryEntry:
    """Import a model into the library, deciding the kind from the path's contents.

    Args:
        path: a keras-hub preset folder, a Hugging Face folder, a ``.keras``/``.h5`` model file,
            a keras.applications weights file (``.h5``/``.weights.h5``) or a run folder.
        name: library name (default derived from the path).
        submodel: nested model to keep as the backbone (model files, run folders).
        cut_layer: keep the model up to this layer's output (model files, run folders).
        arch: keras.applications architecture of a weights file (default: matched from it).
        preprocessing: pixel scaling the backbone expects (default guessed).
        image_size: default ``[h, w]`` for image backbones with a free input size.
        description: replaces the generated description.
        replace: replace an existing entry of that name.
        root: library folder.
        reporter: progress/status sink.

    Raises:
        LibraryError: with a message saying what is wrong and what to do.
    """
    reporter = reporter or BaseReporter()
    src = _source_path(path)
    kind = detect_kind(src)
    default_name = src.name if src.is_dir() else src.name.split(".")[0]
    if kind == "model_file" and submodel:
        default_name = submodel
    name = name or suggest_name(default_name)
    check_name(name)
    ensure_free(library_root(root), name, replace)
    _check_options(kind, submodel, cut_layer, arch)
    reporter.status(f"Importing {src.name} ({kind.replace('_', ' ')}) as '{name}'…")
    if kind == "keras_hub_preset":
        entry = import_keras_hub_preset(src, name, description, replace, root, reporter)
    elif kind == "huggingface":
        entry = import_hf_folder(src, name, description, replace, root, reporter)
    elif kind == "model_file":
        entry = _import_model_file(src, name, submodel, cut_layer, preprocessing, image_size,
                                   description, replace, root, reporter)
    elif kind == "applications_weights":
        entry = import_applications_weights(src, name, arch, preprocessing, image_size,
                                            description, replace, root, reporter)
    else:
        entry = _import_run(src, name, submodel, cut_layer, description, replace, root,
                            reporter)
    reporter.status(f"Imported '{entry.name}': {entry.description}")
    return entry


def inspect_path(path: str | Path) -> dict[str, Any]:
    """Describe an import source without importing it (for the import dialog).

    Returns:
        ``kind``; for model files and run folders ``submodels`` (name -> its layer names),
        ``layers`` (top-level layer names) and ``input_shape``; for weights files the matching
        keras.applications ``candidates``; for folders the ``config`` summary.
    """
    src = Path(path).expanduser()
    kind = detect_kind(src)
    info: dict[str, Any] = {"kind": kind, "path": str(src), "submodels": {}, "layers": [],
                            "input_shape": None, "candidates": [], "config": {}}
    if kind in ("model_file", "run"):
        model = load_model_safely(src / "model.keras" if kind == "run" else src)
        import keras

        info["layers"] = [x.name for x in model.layers]
        info["submodels"] = {x.name: [y.name for y in x.layers] for x in all_layers(model)
                             if isinstance(x, keras.Model)}
        with contextlib.suppress(LibraryError):
            info["input_shape"] = model_modality(model)[1]
    elif kind == "applications_weights":
        info["candidates"] = [
            f"{a}({', '.join(f'{k}={v}' for k, v in kw.items())})" + (f" + {c}-class top"
                                                                     if c else "")
            for a, kw, c in match_applications_weights(src)]
    else:
        with contextlib.suppress(OSError, ValueError):
            config = json.loads((src / "config.json").read_text(encoding="utf-8"))
            info["config"] = {k: config[k] for k in ("model_type", "architecture",
                                                     "registered_name", "architectures",
                                                     "hidden_size", "num_hidden_layers")
                              if k in config}
    return info


# ------------------------------------------------------------------ model files
def _import_model_file(src: Path, name: str, submodel: str | None, cut_layer: str | None,
                       preprocessing: str | None, image_size: list[int] | None,
                       description: str | None, replace: bool, root: str | Path | None,
                       reporter: Reporter) -> LibraryEntry:
    reporter.status(f"Loading {src.name} (safe mode)…")
    model = load_model_safely(src)
    backbone = select_backbone(model, submodel, cut_layer)
    if not submodel and not cut_layer:
        nested = nested_model_names(model)
        hint = f" (sub-models: {', '.join(nested)})" if nested else ""
        reporter.warning(f"using the whole of {src.name} as the backbone, its output layer "
                         f"included; pass --submodel or --cut-layer to keep only the feature "
                         f"part{hint}")
    what = f"sub-model {submodel}" if submodel else "whole model"
    if cut_layer:
        what += f" cut at {cut_layer}"
    modality, shape = model_modality(backbone)
    if modality == "text":
        raise LibraryError(f"{src.name} holds a text model: import text backbones as a "
                           f"keras-hub preset or Hugging Face folder, which carry the tokenizer")
    if image_size is None and len(shape) == 3 and not (shape[0] and shape[1]):
        image_size = [224, 224]
    origin = sha256_file(src)
    return save_model_entry(
        backbone, name, kind="model_file", source=f"{src} ({what})",
        description=description or f"{describe_model(backbone)}; {what} of {src.name}",
        preprocessing=preprocessing, image_size=image_size, licence_folder=src.parent,
        origin_sha256=origin, extra={"submodel": submodel, "cut_layer": cut_layer},
        replace=replace, root=root, reporter=reporter)


# ------------------------------------------------------------------ run folders
def _read_run_spec(src: Path) -> Any:
    try:
        return json.loads((src / "spec.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LibraryError(f"{src.name}/spec.json is unreadable ({exc})") from exc


def _import_run(src: Path, name: str, submodel: str | None, cut_layer: str | None,
                description: str | None, replace: bool, root: str | Path | None,
                reporter: Reporter) -> LibraryEntry:
    spec = _read_run_spec(src)
    reporter.status(f"Loading {src.name}/model.keras (safe mode)…")
    model = load_model_safely(src / "model.keras")
    run_name = spec.get("name", src.name) if isinstance(spec, dict) else src.name
    keras_hub_backbone = _find_keras_hub_backbone(model) if not (submodel or cut_layer) \
        else None
    if keras_hub_backbone is not None:
        return _save_run_text_backbone(keras_hub_backbone, src, name, run_name, description,
                                       replace, root, reporter)
    if not submodel and not cut_layer:
        cut_layer = _auto_run_cut(model)
        if cut_layer is None:
            names = ", ".join(x.name for x in model.layers)
            raise LibraryError(f"cannot tell where the backbone of run {src.name} ends (no "
                               f"nested backbone model); pass --cut-layer (layers: {names})")
    backbone = select_backbone(model, submodel, cut_layer)
    modality, shape = model_modality(backbone)
    preprocessing = "none" if not submodel else None
    data = spec.get("data", {}) if isinstance(spec, dict) else {}
    what = f"fine-tuned backbone of run '{run_name}'"
    return save_model_entry(
        backbone, name, kind="run", source=f"run folder {src}",
        description=description or f"{what} ({describe_model(backbone)}); inputs are raw "
                                   f"values (the run's scaling is inside)",
        preprocessing=preprocessing if modality == "image" else "none",
        image_size=[int(shape[0]), int(shape[1] or shape[0])]
        if modality == "image" and shape[0] else None,
        origin_sha256=sha256_file(src / "model.keras"),
        extra={"run": str(src), "run_name": run_name, "submodel": submodel,
               "cut_layer": cut_layer, "feature_columns": data.get("feature_columns")},
        extra_files={"run_spec.json": src / "spec.json"},
        replace=replace, root=root, reporter=reporter)


def _find_keras_hub_backbone(model: Any) -> Any:
    if not any("keras_hub" in type(x).__module__ for x in all_layers(model)):
        return None
    import keras_hub

    for layer in all_layers(model):
        if isinstance(layer, keras_hub.models.Backbone):
            return layer
    return None


def _auto_run_cut(model: Any) -> str | None:
    """Return the layer whose output is the backbone's in a fine-tuned model.

    That is the largest nested model, cut at its output in the outer model so the run's input
    scaling stays inside.
    """
    import keras

    nested = [x for x in model.layers if isinstance(x, keras.Model)]
    if not nested:
        return None
    return max(nested, key=lambda x: x.count_params()).name


def _save_run_text_backbone(backbone: Any, src: Path, name: str, run_name: str,
                            description: str | None, replace: bool, root: str | Path | None,
                            reporter: Reporter) -> LibraryEntry:
    pre = src / "preprocessor"
    if not pre.is_dir():
        raise LibraryError(f"run {src.name} has a text backbone but no preprocessor/ folder "
                           f"(its tokenizer); it cannot be re-fine-tuned without it")
    with tempfile.TemporaryDirectory(dir=library_root(root)) as tmp:
        preset = Path(tmp) / "preset"
        shutil.copytree(pre, preset)
        backbone.save_to_preset(str(preset))
        return import_keras_hub_preset(
            preset, name, description or f"fine-tuned text backbone of run '{run_name}' "
                                         f"({type(backbone).__name__}, "
                                         f"{format_params(backbone.count_params())} params)",
            replace, root, reporter, kind="run", source=f"run folder {src}")
