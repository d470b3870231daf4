"""Before vs after: a linear probe on the frozen pretrained features, next to the fine-tune.

A fine-tune is worth what it adds over the pretrained features. :func:`record_baseline` puts
the *pretrained* backbone (loaded afresh: the run's own copy has been fine-tuned) under the
run's pooling, computes the features of every example once (:func:`frozen_features`), fits a
linear model on the training split (logistic regression for classification outputs, ridge
regression for regression outputs; scikit-learn, deterministic) and scores it on the same
validation and test splits as the run. Tabular runs have no backbone: their baseline is the
same linear model on the (standardised) raw features. When the run cached its frozen
backbone's features (:mod:`~ftstudio.engine.feature_cache`) under the same key, the baseline
takes them: the backbone then runs once for both.

The results land in ``metrics.json`` as ``baseline.test.accuracy``, ``baseline.val.macro_f1``
… (``baseline.test.<output>.…`` for several outputs) and in ``baseline.json`` (the reports,
the feature size and what the baseline cost in seconds). ``training.baseline: false`` turns
it off. A baseline that cannot be computed is a warning, never a failed run.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from ftstudio.engine import feature_cache
from ftstudio.engine.datasets import PreparedData
from ftstudio.engine.evaluation import flat_metrics, split_reports
from ftstudio.engine.reporting import BaseReporter, Reporter

if TYPE_CHECKING:
    from ftstudio.engine.runs import RunFolder
    from ftstudio.spec import ExperimentSpec
    from ftstudio.spec.parts import Pooling

__all__ = ["BASELINE_FILE", "PREFIX", "fit_probes", "frozen_features", "record_baseline"]

BASELINE_FILE = "baseline.json"
"""The baseline's details in a run folder."""

PREFIX = "baseline."
"""The prefix of the baseline's keys in ``metrics.json``."""

_MAX_FEATURES = 8192
"""Above this many features per example, the probe is not fitted (too slow for its worth)."""

MAX_TRAIN_EXAMPLES = 5000
"""The probe is fitted on at most this many training examples (a seeded, stratified sample),
so its cost stays bounded on large data; validation and test are always scored in full."""


def record_baseline(run: RunFolder, spec: ExperimentSpec, prepared: PreparedData,
                    backbone: Any, images: dict[str, np.ndarray],
                    reporter: Reporter | None = None) -> dict[str, float]:
    """Fit the linear probe, add its metrics to ``metrics.json``, write ``baseline.json``.

    Call it once the run's own ``metrics.json`` is written (the model may be saved already,
    so a crash here costs only the baseline).

    Args:
        run: the run folder (``baseline.json`` is written there).
        spec: the experiment; ``training.baseline`` false returns ``{}`` at once.
        prepared: the run's data and split.
        backbone: the run's backbone (its preprocessor and image size are reused; its
            weights only when the backbone stayed frozen, ``freeze.mode`` ``all``).
        images: the decoded images of every split (image data), as training decoded them.
        reporter: told what happens; a stop request skips the baseline.

    Returns:
        ``{"baseline.test.accuracy": …, "baseline.val.macro_f1": …}`` (``{}`` when skipped
        or when it failed: the reason is a warning and ``baseline.json``'s ``error``).
    """
    reporter = reporter or BaseReporter()
    if not spec.training.baseline or not len(prepared.splits["train"]):
        return {}
    if reporter.should_stop():
        run.write_json(BASELINE_FILE, {"error": "skipped: the run was stopped"})
        return {}
    reporter.status("Baseline: a linear probe on the pretrained features…")
    started = time.perf_counter()
    n_train = len(prepared.splits["train"])
    whole = prepared
    prepared, images, keep = _sample_train(spec, prepared, images)
    try:
        cached = _cached(run, spec, whole, backbone)
        if cached is not None:
            features = {s: np.asarray(v, dtype=np.float32) for s, v in cached.splits.items()}
            features["train"] = features["train"][keep]
            if features["train"].shape[1] > _MAX_FEATURES:
                raise ValueError(f"{features['train'].shape[1]} features per example are too "
                                 f"many for a linear probe")
            described = cached.description
            reporter.status("Baseline: reusing the cached backbone features")
        else:
            features, described = frozen_features(spec, prepared, backbone, images)
        feature_seconds = time.perf_counter() - started
        reports = fit_probes(spec, prepared, features)
    except Exception as exc:  # noqa: BLE001 - an optional extra must not fail a finished run
        message = f"{type(exc).__name__}: {exc}"
        reporter.warning(f"The baseline (linear probe) could not be computed: {message}")
        run.write_json(BASELINE_FILE, {"error": message})
        return {}
    metrics: dict[str, float] = {}
    for split, split_reps in reports.items():
        metrics.update(flat_metrics(PREFIX + split, split_reps))
    metrics = {k: round(float(v), 6) for k, v in metrics.items()}
    seconds = time.perf_counter() - started
    run.write_json("metrics.json", {**run.metrics(), **metrics})
    run.write_json(BASELINE_FILE, {
        "method": "logistic regression (classification) / ridge regression (regression) on "
                  "standardised features, fitted on the training split",
        "features": described, "feature_size": int(features["train"].shape[1]),
        "train_examples": int(len(prepared.splits["train"])), "train_split": n_train,
        "seconds": round(seconds, 3), "feature_seconds": round(feature_seconds, 3),
        "cached_features": cached is not None,
        "splits": {s: {"outputs": r} for s, r in reports.items()}, "metrics": metrics})
    reporter.status(f"Baseline done in {seconds:.1f} s")
    return metrics


def _probe_pooling(spec: ExperimentSpec) -> Pooling:
    """The probe's pooling: the run's, but ``avg`` for ``flatten`` (too many features)."""
    return "avg" if spec.head.pooling == "flatten" else spec.head.pooling


def _cached(run: RunFolder, spec: ExperimentSpec, prepared: PreparedData,
            backbone: Any) -> feature_cache.CachedFeatures | None:
    """The run's cached pretrained features, when it cached exactly the probe's ones."""
    if backbone is None or getattr(backbone, "model", None) is None \
            or not feature_cache.cache_enabled(spec):
        return None
    key = feature_cache.feature_key(spec, prepared, backbone, pooling=_probe_pooling(spec))
    return feature_cache.lookup(run, key, tuple(s for s, idx in prepared.splits.items()
                                                if len(idx)))


def _sample_train(spec: ExperimentSpec, prepared: PreparedData, images: dict[str, np.ndarray]
                  ) -> tuple[PreparedData, dict[str, np.ndarray], np.ndarray]:
    """At most :data:`MAX_TRAIN_EXAMPLES` of the training split (seeded, stratified).

    Returns:
        The sampled data and images, and the kept positions within the training split.
    """
    train = prepared.splits["train"]
    if len(train) <= MAX_TRAIN_EXAMPLES:
        return prepared, images, np.arange(len(train))
    from sklearn.model_selection import train_test_split

    first = spec.head.outputs[0]
    labels = prepared.targets(first.name, "train") if first.task == "classification" else None
    try:
        keep, _ = train_test_split(np.arange(len(train)), train_size=MAX_TRAIN_EXAMPLES,
                                   random_state=spec.training.seed, stratify=labels)
    except ValueError:  # a class too small to stratify on: a plain seeded sample
        keep, _ = train_test_split(np.arange(len(train)), train_size=MAX_TRAIN_EXAMPLES,
                                   random_state=spec.training.seed)
    keep = np.sort(keep)
    splits = {**prepared.splits, "train": train[keep]}
    if "train" in images:
        images = {**images, "train": images["train"][keep]}
    return dataclasses.replace(prepared, splits=splits), images, keep


def frozen_features(spec: ExperimentSpec, prepared: PreparedData, backbone: Any,
                    images: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], str]:
    """The pooled pretrained features of every split, computed once.

    Args:
        spec: the experiment (backbone, pooling, batch size).
        prepared: the data and its split.
        backbone: the run's backbone (see :func:`record_baseline`).
        images: the decoded images of every split (image data).

    Returns:
        ``({split: float32 (n, d)}, what the features are)``.
    """
    data = prepared.data
    if backbone is None or getattr(backbone, "model", None) is None:
        x = np.asarray(data.inputs, dtype=np.float32)
        return {s: x[idx] for s, idx in prepared.splits.items()}, "the raw features"
    extractor, described = _feature_model(spec, prepared, backbone)
    features = feature_cache.extract_features(extractor, spec, prepared, backbone, images,
                                              splits=tuple(prepared.splits))
    return features, described


def _feature_model(spec: ExperimentSpec, prepared: PreparedData, backbone: Any) -> tuple[Any, str]:
    """The pretrained backbone with the run's pooling and no head: inputs -> pooled features."""
    import keras

    from ftstudio.engine.backbones import load_backbone
    from ftstudio.engine.heads import build_model

    pristine = backbone
    if spec.freeze.mode != "all":
        # the run's backbone object was fine-tuned in place: load the pretrained one again
        pristine = load_backbone(spec.backbone, prepared.data.modality, BaseReporter())
    pooling = _probe_pooling(spec)
    probe_spec = dataclasses.replace(
        spec, head=dataclasses.replace(spec.head, layers=[], dropout=0.0, pooling=pooling))
    model = build_model(pristine, probe_spec, prepared.output_sizes, prepared.feature_stats)
    features = feature_cache.features_tensor(model, probe_spec)
    extractor = keras.Model(model.inputs, features)
    size = int(features.shape[-1])
    if size > _MAX_FEATURES:
        raise ValueError(f"{size} features per example are too many for a linear probe")
    return extractor, f"pooled ({pooling}) features of the pretrained {pristine.description}"


def fit_probes(spec: ExperimentSpec, prepared: PreparedData, features: dict[str, np.ndarray]
               ) -> dict[str, dict[str, dict[str, Any]]]:
    """Fit one linear model per output on the training features; score val and test.

    Returns:
        ``{split: {output: report}}`` for the non-empty validation and test splits (the
        reports of :func:`~ftstudio.engine.evaluation.split_reports`).
    """
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    models: dict[str, Any] = {}
    for o in spec.head.outputs:
        y = prepared.targets(o.name, "train")
        if o.task == "classification":
            probe = LogisticRegression(C=1.0, max_iter=2000)
        else:
            probe = Ridge(alpha=1.0)
        models[o.name] = make_pipeline(StandardScaler(), probe).fit(features["train"], y)
    reports: dict[str, dict[str, dict[str, Any]]] = {}
    for split in ("val", "test"):
        if not len(prepared.splits[split]):
            continue
        x = features[split]
        outputs = {}
        for o in spec.head.outputs:
            if o.task == "classification":
                outputs[o.name] = _class_probabilities(models[o.name], x,
                                                       prepared.output_sizes[o.name])
            else:
                outputs[o.name] = models[o.name].predict(x)
        reports[split] = split_reports(prepared, spec, split, outputs)
    return reports


def _class_probabilities(model: Any, x: np.ndarray, n_classes: int) -> np.ndarray:
    """``predict_proba`` spread over every class index (a class absent from training gets 0)."""
    probs = np.zeros((len(x), n_classes))
    probs[:, model.classes_.astype(int)] = model.predict_proba(x)
    return probs
