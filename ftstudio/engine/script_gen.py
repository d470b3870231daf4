"""``ftstudio script RUN``: a standalone Python file that reproduces a run.

The file needs Keras, numpy and pandas (and keras-hub for text); it never imports ftstudio. It
reads the run's data, takes the run's own split (``splits.json``, written into the file as
positions of the CSV's records, or as image paths), builds the same model (normalisation,
head layers, outputs), compiles it with the same optimizer, schedule and losses, trains with
the same epochs, batch size, seed, class weights and early stopping, keeps the best epoch's
weights, and prints the test metrics as JSON (``{"test.accuracy": …}``). Keras shuffles the
batches its own way, so the numbers match the run's within noise, not to the last digit.

Runs without a backbone (tabular MLPs) are reproduced in full. Runs on a backbone are
refused with a clear message: their backbone loading (keras-hub presets, model files, the
model library) and the two-phase recipe are not written out yet.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ftstudio.engine.artifacts import read_labels, read_splits
from ftstudio.engine.runs import RunFolder
from ftstudio.errors import RunError
from ftstudio.spec import ExperimentSpec

__all__ = ["generate_script", "script_text"]


def generate_script(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the script that reproduces ``run_dir`` to ``out`` (default ``RUN/reproduce.py``).

    Raises:
        RunError: the run folder is incomplete, or its kind of run is not supported yet.
    """
    run = RunFolder.open(run_dir)
    target = Path(out) if out else run.file("reproduce.py")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(script_text(run), encoding="utf-8")
    return target


def script_text(run: RunFolder) -> str:
    """The reproducing script of a run folder, as text."""
    spec = ExperimentSpec.from_json(run.file("spec.json").read_text(encoding="utf-8"))
    if spec.modality != "tabular" or spec.backbone.source != "none":
        raise RunError(f"{run.path} is a {spec.modality} run on a backbone; the generated "
                       f"script reproduces runs without a backbone (tabular data) so far")
    splits = read_splits(run)
    assert splits is not None
    labels = read_labels(run)
    positions, reading = _csv_positions(spec, splits)
    settings = {"spec": spec.to_dict(), "positions": positions, "reading": reading,
                "classes": labels, "run": run.path.name}
    text = _TEMPLATE.replace("__SCHEDULE__", _schedule_source())
    return text.replace("__SETTINGS__", json.dumps(settings, indent=1, sort_keys=True))


def _schedule_source() -> str:
    """The engine's own warm-up schedule class, as source for the script (one definition)."""
    import inspect

    from ftstudio.engine.schedules import WarmupSchedule

    lines = inspect.getsource(WarmupSchedule).splitlines()
    return "\n".join(line for line in lines if not line.startswith("@keras.saving"))


def _csv_positions(spec: ExperimentSpec,
                   splits: dict[str, list[int]]) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """Each split's rows as positions among the CSV's records, checked against pandas.

    ``splits.json`` names rows by their line in the file; the script reads the file with
    pandas, which numbers records. The positions are found here (with ftstudio's reader) and
    checked by reading the file as the script will.
    """
    import pandas as pd

    from ftstudio.engine.data import load_data, read_table

    d = spec.data
    frame, _ = read_table(str(d.path), d.encoding, d.delimiter)
    lines = frame.index.to_numpy()
    header_line = int(frame.attrs.get("header_line", 1))
    positions = {k: [int(p) for p in np.searchsorted(lines, np.asarray(v) + header_line)]
                 for k, v in splits.items()}
    reading = {"path": str(d.path), "sep": d.delimiter, "encoding": d.encoding or "utf-8",
               "skiprows": header_line - 1}
    try:
        plain = pd.read_csv(reading["path"], sep=reading["sep"], encoding=reading["encoding"],
                            skiprows=reading["skiprows"], engine="python")
    except (ValueError, UnicodeError, pd.errors.ParserError) as exc:
        raise RunError(f"pandas cannot read {d.path} as ftstudio did ({exc}); set "
                       f"data.encoding and data.delimiter in the spec and train again") from exc
    data = load_data(spec)
    by_line = {int(r): i for i, r in enumerate(data.row_ids)}
    columns = list(spec.data.feature_columns or [])
    for split, rows in splits.items():
        expected = np.asarray(data.inputs, dtype=np.float32)[[by_line[r] for r in rows]]
        got = plain.iloc[positions[split]][columns].to_numpy(dtype=np.float32) if rows else \
            expected
        if got.shape != expected.shape or not np.allclose(got, expected, equal_nan=True):
            raise RunError(f"pandas reads {d.path} differently from ftstudio (the {split} "
                           f"rows do not match), so a script could not take the run's split")
    return positions, reading


_TEMPLATE = r'''#!/usr/bin/env python3
"""Reproduces an ftstudio run with Keras, numpy and pandas alone (no ftstudio needed).

Written by `ftstudio script`. Run it with `python THIS_FILE`: it trains the run's model on the
run's own split and prints the test metrics as JSON.
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


__SCHEDULE__


def load_splits():
    """The run's train / val / test rows: features and one target array per output."""
    reading = SETTINGS["reading"]
    frame = pd.read_csv(reading["path"], sep=reading["sep"], encoding=reading["encoding"],
                        skiprows=reading["skiprows"], engine="python")
    columns = SPEC["data"]["feature_columns"]
    splits = {}
    for split, positions in SETTINGS["positions"].items():
        rows = frame.iloc[positions]
        x = rows[columns].to_numpy(dtype="float32")
        y = {}
        for out in SPEC["head"]["outputs"]:
            column = out["label_column"] or SPEC["data"]["label_column"]
            if out["task"] == "classification":
                index = {name: i for i, name in enumerate(SETTINGS["classes"][out["name"]])}
                y[out["name"]] = np.array([index[str(v).strip()] for v in rows[column]])
            else:
                y[out["name"]] = rows[column].to_numpy(dtype="float32")
        splits[split] = (x, y)
    return splits


def build_model(x_train):
    """Normalisation on the training split, the head layers, one Dense per output."""
    head = SPEC["head"]
    features = keras.Input(shape=(x_train.shape[1],), name="features")
    x = keras.layers.Normalization(mean=x_train.mean(axis=0), variance=x_train.var(axis=0))(
        features)
    if head["dropout"] > 0:
        x = keras.layers.Dropout(head["dropout"])(x)
    for layer in head["layers"]:
        if layer["type"] == "dense":
            reg = keras.regularizers.L1L2(l1=layer["l1"], l2=layer["l2"]) \
                if layer["l1"] > 0 or layer["l2"] > 0 else None
            act = None if layer["activation"] in ("", "linear", "none") else layer["activation"]
            x = keras.layers.Dense(layer["units"], activation=act, kernel_regularizer=reg)(x)
        elif layer["type"] == "dropout":
            x = keras.layers.Dropout(layer["rate"])(x)
        else:
            x = keras.layers.BatchNormalization()(x)
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
        outputs[name] = keras.layers.Dense(units, activation=act, name=name)(x)
    return keras.Model(features, outputs), losses, weights, metrics


def make_optimizer(steps_per_epoch):
    t = SPEC["training"]
    total = steps_per_epoch * t["epochs"]
    lr = t["learning_rate"]
    if t["schedule"] != "constant" or t["warmup_fraction"] > 0:
        lr = WarmupSchedule(lr, t["schedule"], steps_per_epoch, total,
                            int(round(t["warmup_fraction"] * total)), t["decay_rate"],
                            t["step_epochs"])
    kw = {"learning_rate": lr}
    if t["gradient_clip_norm"]:
        kw["clipnorm"] = t["gradient_clip_norm"]
    if t["optimizer"] == "sgd":
        return keras.optimizers.SGD(momentum=t["momentum"], **kw)
    if t["optimizer"] == "adamw":
        return keras.optimizers.AdamW(weight_decay=t["weight_decay"], **kw)
    return {"adam": keras.optimizers.Adam, "adagrad": keras.optimizers.Adagrad,
            "rmsprop": keras.optimizers.RMSprop}[t["optimizer"]](**kw)


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
    splits = load_splits()
    (x_train, y_train), (x_val, y_val) = splits["train"], splits["val"]
    model, losses, weights, metrics = build_model(x_train)
    steps = math.ceil(len(x_train) / t["batch_size"])
    model.compile(optimizer=make_optimizer(steps), loss=losses, loss_weights=weights,
                  metrics=metrics)
    has_val = len(x_val) > 0
    monitor = t["monitor"] if has_val else t["monitor"].removeprefix("val_")
    lower = "loss" in monitor or "error" in monitor or monitor.endswith(("mae", "mse"))
    mode = "min" if lower else "max"
    best = keras.callbacks.ModelCheckpoint("best.weights.h5", monitor=monitor, mode=mode,
                                           save_best_only=True, save_weights_only=True)
    callbacks = [best]
    if t["early_stopping_patience"]:
        callbacks.append(keras.callbacks.EarlyStopping(monitor, mode=mode,
                                                       patience=t["early_stopping_patience"]))
    model.fit(x_train, y_train, sample_weight=sample_weights(y_train),
              validation_data=(x_val, y_val) if has_val else None, epochs=t["epochs"],
              batch_size=t["batch_size"], shuffle=True, callbacks=callbacks, verbose=2)
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
