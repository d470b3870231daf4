"""The Evaluate page on real (tiny) runs: drill-down, before/after, curves, Try it, report.

Screenshots at 1280×800 go to ``screenshots/11_*.png``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, Qt

from ftstudio.bridge import engine_calls
from ftstudio.bridge.types import RunDetails
from ftstudio.formatting import format_duration
from tests.helpers.eval_runs import copy_run, trained_run
from tests.ui.conftest import shot


def _show(qtbot, w, run: Path):  # noqa: ANN001, ANN202
    w.finish_setup()
    page = w.evaluate_page
    page.open_reports = False
    page.show_run(engine_calls.load_run(str(run)))
    w.go_to("evaluate")
    return page


def _click_cell(qtbot, view, true: int, pred: int) -> None:  # noqa: ANN001
    """A real mouse click in the middle of a confusion-matrix cell."""
    scene = view.getPlotItem().vb.mapViewToScene(QPointF(pred, true))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.mapFromScene(scene))


def _check_cell(page, true: str, pred: str) -> list[int]:  # noqa: ANN001
    rows = page.examples.shown_rows()
    out = page.examples.output
    assert rows, "the cell holds examples"
    assert all(out.true[i] == true and out.pred[i] == pred for i in rows)
    assert all(page.examples_table.splits[i] == "test" for i in rows)
    losses = [out.loss[i] for i in rows]
    assert losses == sorted(losses, reverse=True)  # worst first
    return rows


def test_text_run_cell_to_examples_and_try_it(qtbot, window) -> None:
    page = _show(qtbot, window, trained_run("text"))
    rep = page.report()
    matrix = rep["confusion"]
    true, pred = next((i, j) for i in range(2) for j in range(2) if matrix[i][j])
    page.tabs.setCurrentIndex(page.tab_confusion)
    qtbot.waitExposed(page.confusion)
    _click_cell(qtbot, page.confusion, true, pred)
    assert page.tabs.currentIndex() == page.tab_examples
    rows = _check_cell(page, rep["classes"][true], rep["classes"][pred])
    assert len(rows) == matrix[true][pred]
    detail = page.examples.detail.toPlainText()
    assert page.examples_table.inputs[rows[0]] in detail  # the full text
    page.examples.search.setText("good")
    assert all("good" in page.examples_table.inputs[i] for i in page.examples.shown_rows())
    # Try it: a typed text through the run's own tokenizer
    page.tabs.setCurrentIndex(page.tab_try)
    page.try_panel.text.setPlainText("the good movie")
    qtbot.mouseClick(page.try_panel.predict_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Predicted in" in page.try_panel.message.text(), timeout=60_000)
    assert "%" in page.try_panel.result.text()
    page.try_panel.text.setPlainText("  ")
    page.try_panel.request()
    qtbot.waitUntil(lambda: "type or paste" in page.try_panel.message.text(), timeout=30_000)
    assert not window.errors


def test_image_run_drill_down_with_thumbnails_and_try_it(qtbot, window, tmp_path) -> None:
    page = _show(qtbot, window, trained_run("image"))
    classes = page.report()["classes"]
    page.show_cell(classes[1], classes[1])
    rows = _check_cell(page, classes[1], classes[1])
    model = page.examples.model
    thumb = model.data(model.index(0, 1), Qt.ItemDataRole.DecorationRole)
    assert not thumb.isNull() and thumb.width() > 0
    assert model.headers()[0] == "Image"
    assert not page.examples.picture.pixmap().isNull()
    shot(window, "11_evaluate_drilldown_images")
    assert page.before_after.gain is not None and page.before_after.gain > 0
    assert "Fine-tuning added" in page.before_after.caption.text()
    assert "pretrained features" in page.before_after.caption.text()
    # Try it: a dropped image; then one that cannot be decoded says so
    page.tabs.setCurrentIndex(page.tab_try)
    page.try_panel.try_image(page.examples_table.inputs[rows[0]])
    qtbot.waitUntil(lambda: "Predicted in" in page.try_panel.message.text(), timeout=60_000)
    assert classes[1] in page.try_panel.result.text()
    shot(window, "11_try_it")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image at all")
    page.try_panel.try_image(str(broken))
    qtbot.waitUntil(lambda: "cannot read image" in page.try_panel.message.text(),
                    timeout=30_000)
    assert not window.errors  # said on the page, no dialog, no crash


def test_tabular_run_curves_try_it_and_report(qtbot, window) -> None:
    page = _show(qtbot, window, trained_run("tabular"))
    # no backbone: the probe was fitted on the raw columns, and the card says so
    assert "raw feature columns" in page.before_after.caption.text()
    assert len(page.roc.curves) == len(page.pr.curves) == 3
    assert len(page.calibration.curves) == 1
    assert "average precision" in page.curve_note.full_text()
    page.tabs.setCurrentIndex(page.tab_roc)
    shot(window, "11_evaluate_classification")
    page.tabs.setCurrentIndex(page.tab_try)
    assert list(page.try_panel.feature_edits) == ["f0", "f1", "f2", "f3"]
    page.try_panel.feature_edits["f0"].setText("2.5")
    page.try_panel.request()
    qtbot.waitUntil(lambda: "Predicted in" in page.try_panel.message.text(), timeout=60_000)
    assert "high" in page.try_panel.result.text()
    page.try_panel.feature_edits["f1"].setText("lots")
    page.try_panel.request()
    assert "'f1' must be a number" in page.try_panel.message.text()
    qtbot.mouseClick(page.report_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.report_path is not None, timeout=60_000)
    assert Path(page.report_path).is_file() and page.report_btn.isEnabled()


def test_regression_run(qtbot, window) -> None:
    page = _show(qtbot, window, trained_run("regression"))
    assert not page.tabs.isTabVisible(page.tab_confusion)
    assert page.tabs.isTabVisible(page.tab_scatter)
    assert page.cards[0].caption.text() == "MAE"
    assert "R²" in page.before_after.value.text()
    n = page.report()["n"]
    assert len(page.residuals.scatter.data) == n
    assert len(page.examples.shown_rows()) == n
    assert page.examples.model.headers()[4] == "Error"
    assert not page.examples.true_combo.isVisible()
    page.tabs.setCurrentIndex(page.tab_scatter)
    shot(window, "11_evaluate_regression")


def test_incomplete_run_shows_what_it_has(qtbot, window, tmp_path) -> None:
    run = copy_run("tabular", tmp_path / "run")
    (run / "model.keras").unlink()
    (run / "predictions.csv").unlink()
    page = _show(qtbot, window, run)
    assert "lacks predictions.csv, model.keras" in page.run_label.text()
    assert not page.try_panel.isEnabled()
    assert "no model.keras" in page.try_panel.message.text()
    assert page.examples.count.text() == "No per-example results in this run."
    assert page.table.rowCount() == 3 + 2


def _fake_run(tmp_path: Path, f1s: list[float]) -> RunDetails:
    per_class = [{"class": f"c{i}", "precision": f, "recall": f, "f1": f, "support": 2}
                 for i, f in enumerate(f1s)]
    report = {"task": "classification", "classes": [r["class"] for r in per_class],
              "per_class": per_class, "confusion": [[2 if i == j else 0 for j in range(3)]
                                                    for i in range(3)]}
    return RunDetails(path=str(tmp_path), name="fake", status="finished", spec={},
                      metrics={"test.accuracy": 0.5}, history=[],
                      evaluation={"splits": {"test": {"outputs": {"label": report}}}},
                      env={"wall_seconds": 81.4})


def _shaded(page) -> list[int]:  # noqa: ANN001
    return [r for r in range(page.table.rowCount() - 2)
            if page.table.item(r, 0).toolTip() == "The weakest class"]


def test_weakest_class_shading_and_duration_format(qtbot, window, tmp_path) -> None:
    window.finish_setup()
    page = window.evaluate_page
    page.show_run(_fake_run(tmp_path, [0.5, 0.5, 0.5]))
    assert _shaded(page) == []  # every class ties: none is "the weakest"
    page.show_run(_fake_run(tmp_path, [0.9, 0.4, 0.7]))
    assert _shaded(page) == [1]
    assert f"took {format_duration(81.4)}" in page.run_label.text()  # same format as Train
    assert "No baseline" in page.before_after.caption.text()


def test_compare_dialog_three_runs(qtbot, window) -> None:
    from ftstudio.ui.widgets.compare_view import CompareDialog

    runs = [str(trained_run(k)) for k in ("tabular", "regression", "image")]
    dialog = CompareDialog(runs, window.runner, window)
    qtbot.addWidget(dialog)
    dialog.resize(1100, 680)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.comparison is not None, timeout=30_000)
    keys = [dialog.metrics.item(r, 0).text() for r in range(dialog.metrics.rowCount())]
    assert "test.accuracy" in keys and "test.mae" in keys
    accuracy = keys.index("test.accuracy")
    assert dialog.metrics.item(accuracy, 2).text() == "—"  # the regression run
    assert dialog.metrics.item(accuracy, 3).font().bold()  # the image run is best
    assert dialog.plotted_runs() == 3
    spec_keys = [dialog.differences.item(r, 0).text()
                 for r in range(dialog.differences.rowCount())]
    assert "head.outputs[0].task" in spec_keys
    dialog.tabs.setCurrentIndex(1)
    shot(dialog, "11_compare_curves")
    dialog.tabs.setCurrentIndex(0)
    shot(dialog, "11_compare")
    dialog.close()


def test_compare_dialog_reports_bad_folders(qtbot, window, tmp_path) -> None:
    from ftstudio.ui.widgets.compare_view import CompareDialog

    dialog = CompareDialog([str(trained_run("tabular")), str(tmp_path)], window.runner, window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.error is not None, timeout=30_000)
    assert "not a run folder" in dialog.status.text()
