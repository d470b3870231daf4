"""Custom layers: values, errors, and the serialization harness (config and .keras round trips
in safe mode) for each, and for every other registered Keras object of the engine."""

from __future__ import annotations

import ast
from pathlib import Path

import keras
import numpy as np
import pytest

from ftstudio.engine.layers import (
    IMAGE_PREPROCESSING_MODES,
    ClsPooling,
    ImagePreprocess,
    MaskedMeanPooling,
)
from ftstudio.engine.schedules import WarmupSchedule
from tests.helpers.serialization import run_serialization_test

ENGINE = Path(__file__).resolve().parents[2] / "ftstudio" / "engine"

SCALED_OPTIMIZERS = ("ScaledAdam", "ScaledAdamW", "ScaledSGD", "ScaledAdagrad", "ScaledRMSprop")
SERIALIZATION_TESTED = {"MaskedMeanPooling", "ClsPooling", "ImagePreprocess", "WarmupSchedule",
                        *SCALED_OPTIMIZERS}
"""The engine's custom Keras classes that a test below runs through ``run_serialization_test``."""

PREPROCESS_REFERENCES = [
    ("none", lambda x: x),
    ("scale_0_1", lambda x: x / 255.0),
    ("scale_-1_1", keras.applications.mobilenet_v2.preprocess_input),
    ("caffe", keras.applications.resnet50.preprocess_input),
    ("torch", keras.applications.densenet.preprocess_input),
]

_KERAS_BASES = ("Layer", "Model", "Wrapper", "LearningRateSchedule", "Constraint",
                "Regularizer", "Initializer", "Loss", "Metric")


def _custom_keras_classes() -> set[str]:
    """Classes in ``ftstudio/engine`` registered with Keras or derived from a Keras layer/model."""
    found = set()
    for path in ENGINE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            registered = any("register_keras_serializable" in ast.unparse(d)
                             for d in node.decorator_list)
            keras_base = any(ast.unparse(b).split(".")[-1] in _KERAS_BASES for b in node.bases)
            if registered or keras_base:
                found.add(node.name)
    return found


def test_every_custom_keras_class_goes_through_the_serialization_harness():
    missing = _custom_keras_classes() - SERIALIZATION_TESTED
    assert not missing, f"add a run_serialization_test case to tests/engine/test_layers.py: " \
                        f"{sorted(missing)}"


@pytest.mark.parametrize("name", SCALED_OPTIMIZERS)
def test_scaled_optimizers_round_trip_with_their_factors(name):
    from ftstudio.engine import optimizers

    original = getattr(optimizers, name)(learning_rate=0.01, lr_factors={"a/kernel": 0.25})
    again = keras.optimizers.deserialize(keras.optimizers.serialize(original))
    assert type(again) is type(original)
    assert again.lr_factors == {"a/kernel": 0.25}
    assert again.get_config() == original.get_config()


def test_masked_mean_pooling_averages_unmasked_tokens():
    seq = np.arange(2 * 3 * 2, dtype="float32").reshape(2, 3, 2)
    mask = np.array([[True, True, False], [False, False, False]])
    out = keras.ops.convert_to_numpy(MaskedMeanPooling()([seq, mask]))
    np.testing.assert_allclose(out[0], seq[0, :2].mean(axis=0))
    np.testing.assert_allclose(out[1], [0.0, 0.0])  # all padding pools to zeros

    loaded = run_serialization_test(MaskedMeanPooling(name="pool"), [seq, mask])
    assert loaded.output.shape == (None, 2)
    assert isinstance(loaded.get_layer("pool"), MaskedMeanPooling)


def test_cls_pooling_takes_first_token():
    seq = np.random.default_rng(0).normal(size=(2, 4, 3)).astype("float32")
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ClsPooling()(seq)), seq[:, 0])
    loaded = run_serialization_test(ClsPooling(name="cls"), seq)
    assert isinstance(loaded.get_layer("cls"), ClsPooling)


@pytest.mark.parametrize("mode,reference", PREPROCESS_REFERENCES)
def test_image_preprocess_matches_keras_applications(mode, reference):
    x = np.random.default_rng(1).uniform(0, 255, size=(2, 4, 4, 3)).astype("float32")
    expected = reference(x.copy())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(ImagePreprocess(mode)(x)), expected,
                               rtol=1e-5, atol=1e-4)
    loaded = run_serialization_test(ImagePreprocess(mode, name="pre"), x)
    assert loaded.get_layer("pre").mode == mode


def test_image_preprocess_cases_cover_every_mode():
    assert {mode for mode, _ in PREPROCESS_REFERENCES} == set(IMAGE_PREPROCESSING_MODES)


def test_image_preprocess_rejects_bad_mode_and_channels():
    with pytest.raises(ValueError, match="unknown image preprocessing"):
        ImagePreprocess("imagenet")
    with pytest.raises(ValueError, match="3 \\(RGB\\) channels"):
        ImagePreprocess("caffe")(np.zeros((1, 4, 4, 1), "float32"))
    gray = ImagePreprocess("scale_-1_1")(np.full((1, 2, 2, 1), 255.0, "float32"))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(gray), 1.0)


@pytest.mark.parametrize("kind", ["constant", "cosine", "exponential", "step"])
def test_warmup_schedule_round_trips_with_the_same_rates(kind):
    schedule = WarmupSchedule(0.01, kind, steps_per_epoch=4, total_steps=20, warmup_steps=3,
                              decay_rate=0.5, step_epochs=2)
    assert run_serialization_test(schedule) is None
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(schedule))
    steps = np.arange(21)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(revived(steps)),
                               keras.ops.convert_to_numpy(schedule(steps)), rtol=1e-6)
