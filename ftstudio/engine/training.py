"""Training: ``train(spec, reporter)`` runs a whole fine-tuning job and writes its run folder.

The same function serves the CLI (``ftstudio train``) and the window's worker thread; both
watch it through a :class:`~ftstudio.engine.reporting.Reporter`.
"""

from __future__ import annotations

import math
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

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


@dataclass
class RunResult:
    """What a finished (or stopped) training produced."""

    run_dir: Path
    metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_by_user: bool = False
    best_epoch: int | None = None


@dataclass
class PreparedData:
    """Loaded data with its split, encoded for the model."""

    data: Any  # data.LoadedData
    splits: dict[str, np.ndarray]
    output_columns: dict[str, str]  # output name -> label column
    output_sizes: dict[str, int]
    feature_stats: tuple[np.ndarray, np.ndarray] | None


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


def prepare_data(spec: ExperimentSpec, reporter: Reporter,
                 saved_splits: dict[str, list[int]] | None = None) -> PreparedData:
    """Load the data, split it (or reuse ``saved_splits`` row ids) and size the outputs."""
    from ftstudio.engine import data as data_mod

    data = data_mod.load_data(spec, reporter)
    columns = {o.name: (o.label_column or spec.data.label_column or "")
               for o in spec.head.outputs}
    first = spec.head.outputs[0]
    stratify = data.targets[columns[first.name]] if first.task == "classification" else None
    if saved_splits:
        pos = {int(r): i for i, r in enumerate(data.row_ids)}
        splits = {k: np.array(sorted(pos[r] for r in v if r in pos), dtype=np.int64)
                  for k, v in saved_splits.items()}
    else:
        splits = data_mod.split_indices(len(data.row_ids), stratify, spec.data.split,
                                        spec.training.seed)
    if len(splits["train"]) == 0:
        raise SpecError("the train split is empty: add data or raise data.split[0]")
    sizes = {}
    for o in spec.head.outputs:
        col = columns[o.name]
        sizes[o.name] = len(data.classes[col]) if o.task == "classification" else 1
    stats = None
    if data.modality == "tabular":
        x = np.asarray(data.inputs, dtype=np.float32)[splits["train"]]
        stats = (x.mean(axis=0), x.var(axis=0))
    return PreparedData(data, splits, columns, sizes, stats)


def make_dataset(prepared: PreparedData, backbone: Any, split: str, batch_size: int,
                 seed: int, shuffle: bool, with_targets: bool = True,
                 images: np.ndarray | None = None,
                 sample_weights: dict[str, np.ndarray] | None = None) -> Any:
    """A batched, prefetched ``tf.data.Dataset`` of one split.

    Text goes through the backbone's keras-hub preprocessor after batching (as a
    hand-written keras-hub script would); images are decoded once, up front.
    """
    import tensorflow as tf

    data = prepared.data
    idx = prepared.splits[split]
    if data.modality == "text":
        x: Any = tf.constant(np.asarray(data.inputs, dtype=object)[idx].astype(str))
    elif data.modality == "image":
        x = images if images is not None else load_split_images(prepared, backbone, split)
    else:
        x = np.asarray(data.inputs, dtype=np.float32)[idx]
    if with_targets:
        y = {name: data.targets[col][idx] for name, col in prepared.output_columns.items()}
        if sample_weights:
            ds = tf.data.Dataset.from_tensor_slices((x, y, sample_weights))
        else:
            ds = tf.data.Dataset.from_tensor_slices((x, y))
    else:
        ds = tf.data.Dataset.from_tensor_slices(x)
    if shuffle:
        ds = ds.shuffle(len(idx), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if data.modality == "text":
        convert: Any = backbone.preprocessor
    elif data.modality == "image":
        def convert(im: Any) -> Any:
            return tf.cast(im, tf.float32)
    else:
        convert = None
    if convert is not None:
        ds = ds.map(lambda x, *rest: (convert(x), *rest) if rest else convert(x),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def load_split_images(prepared: PreparedData, backbone: Any, split: str) -> np.ndarray:
    """Decode the images of one split at the backbone's input size (uint8)."""
    from ftstudio.engine.data import load_images

    h, w, c = backbone.image_shape
    paths = np.asarray(prepared.data.inputs, dtype=object)[prepared.splits[split]]
    return load_images([str(p) for p in paths], (h, w), channels=c)


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
    col = prepared.output_columns[first.name]
    classes = prepared.data.classes[col]
    y = prepared.data.targets[col][prepared.splits["train"]]
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


def _train_in(run: RunFolder, spec: ExperimentSpec, reporter: Reporter,
              resume: bool) -> RunResult:
    reporter.status("Loading TensorFlow…")
    import keras

    from ftstudio.engine import backbones, freezing, heads

    set_seed(spec.training.seed)
    run.set_status(STATUS_RUNNING, resumed=resume)
    spec.save(run.file("spec.json"))
    run.write_json("env.json", environment(spec.training.seed))

    saved = run.read_json("splits.json", {}) if resume else {}
    prepared = prepare_data(spec, reporter, saved.get("row_ids") if saved else None)
    data = prepared.data
    run.write_json("splits.json", {
        "seed": spec.training.seed, "fractions": spec.data.split,
        "row_ids": {k: [int(r) for r in data.row_ids[v]] for k, v in prepared.splits.items()}})
    run.write_json("labels.json", {o: data.classes.get(c, []) for o, c in
                                   prepared.output_columns.items()})
    if reporter.should_stop():
        raise CancelledError("stopped before training started")

    reporter.status("Loading backbone…")
    backbone = backbones.load_backbone(spec.backbone, data.modality, reporter)
    reporter.status(f"Building model on {backbone.description}")
    set_seed(spec.training.seed)
    model = heads.build_model(backbone, spec, prepared.output_sizes, prepared.feature_stats)
    losses, loss_weights, metrics = heads.loss_and_metrics(spec, prepared.output_sizes)

    t = spec.training
    images = {}
    if data.modality == "image":
        reporter.status("Decoding images…")
        images = {s: load_split_images(prepared, backbone, s) for s in ("train", "val", "test")}
    cw = class_weights(spec, prepared)
    weights = None
    if cw:
        name = spec.head.outputs[0].name
        y_train = data.targets[prepared.output_columns[name]][prepared.splits["train"]]
        weights = {name: np.array([cw[int(c)] for c in y_train], dtype=np.float32)}
    train_ds = make_dataset(prepared, backbone, "train", t.batch_size, t.seed, True,
                            images=images.get("train"), sample_weights=weights)
    has_val = len(prepared.splits["val"]) > 0
    val_ds = make_dataset(prepared, backbone, "val", t.batch_size, t.seed, False,
                          images=images.get("val")) if has_val else None
    steps = math.ceil(len(prepared.splits["train"]) / t.batch_size)
    monitor = t.monitor if has_val else t.monitor.removeprefix("val_")

    phases = []
    first = spec.freeze.head_first_epochs
    if first and backbone.model is not None:
        phases.append(("head", 0, first, 1.0, True))
        phases.append(("fine-tune", first, t.epochs, spec.freeze.unfreeze_lr_factor, False))
    else:
        phases.append(("train", 0, t.epochs, 1.0, False))

    best_file = run.file("best_weights.npz")
    from ftstudio.engine.callbacks import AtomicBackupAndRestore, BestCheckpoint
    reporter_cb = None
    stopped = False
    for i, (phase, start, end, factor, head_only) in enumerate(phases):
        marker = run.file(f"phase{i}.done.weights.h5")
        if resume and marker.is_file():
            model.load_weights(str(marker))
            continue
        trainable = freezing.apply_freeze(model, backbone, spec.freeze, head_only=head_only)
        model.compile(optimizer=make_optimizer(spec, steps, end - start, factor),
                      loss=losses, loss_weights=loss_weights, metrics=metrics)
        _, total_params = freezing.count_params(model)
        reporter.status(f"Phase '{phase}': {trainable:,} of {total_params:,} parameters "
                        f"trainable")
        info = {"epochs": t.epochs, "steps_per_epoch": steps, "phase": phase,
                "train_samples": int(len(prepared.splits["train"])), "batch_size": t.batch_size,
                "initial_step": start * steps, "trainable_params": int(trainable),
                "total_params": int(total_params)}
        reporter_cb = _reporter_callback(reporter, info, t.batch_size)
        backup = run.backup_dir / f"phase{i}"
        if resume:
            _trim_history(run, backup)
        callbacks = [
            keras.callbacks.CSVLogger(str(run.file("history.csv")),
                                      append=resume or i > 0 or start > 0),
            AtomicBackupAndRestore(str(backup), save_freq="epoch", delete_checkpoint=True),
            BestCheckpoint(best_file, monitor, _lower_is_better(monitor),
                           _best_so_far(run, monitor)),
            reporter_cb,
        ]
        if t.early_stopping_patience:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=monitor, patience=t.early_stopping_patience, restore_best_weights=False))
        model.fit(train_ds, validation_data=val_ds, epochs=end, initial_epoch=start,
                  callbacks=callbacks, shuffle=False, verbose=0)
        if reporter_cb.diverged:
            raise FtStudioError(f"training diverged: the loss became NaN/inf at "
                                f"{reporter_cb.diverged}; lower training.learning_rate or add "
                                f"gradient clipping (training.gradient_clip_norm)")
        if reporter_cb.stopped_by_user:
            stopped = True
            break
        if len(phases) > 1 and i < len(phases) - 1:
            atomic_save(marker, lambda p: model.save_weights(str(p)), suffix=".weights.h5")

    best_epoch, best_value = _best_epoch(run, monitor)
    if best_file.is_file():
        BestCheckpoint.restore(model, best_file)
        reporter.status(f"Restored the best weights (epoch {best_epoch}, {monitor} "
                        f"{best_value:.4g})")
    reporter.status("Evaluating on the test split…")
    from ftstudio.engine.inference import evaluate_model

    metrics_out, evaluation, predictions = evaluate_model(model, prepared, backbone, spec,
                                                          images)
    run.write_json("metrics.json", metrics_out)
    run.write_json("evaluation.json", evaluation)
    atomic_write_text(run.file("predictions.csv"), predictions)
    reporter.status("Saving the model…")
    atomic_save(run.model_path, lambda p: model.save(str(p)))
    if backbone.preprocessor is not None:
        from ftstudio.engine.inference import save_text_preprocessor

        save_text_preprocessor(backbone, run.file("preprocessor"))
    if spec.export.dir:
        _export_copy(run, Path(spec.export.dir))
    for i in range(len(phases)):
        run.file(f"phase{i}.done.weights.h5").unlink(missing_ok=True)
    import shutil

    shutil.rmtree(run.backup_dir, ignore_errors=True)
    best_file.unlink(missing_ok=True)
    run.set_status(STATUS_STOPPED if stopped else STATUS_FINISHED, best_epoch=best_epoch)
    return RunResult(run.path, metrics_out, run.history(), stopped, best_epoch)


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


def _export_copy(run: RunFolder, target: Path) -> None:
    """Copy the model and its labels (and text preprocessor) into ``export.dir``."""
    import shutil

    try:
        target.mkdir(parents=True, exist_ok=True)
        atomic_save(target / "model.keras", lambda p: shutil.copyfile(run.model_path, p))
        shutil.copyfile(run.file("labels.json"), target / "labels.json")
        if run.file("preprocessor").is_dir():
            shutil.copytree(run.file("preprocessor"), target / "preprocessor", dirs_exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot export to {target}: {exc.strerror or exc}; the run folder "
                       f"{run.path} holds the model") from None


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


def _reporter_callback(reporter: Reporter, info: dict[str, Any], batch_size: int) -> Any:
    from ftstudio.engine.callbacks import ReporterCallback

    return ReporterCallback(reporter, info, batch_size)
