"""Exports that provably work: ``.keras``, SavedModel, TFLite and ONNX, each parity-checked.

:func:`export_run` writes the asked formats of a finished run, one folder each (the artefact,
``labels.json``, ``README.txt`` with a short load-and-predict script, ``export_report.json``),
then loads every file in ONE fresh child process that imports nothing of ftstudio, runs the
run's test split through it and compares with the in-app model (largest absolute probability
difference, accuracy or MAE of each). A difference over the format's tolerance is an error.

Everything is written into a staging folder first; a format's folder is moved into place only
when it was written and passed its check, so nothing half-written is left behind. A format
that fails (a converter that cannot handle an op, a missing optional package, a parity
failure) gets its error in the result and the report; the other formats still run.

The CLI (``ftstudio export``), the window's Export page and the end of training (for
``spec.export.formats``) each make one call to :func:`export_run`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ftstudio.engine.artifacts import PREPROCESSOR_DIR, LoadedRun, load_run
from ftstudio.engine.export_formats import WRITERS, Artefact, missing_dependency
from ftstudio.engine.export_parity import (
    CheckData,
    Parity,
    app_outputs,
    compare,
    load_check_data,
    run_check_process,
)
from ftstudio.engine.export_readme import readme_text, tokenizer_settings
from ftstudio.engine.model_files import first_line
from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.engine.runs import atomic_write_json, atomic_write_text
from ftstudio.errors import CancelledError, FtStudioError, SpecError
from ftstudio.spec import ExportSpec

EXPORT_FORMATS = ("keras", "savedmodel", "tflite", "onnx")
"""Every export format, in the order they are written."""

TOLERANCES = {"keras": 1e-6, "savedmodel": 1e-5, "tflite": 1e-4, "onnx": 1e-4}
"""Largest absolute probability difference (regression: x max(1, |value|)) each format may
show against the in-app model. Measured on MiniLM, MobileNetV2 and an MLP: .keras 0,
SavedModel <= 4.2e-7, TFLite <= 7.2e-7, ONNX <= 8.3e-7 (docs/export.md has the table)."""

REPORT_FILE = "export_report.json"
EXPORT_DIR = "export"
"""The default export folder inside a run folder."""


@dataclass
class FormatResult:
    """One exported file (a format, or its int8 variant) and how its check went."""

    key: str
    """``keras``, ``savedmodel``, ``tflite``, ``tflite-int8`` or ``onnx``."""
    format: str
    quantized: bool = False
    folder: Path | None = None
    file: Path | None = None
    size_bytes: int | None = None
    export_seconds: float = 0.0
    parity: Parity | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Written and within its tolerance (quantised files: written and checked)."""
        return self.error is None and self.parity is not None and self.parity.passed


@dataclass
class ExportResult:
    """What :func:`export_run` did, format by format (also in ``export_report.json``)."""

    run_dir: Path
    out_dir: Path
    report_path: Path
    results: list[FormatResult] = field(default_factory=list)
    app: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The in-app model's metric per output on the check split."""

    @property
    def ok(self) -> bool:
        """Every asked format was written and passed its check."""
        return all(r.ok for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data."""
        return {"run": str(self.run_dir), "out_dir": str(self.out_dir), "ok": self.ok,
                "app": self.app, "formats": [asdict(r) | {"ok": r.ok} for r in self.results],
                "check": "each file loaded in a fresh 'python -I' process that may not import "
                         "ftstudio; the test split run through it and compared with the "
                         "in-app model", "tolerances": TOLERANCES,
                "created": time.strftime("%Y-%m-%d %H:%M:%S")}


def export_run(run_dir: str | Path, formats: list[str] | tuple[str, ...],
               out_dir: str | Path | None = None, quantize: bool = False,
               reporter: Reporter | None = None,
               max_examples: int | None = 1000) -> ExportResult:
    """Export a finished run to ``formats`` and check each file on the run's test split.

    Args:
        run_dir: the run folder (or its ``spec.json``).
        formats: names from :data:`EXPORT_FORMATS`.
        out_dir: where the format folders go (default ``<run>/export``).
        quantize: also write a dynamic-range int8 TFLite file (its accuracy is reported,
            never failed).
        reporter: status and progress; a stop request ends the export (nothing written).
        max_examples: check on at most this many examples of the split (None: all).

    Returns:
        The result of every file; ``export_report.json`` is written in ``out_dir``.

    Raises:
        SpecError: an unknown format.
        RunError: not a finished run folder.
        DataError: the run's data (for the check) cannot be read.
        CancelledError: the reporter asked to stop.
    """
    reporter = reporter or BaseReporter()
    wanted = _known_formats(formats)
    reporter.status("Loading the run…")
    loaded = load_run(run_dir)
    target = Path(out_dir) if out_dir else loaded.run.file(EXPORT_DIR)
    target.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=target))
    try:
        reporter.status(f"Reading the {loaded.spec.name} test split…")
        data = load_check_data(loaded, max_examples)
        app = app_outputs(loaded, data)
        staged = _stage_all(loaded, wanted, staging, quantize, reporter)
        artefacts = [a for s in staged for a in s.artefacts]
        reporter.status(f"Checking {len(artefacts)} exported file(s) in a fresh process…")
        reporter.progress(len(wanted), len(wanted) + 1)
        checked = run_check_process(artefacts, data, loaded.spec.modality,
                                    staging / "check", reporter) if artefacts else {}
        result = ExportResult(loaded.run.path, target, target / REPORT_FILE,
                              app=_app_metrics(app, data))
        for s in staged:
            result.results += _finish(s, checked, app, data, loaded, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    atomic_write_json(result.report_path, result.to_dict())
    reporter.progress(len(wanted) + 1, len(wanted) + 1)
    reporter.status(_summary(result))
    return result


def export_after_training(run_dir: str | Path, export: ExportSpec,
                          reporter: Reporter | None = None) -> ExportResult:
    """Run the spec's ``export`` section at the end of training.

    A format that failed does not fail the run (the model is saved and can be exported again
    with ``ftstudio export``): each failure becomes a warning naming the format and the reason.
    """
    rep: Reporter = reporter or BaseReporter()
    rep.status(f"Exporting to {', '.join(export.formats)} and checking each file…")
    result = export_run(run_dir, list(export.formats), out_dir=export.dir,
                        quantize=export.quantize, reporter=rep)
    for item in result.results:
        if item.error:
            rep.warning(f"Export to {item.key} failed: {item.error}")
    return result


def _known_formats(formats: list[str] | tuple[str, ...]) -> list[str]:
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats:
        raise SpecError(f"unknown export format '{unknown[0] if unknown else ''}': use "
                        f"{', '.join(EXPORT_FORMATS)}")
    return [f for f in EXPORT_FORMATS if f in formats]


@dataclass
class _Staged:
    """One format written (or not) into its staging folder."""

    format: str
    folder: Path
    artefacts: list[Artefact]
    seconds: float
    error: str | None


def _stage_all(loaded: LoadedRun, formats: list[str], staging: Path, quantize: bool,
               reporter: Reporter) -> list[_Staged]:
    staged = []
    for i, fmt in enumerate(formats):
        if reporter.should_stop():
            raise CancelledError("export stopped; nothing was written")
        reporter.status(f"Exporting {fmt}…")
        reporter.progress(i, len(formats) + 1)
        staged.append(_stage(loaded, fmt, staging / fmt, quantize))
    return staged


def _stage(loaded: LoadedRun, fmt: str, folder: Path, quantize: bool) -> _Staged:
    """Write one format; a failure becomes the format's error (the others still run)."""
    folder.mkdir(parents=True)
    started = time.perf_counter()
    error = missing_dependency(fmt)
    artefacts: list[Artefact] = []
    if error is None:
        try:
            artefacts = WRITERS[fmt](loaded, folder, quantize)
        except FtStudioError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - converters raise anything; report, go on
            error = (f"{fmt} export failed: {type(exc).__name__}: {first_line(exc)}; try "
                     f"another format")
    return _Staged(fmt, folder, artefacts, round(time.perf_counter() - started, 3), error)


def _finish(staged: _Staged, checked: dict[str, dict[str, Any]], app: dict[str, Any],
            data: CheckData, loaded: LoadedRun, target: Path) -> list[FormatResult]:
    """Judge a staged format's checks; move its folder into place when its files passed."""
    if staged.error is not None:
        return [FormatResult(staged.format, staged.format, export_seconds=staged.seconds,
                             error=staged.error)]
    results = [_judge(a, checked[a.key], app, data, staged.seconds) for a in staged.artefacts]
    if not all(r.ok for r in results if not r.quantized):
        for r in results:  # the staging folder goes: nothing of this format is kept
            r.folder = r.file = None
        return results
    for r, a in zip(results, staged.artefacts, strict=True):
        if r.quantized and r.error is not None:
            a.file.unlink(missing_ok=True)  # an int8 file that would not run is not shipped
    final = target / staged.format
    _write_extras(staged, loaded, results)
    _replace_folder(staged.folder, final)
    for r in results:
        if r.error is None and r.file is not None:
            r.folder, r.file = final, final / r.file.relative_to(staged.folder)
    atomic_write_json(final / REPORT_FILE, {"formats": [asdict(r) | {"ok": r.ok}
                                                        for r in results]})
    return results


def _judge(artefact: Artefact, check: dict[str, Any], app: dict[str, Any], data: CheckData,
           seconds: float) -> FormatResult:
    result = FormatResult(artefact.key, artefact.format, artefact.quantized, artefact.file.parent,
                          artefact.file, _size(artefact.file),
                          seconds if artefact.seconds is None else artefact.seconds)
    if check["error"]:
        result.error = f"{artefact.key} does not run in a fresh process: {check['error']}"
        return result
    tolerance = None if artefact.quantized else TOLERANCES[artefact.format]
    try:
        result.parity = compare(app, check["outputs"], data, tolerance, check["seconds"])
    except ValueError as exc:
        result.error = f"{artefact.key}: {exc}"
        return result
    if not result.parity.passed:
        result.error = (f"{artefact.key} predicts differently from the studio: up to "
                        f"{result.parity.max_abs_diff:.3g} apart on the {data.split} split "
                        f"(tolerance {tolerance:g}); it was not saved. Try another format")
    return result


def _write_extras(staged: _Staged, loaded: LoadedRun, results: list[FormatResult]) -> None:
    """labels.json, README.txt and (text on token ids) tokenizer_settings.json."""
    folder, spec = staged.folder, loaded.spec
    atomic_write_json(folder / "labels.json", loaded.labels)
    inputs = _model_inputs(loaded.model)
    if spec.modality == "text" and staged.format in ("tflite", "onnx"):
        vocab = sorted(str(p.relative_to(folder)) for p in
                       (folder / PREPROCESSOR_DIR / "assets").rglob("*") if p.is_file())
        atomic_write_json(folder / "tokenizer_settings.json",
                          tokenizer_settings(loaded.backbone.preprocessor, inputs, vocab))
    shipped = [str(r.file.relative_to(folder)) for r in results
               if r.error is None and r.file is not None]
    others = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir()
                    if p.name not in shipped)
    atomic_write_text(folder / "README.txt",
                      readme_text(staged.format, spec, inputs, shipped + others))


def _model_inputs(model: Any) -> dict[str, tuple[list[int | None], str]]:
    if isinstance(model.input, dict):
        items = sorted(model.input.items())
    else:
        items = [(t.name, t) for t in model.inputs]
    return {name: (list(t.shape), str(t.dtype)) for name, t in items}


def _replace_folder(new: Path, final: Path) -> None:
    """Move ``new`` to ``final``; an older export there is removed only once ``new`` is in."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{time.time_ns()}")
        final.rename(old)
    new.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def _app_metrics(app: dict[str, Any], data: CheckData) -> dict[str, dict[str, Any]]:
    """The in-app model's accuracy / MAE per output (the reference of every check)."""
    reference = compare(app, app, data, None, 0.0)
    return {o.name: {"metric": o.metric, "value": o.app, "split": data.split,
                     "examples": len(data.x), "total": data.total} for o in reference.outputs}


def _summary(result: ExportResult) -> str:
    good = [r.key for r in result.results if r.ok]
    bad = [r.key for r in result.results if not r.ok]
    text = f"Exported {', '.join(good) or 'nothing'} to {result.out_dir}"
    return text + (f"; failed: {', '.join(bad)}" if bad else "")
