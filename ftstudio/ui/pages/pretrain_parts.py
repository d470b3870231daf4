"""The Pretrain page's parts: number fields and the live chart of the reconstruction loss."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QDoubleSpinBox, QSizePolicy, QSpinBox

from ftstudio.ui.widgets.charts import legend_below, make_plot

__all__ = ["LossChart", "float_spin", "int_spin"]


def int_spin(low: int, high: int, value: int) -> QSpinBox:
    """A whole-number field from ``low`` to ``high`` showing ``value``."""
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin


def float_spin(low: float, high: float, value: float, step: float,
               decimals: int = 2) -> QDoubleSpinBox:
    """A decimal field from ``low`` to ``high`` showing ``value``, ``step`` per arrow click."""
    spin = QDoubleSpinBox()
    spin.setDecimals(decimals)
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setValue(value)
    return spin


class LossChart:
    """A plot of the reconstruction loss; points are buffered and drawn on :meth:`redraw`.

    The curves are created once; :meth:`redraw` (called on a timer) hands them numpy arrays
    only when new points arrived.
    """

    def __init__(self) -> None:
        self.plot = make_plot("Reconstruction loss (MSE)", "epoch")
        legend_below(self.plot.getPlotItem(), columns=2)
        self.plot.setMinimumHeight(180)
        # grow into the room there is, but don't ask for pyqtgraph's tall default height: it
        # would make the page taller than a 1280x800 window and the window would scroll it
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.batch_curve = self.plot.plot(name="train (batches)",
                                          pen=pg.mkPen("#9db4f7", width=1))
        self.train_curve = self.plot.plot(name="train", pen=pg.mkPen("#3b6cf6", width=2),
                                          symbol="o", symbolSize=5, symbolBrush="#3b6cf6")
        self.val_curve = self.plot.plot(name="validation", pen=pg.mkPen("#f28e2b", width=2),
                                        symbol="o", symbolSize=5, symbolBrush="#f28e2b")
        for curve in (self.batch_curve, self.train_curve, self.val_curve):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        self._points: dict[str, tuple[list[float], list[float]]] = {
            "batches": ([], []), "train": ([], []), "val": ([], [])}
        self._dirty = False

    def clear(self) -> None:
        """Forget every point and redraw the empty chart."""
        for xs, ys in self._points.values():
            xs.clear()
            ys.clear()
        self._dirty = True
        self.redraw()

    def has_points(self) -> bool:
        """True once a batch or an epoch was added."""
        return bool(self._points["batches"][0] or self._points["train"][0])

    def add_batches(self, chunk: list[tuple[int, dict[str, float]]],
                    steps_per_epoch: int) -> None:
        """Add the running loss of each batch, at ``step / steps_per_epoch`` epochs."""
        xs, ys = self._points["batches"]
        for step, logs in chunk:
            loss = float(logs.get("loss", math.nan))
            if math.isfinite(loss):
                xs.append(step / steps_per_epoch)
                ys.append(loss)
                self._dirty = True

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        """Add an epoch's ``loss`` and ``val_loss``."""
        for key, name in (("loss", "train"), ("val_loss", "val")):
            if key in logs:
                xs, ys = self._points[name]
                xs.append(float(epoch))
                ys.append(float(logs[key]))
        self._dirty = True

    def redraw(self, force: bool = False) -> None:
        """Hand the curves their points, if new ones arrived (or ``force``)."""
        if not (self._dirty or force):
            return
        self._dirty = False
        for name, curve in (("batches", self.batch_curve), ("train", self.train_curve),
                            ("val", self.val_curve)):
            xs, ys = self._points[name]
            curve.setData(np.asarray(xs, float), np.asarray(ys, float))

    def curve_data(self) -> dict[str, tuple[list[float], list[float]]]:
        """Return the points so far: ``batches``, ``train`` and ``val`` (x, y) lists."""
        return {name: (list(xs), list(ys)) for name, (xs, ys) in self._points.items()}
