"""Discriminative learning rates, layer-wise decay and gradual unfreezing (tiny models)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from ftstudio.engine import optimizers
from ftstudio.engine.fitting import Fit, Phase, _compile, phases
from ftstudio.engine.freezing import apply_freeze
from ftstudio.engine.heads import build_model
from ftstudio.errors import SpecError
from ftstudio.spec import ExperimentSpec, FreezeSpec
from tests.helpers.models import tiny_cnn_backbone
from tests.helpers.specs import image_spec_data

SPEC = ExperimentSpec.from_dict({**image_spec_data("imgs"),
                                 "training": {"optimizer": "adamw", "learning_rate": 0.01,
                                              "weight_decay": 0.1, "epochs": 4}})


def setup(freeze: FreezeSpec) -> tuple[keras.Model, object]:
    backbone = tiny_cnn_backbone(seed=0)
    model = build_model(backbone, SPEC, {"label": 2})
    apply_freeze(model, backbone, freeze)
    return model, backbone


def arr(value: object) -> np.ndarray:
    """A variable's (or tensor's) values as a NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(value))


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.uniform(0, 255, (8, 16, 16, 3)).astype("float32"), rng.integers(0, 2, 8)


def layer_values(model: keras.Model, name: str) -> list[np.ndarray]:
    layer = next(lay for lay in model.get_layer("encoder").layers if lay.name == name)
    return [arr(w) for w in layer.trainable_weights]


def train_steps(freeze: FreezeSpec, steps: int = 3) -> tuple[keras.Model, keras.Model]:
    """(model before, model after) ``steps`` AdamW steps under ``freeze``'s factors."""
    model, backbone = setup(freeze)
    before = keras.models.clone_model(model)
    before.set_weights(model.get_weights())
    factors = optimizers.learning_rate_factors(model, backbone, freeze)
    opt = optimizers.with_lr_factors(keras.optimizers.AdamW(0.01, weight_decay=0.1), factors)
    model.compile(opt, "sparse_categorical_crossentropy")
    x, y = batch()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return before, model


def moved(before: keras.Model, after: keras.Model, name: str) -> float:
    return float(sum(np.abs(a - b).sum() for a, b in
                     zip(layer_values(after, name), layer_values(before, name), strict=True)))


def test_layer_decay_and_multipliers_give_each_variable_its_factor():
    freeze = FreezeSpec(layer_decay=0.5, lr_multipliers={"block1": 0.1, "label": 2.0})
    model, backbone = setup(freeze)
    factors = {v.path: f for v, f in optimizers.learning_rate_factors(model, backbone, freeze)}
    assert factors["stem_conv/kernel"] == pytest.approx(0.125)   # 3 blocks: 0.5 ** 3
    assert factors["block1_conv/kernel"] == pytest.approx(0.25 * 0.1)
    assert factors["block2_conv/bias"] == pytest.approx(0.5)
    assert factors["label/kernel"] == pytest.approx(2.0)         # the head: 1 unless named
    assert not any(path.startswith("dense") for path in factors)
    assert optimizers.learning_rate_factors(model, backbone, FreezeSpec()) == []
    with pytest.raises(SpecError, match="no_such_block"):
        optimizers.learning_rate_factors(model, backbone,
                                         FreezeSpec(lr_multipliers={"no_such_block": 0.5}))
    with pytest.raises(SpecError, match="layer_decay"):
        optimizers.check_rate_settings(FreezeSpec(layer_decay=1.5))
    with pytest.raises(SpecError, match="0 or more"):
        optimizers.check_rate_settings(FreezeSpec(lr_multipliers={"stem": -1.0}))


def test_a_zero_multiplier_keeps_a_block_exactly_and_a_small_one_moves_it_less():
    slow_before, slow = train_steps(FreezeSpec(lr_multipliers={"stem": 0.0, "block1": 0.1}))
    full_before, full = train_steps(FreezeSpec())
    for a, b in zip(layer_values(slow, "stem_conv"), layer_values(slow_before, "stem_conv"),
                    strict=True):
        np.testing.assert_array_equal(a, b)  # AdamW's weight decay included
    assert moved(full_before, full, "stem_conv") > 0
    assert 0 < moved(slow_before, slow, "block1_conv") < 0.5 * moved(full_before, full,
                                                                      "block1_conv")
    assert isinstance(slow.optimizer, optimizers.ScaledAdamW)
    assert type(full.optimizer) is keras.optimizers.AdamW  # no factors: the plain optimizer


def test_scaled_optimizer_serialises_and_resumes_from_a_weights_backup(tmp_path: Path):
    freeze = FreezeSpec(lr_multipliers={"stem": 0.0, "block2": 0.3})
    _, model = train_steps(freeze, steps=2)
    config = keras.optimizers.serialize(model.optimizer)
    again = keras.optimizers.deserialize(config)
    assert isinstance(again, optimizers.ScaledAdamW)
    assert again.lr_factors == model.optimizer.lr_factors
    assert again.lr_factors["block2_conv/kernel"] == pytest.approx(0.3)
    model.save(tmp_path / "m.keras")  # the run's model file keeps the optimizer's config
    backup = tmp_path / "latest.weights.h5"
    model.save_weights(backup)  # what the phase backup writes: weights and optimizer state
    _, twin = train_steps(freeze, steps=0)
    twin.optimizer.build(twin.trainable_variables)
    twin.load_weights(backup)
    for a, b in zip(model.optimizer.variables, twin.optimizer.variables, strict=True):
        np.testing.assert_array_equal(arr(a), arr(b))
    x, y = batch()
    model.train_on_batch(x, y)
    twin.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), twin.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    stem = [arr(w) for w in twin.get_layer("encoder").get_layer("stem_conv").weights]
    _, fresh = train_steps(freeze, steps=0)
    for a, b in zip(stem, fresh.get_layer("encoder").get_layer("stem_conv").weights,
                    strict=True):
        np.testing.assert_array_equal(a, arr(b))  # factor 0: still as it started


def test_gradual_unfreezing_phases_follow_the_blocks():
    backbone = SimpleNamespace(model=object(), blocks=[("b0", []), ("b1", []), ("b2", [])])
    spec = ExperimentSpec.from_dict({**image_spec_data("imgs"), "training": {"epochs": 5},
                                     "freeze": {"gradual_unfreeze_epochs": 1}})
    got = [(p.name, p.start, p.end, p.head_only, p.top_blocks, p.schedule)
           for p in phases(spec, backbone)]
    assert got == [("head", 0, 1, True, 0, (0, 5)), ("top 1 block", 1, 2, False, 1, (0, 5)),
                   ("top 2 blocks", 2, 3, False, 2, (0, 5)), ("top 3 blocks", 3, 5, False,
                                                                 None, (0, 5))]
    spec.freeze.mode, spec.freeze.last_n = "last_n", 1
    assert [(p.name, p.start, p.end, p.top_blocks) for p in phases(spec, backbone)] == \
        [("head", 0, 1, 0), ("top 1 block", 1, 5, None)]
    spec.freeze.mode = "all"  # nothing to unfreeze: one plain phase
    assert [p.name for p in phases(spec, backbone)] == ["train"]


def test_gradual_unfreezing_keeps_the_optimizer_state_of_what_already_learned():
    backbone = tiny_cnn_backbone(seed=0)
    model = build_model(backbone, SPEC, {"label": 2})
    fit = Fit(model, backbone, {"label": "sparse_categorical_crossentropy"}, {"label": 1.0},
              {"label": []}, None, 2, "loss", None)  # type: ignore[arg-type]
    first = Phase("head", 0, 1, 1.0, True, 0, (0, 4))
    second = Phase("top 1 block", 1, 2, 1.0, False, 1, (0, 4))
    _compile(SPEC, fit, first)
    x, y = batch()
    model.train_on_batch(x, {"label": y})
    model.train_on_batch(x, {"label": y})
    old = model.optimizer
    head = {v.path: [arr(s[old._get_variable_index(v)]) for s in
                     optimizers.slot_lists(old).values()] for v in model.trainable_variables}
    assert {p.split("/")[0] for p in head} == {"label"}
    _compile(SPEC, fit, second)
    new = model.optimizer
    assert new is not old and int(new.iterations) == 2
    assert {p.split("/")[0] for p in (v.path for v in model.trainable_variables)} >= \
        {"label", "block2_conv"}
    slots = optimizers.slot_lists(new)
    assert slots
    for v in model.trainable_variables:
        now = [arr(s[new._get_variable_index(v)]) for s in slots.values()]
        if v.path in head:
            for a, b in zip(now, head[v.path], strict=True):
                np.testing.assert_array_equal(a, b)
            assert any(np.abs(a).sum() > 0 for a in now)
        else:
            assert all(np.abs(a).sum() == 0 for a in now)  # newly unfrozen: fresh moments


def test_a_run_with_gradual_unfreezing_layer_decay_and_lora(tmp_path: Path):
    from ftstudio.engine.artifacts import load_run_model
    from ftstudio.engine.export import export_run
    from ftstudio.engine.lora import ADAPTERS_FILE, lora_layers
    from ftstudio.engine.reporting import RecordingReporter
    from ftstudio.engine.runs import RunFolder
    from ftstudio.engine.training import train
    from tests.helpers.eval_runs import write_text_csv
    from tests.helpers.models import tiny_bert_preset

    spec = ExperimentSpec.from_dict({
        "name": "gradual", "data": {"path": str(write_text_csv(tmp_path / "text.csv")),
                                    "text_column": "text", "label_column": "label"},
        "backbone": {"source": "keras_hub", "path": str(tiny_bert_preset(tmp_path / "bert")),
                     "sequence_length": 8, "lora_rank": 2},
        "head": {"pooling": "mean"},
        "freeze": {"gradual_unfreeze_epochs": 1, "layer_decay": 0.8,
                   "lr_multipliers": {"embeddings": 0.0}},
        "training": {"epochs": 3, "batch_size": 8, "learning_rate": 0.01, "baseline": False}})
    rep = RecordingReporter()
    result = train(spec, rep, out_dir=tmp_path / "run")
    run = RunFolder(result.run_dir)
    assert [int(row["epoch"]) for row in run.history()] == [0, 1, 2]
    assert run.state() == "finished"
    said = [args[0] for args in rep.of("status")]
    assert any(text.startswith("Phase 'top 1 block'") for text in said), said
    assert any(text.startswith("Phase 'top 2 blocks'") for text in said), said
    assert run.file(ADAPTERS_FILE).is_file()
    assert lora_layers(load_run_model(run)) == []
    exported = export_run(run.path, ["keras"], max_examples=10)  # merged: a plain model
    assert exported.ok, [r.error for r in exported.results]
