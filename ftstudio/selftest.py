"""``ftstudio --self-test``: checks that this installation fine-tunes, exports and opens its window.

Written for the installers (a PyInstaller bundle has no Python to debug it with), it works from
a source checkout too. Four checks, each timed and reported on its own line:

* ``window``: the window opens offscreen on the bundled demo project, loads its engine
  (TensorFlow, the bundled backbones) and closes again;
* ``text``: the bundled MiniLM fine-tunes for a few steps, then predicts;
* ``tabular``: a tiny tabular MLP trains in a job child process, as the window trains (in a
  frozen app that child is started through ``multiprocessing``); it runs in a thread beside
  the two checks above;
* ``export``: the tabular run is exported (``.keras`` and SavedModel), each file loaded in a
  fresh process and checked against the in-app model.

Everything is written in one temporary folder, removed at the end (``--keep`` keeps it):
``HOME``, ``FTSTUDIO_HOME``, ``KERAS_HOME``, the XDG folders and ``TMPDIR`` point there while
the checks run. Exit code 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from ftstudio import __version__, config
from ftstudio.errors import FtStudioError

__all__ = ["CHECKS", "CheckResult", "Workspace", "main", "run_checks", "sandbox"]

TEXT_ROWS = 48
"""Demo reviews the text check fine-tunes on (38 train rows: 5 steps of 8)."""
EXPORT_FORMATS = ("keras", "savedmodel")
WINDOW_TIMEOUT_S = 300.0
"""How long the window check waits for the window and its engine (TensorFlow's import)."""


@dataclass
class CheckResult:
    """The outcome of one check."""

    name: str
    ok: bool
    seconds: float
    detail: str = ""
    """What was checked (passed) or what went wrong (failed)."""


@dataclass
class Workspace:
    """The temporary folders the checks write in, and what one check leaves for the next."""

    root: Path
    data: Path
    runs: Path
    tabular_run: Path | None = None


# ============================================================== the sandbox
_SANDBOX_DIRS = {
    "HOME": "home", "USERPROFILE": "home", "APPDATA": "home/appdata",
    "LOCALAPPDATA": "home/localappdata", "FTSTUDIO_HOME": "ftstudio", "KERAS_HOME": "keras",
    "XDG_CONFIG_HOME": "xdg/config", "XDG_CACHE_HOME": "xdg/cache",
    "XDG_DATA_HOME": "xdg/data", "XDG_RUNTIME_DIR": "xdg/runtime", "TMPDIR": "tmp",
    "TEMP": "tmp", "TMP": "tmp",
}
"""Every variable that says where a library may write, pointed into the temporary folder."""


@contextmanager
def sandbox(keep: bool = False) -> Iterator[Workspace]:
    """A temporary folder that every user folder points into while the checks run.

    The environment (and ``tempfile``'s folder) is restored afterwards and the folder removed
    unless ``keep``.
    """
    root = Path(tempfile.mkdtemp(prefix="ftstudio-selftest-"))
    saved_env, saved_tempdir = dict(os.environ), tempfile.tempdir
    try:
        for name, relative in _SANDBOX_DIRS.items():
            folder = root / relative
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.environ[name] = str(folder)
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        if not any(os.environ.get(name) for name in ("LC_ALL", "LC_CTYPE", "LANG")):
            os.environ["LC_ALL"] = "C.UTF-8"  # else Qt warns that it switched to UTF-8
        tempfile.tempdir = str(root / "tmp")
        workspace = Workspace(root, root / "data", root / "runs")
        workspace.data.mkdir()
        yield workspace
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        tempfile.tempdir = saved_tempdir
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


# ================================================================ the checks
def check_window(ws: Workspace) -> str:
    """Open the window offscreen on the demo project, load its engine, close it."""
    from PySide6.QtWidgets import QMessageBox

    from ftstudio.paths import demo_spec_path, resources_dir
    from ftstudio.ui.app import create_app, create_window
    from ftstudio.ui.resources import icon, style_sheet

    app = create_app([sys.argv[0] if sys.argv else "ftstudio"])
    if icon("app").isNull() or not style_sheet():
        raise RuntimeError(f"the icons or the style sheet are missing from {resources_dir()}")
    window = create_window(str(demo_spec_path()), runs_root=str(ws.runs))
    # a question (save the demo project?) is answered without a dialog
    window.ask = lambda *args: QMessageBox.StandardButton.Discard  # type: ignore[method-assign]
    try:
        window.show()
        _wait_for(lambda: bool(window.windowHandle() and window.windowHandle().isExposed()),
                  "the window to show")
        window.start_engine()
        _wait_for(lambda: window.engine_state in ("ready", "failed"), "the engine to load")
        if window.engine_state != "ready":
            error = window.engine_error
            raise RuntimeError(f"the window's engine failed to load: "
                               f"{error.message if error else 'no reason given'}")
        pages, title = len(window.pages), window.windowTitle()
    finally:
        window.close()
        app.processEvents()
    if window.isVisible():
        raise RuntimeError("the window did not close")
    return f"{app.platformName()} platform, {pages} pages, '{title}', engine ready, closed"


def _wait_for(condition: Callable[[], bool], what: str,
              timeout: float = WINDOW_TIMEOUT_S) -> None:
    """Run Qt's event loop until ``condition`` holds; RuntimeError after ``timeout`` seconds."""
    from PySide6.QtCore import QCoreApplication, QEventLoop

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"waited {timeout:.0f} s for {what}")
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def check_tabular(ws: Workspace) -> str:
    """Train a tiny tabular MLP in a job child process, as the window does."""
    from ftstudio.bridge.child_process import run_in_child
    from ftstudio.engine.reporting import RecordingReporter
    from ftstudio.spec import ExperimentSpec

    path = _write_tabular_csv(ws.data / "tabular.csv")
    spec = ExperimentSpec.from_dict({
        "name": "selftest-tabular",
        "data": {"path": str(path), "feature_columns": ["f0", "f1", "f2"],
                 "label_column": "label"},
        "backbone": {"source": "none"},
        "head": {"layers": [{"type": "dense", "units": 8}]},
        "training": {"epochs": 3, "batch_size": 16, "optimizer": "adam",
                     "learning_rate": 0.01},
    })
    reporter = RecordingReporter()
    outcome = run_in_child("train", spec.to_json(), str(ws.runs), reporter=reporter)
    run_dir = Path(outcome.run_dir)
    _expect_files(run_dir, ("model.keras", "metrics.json", "spec.json", "evaluation.json"))
    losses = [float(logs["loss"]) for _, logs in reporter.of("epoch_end")]
    if len(losses) != 3 or not losses[-1] < losses[0]:
        raise RuntimeError(f"the tabular training did not learn: losses per epoch {losses}")
    ws.tabular_run = run_dir
    accuracy = _finite(outcome.metrics, "test.accuracy")
    return (f"in a child process: 3 epochs, {len(reporter.of('batch_end'))} batches relayed, "
            f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, test accuracy {accuracy:.2f}")


def _write_tabular_csv(path: Path, rows: int = 120) -> Path:
    """Three numeric features; the label (``high`` / ``low``) is the sign of ``f0 + f1 / 2``."""
    rng = random.Random(0)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["f0", "f1", "f2", "label"])
        for _ in range(rows):
            x = [rng.gauss(0.0, 1.0) for _ in range(3)]
            writer.writerow([f"{v:.4f}" for v in x] + ["high" if x[0] + x[1] / 2 > 0 else "low"])
    return path


def check_text(ws: Workspace) -> str:
    """Fine-tune the bundled MiniLM for a few steps, then predict with the run."""
    from ftstudio.engine.bundled import find_bundled
    from ftstudio.engine.inference import predict
    from ftstudio.engine.reporting import RecordingReporter
    from ftstudio.engine.training import train
    from ftstudio.paths import resources_dir
    from ftstudio.spec import ExperimentSpec

    if find_bundled("minilm") is None:
        raise RuntimeError("the bundled MiniLM backbone is missing from this installation")
    source = resources_dir() / "demo" / "reviews.csv"
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)[:TEXT_ROWS + 1]
    path = ws.data / "reviews.csv"
    path.write_text("".join(lines), encoding="utf-8")
    spec = ExperimentSpec.from_dict({
        "name": "selftest-text",
        "data": {"path": str(path), "text_column": "text", "label_column": "label"},
        "backbone": {"source": "library", "name": "minilm", "sequence_length": 32},
        "head": {"pooling": "mean"},
        "freeze": {"mode": "last_n", "last_n": 1},
        "training": {"epochs": 1, "batch_size": 8, "learning_rate": 5e-5},
    })
    reporter = RecordingReporter()
    result = train(spec, reporter, runs_root=ws.runs)
    steps = len(reporter.of("batch_end"))
    if steps < 1:
        raise RuntimeError("the text training ran no step")
    _finite(result.metrics, "test.loss")
    predictions = predict(result.run_dir, texts=["I loved every minute of it."])
    output = predictions[0].get("label") if predictions else None  # the output named "label"
    label = output.get("label") if isinstance(output, dict) else None
    if label not in ("positive", "negative"):
        raise RuntimeError(f"the text run predicted {predictions!r}, not a review label")
    return f"MiniLM, {steps} steps, test loss {result.metrics['test.loss']:.3f}, predicted {label}"


def check_export(ws: Workspace) -> str:
    """Export the tabular run (``.keras``, SavedModel); each file checked in a fresh process."""
    if ws.tabular_run is None:
        raise RuntimeError("not run: it exports the tabular check's run, which failed")
    from ftstudio.engine.export import export_run

    result = export_run(ws.tabular_run, list(EXPORT_FORMATS), out_dir=ws.root / "export")
    failed = [f"{r.key}: {r.error}" for r in result.results if not r.ok]
    if failed or not result.results:
        raise RuntimeError("; ".join(failed) or "nothing was exported")
    return ", ".join(f"{r.key} (max diff {r.parity.max_abs_diff:.1g})"
                     for r in result.results if r.parity is not None)


def _expect_files(folder: Path, names: Sequence[str]) -> None:
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"the run folder {folder} lacks {', '.join(missing)}")


def _finite(metrics: dict[str, float], key: str) -> float:
    value = metrics.get(key)
    if value is None or not math.isfinite(float(value)):
        raise RuntimeError(f"the run's {key} is {value!r}")
    return float(value)


CHECKS: dict[str, Callable[[Workspace], str]] = {
    "window": check_window, "text": check_text, "tabular": check_tabular,
    "export": check_export,
}
"""Every check, in the order they are reported (``export`` uses the ``tabular`` run)."""

BACKGROUND_CHECKS = frozenset({"tabular"})
"""Checks started at once in a thread, beside the others: the tabular check mostly waits for
its child process (which imports TensorFlow while the window check runs)."""


# ============================================================ running, report
class Stream(Protocol):
    """Where the report lines go."""

    def write(self, text: str, /) -> int: ...  # noqa: D102

    def flush(self) -> None: ...  # noqa: D102


def run_checks(ws: Workspace, names: Sequence[str], out: Stream, debug: bool = False,
               checks: dict[str, Callable[[Workspace], str]] | None = None,
               background: frozenset[str] = BACKGROUND_CHECKS,
               prepare: Callable[[], None] | None = None) -> list[CheckResult]:
    """Run the checks called ``names``; print each result, in order, as it comes.

    The ``background`` ones start at once in a thread; then ``prepare`` runs (the TensorFlow
    import); then the others run here in order, each after the background checks named
    before it have ended.
    """
    table = CHECKS if checks is None else checks
    results = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="selftest") as pool:
        started = {name: pool.submit(_run_check, name, table[name], ws, debug)
                   for name in names if name in background}
        if prepare is not None:
            prepare()
        for name in names:
            future = started.get(name)
            result = future.result() if future else _run_check(name, table[name], ws, debug)
            results.append(result)
            out.write(_line(result) + "\n")
            out.flush()
    return results


def _run_check(name: str, check: Callable[[Workspace], str], ws: Workspace,
               debug: bool) -> CheckResult:
    started = time.perf_counter()
    try:
        result = CheckResult(name, True, 0.0, check(ws))
    except Exception as exc:  # noqa: BLE001 - every failure is reported, the rest go on
        result = CheckResult(name, False, 0.0, _describe(exc, debug))
    result.seconds = time.perf_counter() - started
    return result


def _describe(exc: BaseException, debug: bool) -> str:
    """The failure in one line (a bug also names where it happened); all of it with debug."""
    if debug:
        return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    if isinstance(exc, FtStudioError):
        return str(exc)
    where = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    place = f" (at {Path(where[0].filename).name}:{where[0].lineno})" if where else ""
    return f"{type(exc).__name__}: {exc}{place}"


def _line(result: CheckResult) -> str:
    status = "ok    " if result.ok else "FAILED"
    return f"  {result.name:<8} {status} {result.seconds:6.1f} s  {result.detail}"


def _header() -> str:
    kind = "installed bundle" if getattr(sys, "frozen", False) else "Python environment"
    return (f"ftstudio {__version__} self-test ({kind}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.machine()})")


def _parse(args: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="ftstudio --self-test",
        description="Check that this installation fine-tunes, exports and opens its window. "
                    "Writes only to a temporary folder; exit code 0 when all is well.")
    parser.add_argument("--only", metavar="CHECKS",
                        help=f"comma-separated checks to run (default all: {','.join(CHECKS)})")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder (its path is printed)")
    parser.add_argument("--report", metavar="FILE", help="also write the report to FILE")
    parser.add_argument("--debug", action="store_true", help="full tracebacks of failures")
    return parser.parse_args(list(args))


def main(args: Sequence[str] = ()) -> int:
    """Run the self-test; returns the exit code (0: every check passed)."""
    options = _parse(args)
    names = [n.strip() for n in options.only.split(",")] if options.only else list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        print(f"error: unknown check '{unknown[0]}': use {', '.join(CHECKS)}", file=sys.stderr)
        return 2
    debug = options.debug or config.debug_enabled()
    if not debug:
        config.quiet_tensorflow_logs("3")
        warnings.filterwarnings("ignore")
    report = _Tee(sys.stdout)
    report.write(_header() + "\n")
    started = time.perf_counter()
    with sandbox(options.keep) as ws:
        if options.keep:
            report.write(f"  (temporary folder kept: {ws.root})\n")
        _claim_qt_main_thread()
        results = run_checks(ws, names, report, debug,
                             prepare=lambda: _load_tensorflow(debug))
    failed = [r.name for r in results if not r.ok]
    total = time.perf_counter() - started
    report.write(f"FAILED: {', '.join(failed)} ({len(failed)} of {len(results)} checks) in "
                 f"{total:.1f} s\n" if failed else
                 f"All {len(results)} checks passed in {total:.1f} s.\n")
    if options.report:
        Path(options.report).write_text(report.text(), encoding="utf-8")
    return 1 if failed else 0


def _claim_qt_main_thread() -> None:
    """Make this thread Qt's main thread before a background check touches Qt.

    Qt takes the first thread that creates a QObject for its main thread, and importing the
    bridge (the tabular check does, in a thread) creates one; the window must be made in
    Qt's main thread.
    """
    import ftstudio.bridge  # noqa: F401 - creates its QObject probe here


def _load_tensorflow(debug: bool) -> None:
    """Import TensorFlow once, before the checks, without its start-up and retracing chatter."""
    import logging

    from ftstudio.engine.runtime import import_tensorflow_quietly

    import_tensorflow_quietly(debug)
    if not debug:
        logging.getLogger("tensorflow").setLevel(logging.ERROR)


class _Tee:
    """Writes to a stream and keeps a copy (for ``--report``)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:  # noqa: D102
        self.parts.append(text)
        self.stream.write(text)
        return len(text)

    def flush(self) -> None:  # noqa: D102
        self.stream.flush()

    def text(self) -> str:
        """Everything written so far."""
        return "".join(self.parts)
