"""Keras models as library entries: pick the backbone part of a model, describe it, save it.

Keras is imported inside the functions that need it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftstudio.engine.library.licences import copy_licences, licence_text
from ftstudio.engine.library.store import (
    BACKBONE_FILE,
    LibraryEntry,
    check_name,
    commit_entry,
    ensure_free,
    library_root,
    staging_folder,
    suggest_name,
)
from ftstudio.engine.model_files import load_model_safely, pixel_preprocessing
from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import LibraryError
from ftstudio.formatting import format_params

__all__ = ["all_layers", "describe_model", "model_modality", "nested_model_names",
           "save_model_entry", "select_backbone"]


def all_layers(model: Any) -> Iterator[Any]:
    """Every layer of ``model``, nested models' layers included (depth first)."""
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from all_layers(layer)


def nested_model_names(model: Any) -> list[str]:
    """Names of the models nested inside ``model`` (at any depth)."""
    import keras

    return [layer.name for layer in all_layers(model) if isinstance(layer, keras.Model)]


def _find_layer(model: Any, name: str) -> Any:
    for layer in all_layers(model):
        if layer.name == name:
            return layer
    return None


def select_backbone(model: Any, submodel: str | None = None,
                    cut_layer: str | None = None) -> Any:
    """Return the part of ``model`` to use as the backbone: a sub-model and/or a cut.

    Raises:
        LibraryError: naming the missing sub-model/layer and listing what there is.
    """
    import keras

    base = model
    if submodel:
        layer = _find_layer(model, submodel)
        if layer is None or not isinstance(layer, keras.Model):
            nested = nested_model_names(model)
            have = ", ".join(nested) if nested else "none (use --cut-layer instead)"
            raise LibraryError(f"the model has no sub-model '{submodel}'; sub-models: {have}")
        base = layer
    if cut_layer:
        layer = next((x for x in base.layers if x.name == cut_layer), None)
        if layer is None:
            names = [x.name for x in base.layers]
            shown = ", ".join(names[-15:])
            raise LibraryError(f"no layer '{cut_layer}' in {base.name!r}; its last layers: "
                               f"{shown}")
        try:
            base = keras.Model(base.inputs, _output_in(base, layer), name=suggest_name(
                f"{base.name}_to_{cut_layer}").replace(".", "_"))
        except Exception as exc:
            raise LibraryError(f"cannot cut {base.name!r} at '{cut_layer}' ({exc}); pick a "
                               f"layer of the main path (ftstudio models import --help)") \
                from exc
    return base


def _output_in(model: Any, layer: Any) -> Any:
    """Return ``layer``'s output tensor in ``model``'s graph.

    A nested model's own ``output`` belongs to its inner graph, so look up the outer node.
    """
    for nodes in getattr(model, "_nodes_by_depth", {}).values():
        for node in nodes:
            if node.operation is layer:
                out = node.output_tensors
                return out[0] if len(out) == 1 else out
    return layer.output


def model_modality(model: Any) -> tuple[str, list[int | None]]:
    """``(modality, per-example input shape)`` of a one-input backbone.

    Raises:
        LibraryError: several inputs (and not a text model), or an input of another rank.
    """
    inputs = model.inputs if isinstance(model.inputs, list) else [model.inputs]
    if len(inputs) != 1:
        names = [getattr(t, "name", "?") for t in inputs]
        if any("token" in str(n) for n in names):
            return "text", [None]
        raise LibraryError(f"the backbone has {len(inputs)} inputs ({names}); ftstudio "
                           f"backbones take one input: choose a sub-model or cut layer")
    shape = list(inputs[0].shape)[1:]
    dtype = str(inputs[0].dtype)
    if len(shape) == 3:
        return "image", shape
    if len(shape) == 1:
        return ("text" if "int" in dtype else "tabular"), shape
    raise LibraryError(f"the backbone input has shape {tuple(inputs[0].shape)}: expected "
                       f"images (h, w, channels), features (n,) or tokens")


def describe_model(model: Any) -> str:
    """One line: name, layer count, parameter count."""
    return (f"{model.name}: {len(model.layers)} layers, "
            f"{format_params(model.count_params())} params")


def _write_extra_files(folder: Path, files: dict[str, bytes | str | Path]) -> None:
    for rel, content in files.items():
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        elif isinstance(content, Path):
            shutil.copyfile(content, target)
        else:
            target.write_text(content, encoding="utf-8")


def save_model_entry(model: Any, name: str, *, kind: str, source: str, description: str = "",
                     modality: str | None = None, preprocessing: str | None = None,
                     image_size: list[int] | None = None, architecture: str | None = None,
                     licence: str | None = None, licence_folder: Path | None = None,
                     extra_files: dict[str, bytes | str | Path] | None = None,
                     origin_sha256: str | None = None, extra: dict[str, Any] | None = None,
                     network: bool = False, replace: bool = False,
                     root: str | Path | None = None,
                     reporter: Reporter | None = None) -> LibraryEntry:
    """Save an in-memory Keras model as a ``keras`` library entry (``backbone.keras``).

    The model is saved, reloaded with safe_mode as a check, hashed and moved into place.

    Args:
        model: the backbone (a ``keras.Model`` with one input).
        name: library name.
        kind: how it came in (see :attr:`LibraryEntry.kind`).
        source: where it came from, in words.
        description: one or two lines shown in the library.
        modality: ``image``/``tabular``/``text``; default from the input shape.
        preprocessing: pixel scaling the backbone expects; default
            :func:`~ftstudio.engine.model_files.pixel_preprocessing`.
        image_size: default ``[h, w]``; default from the input shape.
        architecture: architecture name when known.
        licence: licence text; ``licence_folder`` adds the licence files found there.
        licence_folder: folder whose LICENSE/README licence files are copied and read.
        extra_files: more files to store in the entry (name -> bytes, text or a file to copy).
        origin_sha256: sha256 of the imported source file.
        extra: more metadata kept in ``entry.json``.
        network: whether the model was downloaded.
        replace: replace an existing entry of that name.
        root: library folder.
        reporter: progress/status sink.

    Returns:
        The committed entry.
    """
    reporter = reporter or BaseReporter()
    lib = library_root(root)
    check_name(name)
    ensure_free(lib, name, replace)
    found_modality, shape = model_modality(model)
    modality = modality or found_modality
    if modality == "image" and image_size is None and shape[0] and shape[1]:
        image_size = [int(shape[0]), int(shape[1])]
    if preprocessing is None:
        preprocessing = pixel_preprocessing(architecture or "", model) \
            if modality == "image" else "none"
    with staging_folder(lib, name) as tmp:
        reporter.status(f"Saving backbone '{name}'…")
        model.save(tmp / BACKBONE_FILE)
        load_model_safely(tmp / BACKBONE_FILE)
        if licence_folder is not None:
            copy_licences(licence_folder, tmp)
            licence = licence or licence_text(licence_folder)
        _write_extra_files(tmp, extra_files or {})
        entry = LibraryEntry(
            name=name, modality=modality, format="keras", payload=BACKBONE_FILE, kind=kind,
            source=source, description=description or describe_model(model),
            input_shape=[None if s is None else int(s) for s in shape],
            params=int(model.count_params()), architecture=architecture,
            preprocessing=preprocessing, image_size=image_size, licence=licence,
            origin_sha256=origin_sha256, network=network, extra=dict(extra or {}))
        return commit_entry(tmp, lib, entry, replace)
