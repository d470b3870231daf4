"""build_model / loss_and_metrics over tiny backbones: poolings, outputs, training, saving."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest

from ftstudio.engine.backbones import Backbone, load_backbone
from ftstudio.engine.freezing import apply_freeze
from ftstudio.engine.heads import build_model, loss_and_metrics, output_activation
from ftstudio.engine.layers import ClsPooling, ImagePreprocess, MaskedMeanPooling
from ftstudio.errors import SpecError
from ftstudio.spec import BackboneSpec, ExperimentSpec, FreezeSpec, OutputSpec
from tests.helpers.models import tiny_bert_preset, tiny_cnn_backbone
from tests.helpers.specs import image_spec_data, text_spec_data


def text_spec(**head) -> ExperimentSpec:
    return ExperimentSpec.from_dict({**text_spec_data("x.csv"), "backbone": {"sequence_length": 8},
                                     "head": head})


def image_spec(**head) -> ExperimentSpec:
    return ExperimentSpec.from_dict({**image_spec_data("imgs"), "head": head})


def tabular_spec(**head) -> ExperimentSpec:
    return ExperimentSpec.from_dict({
        "data": {"path": "x.csv", "feature_columns": ["a", "b", "c"], "label_column": "y"},
        "backbone": {"source": "none"}, "head": head})


@pytest.fixture(scope="module")
def text_backbone(tmp_path_factory) -> Backbone:
    folder = tiny_bert_preset(tmp_path_factory.mktemp("bert"))
    return load_backbone(BackboneSpec(path=str(folder), sequence_length=8), "text")


def image_backbone(preprocessing: str = "scale_0_1") -> Backbone:
    return tiny_cnn_backbone(preprocessing, description="tiny cnn")


# ------------------------------------------------------------------ text
@pytest.mark.parametrize("pooling,layer", [("auto", MaskedMeanPooling), ("mean", MaskedMeanPooling),
                                           ("cls", ClsPooling), ("pooled", None)])
def test_text_poolings(text_backbone, pooling, layer):
    spec = text_spec(pooling=pooling)
    model = build_model(text_backbone, spec, {"label": 3})
    assert isinstance(model, keras.Model)
    assert sorted(model.input) == ["padding_mask", "segment_ids", "token_ids"]
    tokens = text_backbone.preprocessor(["the quick fox", "good movie", "bad"])
    out = model.predict(tokens, verbose=0)
    assert set(out) == {"label"} and out["label"].shape == (3, 3)
    np.testing.assert_allclose(out["label"].sum(axis=1), 1.0, rtol=1e-5)
    if layer is not None:
        assert isinstance(model.get_layer("pooling"), layer)
    else:
        with pytest.raises(ValueError):
            model.get_layer("pooling")


def test_text_mean_pooling_ignores_padding(text_backbone):
    model = build_model(text_backbone, text_spec(pooling="mean"), {"label": 2})
    pooled = keras.Model(model.input, model.get_layer("pooling").output)
    tokens = text_backbone.preprocessor(["the dog"])
    seq = text_backbone.model(tokens)["sequence_output"]
    expected = keras.ops.convert_to_numpy(seq)[0, :4].mean(axis=0)  # [CLS] the dog [SEP]
    np.testing.assert_allclose(pooled(tokens)[0], expected, rtol=1e-5, atol=1e-6)


def test_text_pooling_must_fit(text_backbone):
    with pytest.raises(SpecError, match="for images"):
        build_model(text_backbone, text_spec(pooling="avg"), {"label": 2})


def test_text_model_trains_and_reloads(text_backbone, tmp_path):
    import tensorflow as tf

    spec = text_spec(pooling="cls", layers=[{"type": "dense", "units": 4}])
    model = build_model(text_backbone, spec, {"label": 2})
    losses, weights, metrics = loss_and_metrics(spec, {"label": 2})
    apply_freeze(model, text_backbone, FreezeSpec())  # also freezes the unused pooler
    model.compile(optimizer="adam", loss=losses, loss_weights=weights, metrics=metrics,
                  run_eagerly=True)  # tracing a BERT train step costs seconds
    texts = ["good movie", "bad movie", "the quick fox", "the dog"]
    tokens = text_backbone.preprocessor(tf.constant(texts))  # what the tf.data map makes
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(tokens, {"label": np.array([1, 0, 1, 0])}, batch_size=2,
                            epochs=1, verbose=0).history
    assert not [w for w in caught if "Gradients do not exist" in str(w.message)]
    assert set(history) == {"loss", "accuracy"}
    path = tmp_path / "text.keras"
    model.save(path)
    import ftstudio.engine.layers  # noqa: F401

    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    np.testing.assert_allclose(loaded.predict(tokens, verbose=0)["label"],
                               model.predict(tokens, verbose=0)["label"], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ images
@pytest.mark.parametrize("pooling,features", [("auto", 6), ("avg", 6), ("max", 6),
                                              ("flatten", 8 * 8 * 6)])
def test_image_poolings(pooling, features):
    model = build_model(image_backbone(), image_spec(pooling=pooling), {"label": 4})
    assert model.inputs[0].shape == (None, 16, 16, 3)
    assert model.inputs[0].dtype == "float32"
    assert isinstance(model.get_layer("image_preprocess"), ImagePreprocess)
    assert model.get_layer("pooling").output.shape == (None, features)
    x = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    assert model.predict(x, verbose=0)["label"].shape == (2, 4)


def test_image_backbone_with_flat_output_skips_pooling():
    inp = keras.Input((8, 8, 1))
    flat = keras.layers.Dense(3, name="proj")(keras.layers.Flatten(name="flat")(inp))
    b = Backbone(model=keras.Model(inp, flat, name="flat_net"), modality="image",
                 image_shape=(8, 8, 1), preprocessing="scale_-1_1")
    model = build_model(b, image_spec(), {"label": 2})
    with pytest.raises(ValueError):
        model.get_layer("pooling")
    assert model.output["label"].shape == (None, 2)
    with pytest.raises(SpecError, match="needs RGB"):
        build_model(Backbone(model=b.model, modality="image", image_shape=(8, 8, 1),
                             preprocessing="caffe"), image_spec(), {"label": 2})


def test_image_backbone_batch_norm_frozen_at_build():
    b = image_backbone()
    build_model(b, image_spec(), {"label": 2})
    assert all(not layer.trainable for layer in b.model.layers
               if isinstance(layer, keras.layers.BatchNormalization))


# ------------------------------------------------------------------ outputs
def test_multi_output_functional_trains_and_reloads(tmp_path):
    spec = image_spec(
        dropout=0.2,
        layers=[{"type": "dense", "units": 5, "l2": 0.01}, {"type": "batch_norm"},
                {"type": "dropout", "rate": 0.1}],
        outputs=[{"name": "kind", "task": "classification"},
                 {"name": "ok", "task": "classification", "activation": "sigmoid",
                  "loss_weight": 0.5},
                 {"name": "size", "task": "regression", "label_column": "size"}])
    sizes = {"kind": 3, "ok": 2, "size": 1}
    model = build_model(image_backbone("torch"), spec, sizes)
    assert isinstance(model, keras.Model) and not isinstance(model, keras.Sequential)
    assert set(model.output) == {"kind", "ok", "size"}
    assert model.get_layer("kind").activation.__name__ == "softmax"
    assert model.get_layer("ok").units == 1
    assert model.get_layer("ok").activation.__name__ == "sigmoid"
    assert model.get_layer("size").activation.__name__ == "linear"
    assert [layer.name for layer in model.layers if layer.name.startswith("head_")] == [
        "head_dropout", "head_0_dense", "head_1_batch_norm", "head_2_dropout"]
    assert model.get_layer("head_1_batch_norm").trainable  # head BN learns

    losses, weights, metrics = loss_and_metrics(spec, sizes)
    assert weights == {"kind": 1.0, "ok": 0.5, "size": 1.0}
    assert isinstance(losses["ok"], keras.losses.BinaryCrossentropy)
    assert isinstance(losses["size"], keras.losses.MeanSquaredError)
    model.compile(optimizer="adam", loss=losses, loss_weights=weights, metrics=metrics,
                  run_eagerly=True)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, 16, 16, 3)).astype("float32")
    y = {"kind": rng.integers(0, 3, 8), "ok": rng.integers(0, 2, 8),
         "size": rng.normal(size=8).astype("float32")}
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    assert {"loss", "kind_accuracy", "ok_accuracy", "size_mae"} <= set(history)
    assert model.losses  # the L2 regularizer

    path = tmp_path / "multi.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
    before, after = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    for name in sizes:
        np.testing.assert_allclose(after[name], before[name], rtol=1e-5, atol=1e-5)


def test_binary_softmax_by_default_and_sigmoid_checks():
    assert output_activation(OutputSpec(), 2) == ("softmax", 2)
    assert output_activation(OutputSpec(activation="sigmoid"), 2) == ("sigmoid", 1)
    assert output_activation(OutputSpec(task="regression"), 1) == ("linear", 1)
    with pytest.raises(SpecError, match="two classes only"):
        output_activation(OutputSpec(activation="sigmoid"), 3)
    with pytest.raises(SpecError, match="at least two classes"):
        output_activation(OutputSpec(), 1)
    spec = image_spec(outputs=[{"name": "label", "activation": "sigmoid"}])
    with pytest.raises(SpecError, match="two classes only"):
        build_model(image_backbone(), spec, {"label": 3})
    with pytest.raises(SpecError, match="no size given"):
        build_model(image_backbone(), image_spec(), {"other": 3})


def test_output_name_clash():
    spec = image_spec(outputs=[{"name": "image"}])
    with pytest.raises(SpecError, match="output name 'image' is taken"):
        build_model(image_backbone(), spec, {"image": 2})


# ------------------------------------------------------------------ tabular
def test_tabular_mlp_normalizes_features_and_regresses():
    spec = tabular_spec(layers=[{"type": "dense", "units": 4, "activation": "tanh"}],
                        outputs=[{"name": "price", "task": "regression"}])
    backbone = load_backbone(spec.backbone, "tabular")
    mean = np.array([10.0, -2.0, 0.5], "float32")
    var = np.array([4.0, 1.0, 0.25], "float32")
    model = build_model(backbone, spec, {"price": 1}, (mean, var))
    assert model.inputs[0].shape == (None, 3)
    norm = keras.Model(model.inputs[0], model.get_layer("normalization").output)
    np.testing.assert_allclose(norm(np.array([[12.0, -2.0, 1.0]], "float32")), [[1.0, 0.0, 1.0]],
                               atol=1e-5)
    assert model.predict(np.zeros((2, 3), "float32"), verbose=0)["price"].shape == (2, 1)
    losses, _, metrics = loss_and_metrics(spec, {"price": 1})
    model.compile(optimizer="adam", loss=losses, metrics=metrics)
    history = model.fit(np.ones((4, 3), "float32"), {"price": np.ones(4, "float32")},
                        epochs=1, verbose=0).history
    assert set(history) == {"loss", "mae"}

    no_stats = build_model(backbone, spec, {"price": 1})
    assert no_stats.inputs[0].shape == (None, 3)
    with pytest.raises(ValueError):
        no_stats.get_layer("normalization")
