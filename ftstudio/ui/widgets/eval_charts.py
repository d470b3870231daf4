"""The evaluation charts of the Evaluate page.

A clickable confusion-matrix heat map, curves in the unit square (ROC, precision-recall, the
reliability curve), predicted-vs-true and residual scatter plots (regression), and the
before-vs-after bars of the linear-probe baseline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QGraphicsRectItem, QWidget

from ftstudio.ui.widgets.charts import PALETTE, configure_pyqtgraph, set_category_ticks, style_plot

__all__ = ["CalibrationView", "ConfusionMatrixView", "CurvesView", "PrView", "ResidualView",
           "RocView", "ScatterView", "auc"]


class ConfusionMatrixView(pg.PlotWidget):
    """A confusion-matrix heatmap: rows = true class, columns = predicted, with counts.

    Signals:
        cellClicked(int, int): the true and predicted class index of the cell clicked.
    """

    cellClicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        configure_pyqtgraph()
        super().__init__(parent=parent)
        item = self.getPlotItem()
        style_plot(item, "predicted", "true", grid=None)
        item.setMouseEnabled(x=False, y=False)
        item.setAspectLocked(False)
        self.image = pg.ImageItem()
        item.addItem(self.image)
        item.invertY(True)
        self._texts: list[pg.TextItem] = []
        self.matrix = np.zeros((0, 0))
        self.cmap = pg.ColorMap(pos=[0.0, 1.0], color=[(246, 249, 255), (31, 70, 180)])
        self.selection = QGraphicsRectItem()
        self.selection.setPen(pg.mkPen("#f28e2b", width=3))
        self.selection.setVisible(False)
        item.addItem(self.selection)
        self.scene().sigMouseClicked.connect(self._on_click)
        self.setToolTip("Click a cell to see its examples")

    def set_matrix(self, matrix: Sequence[Sequence[int]], classes: Sequence[str],
                   normalize: bool = False) -> None:
        """Show a confusion matrix; ``normalize`` shows row percentages (recall per class)."""
        item = self.getPlotItem()
        for t in self._texts:
            item.removeItem(t)
        self._texts.clear()
        m = np.asarray(matrix, dtype=float)
        self.matrix = m
        self.selection.setVisible(False)
        k = len(classes)
        if m.size == 0 or k == 0:
            self.image.clear()
            return
        rows = m.sum(axis=1, keepdims=True)
        shown = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0) if normalize else m
        top = float(shown.max()) or 1.0
        self.image.setImage(shown, levels=(0, top), autoLevels=False)
        self.image.setLookupTable(self.cmap.getLookupTable(nPts=256))
        self.image.setRect(QRectF(-0.5, -0.5, k, k))
        if k <= 25:
            font = QFont()
            font.setPointSize(9 if k <= 10 else 7)
            for i in range(k):
                for j in range(k):
                    v = shown[i, j]
                    text = f"{100 * v:.0f}%" if normalize else f"{int(m[i, j]):,}"
                    color = "w" if v > 0.55 * top else "#202124"
                    t = pg.TextItem(text, color=color, anchor=(0.5, 0.5))
                    t.setFont(font)
                    t.setPos(j, i)
                    item.addItem(t)
                    self._texts.append(t)
        set_category_ticks(item.getAxis("bottom"), list(classes), 12)
        set_category_ticks(item.getAxis("left"), list(classes), 16)
        item.setXRange(-0.5, k - 0.5, padding=0.02)
        item.setYRange(-0.5, k - 0.5, padding=0.02)

    def select_cell(self, true: int | None, pred: int | None) -> None:
        """Outline the cell ``(true, pred)`` (``None`` clears the outline)."""
        k = self.matrix.shape[0]
        if true is None or pred is None or not (0 <= true < k and 0 <= pred < k):
            self.selection.setVisible(False)
            return
        self.selection.setRect(QRectF(pred - 0.5, true - 0.5, 1.0, 1.0))
        self.selection.setVisible(True)

    def cell_at(self, scene_pos: QPointF) -> tuple[int, int] | None:
        """The ``(true, predicted)`` cell under a scene position, if any."""
        k = self.matrix.shape[0]
        if not k:
            return None
        point = self.getPlotItem().vb.mapSceneToView(scene_pos)
        col, row = int(round(point.x())), int(round(point.y()))
        if 0 <= row < k and 0 <= col < k:
            return row, col
        return None

    def _on_click(self, event: Any) -> None:
        cell = self.cell_at(event.scenePos())
        if cell is not None:
            self.select_cell(*cell)
            self.cellClicked.emit(*cell)


def auc(fpr: Sequence[float], tpr: Sequence[float]) -> float:
    """Area under a ROC curve by the trapezoid rule."""
    x = np.asarray(fpr, dtype=float)
    y = np.asarray(tpr, dtype=float)
    if len(x) < 2:
        return math.nan
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


class CurvesView(pg.PlotWidget):
    """Curves in the unit square, one colour each, with an optional dashed reference line.

    Args:
        x_label: the x axis.
        y_label: the y axis.
        diagonal: draw the ``y = x`` line (chance for ROC, perfect calibration).
        legend_corner: where the legend sits: ``(x, y)`` pyqtgraph offset (negative = from
            the right / bottom).
    """

    def __init__(self, x_label: str, y_label: str, diagonal: bool = True,
                 legend_corner: tuple[int, int] = (-10, -10),
                 parent: QWidget | None = None) -> None:
        configure_pyqtgraph()
        super().__init__(parent=parent)
        item = self.getPlotItem()
        style_plot(item, x_label, y_label)
        item.setMouseEnabled(x=False, y=False)
        self.legend = item.addLegend(offset=legend_corner, labelTextSize="8pt")
        self.legend.setBrush(pg.mkBrush(255, 255, 255, 220))
        self.curves: list[pg.PlotDataItem] = []
        if diagonal:
            item.plot([0, 1], [0, 1], pen=pg.mkPen("#bdc1c6", style=Qt.PenStyle.DashLine))
        self._square()

    def _square(self) -> None:
        item = self.getPlotItem()
        item.setXRange(0, 1, padding=0.02)
        item.setYRange(0, 1, padding=0.02)

    def set_series(self, series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
                   symbols: bool = False) -> None:
        """Show ``[(legend name, xs, ys), …]``."""
        item = self.getPlotItem()
        for c in self.curves:
            item.removeItem(c)
            self.legend.removeItem(c)
        self.curves.clear()
        for i, (name, xs, ys) in enumerate(series):
            color = PALETTE[i % len(PALETTE)]
            kw: dict[str, Any] = {"symbol": "o", "symbolSize": 6, "symbolBrush": color} \
                if symbols else {}
            self.curves.append(item.plot(list(xs), list(ys), pen=pg.mkPen(color, width=2),
                                         name=name, **kw))
        self._square()


class RocView(CurvesView):
    """ROC curves (the positive class, or one per class one-vs-rest) with the chance line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("false positive rate", "true positive rate", True, (-10, -10), parent)

    def set_curves(self, curves: Sequence[dict[str, Any]]) -> None:
        """Show ``[{"class", "fpr", "tpr", "auc"?}, …]`` (as in ``evaluation.json``)."""
        self.set_series([(f"{c.get('class', i)} (AUC "
                          f"{c.get('auc', auc(c['fpr'], c['tpr'])):.3f})", c["fpr"], c["tpr"])
                         for i, c in enumerate(curves)])


class PrView(CurvesView):
    """Precision-recall curves with each class's average precision."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("recall", "precision", False, (10, -10), parent)

    def set_curves(self, curves: Sequence[dict[str, Any]]) -> None:
        """Show ``[{"class", "precision", "recall", "ap"}, …]``."""
        self.set_series([(f"{c.get('class', i)} (AP {c.get('ap', math.nan):.3f})",
                          c["recall"], c["precision"]) for i, c in enumerate(curves)])


class CalibrationView(CurvesView):
    """The reliability curve: accuracy against confidence, with the perfect-calibration line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("confidence (probability of the predicted class)", "accuracy", True,
                         (-10, -10), parent)

    def set_calibration(self, calibration: dict[str, Any]) -> None:
        """Show ``{"confidence", "accuracy", "ece"}`` (as in ``evaluation.json``)."""
        if not calibration.get("confidence"):
            self.set_series([])
            return
        name = f"model (calibration error {calibration.get('ece', math.nan):.3f})"
        self.set_series([(name, calibration["confidence"], calibration["accuracy"])],
                        symbols=True)


class ScatterView(pg.PlotWidget):
    """A point cloud with a reference line: predicted vs true (``y = x``) by default.

    Args:
        x_label: the x axis.
        y_label: the y axis.
        reference: ``identity`` (``y = x``) or ``zero`` (``y = 0``, for residuals).
    """

    def __init__(self, x_label: str = "true value", y_label: str = "predicted value",
                 reference: str = "identity", parent: QWidget | None = None) -> None:
        configure_pyqtgraph()
        super().__init__(parent=parent)
        item = self.getPlotItem()
        style_plot(item, x_label, y_label)
        color = QColor(PALETTE[0])
        color.setAlpha(150)
        self.reference = reference
        self.scatter = pg.ScatterPlotItem(size=6, brush=color, pen=pg.mkPen(None))
        item.addItem(self.scatter)
        self.identity = item.plot([], [], pen=pg.mkPen("#e15759", style=Qt.PenStyle.DashLine))

    def set_points(self, x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> None:
        """Show the points and the reference line across their range."""
        t = np.asarray(x, dtype=float)
        p = np.asarray(y, dtype=float)
        self.scatter.setData(t, p)
        if len(t) and self.reference == "zero":
            self.identity.setData([float(t.min()), float(t.max())], [0.0, 0.0])
        elif len(t):
            lo = float(min(t.min(), p.min()))
            hi = float(max(t.max(), p.max()))
            self.identity.setData([lo, hi], [lo, hi])
        else:
            self.identity.setData([], [])
        self.getPlotItem().autoRange()


class ResidualView(ScatterView):
    """Residuals (predicted minus true) against the predicted value, with the zero line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("predicted value", "residual (predicted − true)", "zero", parent)

    def set_values(self, y_true: Sequence[float], y_pred: Sequence[float]) -> None:
        """Show the residuals of ``y_pred`` against ``y_true``."""
        t = np.asarray(y_true, dtype=float)
        p = np.asarray(y_pred, dtype=float)
        self.set_points(p, p - t)
