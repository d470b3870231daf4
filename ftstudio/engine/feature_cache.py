"""Feature caching: a frozen backbone runs once, and the head trains on what it computed.

When nothing below the head learns (``freeze.mode`` ``all``, the head-only phase of the
two-phase recipe, any phase whose backbone has no trainable weight) and the training images
are not augmented, every epoch would run the whole backbone again for the same answer.
:func:`head_training` instead runs the backbone and the pooling once over each split
(inference mode), keeps the pooled features, and fits a head-only Keras model built from the
*very same* head layer objects on them, so the run's model holds the trained weights
afterwards. The callbacks that save weights (best checkpoint, backup) are pinned to the whole
model, so ``best_weights.npz``, the resume backup and ``model.keras`` are the whole model's
as without the cache. The linear-probe baseline (:mod:`~ftstudio.engine.baseline`) asks
:func:`lookup` first, so a run with a frozen backbone runs it once for both.

The features are keyed by a hash of everything that changes them
(:func:`~ftstudio.engine.feature_store.feature_key`: backbone and its files, freezing,
preprocessing, sequence length, image size, pooling, data), so nothing stale is reused. Small
caches stay in memory (the last one, for this process); large ones are memory-mapped ``.npy``
files in the run folder's ``cache/``, which a resumed run reuses and a finished run removes
(:mod:`~ftstudio.engine.feature_store`).

One difference from running the backbone in every step: a frozen backbone's own dropout
layers (BERT-style text backbones have them) are active in a training step but not here,
since the features are computed in inference mode (frozen BatchNormalization runs in
inference mode either way). The head's dropout (``head.dropout``) is in the head model and
works as before. ``training.cache_features: "off"`` turns all of it off.

numpy at import time; Keras and TensorFlow are imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ftstudio.engine.datasets import SPLITS, PreparedData, make_dataset, tokenise_split
from ftstudio.engine.feature_store import (
    CachedFeatures,
    clear_memory,
    feature_key,
    lookup,
    store,
)
from ftstudio.engine.reporting import Reporter

if TYPE_CHECKING:
    from ftstudio.engine.runs import RunFolder
    from ftstudio.spec import ExperimentSpec

__all__ = ["CachedFeatures", "HeadTraining", "cache_enabled", "clear_memory",
           "extract_features", "feature_key", "features_tensor", "head_training", "lookup"]


@dataclass
class HeadTraining:
    """What ``_fit_phase`` fits instead of the whole model: the head on cached features."""

    model: Any
    train_ds: Any
    val_ds: Any


# ------------------------------------------------------------------ when it applies
def cache_enabled(spec: ExperimentSpec) -> bool:
    """Whether ``training.cache_features`` allows caching (``auto``, the default)."""
    value = getattr(spec.training, "cache_features", "auto")
    return value not in ("off", False)


def _augmenting(spec: ExperimentSpec) -> bool:
    """Whether the training images are augmented (then the backbone must run every epoch)."""
    try:
        from ftstudio.engine.augment import augmentation_enabled
    except ImportError:  # pragma: no cover - augmentation is part of the engine
        return False
    return bool(augmentation_enabled(spec))


def _in_memory_data(prepared: PreparedData) -> bool:
    return isinstance(getattr(prepared.data, "inputs", None), np.ndarray)


# ------------------------------------------------------------------ computing
def features_tensor(model: Any, spec: ExperimentSpec) -> Any:
    """The pooled-features tensor of a model from ``heads.build_model``: the head's input.

    The head's first layer is ``head_dropout`` (``head.dropout`` > 0), else the first of
    ``head.layers`` (``head_0_<type>``), else the outputs (named as the spec's outputs).
    """
    head = spec.head
    if head.dropout > 0:
        first = "head_dropout"
    elif head.layers:
        first = f"head_0_{head.layers[0].type}"
    else:
        first = head.outputs[0].name
    return model.get_layer(first).input


def extract_features(extractor: Any, spec: ExperimentSpec, prepared: PreparedData,
                     backbone: Any, images: dict[str, np.ndarray] | None = None,
                     tokens: dict[str, dict[str, np.ndarray]] | None = None,
                     splits: tuple[str, ...] = SPLITS,
                     reporter: Reporter | None = None) -> dict[str, np.ndarray]:
    """Run ``extractor`` (inputs -> pooled features) once over ``splits``, in inference mode.

    All splits go through one pipeline and one traced ``predict``. Texts are tokenised up
    front (reusing ``tokens`` where given) and cut to each batch's longest text; images are
    the decoded ``images`` when given.

    Returns:
        ``{split: float32 (n, d)}`` for each of ``splits`` (empty splits: ``(0, d)``).
    """
    names = [s for s in splits if len(prepared.splits[s])]
    every = dataclasses.replace(prepared, splits={"all": np.concatenate(
        [prepared.splits[s] for s in names])})
    pictures = np.concatenate([images[s] for s in names]) \
        if images and all(s in images for s in names) else None
    token_arrays = None
    if prepared.data.modality == "text" and getattr(backbone, "preprocessor", None) is not None:
        tokens = dict(tokens or {})
        parts = [tokens.get(s) or tokenise_split(prepared, backbone, s) for s in names]
        token_arrays = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if token_arrays is not None and isinstance(extractor.input, dict) \
            and "padding_mask" in extractor.input:
        features = _trimmed_text_features(extractor, token_arrays, spec.training.batch_size,
                                          reporter)
    else:
        ds = make_dataset(every, backbone, "all", spec.training.batch_size,
                          spec.training.seed, False, with_targets=False, images=pictures,
                          tokens=token_arrays)
        callbacks = [] if reporter is None else [_progress_callback(reporter,
                                                                    len(every.splits["all"]))]
        features = np.asarray(extractor.predict(ds, verbose=0, callbacks=callbacks),
                              dtype=np.float32)
    bounds = np.cumsum([0] + [len(prepared.splits[s]) for s in names])
    out = {s: features[bounds[i]:bounds[i + 1]] for i, s in enumerate(names)}
    width = features.shape[1]
    return {s: out.get(s, np.zeros((0, width), np.float32)) for s in splits}


def _trimmed_text_features(extractor: Any, tokens: dict[str, np.ndarray], batch_size: int,
                           reporter: Reporter | None) -> np.ndarray:
    """Pooled features of tokenised texts, in batches of similar lengths cut to their longest.

    The padding is masked out of the attention and of the pooling, so a batch cut to its
    longest text (rounded up to a few lengths: few traced shapes) gives the same features as
    the full ``sequence_length`` for much less compute on short texts.
    """
    import keras

    from ftstudio.engine.length_batches import bucket_lengths, padded_length

    inputs = {k: keras.Input(shape=(None,), dtype=t.dtype, name=k)
              for k, t in extractor.input.items()}
    model = keras.models.clone_model(extractor, input_tensors=inputs,
                                     clone_function=lambda layer: layer)  # the same layers
    lengths = np.asarray(tokens["padding_mask"]).sum(axis=1)
    order = np.argsort(lengths, kind="stable")
    buckets = bucket_lengths(int(np.shape(tokens["padding_mask"])[1]))
    out: np.ndarray | None = None
    for start in range(0, len(order), batch_size):
        pos = order[start:start + batch_size]
        size = padded_length(int(lengths[pos].max()), buckets)
        batch = np.asarray(model.predict_on_batch({k: tokens[k][pos, :size] for k in inputs}),
                           dtype=np.float32)
        if out is None:
            out = np.empty((len(order), batch.shape[1]), dtype=np.float32)
        out[pos] = batch
        if reporter is not None:
            reporter.progress(min(start + batch_size, len(order)), len(order))
    assert out is not None  # the training split is never empty
    return out


def _progress_callback(reporter: Reporter, total: int) -> Any:
    """A predict callback saying how many examples went through the backbone."""
    import keras

    class Progress(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.done = 0

        def on_predict_batch_end(self, batch: int, logs: Any = None) -> None:
            outputs = (logs or {}).get("outputs")
            self.done = min(total, self.done + (len(outputs) if outputs is not None else 1))
            reporter.progress(self.done, total)

    return Progress()


# ------------------------------------------------------------------ training on them
def head_training(run: RunFolder, spec: ExperimentSpec, fit: Any, phase: Any,
                  reporter: Reporter, callbacks: list[Any],
                  epochs: tuple[int, int]) -> HeadTraining | None:
    """The head-only fit of a phase whose backbone is frozen, or ``None`` (fit the model).

    Call it after the phase's model is frozen and compiled. It computes (or reuses) the
    features, compiles a head-only model that shares the model's head layers and its
    optimizer, pins the weight-saving callbacks to the whole model and adds one that
    reports what the cache saved.

    Args:
        run: the run folder (``env.json``, ``status.json``, large caches).
        spec: the experiment.
        fit: the phase's :class:`~ftstudio.engine.fitting.Fit`.
        phase: the :class:`~ftstudio.engine.fitting.Phase` being fitted.
        reporter: told that the cache is used and what it saved.
        callbacks: the phase's callbacks (changed in place).
        epochs: ``(first, end)`` epochs of this fit.
    """
    import keras

    model = fit.model
    if fit.backbone is None or fit.backbone.model is None or not cache_enabled(spec) \
            or not _in_memory_data(fit.prepared):
        return None
    features = features_tensor(model, spec)
    extractor = keras.Model(model.input, features)
    if extractor.trainable_weights:
        return None  # part of the backbone learns in this phase
    if _augmenting(spec):
        from ftstudio.engine.augment import NO_CACHE_NOTE

        reporter.status(NO_CACHE_NOTE)
        return None
    cached, cost = _cached_features(run, spec, fit, extractor, reporter)
    head = keras.Model(features, {o.name: model.get_layer(o.name).output
                                  for o in spec.head.outputs}, name=f"{model.name}_head")
    head.compile(optimizer=model.optimizer, loss=fit.losses, loss_weights=fit.loss_weights,
                 metrics=fit.metrics, run_eagerly=getattr(model, "run_eagerly", False),
                 steps_per_execution=getattr(model, "steps_per_execution", 1),
                 jit_compile=getattr(model, "jit_compile", None) or "auto")
    _pin_savers(callbacks, model)
    table = _feature_table(fit.prepared, cached)
    t = spec.training
    train_ds = make_dataset(table, None, "train", t.batch_size, t.seed, True,
                            sample_weights=fit.sample_weights, epochs=epochs)
    val_ds = make_dataset(table, None, "val", t.batch_size, t.seed, False) \
        if len(table.splits["val"]) else None
    callbacks.append(_after_head_fit(run, reporter, cached, cost, phase, fit.prepared))
    return HeadTraining(head, train_ds, val_ds)


def _cached_features(run: RunFolder, spec: ExperimentSpec, fit: Any, extractor: Any,
                     reporter: Reporter) -> tuple[CachedFeatures, float]:
    """The features of the run's splits and what they cost now (0 s: reused)."""
    splits = SPLITS if spec.training.baseline else ("train", "val")
    key = feature_key(spec, fit.prepared, fit.backbone)
    found = lookup(run, key, splits)
    if found is not None:
        reporter.status(f"Reusing the cached backbone features of {found.examples:,} "
                        f"examples; each head epoch skips the backbone")
        _record(run, {"used": True, "reused": True, "examples": found.examples,
                      "seconds": 0.0, "stored": found.stored})
        return found, 0.0
    n = sum(len(fit.prepared.splits[s]) for s in splits)
    reporter.status(f"Computing the backbone features of {n:,} examples once (the "
                    f"backbone is frozen)…")
    started = time.perf_counter()
    values = extract_features(extractor, spec, fit.prepared, fit.backbone, fit.images,
                              fit.tokens, splits, reporter)
    seconds = time.perf_counter() - started
    described = (f"pooled ({spec.head.pooling}) features of the pretrained "
                 f"{fit.backbone.description}")
    cached = store(run, CachedFeatures(key, values, described, seconds))
    reporter.status(f"Cached backbone features for {n:,} examples in {seconds:.1f} s; "
                    f"each head epoch now skips the backbone")
    _record(run, {"used": True, "reused": False, "examples": n,
                  "feature_size": int(values["train"].shape[1]),
                  "seconds": round(seconds, 3), "stored": cached.stored})
    return cached, seconds


def _feature_table(prepared: PreparedData, cached: CachedFeatures) -> PreparedData:
    """``prepared`` as a table whose rows are the cached features (split order kept).

    The splits become consecutive row ranges in their own order, so ``make_dataset`` shuffles
    and batches the training split exactly as it does the real inputs (same seed, same
    epochs, same sample weights).
    """
    names = [s for s in SPLITS if s in cached.splits]
    data = prepared.data
    counts = [len(prepared.splits[s]) for s in names]
    bounds = np.cumsum([0, *counts])
    order = np.concatenate([prepared.splits[s] for s in names])
    table = dataclasses.replace(
        data, modality="tabular", feature_names=[],
        inputs=np.concatenate([np.asarray(cached.splits[s], dtype=np.float32) for s in names]),
        targets={col: values[order] for col, values in data.targets.items()},
        row_ids=data.row_ids[order])
    splits = {s: np.arange(bounds[i], bounds[i + 1], dtype=np.int64)
              for i, s in enumerate(names)}
    for s in SPLITS:
        splits.setdefault(s, np.zeros(0, dtype=np.int64))
    return dataclasses.replace(prepared, data=table, splits=splits, feature_stats=None)


def _pin_savers(callbacks: list[Any], model: Any) -> None:
    """Make the weight-saving callbacks save and restore ``model`` (the whole model).

    ``fit`` hands every callback the model it fits (the head); the best checkpoint and the
    resume backup must hold the whole model's weights, which share the head's variables.
    """
    import keras

    from ftstudio.engine.callbacks import BestCheckpoint

    for callback in callbacks:
        if isinstance(callback, (BestCheckpoint, keras.callbacks.BackupAndRestore,
                                 keras.callbacks.ModelCheckpoint)):
            callback.set_model(model)
            callback.set_model = lambda _fitted: None  # type: ignore[method-assign]


def _after_head_fit(run: RunFolder, reporter: Reporter, cached: CachedFeatures,
                    cost: float, phase: Any, prepared: PreparedData) -> Any:
    """A callback that says, when the head fit ends, about how much time the cache saved."""
    import keras

    per_example = cached.seconds / max(cached.examples, 1)
    fitted = len(prepared.splits["train"]) + len(prepared.splits["val"])

    class SavingReport(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.epochs = 0
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.epochs += 1

        def on_train_end(self, logs: Any = None) -> None:
            if not self.epochs:
                return
            took = time.perf_counter() - self.started
            saved = max(self.epochs * per_example * fitted - cost, 0.0)
            reporter.status(f"Feature cache: {self.epochs} head epoch(s) of phase "
                            f"'{phase.name}' in {took:.1f} s; running the backbone every "
                            f"epoch would have added about {saved:.0f} s")
            _record(run, {"head_epochs": self.epochs, "head_seconds": round(took, 3),
                          "estimated_seconds_saved": round(saved, 1)})

    return SavingReport()


def _record(run: RunFolder, info: dict[str, Any]) -> None:
    """Add ``info`` to ``env.json``'s and ``status.json``'s ``feature_cache`` record."""
    env = run.read_json("env.json", {})
    record = {**env.get("feature_cache", {}), **info}
    env["feature_cache"] = record
    run.write_json("env.json", env)
    run.update_status(feature_cache=record)
