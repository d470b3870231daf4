"""Run comparison: several run folders side by side (metrics, histories, spec differences).

:func:`compare_runs` reads what each run folder holds (a stopped or failed run is compared on
what it has; what it lacks is listed), :func:`comparison_table` lays the metrics out as rows,
and :func:`Comparison.to_json` gives everything as plain JSON (``ftstudio compare --json``).
Standard library only: comparing runs needs no TensorFlow.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftstudio.engine.runs import RunFolder
from ftstudio.errors import RunError

__all__ = ["Comparison", "RunRecord", "cell_text", "compare_runs", "comparison_table",
           "flatten_spec", "missing_files", "spec_differences"]

EXPECTED_FILES = ("metrics.json", "evaluation.json", "history.csv", "predictions.csv",
                  "model.keras", "env.json")
"""What a finished run folder holds (besides ``spec.json``), in the order they are reported."""

LOWER_IS_BETTER = ("loss", "mae", "rmse", "ece")
"""Metric names (last part of the key) for which a smaller number is better."""


@dataclass
class RunRecord:
    """One run as the comparison sees it.

    Attributes:
        path: the run folder.
        name: the spec's name (the folder name when it has none).
        status: ``finished`` / ``stopped`` / ``failed`` / ``running`` / ``unknown``.
        metrics: ``metrics.json`` (empty when missing).
        history: ``history.csv`` rows.
        spec: ``spec.json`` as a dict.
        missing: the files of :data:`EXPECTED_FILES` the folder lacks.
    """

    path: str
    name: str
    status: str
    metrics: dict[str, float]
    history: list[dict[str, float]]
    spec: dict[str, Any]
    missing: list[str] = field(default_factory=list)
    label: str = ""
    """A short name for column headers, unique among the runs compared."""


@dataclass
class Comparison:
    """Two or more runs compared.

    Attributes:
        runs: the runs, in the order given.
        metric_keys: every metric key of any run, sorted (``test.*`` first, then ``val.*``,
            then ``baseline.*``).
        differences: ``(spec key, [value of each run])`` for each spec key whose values differ.
    """

    runs: list[RunRecord]
    metric_keys: list[str]
    differences: list[tuple[str, list[Any]]]

    def to_json(self) -> dict[str, Any]:
        """Everything as plain JSON (NaN metrics become ``null``)."""
        return {
            "runs": [{"path": r.path, "name": r.name, "status": r.status, "missing": r.missing,
                      "metrics": {k: _json_number(v) for k, v in r.metrics.items()},
                      "history": [{k: _json_number(v) for k, v in row.items()}
                                  for row in r.history]} for r in self.runs],
            "metrics": [{"key": key, "values": [_json_number(v) for v in values],
                         "best": best} for key, values, best in comparison_table(self)],
            "spec_differences": [{"key": k, "values": v} for k, v in self.differences],
        }


def compare_runs(paths: list[str | Path]) -> Comparison:
    """Read two or more run folders and compare them.

    Raises:
        RunError: fewer than two runs, or a path that is not a run folder.
    """
    if len(paths) < 2:
        raise RunError("give two or more run folders to compare")
    runs = [_read_run(p) for p in paths]
    for run, label in zip(runs, _labels(runs), strict=True):
        run.label = label
    keys = sorted({k for r in runs for k in r.metrics}, key=_metric_order)
    return Comparison(runs, keys, spec_differences([r.spec for r in runs]))


def _labels(runs: list[RunRecord]) -> list[str]:
    """The folder names if they tell the runs apart, else the spec names, else both."""
    for names in ([Path(r.path).name for r in runs], [r.name for r in runs]):
        if len(set(names)) == len(names):
            return names
    return [f"{r.name} ({Path(r.path).parent.name}/{Path(r.path).name})" for r in runs]


def _read_run(path: str | Path) -> RunRecord:
    run = RunFolder.open(path)
    spec = run.read_json("spec.json")
    try:
        metrics = run.metrics()
    except RunError:
        metrics = {}
    return RunRecord(str(run.path), str(spec.get("name") or run.path.name), run.status(),
                     {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))},
                     run.history(), spec, missing_files(run.path))


def missing_files(run_dir: str | Path) -> list[str]:
    """The files a finished run has that ``run_dir`` lacks (``[]`` for a complete run)."""
    folder = Path(run_dir)
    return [name for name in EXPECTED_FILES if not (folder / name).exists()]


def _metric_order(key: str) -> tuple[int, str]:
    order = {"test": 0, "val": 1, "baseline": 2}
    return order.get(key.split(".", 1)[0], 3), key


def comparison_table(comparison: Comparison) -> list[tuple[str, list[float | None], int | None]]:
    """One row per metric: ``(key, value of each run or None, index of the best run or None)``."""
    rows = []
    for key in comparison.metric_keys:
        values = [r.metrics.get(key) for r in comparison.runs]
        finite = [(v, i) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
        best = None
        if len(finite) >= 2:
            lower = key.rsplit(".", 1)[-1] in LOWER_IS_BETTER
            best = (min if lower else max)(finite)[1]
        rows.append((key, values, best))
    return rows


def flatten_spec(data: Any, prefix: str = "") -> dict[str, Any]:
    """A spec dict as dotted keys (``training.epochs``; ``head.outputs[0].task`` in lists)."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten_spec(value, f"{prefix}{key}."))
    elif isinstance(data, list) and any(isinstance(v, dict) for v in data):
        for i, value in enumerate(data):
            out.update(flatten_spec(value, f"{prefix[:-1]}[{i}]."))
    else:
        out[prefix[:-1]] = data
    return out


def spec_differences(specs: list[dict[str, Any]]) -> list[tuple[str, list[Any]]]:
    """The spec keys whose values differ between the specs (missing keys count as ``None``)."""
    flat = [flatten_spec(s) for s in specs]
    keys = sorted({k for f in flat for k in f})
    diffs = []
    for key in keys:
        values = [f.get(key) for f in flat]
        if any(v != values[0] for v in values[1:]):
            diffs.append((key, values))
    return diffs


def _json_number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def cell_text(value: Any) -> str:
    """A metric or spec value as a table cell (``—`` when missing, 4 decimals, JSON lists)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:.4f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)
