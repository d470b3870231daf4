"""The parity check of an export: the run's test split through the exported files, in a child.

:func:`load_check_data` reads the run's test split as the studio reads it (raw texts, uint8
images at the model's size, float features); :func:`app_outputs` is what the in-app model
predicts on it; :func:`run_check_process` starts ``export_check.py`` in a fresh interpreter
(``python -I -B``, no ftstudio import allowed) that loads every exported file and predicts;
:func:`compare` measures the largest absolute difference and the metric of each side.

numpy at import time; TensorFlow is imported by :func:`app_outputs`.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftstudio.engine.artifacts import LoadedRun, read_splits
from ftstudio.engine.data.streaming import is_streamed, iter_split_inputs
from ftstudio.engine.datasets import load_split_images, prepare_data
from ftstudio.engine.evaluation import class_probabilities, outputs_by_name
from ftstudio.engine.export_formats import Artefact
from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import CancelledError, DataError

CHECK_SCRIPT = Path(__file__).with_name("export_check.py")
"""The child's script, run by path so that it imports nothing of ftstudio."""


@dataclass
class CheckData:
    """The examples every export is checked on, with their targets."""

    split: str
    total: int
    """Examples in the split (``len(x)`` may be fewer: ``max_examples``)."""
    x: np.ndarray
    targets: dict[str, np.ndarray]
    tasks: dict[str, str]


@dataclass
class OutputParity:
    """One output of one export against the in-app model."""

    name: str
    task: str
    max_abs_diff: float
    metric: str
    """``accuracy`` (classification) or ``mae`` (regression), on the check's targets."""
    app: float
    exported: float
    agreement: float | None = None
    """Classification: the fraction of examples where both predict the same class."""


@dataclass
class Parity:
    """How closely an export reproduces the in-app model on the check split."""

    split: str
    examples: int
    total: int
    max_abs_diff: float
    tolerance: float | None
    """None: reported, never failed (quantised files)."""
    passed: bool
    seconds: float
    outputs: list[OutputParity] = field(default_factory=list)


def load_check_data(loaded: LoadedRun, max_examples: int | None = 1000) -> CheckData:
    """The run's test split (its validation split when the test split is empty).

    Raises:
        DataError: the run's data cannot be read, or both splits are empty.
    """
    spec = loaded.spec
    prepared = prepare_data(spec, BaseReporter(), read_splits(loaded.run))
    split = "test" if len(prepared.splits["test"]) else "val"
    idx = prepared.splits[split]
    if not len(idx):
        raise DataError("the run's test and validation splits are empty: nothing to check "
                        "the export on")
    total = len(idx)
    if max_examples is not None and total > max_examples:
        prepared.splits[split] = idx = idx[:max_examples]
    if spec.modality == "image":
        x = load_split_images(prepared, loaded.backbone, split)  # uint8, as exports take
    else:
        if is_streamed(prepared.data):  # a streamed CSV: read back only the checked rows
            x = np.concatenate(list(iter_split_inputs(prepared.data, idx)))
        else:
            x = np.asarray(prepared.data.inputs, dtype=object)[idx]
        x = x.astype(str) if spec.modality == "text" else x.astype(np.float32)
    targets = {o.name: np.asarray(prepared.targets(o.name, split)) for o in spec.head.outputs}
    return CheckData(split, total, x, targets, {o.name: o.task for o in spec.head.outputs})


def app_outputs(loaded: LoadedRun, data: CheckData) -> dict[str, np.ndarray]:
    """What the in-app model predicts on ``data`` (as ``ftstudio predict`` does)."""
    import tensorflow as tf

    x: Any = data.x
    if loaded.spec.modality == "text":
        x = loaded.backbone.preprocessor(tf.constant(data.x))
    elif loaded.spec.modality == "image":
        x = data.x.astype(np.float32)
    names = list(data.tasks)
    return outputs_by_name(loaded.model.predict(x, batch_size=64, verbose=0), names)


def run_check_process(artefacts: list[Artefact], data: CheckData, modality: str,
                      workdir: Path, reporter: Reporter | None = None,
                      timeout: float = 1800.0) -> dict[str, dict[str, Any]]:
    """Load and run every artefact in one fresh child process.

    Returns:
        ``{artefact key: {"outputs": {name: array} | None, "error": str | None,
        "seconds": float}}``.

    Raises:
        CancelledError: the reporter asked to stop (the child is killed).
    """
    reporter = reporter or BaseReporter()
    workdir.mkdir(parents=True, exist_ok=True)
    np.savez(workdir / "inputs.npz", x=data.x)
    manifest = {"modality": modality, "inputs": str(workdir / "inputs.npz"),
                "outputs": str(workdir / "outputs.npz"),
                "results": str(workdir / "results.json"), "output_names": list(data.tasks),
                "checks": [{"key": a.key, "format": a.format, "file": str(a.file),
                            "output_names": list(data.tasks)} for a in artefacts]}
    (workdir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    failure = _run_child(workdir, reporter, timeout)
    if failure:
        return {a.key: {"outputs": None, "error": failure, "seconds": 0.0} for a in artefacts}
    results = json.loads((workdir / "results.json").read_text(encoding="utf-8"))
    with np.load(workdir / "outputs.npz") as saved:
        arrays = {k: saved[k] for k in saved.files}
    checked: dict[str, dict[str, Any]] = {}
    for a in artefacts:
        result = results.get(a.key, {"error": "the check process skipped it", "seconds": 0.0})
        outputs = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith(f"{a.key}/")}
        checked[a.key] = {"outputs": None if result["error"] else outputs,
                          "error": result["error"], "seconds": float(result["seconds"])}
    return checked


def _run_child(workdir: Path, reporter: Reporter, timeout: float) -> str | None:
    """Run the check script; None when it succeeded, else what went wrong."""
    log = workdir / "check.log"
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            [sys.executable, "-I", "-B", str(CHECK_SCRIPT), str(workdir / "manifest.json")],
            stdout=out, stderr=subprocess.STDOUT, cwd=str(workdir))
        started = time.monotonic()
        while process.poll() is None:
            if reporter.should_stop():
                process.kill()
                process.wait()
                raise CancelledError("export stopped during the parity check")
            if time.monotonic() - started > timeout:
                process.kill()
                process.wait()
                return f"the parity check took over {timeout:.0f} s and was stopped"
            time.sleep(0.2)
    if process.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-3:]
        return f"the parity check process failed: {' | '.join(tail)[-600:]}"
    return None


def compare(app: dict[str, np.ndarray], exported: dict[str, np.ndarray], data: CheckData,
            tolerance: float | None, seconds: float) -> Parity:
    """Compare an export's outputs with the in-app model's on ``data``.

    Classification outputs compare class probabilities; regression outputs compare values,
    the tolerance then scaled by ``max(1, largest |value|)``.

    Raises:
        ValueError: the export lacks an output or gives another number of rows.
    """
    outputs = []
    passed = True
    for name, task in data.tasks.items():
        if name not in exported:
            raise ValueError(f"the export gives the outputs {', '.join(sorted(exported))}, "
                             f"not '{name}'")
        ours, theirs = np.asarray(app[name], np.float64), np.asarray(exported[name], np.float64)
        if len(theirs) != len(ours):
            raise ValueError(f"the export gave {len(theirs)} rows for '{name}', not {len(ours)}")
        result = _output_parity(name, task, ours, theirs, data.targets[name])
        outputs.append(result)
        if tolerance is not None:
            scale = 1.0 if task == "classification" else max(1.0, float(np.abs(ours).max()))
            passed = passed and result.max_abs_diff <= tolerance * scale
    worst = max((o.max_abs_diff for o in outputs), default=math.nan)
    return Parity(data.split, len(data.x), data.total, worst, tolerance, passed, seconds,
                  outputs)


def _output_parity(name: str, task: str, ours: np.ndarray, theirs: np.ndarray,
                   y: np.ndarray) -> OutputParity:
    if task == "classification":
        k = max(2, ours.shape[-1] if ours.ndim > 1 else 1)
        p_ours, p_theirs = class_probabilities(ours, k), class_probabilities(theirs, k)
        diff = float(np.abs(p_ours - p_theirs).max()) if p_ours.size else 0.0
        a, b = p_ours.argmax(axis=1), p_theirs.argmax(axis=1)
        return OutputParity(name, task, diff, "accuracy", float((a == y).mean()),
                            float((b == y).mean()), float((a == b).mean()))
    v_ours, v_theirs = ours.reshape(len(ours), -1)[:, 0], theirs.reshape(len(theirs), -1)[:, 0]
    diff = float(np.abs(v_ours - v_theirs).max()) if v_ours.size else 0.0
    return OutputParity(name, task, diff, "mae", float(np.abs(v_ours - y).mean()),
                        float(np.abs(v_theirs - y).mean()))
