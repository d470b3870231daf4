"""The text of the standalone script ``ftstudio script RUN`` writes (see ``script_gen``).

One template for every kind of run: tabular MLPs, text on a keras-hub preset folder and
images on a ``.keras`` / ``.h5`` model file. ``script_gen`` fills in ``__NOTES__`` (what the
script does not reproduce), ``__SCHEDULE__`` (the engine's warm-up schedule class) and
``__SETTINGS__`` (the resolved spec, the split and the backbone's files, as JSON) and, for
runs with per-variable learning rates, ``__OPTIMIZERS__`` (the engine's ``Scaled*``
optimizers; the ``# [scaled]`` sections are dropped otherwise) and, for gradual unfreezing,
``__CARRY__`` (the engine's ``carry_state``; ``# [stages]`` sections).

Lines between ``# [image]`` and ``# [/image]`` (or ``text``) are kept only in the scripts of
that kind of run, so a script imports only what its run needs.

Stdlib only: nothing here is imported by the script itself.
"""

from __future__ import annotations

__all__ = ["SCRIPT_TEMPLATE"]

SCRIPT_TEMPLATE = r'''#!/usr/bin/env python3
"""Reproduces an ftstudio run with Keras (+ keras-hub, numpy, pandas, Pillow), no ftstudio.

Written by `ftstudio script`. Run it with `python THIS_FILE`: it trains the run's model on the
run's own split (same backbone, freezing, head, optimizer, schedule, epochs, batch size, seed)
and prints the test metrics as JSON. Keras shuffles the batches its own way, so the numbers
match the run's within noise, not to the last digit.

Not reproduced:
__NOTES__
"""

from __future__ import annotations

import json
import math
from typing import Any

import keras
import numpy as np
import pandas as pd
from keras import ops

SETTINGS = json.loads(r"""__SETTINGS__""")
SPEC = SETTINGS["spec"]
BACKBONE = SETTINGS["backbone"]


__SCHEDULE__
# [scaled]


__OPTIMIZERS__
# [/scaled]
# [stages]


__CARRY__
# [/stages]


def class_name(value):
    """A label cell as a class name (as ftstudio reads it: 1.0 -> "1", text stripped)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value).strip()


# [image]
def read_images(paths):
    """Decode image files as ftstudio does: upright (EXIF), RGB / grey, bilinear resize."""
    from PIL import Image, ImageOps

    h, w, c = BACKBONE["image_shape"]
    mode = "RGB" if c == 3 else "L"
    out = np.empty((len(paths), h, w, c), dtype=np.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as im:
            if im.format == "JPEG":
                im.draft(mode, (max(h, w), max(h, w)))
            img = ImageOps.exif_transpose(im) or im
            if img.mode == "P" and "transparency" in img.info:
                img = img.convert("RGBA")
            if img.mode != mode:
                img = img.convert(mode)
            if img.size != (w, h):
                img = img.resize((w, h), Image.Resampling.BILINEAR)
            out[i] = np.asarray(img, dtype=np.uint8).reshape(h, w, c)
    return out.astype("float32")


# [/image]
# [text]
def tokenise(preprocessor, texts, keys):
    """The preprocessor's token arrays for ``texts``, in chunks."""
    parts = {k: [] for k in keys}
    for start in range(0, len(texts), 512):
        out = preprocessor(list(texts[start:start + 512]))
        for k in keys:
            parts[k].append(np.asarray(out[k]))
    return {k: np.concatenate(v) for k, v in parts.items()}


# [/text]
def load_splits(preprocessor, keys):
    """The run's train / val / test examples: model inputs and one target array per output."""
    modality = SETTINGS["modality"]
# [image]
    if modality == "image":
        return {split: (read_images(rows["paths"]),
                        {k: np.asarray(v) for k, v in rows["targets"].items()})
                for split, rows in SETTINGS["images"].items()}
# [/image]
    reading = SETTINGS["reading"]
    frame = pd.read_csv(reading["path"], sep=reading["sep"], encoding=reading["encoding"],
                        skiprows=reading["skiprows"], engine="python")
    splits = {}
    for split, positions in SETTINGS["positions"].items():
        rows = frame.iloc[positions]
        if modality == "tabular":
            x = rows[SPEC["data"]["feature_columns"]].to_numpy(dtype="float32")
# [text]
        else:
            x = tokenise(preprocessor, [str(v) for v in rows[SPEC["data"]["text_column"]]], keys)
# [/text]
        y = {}
        for out in SPEC["head"]["outputs"]:
            column = out["label_column"] or SPEC["data"]["label_column"]
            if out["task"] == "classification":
                index = {name: i for i, name in enumerate(SETTINGS["classes"][out["name"]])}
                y[out["name"]] = np.array([index[class_name(v)] for v in rows[column]])
            else:
                y[out["name"]] = rows[column].to_numpy(dtype="float32")
        splits[split] = (x, y)
    return splits


def load_backbone():
    """The backbone model and, for text, its preprocessor (None, None without a backbone)."""
    kind = BACKBONE["kind"]
    if kind == "none":
        return None, None
# [text]
    if kind == "hub":
        import keras_hub

        base = keras_hub.models.Backbone.from_preset(BACKBONE["path"])
        if BACKBONE["lora_rank"]:
            base.enable_lora(BACKBONE["lora_rank"])
        preprocessor = keras_hub.models.TextClassifierPreprocessor.from_preset(
            BACKBONE["path"], sequence_length=BACKBONE["sequence_length"])
        return base, preprocessor
# [/text]
# [image]
    base = keras.saving.load_model(BACKBONE["path"], compile=False)
    if BACKBONE["weights"]:
        base.load_weights(BACKBONE["weights"])
    if BACKBONE["submodel"]:
        base = next(m for m in all_layers(base) if isinstance(m, keras.Model)
                    and m.name == BACKBONE["submodel"])
    if BACKBONE["cut_layer"]:
        layer = base.get_layer(BACKBONE["cut_layer"])
        base = keras.Model(base.input, layer.output, name=f"{base.name}_to_{layer.name}")
    shape = tuple(BACKBONE["image_shape"])
    fixed = tuple(base.inputs[0].shape[1:3])
    if None not in fixed and fixed != shape[:2]:  # backbone.image_size: same weights, new size
        clone = keras.models.clone_model(
            base, input_tensors=keras.Input(shape=shape, name=base.inputs[0].name))
        clone.set_weights(base.get_weights())
        base = clone
    return base, None
# [/image]


# [image]
class Pixels(keras.layers.Layer):
    """Scales raw pixels 0..255 the way the backbone was trained (ftstudio's rule)."""

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode

    def call(self, x):
        x = ops.cast(x, self.compute_dtype)
        if self.mode == "scale_0_1":
            return x / 255.0
        if self.mode == "scale_-1_1":
            return x / 127.5 - 1.0
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor([103.939, 116.779, 123.68])
        if self.mode == "torch":
            mean = ops.convert_to_tensor([0.485, 0.456, 0.406])
            return (x / 255.0 - mean) / ops.convert_to_tensor([0.229, 0.224, 0.225])
        return x


# [/image]
def trunk(base, x_train):
    """The model's inputs and the pooled features the head sits on."""
    pooling = SPEC["head"]["pooling"]
    if SETTINGS["modality"] == "tabular":
        inputs = keras.Input(shape=(x_train.shape[1],), name="features")
        return inputs, keras.layers.Normalization(
            mean=x_train.mean(axis=0), variance=x_train.var(axis=0), name="normalization")(inputs)
# [image]
    if SETTINGS["modality"] == "image":
        inputs = keras.Input(shape=tuple(BACKBONE["image_shape"]), name="image")
        x = base(Pixels(BACKBONE["preprocessing"], name="image_preprocess")(inputs))
        if len(x.shape) == 2:
            return inputs, x
        if pooling == "flatten" or len(x.shape) not in (3, 4):
            return inputs, keras.layers.Flatten(name="pooling")(x)
        glob = {(4, "max"): keras.layers.GlobalMaxPooling2D, (3, "max"): keras.layers.
                GlobalMaxPooling1D, (3, "avg"): keras.layers.GlobalAveragePooling1D}
        layer = glob.get((len(x.shape), pooling), keras.layers.GlobalAveragePooling2D
                         if len(x.shape) == 4 else keras.layers.GlobalAveragePooling1D)
        return inputs, layer(name="pooling")(x)
# [/image]
# [text]
    inputs = {k: keras.Input(shape=(BACKBONE["sequence_length"],), name=k,
                             dtype="bool" if k == "padding_mask" else "int32")
              for k in base.input}
    out = base(inputs)
    sequence, pooled = (out.get("sequence_output"), out.get("pooled_output")) \
        if isinstance(out, dict) else (out, None)
    if pooling == "pooled":
        return inputs, pooled
    if pooling == "cls":
        return inputs, keras.layers.Lambda(lambda s: s[:, 0, :], name="pooling")(sequence)
    if "padding_mask" in inputs:
        mask = ops.expand_dims(ops.cast(inputs["padding_mask"], sequence.dtype), -1)
        pooled = ops.sum(sequence * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
        return inputs, keras.layers.Identity(name="pooling")(pooled)
    return inputs, keras.layers.GlobalAveragePooling1D(name="pooling")(sequence)
# [/text]


def build_model(base, x_train):
    """Inputs, scaling, backbone, pooling, the head layers, one Dense per output."""
    head = SPEC["head"]
    inputs, x = trunk(base, x_train)
    if head["dropout"] > 0:
        x = keras.layers.Dropout(head["dropout"], name="head_dropout")(x)
    for i, layer in enumerate(head["layers"]):
        if layer["type"] == "dense":
            reg = keras.regularizers.L1L2(l1=layer["l1"], l2=layer["l2"]) \
                if layer["l1"] > 0 or layer["l2"] > 0 else None
            act = None if layer["activation"] in ("", "linear", "none") else layer["activation"]
            x = keras.layers.Dense(layer["units"], activation=act, kernel_regularizer=reg,
                                   name=f"head_{i}_dense")(x)
        elif layer["type"] == "dropout":
            x = keras.layers.Dropout(layer["rate"], name=f"head_{i}_dropout")(x)
        else:
            x = keras.layers.BatchNormalization(name=f"head_{i}_batch_norm")(x)
    outputs, losses, metrics, weights = {}, {}, {}, {}
    for out in head["outputs"]:
        name = out["name"]
        weights[name] = out["loss_weight"]
        if out["task"] == "regression":
            units, act = 1, "linear"
            losses[name], metrics[name] = "mse", ["mae"]
        else:
            n = len(SETTINGS["classes"][name])
            act = "softmax" if out["activation"] == "auto" else out["activation"]
            units = 1 if act == "sigmoid" else n
            losses[name] = "binary_crossentropy" if act == "sigmoid" else \
                "sparse_categorical_crossentropy"
            metrics[name] = ["accuracy"]
        outputs[name] = keras.layers.Dense(units, activation=act, dtype="float32",
                                           name=name)(x)
    return keras.Model(inputs, outputs), losses, weights, metrics


def all_layers(layer):
    """``layer`` and every layer inside it, at any depth."""
    return list(layer._flatten_layers(include_self=True, recursive=True))


def set_trainable(layer, value):
    """Set ``trainable`` on ``layer`` and everything inside it (each one, explicitly)."""
    for sub in all_layers(layer):
        keras.layers.Layer.trainable.fset(sub, bool(value))


def walk(model):
    """Every layer of ``model``, nested models opened, parents first."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from walk(layer)


def freeze_last_n(base, blocks, last_n):
    """Freeze every layer of ``base`` but the top ``last_n`` blocks'."""
    if not blocks:
        set_trainable(base, last_n > 0)
        return
    if last_n >= len(blocks):
        return
    top = blocks[len(blocks) - last_n:] if last_n > 0 else []
    keep = {name for _, names in top for name in names}
    for layer in base.layers:
        if layer.name not in keep:
            set_trainable(layer, False)


def freeze(model, base, head_only, top_blocks=None):
    """Which layers learn: the freeze mode (or the head alone), BatchNorm always frozen.

    ``top_blocks``: a stage of gradual unfreezing also freezes all but the top blocks.
    """
    set_trainable(model, True)
    if base is None:
        return
    f, blocks = SPEC["freeze"], BACKBONE["blocks"]
    if head_only or f["mode"] == "all":
        set_trainable(base, False)
    elif f["mode"] == "last_n":
        freeze_last_n(base, blocks, f["last_n"])
    elif f["mode"] == "layers":
        if base.name in f["layers"]:
            set_trainable(base, f["layers"][base.name])
        for layer in [la for la in walk(base) if la.name in f["layers"]]:
            set_trainable(layer, f["layers"][layer.name])
    if top_blocks is not None and not head_only:
        freeze_last_n(base, blocks, top_blocks)
    for sub in all_layers(base):
        if isinstance(sub, keras.layers.BatchNormalization):
            keras.layers.Layer.trainable.fset(sub, False)
    adapted = [la for la in all_layers(base) if getattr(la, "lora_enabled", False)]
    if adapted:  # LoRA: only the adapters of layers that may learn go on learning
        on = [la for la in adapted if la.trainable]
        for sub in all_layers(base):
            for variable in sub._trainable_variables:
                variable.trainable = False
        for la in on:
            la.lora_kernel_a.trainable = True
            la.lora_kernel_b.trainable = True
    names = {layer.name for layer in base.layers}
    if "pooled_dense" in names and "pooling" in {la.name for la in model.layers}:
        set_trainable(base.get_layer("pooled_dense"), False)


def lr_factors(model, base):
    """(variable, factor) for each variable whose updates are scaled (not 1), as ftstudio does.

    The top backbone block learns at freeze.layer_decay, the one below at its square and so
    on; a block or layer named in freeze.lr_multipliers (the innermost one wins) multiplies it.
    """
    f, blocks = SPEC["freeze"], BACKBONE["blocks"]
    rate, named_rates = f["layer_decay"], f["lr_multipliers"]
    if rate == 1.0 and not named_rates:
        return []
    base_layers = {layer.name: layer for layer in walk(base)} if base is not None else {}
    decay, named = {}, {}
    for i, (block, names) in enumerate(blocks):
        for layer in (base_layers[n] for n in names if n in base_layers):
            for v in layer.weights:
                decay[id(v)] = rate ** (len(blocks) - i)
                if block in named_rates:
                    named[id(v)] = named_rates[block]
    block_names = {b for b, _ in blocks}
    for layer in walk(model):  # outer layers first: inner names override
        if layer.name in named_rates and layer.name not in block_names:
            for sub in all_layers(layer):
                for v in sub.weights:
                    named[id(v)] = named_rates[layer.name]
    pairs = [(v, decay.get(id(v), 1.0) * named.get(id(v), 1.0)) for v in model.weights]
    return [(v, factor) for v, factor in pairs if factor != 1.0]


def make_optimizer(steps_per_epoch, epochs, lr_factor, factors=()):
    """The run's optimizer and schedule; its Scaled twin when some variables have factors."""
    t = SPEC["training"]
    total = steps_per_epoch * epochs
    lr = t["learning_rate"] * lr_factor
    if t["schedule"] != "constant" or t["warmup_fraction"] > 0:
        lr = WarmupSchedule(lr, t["schedule"], steps_per_epoch, total,
                            int(round(t["warmup_fraction"] * total)), t["decay_rate"],
                            t["step_epochs"])
    kw = {"learning_rate": lr}
    if t["gradient_clip_norm"]:
        kw["clipnorm"] = t["gradient_clip_norm"]
    if t["optimizer"] == "sgd":
        kw["momentum"] = t["momentum"]
    if t["optimizer"] == "adamw":
        kw["weight_decay"] = t["weight_decay"]
    plain = {"sgd": keras.optimizers.SGD, "adamw": keras.optimizers.AdamW,
             "adam": keras.optimizers.Adam, "adagrad": keras.optimizers.Adagrad,
             "rmsprop": keras.optimizers.RMSprop}[t["optimizer"]]
    if not factors:
        return plain(**kw)
# [scaled]
    scaled = {"sgd": ScaledSGD, "adamw": ScaledAdamW, "adam": ScaledAdam,
              "adagrad": ScaledAdagrad, "rmsprop": ScaledRMSprop}[t["optimizer"]]
    optimizer = scaled(**kw)
    optimizer.set_variable_factors(factors)
    return optimizer
# [/scaled]
    raise AssertionError("per-variable factors without the Scaled optimizers")


def phases(has_backbone):
    """(first epoch, end, rate factor, head only, top blocks, schedule epochs).

    Gradual unfreezing (its stages, one schedule over all epochs, the optimizer state
    carried on), head first then fine-tune, or one phase.
    """
    t, f = SPEC["training"], SPEC["freeze"]
    first = f["head_first_epochs"]
    if SETTINGS["stages"] and has_backbone:
        return [(start, end, 1.0, top == 0, top, t["epochs"])
                for start, end, top in SETTINGS["stages"]]
    if first and has_backbone:
        return [(0, first, 1.0, True, None, first),
                (first, t["epochs"], f["unfreeze_lr_factor"], False, None, t["epochs"] - first)]
    return [(0, t["epochs"], 1.0, False, None, t["epochs"])]


def sample_weights(y_train):
    """Per-example weights from training.class_weight (first output), or None."""
    cw = SPEC["training"]["class_weight"]
    if cw is None:
        return None
    name = SPEC["head"]["outputs"][0]["name"]
    classes, y = SETTINGS["classes"][name], y_train[name]
    if cw == "balanced":
        counts = np.bincount(y, minlength=len(classes)).astype(float)
        k = int((counts > 0).sum())
        per_class = [counts.sum() / (k * c) if c else 0.0 for c in counts]
    else:
        per_class = [float(cw.get(c, 1.0)) for c in classes]
    return {name: np.array([per_class[int(c)] for c in y], dtype="float32")}


def main():
    t = SPEC["training"]
    keras.utils.set_random_seed(t["seed"])
    base, preprocessor = load_backbone()
    splits = load_splits(preprocessor, list(base.input) if preprocessor is not None else [])
    (x_train, y_train), (x_val, y_val) = splits["train"], splits["val"]
    keras.utils.set_random_seed(t["seed"])
    model, losses, weights, metrics = build_model(base, x_train)
    n_train, n_val = len(next(iter(y_train.values()))), len(next(iter(y_val.values())))
    steps = math.ceil(n_train / t["batch_size"])
    monitor = t["monitor"] if n_val else t["monitor"].removeprefix("val_")
    lower = "loss" in monitor or "error" in monitor or monitor.endswith(("mae", "mse"))
    mode = "min" if lower else "max"
    best = keras.callbacks.ModelCheckpoint("best.weights.h5", monitor=monitor, mode=mode,
                                           save_best_only=True, save_weights_only=True)
    for start, end, lr_factor, head_only, top, window in phases(base is not None):
        if start >= end:
            continue
        previous = getattr(model, "optimizer", None)
        freeze(model, base, head_only, top)
        optimizer = make_optimizer(steps, window, lr_factor, lr_factors(model, base))
        model.compile(optimizer=optimizer, loss=losses, loss_weights=weights, metrics=metrics)
# [stages]
        if start > t["epochs"] - window:  # gradual unfreezing: schedule, moments go on
            carry_state(previous, model.optimizer, model.trainable_variables,
                        (start - (t["epochs"] - window)) * steps)
# [/stages]
        callbacks = [best]
        if t["early_stopping_patience"]:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor, mode=mode, patience=t["early_stopping_patience"]))
        model.fit(x_train, y_train, sample_weight=sample_weights(y_train),
                  validation_data=(x_val, y_val) if n_val else None, initial_epoch=start,
                  epochs=end, batch_size=t["batch_size"], shuffle=True, callbacks=callbacks,
                  verbose=2)
    model.load_weights("best.weights.h5")
    print(json.dumps(test_metrics(model, *splits["test"]), sort_keys=True))


def test_metrics(model, x_test, y_test):
    """Test loss, and accuracy / macro F1 (classification) or MAE / RMSE (regression)."""
    results = model.evaluate(x_test, y_test, verbose=0, return_dict=True)
    single = len(SPEC["head"]["outputs"]) == 1
    metrics = {"test.loss": float(results["loss"])}
    predicted = model.predict(x_test, verbose=0)
    for out in SPEC["head"]["outputs"]:
        name = out["name"]
        prefix = "test." if single else f"test.{name}."
        p, y = np.asarray(predicted[name]), y_test[name]
        if out["task"] == "regression":
            err = p.reshape(-1) - y
            metrics[prefix + "mae"] = float(np.abs(err).mean())
            metrics[prefix + "rmse"] = float(np.sqrt((err ** 2).mean()))
            continue
        guess = (p.reshape(-1) > 0.5).astype(int) if p.shape[-1] == 1 else p.argmax(-1)
        metrics[prefix + "accuracy"] = float((guess == y).mean())
        f1 = []
        for c in range(len(SETTINGS["classes"][name])):
            tp = float(((guess == c) & (y == c)).sum())
            denominator = float((guess == c).sum() + (y == c).sum())
            if (y == c).any():
                f1.append(2 * tp / denominator if denominator else 0.0)
        metrics[prefix + "macro_f1"] = float(np.mean(f1)) if f1 else float("nan")
    return metrics


if __name__ == "__main__":
    main()
'''
