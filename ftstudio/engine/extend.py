"""Extending a finished run: ``extend_run(run, epochs)`` trains it N more epochs, in place.

A finished (or user-stopped) run keeps its last phase's last backup as ``extend/phase<i>/``
(:func:`ftstudio.engine.resume.keep_extend_state`): the weights, the optimizer's variables
(moments, step count) and the random state of its last epoch. Extending puts that backup back,
raises ``training.epochs`` in the run's ``spec.json`` by N and lets the resume machinery of
:mod:`ftstudio.engine.training` continue after the last epoch: the same data order, the same
callbacks, ``history.csv`` appended, the best epoch chosen over all epochs, then the metrics,
the model and the exports rewritten. A kill during the extension is continued by
``ftstudio train --resume`` like any interrupted run.

The learning-rate schedule is defined over the *new* total: the optimizer's step count carries
on, so a constant rate continues exactly (the extended run ends with the weights of one
uninterrupted run of the same total), while a decaying schedule (cosine, exponential with
warm-up…) is re-stretched: the rate jumps to where the longer schedule would be at this step
and decays to its end over the new epochs. Warm-up is a share of the new total, so it is not
repeated once its steps are behind.

Standard library at import time; the checks need no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.engine.resume import BEST_WEIGHTS, EXTEND_STATE, phase_marker
from ftstudio.engine.runs import (
    STATUS_FINISHED,
    STATUS_RUNNING,
    STATUS_STOPPED,
    RunFolder,
    atomic_write_text,
    backup_epoch,
)
from ftstudio.errors import RunError
from ftstudio.spec import ExperimentSpec

if TYPE_CHECKING:
    from ftstudio.engine.training import RunResult

__all__ = ["ExtensionPlan", "extend_run", "plan_extension"]

MAX_EXTRA_EPOCHS = 10_000


@dataclasses.dataclass
class ExtensionPlan:
    """What an extension does: the run's spec with the new total, and where it starts."""

    spec: ExperimentSpec
    phase_index: int
    done: int
    state: Path

    @property
    def total(self) -> int:
        """The epochs the run will have when the extension ends."""
        return self.spec.training.epochs


def extend_run(run_dir: str | Path, epochs: int,
               reporter: Reporter | None = None) -> RunResult:
    """Train a finished run ``epochs`` more epochs from its last state, into the same folder.

    Args:
        run_dir: the run folder (finished, or stopped by the user).
        epochs: how many epochs to add (at least 1).
        reporter: progress sink; stop and pause work as in training.

    Returns:
        The run's result after the extension (metrics re-evaluated, history of all epochs).

    Raises:
        RunError: the folder is in use, unfinished, diverged, ended by early stopping, or
            has no kept state (finished before ftstudio kept it); nothing is changed then.
    """
    from ftstudio.engine.training import train

    reporter = reporter or BaseReporter()
    run = RunFolder(Path(run_dir))
    run.lock()
    try:
        plan = plan_extension(run, epochs)
        reporter.status(f"Extending {run.path.name} by {epochs} epoch"
                        f"{'s' if epochs != 1 else ''}: epochs {plan.done + 1}–{plan.total}, "
                        f"from the weights and optimizer state of epoch {plan.done}")
        _restore_state(run, plan)
    finally:
        run.unlock()
    return train(plan.spec, reporter, out_dir=run.path, resume=True)


def plan_extension(run: RunFolder, epochs: int) -> ExtensionPlan:
    """Check that ``run`` can be extended by ``epochs`` and say how (nothing is written).

    Raises:
        RunError: see :func:`extend_run`.
    """
    name = run.path.name
    if not 1 <= epochs <= MAX_EXTRA_EPOCHS:
        raise RunError(f"extend by 1 to {MAX_EXTRA_EPOCHS} epochs, not {epochs}")
    if not run.file("spec.json").is_file():
        raise RunError(f"{run.path} holds no run to extend")
    record = run.recorded_status()
    state = record.get("status")
    if state not in (STATUS_FINISHED, STATUS_STOPPED):
        hint = ("continue it with --resume first" if state in (STATUS_RUNNING, None)
                else "only a finished run can be extended")
        raise RunError(f"{name} is {run.describe_state()}: {hint}")
    kept = sorted(run.file(EXTEND_STATE).glob("phase*"))
    if not kept or backup_epoch(kept[-1]) is None:
        raise RunError(f"{name} kept no state to continue from (it finished before ftstudio "
                       f"kept one, or stopped before its last phase); train it again with "
                       f"more epochs")
    spec = ExperimentSpec.from_dict(run.read_json("spec.json"))
    done = int(backup_epoch(kept[-1]) or 0)
    t = spec.training
    if state == STATUS_FINISHED and done < t.epochs and t.early_stopping_patience:
        raise RunError(f"{name} was ended by early stopping after epoch {done} (patience "
                       f"{t.early_stopping_patience}): more epochs would stop at once; train "
                       f"again with a larger training.early_stopping_patience")
    new = dataclasses.replace(spec, training=dataclasses.replace(t, epochs=done + epochs))
    return ExtensionPlan(new, int(kept[-1].name.removeprefix("phase")), done, kept[-1])


def _restore_state(run: RunFolder, plan: ExtensionPlan) -> None:
    """Put the kept state back where an interrupted run's resume finds it.

    The run's ``spec.json`` gets the new total; its last phase's backup comes back; each
    earlier phase gets a (done) marker, and ``best_weights.npz`` the saved model's weights
    (the best epoch so far, which a new epoch must beat). From here on the run reads as
    interrupted: a kill leaves it for ``--resume``.
    """
    atomic_write_text(run.file("spec.json"), plan.spec.to_json() + "\n")
    _write_kept_weights(run, plan)
    run.backup_dir.mkdir(parents=True, exist_ok=True)
    target = run.backup_dir / plan.state.name
    shutil.rmtree(target, ignore_errors=True)
    plan.state.replace(target)
    shutil.rmtree(run.file(EXTEND_STATE), ignore_errors=True)
    run.set_status(STATUS_RUNNING, phase="preparing", resumed=True,
                   extending_from=plan.done)


def _write_kept_weights(run: RunFolder, plan: ExtensionPlan) -> None:
    """The best weights so far and the earlier phases' markers, from the run's model."""
    targets = [phase_marker(run, i) for i in range(plan.phase_index)]
    if _has_best(run, plan.spec.training.monitor):
        targets.append(run.file(BEST_WEIGHTS))
    if not targets:
        return
    from ftstudio.engine.artifacts import load_run_model
    from ftstudio.engine.callbacks import save_weights_npz

    model = load_run_model(run)
    for path in targets:
        save_weights_npz(model, path)


def _has_best(run: RunFolder, monitor: str) -> bool:
    """Whether the run chose a best epoch (then its ``model.keras`` holds that epoch)."""
    keys = (monitor, monitor.removeprefix("val_"))
    return any(math.isfinite(row.get(key, math.nan)) for row in run.history() for key in keys)
