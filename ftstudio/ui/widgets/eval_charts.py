"""The evaluation charts of the Evaluate page: confusion matrix, ROC curves, predicted vs true."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QWidget

from ftstudio.ui.widgets.charts import PALETTE, configure_pyqtgraph, set_category_ticks, style_plot

__all__ = ["ConfusionMatrixView", "RocView", "ScatterView", "auc"]


class ConfusionMatrixView(pg.PlotWidget):
    """A confusion-matrix heatmap: rows = true class, columns = predicted, with counts."""

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

    def set_matrix(self, matrix: Sequence[Sequence[int]], classes: Sequence[str],
                   normalize: bool = False) -> None:
        """Show a confusion matrix; ``normalize`` shows row percentages (recall per class)."""
        item = self.getPlotItem()
        for t in self._texts:
            item.removeItem(t)
        self._texts.clear()
        m = np.asarray(matrix, dtype=float)
        self.matrix = m
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


def auc(fpr: Sequence[float], tpr: Sequence[float]) -> float:
    """Area under a ROC curve by the trapezoid rule."""
    x = np.asarray(fpr, dtype=float)
    y = np.asarray(tpr, dtype=float)
    if len(x) < 2:
        return math.nan
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2))


class RocView(pg.PlotWidget):
    """ROC curves (one per class, one-vs-rest) with the chance diagonal."""

    def __init__(self, parent: QWidget | None = None) -> None:
        configure_pyqtgraph()
        super().__init__(parent=parent)
        item = self.getPlotItem()
        style_plot(item, "false positive rate", "true positive rate")
        item.setXRange(0, 1, padding=0.02)
        item.setYRange(0, 1, padding=0.02)
        self.legend = item.addLegend(offset=(-10, -10), labelTextSize="8pt")
        self.curves: list[pg.PlotDataItem] = []
        item.plot([0, 1], [0, 1], pen=pg.mkPen("#bdc1c6", style=Qt.PenStyle.DashLine))

    def set_curves(self, curves: Sequence[dict[str, Any]]) -> None:
        """Show ``[{"class", "fpr", "tpr"}, …]``."""
        item = self.getPlotItem()
        for c in self.curves:
            item.removeItem(c)
            self.legend.removeItem(c)
        self.curves.clear()
        for i, curve in enumerate(curves):
            name = f"{curve.get('class', i)} (AUC {auc(curve['fpr'], curve['tpr']):.3f})"
            c = item.plot(curve["fpr"], curve["tpr"],
                          pen=pg.mkPen(PALETTE[i % len(PALETTE)], width=2), name=name)
            self.curves.append(c)
        item.setXRange(0, 1, padding=0.02)
        item.setYRange(0, 1, padding=0.02)


class ScatterView(pg.PlotWidget):
    """Predicted vs true values (regression) with the identity line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        configure_pyqtgraph()
        super().__init__(parent=parent)
        item = self.getPlotItem()
        style_plot(item, "true value", "predicted value")
        color = QColor(PALETTE[0])
        color.setAlpha(150)
        self.scatter = pg.ScatterPlotItem(size=6, brush=color, pen=pg.mkPen(None))
        item.addItem(self.scatter)
        self.identity = item.plot([], [], pen=pg.mkPen("#e15759", style=Qt.PenStyle.DashLine))

    def set_points(self, y_true: Sequence[float], y_pred: Sequence[float]) -> None:
        """Show the points and the ``y = x`` line across their range."""
        t = np.asarray(y_true, dtype=float)
        p = np.asarray(y_pred, dtype=float)
        self.scatter.setData(t, p)
        if len(t):
            lo = float(min(t.min(), p.min()))
            hi = float(max(t.max(), p.max()))
            self.identity.setData([lo, hi], [lo, hi])
        else:
            self.identity.setData([], [])
        self.getPlotItem().autoRange()
