"""Launch-to-window-visible time of the studio window (target < 1 s).

Starts ``python -m ftstudio`` (no arguments: the window) several times with
``FTSTUDIO_STARTUP_PROBE`` set; the window prints when it is exposed on screen and, with
``--engine``, when the engine (TensorFlow) has loaded in the background, then quits. Times
count from just before the process is spawned, so they include interpreter start-up.

    python -m benchmarks.ui_launch [--runs 5] [--engine] [--platform offscreen|xcb]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def launch(engine: bool, platform: str | None) -> dict[str, float]:
    env = dict(os.environ)
    env["FTSTUDIO_STARTUP_PROBE"] = "engine" if engine else "window"
    env.setdefault("FTSTUDIO_HOME", tempfile.mkdtemp(prefix="ftstudio-launch-"))
    if platform:
        env["QT_QPA_PLATFORM"] = platform
    env["FTSTUDIO_T0"] = repr(time.time())
    out = subprocess.run([sys.executable, "-m", "ftstudio"], env=env, capture_output=True,
                         text=True, timeout=300)
    found = dict(re.findall(r"ftstudio-startup (\w+)=([\d.]+)", out.stderr))
    if "window_visible_s" not in found:
        raise SystemExit(f"no probe output (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return {k: float(v) for k, v in found.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", action="store_true", help="also wait for the engine")
    parser.add_argument("--platform", default=None,
                        help="Qt platform (default: offscreen without a DISPLAY)")
    args = parser.parse_args()
    platform = args.platform or (None if os.environ.get("DISPLAY") else "offscreen")
    launch(False, platform)  # warm the file cache
    results = [launch(args.engine, platform) for _ in range(args.runs)]
    for key in results[0]:
        values = [r[key] for r in results]
        print(f"{key}: median {statistics.median(values):.3f} s, min {min(values):.3f} s, "
              f"max {max(values):.3f} s over {len(values)} runs "
              f"(platform {platform or os.environ.get('QT_QPA_PLATFORM', 'default')})")
    visible = statistics.median(r["window_visible_s"] for r in results)
    print(f"launch-to-window-visible {visible:.3f} s (target < 1 s): "
          f"{'OK' if visible < 1.0 else 'SLOW'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
