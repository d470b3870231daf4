"""The live training charts of the Train page: batch loss, epoch loss, an epoch metric, the LR.

Curves are created once and updated with ``setData`` from growing NumPy buffers; the charts
redraw on a QTimer that runs only while new points wait to be drawn (an idle window does nothing
on a timer), never once per signal.

What a redraw costs was measured (``benchmarks/ui_stall.py --profile``): most of it was the axes,
which pyqtgraph repaints with their grid lines at every paint of a plot and regenerates at every
change of the range. So the axes are cached as pixmaps (repainted only when their range changes),
the batch-loss chart's y range grows in steps instead of following every new minimum, and the
epoch curves, a few points each, are neither clipped nor downsampled (either makes pyqtgraph
rebuild a curve's points at every change of the view).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGraphicsItem, QGridLayout, QLabel, QWidget

from ftstudio.ui.widgets.charts import (
    TRAIN_COLOR,
    VAL_COLOR,
    configure_pyqtgraph,
    legend_below,
    make_plot,
)

__all__ = ["LR_REDRAW_SECONDS", "Series", "TrainCharts", "metric_names", "reserve_lines",
           "stepped_range"]

LR_REDRAW_SECONDS = 1.0
"""The learning-rate chart redraws at most this often while training."""

RANGE_HEADROOM = 0.15
"""When new data leaves the batch-loss chart's y range, the range grows past it by this
fraction of the data's span, so the axis (and its cached picture) changes now and then, not at
every redraw."""


class _GrowOnly(QObject):
    """Raises a widget's minimum height to every height it gets (see :func:`reserve_lines`)."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802, D102
        if event.type() == QEvent.Type.Resize and isinstance(watched, QWidget) and \
                watched.height() > watched.minimumHeight():
            watched.setMinimumHeight(watched.height())
        return False


def reserve_lines(label: QLabel, lines: int) -> None:
    """Give a word-wrapped ``label`` ``lines`` lines of height, and let it only grow after.

    A label above the live charts whose text wraps to one more line (or one fewer) resizes
    the charts, and a resized chart repaints everything, axes and all: measured, most of the
    charts' repaints while a run prepared came from the stage text changing its height. Call
    it again to shrink the label back (when a new run starts).
    """
    label.ensurePolished()
    margins = label.contentsMargins()
    # +2 px a line: a fallback font's glyph ("…") makes a line taller than the font's own
    label.setMinimumHeight(lines * (label.fontMetrics().lineSpacing() + 2) + margins.top()
                           + margins.bottom())
    if label.findChild(_GrowOnly) is None:
        label.installEventFilter(_GrowOnly(label))


def stepped_range(current: tuple[float, float] | None, low: float,
                  high: float) -> tuple[float, float] | None:
    """The y range to show data spanning ``low..high`` when ``current`` is shown now.

    Returns ``None`` while the data fits ``current``; else a range holding the data with
    :data:`RANGE_HEADROOM` to spare on the side it left (for data that is never negative,
    a loss, the range stops just below zero).
    """
    if current is not None and current[0] <= low and high <= current[1]:
        return None
    span = high - low if high > low else max(abs(high), 1.0)
    pad = 0.02 * span
    headroom = RANGE_HEADROOM * span
    below = current is None or low < current[0]
    above = current is None or high > current[1]
    new_low = low - (headroom if below else pad)
    new_high = high + (headroom if above else pad)
    if low >= 0.0:
        new_low = max(new_low, -pad)
    if current is not None:  # never shrink the side the data did not leave
        new_low = min(new_low, current[0]) if not below else new_low
        new_high = max(new_high, current[1]) if not above else new_high
    return new_low, new_high


class Series:
    """A growing (x, y) buffer with amortised O(1) append and zero-copy views."""

    def __init__(self, capacity: int = 1024) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, x: float, y: float) -> None:
        """Add one point."""
        if self._n == len(self._x):
            self._x = np.resize(self._x, 2 * len(self._x))
            self._y = np.resize(self._y, 2 * len(self._y))
        self._x[self._n] = x
        self._y[self._n] = y
        self._n += 1

    def clear(self) -> None:
        """Drop every point."""
        self._n = 0

    @property
    def x(self) -> np.ndarray:
        """The x values (a view)."""
        return self._x[:self._n]

    @property
    def y(self) -> np.ndarray:
        """The y values (a view)."""
        return self._y[:self._n]

    def last(self) -> float:
        """Return the last y value (NaN when empty)."""
        return float(self._y[self._n - 1]) if self._n else math.nan


def _finite(series: Series) -> tuple[np.ndarray, np.ndarray]:
    x, y = series.x, series.y
    ok = np.isfinite(y)
    return (x, y) if ok.all() else (x[ok], y[ok])


def _curve(plot: pg.PlotWidget, color: str, name: str | None, width: float = 2.0,
           symbol: str | None = None, alpha: int = 255,
           antialias: bool = True, long: bool = True) -> pg.PlotDataItem:
    """An empty curve on ``plot``; a ``long`` one is clipped to the view and peak-downsampled."""
    c = QColor(color)
    c.setAlpha(alpha)
    item = plot.plot([], [], pen=pg.mkPen(c, width=width), name=name,
                     symbol=symbol, symbolSize=6, symbolBrush=c,
                     symbolPen=pg.mkPen(c), antialias=antialias)
    if long:
        item.setClipToView(True)
        item.setDownsampling(auto=True, method="peak")
    return item


class TrainCharts(QWidget):
    """The four live charts of the Train page.

    Batch loss (each batch, faint, plus an exponential moving average), epoch loss (train vs
    validation), an epoch metric (train vs validation) and the learning rate.

    Signals:
        metricsFound(list): the metric names seen in the first epoch's logs.
    """

    metricsFound = Signal(list)

    def __init__(self, parent: QWidget | None = None, redraw_ms: int = 100) -> None:
        super().__init__(parent)
        self._build_plots()

        self.batch_raw = Series()
        self.batch_smooth = Series()
        self.lr = Series()
        self.epoch_logs: list[tuple[int, dict[str, float]]] = []
        # (never name an attribute "metric": PySide would take it for QWidget.metric())
        self.loss = Series(64)
        self.val_loss = Series(64)
        self.metric_series = Series(64)
        self.val_metric_series = Series(64)
        self.metric_name = ""
        self._ema: float | None = None
        self._phase_lines: list[Any] = []

        self._make_curves()

        self._dirty_batches = False
        self._dirty_epochs = False
        self._last_lr_draw = 0.0
        self._live = False
        self._last_group = "epochs"
        self._batch_range: tuple[float, float] | None = None
        self.redraws = 0
        """How many redraws changed a curve (for tests and benchmarks)."""
        self.timer = QTimer(self)
        self.timer.setInterval(redraw_ms)
        self.timer.timeout.connect(self.redraw)

    def _build_plots(self) -> None:
        configure_pyqtgraph()
        self.batch_plot = make_plot("Batch loss", "step")
        self.loss_plot = make_plot("Loss per epoch", "epoch")
        self.metric_plot = make_plot("Accuracy per epoch", "epoch")
        self.lr_plot = make_plot("Learning rate", "step")
        for plot in (self.loss_plot, self.metric_plot, self.batch_plot):
            legend_below(plot.getPlotItem())
        for plot in (self.batch_plot, self.loss_plot, self.metric_plot, self.lr_plot):
            plot.setMinimumHeight(135)  # four of them still fit a 640 px high screen
            for side in ("left", "bottom"):  # drawn again only when their range changes
                plot.getPlotItem().getAxis(side).setCacheMode(
                    QGraphicsItem.CacheMode.DeviceCoordinateCache)
        lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        lay.addWidget(self.batch_plot, 0, 0)
        lay.addWidget(self.loss_plot, 0, 1)
        lay.addWidget(self.metric_plot, 1, 0)
        lay.addWidget(self.lr_plot, 1, 1)

    def _make_curves(self) -> None:
        """Create every curve once; redraws only give them new data."""
        # thousands of points, redrawn live: no antialiasing (it costs more than it shows)
        self.c_batch_raw = _curve(self.batch_plot, TRAIN_COLOR, "batch", 1.0, alpha=70,
                                  antialias=False)
        self.c_batch_smooth = _curve(self.batch_plot, TRAIN_COLOR, "smoothed", 2.0,
                                     antialias=False)
        self.c_loss = _curve(self.loss_plot, TRAIN_COLOR, "train", symbol="o", long=False)
        self.c_val_loss = _curve(self.loss_plot, VAL_COLOR, "validation", symbol="o", long=False)
        self.c_metric = _curve(self.metric_plot, TRAIN_COLOR, "train", symbol="o", long=False)
        self.c_val_metric = _curve(self.metric_plot, VAL_COLOR, "validation", symbol="o",
                                   long=False)
        self.c_lr = _curve(self.lr_plot, "#2ca58d", None, 2.0, antialias=False)
        self.lr_plot.getPlotItem().setLabel("left", "lr")

    # -------------------------------------------------------------- feeding
    def reset(self) -> None:
        """Empty every chart (before a new run)."""
        for s in (self.batch_raw, self.batch_smooth, self.lr, self.loss, self.val_loss,
                  self.metric_series, self.val_metric_series):
            s.clear()
        self.epoch_logs.clear()
        self._ema = None
        for line in self._phase_lines:
            self.batch_plot.removeItem(line)
        self._phase_lines.clear()
        for plot in (self.batch_plot, self.lr_plot, self.loss_plot, self.metric_plot):
            plot.getPlotItem().enableAutoRange(x=True)
        self.batch_plot.getPlotItem().enableAutoRange(y=True)
        self._batch_range = None
        self._live = False
        self._dirty_batches = self._dirty_epochs = True
        self._last_lr_draw = 0.0
        self.redraw()

    def _wake(self) -> None:
        """New points wait: make sure the redraw timer runs (it stops once all is drawn)."""
        if not self.timer.isActive():
            self.timer.start()

    def add_batches(self, batches: Iterable[tuple[int, dict[str, float]]]) -> None:
        """Append batch results (``(step, logs)`` with ``batch_loss``/``loss`` and ``lr``)."""
        for step, logs in batches:
            value = logs.get("batch_loss", logs.get("loss", math.nan))
            if not math.isfinite(value):
                continue
            self.batch_raw.append(step, value)
            self._ema = value if self._ema is None else 0.9 * self._ema + 0.1 * value
            self.batch_smooth.append(step, self._ema)
            lr = logs.get("lr")
            if lr is not None and math.isfinite(lr):
                self.lr.append(step, lr)
        self._dirty_batches = True
        self._wake()

    def set_total_steps(self, total: int, epochs: int = 0) -> None:
        """Fix the x axes to the whole run while it trains.

        The charts then fill up instead of rescaling (and re-laying out their axes) at every
        redraw.
        """
        self._live = True
        # the batch-loss y range follows the data in steps (see _fit_batch_range)
        self.batch_plot.getPlotItem().enableAutoRange(y=False)
        if total > 0:
            for plot in (self.batch_plot, self.lr_plot):
                item = plot.getPlotItem()
                item.enableAutoRange(x=False)
                item.setXRange(0, total, padding=0.01)
        if epochs > 0:
            for plot in (self.loss_plot, self.metric_plot):
                item = plot.getPlotItem()
                item.enableAutoRange(x=False)
                item.setXRange(0.7, epochs + 0.3, padding=0)

    def finish_live(self) -> None:
        """The run ended: draw everything that is still pending, now."""
        self._live = False
        self._last_lr_draw = 0.0
        self._dirty_batches = True  # the final, exact y range
        self.batch_plot.getPlotItem().enableAutoRange(y=True)
        self._batch_range = None
        self.redraw()

    def mark_phase(self, step: int, label: str) -> None:
        """Draw a vertical line where a training phase starts (two-phase fine-tuning)."""
        pen = pg.mkPen("#9aa0a6", style=Qt.PenStyle.DashLine)
        line = pg.InfiniteLine(pos=step, angle=90, pen=pen,
                               label=label, labelOpts={"position": 0.9, "color": "#5f6368"})
        self.batch_plot.addItem(line)
        self._phase_lines.append(line)

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        """Append one epoch's results."""
        first = not self.epoch_logs
        self.epoch_logs.append((epoch, dict(logs)))
        self.loss.append(epoch, logs.get("loss", math.nan))
        self.val_loss.append(epoch, logs.get("val_loss", math.nan))
        if first:
            names = metric_names(logs)
            if names and self.metric_name not in names:
                self.set_metric(names[0])
            self.metricsFound.emit(names)
        self.metric_series.append(epoch, logs.get(self.metric_name, math.nan))
        self.val_metric_series.append(epoch, logs.get("val_" + self.metric_name, math.nan))
        self._dirty_epochs = True
        self._last_lr_draw = 0.0
        self._wake()

    def set_metric(self, name: str) -> None:
        """Show another epoch metric (``accuracy``, ``mae``, …) in the metric chart."""
        self.metric_name = name
        self.metric_series.clear()
        self.val_metric_series.clear()
        for epoch, logs in self.epoch_logs:
            self.metric_series.append(epoch, logs.get(name, math.nan))
            self.val_metric_series.append(epoch, logs.get("val_" + name, math.nan))
        pretty = name.replace("_", " ")
        self.metric_plot.getPlotItem().setTitle(
            f"<span style='font-size:10pt;font-weight:600'>{pretty.capitalize() or 'Metric'}"
            f" per epoch</span>")
        self._dirty_epochs = True
        self._wake()

    def load_history(self, rows: Sequence[dict[str, float]]) -> None:
        """Show a finished run's epochs (``history.csv`` rows; no batch data)."""
        self.reset()
        for i, row in enumerate(rows):
            epoch = int(row.get("epoch", i)) + 1
            self.add_epoch(epoch, row)
            lr = row.get("learning_rate", row.get("lr"))
            if lr is not None and math.isfinite(lr):
                self.lr.append(epoch, lr)
        self.redraw()

    # -------------------------------------------------------------- drawing
    @Slot()
    def redraw(self) -> None:
        """Push new points to the curves that changed (called by the timer).

        Only the batch-loss chart changes between epochs; the learning-rate chart is redrawn
        at most once a second and the epoch charts only when an epoch ended, so a redraw
        paints one plot, not four.
        """
        if not (self._dirty_batches or self._dirty_epochs):
            self.timer.stop()  # nothing waits: an idle chart costs nothing
            return
        self.redraws += 1
        both = self._dirty_batches and self._dirty_epochs and self._live
        # while training, an epoch's charts and the batch chart repaint on alternate ticks
        # (shorter stalls); neither can starve the other
        do_batches = self._dirty_batches and not (both and self._last_group == "batches")
        do_epochs = self._dirty_epochs and not (both and do_batches)
        self._last_group = "batches" if do_batches else "epochs"
        if do_batches:
            self._dirty_batches = False
            raw = _finite(self.batch_raw)
            self.c_batch_raw.setData(*raw)
            self.c_batch_smooth.setData(*_finite(self.batch_smooth))
            self._fit_batch_range(raw[1])
            now = time.monotonic()
            if now - self._last_lr_draw >= LR_REDRAW_SECONDS:
                self._last_lr_draw = now
                lr_x, lr_y = _finite(self.lr)
                self.c_lr.setData(lr_x, lr_y)
                if len(lr_y):
                    top = float(lr_y.max())
                    self.lr_plot.getPlotItem().setYRange(0, top * 1.15 if top > 0 else 1,
                                                         padding=0)
            else:
                self._dirty_batches = len(self.lr) != len(self.c_lr.xData
                                                          if self.c_lr.xData is not None
                                                          else [])
        if do_epochs:
            self._dirty_epochs = False
            self.c_loss.setData(*_finite(self.loss))
            self.c_val_loss.setData(*_finite(self.val_loss))
            n_epochs = len(self.loss)
            for plot in (self.loss_plot, self.metric_plot):
                axis = plot.getPlotItem().getAxis("bottom")
                if 0 < n_epochs <= 12:
                    axis.setTickSpacing(major=1, minor=1)
                else:
                    axis.setTickSpacing()
            self.c_metric.setData(*_finite(self.metric_series))
            self.c_val_metric.setData(*_finite(self.val_metric_series))

    def _fit_batch_range(self, values: np.ndarray) -> None:
        """While training, grow the batch-loss y range in steps (:func:`stepped_range`)."""
        if not self._live or not len(values):
            return
        wanted = stepped_range(self._batch_range, float(values.min()), float(values.max()))
        if wanted is not None:
            self._batch_range = wanted
            self.batch_plot.getPlotItem().setYRange(*wanted, padding=0)

    def point_counts(self) -> dict[str, int]:
        """How many points each curve shows (for tests)."""
        return {"batch": len(self.c_batch_raw.xData if self.c_batch_raw.xData is not None
                             else []),
                "epoch": len(self.c_loss.xData if self.c_loss.xData is not None else []),
                "lr": len(self.c_lr.xData if self.c_lr.xData is not None else [])}


def metric_names(logs: dict[str, float]) -> list[str]:
    """Training metric names in epoch logs (not losses, not ``val_``, not the learning rate)."""
    skip = {"lr", "learning_rate", "epoch"}
    names = [k for k in logs if not k.startswith("val_") and k not in skip
             and not k.endswith("loss")]
    names.sort(key=lambda k: (0 if "accuracy" in k else 1 if "mae" in k else 2, k))
    return names
