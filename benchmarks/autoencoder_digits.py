"""Autoencoder pretraining vs training from scratch, with 5% of the labels (scikit-learn digits).

For each seed:

1. the 1,797 digit images are written as 8x8 grayscale PNGs into one flat folder (no labels);
2. ``ftstudio.engine.autoencoder.pretrain`` trains the denoising autoencoder of the spec
   below (dense: 64 pixels -> 1024 -> 128-d code, Gaussian input noise) on ALL of them and
   saves its encoder to a (temporary) model library;
3. 5% of the images (stratified, seeded: 89 images, 8-9 per class) get their labels; the
   library encoder + a softmax head is fine-tuned on them (all layers trainable);
4. the SAME architecture (the encoder built by ``build_autoencoder`` with fresh random
   weights + the same head) is trained from scratch on the same 90 images, same seed, same
   recipe;
5. both are scored on the other 95% of the images.

Run: ``python -m benchmarks.autoencoder_digits [--seeds 10] [--epochs 100]``. Prints per-seed
accuracies, their means, and the paired difference. Nothing touches the user's library (a
temporary FTSTUDIO_HOME is used) or the network.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# The pretraining recipe (an ftstudio PretrainSpec); data.image_dir and seed are filled in.
RECIPE = {
    "kind": "dense",
    "encoder_units": [1024],
    "latent_dim": 128,
    "noise": 0.5,
    "noise_type": "gaussian",
    "image_size": [8, 8],
    "channels": 1,
    "epochs": 60,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "val_fraction": 0.0,
}
CONV_RECIPE = {"kind": "conv", "encoder_units": [64, 128], "latent_dim": 0, "noise": 0.3,
               "noise_type": "dropout", "epochs": 40}
"""The convolutional alternative (``--kind conv``)."""
LABEL_FRACTION = 0.05


def write_digits(folder: Path) -> tuple[list[Path], list[int]]:
    """Write the digits as PNGs (0..16 ink scaled to 0..255); return paths and labels."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(digits.images):
        path = folder / f"digit_{i:04d}.png"
        Image.fromarray(np.clip(image * 255.0 / 16.0, 0, 255).round().astype(np.uint8)).save(
            path)
        paths.append(path)
    return paths, [int(t) for t in digits.target]


def fine_tune(encoder, x, y, train_idx, test_idx, seed: int, epochs: int, lr: float,
              dropout: float) -> float:
    """Encoder + flatten + dropout + softmax, every layer trainable; test accuracy."""
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input(x.shape[1:], name="pixels")
    z = keras.layers.Flatten(name="flatten")(encoder(inp))
    z = keras.layers.Dropout(dropout, seed=seed, name="dropout")(z)
    out = keras.layers.Dense(10, activation="softmax", name="digit")(z)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[train_idx], y[train_idx], epochs=epochs, batch_size=16, shuffle=True,
              verbose=0)
    return float(model.evaluate(x[test_idx], y[test_idx], verbose=0)[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="number of seeds (0..n-1)")
    parser.add_argument("--epochs", type=int, default=100, help="fine-tune epochs")
    parser.add_argument("--lr", type=float, default=1e-3, help="fine-tune learning rate")
    parser.add_argument("--dropout", type=float, default=0.2, help="head dropout")
    parser.add_argument("--pretrain-epochs", type=int, default=RECIPE["epochs"])
    parser.add_argument("--kind", choices=["dense", "conv"], default=RECIPE["kind"],
                        help="autoencoder kind (conv: encoder_units [64, 128], latent 0, "
                             "masking noise 0.3, 40 epochs)")
    args = parser.parse_args(argv)

    recipe = dict(RECIPE, epochs=args.pretrain_epochs)
    if args.kind == "conv":
        recipe.update(CONV_RECIPE)
        if args.pretrain_epochs == RECIPE["epochs"]:
            recipe["epochs"] = CONV_RECIPE["epochs"]
    with tempfile.TemporaryDirectory(prefix="ftstudio-bench-") as tmp:
        os.environ["FTSTUDIO_HOME"] = str(Path(tmp) / "home")
        import keras
        import numpy as np
        from sklearn.model_selection import train_test_split

        from ftstudio.engine import autoencoder, library
        from ftstudio.spec import DataSpec, PretrainSpec

        folder = Path(tmp) / "digits"
        _, labels = write_digits(folder)
        y = np.asarray(labels)
        rows = []
        print(f"digits: {len(y)} images; labels used for fine-tuning: "
              f"{LABEL_FRACTION:.0%} per seed; pretraining: {recipe}; fine-tuning: Adam "
              f"{args.lr:g}, {args.epochs} epochs, batch 16, head dropout {args.dropout:g}")
        print("seed  labelled  pretrained  scratch   diff   (AE loss, seconds)")
        for seed in range(args.seeds):
            t0 = time.monotonic()
            spec = PretrainSpec(data=DataSpec(image_dir=str(folder)), seed=seed,
                                save_as=f"digits-ae-{seed}", **recipe)
            result = autoencoder.pretrain(spec)
            x = autoencoder.load_unlabelled(spec).x  # same files, same order, in [0, 1]
            train_idx, test_idx = train_test_split(
                np.arange(len(y)), train_size=LABEL_FRACTION, stratify=y, random_state=seed)
            pre = keras.saving.load_model(library.resolve_entry(result.entry_name).path,
                                          compile=False, safe_mode=True)
            keras.utils.set_random_seed(seed)
            _, scratch = autoencoder.build_autoencoder(spec, tuple(x.shape[1:]))
            acc_pre = fine_tune(pre, x, y, train_idx, test_idx, seed, args.epochs, args.lr,
                                args.dropout)
            acc_scratch = fine_tune(scratch, x, y, train_idx, test_idx, seed, args.epochs,
                                    args.lr, args.dropout)
            rows.append((acc_pre, acc_scratch))
            print(f"{seed:>4}  {len(train_idx):>8}  {acc_pre:>10.4f}  {acc_scratch:>7.4f}  "
                  f"{acc_pre - acc_scratch:+.4f}  ({result.history[-1]['loss']:.4f}, "
                  f"{time.monotonic() - t0:.0f}s)", flush=True)
            keras.backend.clear_session()
        pre_mean = statistics.fmean(r[0] for r in rows)
        scratch_mean = statistics.fmean(r[1] for r in rows)
        diffs = [r[0] - r[1] for r in rows]
        sd = statistics.stdev(diffs) if len(diffs) > 1 else 0.0
        wins = sum(d > 0 for d in diffs)
        print(f"mean accuracy over {len(rows)} seeds: pretrained {pre_mean:.4f}, "
              f"from scratch {scratch_mean:.4f}; paired difference {pre_mean - scratch_mean:+.4f}"
              f" (sd {sd:.4f}); pretrained ahead on {wins}/{len(rows)} seeds")
        print(f"ratio pretrained/scratch accuracy: {pre_mean / scratch_mean:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
