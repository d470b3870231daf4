"""The fit of a run: the recipe's phases, their callbacks, resume points and divergence.

:func:`build` loads the backbone, builds the model and its data (tokenised once, with
progress); :func:`fit_phases` fits each phase of the recipe, continuing a resumed run where
its backup stopped; :func:`keep_last_good` saves the weights of the last good epoch when the
loss diverged. The files a fit leaves behind are named in :mod:`ftstudio.engine.resume`.

NumPy at import time; Keras is imported inside the functions.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftstudio.engine.datasets import (
    PreparedData,
    load_images_of_splits,
    make_dataset,
    tokenise_split,
)
from ftstudio.engine.recipes import gradual_unfreeze_stages
from ftstudio.engine.reporting import Reporter
from ftstudio.engine.resume import (
    BEST_WEIGHTS,
    LAST_GOOD_WEIGHTS,
    ResumePlan,
    phase_marker,
    trim_history,
)
from ftstudio.engine.runs import RunFolder, backup_epoch
from ftstudio.engine.training_setup import make_optimizer, sample_weights, set_seed
from ftstudio.engine.warm_start import warm_start
from ftstudio.spec import ExperimentSpec

__all__ = ["Fit", "FitOutcome", "Phase", "best_epoch", "build", "fit_phases",
           "keep_last_good", "lower_is_better", "phases", "prepare_last_phase"]


@dataclass
class Phase:
    """One ``fit`` of the recipe: epochs ``[start, end)`` at ``lr_factor`` times the rate."""

    name: str
    start: int
    end: int
    lr_factor: float
    head_only: bool
    top_blocks: int | None = None
    """Gradual unfreezing: only the top this many blocks may learn (``None``: the mode's)."""
    schedule: tuple[int, int] | None = None
    """Epochs the learning-rate schedule spans, when it goes on across phases (with the
    optimizer state of what already learned); ``None``: this phase's own epochs."""

    def schedule_epochs(self) -> tuple[int, int]:
        """The ``[first, end)`` epochs of this phase's learning-rate schedule."""
        return self.schedule or (self.start, self.end)


@dataclass
class Fit:
    """What every phase fits with: the model, its losses, the data and what to watch."""

    model: Any
    backbone: Any
    losses: dict[str, Any]
    loss_weights: dict[str, float]
    metrics: dict[str, list[Any]]
    prepared: PreparedData
    steps: int
    monitor: str
    val_ds: Any
    images: dict[str, np.ndarray] = field(default_factory=dict)
    tokens: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    sample_weights: dict[str, np.ndarray] | None = None
    devices: Any = None  # the DevicePlan (engine.devices): strategy, precision, XLA


@dataclass
class FitOutcome:
    """How the phases ended: normally, stopped by the user, or diverged (where and how)."""

    stopped: bool = False
    diverged: str | None = None
    divergence: str = ""
    phase_index: int = 0


def build(spec: ExperimentSpec, prepared: PreparedData, reporter: Reporter,
          devices: Any = None) -> Fit:
    """Load the backbone, build the model and the data it trains on, saying each stage.

    ``devices`` (a :class:`~ftstudio.engine.devices.DevicePlan`) says where the model lives.
    """
    from ftstudio.engine import backbones, heads
    from ftstudio.engine.devices import in_plan_precision, model_scope

    with model_scope(devices):
        reporter.status("Loading the backbone…")
        backbone = backbones.load_backbone(spec.backbone, prepared.data.modality, reporter)
        backbone.model = in_plan_precision(backbone.model, devices)  # file models: float32
        reporter.status(f"Building the model on {backbone.description}…")
        set_seed(spec.training.seed)
        model = heads.build_model(backbone, spec, prepared.output_sizes,
                                  prepared.feature_stats)
    warm_start(model, spec, reporter)  # training.init_from_run: start from a previous run
    losses, loss_weights, metrics = heads.loss_and_metrics(spec, prepared.output_sizes)
    t = spec.training
    if prepared.data.modality == "image":
        reporter.status("Decoding images…")
    images = load_images_of_splits(prepared, backbone)
    tokens = _tokenise(prepared, backbone, reporter)
    has_val = len(prepared.splits["val"]) > 0
    val_ds = make_dataset(prepared, backbone, "val", t.batch_size, t.seed, False,
                          images=images.get("val"), tokens=tokens.get("val"),
                          length_grouping=t.length_grouping) \
        if has_val else None
    steps = math.ceil(len(prepared.splits["train"]) / t.batch_size)
    monitor = t.monitor if has_val else t.monitor.removeprefix("val_")
    return Fit(model, backbone, losses, loss_weights, metrics, prepared, steps, monitor,
               val_ds, images, tokens, sample_weights(spec, prepared), devices)


def _tokenise(prepared: PreparedData, backbone: Any,
              reporter: Reporter) -> dict[str, dict[str, np.ndarray]]:
    """Tokenise the train and validation texts once, up front (text data only)."""
    if prepared.data.modality != "text" or backbone.preprocessor is None \
            or prepared.data.stream is not None:  # streamed texts: tokenised per batch
        return {}
    splits = [s for s in ("train", "val") if len(prepared.splits[s])]
    total = sum(len(prepared.splits[s]) for s in splits)
    out: dict[str, dict[str, np.ndarray]] = {}
    done = 0
    for split in splits:
        out[split] = tokenise_split(prepared, backbone, split, reporter, counted=(done, total))
        done += len(prepared.splits[split])
    return out


def phases(spec: ExperimentSpec, backbone: Any) -> list[Phase]:
    """The recipe: head first, then fine-tune (``freeze.head_first_epochs``), or one phase."""
    t = spec.training
    first = spec.freeze.head_first_epochs
    gradual = gradual_unfreeze_stages(spec, len(backbone.blocks)) \
        if backbone.model is not None else []
    if gradual:
        return [Phase(name, start, end, 1.0, top == 0, top, (0, t.epochs))
                for name, start, end, top in gradual]
    if first and backbone.model is not None:
        return [Phase("head", 0, first, 1.0, True),
                Phase("fine-tune", first, t.epochs, spec.freeze.unfreeze_lr_factor, False)]
    return [Phase("train", 0, t.epochs, 1.0, False)]


def fit_phases(run: RunFolder, spec: ExperimentSpec, fit: Fit, recipe: list[Phase],
               reporter: Reporter, plan: ResumePlan) -> FitOutcome:
    """Fit each phase in turn; a resumed run skips the finished ones and continues the last.

    After a phase (but the last) its weights are kept in ``phase<i>.done.npz`` and its
    backup is dropped; the last phase's backup stays until the final weights are kept.
    """
    from ftstudio.engine.callbacks import load_weights_npz, save_weights_npz

    for i, phase in enumerate(recipe):
        marker = phase_marker(run, i)
        if marker.is_file():
            load_weights_npz(fit.model, marker)
            continue
        restart = plan.good_epoch if plan.kind == "diverged" and plan.phase_index == i \
            else None
        outcome, spec = _fit_phase_backing_off(run, spec, fit, i, phase, reporter, restart)
        if outcome.stopped or outcome.diverged:
            return outcome
        if i < len(recipe) - 1:
            save_weights_npz(fit.model, marker)
            shutil.rmtree(run.backup_dir / f"phase{i}", ignore_errors=True)
    return FitOutcome()


def _compile(spec: ExperimentSpec, fit: Fit, phase: Phase) -> int:
    """Freeze and compile the model for ``phase``; returns the trainable parameter count."""
    from ftstudio.engine import freezing, optimizers
    from ftstudio.engine.devices import compile_options

    previous = getattr(fit.model, "optimizer", None)
    trainable = freezing.apply_freeze(fit.model, fit.backbone, spec.freeze,
                                      head_only=phase.head_only, top_blocks=phase.top_blocks)
    first, end = phase.schedule_epochs()
    optimizer = optimizers.with_lr_factors(
        make_optimizer(spec, fit.steps, end - first, phase.lr_factor),
        optimizers.learning_rate_factors(fit.model, fit.backbone, spec.freeze))
    fit.model.compile(optimizer=optimizer,
                      loss=fit.losses, loss_weights=fit.loss_weights, metrics=fit.metrics,
                      **compile_options(fit.devices, fit.steps))
    if first < phase.start:  # the schedule and the moments go on from the last phase
        optimizers.carry_state(previous, fit.model.optimizer, fit.model.trainable_variables,
                               (phase.start - first) * fit.steps)
    return trainable


def prepare_last_phase(spec: ExperimentSpec, fit: Fit, recipe: list[Phase]) -> None:
    """Freeze and compile as the last phase did (a resumed run that only evaluates)."""
    _compile(spec, fit, recipe[-1])


def _start_epoch(run: RunFolder, fit: Fit, i: int, phase: Phase,
                 restart: int | None) -> int:
    """The epoch this phase's fit starts at; a diverged run's restart point is set up here."""
    from ftstudio.engine.callbacks import AtomicBackupAndRestore, load_weights_npz

    backup = run.backup_dir / f"phase{i}"
    if restart is None:
        return min(max(backup_epoch(backup) or phase.start, phase.start), phase.end)
    # Restart after a divergence: the last good weights with the new settings' fresh
    # optimizer, saved at once as the phase's backup (a kill now resumes from there).
    shutil.rmtree(backup, ignore_errors=True)
    if run.file(LAST_GOOD_WEIGHTS).is_file():
        load_weights_npz(fit.model, run.file(LAST_GOOD_WEIGHTS))
    start = min(max(restart, phase.start), phase.end)
    if start > phase.start:
        optimizer = fit.model.optimizer
        optimizer.build(fit.model.trainable_variables)
        optimizer.iterations.assign((start - phase.schedule_epochs()[0]) * fit.steps)
        saver = AtomicBackupAndRestore(str(backup))
        saver.set_model(fit.model)
        saver.save_now(start)
    return start


def _fit_phase(run: RunFolder, spec: ExperimentSpec, fit: Fit, i: int, phase: Phase,
               reporter: Reporter, restart: int | None) -> FitOutcome:
    """Freeze, compile and fit one phase from where its backup (or a restart) says."""
    from ftstudio.engine.callbacks import ResumableEarlyStopping
    from ftstudio.engine.devices import build_for_multi_worker

    t, model = spec.training, fit.model
    reporter.status(f"Compiling the model for phase '{phase.name}'…")
    trainable = _compile(spec, fit, phase)
    start = _start_epoch(run, fit, i, phase, restart)
    trim_history(run, start)
    lower = lower_is_better(fit.monitor)
    stopper = None
    if t.early_stopping_patience:
        past = [row.get(fit.monitor, math.nan) for row in run.history()
                if phase.start <= int(row["epoch"]) < start]
        stopper = ResumableEarlyStopping(fit.monitor, t.early_stopping_patience, lower, past,
                                         phase.start)
    if start >= phase.end or (stopper is not None and stopper.exhausted()):
        _restore_backup(model, run.backup_dir / f"phase{i}")
        return FitOutcome(phase_index=i)
    _, total_params = _count(model)
    reporter.status(f"Phase '{phase.name}': {trainable:,} of {total_params:,} parameters "
                    f"trainable")
    info = {"epochs": t.epochs, "steps_per_epoch": fit.steps, "phase": phase.name,
            "phase_epochs": phase.end - phase.start, "phase_first_epoch": phase.start + 1,
            "train_samples": int(len(fit.prepared.splits["train"])),
            "batch_size": t.batch_size, "initial_step": start * fit.steps,
            "trainable_params": int(trainable), "total_params": int(total_params)}
    callbacks, watcher = _callbacks(run, fit, i, reporter, info, t.batch_size, stopper)
    from ftstudio.engine.feature_cache import head_training

    cached = head_training(run, spec, fit, phase, reporter, callbacks, (start, phase.end))
    if cached is not None:  # a frozen backbone: the head trains on its features, computed once
        model, train_ds, val_ds = cached.model, cached.train_ds, cached.val_ds
    else:
        val_ds = fit.val_ds
        train_ds = make_dataset(fit.prepared, fit.backbone, "train", t.batch_size, t.seed, True,
                                images=fit.images.get("train"),
                                sample_weights=fit.sample_weights, epochs=(start, phase.end),
                                tokens=fit.tokens.get("train"),
                                length_grouping=t.length_grouping)
    reporter.status("Compiling the training step (the first batch takes longest)…")
    build_for_multi_worker(model, train_ds, fit.devices)
    fit.model._initial_epoch = None  # a backup restored in an earlier phase set it: clear it
    model.fit(train_ds, validation_data=val_ds, epochs=phase.end, initial_epoch=start,
              steps_per_epoch=fit.steps, callbacks=callbacks, shuffle=False, verbose=0)
    return FitOutcome(watcher.stopped_by_user, watcher.diverged, watcher.divergence, i)


def _fit_phase_backing_off(run: RunFolder, spec: ExperimentSpec, fit: Fit, i: int,
                           phase: Phase, reporter: Reporter,
                           restart: int | None) -> tuple[FitOutcome, ExperimentSpec]:
    """:func:`_fit_phase` in the device plan's strategy scope, backing off on out-of-memory.

    When the device runs out of memory, halve the batch and continue from the phase's last
    completed epoch (its backup), saying so.

    Returns:
        The outcome and the spec the phase ended with (its batch size maybe smaller).
    """
    import dataclasses

    from ftstudio.engine.devices import is_out_of_memory, out_of_memory_batch, strategy_scope

    initial = fit.model.get_weights()  # where a phase without a backup starts again
    while True:
        try:
            with strategy_scope(fit.devices):
                return _fit_phase(run, spec, fit, i, phase, reporter, restart), spec
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            t = spec.training
            batch = out_of_memory_batch(t.batch_size)
            done = backup_epoch(run.backup_dir / f"phase{i}")
            reporter.warning(f"Out of device memory with batch {t.batch_size}: continuing with "
                             f"batch {batch} from epoch {(done or phase.start) + 1}")
            spec = dataclasses.replace(spec, training=dataclasses.replace(t, batch_size=batch))
            fit.steps = math.ceil(len(fit.prepared.splits["train"]) / batch)
            if fit.val_ds is not None:
                fit.val_ds = make_dataset(fit.prepared, fit.backbone, "val", batch, t.seed,
                                          False, images=fit.images.get("val"),
                                          tokens=fit.tokens.get("val"),
                                          length_grouping=t.length_grouping)
            if done is None and restart is None:
                fit.model.set_weights(initial)
            restart = restart if done is None else None  # else the backup holds the restart


def _callbacks(run: RunFolder, fit: Fit, i: int, reporter: Reporter, info: dict[str, Any],
               batch_size: int, stopper: Any) -> tuple[list[Any], Any]:
    """The phase's callbacks in the order their epoch-end writes must happen."""
    from ftstudio.engine.callbacks import (
        AtomicBackupAndRestore,
        BestCheckpoint,
        HistoryLogger,
        PauseGate,
        ReporterCallback,
        RunWatch,
    )
    from ftstudio.engine.lora import ReviveAdapters, lora_layers

    watcher = ReporterCallback(reporter, info, batch_size)

    def diverged() -> bool:
        return watcher.diverged is not None

    callbacks = [
        HistoryLogger(run.file("history.csv")),
        BestCheckpoint(run.file(BEST_WEIGHTS), fit.monitor, lower_is_better(fit.monitor),
                       best_so_far(run, fit.monitor), skip=diverged),
        AtomicBackupAndRestore(str(run.backup_dir / f"phase{i}"), skip=diverged,
                               save_freq="epoch", delete_checkpoint=False),
        *([ReviveAdapters()] if lora_layers(fit.model) else []),  # after the restore
        *([stopper] if stopper is not None else []),
        watcher,
        PauseGate(reporter, run),  # after the watcher: the batch held at is reported
        RunWatch(run),
    ]
    return callbacks, watcher


def _count(model: Any) -> tuple[int, int]:
    from ftstudio.engine import freezing

    return freezing.count_params(model)


def _restore_backup(model: Any, backup: Path) -> None:
    """Load a phase's backup (weights and optimizer state) when there is one."""
    weights = backup / "latest.weights.h5"
    if not weights.is_file():
        return
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    model.load_weights(str(weights))


def keep_last_good(run: RunFolder, fit: Fit, recipe: list[Phase], outcome: FitOutcome) -> int:
    """After a divergence: keep the last good epoch's weights; returns that epoch count.

    The diverged epoch was never backed up, so the phase's backup holds the last good epoch;
    without one, the previous phase's weights are the last good ones (0: none at all).
    """
    from ftstudio.engine.callbacks import load_weights_npz, save_weights_npz

    i = outcome.phase_index
    backup = run.backup_dir / f"phase{i}"
    done = backup_epoch(backup)
    target = run.file(LAST_GOOD_WEIGHTS)
    if done is not None and done > recipe[i].start:
        _restore_backup(fit.model, backup)
        save_weights_npz(fit.model, target)
        return done
    if i > 0 and phase_marker(run, i - 1).is_file():
        load_weights_npz(fit.model, phase_marker(run, i - 1))
        save_weights_npz(fit.model, target)
        return recipe[i].start
    target.unlink(missing_ok=True)
    return 0


def lower_is_better(monitor: str) -> bool:
    """Whether smaller values of ``monitor`` are better (losses and errors)."""
    return "loss" in monitor or "error" in monitor or monitor.endswith(("mae", "mse", "rmse"))


def best_epoch(run: RunFolder, monitor: str,
               before: int | None = None) -> tuple[int | None, float]:
    """The best epoch (from 1) by ``monitor`` in ``history.csv`` and its value.

    Args:
        run: the run folder.
        monitor: the history column to rank by.
        before: only epochs before this count (from 0), e.g. those before a divergence.
    """
    scored = [(row[monitor], int(row["epoch"]) + 1) for row in run.history()
              if math.isfinite(row.get(monitor, math.nan))
              and (before is None or int(row["epoch"]) < before)]
    if not scored:
        return None, math.nan
    value, epoch = (min if lower_is_better(monitor) else max)(scored)
    return epoch, value


def best_so_far(run: RunFolder, monitor: str) -> float | None:
    """What a resumed run's checkpoint must beat (``None`` on a fresh run)."""
    _, value = best_epoch(run, monitor)
    return value if math.isfinite(value) else None
