"""The embedding map: every labelled example as a point, coloured by label or by error.

The points are the first two principal components of the pretrained features (computed by
the engine). "Colour by" switches between the given label (one colour per class) and the
out-of-fold probe's verdict (grey: agrees with the label, red: disagrees: a hard example or
a label error). Clicking a point shows the example under the plot. "Lasso" lets the user
draw a free-hand outline on the map (drag with the left button); "Select a box" puts a
rectangle on it (drag it, pull its corner). The points inside either can be relabelled at
once (the page saves them with the label review's corrections, to a new file). One
``ScatterPlotItem`` with per-class brushes: smooth at 10k points.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ftstudio.bridge.data_loop_calls import EmbeddingPoints
from ftstudio.ui.widgets.charts import PALETTE, configure_pyqtgraph, style_plot
from ftstudio.ui.widgets.loop_parts import ActionView, muted_label, primary_button

__all__ = ["EmbeddingMapView", "LassoViewBox", "inside_polygon"]

_AGREE, _DISAGREE = "#c0c4cc", "#e15759"
_CHECKED_STYLE = ("QPushButton:checked { background: #e3ebfe; border-color: #3b6cf6; "
                  "color: #1f4fd1; }")


def inside_polygon(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Which points ``(x, y)`` lie inside ``polygon`` (``(n, 2)`` vertices, closed implicitly).

    Even-odd rule: a point is inside when a ray from it to the right crosses the outline an
    odd number of times (so a self-crossing lasso selects what it encloses once).
    """
    poly = np.asarray(polygon, dtype=float).reshape(-1, 2)
    inside = np.zeros(len(x), dtype=bool)
    if len(poly) < 3:
        return inside
    ends = np.roll(poly, -1, axis=0)
    for (ax, ay), (bx, by) in zip(poly, ends, strict=True):
        crosses = (ay > y) != (by > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = ax + (y - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (x < at)
    return inside


class LassoViewBox(pg.ViewBox):
    """A view box whose left-button drag draws a lasso (in data coordinates) when it is on.

    Signals:
        lassoMoved(object): the outline so far, an ``(n, 2)`` array.
        lassoDrawn(object): the finished outline, when the button is released.
    """

    lassoMoved = Signal(object)
    lassoDrawn = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.lasso_on = False
        self._trace: list[tuple[float, float]] = []

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:  # noqa: N802 - Qt's
        """Draw the lasso instead of panning while the lasso is on."""
        if not self.lasso_on or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart():
            self._trace = [self._to_view(ev.buttonDownPos())]
        self._trace.append(self._to_view(ev.pos()))
        outline = np.asarray(self._trace)
        self.lassoMoved.emit(outline)
        if ev.isFinish():
            self.lassoDrawn.emit(outline)

    def _to_view(self, pos: QPointF) -> tuple[float, float]:
        point = self.mapToView(pos)
        return float(point.x()), float(point.y())


class EmbeddingMapView(ActionView):
    """The 2-D map with a colour choice and the clicked example.

    Signals:
        pointClicked(int): the clicked example's position in the data.
        drawRequested(): the user asks for the map (the page runs it in a job).
        relabelRequested(object): ``{row: class}`` for the selected points.
    """

    pointClicked = Signal(int)
    drawRequested = Signal()
    relabelRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("embeddingMap")
        configure_pyqtgraph()
        self.points: EmbeddingPoints | None = None
        self.colour = QComboBox()
        self.colour.addItem("Colour by label", "label")
        self.colour.addItem("Colour by probe error", "error")
        self.colour.currentIndexChanged.connect(self._draw)
        self.draw_btn = self.action_btn = primary_button("Draw the map", "mapDraw")
        self.draw_btn.clicked.connect(self.drawRequested)
        self.caption = self.status = muted_label(
            "Each labelled example placed by its pretrained features (the label review "
            "computes the same ones).")
        self.view_box = LassoViewBox()
        self.plot = pg.PlotWidget(viewBox=self.view_box)
        item = self.plot.getPlotItem()
        style_plot(item, "component 1", "component 2")
        self.legend = item.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.scatter = pg.ScatterPlotItem(size=7, pen=None, hoverable=True)
        item.addItem(self.scatter)
        self.scatter.sigClicked.connect(self._on_clicked)
        self.chosen = pg.ScatterPlotItem(size=11, brush=None, pen=pg.mkPen("#202124", width=2))
        item.addItem(self.chosen)
        self.box: pg.RectROI | None = None
        self.lasso: np.ndarray | None = None
        self.outline = pg.PlotCurveItem(pen=pg.mkPen("#202124", width=1.5,
                                                     style=Qt.PenStyle.DashLine))
        item.addItem(self.outline, ignoreBounds=True)
        self.view_box.lassoMoved.connect(self._draw_outline)
        self.view_box.lassoDrawn.connect(self.select_polygon)
        self.selected: list[int] = []
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setObjectName("mapDetail")
        bar = QHBoxLayout()
        bar.addWidget(self.draw_btn)
        bar.addWidget(self.colour)
        bar.addWidget(self.caption, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addLayout(bar)
        lay.addWidget(self.plot, 1)
        lay.addLayout(self._build_selection())
        lay.addWidget(self.detail)

    def _build_selection(self) -> QHBoxLayout:
        self.lasso_btn = QPushButton("Lasso")
        self.lasso_btn.setObjectName("mapLasso")
        self.lasso_btn.setCheckable(True)
        self.lasso_btn.setToolTip("Draw around points with the left button held down "
                                  "(the map does not pan while the lasso is on)")
        self.lasso_btn.toggled.connect(self._toggle_lasso)
        self.select_btn = QPushButton("Select a box")
        self.select_btn.setCheckable(True)
        self.select_btn.toggled.connect(self._toggle_box)
        self.selection_label = QLabel("")
        self.relabel_combo = QComboBox()
        self.relabel_btn = QPushButton("Relabel selected")
        self.relabel_btn.clicked.connect(self._relabel)
        for w in (self.relabel_combo, self.relabel_btn):
            w.setEnabled(False)
        for button in (self.lasso_btn, self.select_btn):  # on: shown pressed, in the accent
            button.setStyleSheet(_CHECKED_STYLE)
        row = QHBoxLayout()
        row.addWidget(self.lasso_btn)
        row.addWidget(self.select_btn)
        row.addWidget(self.selection_label)
        row.addStretch(1)
        row.addWidget(self.relabel_combo)
        row.addWidget(self.relabel_btn)
        return row

    def set_points(self, points: EmbeddingPoints) -> None:
        """Show a new map."""
        self.points = points
        self.draw_btn.setEnabled(True)
        self.relabel_combo.clear()
        self.relabel_combo.addItems(points.classes)
        self.select_btn.setChecked(False)
        self.lasso_btn.setChecked(False)
        wrong = sum(a != b for a, b in zip(points.labels, points.predicted, strict=True))
        self.caption.setText(
            f"{len(points.x):,} examples; {points.description}; the axes show "
            f"{points.explained[0]:.0%} and {points.explained[1]:.0%} of the variance; "
            f"{wrong:,} disagree with the out-of-fold probe. Click a point to see it.")
        self._draw()

    @Slot()
    def _draw(self) -> None:
        p = self.points
        self.scatter.clear()
        self.legend.clear()
        if p is None:
            return
        labels = np.asarray(p.labels)
        if self.colour.currentData() == "error":
            groups = [("agrees with the probe", labels == np.asarray(p.predicted), _AGREE),
                      ("the probe disagrees", labels != np.asarray(p.predicted), _DISAGREE)]
        else:
            groups = [(name, labels == k, PALETTE[k % len(PALETTE)])
                      for k, name in enumerate(p.classes)]
        x, y = np.asarray(p.x), np.asarray(p.y)
        for name, mask, color in groups:
            where = np.flatnonzero(mask)
            if not len(where):
                continue
            brush = pg.mkBrush(color)
            self.scatter.addPoints(x=x[where], y=y[where], data=where, brush=brush)
            self.legend.addItem(pg.ScatterPlotItem(size=8, pen=None, brush=brush), name)

    @Slot(object, object)
    def _on_clicked(self, _item: object, spots: list) -> None:
        if not spots or self.points is None:
            return
        self.show_example(int(spots[0].data()))

    def show_example(self, i: int) -> None:
        """Show example ``i`` under the map (as if its point were clicked)."""
        p = self.points
        if p is None or not 0 <= i < len(p.x):
            return
        given, probe = p.classes[p.labels[i]], p.classes[p.predicted[i]]
        verdict = "" if given == probe else f" · the probe says <b>{html.escape(probe)}</b>"
        text = p.inputs[i] if len(p.inputs[i]) <= 300 else p.inputs[i][:297] + "…"
        unit = "Image" if p.modality == "image" else "Line"
        self.detail.setText(f"{unit} {p.rows[i]} · label <b>{html.escape(given)}</b>{verdict}"
                            f"<br>{html.escape(text)}")
        self.pointClicked.emit(i)

    # ------------------------------------------------------------ box selection
    @Slot(bool)
    def _toggle_box(self, on: bool) -> None:
        item = self.plot.getPlotItem()
        if on:
            self.lasso_btn.setChecked(False)
        if self.box is not None:
            item.removeItem(self.box)
            self.box = None
        if on and self.points is not None:
            (x0, x1), (y0, y1) = item.vb.viewRange()
            self.box = pg.RectROI([x0 + (x1 - x0) / 3, y0 + (y1 - y0) / 3],
                                  [(x1 - x0) / 3, (y1 - y0) / 3], pen=pg.mkPen("#202124"))
            item.addItem(self.box)
            self.box.sigRegionChanged.connect(self._select_in_box)
        self._select_in_box()

    def select_box(self, x0: float, y0: float, x1: float, y1: float) -> list[int]:
        """Put the selection box on ``[x0, x1] x [y0, y1]``; the positions inside."""
        if self.box is None:
            self.select_btn.setChecked(True)
        if self.box is not None:
            self.box.setPos([x0, y0], update=False)
            self.box.setSize([x1 - x0, y1 - y0])
        self._select_in_box()
        return self.selected

    @Slot()
    def _select_in_box(self) -> None:
        p, box = self.points, self.box
        inside = None
        if p is not None and box is not None:
            (x0, y0), (w, h) = box.pos(), box.size()
            x, y = np.asarray(p.x), np.asarray(p.y)
            inside = (x >= x0) & (x <= x0 + w) & (y >= y0) & (y <= y0 + h)
        self._show_selection(inside, box is not None)

    def _show_selection(self, inside: np.ndarray | None, active: bool) -> None:
        """Mark the points of the ``inside`` mask as selected (``None``: nothing selected)."""
        p = self.points
        self.selected = []
        if p is not None and inside is not None:
            self.selected = [int(i) for i in np.flatnonzero(inside)]
            self.chosen.setData(x=np.asarray(p.x)[inside], y=np.asarray(p.y)[inside])
        else:
            self.chosen.clear()
        n = len(self.selected)
        self.selection_label.setText(f"{n:,} selected" if active else "")
        for w in (self.relabel_combo, self.relabel_btn):
            w.setEnabled(bool(n))

    # ------------------------------------------------------------ lasso selection
    @Slot(bool)
    def _toggle_lasso(self, on: bool) -> None:
        if on:
            self.select_btn.setChecked(False)
        self.view_box.lasso_on = on
        self.lasso = None
        self.outline.clear()
        self._show_selection(None, on)
        if on:
            self.selection_label.setText("Draw around the points to select")

    @Slot(object)
    def _draw_outline(self, outline: np.ndarray) -> None:
        closed = np.vstack([outline, outline[:1]])
        self.outline.setData(x=closed[:, 0], y=closed[:, 1])

    @Slot(object)
    def select_polygon(self, vertices: Any) -> list[int]:
        """Select the points inside the polygon ``vertices`` (data coordinates), as a lasso.

        Returns:
            The positions of the selected points in the data.
        """
        if not self.lasso_btn.isChecked():
            self.lasso_btn.setChecked(True)
        self.lasso = np.asarray(vertices, dtype=float).reshape(-1, 2)
        self._draw_outline(self.lasso)
        p = self.points
        inside = None if p is None else inside_polygon(np.asarray(p.x), np.asarray(p.y),
                                                       self.lasso)
        self._show_selection(inside, True)
        return self.selected

    @Slot()
    def _relabel(self) -> None:
        p = self.points
        if p is None or not self.selected:
            return
        label = self.relabel_combo.currentText()
        self.relabelRequested.emit({int(p.rows[i]): label for i in self.selected})
