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

The features are keyed by a hash of everything that changes them (:func:`feature_key`): the
backbone spec and its files (size and modification time), the freezing, the preprocessing,
the sequence length, the image size, the pooling, the seed and the data (the file's content
hash, or each image's size and time, and the row ids of each split). Any change is a new key,
so nothing stale is reused. Small caches stay in memory (the last one, for this process);
above :data:`MEMORY_LIMIT_BYTES` they are ``.npy`` files in the run folder's ``cache/``,
memory-mapped, which a resumed run reuses; a finished run removes them (``training``).

One difference from running the backbone in every step: a frozen backbone's own dropout
layers (BERT-style text backbones have them) are active in a training step but not here,
since the features are computed in inference mode (frozen BatchNormalization runs in
inference mode either way). The head's dropout (``head.dropout``) is in the head model and
works as before. ``training.cache_features: "off"`` turns all of it off.

numpy at import time; Keras and TensorFlow are imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ftstudio.engine.datasets import SPLITS, PreparedData, make_dataset, tokenise_split
from ftstudio.engine.reporting import Reporter
from ftstudio.engine.run_files import atomic_save, atomic_write_text

if TYPE_CHECKING:
    from ftstudio.engine.runs import RunFolder
    from ftstudio.spec import ExperimentSpec

__all__ = ["CACHE_DIR", "MEMORY_LIMIT_BYTES", "CachedFeatures", "HeadTraining", "cache_enabled",
           "clear_memory", "extract_features", "feature_key", "features_tensor",
           "head_training", "lookup"]

CACHE_DIR = "cache"
"""The run-folder sub-folder of large caches (removed when the run finishes)."""

MEMORY_LIMIT_BYTES = 256 * 2**20
"""Caches up to this size stay in memory; larger ones are memory-mapped files."""

_FORMAT = 1
"""Bumped when the way features are computed changes (old caches then never match)."""

_memory: dict[str, CachedFeatures] = {}
"""The last cache of this process (one entry: a run and its baseline share it)."""


@dataclass
class CachedFeatures:
    """The pooled backbone features of every split of one run's data.

    Attributes:
        key: :func:`feature_key` of what they were computed from.
        splits: ``{split: float32 (n, d)}`` in the split's example order (memory-mapped
            arrays when stored in the run folder).
        description: what the features are, for the log and ``baseline.json``.
        seconds: what computing them took.
        stored: ``"memory"`` or the folder they are in.
    """

    key: str
    splits: dict[str, np.ndarray]
    description: str
    seconds: float
    stored: str = "memory"

    @property
    def examples(self) -> int:
        """How many examples have features."""
        return sum(len(v) for v in self.splits.values())


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


# ------------------------------------------------------------------ the key
def feature_key(spec: ExperimentSpec, prepared: PreparedData, backbone: Any = None,
                pooling: str | None = None) -> str:
    """A hash of everything the pooled features depend on (any change: a new key).

    Args:
        spec: the experiment (backbone, freezing, pooling, data sections and the seed).
        prepared: the data and its split (row ids of each split; the data file).
        backbone: the loaded backbone (its resolved preprocessing, image shape, description).
        pooling: the pooling used instead of ``head.pooling`` (the baseline's).
    """
    parts = {
        "format": _FORMAT,
        "backbone": dataclasses.asdict(spec.backbone),
        "backbone_files": _backbone_stamps(spec, prepared.data.modality),
        "resolved": None if backbone is None else [
            str(getattr(backbone, "description", "")), str(getattr(backbone, "preprocessing", "")),
            list(getattr(backbone, "image_shape", None) or [])],
        "freeze": dataclasses.asdict(spec.freeze),
        "pooling": pooling or spec.head.pooling,
        "seed": spec.training.seed,
        "data": dataclasses.asdict(spec.data),
        "modality": prepared.data.modality,
        "source": _data_stamp(prepared),
        "rows": {s: hashlib.sha256(np.ascontiguousarray(
            prepared.data.row_ids[idx], dtype=np.int64).tobytes()).hexdigest()
            for s, idx in prepared.splits.items()},
    }
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stamp(path: Path) -> list[Any]:
    """``[path, size, mtime_ns]`` of a file, or of every file under a folder."""
    if path.is_file():
        st = path.stat()
        return [str(path), st.st_size, st.st_mtime_ns]
    if path.is_dir():
        return [_stamp(p) for p in sorted(path.rglob("*")) if p.is_file()]
    return [str(path), None]


def _backbone_stamps(spec: ExperimentSpec, modality: str) -> list[Any]:
    """Size and time of the files the backbone loads from (also a library or bundled one)."""
    from ftstudio.engine.bundled import default_backbone, find_bundled

    b = spec.backbone
    paths = [p for p in (b.path, b.weights) if p]
    bundled = find_bundled(b.name) if b.name else (
        default_backbone(modality) if not b.path and b.source == "auto" else None)
    if bundled is not None and bundled.spec.path:
        paths.append(bundled.spec.path)
    if b.name and b.source in ("auto", "library"):
        try:
            from ftstudio.engine.library import resolve_entry

            resolved = resolve_entry(b.name)
            if resolved.path:
                paths.append(resolved.path)
        except Exception:  # noqa: BLE001 - not a library entry: the name says it all
            pass
    return [_stamp(Path(p).expanduser()) for p in paths]


def _data_stamp(prepared: PreparedData) -> Any:
    """The data file's content hash, or each input file's size and time (image folders)."""
    source = Path(str(prepared.data.source))
    if source.is_file():
        digest = hashlib.sha256()
        with open(source, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    if prepared.data.modality == "image":
        digest = hashlib.sha256()
        for p in np.asarray(prepared.data.inputs, dtype=object):
            digest.update(json.dumps(_stamp(Path(str(p)))).encode("utf-8"))
        return digest.hexdigest()
    return str(source)


# ------------------------------------------------------------------ storing
def clear_memory() -> None:
    """Forget the cache kept in this process (benchmarks and tests)."""
    _memory.clear()


def lookup(run: RunFolder | None, key: str, splits: tuple[str, ...] = ()) -> CachedFeatures | None:
    """The cached features of ``key`` (this process's, else the run folder's), or ``None``.

    Args:
        run: the run folder whose ``cache/`` may hold them.
        key: from :func:`feature_key`.
        splits: the splits that must be there.
    """
    found = _memory.get(key)
    if found is None and run is not None:
        found = _load(run.file(CACHE_DIR) / key[:24], key)
    if found is None or any(s not in found.splits for s in splits):
        return None
    return found


def _store(run: RunFolder, cached: CachedFeatures) -> CachedFeatures:
    """Keep ``cached`` in memory, or (large) as memory-mapped files in the run folder."""
    size = sum(int(v.nbytes) for v in cached.splits.values())
    _memory.clear()
    if size > MEMORY_LIMIT_BYTES:
        folder = run.file(CACHE_DIR) / cached.key[:24]
        shutil.rmtree(run.file(CACHE_DIR), ignore_errors=True)  # one cache per run
        for split, values in cached.splits.items():
            atomic_save(folder / f"{split}.npy", _npy_writer(values), suffix=".npy",
                        needed=int(values.nbytes) + 4096)
        meta = {"key": cached.key, "description": cached.description,
                "seconds": cached.seconds, "splits": sorted(cached.splits)}
        atomic_write_text(folder / "meta.json", json.dumps(meta))  # last: commits the cache
        loaded = _load(folder, cached.key)
        if loaded is not None:
            cached = loaded
    _memory[cached.key] = cached
    return cached


def _npy_writer(values: np.ndarray) -> Any:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, values)
    return write


def _load(folder: Path, key: str) -> CachedFeatures | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("key") != key:
            return None
        splits = {s: np.load(folder / f"{s}.npy", mmap_mode="r") for s in meta["splits"]}
    except (OSError, ValueError, KeyError):
        return None
    return CachedFeatures(key, splits, str(meta.get("description", "")),
                          float(meta.get("seconds", 0.0)), stored=str(folder))


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
    front (reusing ``tokens`` where given); images are the decoded ``images`` when given.

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
    ds = make_dataset(every, backbone, "all", spec.training.batch_size, spec.training.seed,
                      False, with_targets=False, images=pictures, tokens=token_arrays)
    callbacks = [] if reporter is None else [_progress_callback(reporter,
                                                                len(every.splits["all"]))]
    features = np.asarray(extractor.predict(ds, verbose=0, callbacks=callbacks),
                          dtype=np.float32)
    bounds = np.cumsum([0] + [len(prepared.splits[s]) for s in names])
    out = {s: features[bounds[i]:bounds[i + 1]] for i, s in enumerate(names)}
    width = features.shape[1]
    return {s: out.get(s, np.zeros((0, width), np.float32)) for s in splits}


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
    cached = _store(run, CachedFeatures(key, values, described, seconds))
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
