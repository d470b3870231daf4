"""The window's evaluation calls: per-example results, try-it, run comparison, the HTML report.

:func:`example_table` only reshapes what :func:`ftstudio.bridge.engine_calls.load_run` read
(no file access), so a page may call it directly; the others run inside a
:class:`~ftstudio.bridge.jobs.Job`. The engine is imported inside the functions; each
returns the plain dataclasses of :mod:`ftstudio.bridge.evaluation_types`.
"""

from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Any

from ftstudio.bridge.evaluation_types import (
    ComparedRun,
    ExampleTable,
    OutputExamples,
    RunComparison,
    TryItOutput,
    TryItResult,
)
from ftstudio.bridge.types import RunDetails

__all__ = ["cell_text", "compare_runs", "example_table", "forget_loaded_runs", "loaded_run",
           "missing_files", "try_it", "write_report"]


# ================================================================ per-example results
def example_table(details: RunDetails) -> ExampleTable:
    """The run's ``predictions.csv`` (already read into ``details``) as typed columns."""
    from ftstudio.engine.examples import parse_examples, to_float

    header, rows = details.predictions
    inputs, outputs = parse_examples(header)
    features = [k for k in inputs if k.startswith("input.")]
    data = details.spec.get("data") or {}
    kind = "image" if data.get("image_dir") else "tabular" if features or \
        data.get("feature_columns") else "text"
    row_label = str(details.evaluation.get("row_label") or "row")

    def column(key: str, default: str = "") -> list[str]:
        i = inputs.get(key, -1)
        return [r[i] if 0 <= i < len(r) else default for r in rows]

    table = ExampleTable(row_label=row_label, kind=kind,
                         splits=column("split", "test"),
                         rows=column("row") if "row" in inputs else column("row_id"),
                         inputs=column("input"), feature_names=[f[6:] for f in features],
                         features=[[r[inputs[f]] for f in features] for r in rows])

    def cells(i: int, as_float: bool = False) -> list[Any]:
        if i < 0:
            return [math.nan if as_float else "" for _ in rows]
        return [to_float(r[i]) if as_float else r[i] for r in rows]

    for out in outputs:
        table.outputs.append(OutputExamples(
            out.name, out.task, out.classes, cells(out.true), cells(out.pred),
            cells(out.loss, True), cells(out.confidence, True),
            [[to_float(r[i]) for i in out.probabilities] for r in rows],
            cells(out.error, True)))
    return table


def missing_files(run_dir: str) -> list[str]:
    """The files a finished run has that ``run_dir`` lacks (quick: file checks only)."""
    from ftstudio.engine.compare import missing_files as missing

    return missing(run_dir)


# ================================================================ try it
_loaded: dict[str, tuple[float, Any]] = {}
_loaded_lock = threading.Lock()


def loaded_run(run_dir: str) -> Any:
    """The run's model, loaded once (again when its ``model.keras`` changes)."""
    from ftstudio.engine import tryit

    model_file = Path(run_dir) / "model.keras"
    stamp = model_file.stat().st_mtime if model_file.is_file() else -1.0
    key = str(Path(run_dir).resolve())
    with _loaded_lock:
        hit = _loaded.get(key)
        if hit is None or hit[0] != stamp:
            _loaded.clear()  # one run at a time: models are large
            _loaded[key] = (stamp, tryit.open_run(run_dir))
        return _loaded[key][1]


def forget_loaded_runs() -> None:
    """Drop the run kept loaded for try-it (frees its memory)."""
    with _loaded_lock:
        _loaded.clear()


def try_it(run_dir: str, *, text: str | None = None, image: str | None = None,
           features: dict[str, float] | None = None) -> TryItResult:
    """Predict one example (a text, an image file or a feature row) with a run's model."""
    from ftstudio.engine import tryit

    started = time.perf_counter()
    answer = tryit.try_example(loaded_run(run_dir), text=text, image=image, features=features)
    outputs = [TryItOutput(name, str(a["task"]), [(str(c), float(p)) for c, p in a.get("top", [])],
                           a.get("value")) for name, a in answer.items()]
    return TryItResult(run_dir, outputs, time.perf_counter() - started)


# ================================================================ compare and report
def compare_runs(run_dirs: list[str]) -> RunComparison:
    """Compare two or more run folders (metrics, histories, spec differences)."""
    from ftstudio.engine.compare import compare_runs as compare
    from ftstudio.engine.compare import comparison_table

    comparison = compare(list(run_dirs))
    runs = [ComparedRun(r.path, r.label, r.name, r.status, list(r.missing), dict(r.metrics),
                        list(r.history)) for r in comparison.runs]
    return RunComparison(runs, comparison_table(comparison), list(comparison.differences))


def cell_text(value: Any) -> str:
    """A metric or spec value as the comparison shows it (``—`` when missing)."""
    from ftstudio.engine.compare import cell_text as text

    return text(value)


def write_report(run_dir: str, out: str | None = None) -> str:
    """Write the run's self-contained HTML report; returns its path."""
    from ftstudio.engine.report import write_report as write

    return str(write(run_dir, out))
