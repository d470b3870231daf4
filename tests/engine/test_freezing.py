"""describe_layers / apply_freeze / count_params on tiny image and text models."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftstudio.engine.backbones import Backbone, load_backbone
from ftstudio.engine.freezing import LayerInfo, apply_freeze, count_params, describe_layers
from ftstudio.engine.heads import build_model
from ftstudio.errors import SpecError
from ftstudio.spec import BackboneSpec, ExperimentSpec, FreezeSpec
from tests.helpers.models import tiny_bert_preset, tiny_cnn_backbone
from tests.helpers.specs import image_spec_data, text_spec_data

IMAGE_SPEC = ExperimentSpec.from_dict({
    **image_spec_data("imgs"),
    "head": {"layers": [{"type": "dense", "units": 3}, {"type": "batch_norm"}]}})
TEXT_SPEC = ExperimentSpec.from_dict({**text_spec_data("x.csv"),
                                      "backbone": {"sequence_length": 8}})


def image_setup() -> tuple[keras.Model, Backbone]:
    backbone = tiny_cnn_backbone()
    return build_model(backbone, IMAGE_SPEC, {"label": 2}), backbone


def trainable_names(model: keras.Model) -> set[str]:
    return {w.path.split("/")[0] for w in model.trainable_weights}


def test_describe_layers_rows():
    model, backbone = image_setup()
    rows = describe_layers(model, backbone.blocks)
    assert all(isinstance(r, LayerInfo) for r in rows)
    by_name = {r.name: r for r in rows}
    enc = by_name["encoder"]
    assert enc.depth == 0 and enc.type == "Functional" and enc.block is None
    assert enc.output_shape == "(None, 8, 8, 6)"
    assert enc.params == backbone.model.count_params()
    conv = by_name["block1_conv"]
    assert (conv.depth, conv.block, conv.type, conv.params) == (1, "block1", "Conv2D", 148)
    assert conv.output_shape == "(None, 16, 16, 4)"
    assert by_name["label"].output_shape == "(None, 2)" and by_name["label"].block is None
    names = [r.name for r in rows]
    assert names.index("encoder") < names.index("stem_conv") < names.index("pooling")
    assert sum(r.params for r in rows if r.depth == 0) == model.count_params()


def test_freeze_modes_change_trainable_counts():
    model, backbone = image_setup()
    total = count_params(model)[1]
    counts = {}
    for name, freeze in [("none", FreezeSpec(mode="none")), ("all", FreezeSpec(mode="all")),
                         ("last1", FreezeSpec(mode="last_n", last_n=1)),
                         ("last2", FreezeSpec(mode="last_n", last_n=2)),
                         ("last0", FreezeSpec(mode="last_n", last_n=0)),
                         ("last9", FreezeSpec(mode="last_n", last_n=9))]:
        counts[name] = apply_freeze(model, backbone, freeze)
        assert counts[name] == count_params(model)[0]
        assert count_params(model)[1] == total
        # backbone BN never learns; head layers always do
        assert not any(layer.trainable for layer in backbone.model.layers
                       if isinstance(layer, keras.layers.BatchNormalization))
        assert {"head_0_dense", "head_1_batch_norm", "label"} <= trainable_names(model)
    assert counts["all"] == counts["last0"] < counts["last1"] < counts["last2"]
    assert counts["last2"] < counts["none"] == counts["last9"]
    apply_freeze(model, backbone, FreezeSpec(mode="last_n", last_n=1))
    assert trainable_names(model) & {"stem_conv", "block1_conv", "block2_conv"} == \
        {"block2_conv"}
    rows = {r.name: r for r in describe_layers(model, backbone.blocks)}
    assert rows["block2_conv"].trainable and not rows["block1_conv"].trainable
    assert not rows["block2_bn"].trainable
    head_only = apply_freeze(model, backbone, FreezeSpec(mode="none"), head_only=True)
    assert head_only == counts["all"]


def test_freeze_layers_mode():
    model, backbone = image_setup()
    n = apply_freeze(model, backbone, FreezeSpec(mode="layers", layers={
        "stem_conv": False, "block1_conv": False, "label": False}))
    assert trainable_names(model) & {"stem_conv", "block1_conv", "block2_conv"} == \
        {"block2_conv"}
    assert "label" in trainable_names(model)  # head layers always learn
    assert n == apply_freeze(model, backbone, FreezeSpec(mode="last_n", last_n=1))
    with pytest.raises(SpecError, match="block9_conv.*valid names include.*block2_conv"):
        apply_freeze(model, backbone, FreezeSpec(mode="layers", layers={"block9_conv": False}))


def test_batch_norm_runs_in_inference_mode_while_fine_tuning():
    model, backbone = image_setup()
    apply_freeze(model, backbone, FreezeSpec(mode="none"))
    bn = backbone.model.get_layer("block1_bn")
    conv = backbone.model.get_layer("block1_conv")
    numpy = keras.ops.convert_to_numpy
    mean_before, kernel_before = numpy(bn.moving_mean).copy(), numpy(conv.kernel).copy()
    x = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    model.compile(optimizer="sgd", loss={"label": "sparse_categorical_crossentropy"})
    model.fit(x, {"label": np.array([0, 1, 0, 1])}, epochs=1, verbose=0)
    np.testing.assert_array_equal(numpy(bn.moving_mean), mean_before)  # inference mode
    assert not np.array_equal(numpy(conv.kernel), kernel_before)  # the conv did learn


def test_text_backbone_last_n(tmp_path):
    folder = tiny_bert_preset(tmp_path)
    backbone = load_backbone(BackboneSpec(path=str(folder), sequence_length=8), "text")
    model = build_model(backbone, TEXT_SPEC, {"label": 2})
    full = apply_freeze(model, backbone, FreezeSpec(mode="none"))
    last1 = apply_freeze(model, backbone, FreezeSpec(mode="last_n", last_n=1))
    probe = apply_freeze(model, backbone, FreezeSpec(mode="all"))
    assert probe < last1 < full
    apply_freeze(model, backbone, FreezeSpec(mode="last_n", last_n=1))
    rows = {r.name: r for r in describe_layers(model, backbone.blocks)}
    assert rows["transformer_layer_1"].trainable and rows["transformer_layer_1"].depth == 1
    assert not rows["transformer_layer_0"].trainable
    assert rows["token_embedding"].block == "embeddings"
    assert not rows["pooled_dense"].trainable  # mean pooling leaves the pooler unused
    assert "sequence_output" in rows[backbone.model.name].output_shape
