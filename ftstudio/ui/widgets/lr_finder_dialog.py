"""The "LR finder…" dialog: sweep the learning rate, plot loss against rate, take the suggestion.

The sweep runs in the job child process (``bridge.recipe_calls.lr_find``, like training), so the
window stays responsive; its progress shows in a bar, the curve (raw and smoothed loss over a
logarithmic rate axis) and a line at the suggested rate once it ends. "Use this rate" emits
:attr:`LrFinderDialog.rateChosen` with the suggestion; the Train page puts it in the spec.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge import recipe_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner
from ftstudio.bridge.qt_reporter import QtReporter
from ftstudio.bridge.recipe_types import LrFindOutcome
from ftstudio.spec import ExperimentSpec
from ftstudio.ui.widgets.charts import PALETTE, legend_below, make_plot

__all__ = ["LrFinderDialog"]


class LrFinderDialog(QDialog):
    """Find a learning rate for a spec's model.

    Signals:
        rateChosen(float): the user took the suggested rate.
    """

    rateChosen = Signal(float)

    def __init__(self, spec: ExperimentSpec, runner: JobRunner,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lrFinderDialog")
        self.setWindowTitle("Learning-rate finder")
        self.resize(720, 520)
        self.spec = spec
        self.jobs = CurrentJobs(runner, self)
        self.outcome: LrFindOutcome | None = None
        self.reporter: QtReporter | None = None
        self._build()

    def _build(self) -> None:
        intro = QLabel("Trains a throw-away copy of the model for a few hundred steps while the "
                       "learning rate grows from 1e-7 to 10, and suggests the rate where the "
                       "loss falls fastest. Nothing is saved.")
        intro.setWordWrap(True)
        self.plot = make_plot("Loss against learning rate", "learning rate (log scale)",
                              "loss")
        item = self.plot.getPlotItem()
        item.setLogMode(x=True, y=False)
        legend_below(item)
        self.raw_curve = self.plot.plot([], [], pen=None, symbol="o", symbolSize=4,
                                        symbolBrush=pg.mkBrush(PALETTE[0] + "66"),
                                        symbolPen=None, name="loss")
        self.smooth_curve = self.plot.plot([], [], pen=pg.mkPen(PALETTE[0], width=2),
                                           name="smoothed")
        self.marker = pg.InfiniteLine(angle=90, pen=pg.mkPen(PALETTE[3], width=2,
                                                             style=Qt.PenStyle.DashLine))
        self.marker.setVisible(False)
        item.addItem(self.marker)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.status = QLabel("Press Find to start.")
        self.status.setObjectName("lrFinderStatus")
        self.status.setWordWrap(True)
        self.find_btn = QPushButton("Find")
        self.find_btn.setObjectName("lrFindButton")
        self.find_btn.clicked.connect(self.start)
        self.use_btn = QPushButton("Use this rate")
        self.use_btn.setObjectName("lrUseButton")
        self.use_btn.setProperty("primary", True)
        self.use_btn.setEnabled(False)
        self.use_btn.clicked.connect(self._use)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.find_btn)
        buttons.addWidget(self.use_btn)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.progress)
        lay.addLayout(buttons)

    @property
    def running(self) -> bool:
        """True while the sweep runs."""
        return self.jobs.is_running("lr_find")

    @Slot()
    def start(self) -> None:
        """Start the sweep in the job child process."""
        if self.running:
            return
        self.reporter = QtReporter(parent=self)
        self.reporter.statusChanged.connect(self.status.setText)
        self.reporter.progressed.connect(self._on_progress)
        job = Job(recipe_calls.lr_find, self.spec, self.reporter,
                  title="The learning-rate finder failed")
        job.add_stop_hook(self.reporter.request_stop)
        self.find_btn.setEnabled(False)
        self.use_btn.setEnabled(False)
        self.status.setText("Starting…")
        self.jobs.start_job("lr_find", job, on_result=self.show_result,
                            on_error=self._on_failed, on_finished=self._on_done)

    @Slot(float, object)
    def _on_progress(self, done: float, total: object) -> None:
        if isinstance(total, int | float) and total:
            self.progress.setRange(0, int(total))
            self.progress.setValue(int(done))

    def show_result(self, outcome: LrFindOutcome) -> None:
        """Plot a finished sweep and offer its suggestion."""
        self.outcome = outcome
        rates = np.asarray(outcome.learning_rates, dtype=float)
        self.raw_curve.setData(rates, np.asarray(outcome.losses, dtype=float))
        self.smooth_curve.setData(rates, np.asarray(outcome.smoothed, dtype=float))
        if len(outcome.smoothed):
            low, first = min(outcome.smoothed), outcome.smoothed[0]
            self.plot.getPlotItem().setYRange(low - 0.05 * abs(low),
                                              max(first, low) * 1.3 + 1e-9)
        ok = math.isfinite(outcome.suggestion)
        if ok:
            self.marker.setValue(math.log10(outcome.suggestion))
        self.marker.setVisible(ok)
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        end = "the loss diverged" if outcome.diverged else "the end of the sweep"
        self.status.setText(
            f"Suggested learning rate: {outcome.suggestion:.2g} (lowest loss at "
            f"{outcome.min_loss_rate:.2g}; {len(rates)} steps until {end})" if ok else
            "No suggestion: the sweep stopped too early.")
        self.use_btn.setEnabled(ok)
        self.use_btn.setText(f"Use {outcome.suggestion:.2g}" if ok else "Use this rate")

    def _on_failed(self, info: ErrorInfo) -> None:
        self.status.setText("Stopped." if info.cancelled else
                            f"The learning-rate finder failed: {info.message.splitlines()[0]}")

    def _on_done(self) -> None:
        self.find_btn.setEnabled(True)
        self.find_btn.setText("Find again")

    @Slot()
    def _use(self) -> None:
        if self.outcome is not None and math.isfinite(self.outcome.suggestion):
            self.rateChosen.emit(float(f"{self.outcome.suggestion:.2g}"))
            self.accept()

    def reject(self) -> None:
        """Close, stopping a sweep still running."""
        self.jobs.cancel()
        super().reject()
