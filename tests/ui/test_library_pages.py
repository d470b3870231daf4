"""The Library and Pretrain pages, driven through their jobs (threads always joined)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytestmark = pytest.mark.gui

from ftstudio.bridge import library_calls  # noqa: E402
from ftstudio.bridge.jobs import JobRunner  # noqa: E402
from ftstudio.spec import DataSpec, PretrainSpec  # noqa: E402
from ftstudio.ui.pages.library_page import ImportDialog, LibraryPage  # noqa: E402
from ftstudio.ui.pages.pretrain_page import PretrainPage  # noqa: E402

SCREENS = Path(os.environ.get("FTSTUDIO_SCREENSHOTS",
                              Path(__file__).resolve().parents[2] / "screenshots"))


def _grab(widget, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    widget.resize(1100, 700)
    assert widget.grab().save(str(SCREENS / f"{name}.png"))


@pytest.fixture()
def runner(qtbot):
    runner = JobRunner()
    yield runner
    assert runner.wait_all(120_000), "a job thread did not end"


@pytest.fixture()
def library_page(qtbot, runner):
    page = LibraryPage(runner)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=30000)
    yield page
    page.shutdown()


@pytest.fixture()
def pretrain_page(qtbot, runner):
    page = PretrainPage(runner)
    qtbot.addWidget(page)
    yield page
    page.shutdown()


@pytest.fixture()
def tiny_model(tmp_path: Path) -> Path:
    import keras

    sub_in = keras.Input((8, 8, 3))
    features = keras.Model(sub_in, keras.layers.Conv2D(2, 3, name="conv")(sub_in),
                           name="features")
    inp = keras.Input((8, 8, 3), name="pixels")
    x = keras.layers.GlobalAveragePooling2D(name="pool")(features(inp))
    out = keras.layers.Dense(2, activation="softmax", name="probs")(x)
    path = tmp_path / "tiny.keras"
    keras.Model(inp, out).save(path)
    return path


def _wait_idle(qtbot, page) -> None:
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=60000)


def test_library_page_import_select_verify_remove(qtbot, library_page, tiny_model) -> None:
    page = library_page
    assert page.entries() == [] and "0 model(s)" in page.status_label.text()
    assert page.import_path(str(tiny_model), name="tiny", submodel="features")
    assert not page.import_file_button.isEnabled()
    assert not page.import_path(str(tiny_model))  # one operation at a time
    _wait_idle(qtbot, page)
    _wait_idle(qtbot, page)  # the refresh that follows an import
    qtbot.waitUntil(lambda: [e.name for e in page.entries()] == ["tiny"], timeout=30000)
    assert page.select("tiny")
    text = page.details.toPlainText()
    assert '"source": "library", "name": "tiny"' in text and "backbone.keras" in text
    assert page.model.rowCount() == 1 and page.model.data(page.model.index(0, 2)) == "8×8×3"
    _grab(page, "library_page")
    page.verify("tiny")
    _wait_idle(qtbot, page)
    assert "verified" in page.status_label.text()
    payload = Path(page.entries()[0].folder) / "backbone.keras"
    payload.write_bytes(payload.read_bytes()[:-5])
    page.verify()
    _wait_idle(qtbot, page)
    assert page.status_label.text().startswith("DAMAGED: tiny")
    page.remove_entry("tiny", confirm=False)
    _wait_idle(qtbot, page)
    qtbot.waitUntil(lambda: page.entries() == [], timeout=30000)
    assert page.import_file_button.isEnabled()


def test_library_page_reports_refused_files(qtbot, library_page, tmp_path: Path) -> None:
    fake = tmp_path / "fake.h5"
    fake.write_text("text")
    library_page.import_path(str(fake))
    _wait_idle(qtbot, library_page)
    assert "not an HDF5 file" in library_page.last_error
    assert library_page.status_label.text().startswith("Error:")


def test_import_dialog_offers_submodels_and_layers(qtbot, tiny_model: Path) -> None:
    info = library_calls.inspect_path(str(tiny_model))  # synchronously, for the test
    dialog = ImportDialog(info, "tiny")
    qtbot.addWidget(dialog)
    dialog.submodel.setCurrentIndex(dialog.submodel.findData("features"))
    assert dialog.cut_layer.findData("conv") > 0
    dialog.cut_layer.setCurrentIndex(dialog.cut_layer.findData("conv"))
    assert dialog.options()["submodel"] == "features"
    assert dialog.options()["cut_layer"] == "conv"


def test_pretrain_page_runs_and_draws(qtbot, pretrain_page, tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    folder = tmp_path / "unlabelled"
    folder.mkdir()
    for i in range(20):
        Image.fromarray((rng.random((8, 8)) * 255).astype(np.uint8)).save(folder / f"{i}.png")
    spec = PretrainSpec(data=DataSpec(image_dir=str(folder)), encoder_units=[4],
                        latent_dim=2, image_size=[8, 8], channels=1, epochs=3, batch_size=4,
                        save_as="page-enc")
    page = pretrain_page
    page.set_spec(spec)
    assert page.spec() == spec
    finished: list = []
    page.pretrainFinished.connect(finished.append)
    assert page.start()
    assert page.stop_button.isEnabled() and not page.start_button.isEnabled()
    qtbot.waitUntil(lambda: not page.is_running(), timeout=90000)
    assert page.last_error == ""
    (result,) = finished
    assert result.entry_name == "page-enc" and len(result.history) == 3
    curves = page.curve_data()
    assert curves["train"][0] == [1.0, 2.0, 3.0] and len(curves["val"][1]) == 3
    assert curves["batches"][0]
    assert page.preview_label.pixmap() is not None and not page.preview_label.pixmap().isNull()
    assert "page-enc" in page.status_label.text()
    _grab(page, "pretrain_page")


def test_pretrain_page_form_errors(qtbot, pretrain_page) -> None:
    page = pretrain_page
    assert not page.start()
    assert "choose the unlabelled data" in page.last_error
    page.path_edit.setText("/tmp/x.csv")
    page.source_kind.setCurrentIndex(1)
    page.units_edit.setText("8, x")
    assert not page.start() and "whole numbers" in page.last_error
    page.units_edit.setText("8")
    page.name_edit.setText("bad name!")
    assert not page.start() and "not a usable library name" in page.last_error
    assert not page.is_running()
