"""pyqtgraph charts of the window: our plot style, the class bars and the label histogram.

The live training charts are in :mod:`~ftstudio.ui.widgets.train_charts`, the evaluation
charts (confusion matrix, ROC, scatter) in :mod:`~ftstudio.ui.widgets.eval_charts`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QSizePolicy, QWidget

__all__ = [
    "PALETTE",
    "TRAIN_COLOR",
    "VAL_COLOR",
    "ClassBars",
    "Histogram",
    "configure_pyqtgraph",
    "legend_below",
    "make_plot",
    "set_category_ticks",
    "style_plot",
]

PALETTE = ["#3b6cf6", "#f28e2b", "#2ca58d", "#e15759", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]
"""Curve colours (colour-blind friendly order: blue, orange, green, red, …)."""

TRAIN_COLOR = "#3b6cf6"
VAL_COLOR = "#f28e2b"

_configured = False


def configure_pyqtgraph() -> None:
    """Global pyqtgraph options (white background, row-major images); idempotent."""
    global _configured
    if _configured:
        return
    pg.setConfigOptions(antialias=True, background="w", foreground="#3c4043",
                        imageAxisOrder="row-major")
    _configured = True


def style_plot(item: pg.PlotItem, x_label: str = "", y_label: str = "",
               grid: tuple[bool, bool] | None = (True, True)) -> None:
    """Give a plot our look: axis labels, a light grid, no menu or auto-range button."""
    if x_label:
        item.setLabel("bottom", x_label)
    if y_label:
        item.setLabel("left", y_label)
    if grid is not None:
        item.showGrid(x=grid[0], y=grid[1], alpha=0.15)
    item.setMenuEnabled(False)
    item.hideButtons()


def make_plot(title: str, x_label: str = "", y_label: str = "",
              parent: QWidget | None = None) -> pg.PlotWidget:
    """Make a PlotWidget with our look: title, axis labels, light grid, no menu clutter."""
    configure_pyqtgraph()
    plot = pg.PlotWidget(parent=parent)
    item = plot.getPlotItem()
    item.setTitle(f"<span style='font-size:10pt;font-weight:600'>{title}</span>")
    style_plot(item, x_label, y_label)
    plot.setMinimumHeight(150)
    return plot


def legend_below(item: pg.PlotItem, columns: int = 3) -> pg.LegendItem:
    """Give ``item`` a legend in a row under its x axis, so that it never hides a curve.

    Curves added afterwards with a ``name`` join it (as with ``PlotItem.addLegend``).
    """
    legend = pg.LegendItem(colCount=columns, labelTextSize="8pt", frame=False,
                           horSpacing=12, offset=None)
    item.layout.addItem(legend, 4, 1)
    item.legend = legend
    return legend


# ======================================================================= bars
def set_category_ticks(axis: pg.AxisItem, names: Sequence[str], max_len: int = 18) -> None:
    """Label an axis with category names (cut to ``max_len`` characters) at 0, 1, 2…."""
    ticks = [(i, n if len(n) <= max_len else n[:max_len - 1] + "…") for i, n in enumerate(names)]
    axis.setTicks([ticks, []])
    if axis.orientation in ("left", "right") and ticks:
        # pyqtgraph drops labels wider than the axis; size it for the longest one up front
        metrics = QFontMetrics(axis.style.get("tickFont") or QFont())
        widest = max(metrics.horizontalAdvance(text) for _, text in ticks)
        label = 22 if axis.label.isVisible() else 0
        axis.setWidth(widest + 14 + label)


class ClassBars(pg.PlotWidget):
    """Horizontal bars: examples per class, each with its count."""

    def __init__(self, parent: QWidget | None = None) -> None:
        configure_pyqtgraph()
        super().__init__(parent=parent)
        item = self.getPlotItem()
        style_plot(item, grid=(True, False))
        item.setMouseEnabled(x=False, y=False)
        self._bars: pg.BarGraphItem | None = None
        self._labels: list[pg.TextItem] = []
        self.counts: dict[str, int] = {}
        self.setMinimumSize(120, 110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)

    def set_counts(self, counts: dict[str, int]) -> None:
        """Show ``class -> count``."""
        item = self.getPlotItem()
        if self._bars is not None:
            item.removeItem(self._bars)
            self._bars = None
        for label in self._labels:
            item.removeItem(label)
        self._labels.clear()
        self.counts = dict(counts)
        if not counts:
            return
        names = list(counts)
        values = np.array([counts[n] for n in names], dtype=float)
        ys = np.arange(len(names))
        colors = [QColor(PALETTE[i % len(PALETTE)]) for i in range(len(names))]
        self._bars = pg.BarGraphItem(x0=np.zeros(len(names)), y=ys, height=0.66, width=values,
                                     brushes=colors, pens=[pg.mkPen(None)] * len(names))
        item.addItem(self._bars)
        top = float(values.max()) if len(values) else 1.0
        total = float(values.sum()) or 1.0
        font = QFont()
        font.setPointSize(8)
        for y, v in zip(ys, values, strict=True):
            text = pg.TextItem(f"{int(v):,} ({100 * v / total:.0f}%)", color="#3c4043",
                               anchor=(0, 0.5))
            text.setFont(font)
            text.setPos(v + top * 0.01, y)
            item.addItem(text)
            self._labels.append(text)
        set_category_ticks(item.getAxis("left"), names)
        item.invertY(True)
        item.setXRange(0, top * 1.35, padding=0)
        item.setYRange(-0.6, max(len(names), 5) - 0.4, padding=0)  # thin bars for few classes


class Histogram(pg.PlotWidget):
    """Vertical histogram (regression label values)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        configure_pyqtgraph()
        super().__init__(parent=parent)
        item = self.getPlotItem()
        style_plot(item, grid=(False, True))
        self._bars: pg.BarGraphItem | None = None
        self.setMinimumSize(120, 110)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)

    def set_histogram(self, edges: Sequence[float], counts: Sequence[int]) -> None:
        """Show a histogram from bin ``edges`` (n+1) and ``counts`` (n)."""
        item = self.getPlotItem()
        if self._bars is not None:
            item.removeItem(self._bars)
        e = np.asarray(edges, dtype=float)
        c = np.asarray(counts, dtype=float)
        self._bars = pg.BarGraphItem(x0=e[:-1], x1=e[1:], y0=0, height=c,
                                     brush=QColor(PALETTE[0]), pen=pg.mkPen("w"))
        item.addItem(self._bars)
        item.autoRange()
