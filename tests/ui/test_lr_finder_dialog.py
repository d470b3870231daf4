"""The LR finder dialog and the memory line on the Train page, on a tiny tabular project."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from ftstudio.bridge.recipe_types import LrFindOutcome
from tests.ui.conftest import open_data, shot, wait_engine

SHOTS = Path(os.environ.get("FTSTUDIO_TOOLS_SHOTS", "")) if os.environ.get(
    "FTSTUDIO_TOOLS_SHOTS") else None


def _save(widget, name: str) -> None:
    if SHOTS is not None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        assert widget.grab().save(str(SHOTS / f"{name}.png"))


@pytest.mark.gui
def test_lr_finder_sweep_and_memory_line_on_the_train_page(qtbot, window, tabular_csv,
                                                           monkeypatch):
    monkeypatch.setenv("FTSTUDIO_TRAIN_IN_THREAD", "1")  # the sweep in a thread: no second TF
    w = window
    wait_engine(qtbot, w)
    open_data(qtbot, w, tabular_csv)
    w.go_to("train")
    tools = w.train_page.tools
    qtbot.waitUntil(lambda: tools.memory is not None, timeout=60_000)
    label = tools.memory_label.text()
    assert label.startswith("Memory: about ") and "free" in label and "trainable" in label
    assert tools.memory.total_params > 0 and tools.memory.warning is None
    assert "parameters" in tools.memory_label.toolTip()
    shot(w, "tools_train_memory")
    _save(w, "train_page_memory_line")

    dialog = tools.open_lr_finder()
    assert dialog is not None and not dialog.use_btn.isEnabled()
    qtbot.mouseClick(dialog.find_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.outcome is not None or "failed" in dialog.status.text(),
                    timeout=120_000)
    qtbot.waitUntil(lambda: not dialog.running, timeout=30_000)
    outcome = dialog.outcome
    assert outcome is not None, dialog.status.text()
    assert len(outcome.learning_rates) >= 8 and math.isfinite(outcome.suggestion)
    assert dialog.smooth_curve.getData()[0] is not None
    assert len(dialog.smooth_curve.getData()[0]) == len(outcome.learning_rates)
    assert dialog.marker.isVisible() and dialog.use_btn.isEnabled()
    assert "Suggested learning rate" in dialog.status.text()
    _save(dialog, "lr_finder_dialog")
    before = w.project.spec.training.learning_rate
    qtbot.mouseClick(dialog.use_btn, Qt.MouseButton.LeftButton)
    chosen = float(f"{outcome.suggestion:.2g}")
    assert w.project.spec.training.learning_rate == pytest.approx(chosen)
    assert chosen != before or before == pytest.approx(chosen)
    assert w.project.dirty
    assert not list(Path(w.train_page.runs_root).glob("*"))  # the finder leaves no run

    # ---- a sweep (one trial: the engine tests run four) over the rate, then its best settings
    view = tools.open_sweep()
    assert view is not None and "training.learning_rate" in view.checks
    for key, check in view.checks.items():
        check.setChecked(key == "training.learning_rate")
    view.trials.setValue(1)
    qtbot.mouseClick(view.start_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.running, timeout=180_000)
    outcome = view.outcome
    assert outcome is not None, view.status.text()
    assert view.table.rowCount() == 1 and len(outcome.trials) == 1
    assert Path(outcome.sweep_dir).parent == Path(w.train_page.runs_root)
    assert view.best_btn.isEnabled() and "Best: trial" in view.status.text()
    assert len(view.points.data) == sum(t.value is not None for t in outcome.trials)
    _save(view, "sweep_view")
    best = next(t for t in outcome.trials if t.number == outcome.best)
    qtbot.mouseClick(view.best_btn, Qt.MouseButton.LeftButton)
    assert w.project.spec.training.learning_rate == pytest.approx(
        best.params["training.learning_rate"])
    view.close()


def test_dialog_shows_a_given_result_and_emits_the_rate(qtbot, styled_app):
    from ftstudio.bridge.jobs import JobRunner
    from ftstudio.spec import ExperimentSpec
    from ftstudio.ui.widgets.lr_finder_dialog import LrFinderDialog

    runner = JobRunner()
    dialog = LrFinderDialog(ExperimentSpec(), runner)
    qtbot.addWidget(dialog)
    rates = [10 ** (-6 + i / 5) for i in range(30)]
    losses = [1.0 - 0.5 * math.tanh(math.log10(r) + 3) for r in rates]
    dialog.show_result(LrFindOutcome(rates, losses, losses, 1.2e-3, 1e-1, True))
    assert dialog.use_btn.isEnabled() and dialog.use_btn.text() == "Use 0.0012"
    assert dialog.marker.value() == pytest.approx(math.log10(1.2e-3))
    with qtbot.waitSignal(dialog.rateChosen) as got:
        qtbot.mouseClick(dialog.use_btn, Qt.MouseButton.LeftButton)
    assert got.args == [pytest.approx(1.2e-3)]
    dialog.show_result(LrFindOutcome(rates[:3], losses[:3], losses[:3], math.nan, math.nan))
    assert not dialog.use_btn.isEnabled() and "too early" in dialog.status.text()
