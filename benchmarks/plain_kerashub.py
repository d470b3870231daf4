"""The baseline: a plain hand-written keras-hub fine-tuning script (what ftstudio replaces).

Same recipe as examples/text_classification.json: MiniLM, 64 tokens, masked-mean pooling,
dropout 0.1, AdamW 5e-5 with 10% warm-up and cosine decay, batch 32, seeded 80/10/10 split.
Usage: python -m benchmarks.plain_kerashub CSV EPOCHS OUT_DIR
"""

import json
import sys
import time

t0 = time.perf_counter()
import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from ftstudio.engine.backbones import bundled_backbones  # noqa: E402  (only to find the folder)

csv_path, epochs, out_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
keras.utils.set_random_seed(42)
preset = bundled_backbones()["minilm"].path

df = pd.read_csv(csv_path).dropna(subset=["text", "label"])
classes = sorted(df["label"].astype(str).unique())
y = df["label"].astype(str).map({c: i for i, c in enumerate(classes)}).to_numpy()
x = df["text"].astype(str).to_numpy()
idx = np.arange(len(df))
tr, rest = train_test_split(idx, test_size=0.2, stratify=y, random_state=42)
va, te = train_test_split(rest, test_size=0.5, stratify=y[rest], random_state=42)

pre = keras_hub.models.TextClassifierPreprocessor.from_preset(preset, sequence_length=64)
backbone = keras_hub.models.Backbone.from_preset(preset)


def ds(ix, shuffle):
    d = tf.data.Dataset.from_tensor_slices((tf.constant(x[ix]), y[ix]))
    if shuffle:
        d = d.shuffle(len(ix), seed=42)
    return d.batch(32).map(lambda t, lab: (pre(t), lab), num_parallel_calls=tf.data.AUTOTUNE) \
        .prefetch(tf.data.AUTOTUNE)


inputs = {k: keras.Input(shape=(64,), dtype="int32", name=k)
          for k in ("token_ids", "padding_mask", "segment_ids")}
seq = backbone(inputs)["sequence_output"]
mask = keras.ops.cast(inputs["padding_mask"], seq.dtype)[..., None]
pooled = keras.ops.sum(seq * mask, axis=1) / keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)
out = keras.layers.Dense(len(classes), activation="softmax")(keras.layers.Dropout(0.1)(pooled))
model = keras.Model(inputs, out)
steps = int(np.ceil(len(tr) / 32)) * epochs
lr = keras.optimizers.schedules.CosineDecay(0.0, steps - int(0.1 * steps),
                                            warmup_target=5e-5, warmup_steps=int(0.1 * steps))
model.compile(keras.optimizers.AdamW(lr, weight_decay=0.01),
              loss="sparse_categorical_crossentropy", metrics=["accuracy"])
t_fit = time.perf_counter()
model.fit(ds(tr, True), validation_data=ds(va, False), epochs=epochs, verbose=0)
fit_s = time.perf_counter() - t_fit
probs = model.predict(ds(te, False), verbose=0)
acc = float((probs.argmax(1) == y[te]).mean())
model.save(f"{out_dir}/model.keras")
print(json.dumps({"accuracy": acc, "fit_s": fit_s, "total_s": time.perf_counter() - t0,
                  "majority": float(np.bincount(y[te]).max() / len(te))}))
