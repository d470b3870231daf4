"""Feature caching: a frozen backbone runs once; the head trains on its stored features."""

from __future__ import annotations

import copy
import csv
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ftstudio.engine.reporting import RecordingReporter
from ftstudio.errors import InjectedCrash
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import write_image_folder


def _spec_data(root: Path, **training: Any) -> dict[str, Any]:
    """A frozen tiny conv backbone (with batch norm) under a dropout + dense head."""
    return {
        "name": "cached", "data": {"image_dir": str(root / "images"), "label_column": "label"},
        "backbone": {"source": "file", "preprocessing": "scale_0_1",
                     "path": str(root / "cnn.keras")},
        "head": {"dropout": 0.2, "layers": [{"type": "dense", "units": 4}], "pooling": "avg"},
        "freeze": {"mode": "all"},
        "training": {"epochs": 3, "batch_size": 8, "optimizer": "adam", "learning_rate": 0.01,
                     **training}}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    from tests.helpers.models import save_model, tiny_cnn

    folder = tmp_path_factory.mktemp("cache")
    write_image_folder(folder / "images", per_class=12)
    save_model(tiny_cnn(16), folder / "cnn.keras")
    return folder


def _train(spec_data: dict[str, Any], out: Path, **kwargs: Any) -> RecordingReporter:
    from ftstudio.engine import feature_cache
    from ftstudio.engine.training import train

    feature_cache.clear_memory()  # as in a fresh process
    rep = RecordingReporter()
    train(ExperimentSpec.from_dict(spec_data), rep, out_dir=out, **kwargs)
    return rep


def _history(run: Path) -> tuple[list[str], np.ndarray]:
    with (run / "history.csv").open() as fh:
        rows = list(csv.reader(fh))
    return rows[0], np.array(rows[1:], dtype=float)


def _weights(run: Path) -> list[np.ndarray]:
    from ftstudio.engine.artifacts import load_run_model
    from ftstudio.engine.runs import RunFolder

    return load_run_model(RunFolder(run)).get_weights()


def _statuses(rep: RecordingReporter) -> list[str]:
    return [args[0] for args in rep.of("status")]


def test_the_key_changes_with_everything_that_changes_the_features(tmp_path: Path) -> None:
    from ftstudio.engine.datasets import prepare_data
    from ftstudio.engine.feature_store import feature_key
    from ftstudio.engine.reporting import BaseReporter

    write_image_folder(tmp_path / "images", per_class=6)
    model_file = tmp_path / "cnn.keras"
    model_file.write_bytes(b"weights v1")
    base = _spec_data(tmp_path)

    def key(data: dict[str, Any]) -> str:
        spec = ExperimentSpec.from_dict(data)
        return feature_key(spec, prepare_data(spec, BaseReporter()))

    def changed(section: str, field: str, value: Any) -> dict[str, Any]:
        data = copy.deepcopy(base)
        data[section][field] = value
        return data

    first = key(base)
    assert key(copy.deepcopy(base)) == first  # the same inputs: the same key
    variants = {
        "freezing": changed("freeze", "mode", "last_n"),
        "preprocessing": changed("backbone", "preprocessing", "scale_-1_1"),
        "sequence length": changed("backbone", "sequence_length", 16),
        "image size": changed("backbone", "image_size", [12, 12]),
        "pooling": changed("head", "pooling", "max"),
        "cut layer": changed("backbone", "cut_layer", "block1_bn"),
        "split": changed("data", "split", [0.7, 0.2, 0.1]),
    }
    keys = {name: key(data) for name, data in variants.items()}
    assert first not in keys.values() and len(set(keys.values())) == len(keys), keys
    model_file.write_bytes(b"weights v2, a new file")  # backbone: the same path, new weights
    assert key(base) != first
    after_backbone = key(base)
    picture = sorted((tmp_path / "images" / "red").iterdir())[0]
    picture.write_bytes(picture.read_bytes() + b"\0")  # data: one image changed
    os.utime(picture, ns=(1, 1))
    assert key(base) not in (first, after_backbone)


def test_a_cached_head_fit_matches_the_uncached_one(root: Path, tmp_path: Path) -> None:
    cached = _train(_spec_data(root), tmp_path / "cached")
    plain = _train(_spec_data(root, cache_features="off"), tmp_path / "plain")
    said = _statuses(cached)
    assert any(s.startswith("Cached backbone features for 24 examples in") for s in said), said
    assert any(s.startswith("Feature cache: 3 head epoch(s)") for s in said), said
    assert "Baseline: reusing the cached backbone features" in said
    assert not any(s.startswith(("Cached backbone", "Computing the backbone features",
                                 "Feature cache")) for s in _statuses(plain))
    # the same history, weights and metrics as running the backbone in every step
    header, rows = _history(tmp_path / "cached")
    assert _history(tmp_path / "plain")[0] == header and len(rows) == 3
    np.testing.assert_allclose(rows, _history(tmp_path / "plain")[1], rtol=1e-4, atol=1e-5)
    for got, want in zip(_weights(tmp_path / "cached"), _weights(tmp_path / "plain"),
                         strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    metrics = [json.loads((tmp_path / r / "metrics.json").read_text()) for r in ("cached",
                                                                                  "plain")]
    assert metrics[0].keys() == metrics[1].keys() and "baseline.test.accuracy" in metrics[0]
    for k in metrics[0]:
        assert metrics[0][k] == pytest.approx(metrics[1][k], rel=1e-4, abs=1e-5), k
    env = [json.loads((tmp_path / r / "env.json").read_text()) for r in ("cached", "plain")]
    record = env[0]["feature_cache"]
    assert record["used"] and record["examples"] == 24 and record["feature_size"] == 6
    assert record["head_epochs"] == 3 and record["stored"] == "memory"
    assert "feature_cache" not in env[1]
    baseline = json.loads((tmp_path / "cached" / "baseline.json").read_text())
    assert baseline["cached_features"] is True
    assert json.loads((tmp_path / "plain" / "baseline.json").read_text())[
        "cached_features"] is False


@pytest.mark.parametrize("cache", ["auto", "off"])
def test_a_run_killed_in_its_head_phase_resumes_to_the_same_run(root: Path, tmp_path: Path,
                                                                 monkeypatch, cache) -> None:
    """Two-phase recipe: the head phase (2 epochs) on cached features kept in the run folder.

    Uncached too: a backup restored in the head phase once made the fine-tune phase start an
    epoch early (Keras keeps the restored epoch on the model).
    """
    from ftstudio.engine import feature_store

    monkeypatch.setattr(feature_store, "MEMORY_LIMIT_BYTES", 0)  # cache as .npy files
    data = _spec_data(root, cache_features=cache)
    data["freeze"] = {"mode": "none", "head_first_epochs": 2}
    _train(data, tmp_path / "reference")
    run = tmp_path / "run"
    monkeypatch.setenv("FTSTUDIO_FAULT", "between-epochs#1=crash")
    with pytest.raises(InjectedCrash):
        _train(data, run)
    monkeypatch.delenv("FTSTUDIO_FAULT")
    assert len(list((run / "cache").glob("*/*.npy"))) == (3 if cache == "auto" else 0)
    rep = _train(data, run, resume=True)
    said = _statuses(rep)
    assert any(s.startswith("Reusing the cached backbone features of 24") for s in said) \
        == (cache == "auto"), said
    assert not (run / "cache").exists()  # a finished run removes it
    np.testing.assert_allclose(_history(run)[1], _history(tmp_path / "reference")[1],
                               rtol=1e-5, atol=1e-6)
    assert _history(run)[1][:, 0].tolist() == [0, 1, 2]
    for got, want in zip(_weights(run), _weights(tmp_path / "reference"), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_the_spec_key_and_augmentation_turn_it_off(root: Path) -> None:
    """``off`` and augmented images fit the whole model (no head-only model, no record)."""
    from ftstudio.engine import feature_cache

    spec = ExperimentSpec.from_dict(_spec_data(root, cache_features="off"))
    assert spec.training.cache_features == "off"
    assert ExperimentSpec.from_json(spec.to_json()).training.cache_features == "off"
    assert not feature_cache.cache_enabled(spec)
    assert feature_cache.cache_enabled(dataclasses.replace(
        spec, training=dataclasses.replace(spec.training, cache_features="auto")))
    with pytest.raises(Exception, match="cache_features"):
        ExperimentSpec.from_dict(_spec_data(root, cache_features="sometimes"))
    augmented = _spec_data(root)
    augmented["augment"] = {"flip": "horizontal"}
    assert feature_cache._augmenting(ExperimentSpec.from_dict(augmented))


def test_text_features_cut_to_each_batch_match_the_full_padding(tmp_path: Path) -> None:
    """Short texts go through the backbone cut to their batch's longest text, same features."""
    import keras

    from ftstudio.engine.datasets import make_dataset, prepare_data
    from ftstudio.engine.feature_cache import extract_features, features_tensor
    from ftstudio.engine.fitting import build
    from ftstudio.engine.reporting import BaseReporter
    from tests.helpers.eval_runs import write_text_csv
    from tests.helpers.models import tiny_bert_preset

    spec = ExperimentSpec.from_dict({
        "data": {"path": str(write_text_csv(tmp_path / "t.csv", rows=40)), "text_column": "text",
                 "label_column": "label"},
        "backbone": {"source": "keras_hub", "sequence_length": 32,
                     "path": str(tiny_bert_preset(tmp_path / "bert"))},
        "head": {"pooling": "mean"}, "freeze": {"mode": "all"},
        "training": {"batch_size": 8}})
    prepared = prepare_data(spec, BaseReporter())
    fit = build(spec, prepared, BaseReporter())
    extractor = keras.Model(fit.model.input, features_tensor(fit.model, spec))
    rep = RecordingReporter()
    cut = extract_features(extractor, spec, prepared, fit.backbone, tokens=fit.tokens,
                           reporter=rep)
    assert rep.of("progress")[-1] == (40, 40)
    assert fit.tokens["train"]["padding_mask"].sum(axis=1).max() <= 8 < 32  # cut to 8 tokens
    for split in ("train", "val", "test"):
        full = extractor.predict(make_dataset(prepared, fit.backbone, split, 8, 0, False,
                                              with_targets=False), verbose=0)
        assert cut[split].shape == (len(prepared.splits[split]), 4)
        np.testing.assert_allclose(cut[split], full, rtol=1e-4, atol=1e-5)
