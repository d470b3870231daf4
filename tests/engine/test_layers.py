"""Custom layers: values, errors, and a .keras round trip in safe mode for each."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from ftstudio.engine.layers import ClsPooling, ImagePreprocess, MaskedMeanPooling


def _roundtrip(model: keras.Model, x, tmp_path) -> keras.Model:
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)
    return loaded


def test_masked_mean_pooling_averages_unmasked_tokens(tmp_path):
    seq = np.arange(2 * 3 * 2, dtype="float32").reshape(2, 3, 2)
    mask = np.array([[True, True, False], [False, False, False]])
    out = keras.ops.convert_to_numpy(MaskedMeanPooling()([seq, mask]))
    np.testing.assert_allclose(out[0], seq[0, :2].mean(axis=0))
    np.testing.assert_allclose(out[1], [0.0, 0.0])  # all padding pools to zeros

    s_in = keras.Input((3, 2))
    m_in = keras.Input((3,), dtype="bool")
    model = keras.Model([s_in, m_in], MaskedMeanPooling(name="pool")([s_in, m_in]))
    assert model.output.shape == (None, 2)
    loaded = _roundtrip(model, [seq, mask], tmp_path)
    assert isinstance(loaded.get_layer("pool"), MaskedMeanPooling)


def test_cls_pooling_takes_first_token(tmp_path):
    seq = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ClsPooling()(seq)), seq[:, 0])
    inp = keras.Input((4, 3))
    model = keras.Model(inp, ClsPooling(name="cls")(inp))
    loaded = _roundtrip(model, seq, tmp_path)
    assert isinstance(loaded.get_layer("cls"), ClsPooling)


@pytest.mark.parametrize("mode,reference", [
    ("none", lambda x: x),
    ("scale_0_1", lambda x: x / 255.0),
    ("scale_-1_1", keras.applications.mobilenet_v2.preprocess_input),
    ("caffe", keras.applications.resnet50.preprocess_input),
    ("torch", keras.applications.densenet.preprocess_input),
])
def test_image_preprocess_matches_keras_applications(mode, reference, tmp_path):
    x = np.random.default_rng(1).uniform(0, 255, size=(2, 4, 4, 3)).astype("float32")
    expected = reference(x.copy())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ImagePreprocess(mode)(x)), expected,
                               rtol=1e-5, atol=1e-4)
    inp = keras.Input((4, 4, 3))
    model = keras.Model(inp, ImagePreprocess(mode, name="pre")(inp))
    loaded = _roundtrip(model, x, tmp_path)
    assert loaded.get_layer("pre").mode == mode


def test_image_preprocess_rejects_bad_mode_and_channels():
    with pytest.raises(ValueError, match="unknown image preprocessing"):
        ImagePreprocess("imagenet")
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        ImagePreprocess("caffe")(np.zeros((1, 4, 4, 1), "float32"))
    gray = ImagePreprocess("scale_-1_1")(np.full((1, 2, 2, 1), 255.0, "float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gray), 1.0)
