"""Benchmark 1: ``ftstudio train`` against a plain keras-hub script, same data, split and recipe.

Fine-tunes MiniLM on the review CSV (examples/text_classification.json set to the plain
script's recipe: AdamW 5e-5, batch 32, no layer decay) three ways, each in a fresh process,
alternating per repeat:

- ``plain``: benchmarks/plain_kerashub.py (fixed padding to 64 tokens);
- ``fixed``: ``ftstudio train`` with the same fixed padding;
- ``grouped``: ``ftstudio train`` with ``training.length_grouping`` (each batch padded only to
  its longest review, rounded up to a few lengths).

It prints the wall-time and CPU-time ratios (CPU: user + system of the child, which other load
on the machine disturbs less than wall time) of ``fixed`` and ``grouped`` over ``plain``, and
the three test accuracies. Targets: fixed <= 1.03, grouped <= 0.8 at the same accuracy (+-1
point). ftstudio's run skips its linear-probe baseline (``training.baseline=false``), which a
plain script does not fit either; ``--with-baseline`` keeps it.

Usage: python -m benchmarks.engine_vs_script [--csv examples/data/reviews.csv] [--rows 0]
           [--epochs 2] [--repeats 1]
"""

import argparse
import csv
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
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t, _child_cpu() - cpu, proc.stdout


def first_rows(src, rows, out):
    """The header and the first ``rows`` data rows of ``src`` (all when ``rows`` is 0)."""
    if not rows:
        return src
    with open(src, newline="", encoding="utf-8") as fh, open(out, "w", newline="",
                                                             encoding="utf-8") as dst:
        reader, writer = csv.reader(fh), csv.writer(dst)
        for i, row in enumerate(reader):
            if i > rows:
                break
            writer.writerow(row)
    return str(out)


def ours(csv_path, epochs, tmp, grouped, baseline):
    """One ``ftstudio train`` run: (wall, CPU, test accuracy)."""
    run = Path(tmp) / ("grouped" if grouped else "fixed")
    cmd = [sys.executable, "-m", "ftstudio", "train", "examples/text_classification.json",
           "--set", f"data.path={csv_path}", "--set", f"training.epochs={epochs}",
           "--set", f"training.length_grouping={'true' if grouped else 'false'}",
           "--set", "training.batch_size=32", "--set", "training.learning_rate=5e-05",
           "--set", "freeze.layer_decay=1.0", "--set", "freeze.head_first_epochs=0",
           "--out", str(run)]
    if not baseline:
        cmd += ["--set", "training.baseline=false"]
    wall, cpu, _ = timed(cmd)
    return wall, cpu, json.loads((run / "metrics.json").read_text())["test.accuracy"]


def plain(csv_path, epochs, tmp):
    """One plain-script run: (wall, CPU, test accuracy, majority share)."""
    wall, cpu, out = timed([sys.executable, "-m", "benchmarks.plain_kerashub", csv_path,
                            str(epochs), tmp])
    res = json.loads(out.strip().splitlines()[-1])
    return wall, cpu, res["accuracy"], res["majority"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", default=str(ROOT / "examples/data/reviews.csv"))
    ap.add_argument("--rows", type=int, default=0, help="use the first N reviews (0: all)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--with-baseline", action="store_true")
    args = ap.parse_args()
    results = {"plain": [], "fixed": [], "grouped": []}
    with tempfile.TemporaryDirectory() as data_dir:
        csv_path = first_rows(args.csv, args.rows, Path(data_dir) / "reviews.csv")
        for r in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                p = plain(csv_path, args.epochs, tmp)
                results["plain"].append(p[:3])
                results["fixed"].append(ours(csv_path, args.epochs, tmp, False,
                                             args.with_baseline))
                results["grouped"].append(ours(csv_path, args.epochs, tmp, True,
                                               args.with_baseline))
            line = "; ".join(f"{k} {v[-1][0]:.1f} s wall / {v[-1][1]:.1f} s CPU "
                             f"(acc {v[-1][2]:.3f})" for k, v in results.items())
            print(f"repeat {r + 1}: {line}; majority {p[3]:.3f}", flush=True)
    med = {k: [statistics.median(run[i] for run in v) for i in range(3)]
           for k, v in results.items()}
    for name in ("fixed", "grouped"):
        target = 1.03 if name == "fixed" else 0.8
        print(f"{name:>7} / plain: wall ratio {med[name][0] / med['plain'][0]:.3f}, CPU ratio "
              f"{med[name][1] / med['plain'][1]:.3f} (target <= {target}); accuracy "
              f"{med[name][2]:.3f} vs {med['plain'][2]:.3f}")


if __name__ == "__main__":
    main()
