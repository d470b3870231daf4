"""The little-data loop in the window: data health, label review, label next, map, saliency.

Screenshots at 1280×800 go to ``screenshots/14_*.png``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, Qt

from ftstudio.bridge import engine_calls
from ftstudio.bridge.data_loop_calls import EmbeddingPoints
from ftstudio.spec import ExperimentSpec
from ftstudio.ui.pages.data_loop_panel import start_from_run
from ftstudio.ui.widgets.embedding_map import EmbeddingMapView
from tests.helpers.eval_runs import trained_run
from tests.ui.conftest import open_data, shot

FLIPPED = (10, 40, 70, 100)
"""Data rows (from 0) whose label is flipped in :func:`_flowers`."""


def _flowers(path: Path, n: int = 150, seed: int = 0, labelled: bool = True) -> Path:
    """Three well-separated classes of three features; some labels flipped, one duplicate."""
    rng = np.random.default_rng(seed)
    names = ["setosa", "versicolor", "virginica"]
    rows = []
    for i in range(n):
        c = i % 3
        label = names[(c + 1) % 3] if labelled and i in FLIPPED else names[c]
        rows.append([*[f"{v:.3f}" for v in rng.normal(2.0 * c, 0.4, 3)], label])
    if labelled:
        rows.append(rows[5])
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["petal_length", "petal_width", "sepal_length", "species"][
            :4 if labelled else 3])
        writer.writerows(row if labelled else row[:3] for row in rows)
    return path


def test_data_page_health_label_review_label_next_and_map(qtbot, window, tmp_path) -> None:
    data = _flowers(tmp_path / "flowers.csv")
    original = data.read_bytes()
    open_data(qtbot, window, data)
    window.go_to("data")
    panel = window.data_page.loop
    panel.setCurrentIndex(panel.tab_health)
    qtbot.mouseClick(panel.health.check_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.health.result is not None, timeout=60_000)
    text = panel.health.report.toPlainText()
    assert "151 examples" in text and "exact duplicate" in text and "What to do" in text
    shot(window, "14_data_health")

    panel.setCurrentIndex(panel.tab_review)
    qtbot.mouseClick(panel.review.find_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.review.review is not None, timeout=60_000)
    listed = [issue.row for issue in panel.review.shown]
    assert {r + 2 for r in FLIPPED} <= set(listed[:12])  # file lines of the flipped rows
    assert panel.review.table.rowCount() == len(listed)
    first = listed.index(FLIPPED[0] + 2)
    panel.review.set_decision(first, f"→ {panel.review.shown[first].suggested}")
    panel.review.set_decision(listed.index(FLIPPED[1] + 2), "Drop")
    relabel, drop = panel.review.decisions()
    assert relabel == {FLIPPED[0] + 2: "versicolor"} and drop == [FLIPPED[1] + 2]
    shot(window, "14_label_review")
    fixed = tmp_path / "fixed.csv"
    panel.save_corrections(str(fixed))
    qtbot.waitUntil(lambda: "Saved fixed.csv" in panel.review.status.text(), timeout=30_000)
    assert data.read_bytes() == original
    assert len(fixed.read_text().splitlines()) == 151

    panel.setCurrentIndex(panel.tab_map)
    assert panel.map.points is not None and len(panel.map.points.x) == 151
    panel.map.colour.setCurrentIndex(1)
    panel.map.show_example(FLIPPED[0])
    assert "the probe says" in panel.map.detail.text()
    points = panel.map.points
    xs, ys = np.asarray(points.x), np.asarray(points.y)
    chosen = panel.map.select_box(xs.min() - 1, ys.min() - 1, np.median(xs), ys.max() + 1)
    assert chosen and all(points.x[i] <= np.median(xs) for i in chosen)
    assert len(chosen) == int((xs <= np.median(xs)).sum())
    panel.map.relabel_combo.setCurrentText("setosa")
    qtbot.mouseClick(panel.map.relabel_btn, Qt.MouseButton.LeftButton)
    assert set(panel.map_relabels) == {points.rows[i] for i in chosen}
    shot(window, "14_embedding_map")
    panel.map.select_btn.setChecked(False)
    panel.map_relabels.clear()
    # the box's edges are inclusive (the median point is in it), the lasso's outline is not
    x0, y0, x1, y1 = xs.min() - 1, ys.min() - 1, np.median(xs) + 1e-6, ys.max() + 1
    lassoed = panel.map.select_polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)])
    assert lassoed == chosen and not panel.map.select_btn.isChecked()  # the box, drawn free-hand
    shot(window, "14_embedding_lasso_window")
    panel.map.lasso_btn.setChecked(False)

    pool = _flowers(tmp_path / "pool.csv", n=60, seed=4, labelled=False)
    panel.setCurrentIndex(panel.tab_next)
    panel.rank_pool(str(pool), 6)
    qtbot.waitUntil(lambda: panel.next_view.result is not None, timeout=60_000)
    assert panel.next_view.table.rowCount() == 6
    panel.next_view.set_label(0, "virginica")
    shot(window, "14_label_next")
    more = tmp_path / "more.csv"
    panel.save_new_labels(str(more))
    qtbot.waitUntil(lambda: "Saved more.csv" in panel.next_view.status.text(), timeout=30_000)
    assert len(more.read_text().splitlines()) == 153
    assert panel.open_saved.isVisible()
    qtbot.mouseClick(panel.open_saved, Qt.MouseButton.LeftButton)  # train on the new data
    qtbot.waitUntil(lambda: window.data_page.check is not None and
                    Path(window.data_page.preview.source) == more, timeout=60_000)
    assert window.project.spec.data.label_column == "species"

    last = tmp_path / "runs" / "last"  # the project's last run (only its model file is looked at)
    last.mkdir(parents=True)
    (last / "model.keras").write_bytes(b"")
    window.project.ui_state["last_run"] = str(last)
    window.go_to("data")
    assert panel.next_view.retrain_btn.isVisible()  # offered once the new labels are saved
    shot(window, "14_label_next_saved")
    qtbot.mouseClick(panel.next_view.retrain_btn, Qt.MouseButton.LeftButton)
    assert window.current_page() == "train"
    assert window.project.spec.training.init_from_run == str(last)
    qtbot.waitUntil(lambda: window.data_page.check is not None, timeout=60_000)
    assert Path(window.data_page.preview.source) == more
    assert window.project.spec.training.init_from_run == str(last)  # the reopened data kept it


def _grid_points() -> EmbeddingPoints:
    """A 10 x 10 grid of points at integer positions; class 0 left of x = 5, class 1 right."""
    xs, ys = np.meshgrid(np.arange(10.0), np.arange(10.0))
    x, y = xs.ravel().tolist(), ys.ravel().tolist()
    labels = [int(v >= 5) for v in x]
    return EmbeddingPoints(x, y, labels, labels, ["left", "right"], list(range(2, 102)),
                           [f"example {i}" for i in range(100)], (0.6, 0.3), "a test grid")


class _Drag:
    """What pyqtgraph hands a view box during a left-button drag (item pixel positions)."""

    def __init__(self, down: QPointF, at: QPointF, start: bool, finish: bool) -> None:
        self.down, self.at, self.start, self.finish = down, at, start, finish

    def button(self) -> Qt.MouseButton:
        return Qt.MouseButton.LeftButton

    def buttonDownPos(self) -> QPointF:  # noqa: N802 - pyqtgraph's name
        return self.down

    def pos(self) -> QPointF:
        return self.at

    def isStart(self) -> bool:  # noqa: N802
        return self.start

    def isFinish(self) -> bool:  # noqa: N802
        return self.finish

    def accept(self) -> None:
        pass


L_SHAPE = [(-0.5, -0.5), (9.5, -0.5), (9.5, 2.5), (2.5, 2.5), (2.5, 9.5), (-0.5, 9.5)]
"""A concave outline: the bottom three rows and the left three columns (its box is all)."""


def test_the_lasso_selects_what_it_encloses_and_relabels_it(qtbot) -> None:
    view = EmbeddingMapView()
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.show()
    qtbot.waitExposed(view)
    view.set_points(_grid_points())
    x, y = np.asarray(view.points.x), np.asarray(view.points.y)

    triangle = [(-0.5, -0.5), (9.7, -0.5), (-0.5, 9.7)]
    assert view.select_polygon(triangle) == [int(i) for i in np.flatnonzero(x + y <= 9)]
    want = [int(i) for i in np.flatnonzero((y <= 2) | (x <= 2))]
    assert len(want) == 51 and view.select_polygon(L_SHAPE) == want
    assert view.selection_label.text() == "51 selected" and view.relabel_btn.isEnabled()

    view.lasso_btn.setChecked(False)  # now drawn with the mouse, as the user does
    view.lasso_btn.setChecked(True)
    assert view.selected == []
    box = view.view_box
    pixels = [box.mapFromView(QPointF(px, py)) for px, py in L_SHAPE]
    for i, at in enumerate(pixels):
        box.mouseDragEvent(_Drag(pixels[0], at, i == 0, i == len(pixels) - 1))
    assert view.selected == want
    assert len(view.outline.getData()[0]) == len(L_SHAPE) + 2  # closed: back to the start

    with qtbot.waitSignal(view.relabelRequested) as sent:
        view.relabel_combo.setCurrentText("right")
        qtbot.mouseClick(view.relabel_btn, Qt.MouseButton.LeftButton)
    assert sent.args[0] == {i + 2: "right" for i in want}
    shot(view, "14_embedding_lasso")
    view.select_btn.setChecked(True)  # the box still works, and ends the lasso
    assert not view.lasso_btn.isChecked() and len(view.outline.getData()[0] or []) == 0


def test_retraining_starts_from_the_last_run_only_when_it_has_a_model(tmp_path) -> None:
    spec = ExperimentSpec()
    run = tmp_path / "run"
    run.mkdir()
    assert "starts fresh" in start_from_run(spec, str(run))
    assert spec.training.init_from_run is None
    (run / "model.keras").write_bytes(b"")
    assert "from the weights of run" in start_from_run(spec, str(run))
    assert spec.training.init_from_run == str(run)
    assert "starts fresh" in start_from_run(spec, None)
    assert spec.training.init_from_run is None


def test_why_this_prediction_in_try_it_and_the_drill_down(qtbot, window) -> None:
    window.finish_setup()
    page = window.evaluate_page
    page.open_reports = False
    page.show_run(engine_calls.load_run(str(trained_run("text"))))
    window.go_to("evaluate")
    page.tabs.setCurrentIndex(page.tab_try)
    page.try_panel.text.setPlainText("one two good")
    qtbot.mouseClick(page.try_panel.predict_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Predicted in" in page.try_panel.message.text(), timeout=60_000)
    qtbot.mouseClick(page.why.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.why.view.explanation is not None, timeout=60_000)
    assert "integrated gradients" in page.why.view.caption.text()
    assert "good" in page.why.view.tokens.text()
    shot(window, "14_saliency_text")

    image_run = trained_run("image")
    page.show_run(engine_calls.load_run(str(image_run)))
    page.tabs.setCurrentIndex(page.tab_examples)
    page.examples.view.selectRow(0)
    qtbot.mouseClick(page.examples.why_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Grad-CAM" in page.examples.count.text(), timeout=60_000)
    assert not page.examples.picture.pixmap().isNull()
    shot(window, "14_saliency_image")


def test_image_reviews_and_label_next_show_each_picture(qtbot, tmp_path) -> None:
    """A user reviewing image labels sees each image, not only its file name."""
    from PIL import Image

    from ftstudio.bridge.data_loop_calls import (
        LabelIssueRow,
        LabelReviewResult,
        NextExample,
        NextResult,
    )
    from ftstudio.ui.widgets.label_next import LabelNextView
    from ftstudio.ui.widgets.label_review import LabelReviewView
    from ftstudio.ui.widgets.thumbnails import THUMB

    wide = tmp_path / "wide.png"
    Image.new("RGB", (400, 100), (200, 30, 30)).save(wide)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    issues = [LabelIssueRow(0, 1, str(wide), "cat", "dog", 0.1, -0.5, True),
              LabelIssueRow(1, 2, str(broken), "dog", "cat", 0.2, -0.3, True)]
    review = LabelReviewView()
    qtbot.addWidget(review)
    review.set_review(LabelReviewResult("image", str(tmp_path), "label", ["cat", "dog"],
                                        [0.5, 0.5], "5-fold probe", "image", issues))
    picture = review.table.item(0, 1).icon().pixmap(THUMB, THUMB)
    assert (picture.width(), picture.height()) == (THUMB, THUMB // 4)  # scaled, aspect kept
    assert review.table.item(0, 1).text() == f"{tmp_path.name}/wide.png"  # full path: tooltip
    assert review.table.item(0, 1).toolTip() == str(wide)
    assert review.table.item(1, 1).icon().isNull()  # unreadable: the name alone, no crash
    assert review.table.rowHeight(0) >= THUMB
    assert review.table.item(0, 5).text() == "likely · p 0.10"  # verdict and p(given), one cell
    assert review.table.item(0, 3).text() == "cat" and review.table.item(0, 4).text() == "dog"
    assert "out-of-fold" in review.table.horizontalHeaderItem(5).toolTip()
    review.set_decision(1, "Drop")
    assert review.decisions() == ({}, [2])

    nxt = LabelNextView()
    qtbot.addWidget(nxt)
    nxt.set_result(NextResult(str(tmp_path), 2, ["cat", "dog"], "label", "uncertainty",
                              [NextExample(0, 1, str(wide), "cat", 0.55, 0.9)]))
    assert not nxt.table.item(0, 1).icon().isNull()
    nxt.set_result(NextResult(str(tmp_path / "pool.csv"), 2, ["cat", "dog"], "label",
                              "uncertainty", [NextExample(0, 2, "a text", "cat", 0.55, 0.9)]))
    assert nxt.table.item(0, 1).icon().isNull()  # a CSV pool has no pictures
