"""Hyper-parameter sweeps: Optuna's TPE over a spec's settings, one trial at a time.

Each trial is a whole run (:func:`ftstudio.engine.training.train`) in its own folder under the
sweep folder, so any trial can be opened, evaluated or exported like any run. Bad trials are
pruned by epoch: after every epoch the trial reports its monitored value to Optuna (median
pruner) and a pruned trial stops after its current batch, keeping what it learned (its run
folder says ``stopped``). Trials skip the linear-probe baseline (it would be fitted again for
every trial) and the spec's exports.

The sweep folder holds ``spec.json`` (the base spec), ``space.json`` (what is searched),
``trial-000/ …`` (the runs), ``results.csv`` and ``results.json`` (one row per trial, rewritten
after each), ``objective-<parameter>.png`` (the objective against each parameter) and
``best_spec.json`` (the base spec with the best trial's values: "use best").

A search space maps a spec key to a range or a list: ``{"training.learning_rate": {"low":
1e-4, "high": 1e-1, "log": true}, "training.batch_size": {"choices": [16, 32]},
"freeze.last_n": {"low": 0, "high": 4, "int": true}}``. Searching ``freeze.last_n`` sets
``freeze.mode`` to ``last_n`` (the freezing depth).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import CancelledError, FtStudioError, RunError, SpecError
from ftstudio.spec import ExperimentSpec, ExportSpec

__all__ = ["SweepResult", "TrialRow", "apply_params", "default_space", "parse_space",
           "run_sweep", "write_best_spec"]

SEARCHABLE = ("training.learning_rate", "training.batch_size", "training.weight_decay",
              "training.epochs", "head.dropout", "freeze.last_n", "freeze.head_first_epochs",
              "freeze.unfreeze_lr_factor", "backbone.lora_rank", "backbone.sequence_length")
"""The spec keys a sweep may search."""


@dataclass
class TrialRow:
    """One trial of a sweep, as the results table holds it."""

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    run_dir: str
    epochs: int = 0
    seconds: float = 0.0
    message: str = ""


@dataclass
class SweepResult:
    """A finished (or stopped) sweep."""

    sweep_dir: Path
    monitor: str
    direction: str
    trials: list[TrialRow] = field(default_factory=list)
    best: TrialRow | None = None
    best_spec: Path | None = None
    plots: list[Path] = field(default_factory=list)


def default_space(spec: ExperimentSpec) -> dict[str, dict[str, Any]]:
    """The search space used without ``--space``: what suits the spec's model.

    The learning rate a decade either side of the spec's, batch sizes around it, dropout,
    and with a backbone the freezing depth, plus the LoRA rank when the backbone offers it.
    """
    t = spec.training
    sizes = sorted({max(1, t.batch_size // 2), t.batch_size, t.batch_size * 2})
    space: dict[str, dict[str, Any]] = {
        "training.learning_rate": {"low": t.learning_rate / 10, "high": t.learning_rate * 10,
                                   "log": True},
        "training.batch_size": {"choices": sizes},
        "head.dropout": {"low": 0.0, "high": 0.5},
    }
    if spec.backbone.source != "none":
        space["freeze.last_n"] = {"low": 0, "high": 6, "int": True}
        if hasattr(spec.backbone, "lora_rank") and spec.modality == "text":
            space["backbone.lora_rank"] = {"choices": [0, 4, 8, 16]}
    return space


def parse_space(data: Any, spec: ExperimentSpec) -> dict[str, dict[str, Any]]:
    """Check a search space (``sweep.json``) against the spec.

    Raises:
        SpecError: a key is not searchable or not in the spec, or a range is malformed.
    """
    if not isinstance(data, dict) or not data:
        raise SpecError("the search space must be a JSON object of spec key -> range")
    space: dict[str, dict[str, Any]] = {}
    for key, rng in data.items():
        section, _, name = str(key).partition(".")
        if key not in SEARCHABLE or not hasattr(getattr(spec, section, None), name):
            raise SpecError(f"the sweep cannot search {key!r}; searchable keys are: "
                            f"{', '.join(k for k in SEARCHABLE if _has_key(spec, k))}")
        if isinstance(rng, list):
            rng = {"choices": rng}
        ok = isinstance(rng, dict) and (
            (isinstance(rng.get("choices"), list) and rng["choices"]) or
            (isinstance(rng.get("low"), int | float) and isinstance(rng.get("high"), int | float)
             and rng["low"] <= rng["high"] and (not rng.get("log") or rng["low"] > 0)))
        if not ok:
            raise SpecError(f"the range of {key!r} must be {{\"low\": a, \"high\": b}} (a <= b, "
                            f"a > 0 with \"log\") or {{\"choices\": [...]}}")
        space[str(key)] = dict(rng)
    return space


def _has_key(spec: ExperimentSpec, key: str) -> bool:
    section, _, name = key.partition(".")
    return hasattr(getattr(spec, section, None), name)


def apply_params(spec: ExperimentSpec, params: dict[str, Any]) -> ExperimentSpec:
    """The spec with ``params`` (spec key -> value) set, checked by the spec parser."""
    data = spec.to_dict()
    for key, value in params.items():
        section, _, name = key.partition(".")
        data[section][name] = value
        if key == "freeze.last_n":
            data["freeze"]["mode"] = "last_n"
    return ExperimentSpec.from_dict(data)


def _suggest(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, rng in space.items():
        if "choices" in rng:
            params[key] = trial.suggest_categorical(key, list(rng["choices"]))
        elif rng.get("int") or (isinstance(rng["low"], int) and isinstance(rng["high"], int)
                                and not rng.get("log")):
            params[key] = trial.suggest_int(key, int(rng["low"]), int(rng["high"]),
                                            log=bool(rng.get("log")))
        else:
            params[key] = trial.suggest_float(key, float(rng["low"]), float(rng["high"]),
                                              log=bool(rng.get("log")))
    return params


class _TrialReporter(BaseReporter):
    """Relays a trial's reports and asks to stop when Optuna prunes it (or the user stops)."""

    def __init__(self, outer: Reporter, trial: Any, monitor: str, label: str) -> None:
        super().__init__()
        self.outer, self.trial, self.monitor, self.label = outer, trial, monitor, label
        self.pruned = False

    def status(self, text: str) -> None:  # noqa: D102
        self.outer.status(f"{self.label}: {text}")

    def warning(self, text: str) -> None:  # noqa: D102
        self.outer.warning(f"{self.label}: {text}")

    def train_begin(self, info: dict[str, Any]) -> None:  # noqa: D102
        self.outer.train_begin(info)

    def batch_end(self, step: int, logs: dict[str, float]) -> None:  # noqa: D102
        self.outer.batch_end(step, logs)

    def epoch_end(self, epoch: int, logs: dict[str, float]) -> None:  # noqa: D102
        self.outer.epoch_end(epoch, logs)
        value = logs.get(self.monitor, logs.get(self.monitor.removeprefix("val_")))
        if value is not None and math.isfinite(value):
            self.trial.report(float(value), epoch)
            if self.trial.should_prune():
                self.pruned = True
                self.outer.status(f"{self.label}: pruned after epoch {epoch} "
                                  f"({self.monitor} {value:.4g})")

    def train_end(self, logs: dict[str, Any]) -> None:  # noqa: D102
        self.outer.train_end(logs)

    def should_stop(self) -> bool:  # noqa: D102
        return self.pruned or self.outer.should_stop()


def _objective(history: list[dict[str, float]], monitor: str, lower: bool) -> float | None:
    values = [row.get(monitor, row.get(monitor.removeprefix("val_"), math.nan))
              for row in history]
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return None
    return min(values) if lower else max(values)


def run_sweep(spec: ExperimentSpec, trials: int, space: dict[str, Any] | None = None,
              reporter: Reporter | None = None, out_dir: str | Path | None = None,
              runs_root: str | Path | None = None) -> SweepResult:
    """Search ``space`` with ``trials`` runs of ``spec`` (TPE, pruned by epoch).

    Args:
        spec: the base experiment (paths resolved).
        trials: how many trials to run (one at a time).
        space: spec key -> range (see the module); default :func:`default_space`.
        reporter: told each trial's progress; ``should_stop()`` ends the sweep after the
            current trial stops.
        out_dir: the sweep folder (default ``<runs root>/<time>-sweep-<name>``).
        runs_root: where a default sweep folder goes.

    Returns:
        Every trial, the best one and the files written.
    """
    import optuna

    from ftstudio.engine.fitting import lower_is_better
    from ftstudio.engine.runs import RunFolder

    if trials < 1:
        raise SpecError("a sweep needs at least one trial (--trials)")
    reporter = reporter or BaseReporter()
    checked = parse_space(space if space is not None else default_space(spec), spec)
    folder = Path(out_dir) if out_dir else \
        RunFolder.create(f"sweep-{spec.name}", Path(runs_root) if runs_root else None).path
    if (folder / "results.json").is_file():
        raise RunError(f"{folder} already holds a sweep; pick another folder (--out)")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spec.json").write_text(spec.to_json() + "\n", encoding="utf-8")
    (folder / "space.json").write_text(json.dumps(checked, indent=2) + "\n", encoding="utf-8")
    monitor = spec.training.monitor
    lower = lower_is_better(monitor)
    result = SweepResult(folder, monitor, "minimize" if lower else "maximize")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="minimize" if lower else "maximize",
        sampler=optuna.samplers.TPESampler(seed=spec.training.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0))

    def objective(trial: Any) -> float:
        return _run_trial(trial, spec, checked, trials, folder, result, reporter, lower)

    study.optimize(objective, n_trials=trials, catch=(FtStudioError,))
    _finish(result, spec)
    return result


def _run_trial(trial: Any, spec: ExperimentSpec, space: dict[str, dict[str, Any]],
               trials: int, folder: Path, result: SweepResult, reporter: Reporter,
               lower: bool) -> float:
    """Run one trial as a run folder; record its row; return its objective (or prune)."""
    import optuna

    from ftstudio.engine.training import train

    params = _suggest(trial, space)
    label = f"Trial {trial.number + 1}/{trials}"
    run_dir = folder / f"trial-{trial.number:03d}"
    row = TrialRow(trial.number, "failed", None, params, str(run_dir))
    result.trials.append(row)
    started = time.perf_counter()
    watcher = _TrialReporter(reporter, trial, spec.training.monitor, label)
    shown = ", ".join(f"{k.split('.')[-1]} {v:.3g}" if isinstance(v, float) else
                      f"{k.split('.')[-1]} {v}" for k, v in params.items())
    reporter.status(f"{label}: {shown}")
    try:
        trial_spec = apply_params(spec, params)
        trial_spec.name = f"{spec.name}-trial-{trial.number:03d}"
        trial_spec.training.baseline = False
        trial_spec.export = ExportSpec()  # trials are compared, not shipped: no exports
        run = train(trial_spec, watcher, out_dir=run_dir)
        row.epochs = len(run.history)
        row.value = _objective(run.history, spec.training.monitor, lower)
    except CancelledError as exc:
        row.message = str(exc)
        trial.study.stop()
        raise optuna.TrialPruned(str(exc)) from exc
    except FtStudioError as exc:
        row.message = str(exc)
        reporter.warning(f"{label} failed: {exc}")
        raise
    finally:
        row.seconds = round(time.perf_counter() - started, 2)
        _write_results(result)
    if reporter.should_stop():
        trial.study.stop()
    if watcher.pruned or run.stopped_by_user or row.value is None:
        row.state = "pruned" if watcher.pruned else "stopped"
        _write_results(result)
        raise optuna.TrialPruned(f"{label} {row.state}")
    row.state = "complete"
    _write_results(result)
    return row.value


def _write_results(result: SweepResult) -> None:
    """``results.json`` and ``results.csv``: one row per trial, parameters as columns."""
    rows = [asdict(t) for t in result.trials]
    (result.sweep_dir / "results.json").write_text(
        json.dumps({"monitor": result.monitor, "direction": result.direction, "trials": rows},
                   indent=2) + "\n", encoding="utf-8")
    keys = sorted({k for t in result.trials for k in t.params})
    lines = [",".join(["trial", "state", result.monitor, "epochs", "seconds", *keys, "run"])]
    for t in result.trials:
        value = "" if t.value is None else f"{t.value:.6g}"
        cells = [str(t.number), t.state, value, str(t.epochs), f"{t.seconds:g}",
                 *(_cell(t.params.get(k)) for k in keys), t.run_dir]
        lines.append(",".join(cells))
    (result.sweep_dir / "results.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _finish(result: SweepResult, spec: ExperimentSpec) -> None:
    """Pick the best complete trial, write its spec and the plots."""
    done = [t for t in result.trials if t.state == "complete" and t.value is not None]
    if done:
        pick = min if result.direction == "minimize" else max
        result.best = pick(done, key=lambda t: float(t.value or 0.0))
        result.best_spec = write_best_spec(result, spec, result.sweep_dir / "best_spec.json")
    result.plots = _plot(result)
    _write_results(result)


def write_best_spec(result: SweepResult, spec: ExperimentSpec, path: str | Path) -> Path:
    """Write ``spec`` with the best trial's values ("use best") to ``path``.

    Raises:
        SpecError: the sweep has no complete trial.
    """
    if result.best is None:
        raise SpecError("the sweep has no complete trial to take the settings of")
    best = apply_params(spec, result.best.params)
    best.name = f"{spec.name}-best"
    target = Path(path)
    best.save(target)
    return target


def _plot(result: SweepResult) -> list[Path]:
    """``objective-<parameter>.png``: the objective of every scored trial against each value."""
    from ftstudio.engine.report_charts import scatter_png

    scored = [t for t in result.trials if t.value is not None]
    written: list[Path] = []
    if not scored:
        return written
    for key in sorted({k for t in scored for k in t.params}):
        pairs = [(t.params[key], float(t.value or 0.0)) for t in scored
                 if isinstance(t.params.get(key), int | float)]
        if not pairs:
            continue
        log = key == "training.learning_rate" or all(x > 0 for x, _ in pairs) and \
            max(x for x, _ in pairs) / min(x for x, _ in pairs) >= 100
        xs = [math.log10(x) if log else float(x) for x, _ in pairs]
        name = key.split(".")[-1]
        png = scatter_png(xs, [y for _, y in pairs], f"{result.monitor} vs {name}",
                          f"log10 {name}" if log else name, result.monitor)
        path = result.sweep_dir / f"objective-{name}.png"
        path.write_bytes(png)
        written.append(path)
    return written
