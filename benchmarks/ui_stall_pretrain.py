"""UI responsiveness during an autoencoder pretraining in the window: in-thread vs child process.

Opens the window, loads the engine (as at start-up: TensorFlow imported, ``gc.freeze()``, a job
child prewarmed), shows the Pretrain page and pretrains a small dense autoencoder on the
scikit-learn digits (1,797 8x8 images written as PNGs) twice:

1. in the job child process (the default);
2. in a thread of the window (``FTSTUDIO_TRAIN_IN_THREAD=1``, how pretraining ran before);

and again, alternating, ``--repeat`` times.

During each run a 10 ms QTimer probes the GUI thread; the gaps between ticks (minus the
interval) are the stalls a user would feel. Prints the longest stall and the 99th percentile
for both modes, and the idle window's longest stall (what the machine alone does).

    python -m benchmarks.ui_stall_pretrain [--epochs 40] [--batch-size 8] [--repeat 1]

Target: longest stall < 50 ms in the child-process mode. A shared, busy machine adds stalls of
its own: compare with the idle figure.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.autoencoder_digits import write_digits
from benchmarks.ui_stall import idle_stall_ms, make_probe, stall_stats


def _pump_until(app: Any, cond: Any, timeout: float) -> None:  # noqa: ANN401
    from PySide6.QtCore import QEventLoop

    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit("timed out waiting for the window")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def pretrain_once(window: Any, spec: Any, in_thread: bool) -> dict[str, Any]:  # noqa: ANN401
    """Pretrain ``spec`` from the window's Pretrain page; return the stall statistics."""
    if in_thread:
        os.environ["FTSTUDIO_TRAIN_IN_THREAD"] = "1"
    else:
        os.environ.pop("FTSTUDIO_TRAIN_IN_THREAD", None)
    page = window.pretrain_page
    page.set_spec(spec)
    page.replace_check.setChecked(True)
    probe = make_probe()
    page.runningChanged.connect(probe.on_running)
    probe.start()
    t0 = time.perf_counter()
    if not page.start():
        raise SystemExit(f"pretraining did not start: {page.last_error}")
    if page.is_running():
        probe.loop.exec()
    seconds = time.perf_counter() - t0
    page.runningChanged.disconnect(probe.on_running)
    if page.last_error or page.last_result is None:
        raise SystemExit(f"pretraining failed: {page.last_error}")
    return {"seconds": seconds, "epochs": len(page.last_result.history),
            **stall_stats(probe.gaps)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    work = Path(tempfile.mkdtemp(prefix="ftstudio-bench-pretrain-"))
    os.environ["FTSTUDIO_HOME"] = str(work / "home")
    os.environ.pop("FTSTUDIO_TRAIN_IN_THREAD", None)
    write_digits(work / "digits")

    from ftstudio.spec import DataSpec, PretrainSpec
    from ftstudio.ui.app import create_app, create_window

    spec = PretrainSpec(data=DataSpec(image_dir=str(work / "digits")), kind="dense",
                        encoder_units=[256], latent_dim=32, image_size=[8, 8], channels=1,
                        epochs=args.epochs, batch_size=args.batch_size, val_fraction=0.1,
                        save_as="bench-digits")
    app = create_app()
    window = create_window(runs_root=str(work / "runs"))
    window.resize(1280, 800)
    window.show()
    window.start_engine()
    _pump_until(app, lambda: window.engine_state == "ready", 300)
    window.go_to("pretrain")
    settled = time.monotonic() + 15  # let the prewarmed child import TensorFlow first
    _pump_until(app, lambda: time.monotonic() > settled, 60)
    idle = idle_stall_ms()
    modes = {"child process": False, "in-thread (FTSTUDIO_TRAIN_IN_THREAD=1)": True}
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
    for _ in range(args.repeat):
        for mode, in_thread in modes.items():
            results[mode].append(pretrain_once(window, spec, in_thread))
    window.project.dirty = False
    window.shutdown()
    window.close()
    print(f"pretraining: dense autoencoder 64 -> 256 -> 32 on 1,797 digits, "
          f"{args.epochs} epochs, batch {args.batch_size} "
          f"(platform {os.environ['QT_QPA_PLATFORM']}); idle window longest stall {idle:.1f} ms")
    for mode, rounds in results.items():
        for r in rounds:
            print(f"  {mode:40s} longest stall {r['stall_max_ms']:6.1f} ms, p99 "
                  f"{r['stall_p99_ms']:5.1f} ms over {int(r['ticks'])} ticks, "
                  f"{r['seconds']:.1f} s ({r['epochs']} epochs); worst: {r['top']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
