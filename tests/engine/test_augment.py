"""Image augmentation: the spec section, the layers in the model (training only, seeded), the
saved model reloading, exports of an augmented run, and the preview strip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ftstudio.engine.augment import (
    AUGMENT_LAYER_NAME,
    augmentation_enabled,
    augmentation_layers,
    describe_augmentation,
    preview_augmentations,
)
from ftstudio.errors import SpecError
from ftstudio.spec import ExperimentSpec
from tests.helpers.models import save_model, tiny_cnn
from tests.helpers.specs import image_spec_data, tabular_spec_data, write_image_folder

ALL_ON = {"flip": "horizontal", "rotation": 0.1, "zoom": 0.2, "translation": 0.1,
          "contrast": 0.3, "brightness": 0.2}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_image_folder(tmp_path_factory.mktemp("augment") / "images", per_class=8)


def image_spec(folder: Path, **augment) -> ExperimentSpec:
    return ExperimentSpec.from_dict({**image_spec_data(folder), "augment": augment})


def test_the_predicate_needs_image_data_and_a_factor_on(folder, tmp_path):
    assert not augmentation_enabled(image_spec(folder))
    assert augmentation_enabled(image_spec(folder, flip="vertical"))
    assert augmentation_enabled(image_spec(folder, brightness=0.1))
    tabular = ExperimentSpec.from_dict({**tabular_spec_data(tmp_path / "d.csv"),
                                        "augment": {"rotation": 0.2}})
    assert not augmentation_enabled(tabular)
    assert augmentation_layers(tabular) is None
    assert describe_augmentation(image_spec(folder, flip="horizontal", zoom=0.1).augment) == \
        "flip horizontal, zoom ±0.1"


@pytest.mark.parametrize("key", ["rotation", "zoom", "translation", "contrast", "brightness"])
def test_factors_outside_zero_to_one_are_refused(folder, key):
    with pytest.raises(SpecError, match=f"augment.{key}"):
        image_spec(folder, **{key: 1.5}).validate()
    with pytest.raises(SpecError, match="augment.flip"):
        ExperimentSpec.from_dict({"augment": {"flip": "diagonal"}})


def test_the_layers_change_images_only_in_training_and_repeat_with_the_seed(folder):
    spec = image_spec(folder, **ALL_ON)
    x = np.random.default_rng(0).uniform(0, 255, (4, 16, 16, 3)).astype("float32")
    block = augmentation_layers(spec)
    assert block.name == AUGMENT_LAYER_NAME
    assert len(block.layers) == 6
    np.testing.assert_array_equal(np.asarray(block(x, training=False)), x)
    first = np.asarray(block(x, training=True))
    assert not np.allclose(first, x)
    assert first.min() >= 0 and first.max() <= 255.5  # pixels stay in range
    again = np.asarray(augmentation_layers(spec)(x, training=True))
    np.testing.assert_allclose(again, first, atol=1e-4)


def test_an_augmented_run_saves_a_model_that_reloads_and_exports(folder, tmp_path,
                                                                   monkeypatch):
    from ftstudio.engine.artifacts import load_run_model
    from ftstudio.engine.export import export_run
    from ftstudio.engine.runs import RunFolder
    from ftstudio.engine.training import train

    monkeypatch.setenv("FTSTUDIO_HOME", str(tmp_path / "home"))
    data = {**image_spec_data(folder), "augment": ALL_ON,
            "backbone": {"source": "file", "preprocessing": "scale_0_1",
                         "path": str(save_model(tiny_cnn(16), tmp_path / "cnn.keras"))},
            "training": {"epochs": 1, "batch_size": 8, "baseline": False}}
    result = train(ExperimentSpec.from_dict(data), out_dir=tmp_path / "run")
    model = load_run_model(RunFolder(result.run_dir))
    names = [layer.name for layer in model.layers]
    assert names.index(AUGMENT_LAYER_NAME) < names.index("image_preprocess")
    x = np.random.default_rng(1).uniform(0, 255, (3, 16, 16, 3)).astype("float32")
    once = model.predict(x, verbose=0)["label"]
    np.testing.assert_array_equal(model.predict(x, verbose=0)["label"], once)  # inactive
    exported = export_run(result.run_dir, ["tflite", "onnx"])
    assert exported.ok, [r.error for r in exported.results]
    assert [r.key for r in exported.results] == ["tflite", "onnx"]
    for r in exported.results:  # the exports compute what the app computes
        assert r.parity is not None and r.parity.max_abs_diff <= r.parity.tolerance, r.key


def test_the_preview_shows_the_originals_then_seeded_versions(folder):
    spec = image_spec(folder, flip="horizontal", rotation=0.1, brightness=0.2)
    strip = preview_augmentations(spec, images=2, variants=3, size=(24, 24))
    assert strip.shape == (2, 4, 24, 24, 3) and strip.dtype == np.uint8
    assert not np.array_equal(strip[:, 1], strip[:, 0])
    np.testing.assert_array_equal(preview_augmentations(spec, images=2, variants=3,
                                                        size=(24, 24)), strip)
    plain = preview_augmentations(image_spec(folder), images=1, variants=2, size=(24, 24))
    np.testing.assert_array_equal(plain[0, 1], plain[0, 0])  # nothing on: unchanged copies
