"""The baseline: plain hand-written Keras fine-tuning scripts (what ftstudio replaces).

Text (default): the earlier example recipe (the engine side of benchmarks/engine_vs_script.py
pins the same one): MiniLM, 64 tokens, masked-mean pooling, dropout 0.1, AdamW 5e-5 with 10%
warm-up and cosine decay, batch 32, fixed padding.
Images (``--image-dir``): MobileNetV2 (random weights, 160x160, global average pooling), Adam
1e-3, batch 32. Both use the seeded, stratified 80/10/10 split ftstudio uses (its
``split_indices``, so both sides train and test on the same rows) and validate every epoch.

Usage: python -m benchmarks.plain_kerashub CSV EPOCHS OUT_DIR [--mixed-precision]
       python -m benchmarks.plain_kerashub - EPOCHS OUT_DIR --image-dir DIR [--mixed-precision]
Prints one JSON line: accuracy, fit_s, total_s, epoch_s (each epoch's seconds, validation
included), train_samples, majority.
"""

import argparse
import json
import time

t0 = time.perf_counter()
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ftstudio.engine.data import split_indices  # noqa: E402  (the same split as ftstudio)

BATCH = 32


class EpochTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times, self._t = [], time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        self.times.append(now - self._t)
        self._t = now


def text_data_and_model(csv_path):
    import keras_hub
    import pandas as pd

    from ftstudio.engine.backbones import bundled_backbones  # only to find the folder

    preset = bundled_backbones()["minilm"].path
    df = pd.read_csv(csv_path).dropna(subset=["text", "label"])
    classes = sorted(df["label"].astype(str).unique())
    y = df["label"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
    x = tf.constant(df["text"].astype(str).to_numpy())
    pre = keras_hub.models.TextClassifierPreprocessor.from_preset(preset, sequence_length=64)
    backbone = keras_hub.models.Backbone.from_preset(preset)
    inputs = {k: keras.Input(shape=(64,), dtype="int32", name=k)
              for k in ("token_ids", "padding_mask", "segment_ids")}
    seq = backbone(inputs)["sequence_output"]
    mask = keras.ops.cast(inputs["padding_mask"], seq.dtype)[..., None]
    pooled = keras.ops.sum(seq * mask, axis=1) / keras.ops.maximum(
        keras.ops.sum(mask, axis=1), 1.0)
    out = keras.layers.Dense(len(classes), activation="softmax", dtype="float32")(
        keras.layers.Dropout(0.1)(pooled))
    return x, y, keras.Model(inputs, out), pre


def image_data_and_model(image_dir):
    from PIL import Image

    folder = __import__("pathlib").Path(image_dir)
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    paths = [(p, i) for i, c in enumerate(classes) for p in sorted((folder / c).iterdir())]
    x = np.stack([np.asarray(Image.open(p).convert("RGB").resize((160, 160)))
                  for p, _ in paths])
    y = np.array([i for _, i in paths])
    base = keras.applications.MobileNetV2(input_shape=(160, 160, 3), include_top=False,
                                          weights=None, pooling="avg")
    image = keras.Input((160, 160, 3))
    scaled = keras.layers.Rescaling(1 / 127.5, offset=-1)(image)
    out = keras.layers.Dense(len(classes), activation="softmax", dtype="float32")(
        base(scaled))
    return x, y, keras.Model(image, out), None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("epochs", type=int)
    ap.add_argument("out_dir")
    ap.add_argument("--image-dir")
    ap.add_argument("--mixed-precision", action="store_true")
    args = ap.parse_args()
    keras.utils.set_random_seed(42)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")
    if args.image_dir:
        x, y, model, pre = image_data_and_model(args.image_dir)
    else:
        x, y, model, pre = text_data_and_model(args.csv)
    split = split_indices(len(y), y, [0.8, 0.1, 0.1], 42)
    tr, va, te = split["train"], split["val"], split["test"]

    def ds(ix, shuffle):
        d = tf.data.Dataset.from_tensor_slices((tf.gather(x, ix), y[ix]))
        if shuffle:
            d = d.shuffle(len(ix), seed=42)
        d = d.batch(BATCH)
        if pre is not None:
            d = d.map(lambda t, lab: (pre(t), lab), num_parallel_calls=tf.data.AUTOTUNE)
        else:
            d = d.map(lambda im, lab: (tf.cast(im, tf.float32), lab))
        return d.prefetch(tf.data.AUTOTUNE)

    steps = int(np.ceil(len(tr) / BATCH)) * args.epochs
    if pre is not None:
        lr = keras.optimizers.schedules.CosineDecay(
            0.0, steps - int(0.1 * steps), warmup_target=5e-5, warmup_steps=int(0.1 * steps))
        optimizer = keras.optimizers.AdamW(lr, weight_decay=0.01)
    else:
        optimizer = keras.optimizers.Adam(1e-3)
    model.compile(optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = EpochTimes()
    t_fit = time.perf_counter()
    model.fit(ds(tr, True), validation_data=ds(va, False), epochs=args.epochs, verbose=0,
              callbacks=[timer])
    fit_s = time.perf_counter() - t_fit
    probs = model.predict(ds(te, False), verbose=0)
    acc = float((probs.argmax(1) == y[te]).mean())
    model.save(f"{args.out_dir}/model.keras")
    print(json.dumps({"accuracy": acc, "fit_s": fit_s, "total_s": time.perf_counter() - t0,
                      "epoch_s": timer.times, "train_samples": int(len(tr)),
                      "majority": float(np.bincount(y[te]).max() / len(te))}))


if __name__ == "__main__":
    main()
