"""ftstudio's cost over a plain keras-hub script, fine-tuning MiniLM on a binary text CSV.

Runs ``ftstudio train examples/text_classification.json --set data.path=CSV
--set training.epochs=2`` and ``benchmarks/plain_kerashub.py`` (same recipe) alternately, each
in a fresh process, and prints the wall-time ratio and both test accuracies.

Usage: python -m benchmarks.overhead [--csv examples/data/reviews.csv] [--repeats 2]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd):
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t, proc.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default=str(ROOT / "examples/data/reviews.csv"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    ours, plain, acc_ours, acc_plain = [], [], [], []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            t, _ = timed([sys.executable, "-m", "ftstudio", "train",
                          "examples/text_classification.json", "--set", f"data.path={args.csv}",
                          "--set", f"training.epochs={args.epochs}", "--out", str(run)])
            ours.append(t)
            acc_ours.append(json.loads((run / "metrics.json").read_text())["test.accuracy"])
            t, out = timed([sys.executable, "-m", "benchmarks.plain_kerashub", args.csv,
                            str(args.epochs), tmp])
            plain.append(t)
            res = json.loads(out.strip().splitlines()[-1])
            acc_plain.append(res["accuracy"])
            print(f"repeat {r + 1}: ftstudio {ours[-1]:.1f} s (acc {acc_ours[-1]:.3f}), "
                  f"plain keras-hub {plain[-1]:.1f} s (acc {acc_plain[-1]:.3f}), "
                  f"majority {res['majority']:.3f}", flush=True)
    ratio = statistics.median(ours) / statistics.median(plain)
    print(f"median wall time: ftstudio {statistics.median(ours):.1f} s, plain "
          f"{statistics.median(plain):.1f} s, ratio {ratio:.3f}")


if __name__ == "__main__":
    main()
