"""The engine calls the window makes, each run inside a :class:`~ftstudio.bridge.jobs.Job`.

Every function here runs on a worker thread and imports the engine (and so TensorFlow,
pandas, …) lazily, inside the function: importing this module is free. Each returns the
plain dataclasses of :mod:`ftstudio.bridge.types`, never engine objects. The model library's
calls are in :mod:`ftstudio.bridge.library_calls`; training and pretraining run in a child
process (:mod:`ftstudio.bridge.child_process`).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftstudio import config
from ftstudio.bridge.types import (
    BackboneChoice,
    ColumnInfo,
    DataCheck,
    DataPreview,
    EngineInfo,
    LabelSummary,
    LayerRow,
    ModelDescription,
    PretrainOutcome,
    RunDetails,
    RunRow,
    TrainOutcome,
)
from ftstudio.errors import DataError, FtStudioError
from ftstudio.spec import ExperimentSpec, FreezeSpec, PretrainSpec

if TYPE_CHECKING:
    from ftstudio.engine.bundled import BundledBackbone

__all__ = [
    "backbone_lock",
    "bundled_backbones",
    "check_data",
    "describe_model",
    "list_runs",
    "load_backbone_cached",
    "load_engine",
    "load_run",
    "pretrain",
    "preview_data",
    "preview_images",
    "recommended_training",
    "suggested_run_name",
    "train",
]


# ====================================================================== engine
def load_engine() -> EngineInfo:
    """Import TensorFlow, Keras and the engine modules (a few seconds) and describe them.

    Called once, in the background, right after the window is shown.
    """
    t0 = time.perf_counter()
    from ftstudio.engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    import keras
    import keras_hub
    import tensorflow as tf

    try:
        gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
        # the window's process only builds models to describe them: keep it off the GPU,
        # whose memory belongs to the training process
        tf.config.set_visible_devices([], "GPU")
    except (RuntimeError, ValueError):  # devices already initialised: best effort
        gpus = []
    versions = {"tensorflow": tf.__version__, "keras": keras.__version__,
                "keras_hub": keras_hub.__version__}
    from ftstudio.engine import (  # noqa: F401 - imported now, used by the next jobs
        backbones,
        data,
        evaluation,
        freezing,
        heads,
        runs,
        training,
    )

    device = ("GPU: " + ", ".join(gpus)) if gpus else "CPU"
    return EngineInfo(versions, device, bundled_backbones(), time.perf_counter() - t0)


def bundled_backbones() -> list[BackboneChoice]:
    """The engine's bundled backbones, then the keras.applications architectures.

    A shipped backbone is offered by name (``source: auto``), so a spec that picks it stays
    portable: its files are found on whichever machine runs the spec.
    """
    from ftstudio.engine import bundled

    shipped = [_backbone_choice(b, source="auto", name=b.name, path=None, weights=None)
               for b in bundled.shipped_backbones()]
    applications = [_backbone_choice(b, source=b.spec.source, name=b.spec.name, path=b.spec.path,
                                     weights=b.spec.weights)
                    for b in bundled.applications_backbones()]
    return shipped + applications


def _backbone_choice(backbone: BundledBackbone, *, source: str, name: str | None,
                     path: str | None, weights: str | None) -> BackboneChoice:
    return BackboneChoice(label=backbone.label, source=source, name=name, path=path,
                          modality=backbone.modality, description=backbone.description,
                          group=backbone.group, pretrained=backbone.pretrained, weights=weights)


def suggested_run_name(spec: ExperimentSpec) -> str:
    """A name for the spec's runs from its data and backbone (``flowers-mlp``)."""
    from ftstudio.engine import suggestions

    return suggestions.run_name(spec.data.path or spec.data.image_dir,
                                _backbone_word(spec).lower())


def _backbone_word(spec: ExperimentSpec) -> str:
    """The backbone in a word: ``MLP``, ``minilm`` (also for ``auto``), a file's name."""
    from pathlib import PurePath

    from ftstudio.engine import bundled

    b = spec.backbone
    if b.source == "none":
        return "MLP"
    if b.name:
        return b.name
    if b.path:
        return PurePath(b.path).stem
    default = bundled.default_backbone(spec.modality)
    return default.name if default is not None else "auto"


def recommended_training(spec: ExperimentSpec) -> dict[str, Any]:
    """Sensible training settings for the spec's data kind and freezing (engine recipes)."""
    from ftstudio.engine import recipes

    return recipes.recommended_training(spec)


# ======================================================================== data
def preview_data(path: str, max_rows: int = 1000, encoding: str | None = None,
                 delimiter: str | None = None) -> DataPreview:
    """Read the first rows of a CSV file for the Data page (engine ``preview_table``)."""
    from ftstudio.engine import data, suggestions

    p = Path(path)
    if p.is_dir():
        return preview_images(path)
    frame, warnings = data.preview_table(p, max_rows=max_rows + 1, encoding=encoding,
                                         delimiter=delimiter)
    truncated = len(frame) > max_rows
    if truncated:
        frame = frame.iloc[:max_rows]
    columns = [suggestions.describe_column(str(name), frame[name]) for name in frame.columns]
    return DataPreview(source=str(p), kind="csv", frame=frame, n_rows_shown=len(frame),
                       truncated=truncated, columns=columns,
                       suggested=suggestions.suggest_columns(columns), warnings=list(warnings))


def preview_images(folder: str, max_rows: int = 5000) -> DataPreview:
    """List an image folder (one sub-folder per class) for the Data page, without decoding."""
    import pandas as pd

    from ftstudio.engine.data import IMAGE_EXTENSIONS

    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"image folder not found: {root}")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataError(f"{root.name} has no class sub-folders; put the images of each class in "
                        f"a sub-folder named after the class (e.g. {root.name}/cat/1.png)")
    rows: list[tuple[str, str]] = []
    counts: dict[str, int] = {}
    for cdir in class_dirs:
        n = 0
        for p in sorted(cdir.rglob("*")):
            if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."):
                n += 1
                if len(rows) < max_rows:
                    rows.append((p.relative_to(root).as_posix(), cdir.name))
        counts[cdir.name] = n
    total = sum(counts.values())
    # numbered from 1 like the rows of a spreadsheet (and the data lines of a CSV preview)
    frame = pd.DataFrame(rows, columns=["file", "class"],
                         index=pd.RangeIndex(1, len(rows) + 1, name="image"))
    warnings = []
    if total == 0:
        warnings.append(f"{root.name} has class folders but no images "
                        f"({' '.join(IMAGE_EXTENSIONS)}).")
    return DataPreview(source=str(root), kind="images", frame=frame, n_rows_shown=len(frame),
                       truncated=total > len(frame),
                       columns=[ColumnInfo("file", "text", len(frame), 0),
                                ColumnInfo("class", "category", len(counts), 0)],
                       suggested={"modality": "image"}, warnings=warnings, classes=counts)


def check_data(spec: ExperimentSpec, reporter: Any = None) -> DataCheck:
    """Load the data exactly as training will and summarise it (labels, warnings, split)."""
    import numpy as np

    from ftstudio.engine import data

    loaded = data.load_data(spec, reporter)
    counts = data.class_counts(loaded)
    labels: list[LabelSummary] = []
    for output, column in zip(spec.head.outputs, spec.label_columns(), strict=True):
        if any(s.column == column for s in labels):
            continue
        if output.task == "classification" and column in counts:
            labels.append(LabelSummary(column, "classification", counts=counts[column]))
        elif column in loaded.targets:
            values = np.asarray(loaded.targets[column], dtype=np.float64)
            hist, edges = np.histogram(values, bins=min(30, max(5, int(math.sqrt(len(values))))))
            labels.append(LabelSummary(column, "regression",
                                       histogram=([float(e) for e in edges],
                                                  [int(h) for h in hist])))
    n = len(loaded.row_ids)
    first = spec.head.outputs[0]
    strat = loaded.targets.get(spec.label_columns()[0]) if first.task == "classification" \
        else None
    try:
        parts = data.split_indices(n, strat, spec.data.split, spec.training.seed)
        sizes = {k: int(len(v)) for k, v in parts.items()}
    except (ValueError, DataError):
        sizes = {}
    skipped = _skipped_images(loaded.source, loaded.inputs) if loaded.modality == "image" else []
    return DataCheck(loaded.modality, n, labels, list(loaded.warnings), sizes, skipped)


def _skipped_images(folder: str, used: Any) -> list[str]:
    """The image files under ``folder``'s class folders that loading left out (unreadable)."""
    from ftstudio.engine.data import IMAGE_EXTENSIONS

    root = Path(folder)
    kept = {os.path.abspath(p) for p in used}
    skipped = []
    for p in sorted(root.glob("*/**/*")):
        rel = p.relative_to(root)
        if p.suffix.lower() in IMAGE_EXTENSIONS and not any(part.startswith(".")
                                                            for part in rel.parts) \
                and os.path.abspath(p) not in kept and p.is_file():
            skipped.append(rel.as_posix())
    return skipped


# ======================================================================= model
_backbone_cache: dict[str, Any] = {}
backbone_lock = threading.Lock()


def load_backbone_cached(spec: ExperimentSpec, reporter: Any = None) -> Any:
    """Load the backbone once per backbone spec (the Model page rebuilds heads often)."""
    from ftstudio.engine import backbones

    key = json.dumps([dataclasses.asdict(spec.backbone), spec.modality], sort_keys=True)
    with backbone_lock:
        hit = _backbone_cache.get(key)
        if hit is None:
            hit = backbones.load_backbone(spec.backbone, spec.modality, reporter)
            _backbone_cache.clear()
            _backbone_cache[key] = hit
        return hit


def clear_backbone_cache() -> None:
    """Forget the cached backbone (frees its memory)."""
    with backbone_lock:
        _backbone_cache.clear()


def describe_model(spec: ExperimentSpec, output_sizes: dict[str, int] | None = None,
                   reporter: Any = None) -> ModelDescription:
    """Build the model the spec describes (backbone + head) and describe its layers.

    Args:
        spec: the experiment.
        output_sizes: output name -> number of classes (1 for regression); loaded from the
            data when not given.
        reporter: optional progress sink.
    """
    import numpy as np

    from ftstudio.engine import freezing, heads

    if output_sizes is None:
        output_sizes = output_sizes_of(spec)
    backbone = load_backbone_cached(spec, reporter)
    stats = None
    if spec.modality == "tabular":
        n = len(spec.data.feature_columns or [])
        stats = (np.zeros(n, np.float32), np.ones(n, np.float32))
    with backbone_lock:
        model = heads.build_model(backbone, spec, output_sizes, stats)
        # what stays frozen with everything unfrozen never learns (BatchNorm, unused pooler)
        freezing.apply_freeze(model, backbone, FreezeSpec(mode="none"))
        locked = {i.name for i in freezing.describe_layers(model, backbone.blocks)
                  if not i.trainable}
        freezing.apply_freeze(model, backbone, spec.freeze)
        infos = freezing.describe_layers(model, backbone.blocks)
        backbone_names: set[str] = set()
        if backbone.model is not None:
            backbone_names = {i.name for i in freezing.describe_layers(backbone.model,
                                                                       backbone.blocks)}
            backbone_names.add(backbone.model.name)
        trainable, total = freezing.count_params(model)
        summary = _summary_text(model)
    rows = [LayerRow(name=i.name, type=i.type, output_shape=str(i.output_shape),
                     params=int(i.params), trainable=bool(i.trainable), block=i.block,
                     depth=int(i.depth), in_backbone=i.name in backbone_names,
                     always_frozen=i.name in locked and i.name in backbone_names)
            for i in infos]
    blocks = [(str(name), [str(n) for n in names]) for name, names in backbone.blocks]
    return ModelDescription(description=str(backbone.description), modality=backbone.modality,
                            layers=rows, blocks=blocks, trainable_params=int(trainable),
                            total_params=int(total), summary=summary,
                            output_sizes=dict(output_sizes))


def output_sizes_of(spec: ExperimentSpec) -> dict[str, int]:
    """Output name -> units, from the data (classes) and the tasks."""
    from ftstudio.engine import data

    loaded = data.load_data(spec)
    sizes = {}
    for output, column in zip(spec.head.outputs, spec.label_columns(), strict=True):
        sizes[output.name] = len(loaded.classes[column]) if output.task == "classification" \
            else 1
    return sizes


def _summary_text(model: Any) -> str:
    """``model.summary()`` as plain text."""
    lines: list[str] = []

    def _print(text: str = "", *args: Any, **kwargs: Any) -> None:
        lines.append(str(text))

    try:
        model.summary(print_fn=_print, line_length=96)
    except Exception as exc:  # noqa: BLE001 - a summary is informational only
        return f"(no summary: {exc})"
    text = "\n".join(lines)
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# ===================================================================== training
def train(spec: ExperimentSpec, reporter: Any, runs_root: str | None = None) -> TrainOutcome:
    """Run ``engine.training.train`` for the window, reporting to ``reporter``.

    The engine runs in a child process (see :mod:`ftstudio.bridge.child_process`) so it never
    competes with the GUI thread for the GIL; the calling worker thread relays its reports and
    ``reporter.request_stop()`` stops it. ``FTSTUDIO_TRAIN_IN_THREAD=1`` runs it in the
    calling thread instead.
    """
    from ftstudio.bridge.child_process import run_call

    t0 = time.perf_counter()
    outcome: TrainOutcome = run_call("train", spec.to_json(), runs_root, reporter=reporter)
    return dataclasses.replace(outcome, seconds=time.perf_counter() - t0)


def pretrain(spec: PretrainSpec, reporter: Any, replace: bool = False) -> PretrainOutcome:
    """Pretrain an autoencoder and save its encoder to the model library, like :func:`train`.

    Runs in the child process; ``reporter`` also hears of every refreshed reconstructions
    preview (its ``preview(path)``), and ``reporter.request_stop()`` stops it after the
    current batch (the encoder learned so far is saved).

    Args:
        spec: the pretraining spec (paths absolute).
        reporter: the progress sink.
        replace: replace an existing library entry called ``spec.save_as``.
    """
    from ftstudio.bridge.child_process import run_call

    outcome: PretrainOutcome = run_call("pretrain", spec.to_json(), replace, reporter=reporter)
    return outcome


def prewarm_training() -> None:
    """Start the next job process now (it imports TensorFlow while the user works)."""
    if not config.jobs_in_thread():
        from ftstudio.bridge.child_process import prewarm

        prewarm()


def shutdown_training() -> None:
    """End an idle job process (on quit)."""
    from ftstudio.bridge.child_process import shutdown

    shutdown()


# ========================================================================= runs
def runs_root(root: str | None = None) -> str:
    """Return the runs folder the window lists and writes (``FTSTUDIO_HOME/runs`` by default)."""
    return str(Path(root) if root else config.runs_dir())


def list_runs(root: str | None = None) -> tuple[str, list[RunRow]]:
    """Return the runs folder and every run in it, newest first."""
    from ftstudio.engine import runs

    folder = runs_root(root)
    rows = []
    for r in runs.list_runs(folder):
        model, data = _run_labels(Path(r.path) / "spec.json")
        rows.append(RunRow(str(r.path), str(r.name), str(r.status), float(r.created),
                           dict(r.metrics), model, data))
    return folder, rows


def _run_labels(spec_file: Path) -> tuple[str, str]:
    """A run's backbone and data, in a few words, from its ``spec.json``."""
    try:
        spec = json.loads(spec_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "", ""
    b = spec.get("backbone") or {}
    d = spec.get("data") or {}
    try:
        model = _backbone_word(ExperimentSpec.from_dict(spec))
    except FtStudioError:  # a spec of another version: say what it names
        model = "MLP" if b.get("source") == "none" else \
            b.get("name") or (Path(b["path"]).name if b.get("path") else "auto")
    source = d.get("path") or d.get("image_dir") or ""
    return str(model), Path(str(source)).name if source else ""


def load_run(path: str) -> RunDetails:
    """Read a run folder's files (spec, metrics, history, evaluation, predictions)."""
    from ftstudio.engine.runs import RunFolder

    run = RunFolder.open(path)
    spec = run.read_json("spec.json", {})
    status = run.read_json("status.json", {})
    evaluation = run.read_json("evaluation.json", {})
    env = run.read_json("env.json", {})
    predictions: tuple[list[str], list[list[str]]] = ([], [])
    pred_file = run.file("predictions.csv")
    if pred_file.is_file():
        with pred_file.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        if rows:
            predictions = (rows[0], rows[1:])
    return RunDetails(path=str(run.path), name=str(spec.get("name", run.path.name)),
                      status=run.state(), spec=spec,
                      metrics=run.metrics(), history=run.history(), evaluation=evaluation,
                      env=env, predictions=predictions, message=str(status.get("message", "")))
