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

from ftstudio.engine.model_files import load_model_safely
from ftstudio.engine.runs import RunFolder, atomic_save
from ftstudio.errors import LibraryError, RunError
from ftstudio.spec import ExperimentSpec

PREPROCESSOR_DIR = "preprocessor"
"""The text preprocessor's folder inside a run (a keras-hub preset)."""


# ------------------------------------------------------------------ the model
def save_run_model(run: RunFolder, model: Any) -> None:
    """Write the trained model to ``model.keras``, atomically."""
    atomic_save(run.model_path, lambda p: model.save(str(p)))


def load_run_model(run: RunFolder) -> Any:
    """Load a run's ``model.keras`` with the one safe loader (safe mode, no compile).

    Raises:
        RunError: the run has no model, or the file does not load.
    """
    if not run.model_path.is_file():
        raise RunError(f"{run.path} has no model.keras; the run did not finish")
    try:
        return load_model_safely(run.model_path)
    except LibraryError as exc:
        raise RunError(f"cannot load {run.model_path}: {exc}") from exc


# ------------------------------------------------------------------ the text preprocessor
def save_text_preprocessor(backbone: Any, folder: Path) -> None:
    """Save a keras-hub preprocessor as a preset that loads without the backbone's weights."""
    import keras

    backbone.preprocessor.save_to_preset(str(folder))
    if backbone.model is not None:
        config = keras.saving.serialize_keras_object(backbone.model)
        (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")


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
            raise RunError(f"{run.path} has no preprocessor/ folder; retrain the run")
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
