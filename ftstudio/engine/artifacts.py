"""Run artefacts: what a run folder holds besides its logs, and how it is loaded back.

Training writes them (:func:`save_run_model`, :func:`save_text_preprocessor`,
:func:`save_labels`, :func:`save_splits`); prediction and re-evaluation read
them (:func:`load_run`, which gives the spec, the model, the labels and the few backbone
facts the data pipeline needs). A run folder is self-contained: ``model.keras`` (+
``preprocessor/`` for text) is all that prediction needs.

Standard library at import time; Keras and keras-hub are imported by the functions that need
them. The model is loaded by the one safe loader,
:func:`ftstudio.engine.model_files.load_model_safely`. The folder mechanics (atomic writes,
status, history) live in :mod:`ftstudio.engine.runs`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ftstudio.engine.model_files import load_model_safely
from ftstudio.engine.run_files import atomic_save_folder
from ftstudio.engine.runs import RunFolder, atomic_save
from ftstudio.errors import LibraryError, RunError
from ftstudio.spec import ExperimentSpec

PREPROCESSOR_DIR = "preprocessor"
"""The text preprocessor's folder inside a run (a keras-hub preset)."""


# ------------------------------------------------------------------ the model
def model_bytes(model: Any) -> int:
    """About what ``model.keras`` takes on disk: every variable, the optimizer's too."""
    variables = list(model.variables)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        variables += list(optimizer.variables)
    return sum(int(np.prod(v.shape)) * 4 for v in variables) + 65536


def save_run_model(run: RunFolder, model: Any) -> None:
    """Write the trained model to ``model.keras``, atomically (refused when it cannot fit).

    LoRA adapters are merged into ``model.keras`` (a plain model); the run also keeps them
    alone in ``adapters.lora.h5`` (small; keras-hub ``load_lora_weights`` reads it).

    Raises:
        StorageError: the disk has not the room (checked first) or the write failed.
    """
    from ftstudio.engine.lora import ADAPTERS_FILE, lora_layers, save_adapters

    atomic_save(run.model_path, lambda p: model.save(str(p)), needed=model_bytes(model))
    if lora_layers(model):
        atomic_save(run.file(ADAPTERS_FILE), lambda p: save_adapters(model, p),
                    suffix=".lora.h5")


def load_run_model(run: RunFolder) -> Any:
    """Load a run's ``model.keras`` with the one safe loader (safe mode, no compile).

    Raises:
        RunError: the run has no model, the run never finished writing it, or the file is
            damaged (cut short by a crash or a full disk, or changed since).
    """
    if not run.model_path.is_file():
        raise RunError(f"{run.path} has no model.keras; {_unfinished(run)}")
    try:
        return load_model_safely(run.model_path)
    except LibraryError as exc:
        detail = str(exc)
        if not _is_damage(run.model_path, detail):
            raise RunError(f"cannot load {run.model_path}: {detail}") from exc
        raise RunError(f"{run.model_path} exists but is damaged ({detail[:200]}); it was "
                       f"probably cut short by a crash or a full disk. {_unfinished(run)}") \
            from exc


def _is_damage(path: Path, detail: str) -> bool:
    """Whether a load failure of a model file ftstudio wrote itself means the file is damaged."""
    import zipfile

    if "was refused" in detail:  # beyond the archive limits: hostile, said as such
        return False
    markers = ("damaged", "Bad CRC", "truncated", "not found", "signature", "Unable to",
               "unexpected end", "not a zip", "is not a Keras model file")
    return not zipfile.is_zipfile(path) or any(m.lower() in detail.lower() for m in markers)


def _unfinished(run: RunFolder) -> str:
    """What to do about a run whose model is missing or damaged, by the run's state."""
    state = run.state()
    if state in ("running",):
        return "the run is still being written; wait for it to finish"
    if state in ("interrupted", "failed", "diverged"):
        return (f"the run is {run.describe_state()}; continue it with ftstudio train "
                f"{run.file('spec.json')} --out {run.path} --resume")
    return f"retrain it with ftstudio train {run.file('spec.json')}"


# ------------------------------------------------------------------ the text preprocessor
def save_text_preprocessor(backbone: Any, folder: Path) -> None:
    """Save a keras-hub preprocessor as a preset that loads without the backbone's weights.

    The folder is written whole or not at all (a temporary folder renamed into place).
    """
    import keras

    def write(tmp: Path) -> None:
        backbone.preprocessor.save_to_preset(str(tmp))
        if backbone.model is not None:
            config = keras.saving.serialize_keras_object(backbone.model)
            (tmp / "config.json").write_text(json.dumps(config), encoding="utf-8")

    atomic_save_folder(folder, write)


def load_text_preprocessor(folder: Path) -> Any:
    """Load a preprocessor saved by :func:`save_text_preprocessor`."""
    import keras_hub

    return keras_hub.models.TextClassifierPreprocessor.from_preset(str(folder))


# ------------------------------------------------------------------ labels and splits
def save_labels(run: RunFolder, labels: dict[str, list[str]]) -> None:
    """Write ``labels.json``: output name -> class names in index order (``[]`` for regression)."""
    run.write_json("labels.json", labels)


def read_labels(run: RunFolder) -> dict[str, list[str]]:
    """The class names of each output (``{}`` when the run has no ``labels.json``)."""
    return dict(run.read_json("labels.json", {}))


def class_names(loaded: LoadedRun, output: str, n_classes: int) -> list[str]:
    """The class names of a classification output, as ``labels.json`` records them.

    Raises:
        RunError: the run has no ``labels.json`` (or it lacks this output's names): a
            prediction would show class numbers instead of names.
    """
    names = loaded.labels.get(output) or []
    if len(names) != n_classes:
        raise RunError(f"{loaded.run.path} has no class names for output '{output}' (its "
                       f"labels.json is missing or incomplete), so a prediction could only "
                       f"show class numbers; run ftstudio evaluate {loaded.run.path} to "
                       f"rebuild labels.json from the run's data")
    return list(names)


def save_splits(run: RunFolder, seed: int, fractions: list[float],
                row_ids: dict[str, list[int]]) -> None:
    """Write ``splits.json``: the seed, the fractions and each split's row ids."""
    run.write_json("splits.json", {"seed": seed, "fractions": fractions, "row_ids": row_ids})


def read_splits(run: RunFolder, required: bool = True) -> dict[str, list[int]] | None:
    """The row ids of each split saved by :func:`save_splits`.

    Args:
        run: the run folder.
        required: raise when ``splits.json`` is missing (else return None).

    Raises:
        RunError: ``splits.json`` is missing (when ``required``) or unreadable.
    """
    saved = run.read_json("splits.json") if required else run.read_json("splits.json", {})
    return saved.get("row_ids") if saved else None


# ------------------------------------------------------------------ loading a run back
class RunBackbone:
    """The few things the dataset code needs from a backbone, read off a saved run."""

    def __init__(self, preprocessor: Any, image_shape: tuple[int, int, int] | None) -> None:
        self.preprocessor = preprocessor
        self.image_shape = image_shape
        self.model = None


def run_backbone(run: RunFolder, spec: ExperimentSpec, model: Any) -> RunBackbone:
    """The text preprocessor (text) or input image shape (images) of a saved run."""
    pre = None
    shape = None
    if spec.modality == "text":
        if not run.file(PREPROCESSOR_DIR).is_dir():
            raise RunError(f"{run.path} has no preprocessor/ folder; {_unfinished(run)}")
        pre = load_text_preprocessor(run.file(PREPROCESSOR_DIR))
    elif spec.modality == "image":
        inp = model.inputs[0].shape
        shape = (int(inp[1]), int(inp[2]), int(inp[3]))
    return RunBackbone(pre, shape)


@dataclass
class LoadedRun:
    """A finished run read back: enough to predict or to re-evaluate."""

    run: RunFolder
    spec: ExperimentSpec
    model: Any
    backbone: RunBackbone
    labels: dict[str, list[str]]


def load_run(run_dir: str | Path) -> LoadedRun:
    """Open a run folder (or its ``spec.json``) and load its spec, model and labels.

    Raises:
        RunError: not a run folder, or its model or preprocessor is missing or does not load.
    """
    run = RunFolder.open(run_dir)
    spec = ExperimentSpec.from_dict(run.read_json("spec.json"))
    labels = read_labels(run)
    model = load_run_model(run)
    return LoadedRun(run, spec, model, run_backbone(run, spec, model), labels)
