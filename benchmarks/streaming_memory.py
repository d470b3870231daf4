"""Peak memory of a streamed training run as rows grow, and the speed of the streaming reader.

Generates a numeric CSV of 1,000,000 rows and one of 10,000 rows (8 features, 3 classes) in a
temp folder, trains one epoch of a tiny MLP (``data.streaming: on``, batch 1024) on each in a
fresh child process, and prints each child's peak RSS and their ratio (target <= 1.5: memory
stays flat as rows grow). Then times, on the 1M-row file, the streaming first pass
(checking every row), reading the rows back in chunks, and ``pandas.read_csv`` of the whole
file, in rows per second.

Usage: python -m benchmarks.streaming_memory [--rows 1000000] [--small 10000]
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FEATURES = 8


def write_csv(path, rows, seed=0, chunk=200_000):
    """A labelled numeric CSV: f0..f7 standard normal, label from f0 + 0.5 f1 (3 classes)."""
    rng = np.random.default_rng(seed)
    with open(path, "w") as fh:
        fh.write(",".join(f"f{i}" for i in range(FEATURES)) + ",label\n")
        for start in range(0, rows, chunk):
            x = rng.normal(size=(min(chunk, rows - start), FEATURES))
            score = x[:, 0] + 0.5 * x[:, 1]
            label = np.where(score > 0.3, "high", np.where(score < -0.3, "low", "mid"))
            lines = [",".join(f"{v:.4f}" for v in r) + f",{lab}\n"
                     for r, lab in zip(x, label, strict=True)]
            fh.write("".join(lines))
    return path


def spec_dict(path):
    return {"name": "stream", "data": {"path": str(path), "streaming": "on",
                                       "feature_columns": [f"f{i}" for i in range(FEATURES)],
                                       "label_column": "label"},
            "backbone": {"source": "none"}, "head": {"layers": [{"type": "dense", "units": 16}]},
            "training": {"epochs": 1, "batch_size": 1024, "optimizer": "adam",
                         "learning_rate": 0.01, "seed": 0}}


def child(csv_path, out_dir):
    """Train once and print the peak RSS of this process (KiB on Linux) as JSON."""
    from ftstudio.config import quiet_tensorflow_logs

    quiet_tensorflow_logs("2")
    from ftstudio.engine.training import train
    from ftstudio.spec import ExperimentSpec

    started = time.perf_counter()
    result = train(ExperimentSpec.from_dict(spec_dict(csv_path)), out_dir=out_dir)
    print(json.dumps({"peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "seconds": round(time.perf_counter() - started, 1),
                      "test_accuracy": result.metrics.get("test.accuracy")}))


def run_child(csv_path, out_dir):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.streaming_memory", "--child",
                           str(csv_path), str(out_dir)], cwd=ROOT, capture_output=True,
                          text=True)
    if proc.returncode:
        sys.exit(f"child failed on {csv_path}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def reader_speed(csv_path, rows):
    """Rows per second: our first pass, our chunked read-back, pandas.read_csv."""
    import pandas as pd

    from ftstudio.engine.data import iter_split_inputs, load_data
    from ftstudio.spec import ExperimentSpec

    spec = ExperimentSpec.from_dict(spec_dict(csv_path))
    t = time.perf_counter()
    data = load_data(spec, stream=True)
    scan = time.perf_counter() - t
    t = time.perf_counter()
    n = sum(len(x) for x in iter_split_inputs(data, np.arange(len(data.row_ids))))
    read = time.perf_counter() - t
    assert n == rows, n
    t = time.perf_counter()
    frame = pd.read_csv(csv_path)
    pandas = time.perf_counter() - t
    assert len(frame) == rows
    return {"first_pass_rows_per_s": round(rows / scan), "read_back_rows_per_s": round(rows / read),
            "pandas_read_csv_rows_per_s": round(rows / pandas)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=10_000)
    ap.add_argument("--child", nargs=2, metavar=("CSV", "OUT"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big = write_csv(tmp / "big.csv", args.rows)
        small = write_csv(tmp / "small.csv", args.small, seed=1)
        print(f"files: {args.rows:,} rows {big.stat().st_size / 2**20:.1f} MiB, "
              f"{args.small:,} rows {small.stat().st_size / 2**20:.2f} MiB")
        results = {}
        for name, path in (("small", small), ("big", big)):
            results[name] = run_child(path, tmp / f"run-{name}")
            r = results[name]
            print(f"{name}: peak RSS {r['peak_rss_kib'] / 1024:.0f} MiB, {r['seconds']} s, "
                  f"test accuracy {r['test_accuracy']}")
        ratio = results["big"]["peak_rss_kib"] / results["small"]["peak_rss_kib"]
        print(f"peak RSS ratio {args.rows:,} / {args.small:,} rows: {ratio:.2f}x "
              f"(target <= 1.5)")
        speed = reader_speed(big, args.rows)
        print(f"reader on {args.rows:,} rows: first pass {speed['first_pass_rows_per_s']:,} "
              f"rows/s, read-back {speed['read_back_rows_per_s']:,} rows/s, pandas.read_csv "
              f"{speed['pandas_read_csv_rows_per_s']:,} rows/s")
        print(json.dumps({"rss_ratio": round(ratio, 3), **results, **speed}))


if __name__ == "__main__":
    main()
