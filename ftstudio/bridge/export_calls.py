"""The window's export call: a finished run written as parity-checked files, in the job process.

:func:`export_run` runs ``engine.export.export_run`` in the job child process (an export takes
5–75 s of TensorFlow work: converting, then loading every file back in a fresh process), relays
its reports and returns an :class:`~ftstudio.bridge.types.ExportOutcome`. Stop asks the child to
stop; a conversion that does not look up for a few seconds has its child ended
(:data:`~ftstudio.bridge.child_process.STOP_GRACE_SECONDS`), and the staging folder it was
writing is removed here, so a stopped export leaves nothing behind.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from ftstudio.bridge.types import ExportFormatRow, ExportOutcome, ExportOutputRow
from ftstudio.errors import CancelledError

__all__ = ["default_export_dir", "export_outcome", "export_run"]

_STAGING_PREFIX = ".export-"
"""The engine stages every export in ``<out_dir>/.export-*`` (``tempfile.mkdtemp``)."""


def default_export_dir(run_dir: str) -> str:
    """The folder an export of ``run_dir`` goes to when none is chosen (``<run>/export``)."""
    from ftstudio.engine.export import EXPORT_DIR

    run = Path(run_dir)
    return str((run.parent if run.name == "spec.json" else run) / EXPORT_DIR)


def export_run(run_dir: str, formats: list[str], out_dir: str | None = None,
               quantize: bool = False, *, reporter: Any) -> ExportOutcome:
    """Export a finished run to ``formats`` and check each file, in the job child process.

    Args:
        run_dir: the run folder.
        formats: ``keras``, ``savedmodel``, ``tflite`` and/or ``onnx``.
        out_dir: where the format folders go (``None``: ``<run>/export``).
        quantize: also write the dynamic-range int8 TFLite file.
        reporter: status and progress; ``reporter.request_stop()`` stops the export.

    Returns:
        Every file's row; a format that failed has its ``error`` (the others still ran).

    Raises:
        SpecError: an unknown format.
        RunError: not a finished run.
        DataError: the run's data cannot be read for the check.
        CancelledError: stopped (nothing of this export is left in ``out_dir``).
    """
    from ftstudio.bridge.child_process import run_call

    target = Path(out_dir) if out_dir else Path(default_export_dir(run_dir))
    existed, before = target.exists(), _staging_folders(target)
    t0 = time.perf_counter()
    try:
        outcome: ExportOutcome = run_call("export", str(run_dir), list(formats),
                                          out_dir, bool(quantize), reporter=reporter)
    except CancelledError:
        # an export process ended mid-conversion leaves its staging folder: remove it
        for folder in _staging_folders(target) - before:
            shutil.rmtree(folder, ignore_errors=True)
        if not existed and target.is_dir() and not any(target.iterdir()):
            target.rmdir()
        raise
    outcome.seconds = time.perf_counter() - t0
    return outcome


def _staging_folders(target: Path) -> set[Path]:
    if not target.is_dir():
        return set()
    return {p for p in target.glob(f"{_STAGING_PREFIX}*") if p.is_dir()}


def export_outcome(result: Any, seconds: float = 0.0) -> ExportOutcome:
    """Copy an engine ``ExportResult`` into the bridge's plain :class:`ExportOutcome`.

    Args:
        result: what ``engine.export.export_run`` returned.
        seconds: wall time of the export.
    """
    from ftstudio.engine.export_formats import INSTALL_EXPORT

    rows = []
    for r in result.results:
        parity = r.parity
        outputs = [] if parity is None else [
            ExportOutputRow(o.name, o.metric, float(o.app), float(o.exported),
                            None if o.agreement is None else float(o.agreement),
                            float(o.max_abs_diff)) for o in parity.outputs]
        rows.append(ExportFormatRow(
            key=r.key, format=r.format, quantized=bool(r.quantized), ok=bool(r.ok),
            error=r.error,
            install_command=INSTALL_EXPORT if r.error and INSTALL_EXPORT in r.error else None,
            folder=None if r.folder is None else str(r.folder),
            file=None if r.file is None else str(r.file), size_bytes=r.size_bytes,
            export_seconds=float(r.export_seconds), checked=parity is not None,
            max_abs_diff=None if parity is None else float(parity.max_abs_diff),
            tolerance=None if parity is None else parity.tolerance,
            split="" if parity is None else parity.split,
            examples=0 if parity is None else int(parity.examples), outputs=outputs))
    return ExportOutcome(run_dir=str(result.run_dir), out_dir=str(result.out_dir),
                         report_path=str(result.report_path), ok=bool(result.ok), rows=rows,
                         seconds=seconds)
