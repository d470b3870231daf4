"""LoRA on a tiny keras-hub BERT: what learns, merged saving, the adapters file, revival."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from ftstudio.engine import lora
from ftstudio.engine.artifacts import load_run_model, save_run_model
from ftstudio.engine.backbones import load_backbone
from ftstudio.engine.freezing import apply_freeze, count_params
from ftstudio.engine.heads import build_model
from ftstudio.engine.runs import RunFolder
from ftstudio.errors import SpecError
from ftstudio.spec import BackboneSpec, ExperimentSpec, FreezeSpec
from tests.helpers.models import save_model, tiny_bert_preset, tiny_dense
from tests.helpers.specs import text_spec_data

SPEC = ExperimentSpec.from_dict({**text_spec_data("x.csv"), "head": {"pooling": "mean"},
                                 "backbone": {"sequence_length": 8}})


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert_preset(tmp_path_factory.mktemp("tiny_bert"))


def lora_setup(bert_dir: Path, rank: int = 2) -> tuple[keras.Model, object]:
    keras.utils.set_random_seed(1)
    backbone = load_backbone(BackboneSpec(path=str(bert_dir), sequence_length=8,
                                          lora_rank=rank), "text")
    return build_model(backbone, SPEC, {"label": 2}), backbone


def tokens(backbone: object) -> dict[str, np.ndarray]:
    out = backbone.preprocessor(["the quick fox", "good movie", "bad dog"])  # type: ignore[attr-defined]
    return {k: keras.ops.convert_to_numpy(v) for k, v in out.items()}


def arr(value: object) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(value))


def test_only_the_adapters_and_the_head_learn(bert_dir: Path):
    model, backbone = lora_setup(bert_dir)
    adapted = lora.lora_layers(model)
    assert len(adapted) == 4  # query and value of both transformer layers
    trainable = apply_freeze(model, backbone, FreezeSpec(mode="none"))
    names = {v.path.rsplit("/", 1)[-1] for v in model.trainable_variables
             if not v.path.startswith("label")}
    assert names == {"lora_kernel_a", "lora_kernel_b"}
    adapters = sum(int(np.prod(v.shape)) for v in model.trainable_variables
                   if "lora_kernel" in v.path)
    assert adapters == 4 * (4 * 2 * 2 + 2 * 2)  # EinsumDense: A (4, 2 heads, rank 2), B (2, 2)
    assert trainable == adapters + 4 * 2 + 2  # the head: Dense(4 -> 2)
    assert trainable < count_params(model)[1] / 5
    top = apply_freeze(model, backbone, FreezeSpec(mode="last_n", last_n=1))
    assert top == adapters // 2 + 10
    assert all("transformer_layer_1" in v.path for v in model.trainable_variables
               if "lora" in v.path)
    kernels = [arr(layer._kernel) for layer in adapted]
    apply_freeze(model, backbone, FreezeSpec(mode="none"))
    model.compile(keras.optimizers.AdamW(0.05), "sparse_categorical_crossentropy")
    x = tokens(backbone)
    model.train_on_batch(x, np.array([0, 1, 0]))
    model.train_on_batch(x, np.array([0, 1, 0]))
    for layer, kernel in zip(adapted, kernels, strict=True):
        np.testing.assert_array_equal(arr(layer._kernel), kernel)  # pretrained stays
    assert any(np.abs(arr(layer.lora_kernel_b)).sum() > 0 for layer in adapted)


def test_lora_needs_a_keras_hub_backbone(tmp_path: Path):
    path = save_model(tiny_dense(4, 2, compiled=False), tmp_path / "dense.keras")
    with pytest.raises(SpecError, match="lora_rank"):
        load_backbone(BackboneSpec(path=str(path), lora_rank=2), "tabular")


def test_saving_merges_the_adapters_and_keeps_them_alone_too(bert_dir: Path,
                                                             tmp_path: Path):
    model, backbone = lora_setup(bert_dir)
    rng = np.random.default_rng(0)
    for layer in lora.lora_layers(model):
        layer.lora_kernel_b.assign(rng.normal(0, 0.5, layer.lora_kernel_b.shape))
    x = tokens(backbone)
    expected = arr(model.predict(x, verbose=0)["label"])
    run = RunFolder(tmp_path / "run")
    run.path.mkdir()
    save_run_model(run, model)
    loaded = load_run_model(run)
    assert lora.lora_layers(loaded) == []  # a plain model: nothing special to load it
    np.testing.assert_allclose(arr(loaded.predict(x, verbose=0)["label"]), expected,
                               rtol=1e-5, atol=1e-6)
    adapters = run.file(lora.ADAPTERS_FILE)
    assert adapters.is_file() and adapters.stat().st_size < run.model_path.stat().st_size
    # the pretrained backbone plus the adapters alone give the trained backbone back
    fresh = load_backbone(BackboneSpec(path=str(bert_dir), sequence_length=8), "text")
    fresh.model.load_lora_weights(str(adapters))
    trained = backbone.model(x)["sequence_output"]  # type: ignore[attr-defined]
    np.testing.assert_allclose(arr(fresh.model(x)["sequence_output"]), arr(trained),
                               rtol=1e-5, atol=1e-6)


def test_adapters_learn_again_after_a_merged_backup_restore(bert_dir: Path, tmp_path: Path):
    model, backbone = lora_setup(bert_dir)
    for layer in lora.lora_layers(model):
        layer.lora_kernel_b.assign(np.full(layer.lora_kernel_b.shape, 0.3, "float32"))
    x = tokens(backbone)
    before = arr(model.predict(x, verbose=0)["label"])
    backup = tmp_path / "latest.weights.h5"
    model.save_weights(backup)  # Keras merges LoRA into the kernels it writes
    model.load_weights(backup)
    adapted = lora.lora_layers(model)
    assert all(np.abs(arr(layer.lora_kernel_a)).sum() == 0 for layer in adapted)
    assert lora.revive_adapters(model) == len(adapted)
    assert all(np.abs(arr(layer.lora_kernel_a)).sum() > 0 for layer in adapted)
    np.testing.assert_allclose(arr(model.predict(x, verbose=0)["label"]), before,
                               rtol=1e-5, atol=1e-6)
    assert lora.revive_adapters(model) == 0
