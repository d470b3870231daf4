"""UI responsiveness during a real training run in the window, and window vs CLI train() time.

Opens the window on a spec, probes the idle GUI thread with a 10 ms QTimer (the window on the
Train page, the engine loaded, nothing training), then starts training from the Train page
(charts visible) and probes again while the engine trains in its child process: how much later
than 10 ms a tick comes is a stall a user would feel. Then trains the same spec with the CLI in a
subprocess. Both runs write ``env.json`` with ``wall_seconds`` (the engine's ``train()`` from
start to saved run), which are compared: the window must not slow training down.

The window's job process imports TensorFlow and the engine before it is given the job; the CLI
process here does the same before calling ``ftstudio train`` (as a ``--debug`` run does), so both
``train()`` times count the same work. ``--profile`` samples the GUI thread's stack during every
stall over 8 ms and prints the worst ones (:mod:`benchmarks.stall_profile`).

    python -m benchmarks.ui_stall --workload tabular     # 20k-row MLP, 6 epochs (~1 min)
    python -m benchmarks.ui_stall --workload minilm      # MiniLM on the demo reviews, 1 epoch
    python -m benchmarks.ui_stall [--repeat N] [--spec SPEC] [--profile] [--idle-seconds S]

Targets: window/CLI train() time <= 1.03; longest stall < 50 ms and p99 < 16 ms, idle and
while training.
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

from benchmarks.stall_profile import StallSampler

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


def make_minilm(folder: Path) -> Path:
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

        def __init__(self, sampler: StallSampler | None = None) -> None:
            super().__init__()
            self.clock = QElapsedTimer()
            self.gaps: list[float] = []
            self.last = 0
            self.sampler = sampler
            self.timer = QTimer(self)
            self.timer.setTimerType(Qt.TimerType.PreciseTimer)
            self.timer.setInterval(PROBE_MS)
            self.timer.timeout.connect(self.tick)
            self.loop = QEventLoop()

        def start(self) -> None:
            self.clock.start()
            self.last = self.clock.nsecsElapsed()
            if self.sampler is not None:
                self.sampler.tick()
            self.timer.start()

        @Slot()
        def tick(self) -> None:
            now = self.clock.nsecsElapsed()
            self.gaps.append((now - self.last) / 1e6)
            self.last = now
            if self.sampler is not None:
                self.sampler.tick()

        @Slot(bool)
        def on_running(self, running: bool) -> None:
            if not running:
                self.timer.stop()
                self.loop.quit()

    return Probe


def make_probe(sampler: StallSampler | None = None):  # noqa: ANN201
    """A GUI-thread stall probe: ``start()``, ``gaps`` (ms), ``on_running(False)`` ends it."""
    return _probe_class()(sampler)


def idle_gaps(seconds: float = 3.0, sampler: StallSampler | None = None) -> list[float]:
    """Probe gaps (ms) of the idle GUI thread over ``seconds``."""
    from PySide6.QtCore import QTimer

    idle = make_probe(sampler)
    idle.start()
    QTimer.singleShot(int(seconds * 1000), idle.loop.quit)
    idle.loop.exec()
    idle.timer.stop()
    return list(idle.gaps)


def idle_stall_ms(seconds: float = 3.0) -> float:
    """The longest stall of the idle GUI thread over ``seconds`` (what the machine alone does)."""
    return float(np.max(np.maximum(np.array(idle_gaps(seconds)) - PROBE_MS, 0.0)))


def stall_stats(gaps: list[float]) -> dict[str, Any]:
    """Longest stall, p99 stall (ms) and the five worst with their times, from probe gaps."""
    arr = np.array(gaps)
    stalls = np.maximum(arr - PROBE_MS, 0.0)
    at = np.cumsum(arr) / 1000.0
    worst = np.argsort(stalls)[-5:][::-1]
    return {"stall_max_ms": float(stalls.max()), "stall_p99_ms": float(np.percentile(stalls, 99)),
            "top": ", ".join(f"{stalls[i]:.0f} ms at {at[i]:.1f} s" for i in worst),
            "ticks": float(len(arr))}


def _open_window(spec: Path, runs_root: Path, page_key: str):  # noqa: ANN202
    """The window on ``spec``, shown, engine loaded, data checked, on page ``page_key``."""
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

    pump_until(lambda: window.engine_state in ("ready", "failed"), 600)
    if window.engine_state != "ready":
        raise SystemExit(f"the engine failed to load: {window.engine_error}")
    data = window.data_page
    pump_until(lambda: data.check is not None or bool(data.check_error), 300)
    if data.check is None:
        raise SystemExit(f"the data check failed: {data.check_error}")
    window.go_to(page_key)
    return window


def _with_gc_watch(fn):  # noqa: ANN001, ANN202
    """Run ``fn()``; return its result and the durations (ms) of full collections meanwhile."""
    pauses: list[float] = []
    start = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            start[0] = time.perf_counter()
        elif info.get("generation") == 2:
            pauses.append((time.perf_counter() - start[0]) * 1000)

    gc.callbacks.append(on_gc)
    try:
        return fn(), pauses
    finally:
        gc.callbacks.remove(on_gc)


def run_window(spec: Path, runs_root: Path, page_key: str = "train", idle_seconds: float = 5.0,
               profile: bool = False) -> dict[str, Any]:
    """Train ``spec`` from the window; return stall statistics and the run's wall time."""
    window = _open_window(spec, runs_root, page_key)
    page = window.train_page
    sampler = StallSampler(PROBE_MS) if profile else None
    if sampler is not None:
        sampler.start()

    # the idle window (engine loaded, job process prewarming, nothing training)
    idle = stall_stats(idle_gaps(idle_seconds, sampler))
    idle_profile = sampler.stalls[:] if sampler is not None else []
    if sampler is not None:
        sampler.stalls.clear()
        sampler.t0 = time.perf_counter()  # its stall times count from the start of training

    probe = make_probe(sampler)
    page.runningChanged.connect(probe.on_running)

    def train() -> float:
        t0 = time.perf_counter()
        probe.start()
        page.start()
        if page.running:
            probe.loop.exec()
        return time.perf_counter() - t0

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    elapsed, gc_pauses = _with_gc_watch(train)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    gui_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if sampler is not None:
        sampler.stop()
        print("== idle window: the worst stalls ==")
        sampler.stalls, training_profile = idle_profile, sampler.stalls
        sampler.report()
        print("== while training: the worst stalls ==")
        sampler.stalls = training_profile
        sampler.report()
    if page.outcome is None:
        raise SystemExit(f"training failed: {[e.message for e in window.errors]}")
    run = Path(page.outcome.run_dir)
    wall = float(json.loads((run / "env.json").read_text())["wall_seconds"])
    result = {"wall_seconds": wall, "job_seconds": elapsed, **stall_stats(probe.gaps),
              "idle_stall_max_ms": idle["stall_max_ms"], "idle_p99_ms": idle["stall_p99_ms"],
              "idle_top": idle["top"], "idle_ticks": idle["ticks"], "gui_cpu_seconds": gui_cpu,
              "gc_full": float(len(gc_pauses)), "gc_full_max_ms": max(gc_pauses, default=0.0),
              "chart_redraws": float(page.charts.redraws),
              "batch_points": float(page.batches_received),
              "batch_emits": float(page.reporter.emits if page.reporter else 0),
              "device": page.device_line.full_text() if hasattr(page, "device_line") else "",
              "run": str(run)}
    window.project.dirty = False
    window.shutdown()
    window.close()
    return result


CLI_WARM = ("import sys; from ftstudio.engine.runtime import import_tensorflow_quietly; "
            "import_tensorflow_quietly(); import importlib; "
            "from ftstudio.bridge.child_process import _WARM_MODULES; "
            "[importlib.import_module(m) for m in _WARM_MODULES]; "
            "from ftstudio.__main__ import main; sys.exit(main(sys.argv[1:]))")
"""The CLI with TensorFlow and the engine imported first, as the window's job process has."""


def run_cli(spec: Path, runs_root: Path) -> dict[str, Any]:
    """Train ``spec`` with ``ftstudio train`` (engine imported first); return the run's times."""
    before = set(runs_root.glob("*")) if runs_root.exists() else set()
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CLI_WARM, "train", str(spec),
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


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=["tabular", "minilm", "text"], default="tabular",
                        help="tabular: a 20k-row MLP; minilm (or text): MiniLM on the demo "
                             "reviews")
    parser.add_argument("--spec", help="train this spec instead of a built-in workload")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--idle-seconds", type=float, default=5.0,
                        help="how long to probe the idle window before training")
    parser.add_argument("--profile", action="store_true",
                        help="sample the GUI thread's stack during stalls and print the worst")
    parser.add_argument("--page", default="train",
                        help="page shown while training (default: the Train page's charts)")
    return parser.parse_args()


def _report(args: argparse.Namespace, windows: list[dict[str, Any]],
            clis: list[dict[str, Any]]) -> None:
    same = json.loads(Path(windows[0]["run"], "spec.json").read_text()) == \
        json.loads(Path(clis[0]["run"], "spec.json").read_text())
    w_wall = statistics.median(r["wall_seconds"] for r in windows)
    c_wall = statistics.median(r["wall_seconds"] for r in clis)
    w0 = windows[0]
    print(f"workload: {args.spec or args.workload} (platform {os.environ['QT_QPA_PLATFORM']}, "
          f"same spec.json in both runs: {same}; trains on: {w0['device'] or 'not shown'})")
    stall = max(r["stall_max_ms"] for r in windows)
    p99 = max(r["stall_p99_ms"] for r in windows)
    idle = max(r["idle_stall_max_ms"] for r in windows)
    idle_p99 = max(r["idle_p99_ms"] for r in windows)
    print(f"UI thread while training: longest stall {stall:.1f} ms, p99 {p99:.1f} ms over "
          f"{int(sum(r['ticks'] for r in windows))} probe ticks (targets < 50 ms, < 16 ms)")
    print(f"UI thread idle (engine loaded, nothing training): longest stall {idle:.1f} ms, "
          f"p99 {idle_p99:.1f} ms over {int(sum(r['idle_ticks'] for r in windows))} ticks "
          f"(worst: {w0['idle_top']})")
    print(f"  reporter: {int(w0['batch_points'])} batches in {int(w0['batch_emits'])} signal "
          f"chunks, {int(w0['chart_redraws'])} chart redraws; window process CPU while "
          f"training {w0['gui_cpu_seconds']:.2f} s over {w0['job_seconds']:.1f} s; "
          f"{int(w0['gc_full'])} full GCs (longest {w0['gc_full_max_ms']:.0f} ms)"
          f"{' (training itself runs in a child process)' if not _in_thread() else ''}")
    process = statistics.median(r["process_seconds"] for r in clis)
    print(f"train() wall time: window {w_wall:.2f} s, CLI {c_wall:.2f} s "
          f"(CLI process incl. start-up and imports {process:.2f} s)")
    print(f"window/CLI ratio {w_wall / c_wall:.3f} (target <= 1.03)")


def main() -> int:
    args = _parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    work = Path(tempfile.mkdtemp(prefix="ftstudio-bench-"))
    os.environ.setdefault("FTSTUDIO_HOME", str(work / "home"))
    spec = Path(args.spec) if args.spec else (
        make_tabular(work) if args.workload == "tabular" else make_minilm(work))
    windows, clis = [], []
    for i in range(args.repeat):
        # the order alternates, so that a machine getting busier or quieter favours neither
        if i % 2 == 0:
            clis.append(run_cli(spec, work / "runs-cli"))
        windows.append(run_window(spec, work / f"runs-window-{i}", args.page,
                                  args.idle_seconds, args.profile))
        if i % 2 == 1:
            clis.append(run_cli(spec, work / "runs-cli"))
        print(f"round {i + 1}: window {windows[-1]['wall_seconds']:.2f} s "
              f"(stall max {windows[-1]['stall_max_ms']:.1f} ms, idle "
              f"{windows[-1]['idle_stall_max_ms']:.1f} ms; worst: {windows[-1]['top']} of "
              f"{windows[-1]['job_seconds']:.1f} s), CLI {clis[-1]['wall_seconds']:.2f} s",
              flush=True)
    _report(args, windows, clis)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
