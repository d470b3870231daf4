"""Charts, small helpers and drag-and-drop parsing (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QUrl

from ftstudio.formatting import format_duration
from ftstudio.ui.pages.data_page import droppable_path
from ftstudio.ui.pages.train_parts import pretty_metric
from ftstudio.ui.widgets.eval_charts import ConfusionMatrixView, auc
from ftstudio.ui.widgets.train_charts import Series, TrainCharts, metric_names

pytestmark = pytest.mark.gui


def test_series_grows_without_copies() -> None:
    s = Series(capacity=2)
    for i in range(10):
        s.append(i, i * i)
    assert len(s) == 10 and s.y[-1] == 81 and s.last() == 81
    s.clear()
    assert len(s) == 0


def test_train_charts_draw_on_their_timer(qtbot) -> None:
    charts = TrainCharts(redraw_ms=10_000)
    qtbot.addWidget(charts)
    charts.add_batches([(i, {"loss": 1.0, "batch_loss": 1.0 / i, "lr": 1e-3})
                        for i in range(1, 51)])
    assert charts.point_counts()["batch"] == 0  # nothing drawn until the timer fires
    charts.add_epoch(1, {"loss": 0.9, "val_loss": 1.0, "accuracy": 0.5, "val_accuracy": 0.4})
    charts.redraw()
    assert charts.point_counts() == {"batch": 50, "epoch": 1, "lr": 50}
    assert charts.metric_name == "accuracy"
    charts.set_metric("val_accuracy")  # any name works; missing values are skipped
    charts.reset()
    assert charts.point_counts()["batch"] == 0


def test_metric_names_prefer_accuracy() -> None:
    assert metric_names({"loss": 1, "mae": 2, "accuracy": 3, "val_accuracy": 4, "lr": 5}) == \
        ["accuracy", "mae"]


def test_confusion_matrix_and_auc(qtbot) -> None:
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.set_matrix([[5, 1], [2, 7]], ["a", "b"])
    assert view.matrix.sum() == 15 and len(view._texts) == 4
    view.set_matrix([[5, 1], [2, 7]], ["a", "b"], normalize=True)
    assert auc([0, 1], [0, 1]) == pytest.approx(0.5)
    assert auc([0, 0, 1], [0, 1, 1]) == pytest.approx(1.0)


def test_small_formatters() -> None:
    assert format_duration(75) == "1:15" and format_duration(3700) == "1:01:40"
    assert format_duration(float("nan")) == "—"
    assert pretty_metric("test.accuracy 0.7083") == "test accuracy 70.8 %"
    assert pretty_metric("test.mae 0.25") == "test mae 0.25"


def test_drop_accepts_csv_and_folders_only(tmp_path: Path, qapp) -> None:
    csv_file = tmp_path / "a.csv"
    csv_file.write_text("x,y\n1,2\n")
    other = tmp_path / "a.exe"
    other.write_text("")
    for path, expected in ((csv_file, str(csv_file)), (tmp_path, str(tmp_path)),
                           (other, None)):
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(str(path))])
        assert droppable_path(mime) == expected
    web = QMimeData()
    web.setUrls([QUrl("https://example.com/a.csv")])
    assert droppable_path(web) is None
    assert np.isfinite(1.0)
