"""The sweep view: search training settings with Optuna, see every trial, take the best.

Opened from the Train page (*Sweep…*), it runs ``bridge.recipe_calls.sweep`` in the job child
process (one trial at a time, each a run folder under the sweep folder), shows each trial's
progress in its status line, then the results table (trial, state, objective, settings) and a
scatter of the objective against one setting. *Use best settings* emits
:attr:`SweepView.bestChosen` with the best trial's settings (spec key -> value); the Train page
puts them in the project's spec. The sweep folder also holds ``best_spec.json``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge import recipe_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner
from ftstudio.bridge.qt_reporter import QtReporter
from ftstudio.bridge.recipe_types import SweepOutcome
from ftstudio.spec import ExperimentSpec
from ftstudio.ui.widgets.charts import PALETTE, make_plot

__all__ = ["SweepView", "describe_range"]


def describe_range(rng: dict[str, Any]) -> str:
    """A search range in words: ``1e-04 – 0.1 (log)`` or ``16, 32, 64``."""
    if "choices" in rng:
        return ", ".join(str(c) for c in rng["choices"])
    log = " (log)" if rng.get("log") else ""
    return f"{rng['low']:.3g} – {rng['high']:.3g}{log}"


class SweepView(QDialog):
    """Run a sweep of the project's spec and show its trials.

    Signals:
        bestChosen(object): the best trial's settings, ``{spec key: value}``.
    """

    bestChosen = Signal(object)

    def __init__(self, spec: ExperimentSpec, runner: JobRunner, runs_root: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepView")
        self.setWindowTitle("Sweep: search training settings")
        self.resize(900, 640)
        self.spec = spec
        self.runs_root = runs_root
        self.jobs = CurrentJobs(runner, self)
        self.outcome: SweepOutcome | None = None
        self.reporter: QtReporter | None = None
        self.space = recipe_calls.default_space(spec)
        self.checks: dict[str, QCheckBox] = {}
        lay = QVBoxLayout(self)
        lay.addWidget(self._build_settings())
        lay.addLayout(self._build_buttons())
        lay.addLayout(self._build_results(), 1)

    def _build_settings(self) -> QWidget:
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        intro = QLabel("Each trial trains one run with settings Optuna picks (TPE); trials "
                       "that fall behind are stopped after an epoch. One trial at a time.")
        intro.setWordWrap(True)
        grid.addWidget(intro, 0, 0, 1, 3)
        for row, (key, rng) in enumerate(self.space.items(), start=1):
            check = QCheckBox(key)
            check.setChecked(True)
            self.checks[key] = check
            grid.addWidget(check, row, 0)
            grid.addWidget(QLabel(describe_range(rng)), row, 1)
        grid.addWidget(QLabel("Trials"), len(self.space) + 1, 0)
        self.trials = QSpinBox()
        self.trials.setRange(1, 200)
        self.trials.setValue(8)
        grid.addWidget(self.trials, len(self.space) + 1, 1)
        grid.setColumnStretch(2, 1)
        return box

    def _build_buttons(self) -> QHBoxLayout:
        self.status = QLabel("Pick what to search and press Start.")
        self.status.setObjectName("sweepStatus")
        self.status.setWordWrap(True)
        self.start_btn = QPushButton("Start sweep")
        self.start_btn.setObjectName("sweepStart")
        self.start_btn.setProperty("primary", True)
        self.start_btn.clicked.connect(self.start)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.stop_btn.clicked.connect(self.stop)
        self.best_btn = QPushButton("Use best settings")
        self.best_btn.setObjectName("sweepUseBest")
        self.best_btn.setEnabled(False)
        self.best_btn.clicked.connect(self._use_best)
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        for button in (self.start_btn, self.stop_btn, self.best_btn):
            row.addWidget(button)
        return row

    def _build_results(self) -> QHBoxLayout:
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("sweepTable")
        self.table.setHorizontalHeaderLabels(["Trial", "State", self.spec.training.monitor,
                                              "Settings"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.plot = make_plot("Objective against a setting", "", self.spec.training.monitor)
        self.points = pg.ScatterPlotItem(size=9, brush=pg.mkBrush(PALETTE[0]), pen=None)
        self.plot.getPlotItem().addItem(self.points)
        for side in ("bottom", "left"):  # plain numbers: no "x1e-06" on the axes
            self.plot.getPlotItem().getAxis(side).enableAutoSIPrefix(False)
        self.param_combo = QComboBox()
        self.param_combo.currentTextChanged.connect(self._replot)
        right = QVBoxLayout()
        right.addWidget(self.param_combo)
        right.addWidget(self.plot, 1)
        row = QHBoxLayout()
        row.addWidget(self.table, 3)
        row.addLayout(right, 2)
        return row

    # ---------------------------------------------------------------- running
    @property
    def running(self) -> bool:
        """True while the sweep runs."""
        return self.jobs.is_running("sweep")

    def chosen_space(self) -> dict[str, dict[str, Any]]:
        """The ranges of the ticked settings."""
        return {k: v for k, v in self.space.items() if self.checks[k].isChecked()}

    @Slot()
    def start(self) -> None:
        """Start the sweep in the job child process."""
        space = self.chosen_space()
        if self.running or not space:
            if not space:
                self.status.setText("Tick at least one setting to search.")
            return
        self.reporter = QtReporter(parent=self)
        self.reporter.statusChanged.connect(self._on_status)
        job = Job(recipe_calls.sweep, self.spec, self.trials.value(), self.reporter, space,
                  self.runs_root, title="The sweep failed")
        job.add_stop_hook(self.reporter.request_stop)
        self.start_btn.setEnabled(False)
        self.stop_btn.setEnabled(True)
        self.best_btn.setEnabled(False)
        self.status.setText("Starting the sweep…")
        self.jobs.start_job("sweep", job, on_result=self.show_outcome,
                            on_error=self._on_failed, on_finished=self._on_done)

    @Slot()
    def stop(self) -> None:
        """Stop the current trial after its batch and end the sweep."""
        if self.reporter is not None and self.running:
            self.reporter.request_stop()
            self.status.setText("Stopping after this batch…")

    @Slot(str)
    def _on_status(self, text: str) -> None:
        if text.startswith("Trial "):
            self.status.setText(text)

    def show_outcome(self, outcome: SweepOutcome) -> None:
        """Fill the table and the plot from a finished sweep."""
        self.outcome = outcome
        self.table.setRowCount(len(outcome.trials))
        for row, t in enumerate(outcome.trials):
            value = "—" if t.value is None else f"{t.value:.4g}"
            shown = ", ".join(f"{k.split('.')[-1]} {v:.3g}" if isinstance(v, float) else
                              f"{k.split('.')[-1]} {v}" for k, v in t.params.items())
            cells = [str(t.number), t.state, value, shown]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if t.number == outcome.best:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, col, item)
        for col in range(3):
            self.table.resizeColumnToContents(col)
        self.param_combo.blockSignals(True)
        self.param_combo.clear()
        self.param_combo.addItems(sorted({k for t in outcome.trials for k in t.params}))
        self.param_combo.blockSignals(False)
        self._replot(self.param_combo.currentText())
        best = next((t for t in outcome.trials if t.number == outcome.best), None)
        self.best_btn.setEnabled(best is not None)
        self.status.setToolTip(f"Sweep folder: {outcome.sweep_dir}\nBest spec: "
                               f"{outcome.best_spec or '—'}")
        self.status.setText(
            f"Best: trial {best.number} ({outcome.monitor} {best.value:.4g}), written as "
            f"best_spec.json in the sweep folder" if best is not None and best.value is not None
            else "No trial completed; the sweep folder's results.csv says why.")

    @Slot(str)
    def _replot(self, key: str) -> None:
        if self.outcome is None or not key:
            return
        pairs = [(float(t.params[key]), float(t.value)) for t in self.outcome.trials
                 if t.value is not None and isinstance(t.params.get(key), int | float)]
        log = key.endswith("learning_rate") and all(x > 0 for x, _ in pairs)
        xs = np.array([math.log10(x) if log else x for x, _ in pairs], dtype=float)
        self.points.setData(xs, np.array([y for _, y in pairs], dtype=float))
        self.plot.getPlotItem().setLabel("bottom", f"log10 {key}" if log else key)
        self.plot.getPlotItem().autoRange()

    def _on_failed(self, info: ErrorInfo) -> None:
        self.status.setText("Stopped." if info.cancelled else
                            f"The sweep failed: {info.message.splitlines()[0]}")

    def _on_done(self) -> None:
        self.start_btn.setEnabled(True)
        self.stop_btn.setEnabled(False)

    @Slot()
    def _use_best(self) -> None:
        if self.outcome is None or self.outcome.best is None:
            return
        best = next(t for t in self.outcome.trials if t.number == self.outcome.best)
        self.bestChosen.emit(dict(best.params))
        self.status.setText(f"Using the settings of trial {best.number}.")

    def reject(self) -> None:
        """Close; a sweep still running is stopped after its current batch."""
        self.jobs.cancel()
        super().reject()
