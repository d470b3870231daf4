"""Runs side by side: their metrics, their training curves overlaid, the spec keys that differ.

:class:`CompareDialog` reads the run folders in a job (``evaluation_calls.compare_runs``) and
shows three tabs. The Runs page opens it for two or more selected runs.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge import evaluation_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.evaluation_types import RunComparison
from ftstudio.bridge.jobs import ErrorInfo, JobRunner
from ftstudio.ui.widgets.charts import PALETTE, make_plot

__all__ = ["CompareDialog"]


class CompareDialog(QDialog):
    """Two or more runs compared: metrics table, overlaid histories, differing spec keys.

    Args:
        run_dirs: the run folders, in the order to show them.
        runner: the window's job runner (the folders are read in a job).
        parent: the Qt parent.
    """

    def __init__(self, run_dirs: list[str], runner: JobRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare {len(run_dirs)} runs")
        self.setObjectName("compareDialog")
        self.resize(1100, 680)
        self.run_dirs = list(run_dirs)
        self.comparison: RunComparison | None = None
        self.error: ErrorInfo | None = None
        self.jobs = CurrentJobs(runner, self)
        self._build()
        self.jobs.start("compare", evaluation_calls.compare_runs, self.run_dirs,
                        on_result=self.show_comparison, on_error=self._on_error,
                        title="Cannot compare these runs")

    def _build(self) -> None:
        self.status = QLabel("Reading the runs…")
        self.status.setObjectName("muted")
        self.status.setWordWrap(True)
        self.metrics = QTableWidget(0, 0)
        self.metrics.setObjectName("compareMetrics")
        self.differences = QTableWidget(0, 0)
        self.differences.setObjectName("compareSpec")
        for table in (self.metrics, self.differences):
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
            table.setAlternatingRowColors(True)
            table.verticalHeader().setVisible(False)
        self.series = QComboBox()
        self.series.setObjectName("compareSeries")
        self.series.currentIndexChanged.connect(self._plot_histories)
        self.plot = make_plot("Training history", "epoch")
        self.legend = self.plot.getPlotItem().addLegend(offset=(-10, 10), labelTextSize="8pt")
        curves = QWidget()
        curves_lay = QVBoxLayout(curves)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show"))
        bar.addWidget(self.series)
        bar.addStretch(1)
        curves_lay.addLayout(bar)
        curves_lay.addWidget(self.plot, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.metrics, "Metrics")
        self.tabs.addTab(curves, "Training curves")
        self.tabs.addTab(self.differences, "Spec differences")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.status)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(buttons)

    # ------------------------------------------------------------ content
    def show_comparison(self, comparison: RunComparison) -> None:
        """Fill the three tabs."""
        self.comparison = comparison
        labels = [f"[{i + 1}] {r.label}" for i, r in enumerate(comparison.runs)]
        notes = [f"[{i + 1}] {r.name} · {r.status}" +
                 (f" · lacks {', '.join(r.missing)}" if r.missing else "")
                 for i, r in enumerate(comparison.runs)]
        self.status.setText("   ".join(notes))
        bold = QFont()
        bold.setBold(True)
        cell = evaluation_calls.cell_text
        self._fill(self.metrics, ["Metric", *labels],
                   [[key, *[cell(v) for v in values]] for key, values, _ in comparison.metrics],
                   bold_cells={(r, best + 1) for r, (_, _, best) in enumerate(comparison.metrics)
                               if best is not None})
        self._fill(self.differences, ["Spec key", *labels],
                   [[key, *[cell(v) for v in values]] for key, values in comparison.differences])
        if not comparison.differences:
            self._fill(self.differences, ["Spec key"], [["The runs share one spec."]])
        keys = sorted({k for r in comparison.runs for row in r.history for k in row
                       if k != "epoch"}, key=lambda k: (k.startswith("val_"), k != "loss", k))
        self.series.blockSignals(True)
        self.series.clear()
        self.series.addItems(keys)
        preferred = "val_loss" if "val_loss" in keys else (keys[0] if keys else "")
        self.series.setCurrentIndex(max(0, self.series.findText(preferred)))
        self.series.blockSignals(False)
        self._plot_histories()

    @staticmethod
    def _fill(table: QTableWidget, header: list[str], rows: list[list[str]],
              bold_cells: set[tuple[int, int]] | None = None) -> None:
        table.clear()
        table.setColumnCount(len(header))
        table.setHorizontalHeaderLabels(header)
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text)
                if c > 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight |
                                          Qt.AlignmentFlag.AlignVCenter)
                if bold_cells and (r, c) in bold_cells:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                    item.setToolTip("The best of these runs")
                table.setItem(r, c, item)
        head = table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    @Slot()
    def _plot_histories(self) -> None:
        item = self.plot.getPlotItem()
        item.clear()
        self.legend.clear()
        if self.comparison is None:
            return
        key = self.series.currentText()
        for i, run in enumerate(self.comparison.runs):
            points = [(row.get("epoch", j) + 1, row.get(key, math.nan))
                      for j, row in enumerate(run.history)]
            points = [(x, y) for x, y in points if math.isfinite(y)]
            if not points:
                continue
            color = PALETTE[i % len(PALETTE)]
            item.plot([p[0] for p in points], [p[1] for p in points],
                      pen=pg.mkPen(color, width=2), symbol="o", symbolSize=5,
                      symbolBrush=color, name=f"[{i + 1}] {run.label}")
        item.setTitle(f"<span style='font-size:10pt;font-weight:600'>{key} per epoch</span>")

    def plotted_runs(self) -> int:
        """How many runs have a curve on the plot."""
        return len(self.plot.getPlotItem().listDataItems())

    def _on_error(self, info: ErrorInfo) -> None:
        self.error = info
        self.status.setText(f"{info.title}: {info.message}")
