"""The studio window end to end, with the real engine and tiny models.

Every test's window stops and joins its threads in the fixture's teardown. Screenshots of each
page land in ``screenshots/`` (git-ignored; ``FTSTUDIO_SCREENSHOTS`` overrides it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QMessageBox

from ftstudio.spec import ExperimentSpec
from tests.ui.conftest import open_data, shot, wait_engine

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[2]


class BatchProbe(QObject):
    """Counts batch chunks that reach the GUI thread while the run is still going."""

    def __init__(self, page) -> None:  # noqa: ANN001
        super().__init__()
        self.page = page
        self.live = 0

    @Slot(object)
    def on_batches(self, chunk: list) -> None:
        if self.page.running:
            self.live += len(chunk)


def wait_built(qtbot, w, condition=lambda d: True) -> None:  # noqa: ANN001
    m = w.model_page
    qtbot.waitUntil(lambda: m.build_error is not None or (
        m.description is not None and not m._stale and condition(m.description)),
        timeout=120_000)
    assert m.build_error is None, m.build_error


def train(qtbot, w, epochs: int, batch: int = 16) -> BatchProbe:  # noqa: ANN001
    page = w.train_page
    page.form.epochs.setValue(epochs)
    page.form.batch_size.setValue(batch)
    page.form.patience.setValue(0)
    probe = BatchProbe(page)
    w.go_to("train")
    qtbot.mouseClick(page.start_btn, Qt.MouseButton.LeftButton)
    assert page.running
    page.reporter.batchesArrived.connect(probe.on_batches)
    return probe


def test_window_appears_before_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys, time; t0 = time.perf_counter()\n"
        "from ftstudio.ui.app import create_app, create_window\n"
        "app = create_app(); w = create_window(); w.show(); app.processEvents()\n"
        "print(int('tensorflow' in sys.modules), int('keras' in sys.modules),"
        " int('pandas' in sys.modules), round(time.perf_counter() - t0, 3))\n"
        "w.shutdown()\n")
    env = {"QT_QPA_PLATFORM": "offscreen", "FTSTUDIO_HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    tf, keras, pandas, _seconds = out.stdout.split()
    assert (tf, keras, pandas) == ("0", "0", "0")


def test_tabular_csv_end_to_end(qtbot, window, tabular_csv: Path) -> None:
    w = window
    wait_engine(qtbot, w)
    assert w.engine.label.text().startswith("Ready")

    # ---- Data: open, guessed columns, pick columns, class chart
    open_data(qtbot, w, tabular_csv)
    d = w.project.spec.data
    assert d.label_column == "species"
    assert d.feature_columns == ["petal_length", "petal_width", "sepal_length"]
    assert w.data_page.labels.bars.counts == {"setosa": 80, "versicolor": 80, "virginica": 80}
    assert w.project.spec.backbone.source == "none"  # numeric features: an MLP
    feats = w.data_page.columns.features_list
    item = next(feats.item(i) for i in range(feats.count())
                if feats.item(i).data(Qt.ItemDataRole.UserRole) == "sepal_length")
    item.setCheckState(Qt.CheckState.Unchecked)
    assert d.feature_columns == ["petal_length", "petal_width"]
    qtbot.waitUntil(lambda: not w.data_page._check_timer.isActive(), timeout=5000)
    qtbot.waitUntil(lambda: w.data_page.check is not None, timeout=60_000)
    shot(w, "01_data")

    # ---- Model: build, add a head layer, see the count grow
    w.go_to("model")
    wait_built(qtbot, w)
    before = w.model_page.layers.tree_model.trainable_params()
    qtbot.mouseClick(w.model_page.head_builder.add_buttons["dense"], Qt.MouseButton.LeftButton)
    assert [layer.type for layer in w.project.spec.head.layers] == ["dense"]
    wait_built(qtbot, w, lambda desc: any(r.name.startswith("head_0") for r in desc.layers))
    after = w.model_page.layers.tree_model.trainable_params()
    assert after == before + (2 * 128 + 128) + (128 * 3 + 3) - (2 * 3 + 3)
    assert f"{after:,}" in w.model_page.layers.trainable_label.text()
    shot(w, "02_model_tabular")
    w.model_page.right_tabs.setCurrentIndex(1)
    assert "Dense 128" in w.model_page.summary.text()
    shot(w, "02_model_summary")
    w.model_page.right_tabs.setCurrentIndex(0)

    # ---- Train 2 epochs; chart points arrive while training
    probe = train(qtbot, w, epochs=2)
    qtbot.waitUntil(lambda: not w.train_page.running, timeout=180_000)
    page = w.train_page
    assert not w.errors, w.errors
    assert probe.live > 0
    assert page.outcome is not None and not page.outcome.stopped_by_user
    counts = page.charts.point_counts()
    assert counts["epoch"] == 2 and counts["batch"] == 2 * 12 and counts["lr"] == 24
    assert page.progress_card.result_box.isVisible()
    shot(w, "03_train")

    # ---- the run folder reproduces the session
    run = Path(page.outcome.run_dir)
    assert run.parent == Path(w.train_page.runs_root)
    saved = ExperimentSpec.load(run / "spec.json")
    assert saved == w.project.spec
    assert json.loads((run / "status.json").read_text())["status"] == "finished"

    # ---- Evaluate
    qtbot.waitUntil(lambda: w.evaluate_page.run is not None, timeout=30_000)
    w.go_to("evaluate")
    ev = w.evaluate_page
    assert ev.table.rowCount() == 3 + 2  # classes + macro + accuracy
    assert ev.confusion.matrix.sum() == 24  # the test split
    assert ev.cards[0].value.text().endswith("%")
    shot(w, "04_evaluate")
    ev.tabs.setCurrentIndex(ev.tab_roc)
    assert len(ev.roc.curves) == 3
    shot(w, "04_evaluate_roc")
    ev.tabs.setCurrentIndex(ev.tab_history)
    shot(w, "04_evaluate_history")

    # ---- Runs: listed; opening it shows it again
    w.go_to("runs")
    qtbot.waitUntil(lambda: w.runs_page.model.rowCount() == 1, timeout=30_000)
    w.runs_page.table.selectRow(0)
    ev.clear()
    qtbot.mouseClick(w.runs_page.open_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ev.run is not None, timeout=30_000)
    assert w.current_page() == "evaluate"
    w.go_to("runs")
    shot(w, "05_runs")
    for key in ("library", "pretrain"):
        w.go_to(key)
        shot(w, f"06_{key}")


def test_image_folder_toggle_layer_and_stop_early(qtbot, window, image_setup) -> None:
    folder, model_file = image_setup
    w = window
    wait_engine(qtbot, w)
    open_data(qtbot, w, folder)
    assert w.project.spec.modality == "image"
    assert w.data_page.labels.bars.counts == {"blue": 12, "red": 12}
    shot(w, "01_data_images")

    w.go_to("model")
    w.model_page.use_local_model(str(model_file))
    assert w.project.spec.backbone.source == "file"
    wait_built(qtbot, w, lambda desc: any(r.name == "conv_a" for r in desc.layers))
    tree = w.model_page.layers.tree_model
    total_before = tree.trainable_params()
    # click the trainable box of conv_a (through the proxy the view shows)
    proxy = w.model_page.layers.proxy
    matches = proxy.match(proxy.index(0, 0), Qt.ItemDataRole.DisplayRole, "conv_a", 1,
                          Qt.MatchFlag.MatchRecursive)
    assert matches
    box = matches[0].siblingAtColumn(1)
    assert box.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    assert proxy.setData(box, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert tree.trainable_params() == total_before - 112  # conv_a: 3*3*3*4 + 4
    assert f"{total_before - 112:,}" in w.model_page.layers.trainable_label.text()
    f = w.project.spec.freeze
    assert f.mode == "layers" and f.layers["conv_a"] is False and f.layers["conv_b"] is True
    w.model_page.layers.tree.expandAll()
    shot(w, "02_model_layers")

    # ---- a long run, stopped after the first epoch: best weights kept, run evaluated
    train(qtbot, w, epochs=200, batch=4)
    page = w.train_page
    qtbot.waitUntil(lambda: page.charts.point_counts()["epoch"] >= 1 or not page.running,
                    timeout=180_000)
    assert page.running
    qtbot.mouseClick(page.stop_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.running, timeout=180_000)
    assert not w.errors, w.errors
    assert page.outcome is not None and page.outcome.stopped_by_user
    run = Path(page.outcome.run_dir)
    assert json.loads((run / "status.json").read_text())["status"] == "stopped"
    assert ExperimentSpec.load(run / "spec.json").freeze.layers["conv_a"] is False
    qtbot.waitUntil(lambda: w.evaluate_page.run is not None, timeout=30_000)
    w.go_to("evaluate")
    assert w.evaluate_page.report() is not None
    shot(w, "04_evaluate_images")


def test_closing_during_training_stops_and_joins(qtbot, window, tabular_csv: Path) -> None:
    w = window
    wait_engine(qtbot, w)
    open_data(qtbot, w, tabular_csv)
    train(qtbot, w, epochs=500, batch=4)
    page = w.train_page
    qtbot.waitUntil(lambda: page.batches_received > 0, timeout=120_000)
    asked: list[str] = []

    def answer(title: str, text: str, buttons):  # noqa: ANN001, ANN202
        asked.append(title)
        return QMessageBox.StandardButton.Yes

    w.ask = answer
    w.project.dirty = False
    assert w.close()
    assert asked == ["Training is running"]
    assert not w.runner.busy  # the thread was stopped and joined, not aborted
    runs = list(Path(page.runs_root).iterdir())
    assert len(runs) == 1
    assert json.loads((runs[0] / "status.json").read_text())["status"] == "stopped"


def test_errors_become_dialogs_and_the_app_lives(qtbot, window, tmp_path: Path,
                                                 monkeypatch) -> None:  # noqa: ANN001
    w = window
    # a user error (missing file) is shown in place, without a dialog
    w.data_page.open_path(str(tmp_path / "missing.csv"))
    qtbot.waitUntil(lambda: w.data_page.warnings.isVisible(), timeout=30_000)
    assert "not found" in w.data_page.warnings.findChildren(type(w.engine.label))[0].text()
    assert not w.errors

    # a bug in a worker becomes a dialog with the traceback; the window carries on
    from ftstudio.bridge import engine_calls

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise ZeroDivisionError("division by zero in the preview")

    monkeypatch.setattr(engine_calls, "preview_data", broken)
    w.data_page.open_path(str(tmp_path / "x.csv"))
    qtbot.waitUntil(lambda: bool(w.errors), timeout=30_000)
    info = w.errors[-1]
    assert not info.user_error and "ZeroDivisionError" in info.details
    boxes = [b for b in w.findChildren(QMessageBox) if b.isVisible()]
    assert boxes and boxes[-1].detailedText() == info.details
    shot(boxes[-1], "07_error_dialog")
    boxes[-1].accept()
    w.go_to("train")
    assert w.isVisible()


def test_project_save_open_recent_and_geometry(qtbot, window, tabular_csv: Path,
                                               tmp_path: Path) -> None:
    from ftstudio.ui.settings import make_settings, recent_projects

    w = window
    open_data(qtbot, w, tabular_csv)
    w.go_to("train")
    w.train_page.form.epochs.setValue(9)
    path = tmp_path / "flowers.ftsproj"
    assert w.save_project_as(path)
    assert not w.project.dirty and w.windowTitle().startswith("flowers")
    w.new_project()
    assert w.project.spec.data.path is None
    preview = w.data_page.preview_card
    assert preview.table_stack.currentWidget() is preview.drop_hint
    assert w.open_project(path)
    assert w.project.spec.training.epochs == 9
    assert w.current_page() == "train"  # the UI state came back
    assert w.train_page.form.epochs.value() == 9
    qtbot.waitUntil(lambda: w.data_page.check is not None, timeout=60_000)
    assert w.project.spec.data.feature_columns == ["petal_length", "petal_width",
                                                   "sepal_length"]
    assert not w.project.dirty  # re-reading the data does not count as an edit
    assert recent_projects(make_settings()) == [str(path.resolve())]
    w.resize(1100, 700)
    w.save_geometry()
    assert not make_settings().value("window/geometry").isEmpty()


def test_demo_project_opens(qtbot, window) -> None:
    demo = ROOT / "resources" / "demo" / "demo_spec.json"
    assert demo.is_file(), "the bundled demo project is missing"
    w = window
    assert w.open_project(demo)
    qtbot.waitUntil(lambda: w.data_page.preview is not None, timeout=60_000)
    assert w.project.spec.modality == "text"
    assert w.data_page.columns.text_combo.currentText() == w.project.spec.data.text_column
    shot(w, "01_data_demo")


def test_pretrained_encoder_refreshes_the_library(qtbot, window) -> None:
    """A finished pretraining reloads the Library page (and so the Model page's list)."""
    library = window.library_page
    pretrain = window.pretrain_page
    qtbot.waitUntil(lambda: not library.is_busy(), timeout=60_000)
    with qtbot.waitSignal(library.entriesChanged, timeout=60_000):
        pretrain.pretrainFinished.emit({"entry_name": "x"})
