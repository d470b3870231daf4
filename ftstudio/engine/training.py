"""Training: ``train(spec, reporter)`` runs a whole fine-tuning job and writes its run folder.

The same function serves the CLI (``ftstudio train``) and the window's training child process;
both watch it through a :class:`~ftstudio.engine.reporting.Reporter`. Data comes through
:mod:`~ftstudio.engine.datasets`, the fit through :mod:`~ftstudio.engine.fitting`, results
through :mod:`~ftstudio.engine.evaluation`, and the run's model, labels and split are written
by :mod:`~ftstudio.engine.artifacts`.

A run folder survives anything (:mod:`~ftstudio.engine.resume` says where a run stopped):
one writer holds its lock; every file is written atomically; the data and the spec are
checked before TensorFlow loads; ``status.json`` names the phase (``preparing``,
``training``, ``evaluating``, ``saving``) with the writer's pid and heartbeat; the trained
weights are kept (``final_weights.npz``) until the run is finished, so a run killed while
evaluating or saving redoes only that; a diverged run keeps its last good weights; a full
disk is one clear message with the files intact. ``FTSTUDIO_FAULT`` (tests) kills or fails
a run at each of these points (:mod:`~ftstudio.engine.faults`).
"""

from __future__ import annotations

import math
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ftstudio.engine import faults, fitting
from ftstudio.engine.artifacts import (
    PREPROCESSOR_DIR,
    read_splits,
    save_labels,
    save_run_model,
    save_splits,
    save_text_preprocessor,
)
from ftstudio.engine.datasets import PreparedData, prepare_data
from ftstudio.engine.devices import plan_devices
from ftstudio.engine.evaluation import evaluate_model_chunks, write_predictions
from ftstudio.engine.export import export_after_training
from ftstudio.engine.memory_estimate import check_fit_memory
from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.engine.resume import (
    BEST_WEIGHTS,
    FINAL_WEIGHTS,
    LAST_GOOD_WEIGHTS,
    LEFTOVERS,
    ResumePlan,
    keep_extend_state,
    open_run,
    phase_marker,
)
from ftstudio.engine.runs import (
    STATUS_DIVERGED,
    STATUS_FAILED,
    STATUS_FINISHED,
    STATUS_RUNNING,
    STATUS_STOPPED,
    RunFolder,
    atomic_write_text,
)
from ftstudio.engine.training_setup import environment, set_seed
from ftstudio.errors import CancelledError, FtStudioError, InjectedCrash, StorageError
from ftstudio.spec import ExperimentSpec

__all__ = ["BEST_WEIGHTS", "RunResult", "train"]

_RESUME_HINT = "; then continue the run with --resume (same --out)"


@dataclass
class RunResult:
    """What a finished (or stopped) training produced."""

    run_dir: Path
    metrics: dict[str, float]
    history: list[dict[str, float]] = field(default_factory=list)
    stopped_by_user: bool = False
    best_epoch: int | None = None


def train(spec: ExperimentSpec, reporter: Reporter | None = None,
          out_dir: str | Path | None = None, resume: bool = False,
          runs_root: str | Path | None = None) -> RunResult:
    """Fine-tune as ``spec`` says and write the run folder.

    Args:
        spec: the experiment (paths already resolved).
        reporter: progress sink; stop requests are honoured after the current batch.
        out_dir: the run folder to write (created if needed); default a new folder under
            ``runs_root``.
        resume: continue an unfinished run (``out_dir``, or the newest unfinished run of
            the same spec name) from the phase it stopped in.
        runs_root: where new run folders go (default ``FTSTUDIO_HOME/runs``).

    Returns:
        The run's result; ``stopped_by_user`` when the reporter asked to stop.

    Raises:
        FtStudioError: for every problem the user can fix (bad data, spec, backbone, a
            diverged loss, a full disk, a folder in use by another run…).
    """
    reporter = reporter or BaseReporter()
    faults.reset()
    run, plan = open_run(spec, out_dir, resume, runs_root)
    try:
        return _train_in(run, spec, reporter, plan)
    except InjectedCrash:
        raise  # a simulated kill: nothing may be recorded, as after a real one
    except CancelledError:
        _record_end(run, STATUS_STOPPED, "stopped before training started")
        raise
    except StorageError as exc:
        _record_end(run, STATUS_FAILED, str(exc))
        hint = _RESUME_HINT if run.file("spec.json").is_file() else "; then train again"
        raise StorageError(f"{exc}{hint}") from exc
    except FtStudioError as exc:
        if run.status() != STATUS_DIVERGED:
            _record_end(run, STATUS_FAILED, str(exc))
        raise
    except BaseException as exc:
        _record_end(run, STATUS_FAILED, f"{type(exc).__name__}: {exc}")
        raise
    finally:
        run.unlock()


def _record_end(run: RunFolder, status: str, message: str) -> None:
    """Record how a run ended, if the disk still lets us (else it reads "interrupted").

    A run that could not even write its spec leaves nothing: it is simply trained again.
    """
    if not run.file("spec.json").is_file():
        return
    try:
        run.set_status(status, message=message)
    except StorageError:
        pass


def _train_in(run: RunFolder, spec: ExperimentSpec, reporter: Reporter,
              plan: ResumePlan) -> RunResult:
    """Train in an opened run folder: prepare, build, fit the phases, evaluate and save."""
    started = time.time()
    atomic_write_text(run.file("spec.json"), spec.to_json() + "\n")
    run.set_status(STATUS_RUNNING, phase="preparing", resumed=plan.resumed)
    if plan.message:
        reporter.status(plan.message)
    faults.point("before-data")
    prepared = _prepare(run, spec, reporter, plan.resumed)
    reporter.status("Loading TensorFlow…")
    from ftstudio.engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly()
    devices = plan_devices(spec.training)  # first: a multi-worker strategy must precede any op
    reporter.status(devices.describe())
    set_seed(spec.training.seed)
    run.write_json("env.json", environment(spec.training.seed, devices))
    spec = _without_lost_start(spec, plan, reporter)
    fit = fitting.build(spec, prepared, reporter, devices)
    check_fit_memory(spec, fit, reporter)  # a warning before a run that will not fit
    faults.point("built")
    recipe = fitting.phases(spec, fit.backbone)
    if plan.kind == "evaluate":
        stopped = plan.stopped_by_user
        _load_final_weights(run, spec, fit, recipe, reporter)
    else:
        run.update_status(phase="training")
        outcome = fitting.fit_phases(run, spec, fit, recipe, reporter, plan)
        if outcome.diverged:
            _after_divergence(run, spec, fit, recipe, outcome, reporter)
        stopped = outcome.stopped
        _keep_final_weights(run, fit, reporter, stopped)
    best, _ = fitting.best_epoch(run, fit.monitor)
    metrics = _evaluate_and_save(run, spec, fit, prepared, fit.images, reporter)
    env = run.read_json("env.json", {})
    env["wall_seconds"] = round(time.time() - started, 2)
    run.write_json("env.json", env)
    run.set_status(STATUS_STOPPED if stopped else STATUS_FINISHED, best_epoch=best)
    _remove_leftovers(run, len(recipe))
    return RunResult(run.path, metrics, run.history(), stopped, best)


def _without_lost_start(spec: ExperimentSpec, plan: ResumePlan,
                        reporter: Reporter) -> ExperimentSpec:
    """A resumed run whose ``training.init_from_run`` folder is gone goes on without it.

    The run's own kept weights and backups carry on from where it stopped; only a fresh run
    insists on the folder it starts from (``spec.json`` keeps the key as it was).
    """
    start = spec.training.init_from_run
    if not (plan.resumed and start) or (Path(start).expanduser() / "model.keras").is_file():
        return spec
    reporter.warning(f"training.init_from_run: {start} no longer holds model.keras; the "
                     f"resumed run goes on from its own saved weights")
    return replace(spec, training=replace(spec.training, init_from_run=None))


def _remove_leftovers(run: RunFolder, n_phases: int) -> None:
    """Delete what only an unfinished run needs (kept weights, phase markers, backups).

    The last phase's backup is kept as ``extend/`` (what ``ftstudio extend`` continues from).
    """
    keep_extend_state(run, n_phases - 1)
    for name in LEFTOVERS:
        run.file(name).unlink(missing_ok=True)
    for i in range(n_phases):
        phase_marker(run, i).unlink(missing_ok=True)
    shutil.rmtree(run.backup_dir, ignore_errors=True)
    shutil.rmtree(run.file("cache"), ignore_errors=True)  # large feature caches (feature_store)


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


def _keep_final_weights(run: RunFolder, fit: fitting.Fit, reporter: Reporter,
                        stopped: bool) -> None:
    """Restore the best epoch's weights and keep them until the run is finished.

    From here on a resumed run redoes only the evaluation and the saving.
    """
    from ftstudio.engine.callbacks import load_weights_npz, save_weights_npz

    if run.file(BEST_WEIGHTS).is_file():
        epoch, value = fitting.best_epoch(run, fit.monitor)
        load_weights_npz(fit.model, run.file(BEST_WEIGHTS))
        reporter.status(f"Restored the best weights (epoch {epoch}, {fit.monitor} "
                        f"{value:.4g})")
    save_weights_npz(fit.model, run.file(FINAL_WEIGHTS))
    run.update_status(phase="evaluating", stopped_by_user=stopped)


def _load_final_weights(run: RunFolder, spec: ExperimentSpec, fit: fitting.Fit,
                        recipe: list[fitting.Phase], reporter: Reporter) -> None:
    """A resumed run whose fit had finished: the model as the fit left it."""
    from ftstudio.engine.callbacks import load_weights_npz

    fitting.prepare_last_phase(spec, fit, recipe)
    load_weights_npz(fit.model, run.file(FINAL_WEIGHTS))
    run.update_status(phase="evaluating")
    reporter.status("Loaded the trained weights kept by the interrupted run")


def _after_divergence(run: RunFolder, spec: ExperimentSpec, fit: fitting.Fit,
                      recipe: list[fitting.Phase], outcome: fitting.FitOutcome,
                      reporter: Reporter) -> None:
    """Keep the last good weights (and save the best of them as the run's model), then fail.

    Raises:
        FtStudioError: always, saying where it diverged, what is kept and what to change.
    """
    from ftstudio.engine.callbacks import load_weights_npz

    good = fitting.keep_last_good(run, fit, recipe, outcome)
    lr = spec.training.learning_rate
    change = (f"lower training.learning_rate (now {lr:g}) or set "
              f"training.gradient_clip_norm")
    best, value = fitting.best_epoch(run, fit.monitor, before=good)
    kept = run.file(BEST_WEIGHTS) if run.file(BEST_WEIGHTS).is_file() else \
        run.file(LAST_GOOD_WEIGHTS)
    if good and kept.is_file():
        load_weights_npz(fit.model, kept)
        reporter.status("Saving the last good weights…")
        _evaluate_and_save(run, spec, fit, fit.prepared, fit.images, reporter, final=False)
        which = (f"epoch {best}, {fit.monitor} {value:.4g}" if kept.name == BEST_WEIGHTS
                 and best else f"epoch {good}")
        message = (f"training diverged at {outcome.diverged}: {outcome.divergence}. The best "
                   f"weights before it ({which}) are kept in {run.model_path} with their "
                   f"scores; {change}, then --resume continues after epoch {good}")
    else:
        message = (f"training diverged at {outcome.diverged}: {outcome.divergence}, before "
                   f"any epoch finished, so there are no good weights to keep; {change} and "
                   f"train again (--resume with the new settings restarts this run)")
    run.set_status(STATUS_DIVERGED, message=message, diverged_at=outcome.diverged,
                   phase_index=outcome.phase_index, good_epoch=good, best_epoch=best)
    raise FtStudioError(message)


def _evaluate_and_save(run: RunFolder, spec: ExperimentSpec, fit: fitting.Fit,
                       prepared: PreparedData, images: dict[str, Any], reporter: Reporter,
                       final: bool = True) -> dict[str, float]:
    """Evaluate the model as it is, write the results, the model and (final) the export.

    Every file is written atomically and the phase is recorded first, so a run killed here
    redoes only this step when resumed.

    Returns:
        The flat metrics.
    """
    faults.point("evaluating")
    reporter.status("Evaluating on the validation and test splits…")
    metrics, evaluation, predictions = evaluate_model_chunks(fit.model, prepared, fit.backbone,
                                                             spec, images)
    overflowed = sorted(k for k, v in metrics.items() if k.endswith("loss")
                        and not math.isfinite(v))
    if overflowed:
        reporter.warning(f"{', '.join(overflowed)} overflowed (not a number): the model's "
                         f"outputs are out of range; lower training.learning_rate and retrain")
    run.write_json("metrics.json", metrics)
    run.write_json("evaluation.json", evaluation)
    write_predictions(run.file("predictions.csv"), predictions)  # chunk by chunk
    run.update_status(phase="saving")
    faults.point("saving")
    reporter.status("Saving the model…")
    if fit.backbone.preprocessor is not None:
        save_text_preprocessor(fit.backbone, run.file(PREPROCESSOR_DIR))
    save_run_model(run, fit.model)
    from ftstudio.engine.baseline import record_baseline  # before vs after (metrics.json)

    if prepared.data.stream is None:  # streamed data: no pass holding every example's features
        metrics.update(record_baseline(run, spec, prepared, fit.backbone, images, reporter))
    if final and (spec.export.dir or any(fmt != "keras" for fmt in spec.export.formats)):
        faults.point("export")
        export_after_training(run.path, spec.export, reporter)
    return metrics
