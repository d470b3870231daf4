"""ftstudio's cost over a plain keras-hub script, fine-tuning MiniLM on a binary text CSV.

Runs ``ftstudio train examples/text_classification.json --set data.path=CSV
--set training.epochs=2`` and ``benchmarks/plain_kerashub.py`` (same recipe) alternately, each
in a fresh process, and prints the ratios of wall time and of CPU time (user + system of the
child process, which other load on the machine disturbs far less than wall time) and both
test accuracies. Run it on an otherwise idle machine for the wall-time ratio to mean much.

Usage: python -m benchmarks.overhead [--csv examples/data/reviews.csv] [--repeats 2]
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _child_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd):
    """Run ``cmd``; return (wall seconds, CPU seconds, stdout)."""
    t, cpu = time.perf_counter(), _child_cpu()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t, _child_cpu() - cpu, proc.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default=str(ROOT / "examples/data/reviews.csv"))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    ours, plain, acc_ours, acc_plain, cpu_ours, cpu_plain = [], [], [], [], [], []
    for r in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            run = Path(tmp) / "run"
            t, cpu, _ = timed([sys.executable, "-m", "ftstudio", "train",
                               "examples/text_classification.json", "--set",
                               f"data.path={args.csv}", "--set",
                               f"training.epochs={args.epochs}", "--out", str(run)])
            ours.append(t)
            cpu_ours.append(cpu)
            acc_ours.append(json.loads((run / "metrics.json").read_text())["test.accuracy"])
            t, cpu, out = timed([sys.executable, "-m", "benchmarks.plain_kerashub", args.csv,
                                 str(args.epochs), tmp])
            plain.append(t)
            cpu_plain.append(cpu)
            res = json.loads(out.strip().splitlines()[-1])
            acc_plain.append(res["accuracy"])
            print(f"repeat {r + 1}: ftstudio {ours[-1]:.1f} s wall / {cpu_ours[-1]:.1f} s CPU "
                  f"(acc {acc_ours[-1]:.3f}); plain keras-hub {plain[-1]:.1f} s wall / "
                  f"{cpu_plain[-1]:.1f} s CPU (acc {acc_plain[-1]:.3f}); majority "
                  f"{res['majority']:.3f}", flush=True)
    med = statistics.median
    print(f"median wall: ftstudio {med(ours):.1f} s, plain {med(plain):.1f} s, "
          f"ratio {med(ours) / med(plain):.3f}")
    print(f"median CPU:  ftstudio {med(cpu_ours):.1f} s, plain {med(cpu_plain):.1f} s, "
          f"ratio {med(cpu_ours) / med(cpu_plain):.3f}")


if __name__ == "__main__":
    main()
