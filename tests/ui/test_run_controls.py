"""The window's run controls: Pause / Resume and Extend… on the Train page, and the Model page's
Augment tab (image data only) with its preview strip. Jobs run in a thread here (the child
process is tested in tests/bridge); screenshots go to the usual screenshots folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from tests.ui.conftest import open_data, shot, wait_engine
from tests.ui.test_window import train, wait_built

pytestmark = pytest.mark.gui


def test_pause_holds_resume_continues_and_extend_adds_epochs(qtbot, window, tabular_csv,
                                                            monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("FTSTUDIO_TRAIN_IN_THREAD", "1")
    w = window
    wait_engine(qtbot, w)
    open_data(qtbot, w, tabular_csv)
    page = w.train_page
    assert not page.pause_btn.isEnabled()
    train(qtbot, w, epochs=400, batch=4)
    qtbot.waitUntil(lambda: page.batches_received > 0, timeout=120_000)
    assert page.pause_btn.isEnabled() and page.pause_btn.text() == "Pause"
    qtbot.mouseClick(page.pause_btn, Qt.MouseButton.LeftButton)
    assert page.pause_btn.text() == "Resume"
    qtbot.waitUntil(lambda: "Paused after batch" in page.log.toPlainText(), timeout=60_000)
    held = page.batches_received
    qtbot.wait(600)
    assert page.batches_received == held  # nothing runs while paused
    assert page.progress_card.label.text().startswith("Paused")
    assert page.running
    shot(w, "train_paused")
    qtbot.mouseClick(page.pause_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.batches_received > held, timeout=60_000)
    qtbot.mouseClick(page.stop_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.running, timeout=120_000)
    assert not w.errors, w.errors
    assert not page.pause_btn.isEnabled() and page.pause_btn.text() == "Pause"
    run = Path(page.outcome.run_dir)
    epochs_before = len((run / "history.csv").read_text().splitlines()) - 1

    page.ask_extra_epochs = lambda parent: 1
    assert page.progress_card.extend_btn.isVisible()
    qtbot.mouseClick(page.progress_card.extend_btn, Qt.MouseButton.LeftButton)
    assert page.running
    qtbot.waitUntil(lambda: not page.running, timeout=120_000)
    assert not w.errors, w.errors
    assert page.outcome is not None and Path(page.outcome.run_dir) == run
    assert not page.outcome.stopped_by_user
    assert len((run / "history.csv").read_text().splitlines()) - 1 == epochs_before + 1
    assert json.loads((run / "spec.json").read_text())["training"]["epochs"] == \
        epochs_before + 1
    assert "Extending" in page.log.toPlainText()
    assert page.charts.point_counts()["epoch"] == epochs_before + 1  # earlier epochs shown too
    shot(w, "train_extended")

    # the Runs page extends a finished run through the Train page too
    w.go_to("runs")
    qtbot.waitUntil(lambda: w.runs_page.model.rowCount() == 1, timeout=30_000)
    w.runs_page.table.selectRow(0)
    assert w.runs_page.extend_btn.isEnabled()
    shot(w, "runs_extend")
    qtbot.mouseClick(w.runs_page.extend_btn, Qt.MouseButton.LeftButton)
    assert w.current_page() == "train" and page.running
    qtbot.waitUntil(lambda: not page.running, timeout=120_000)
    assert not w.errors, w.errors
    assert len((run / "history.csv").read_text().splitlines()) - 1 == epochs_before + 2


def test_the_augment_tab_edits_the_spec_and_previews(qtbot, window, image_setup) -> None:  # noqa: ANN001
    folder, model_file = image_setup
    w = window
    wait_engine(qtbot, w)
    m = w.model_page
    tab = m.right_tabs.indexOf(m.augment)
    assert not m.right_tabs.isTabVisible(tab)  # no data yet: not images
    open_data(qtbot, w, folder)
    w.go_to("model")
    m.use_local_model(str(model_file))
    wait_built(qtbot, w)
    assert m.right_tabs.isTabVisible(tab)
    m.right_tabs.setCurrentIndex(tab)
    m.augment.flip.setCurrentText("horizontal")
    m.augment.factors["rotation"].setValue(0.1)
    m.augment.factors["brightness"].setValue(0.3)
    a = w.project.spec.augment
    assert (a.flip, a.rotation, a.brightness, a.zoom) == ("horizontal", 0.1, 0.3, 0.0)
    assert w.project.dirty
    t0 = time.monotonic()
    qtbot.mouseClick(m.augment.preview_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: m.augment.strip.shown == 3 * 6, timeout=60_000)
    assert time.monotonic() - t0 < 60
    assert "flip horizontal" in m.augment.state.text()
    shot(w, "model_augment")
