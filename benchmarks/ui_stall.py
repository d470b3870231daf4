"""UI responsiveness during a real training run in the window, and window vs CLI wall time.

Opens the window on a spec, starts training from the Train page (charts visible) and, while the
engine trains in its worker thread, probes the GUI thread with a 10 ms QTimer: the longest gap
between two ticks (minus the interval) is the longest stall a user would feel. Then trains the
same spec with the CLI (``python -m ftstudio train SPEC``) in a subprocess. Both runs write
``env.json`` with ``wall_seconds`` (the engine's ``train()`` from start to saved run), which
are compared: the window must not slow training down.

    python -m benchmarks.ui_stall [--workload tabular|text] [--repeat 1] [--spec SPEC]

Targets: longest stall < 50 ms, window/CLI wall time <= 1.05.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PROBE_MS = 10
"""Probe period: a stall is how much later than this a tick comes."""


def make_tabular(folder: Path, rows: int = 20_000, features: int = 16,
                 epochs: int = 6) -> Path:
    """A synthetic 4-class tabular task with a 2x128 MLP head (~3700 optimizer steps)."""
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 1.5, (4, features))
    data = folder / "synthetic.csv"
    with data.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([f"f{i}" for i in range(features)] + ["label"])
        for r in range(rows):
            c = r % 4
            w.writerow([f"{v:.4f}" for v in centers[c] + rng.normal(0, 1.5, features)]
                       + [f"class_{c}"])
    spec = {
        "name": "bench-tabular",
        "data": {"path": str(data), "feature_columns": [f"f{i}" for i in range(features)],
                 "label_column": "label"},
        "backbone": {"source": "none"},
        "head": {"layers": [{"type": "dense", "units": 128},
                            {"type": "dense", "units": 128}]},
        "training": {"epochs": epochs, "batch_size": 32, "optimizer": "adam",
                     "learning_rate": 0.001},
    }
    path = folder / "bench_tabular.json"
    path.write_text(json.dumps(spec, indent=2))
    return path


def make_text(folder: Path) -> Path:
    """The bundled demo (MiniLM on reviews.csv), 1 epoch, bundled backbone, 32 tokens."""
    spec = json.loads((ROOT / "resources" / "demo" / "demo_spec.json").read_text())
    spec["name"] = "bench-text"
    spec["data"]["path"] = str(ROOT / "resources" / "demo" / "reviews.csv")
    spec["backbone"] = {"source": "auto", "name": "minilm", "sequence_length": 32}
    spec["training"]["epochs"] = 1
    path = folder / "bench_text.json"
    path.write_text(json.dumps(spec, indent=2))
    return path


def _probe_class():  # noqa: ANN202 - a QObject class, made once Qt is importable
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QObject, Qt, QTimer, Slot

    class Probe(QObject):
        """Ticks every PROBE_MS on the GUI thread and records the gaps between ticks (ms)."""

        def __init__(self) -> None:
            super().__init__()
            self.clock = QElapsedTimer()
            self.gaps: list[float] = []
            self.last = 0
            self.timer = QTimer(self)
            self.timer.setTimerType(Qt.TimerType.PreciseTimer)
            self.timer.setInterval(PROBE_MS)
            self.timer.timeout.connect(self.tick)
            self.loop = QEventLoop()

        def start(self) -> None:
            self.clock.start()
            self.last = self.clock.nsecsElapsed()
            self.timer.start()

        @Slot()
        def tick(self) -> None:
            now = self.clock.nsecsElapsed()
            self.gaps.append((now - self.last) / 1e6)
            self.last = now

        @Slot(bool)
        def on_running(self, running: bool) -> None:
            if not running:
                self.timer.stop()
                self.loop.quit()

    return Probe


def make_probe():  # noqa: ANN201
    """A GUI-thread stall probe: ``start()``, ``gaps`` (ms), ``on_running(False)`` ends it."""
    return _probe_class()()


def idle_stall_ms(seconds: float = 3.0) -> float:
    """The longest stall of the idle GUI thread over ``seconds`` (what the machine alone does)."""
    from PySide6.QtCore import QTimer

    idle = make_probe()
    idle.start()
    QTimer.singleShot(int(seconds * 1000), idle.loop.quit)
    idle.loop.exec()
    idle.timer.stop()
    return float(np.max(np.maximum(np.array(idle.gaps) - PROBE_MS, 0.0)))


def stall_stats(gaps: list[float]) -> dict[str, Any]:
    """Longest stall, p99 stall (ms) and the five worst with their times, from probe gaps."""
    arr = np.array(gaps)
    stalls = np.maximum(arr - PROBE_MS, 0.0)
    at = np.cumsum(arr) / 1000.0
    worst = np.argsort(stalls)[-5:][::-1]
    return {"stall_max_ms": float(stalls.max()), "stall_p99_ms": float(np.percentile(stalls, 99)),
            "top": ", ".join(f"{stalls[i]:.0f} ms at {at[i]:.1f} s" for i in worst),
            "ticks": float(len(arr))}


def run_window(spec: Path, runs_root: Path, page_key: str = "train") -> dict[str, Any]:
    """Train ``spec`` from the window; return stall statistics and the run's wall time."""
    from PySide6.QtCore import QEventLoop

    from ftstudio.ui.app import create_app, create_window

    app = create_app()
    window = create_window(str(spec), runs_root=str(runs_root))
    window.resize(1280, 800)
    window.show()
    window.start_engine()

    def pump_until(cond, timeout: float) -> None:  # noqa: ANN001
        end = time.monotonic() + timeout
        while not cond():
            if time.monotonic() > end:
                raise SystemExit("timed out waiting for the window")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    pump_until(lambda: window.engine_state == "ready", 300)
    pump_until(lambda: window.data_page.check is not None, 300)
    window.go_to(page_key)
    page = window.train_page

    # baseline: the same probe on the idle window for 3 s (how much the machine alone stalls us)
    idle_stall = idle_stall_ms()

    gc_pauses: list[float] = []
    gc_start = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_start[0] = time.perf_counter()
        elif info.get("generation") == 2:
            gc_pauses.append((time.perf_counter() - gc_start[0]) * 1000)

    gc.callbacks.append(on_gc)
    probe = make_probe()
    page.runningChanged.connect(probe.on_running)
    probe.start()
    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    page.start()
    if page.running:
        probe.loop.exec()
    elapsed = time.perf_counter() - t0
    gc.callbacks.remove(on_gc)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    gui_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if page.outcome is None:
        raise SystemExit(f"training failed: {[e.message for e in window.errors]}")
    run = Path(page.outcome.run_dir)
    wall = float(json.loads((run / "env.json").read_text())["wall_seconds"])
    result = {"wall_seconds": wall, "job_seconds": elapsed, **stall_stats(probe.gaps),
              "idle_stall_max_ms": idle_stall, "gui_cpu_seconds": gui_cpu,
              "gc_full": float(len(gc_pauses)), "gc_full_max_ms": max(gc_pauses, default=0.0),
              "chart_redraws": float(page.charts.redraws),
              "batch_points": float(page.batches_received),
              "batch_emits": float(page.reporter.emits if page.reporter else 0),
              "run": str(run)}
    window.project.dirty = False
    window.shutdown()
    window.close()
    return result


def run_cli(spec: Path, runs_root: Path) -> dict[str, Any]:
    """Train ``spec`` with ``python -m ftstudio train``; return the run's wall time."""
    before = set(runs_root.glob("*")) if runs_root.exists() else set()
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "ftstudio", "train", str(spec),
                          "--runs-root", str(runs_root)], capture_output=True, text=True,
                         cwd=ROOT, timeout=3600)
    process = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"CLI failed:\n{out.stderr[-3000:]}")
    (run,) = set(runs_root.glob("*")) - before
    wall = float(json.loads((run / "env.json").read_text())["wall_seconds"])
    return {"wall_seconds": wall, "process_seconds": process, "run": str(run)}


def _in_thread() -> bool:
    from ftstudio import config

    return config.jobs_in_thread()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=["tabular", "text"], default="tabular")
    parser.add_argument("--spec", help="train this spec instead of a built-in workload")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--page", default="train",
                        help="page shown while training (default: the Train page's charts)")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    work = Path(tempfile.mkdtemp(prefix="ftstudio-bench-"))
    os.environ.setdefault("FTSTUDIO_HOME", str(work / "home"))
    spec = Path(args.spec) if args.spec else (
        make_tabular(work) if args.workload == "tabular" else make_text(work))
    windows, clis = [], []
    for i in range(args.repeat):
        clis.append(run_cli(spec, work / "runs-cli"))
        windows.append(run_window(spec, work / f"runs-window-{i}", args.page))
        print(f"round {i + 1}: window {windows[-1]['wall_seconds']:.2f} s "
              f"(stall max {windows[-1]['stall_max_ms']:.1f} ms, idle "
              f"{windows[-1]['idle_stall_max_ms']:.1f} ms; worst: {windows[-1]['top']} of "
              f"{windows[-1]['job_seconds']:.1f} s), CLI {clis[-1]['wall_seconds']:.2f} s",
              flush=True)
    same = json.loads(Path(windows[0]["run"], "spec.json").read_text()) == \
        json.loads(Path(clis[0]["run"], "spec.json").read_text())
    w_wall = statistics.median(r["wall_seconds"] for r in windows)
    c_wall = statistics.median(r["wall_seconds"] for r in clis)
    stall = max(r["stall_max_ms"] for r in windows)
    p99 = max(r["stall_p99_ms"] for r in windows)
    w0 = windows[0]
    print(f"workload: {args.spec or args.workload} (platform {os.environ['QT_QPA_PLATFORM']}, "
          f"same spec.json in both runs: {same})")
    idle = max(r["idle_stall_max_ms"] for r in windows)
    print(f"UI thread: longest stall {stall:.1f} ms, p99 {p99:.1f} ms over "
          f"{int(sum(r['ticks'] for r in windows))} probe ticks (target < 50 ms); "
          f"idle window before training: longest stall {idle:.1f} ms")
    print(f"  reporter: {int(w0['batch_points'])} batches in {int(w0['batch_emits'])} signal "
          f"chunks, {int(w0['chart_redraws'])} chart redraws; window process CPU while "
          f"training {w0['gui_cpu_seconds']:.2f} s over {w0['job_seconds']:.1f} s; "
          f"{int(w0['gc_full'])} full GCs (longest {w0['gc_full_max_ms']:.0f} ms)"
          f"{' (training itself runs in a child process)' if not _in_thread() else ''}")
    process = statistics.median(r["process_seconds"] for r in clis)
    print(f"train() wall time: window {w_wall:.2f} s, CLI {c_wall:.2f} s "
          f"(CLI process incl. start-up {process:.2f} s)")
    print(f"window/CLI ratio {w_wall / c_wall:.3f} (target <= 1.05)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
