"""Autoencoder pretraining: specs, data, live reporting, the encoder saved as a library backbone."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from PIL import Image  # noqa: E402

from ftstudio.engine import autoencoder, library  # noqa: E402
from ftstudio.engine.reporting import RecordingReporter  # noqa: E402
from ftstudio.errors import CancelledError, DataError, SpecError  # noqa: E402
from ftstudio.spec import BackboneSpec, DataSpec, PretrainSpec  # noqa: E402


@pytest.fixture()
def numeric_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(60, 2))
    x = z @ rng.normal(size=(2, 5)) + 10
    lines = ["a,b,c,d,e,label"] + [",".join(f"{v:.4f}" for v in row) + f",{i % 2}"
                                   for i, row in enumerate(x)]
    lines[5] = "1,2,,4,5,0"  # a row with a missing value
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture()
def image_folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "imgs"
    (folder / "some_class").mkdir(parents=True)
    for i in range(14):
        arr = (rng.random((10, 12)) * 255).astype(np.uint8)
        where = folder if i % 2 else folder / "some_class"  # flat files and a sub-folder
        Image.fromarray(arr).save(where / f"img_{i}.png")
    (folder / "broken.png").write_bytes(b"not a png")
    (folder / "notes.txt").write_text("ignored")
    return folder


def _spec(**kw) -> PretrainSpec:
    base = dict(encoder_units=[8], latent_dim=3, epochs=2, batch_size=16, seed=1,
                save_as="enc")
    base.update(kw)
    return PretrainSpec(**base)


# ------------------------------------------------------------------ spec
def test_pretrain_spec_round_trip_and_load(tmp_path: Path) -> None:
    spec = _spec(data=DataSpec(image_dir="imgs"), image_size=[8, 8], channels=1,
                 noise=0.2, noise_type="dropout")
    assert PretrainSpec.from_json(spec.to_json()) == spec
    assert spec.resolved_kind == "conv" and spec.modality == "image"
    path = tmp_path / "p.json"
    spec.save(path)
    loaded = PretrainSpec.load(path, ["epochs=5"])
    assert loaded.epochs == 5 and loaded.data.image_dir == str(tmp_path / "imgs")


@pytest.mark.parametrize(("data", "match"), [
    ({"data": {"path": "x.csv"}, "kind": "conv"}, "kind 'conv' needs images"),
    ({"data": {"image_dir": "d"}, "image_size": [6, 6], "encoder_units": [4, 4]},
     "divisible by 4"),
    ({"data": {"path": "x.csv", "text_column": "t"}}, "not text"),
    ({"data": {}}, "set data.path"),
    ({"data": {"path": "x.csv"}, "save_as": "../up"}, "not a usable library name"),
    ({"data": {"path": "x.csv"}, "noise": 1.5, "noise_type": "dropout"}, "noise must be"),
    ({"data": {"path": "x.csv"}, "encoder_units": []}, "encoder_units"),
    ({"data": {"path": "x.csv"}, "bogus": 1}, "unknown key 'bogus'"),
])
def test_pretrain_spec_errors_name_the_key(data: dict, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        PretrainSpec.from_dict(data)


# ------------------------------------------------------------------ data
def test_numeric_csv_is_standardised_without_the_label(numeric_csv: Path) -> None:
    spec = _spec(data=DataSpec(path=str(numeric_csv), label_column="label"))
    rec = RecordingReporter()
    data = autoencoder.load_unlabelled(spec, rec)
    assert data.feature_names == ["a", "b", "c", "d", "e"]
    assert data.x.shape == (59, 5)
    np.testing.assert_allclose(data.x.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(data.x.std(axis=0), 1, atol=1e-4)
    assert any("missing values" in w for (w,) in rec.of("warning"))


def test_data_errors(numeric_csv: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="column.*nope.*columns are: a, b"):
        autoencoder.load_unlabelled(_spec(data=DataSpec(path=str(numeric_csv),
                                                        feature_columns=["a", "nope"])))
    text = tmp_path / "t.csv"
    text.write_text("a,b\nx,1\ny,2\n")
    with pytest.raises(DataError, match="not numeric"):
        autoencoder.load_unlabelled(_spec(data=DataSpec(path=str(text),
                                                        feature_columns=["a"])))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        autoencoder.load_unlabelled(_spec(data=DataSpec(image_dir=str(tmp_path / "empty"))))


def test_image_folder_flat_and_nested_with_a_broken_file(image_folder: Path) -> None:
    spec = _spec(data=DataSpec(image_dir=str(image_folder)), image_size=[8, 8], channels=1)
    rec = RecordingReporter()
    data = autoencoder.load_unlabelled(spec, rec)
    assert data.x.shape == (14, 8, 8, 1)
    assert 0.0 <= data.x.min() and data.x.max() <= 1.0
    assert "broken.png" in rec.of("warning")[0][0]


# ------------------------------------------------------------------ models
def test_denoising_noise_stays_out_of_the_encoder() -> None:
    spec = _spec(data=DataSpec(path="x.csv"), encoder_units=[6, 4], latent_dim=2, noise=0.3)
    ae, enc = autoencoder.build_autoencoder(spec, (5,))
    assert "noise" in [layer.name for layer in ae.layers]
    assert all("noise" not in layer.name for layer in enc.layers)
    assert tuple(enc.output.shape) == (None, 2) and tuple(ae.output.shape) == (None, 5)
    flat = _spec(data=DataSpec(image_dir="d"), kind="dense", encoder_units=[6], latent_dim=2,
                 image_size=[8, 8], channels=1)
    ae, enc = autoencoder.build_autoencoder(flat, (8, 8, 1))
    assert tuple(enc.output.shape) == (None, 2) and tuple(ae.output.shape) == (None, 8, 8, 1)
    conv = _spec(data=DataSpec(image_dir="d"), encoder_units=[4, 8], latent_dim=0,
                 image_size=[8, 8], channels=3)
    ae, enc = autoencoder.build_autoencoder(conv, (8, 8, 3))
    assert tuple(enc.output.shape) == (None, 2, 2, 8) and tuple(ae.output.shape) == (
        None, 8, 8, 3)


# ------------------------------------------------------------------ pretraining end to end
def test_dense_pretraining_reports_and_saves_a_tabular_backbone(numeric_csv: Path) -> None:
    spec = _spec(data=DataSpec(path=str(numeric_csv), label_column="label"), epochs=3,
                 noise=0.1, save_as="rows-enc")
    rec = RecordingReporter()
    result = autoencoder.pretrain(spec, rec)
    ((info,),) = rec.of("train_begin")
    assert info["phase"] == "pretrain" and info["epochs"] == 3
    assert info["train_samples"] + info["val_samples"] == 59
    steps = [s for s, _ in rec.of("batch_end")]
    assert steps == list(range(1, 3 * info["steps_per_epoch"] + 1))
    assert {"loss", "batch_loss", "lr", "epoch", "samples_per_s"} <= set(rec.of("batch_end")[0][1])
    epochs = rec.of("epoch_end")
    assert [e for e, _ in epochs] == [1, 2, 3]
    assert "loss" in epochs[-1][1] and "val_loss" in epochs[-1][1]
    assert rec.of("train_end")[0][0]["stopped_by_user"] is False
    assert len(result.history) == 3 and not result.stopped_by_user
    entry = library.get_entry("rows-enc")
    assert (entry.kind, entry.modality, entry.input_shape) == ("autoencoder", "tabular", [5])
    stats = json.loads((entry.folder / "feature_stats.json").read_text())
    assert stats["columns"] == ["a", "b", "c", "d", "e"] and len(stats["mean"]) == 5
    assert {"pretrain_spec.json", "history.csv"} <= set(entry.files)
    assert library.verify("rows-enc")[0].ok
    resolved = library.resolve_entry("rows-enc")
    enc = keras.saving.load_model(resolved.path, safe_mode=True)
    assert tuple(enc.output.shape) == (None, 3)


def test_conv_pretraining_writes_the_reconstruction_strip(image_folder: Path) -> None:
    spec = _spec(data=DataSpec(image_dir=str(image_folder)), encoder_units=[4, 4],
                 latent_dim=2, image_size=[8, 8], channels=1, epochs=2, save_as="img-enc")
    previews: list[str] = []
    rec = RecordingReporter()
    result = autoencoder.pretrain(spec, rec, on_preview=previews.append)
    assert len(previews) == 2 and Path(previews[-1]).is_file()
    strip = Image.open(result.preview_path)
    assert strip.width > strip.height  # originals over reconstructions, side by side
    assert any("Reconstructions" in s and str(Path(previews[-1])) in s
               for (s,) in rec.of("status"))
    entry = library.get_entry("img-enc")
    assert entry.preprocessing == "scale_0_1" and entry.input_shape == [8, 8, 1]
    assert entry.image_size == [8, 8] and "reconstructions.png" in entry.files
    assert "Conv autoencoder" in entry.description


def test_stop_keeps_the_encoder_trained_so_far(numeric_csv: Path) -> None:
    spec = _spec(data=DataSpec(path=str(numeric_csv)), epochs=50, save_as="stopped")
    rec = RecordingReporter(stop_after_batches=2)
    result = autoencoder.pretrain(spec, rec)
    assert result.stopped_by_user and len(result.history) == 1
    assert "stopped early" in library.get_entry("stopped").description


def test_name_taken_is_refused_before_training(numeric_csv: Path) -> None:
    spec = _spec(data=DataSpec(path=str(numeric_csv)), epochs=1, save_as="taken")
    autoencoder.pretrain(spec)
    rec = RecordingReporter()
    with pytest.raises(library.LibraryError, match="already has a model called 'taken'"):
        autoencoder.pretrain(spec, rec)
    assert rec.of("train_begin") == []
    assert autoencoder.pretrain(spec, replace=True).entry_name == "taken"


def test_stop_before_the_first_epoch_saves_nothing(numeric_csv: Path, monkeypatch) -> None:
    spec = _spec(data=DataSpec(path=str(numeric_csv)), epochs=3, save_as="never")
    monkeypatch.setattr(autoencoder, "pretrain_arrays",
                        lambda *a, **k: (None, None, [], True))
    with pytest.raises(CancelledError):
        autoencoder.pretrain(spec)
    assert "never" not in [e.name for e in library.list_entries()]


def test_encoder_is_a_fine_tune_backbone_through_load_backbone(image_folder: Path) -> None:
    backbones = pytest.importorskip("ftstudio.engine.backbones")
    spec = _spec(data=DataSpec(image_dir=str(image_folder)), encoder_units=[4],
                 latent_dim=0, image_size=[8, 8], channels=3, epochs=1, save_as="ft-enc")
    autoencoder.pretrain(spec)
    backbone = backbones.load_backbone(BackboneSpec(source="library", name="ft-enc"), "image")
    assert backbone.model is not None and backbone.image_shape == (8, 8, 3)
    assert backbone.preprocessing == "scale_0_1"
