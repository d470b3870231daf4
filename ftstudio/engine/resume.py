"""Opening a run folder for training: a new run, or a resumed one that knows where it stopped.

A run's files say which phase it stopped in, and :func:`open_run` turns them into a
:class:`ResumePlan`:

``train``
    the fit was under way: continue after the last epoch the backup holds (each finished
    phase of the two-phase recipe left its weights in ``phase<i>.done.npz``);
``evaluate``
    the fit had finished (``final_weights.npz`` is kept until the run is done): redo only the
    evaluation, the saving and the export, from those weights;
``diverged``
    the loss exploded: continue from the last good epoch with the *changed* settings (the
    same settings would diverge again, so they are refused with what to change);
``fresh``
    a new run (or one that stopped before its first epoch ended: it starts from epoch 1).

A resumed run must use the spec it was started with (a diverged one may change its training
settings), so that it ends where an uninterrupted run would. Standard library only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftstudio.engine.runs import (
    STATUS_DIVERGED,
    STATUS_FINISHED,
    STATUS_STOPPED,
    RunFolder,
    atomic_write_text,
    backup_epoch,
    find_resumable,
    history_text,
    read_history_rows,
)
from ftstudio.errors import RunError, SpecError
from ftstudio.spec import ExperimentSpec

__all__ = ["BEST_WEIGHTS", "EXTEND_STATE", "FINAL_WEIGHTS", "LAST_GOOD_WEIGHTS", "ResumePlan",
           "keep_extend_state", "open_run", "phase_marker", "trim_history"]

BEST_WEIGHTS = "best_weights.npz"
"""The best epoch's weights while a run trains (removed when it ends)."""
FINAL_WEIGHTS = "final_weights.npz"
"""The trained weights to evaluate and save, kept until the run is finished."""
LAST_GOOD_WEIGHTS = "last_good_weights.npz"
"""The weights of the last epoch before a divergence (a diverged run resumes from them)."""
LEFTOVERS = (BEST_WEIGHTS, FINAL_WEIGHTS, LAST_GOOD_WEIGHTS)
EXTEND_STATE = "extend"
"""What a finished run keeps for ``ftstudio extend``: its last phase's last backup (weights,
optimizer variables and random state of the last epoch) as ``extend/phase<i>/``."""

_FREE_TO_CHANGE = ("description", "export.")
"""Spec keys a resumed run may change without changing what it computes."""
_DIVERGENCE_REMEDIES = ("training.", "freeze.unfreeze_lr_factor")


def phase_marker(run: RunFolder, index: int) -> Path:
    """The weights file a finished phase of the recipe leaves (``phase<i>.done.npz``)."""
    return run.file(f"phase{index}.done.npz")


@dataclass
class ResumePlan:
    """Where an opened run starts.

    Attributes:
        kind: ``fresh``, ``train``, ``evaluate`` or ``diverged`` (see the module).
        message: what to tell the user ("" for a fresh run).
        stopped_by_user: the fit had been stopped by the user (``evaluate``).
        phase_index: the recipe phase that diverged (``diverged``).
        good_epoch: the epochs kept before the divergence (``diverged``).
    """

    kind: str = "fresh"
    message: str = ""
    stopped_by_user: bool = False
    phase_index: int = 0
    good_epoch: int = 0

    @property
    def resumed(self) -> bool:
        """Whether the run continues an earlier one."""
        return self.kind != "fresh"


def open_run(spec: ExperimentSpec, out_dir: str | Path | None, resume: bool,
             runs_root: str | Path | None) -> tuple[RunFolder, ResumePlan]:
    """Open (or create) the run folder to write, as its one writer, and plan where to start.

    Raises:
        RunError: the folder is in use by another process, already holds a run (without
            ``resume``), or cannot be resumed (finished, another spec, same settings after
            a divergence); nothing in the folder is changed then.
    """
    if resume:
        return _open_to_resume(spec, out_dir, runs_root)
    if out_dir:
        run = RunFolder(Path(out_dir))
        run.lock()
        if _holds_run(run.path):
            run.unlock()
            raise RunError(f"{run.path} already holds a run; choose another --out, or "
                           f"--resume it")
        return run, ResumePlan()
    run = RunFolder.create(spec.name, Path(runs_root) if runs_root else None)
    run.lock()
    return run, ResumePlan()


def _holds_run(path: Path) -> bool:
    return any((path / name).exists() for name in ("spec.json", "status.json", "model.keras",
                                                   "backup"))


def _open_to_resume(spec: ExperimentSpec, out_dir: str | Path | None,
                    runs_root: str | Path | None) -> tuple[RunFolder, ResumePlan]:
    target = Path(out_dir) if out_dir else find_resumable(spec.name, runs_root)
    if target is None:
        raise RunError(f"nothing to resume: no unfinished run of '{spec.name}'; train "
                       f"without --resume")
    if not (target / "spec.json").is_file():
        raise RunError(f"nothing to resume in {target}: it holds no run; train without "
                       f"--resume")
    run = RunFolder(target)
    run.lock()
    try:
        plan = _plan(run, spec)
    except BaseException:
        run.unlock()
        raise
    return run, plan


def _plan(run: RunFolder, spec: ExperimentSpec) -> ResumePlan:
    """Decide where a resumed run starts; refuse what cannot end as an uninterrupted run."""
    record = run.recorded_status()
    state = record.get("status")
    final = run.file(FINAL_WEIGHTS).is_file()
    if state in (STATUS_FINISHED, STATUS_STOPPED):
        raise RunError(f"{run.path} has {state}: there is no backup to resume from; train "
                       f"without --resume (into a new --out)")
    changed = _spec_changes(run, spec)
    name = run.path.name
    if state == STATUS_DIVERGED and not final:
        return _plan_after_divergence(run, spec, record, changed)
    _refuse_changes(run, changed)
    if final:
        return ResumePlan("evaluate", f"Resuming {name} ({run.describe_state()}): training had "
                          f"finished, so only evaluating and saving are redone, from its "
                          f"final weights", bool(record.get("stopped_by_user")))
    done = _epochs_done(run)
    if not done:
        return ResumePlan("train", f"Resuming {name} ({run.describe_state()}): no epoch had "
                          f"finished, so training starts from epoch 1")
    return ResumePlan("train", f"Resuming {name} ({run.describe_state()}): continuing after "
                      f"epoch {done} of {spec.training.epochs}")


def _epochs_done(run: RunFolder) -> int:
    """The epochs a run's backups hold (the latest phase's backup wins)."""
    done = 0
    if run.backup_dir.is_dir():
        for folder in run.backup_dir.iterdir():
            done = max(done, backup_epoch(folder) or 0)
    return done


def _plan_after_divergence(run: RunFolder, spec: ExperimentSpec, record: dict[str, Any],
                           changed: list[str]) -> ResumePlan:
    where = record.get("diverged_at", "?")
    if not any(key.startswith(_DIVERGENCE_REMEDIES) for key in changed):
        lr = spec.training.learning_rate
        raise RunError(f"{run.path.name} diverged at {where} with these settings, and resuming "
                       f"with the same settings would diverge again: lower "
                       f"training.learning_rate (now {lr:g}; e.g. --set "
                       f"training.learning_rate={lr / 10:g}) or set "
                       f"training.gradient_clip_norm (e.g. --set "
                       f"training.gradient_clip_norm=1), then --resume")
    others = [k for k in changed if not k.startswith(_DIVERGENCE_REMEDIES + _FREE_TO_CHANGE)]
    _refuse_changes(run, others)
    good = int(record.get("good_epoch", 0))
    start = (f"continuing after epoch {good}" if good else
             "restarting from epoch 1 (no epoch had finished before the divergence)")
    return ResumePlan("diverged", f"Resuming {run.path.name} (diverged at {where}) with the "
                      f"changed settings ({', '.join(changed)}): {start}; the optimizer's "
                      f"state starts afresh", phase_index=int(record.get("phase_index", 0)),
                      good_epoch=good)


def _spec_changes(run: RunFolder, spec: ExperimentSpec) -> list[str]:
    """The dotted keys whose values differ between the run's ``spec.json`` and ``spec``."""
    try:
        old = ExperimentSpec.from_dict(run.read_json("spec.json")).to_dict()
    except (SpecError, RunError, json.JSONDecodeError) as exc:
        raise RunError(f"cannot resume {run.path}: its spec.json is unreadable ({exc}); "
                       f"train again without --resume") from exc
    return sorted(_differences(old, spec.to_dict(), ""))


def _differences(old: Any, new: Any, prefix: str) -> set[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        keys = set(old) | set(new)
        out: set[str] = set()
        for key in keys:
            out |= _differences(old.get(key), new.get(key), f"{prefix}{key}.")
        return out
    return set() if old == new else {prefix.rstrip(".")}


def _refuse_changes(run: RunFolder, changed: list[str]) -> None:
    real = [k for k in changed if not k.startswith(_FREE_TO_CHANGE)]
    if real:
        raise RunError(f"--resume continues {run.path.name} with the spec it was started with, "
                       f"but this spec differs in {', '.join(real[:5])}; resume with "
                       f"{run.file('spec.json')}, or train into a new --out")


def keep_extend_state(run: RunFolder, last_phase: int) -> None:
    """Keep the last phase's backup of an ending run as its :data:`EXTEND_STATE` (or none).

    The backup holds the last epoch's weights and optimizer state, which extending the run
    continues from; an earlier state is replaced.
    """
    import shutil

    kept = run.file(EXTEND_STATE)
    shutil.rmtree(kept, ignore_errors=True)
    backup = run.backup_dir / f"phase{last_phase}"
    if (backup / "latest.weights.h5").is_file():
        kept.mkdir(parents=True, exist_ok=True)
        backup.replace(kept / backup.name)


def trim_history(run: RunFolder, keep: int) -> None:
    """Keep only the rows of epochs before ``keep`` in ``history.csv``.

    A kill can land between an epoch's row and its backup, and a diverged epoch leaves a
    row: trimming makes the resumed run log each epoch exactly once.
    """
    path = run.file("history.csv")
    header, rows = read_history_rows(path)
    if not header:
        return
    kept = [row for row in rows if int(row[0]) < keep]
    text = history_text(header, kept)
    try:
        current = path.read_text(encoding="utf-8")
    except OSError:
        current = ""
    if text != current:
        atomic_write_text(path, text)
