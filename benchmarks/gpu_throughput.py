"""Benchmark 5: training throughput on an NVIDIA GPU, ftstudio against plain Keras scripts.

For MiniLM (the review CSV, repeated to ``--text-rows``) and MobileNetV2 (random weights,
160x160, a generated two-class image folder of ``--images`` pictures) it measures samples per
second of training (steady-state epochs: the first, which compiles, is left out; validation
included on both sides) of:

- ftstudio with mixed precision (``training.mixed_precision=on``; XLA and steps per execution
  as chosen automatically on a GPU),
- the plain script of benchmarks/plain_kerashub.py with ``mixed_float16``,
- ftstudio with mixed precision off,

each in a fresh process, and prints ours/plain (target >= 0.95) and mixed on/off.
On a machine without a GPU it says so and exits 0 (``--allow-cpu`` runs it anyway with tiny
sizes, to check the script itself).

Usage: python -m benchmarks.gpu_throughput [--epochs 3] [--text-rows 8000] [--images 2000]
"""

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT_SPEC = ROOT / "examples/text_classification.json"


def gpu_count():
    """GPUs TensorFlow sees and what trains here (``GPU: …`` or ``CPU (why)``), asked in a
    child so this process never holds GPU memory."""
    probe = ("import json, tensorflow as tf; from ftstudio.engine.devices import machine_device;"
             " print(json.dumps([len(tf.config.list_physical_devices('GPU')), "
             "machine_device()]))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True)
    if out.returncode:
        sys.exit(f"TensorFlow does not start here:\n{out.stderr[-2000:]}")
    count, device = json.loads(out.stdout.strip().splitlines()[-1])
    return count, device


def repeated_reviews(rows, out):
    with open(ROOT / "examples/data/reviews.csv", newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header, body = next(reader), list(reader)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for i in range(rows):
            writer.writerow(body[i % len(body)])
    return out


def image_folder(n, folder, size=160):
    """Two classes of noise pictures with a red or a blue square (PNG)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, color in (("red", (220, 40, 40)), ("blue", (40, 40, 220))):
        (folder / c).mkdir(parents=True)
        for i in range(n // 2):
            pixels = rng.integers(0, 90, (size, size, 3)).astype(np.uint8)
            pixels[size // 4:3 * size // 4, size // 4:3 * size // 4] = color
            Image.fromarray(pixels).save(folder / c / f"{i}.png")
    return folder


def our_spec(kind, data, epochs, mixed):
    if kind == "text":
        spec = json.loads(TEXT_SPEC.read_text())
        spec["data"]["path"] = str(data)
        spec["freeze"]["head_first_epochs"] = 0  # time the full fine-tune alone
        spec["training"]["learning_rate"] = 1e-4
    else:
        spec = {"name": "images", "data": {"image_dir": str(data), "label_column": "label"},
                "backbone": {"source": "applications", "name": "MobileNetV2",
                             "image_size": [160, 160], "preprocessing": "scale_-1_1"},
                "head": {"pooling": "avg"},
                "training": {"optimizer": "adam", "learning_rate": 1e-3}}
    spec["training"].update({"epochs": epochs, "batch_size": 32, "baseline": False,
                             "mixed_precision": "on" if mixed else "off"})
    return spec


def child(spec_path, out):
    """Train one spec in this process; print its epoch times and training samples."""
    from ftstudio.engine.reporting import BaseReporter
    from ftstudio.engine.training import train
    from ftstudio.spec import ExperimentSpec

    class Timer(BaseReporter):
        def train_begin(self, info):
            self.samples, self.times, self.t = info["train_samples"], [], time.perf_counter()

        def epoch_end(self, epoch, logs):
            now = time.perf_counter()
            self.times.append(now - self.t)
            self.t = now

        def status(self, text):
            if text.startswith("Training on"):
                print(text, file=sys.stderr)

    timer = Timer()
    result = train(ExperimentSpec.from_dict(json.loads(Path(spec_path).read_text())), timer,
                   out_dir=out)
    print(json.dumps({"epoch_s": timer.times, "train_samples": timer.samples,
                      "accuracy": result.metrics.get("test.accuracy")}))


def run_json(cmd):
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    device = [line for line in proc.stderr.splitlines() if line.startswith("Training on")]
    return json.loads(proc.stdout.strip().splitlines()[-1]), (device or [""])[0]


def samples_per_s(res):
    steady = res["epoch_s"][1:] or res["epoch_s"]
    return res["train_samples"] / statistics.median(steady)


def measure(kind, data, epochs, tmp):
    spec_on, spec_off = (Path(tmp) / f"{kind}-{m}.json" for m in ("on", "off"))
    spec_on.write_text(json.dumps(our_spec(kind, data, epochs, True)))
    spec_off.write_text(json.dumps(our_spec(kind, data, epochs, False)))
    me = [sys.executable, "-m", "benchmarks.gpu_throughput", "--child"]
    ours_on, device = run_json([*me, str(spec_on), str(Path(tmp) / f"{kind}-on")])
    plain_cmd = [sys.executable, "-m", "benchmarks.plain_kerashub",
                 str(data) if kind == "text" else "-", str(epochs), tmp, "--mixed-precision"]
    if kind == "image":
        plain_cmd += ["--image-dir", str(data)]
    plain, _ = run_json(plain_cmd)
    ours_off, _ = run_json([*me, str(spec_off), str(Path(tmp) / f"{kind}-off")])
    on, base, off = samples_per_s(ours_on), samples_per_s(plain), samples_per_s(ours_off)
    name = "MiniLM" if kind == "text" else "MobileNetV2"
    print(f"{name}: {device}")
    print(f"  ftstudio mixed {on:8.1f} samples/s (acc {ours_on['accuracy']:.3f})")
    print(f"  plain    mixed {base:8.1f} samples/s (acc {plain['accuracy']:.3f})")
    print(f"  ftstudio fp32  {off:8.1f} samples/s (acc {ours_off['accuracy']:.3f})")
    print(f"  ours/plain {on / base:.3f} (target >= 0.95); mixed on/off {on / off:.2f}x",
          flush=True)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--text-rows", type=int, default=8000)
    ap.add_argument("--images", type=int, default=2000)
    ap.add_argument("--allow-cpu", action="store_true",
                    help="run without a GPU (tiny sizes: checks the script, measures nothing)")
    args = ap.parse_args()
    count, device = gpu_count()
    if not count and not args.allow_cpu:
        print(f"benchmark 5 needs an NVIDIA GPU; this machine trains on {device}. "
              f"Nothing measured.")
        return
    if not count:
        args.text_rows, args.images, args.epochs = 120, 40, 2
    with tempfile.TemporaryDirectory() as tmp:
        reviews = repeated_reviews(args.text_rows, Path(tmp) / "reviews.csv")
        images = image_folder(args.images, Path(tmp) / "images")
        measure("text", reviews, args.epochs, tmp)
        measure("image", images, args.epochs, tmp)


if __name__ == "__main__":
    main()
