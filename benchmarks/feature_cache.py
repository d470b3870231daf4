"""Benchmark 2: 10 head epochs on a frozen MiniLM, with the feature cache and without it.

Trains the review CSV's classifier on the bundled MiniLM with the whole backbone frozen
(``freeze.mode: all``, 64 tokens, batch 32, mean pooling, dropout 0.1) twice, each in a fresh
process: ``cached`` (``training.cache_features: auto``: the backbone runs once, then the
head trains on its features) and ``uncached`` (``off``: the backbone runs in every step). It
prints the time of the fit (from the phase's compile to its last epoch; the cached one
includes computing the features), the whole ``train()`` wall time, the ratios
cached / uncached (target for the fit: <= 0.15) and both validation accuracies (they differ a
little: a frozen BERT's own dropout is active in an uncached training step, not in the
cache's inference-mode features). The runs skip the linear-probe baseline.

Usage: python -m benchmarks.feature_cache [--csv examples/data/reviews.csv] [--epochs 10]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(mode, csv_path, epochs, out):
    """Train once in this process; print one JSON line of timings."""
    from ftstudio.engine.reporting import BaseReporter
    from ftstudio.engine.training import train
    from ftstudio.spec import ExperimentSpec

    marks = {}

    class Timing(BaseReporter):
        def status(self, text):
            if text.startswith("Compiling the model for phase") and "fit_start" not in marks:
                marks["fit_start"] = time.perf_counter()
            if text.startswith("Computing the backbone features"):
                marks["computing"] = time.perf_counter()
            if text.startswith("Cached backbone features"):
                marks["features"] = time.perf_counter()

        def train_end(self, logs):
            marks["fit_end"] = time.perf_counter()

    spec = ExperimentSpec.from_dict({
        "name": f"cache-{mode}",
        "data": {"path": str(Path(csv_path).resolve()), "text_column": "text",
                 "label_column": "label"},
        "backbone": {"source": "library", "name": "minilm", "sequence_length": 64},
        "head": {"pooling": "mean", "dropout": 0.1},
        "freeze": {"mode": "all"},
        "training": {"epochs": epochs, "batch_size": 32, "optimizer": "adam",
                     "learning_rate": 1e-3, "baseline": False,
                     "cache_features": "auto" if mode == "cached" else "off"}})
    started = time.perf_counter()
    result = train(spec, Timing(), out_dir=out)
    wall = time.perf_counter() - started
    env = json.loads((result.run_dir / "env.json").read_text())
    features_end = marks.get("features", marks["fit_start"])
    print(json.dumps({"mode": mode, "fit_s": marks["fit_end"] - marks["fit_start"],
                      "features_s": features_end - marks.get("computing", features_end),
                      "train_s": wall,
                      "val_accuracy": result.metrics.get("val.accuracy"),
                      "cache": env.get("feature_cache")}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", default=str(ROOT / "examples" / "data" / "reviews.csv"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--child", choices=["cached", "uncached"])
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.csv, args.epochs, args.out)
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("cached", "uncached"):
            cmd = [sys.executable, "-m", "benchmarks.feature_cache", "--child", mode,
                   "--csv", args.csv, "--epochs", str(args.epochs), "--out", f"{tmp}/{mode}"]
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{mode} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
            results[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    c, u = results["cached"], results["uncached"]
    print(f"{args.epochs} head epochs on a frozen MiniLM ({Path(args.csv).name}):")
    print(f"  cached:   fit {c['fit_s']:7.1f} s (computing the features once: "
          f"{c['features_s']:.1f} s), train() {c['train_s']:7.1f} s, "
          f"val accuracy {c['val_accuracy']:.3f}")
    print(f"  uncached: fit {u['fit_s']:7.1f} s, train() {u['train_s']:7.1f} s, "
          f"val accuracy {u['val_accuracy']:.3f}")
    print(f"  cache record (env.json): {c['cache']}")
    print(f"ratio cached / uncached: fit {c['fit_s'] / u['fit_s']:.3f} (target <= 0.15), "
          f"train() {c['train_s'] / u['train_s']:.3f}")


if __name__ == "__main__":
    main()
