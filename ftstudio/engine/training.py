"""Training: ``train(spec, reporter)`` runs a whole fine-tuning job and writes its run folder.

The same function serves the CLI (``ftstudio train``) and the window's training child process;
both watch it through a :class:`~ftstudio.engine.reporting.Reporter`. Data comes through
:mod:`~ftstudio.engine.datasets`, results through :mod:`~ftstudio.engine.evaluation`, and the
run's model, labels and split are written by :mod:`~ftstudio.engine.artifacts`.
"""

from __future__ import annotations

import math
import os
import platform
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftstudio.engine.artifacts import (
    PREPROCESSOR_DIR,
    read_splits,
    save_labels,
    save_run_model,
    save_splits,
    save_text_preprocessor,
)
from ftstudio.engine.datasets import (
    PreparedData,
    load_images_of_splits,
    make_dataset,
    prepare_data,
)
from ftstudio.engine.evaluation import evaluate_model
from ftstudio.engine.export import export_after_training
from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.engine.runs import (
    STATUS_FAILED,
    STATUS_FINISHED,
    STATUS_RUNNING,
    STATUS_STOPPED,
    RunFolder,
    atomic_save,
    atomic_write_text,
    find_resumable,
)
from ftstudio.errors import CancelledError, FtStudioError, RunError, SpecError
from ftstudio.spec import ExperimentSpec

BEST_WEIGHTS = "best_weights.npz"
"""The best epoch's weights while a run trains (removed when it ends)."""


@dataclass
class RunResult:
    """What a finished (or stopped) training produced."""

    run_dir: Path
    metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_by_user: bool = False
    best_epoch: int | None = None


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TF ops deterministic (CPU: same numbers)."""
    import keras
    import tensorflow as tf

    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # noqa: BLE001 - older TF without it: best effort only
        pass


def make_optimizer(spec: ExperimentSpec, steps_per_epoch: int, epochs: int,
                   lr_factor: float = 1.0) -> Any:
    """The optimizer of ``spec.training`` with its learning-rate schedule."""
    import keras

    from ftstudio.engine.schedules import WarmupSchedule

    t = spec.training
    total = steps_per_epoch * epochs
    lr: Any = t.learning_rate * lr_factor
    if t.schedule != "constant" or t.warmup_fraction > 0:
        lr = WarmupSchedule(lr, t.schedule, steps_per_epoch, total,
                            int(round(t.warmup_fraction * total)), t.decay_rate, t.step_epochs)
    kw: dict[str, Any] = {"learning_rate": lr}
    if t.gradient_clip_norm:
        kw["clipnorm"] = t.gradient_clip_norm
    if t.optimizer == "sgd":
        return keras.optimizers.SGD(momentum=t.momentum, **kw)
    if t.optimizer == "adam":
        return keras.optimizers.Adam(**kw)
    if t.optimizer == "adamw":
        return keras.optimizers.AdamW(weight_decay=t.weight_decay, **kw)
    if t.optimizer == "adagrad":
        return keras.optimizers.Adagrad(**kw)
    return keras.optimizers.RMSprop(**kw)


def class_weights(spec: ExperimentSpec, prepared: PreparedData) -> dict[int, float] | None:
    """Per-class weights of the first output from ``training.class_weight`` (or None)."""
    cw = spec.training.class_weight
    if cw is None:
        return None
    first = spec.head.outputs[0]
    if len(spec.head.outputs) > 1:
        raise SpecError("training.class_weight works with one output only; remove it or "
                        "use a single output")
    if first.task != "classification":
        raise SpecError("training.class_weight needs a classification output")
    classes = prepared.data.classes[prepared.output_columns[first.name]]
    y = prepared.targets(first.name, "train")
    if cw == "balanced":
        counts = np.bincount(y, minlength=len(classes)).astype(float)
        n, k = counts.sum(), int((counts > 0).sum())
        return {i: float(n / (k * c)) if c else 0.0 for i, c in enumerate(counts)}
    assert isinstance(cw, dict)
    unknown = sorted(set(cw) - set(classes))
    if unknown:
        raise SpecError(f"training.class_weight names unknown class '{unknown[0]}'; classes "
                        f"are: {', '.join(classes)}")
    return {i: float(cw.get(name, 1.0)) for i, name in enumerate(classes)}


def sample_weights(spec: ExperimentSpec, prepared: PreparedData) -> dict[str, np.ndarray] | None:
    """Per-example weights of the training split from :func:`class_weights` (or None)."""
    cw = class_weights(spec, prepared)
    if not cw:
        return None
    name = spec.head.outputs[0].name
    y_train = prepared.targets(name, "train")
    return {name: np.array([cw[int(c)] for c in y_train], dtype=np.float32)}


def environment(seed: int) -> dict[str, Any]:
    """Versions, device and seed, for ``env.json``."""
    import keras
    import tensorflow as tf

    import ftstudio

    gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    env = {"ftstudio": ftstudio.__version__, "python": platform.python_version(),
           "tensorflow": tf.__version__, "keras": keras.__version__,
           "platform": platform.platform(), "seed": seed,
           "device": "GPU: " + ", ".join(gpus) if gpus else "CPU", "cpu_count": os.cpu_count()}
    try:
        import keras_hub

        env["keras_hub"] = keras_hub.__version__
    except ImportError:  # pragma: no cover
        pass
    return env


def train(spec: ExperimentSpec, reporter: Reporter | None = None,
          out_dir: str | Path | None = None, resume: bool = False,
          runs_root: str | Path | None = None) -> RunResult:
    """Fine-tune as ``spec`` says and write the run folder.

    Args:
        spec: the experiment (paths already resolved).
        reporter: progress sink; stop requests are honoured after the current batch.
        out_dir: the run folder to write (created if needed); default a new folder under
            ``runs_root``.
        resume: continue an interrupted run (``out_dir``, or the newest unfinished run of
            the same spec name) from its last completed epoch.
        runs_root: where new run folders go (default ``FTSTUDIO_HOME/runs``).

    Returns:
        The run's result; ``stopped_by_user`` when the reporter asked to stop.

    Raises:
        FtStudioError: for every problem the user can fix (bad data, spec, backbone…).
    """
    reporter = reporter or BaseReporter()
    run = _open_run(spec, out_dir, resume, runs_root)
    started = time.time()
    try:
        result = _train_in(run, spec, reporter, resume)
    except CancelledError:
        run.set_status(STATUS_STOPPED, message="stopped before training started")
        raise
    except FtStudioError as exc:
        run.set_status(STATUS_FAILED, message=str(exc))
        raise
    except BaseException as exc:
        run.set_status(STATUS_FAILED, message=f"{type(exc).__name__}: {exc}")
        raise
    env = run.read_json("env.json", {})
    env["wall_seconds"] = round(time.time() - started, 2)
    run.write_json("env.json", env)
    return result


def _open_run(spec: ExperimentSpec, out_dir: str | Path | None, resume: bool,
              runs_root: str | Path | None) -> RunFolder:
    if resume:
        target = Path(out_dir) if out_dir else find_resumable(spec.name, runs_root)
        if target is None:
            raise RunError(f"nothing to resume: no unfinished run of '{spec.name}' with a "
                           f"backup; train without --resume")
        if not (target / "backup").is_dir():
            raise RunError(f"{target} has no backup to resume from (it finished, or never "
                           f"completed an epoch); train without --resume")
        return RunFolder(target)
    if out_dir:
        path = Path(out_dir)
        if (path / "model.keras").exists() or (path / "backup").exists():
            raise RunError(f"{path} already holds a run; choose another --out, or --resume it")
        path.mkdir(parents=True, exist_ok=True)
        return RunFolder(path)
    return RunFolder.create(spec.name, Path(runs_root) if runs_root else None)


@dataclass
class _Phase:
    """One ``fit`` of the recipe: epochs ``[start, end)`` at ``lr_factor`` times the rate."""

    name: str
    start: int
    end: int
    lr_factor: float
    head_only: bool


@dataclass
class _Fit:
    """What every phase fits with: the model, its losses and the data pipelines."""

    model: Any
    backbone: Any
    losses: dict[str, Any]
    loss_weights: dict[str, float]
    metrics: dict[str, list[Any]]
    train_ds: Any
    val_ds: Any
    steps: int
    monitor: str


def _train_in(run: RunFolder, spec: ExperimentSpec, reporter: Reporter,
              resume: bool) -> RunResult:
    """Train in an opened run folder: prepare, build, fit the phases, evaluate and save."""
    reporter.status("Loading TensorFlow…")
    set_seed(spec.training.seed)
    run.set_status(STATUS_RUNNING, resumed=resume)
    spec.save(run.file("spec.json"))
    run.write_json("env.json", environment(spec.training.seed))

    prepared = _prepare(run, spec, reporter, resume)
    fit, images = _build(spec, prepared, reporter)
    phases = _phases(spec, fit.backbone)
    stopped = _fit_phases(run, spec, fit, phases, prepared, reporter, resume)
    best_epoch, metrics = _evaluate_and_save(run, spec, fit, prepared, images, reporter)
    for i in range(len(phases)):
        run.file(f"phase{i}.done.weights.h5").unlink(missing_ok=True)
    shutil.rmtree(run.backup_dir, ignore_errors=True)
    run.file(BEST_WEIGHTS).unlink(missing_ok=True)
    run.set_status(STATUS_STOPPED if stopped else STATUS_FINISHED, best_epoch=best_epoch)
    return RunResult(run.path, metrics, run.history(), stopped, best_epoch)


def _prepare(run: RunFolder, spec: ExperimentSpec, reporter: Reporter,
             resume: bool) -> PreparedData:
    """Load and split the data (a resumed run reuses its split); record split and labels."""
    saved = read_splits(run, required=False) if resume else None
    prepared = prepare_data(spec, reporter, saved)
    data = prepared.data
    save_splits(run, spec.training.seed, spec.data.split, prepared.saved_splits())
    save_labels(run, {o: data.classes.get(c, []) for o, c in prepared.output_columns.items()})
    if reporter.should_stop():
        raise CancelledError("stopped before training started")
    return prepared


def _build(spec: ExperimentSpec, prepared: PreparedData,
           reporter: Reporter) -> tuple[_Fit, dict[str, np.ndarray]]:
    """Load the backbone, build the model and the data pipelines; also the decoded images."""
    # Imported here, after the "Loading TensorFlow…" status: they import Keras.
    from ftstudio.engine import backbones, heads

    reporter.status("Loading backbone…")
    backbone = backbones.load_backbone(spec.backbone, prepared.data.modality, reporter)
    reporter.status(f"Building model on {backbone.description}")
    set_seed(spec.training.seed)
    model = heads.build_model(backbone, spec, prepared.output_sizes, prepared.feature_stats)
    losses, loss_weights, metrics = heads.loss_and_metrics(spec, prepared.output_sizes)

    t = spec.training
    if prepared.data.modality == "image":
        reporter.status("Decoding images…")
    images = load_images_of_splits(prepared, backbone)
    train_ds = make_dataset(prepared, backbone, "train", t.batch_size, t.seed, True,
                            images=images.get("train"),
                            sample_weights=sample_weights(spec, prepared))
    has_val = len(prepared.splits["val"]) > 0
    val_ds = make_dataset(prepared, backbone, "val", t.batch_size, t.seed, False,
                          images=images.get("val")) if has_val else None
    steps = math.ceil(len(prepared.splits["train"]) / t.batch_size)
    monitor = t.monitor if has_val else t.monitor.removeprefix("val_")
    return _Fit(model, backbone, losses, loss_weights, metrics, train_ds, val_ds, steps,
                monitor), images


def _phases(spec: ExperimentSpec, backbone: Any) -> list[_Phase]:
    """The recipe: head first, then fine-tune (``freeze.head_first_epochs``), or one phase."""
    t = spec.training
    first = spec.freeze.head_first_epochs
    if first and backbone.model is not None:
        return [_Phase("head", 0, first, 1.0, True),
                _Phase("fine-tune", first, t.epochs, spec.freeze.unfreeze_lr_factor, False)]
    return [_Phase("train", 0, t.epochs, 1.0, False)]


def _fit_phases(run: RunFolder, spec: ExperimentSpec, fit: _Fit, phases: list[_Phase],
                prepared: PreparedData, reporter: Reporter, resume: bool) -> bool:
    """Fit each phase in turn (a resumed run skips the finished ones); True if stopped."""
    for i, phase in enumerate(phases):
        marker = run.file(f"phase{i}.done.weights.h5")
        if resume and marker.is_file():
            fit.model.load_weights(str(marker))
            continue
        if _fit_phase(run, spec, fit, i, phase, prepared, reporter, resume):
            return True
        if len(phases) > 1 and i < len(phases) - 1:
            atomic_save(marker, lambda p: fit.model.save_weights(str(p)), suffix=".weights.h5")
    return False


def _fit_phase(run: RunFolder, spec: ExperimentSpec, fit: _Fit, i: int, phase: _Phase,
               prepared: PreparedData, reporter: Reporter, resume: bool) -> bool:
    """Freeze, compile and fit one phase; True when the user stopped it.

    Raises:
        FtStudioError: the loss became NaN or infinite.
    """
    import keras

    from ftstudio.engine import freezing
    from ftstudio.engine.callbacks import (
        AtomicBackupAndRestore,
        BestCheckpoint,
        ReporterCallback,
    )

    t, model = spec.training, fit.model
    trainable = freezing.apply_freeze(model, fit.backbone, spec.freeze,
                                      head_only=phase.head_only)
    model.compile(optimizer=make_optimizer(spec, fit.steps, phase.end - phase.start,
                                           phase.lr_factor),
                  loss=fit.losses, loss_weights=fit.loss_weights, metrics=fit.metrics)
    _, total_params = freezing.count_params(model)
    reporter.status(f"Phase '{phase.name}': {trainable:,} of {total_params:,} parameters "
                    f"trainable")
    info = {"epochs": t.epochs, "steps_per_epoch": fit.steps, "phase": phase.name,
            "train_samples": int(len(prepared.splits["train"])), "batch_size": t.batch_size,
            "initial_step": phase.start * fit.steps, "trainable_params": int(trainable),
            "total_params": int(total_params)}
    reporter_cb = ReporterCallback(reporter, info, t.batch_size)
    backup = run.backup_dir / f"phase{i}"
    if resume:
        _trim_history(run, backup)
    callbacks = [
        keras.callbacks.CSVLogger(str(run.file("history.csv")),
                                  append=resume or i > 0 or phase.start > 0),
        AtomicBackupAndRestore(str(backup), save_freq="epoch", delete_checkpoint=True),
        BestCheckpoint(run.file(BEST_WEIGHTS), fit.monitor, _lower_is_better(fit.monitor),
                       _best_so_far(run, fit.monitor)),
        reporter_cb,
    ]
    if t.early_stopping_patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=fit.monitor, patience=t.early_stopping_patience,
            restore_best_weights=False))
    model.fit(fit.train_ds, validation_data=fit.val_ds, epochs=phase.end,
              initial_epoch=phase.start, callbacks=callbacks, shuffle=False, verbose=0)
    if reporter_cb.diverged:
        raise FtStudioError(f"training diverged: the loss became NaN/inf at "
                            f"{reporter_cb.diverged}; lower training.learning_rate or add "
                            f"gradient clipping (training.gradient_clip_norm)")
    return reporter_cb.stopped_by_user


def _evaluate_and_save(run: RunFolder, spec: ExperimentSpec, fit: _Fit, prepared: PreparedData,
                       images: dict[str, np.ndarray],
                       reporter: Reporter) -> tuple[int | None, dict[str, float]]:
    """Restore the best weights, evaluate, write the results and the model.

    Returns:
        The best epoch (from 1; None without history) and the flat metrics.
    """
    from ftstudio.engine.callbacks import BestCheckpoint

    best_epoch, best_value = _best_epoch(run, fit.monitor)
    if run.file(BEST_WEIGHTS).is_file():
        BestCheckpoint.restore(fit.model, run.file(BEST_WEIGHTS))
        reporter.status(f"Restored the best weights (epoch {best_epoch}, {fit.monitor} "
                        f"{best_value:.4g})")
    reporter.status("Evaluating on the test split…")
    metrics, evaluation, predictions = evaluate_model(fit.model, prepared, fit.backbone, spec,
                                                      images)
    run.write_json("metrics.json", metrics)
    run.write_json("evaluation.json", evaluation)
    atomic_write_text(run.file("predictions.csv"), predictions)
    reporter.status("Saving the model…")
    save_run_model(run, fit.model)
    if fit.backbone.preprocessor is not None:
        save_text_preprocessor(fit.backbone, run.file(PREPROCESSOR_DIR))
    if spec.export.dir or any(fmt != "keras" for fmt in spec.export.formats):
        export_after_training(run.path, spec.export, reporter)
    return best_epoch, metrics


def _trim_history(run: RunFolder, backup: Path) -> None:
    """Drop history rows of epochs the backup does not hold.

    A kill can land between the two writes at an epoch's end; trimming makes the resumed
    run log each epoch exactly once.
    """
    import json

    done = None
    for name in ("training_metadata.json", "training_metadata.json.bkp"):
        try:
            done = int(json.loads((backup / name).read_text(encoding="utf-8"))["epoch"])
            break
        except (OSError, ValueError, KeyError):
            continue
    history = run.file("history.csv")
    if done is None or not history.is_file():
        return
    lines = history.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = lines[:1] + [ln for ln in lines[1:] if ln.split(",", 1)[0].strip().isdigit()
                        and int(ln.split(",", 1)[0]) < done]
    if len(kept) != len(lines):
        atomic_write_text(history, "".join(kept))


def _lower_is_better(monitor: str) -> bool:
    return "loss" in monitor or "error" in monitor or monitor.endswith(("mae", "mse", "rmse"))


def _best_epoch(run: RunFolder, monitor: str) -> tuple[int | None, float]:
    """The best epoch (from 1) by ``monitor`` in ``history.csv`` and its value."""
    scored = [(row[monitor], int(row["epoch"]) + 1) for row in run.history()
              if math.isfinite(row.get(monitor, math.nan))]
    if not scored:
        return None, math.nan
    value, epoch = (min if _lower_is_better(monitor) else max)(scored)
    return epoch, value


def _best_so_far(run: RunFolder, monitor: str) -> float | None:
    """What a resumed run's checkpoint must beat (``None`` on a fresh run)."""
    _, value = _best_epoch(run, monitor)
    return value if math.isfinite(value) else None
