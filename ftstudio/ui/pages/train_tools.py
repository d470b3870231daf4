"""The Train page's recipe tools: "LR finder…", "Sweep…" and the memory-estimate line.

:class:`TrainTools` puts the buttons in the page header's actions and the memory line under
its subtitle. The memory line is refreshed (debounced) while the page is visible and the
project can train, and only when the spec fields it depends on changed
(:func:`memory_fingerprint`): the job child process reads the data and builds the model
(``bridge.recipe_calls.estimate_memory``), so the window's GUI thread never waits on it, and
the line says what the run needs against the free memory, in orange with a warning when it
will not fit.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from PySide6.QtCore import QEvent, QObject, Slot
from PySide6.QtWidgets import QLabel, QPushButton

from ftstudio.bridge import recipe_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo
from ftstudio.bridge.recipe_types import MemoryInfo
from ftstudio.formatting import format_bytes, format_params
from ftstudio.spec import ExperimentSpec
from ftstudio.ui.pages.sweep_page import SweepView
from ftstudio.ui.pages.train_checks import start_blocker
from ftstudio.ui.widgets.common import debounce_timer
from ftstudio.ui.widgets.lr_finder_dialog import LrFinderDialog

__all__ = ["TrainTools", "memory_fingerprint"]

MEMORY_DEBOUNCE_MS = 700
"""Wait this long after the last change before estimating again."""


def memory_fingerprint(spec: ExperimentSpec) -> str:
    """The spec fields the memory estimate depends on, as one comparable string."""
    parts = [dataclasses.asdict(spec.data), dataclasses.asdict(spec.backbone),
             dataclasses.asdict(spec.head), dataclasses.asdict(spec.freeze),
             spec.training.batch_size, spec.training.optimizer]
    return json.dumps(parts, sort_keys=True, default=str)


class TrainTools(QObject):
    """The LR-finder button and the memory line in a Train page's header."""

    def __init__(self, page: Any) -> None:
        super().__init__(page)
        self.page = page
        self.project = page.project
        self.jobs = CurrentJobs(page.jobs.runner, self)
        self.dialog: LrFinderDialog | None = None
        self.memory: MemoryInfo | None = None
        self.memory_estimates = 0  # estimates started (a test counts them)
        self._fingerprint: str | None = None  # of the spec last estimated
        self._shown_fingerprint: str | None = None  # of the spec the line shows
        self.memory_label = QLabel("")
        self.memory_label.setObjectName("memoryEstimate")
        self.memory_label.setVisible(False)
        self.lr_btn = QPushButton("LR finder…")
        self.lr_btn.setObjectName("lrFinderButton")
        self.lr_btn.setToolTip("Sweep the learning rate on this model and take the suggested "
                               "one (nothing is saved)")
        self.lr_btn.clicked.connect(self.open_lr_finder)
        self.sweep_btn = QPushButton("Sweep…")
        self.sweep_btn.setObjectName("sweepButton")
        self.sweep_btn.setToolTip("Search the learning rate, batch size, dropout… with Optuna: "
                                  "one run per trial")
        self.sweep_btn.clicked.connect(self.open_sweep)
        self.sweep: SweepView | None = None
        self.memory_label.setWordWrap(True)  # under the subtitle: it never widens the page
        page.header.layout().itemAt(0).layout().addWidget(self.memory_label)
        row = page.header.action_row
        row.insertWidget(0, self.lr_btn)
        row.insertWidget(1, self.sweep_btn)
        self._timer = debounce_timer(self, MEMORY_DEBOUNCE_MS, self.refresh_memory)
        self.project.changed.connect(self._schedule)
        self.project.loaded.connect(self._schedule)
        self.project.readinessChanged.connect(self.update_buttons)
        self.project.changed.connect(self.update_buttons)
        self.update_buttons()
        page.runningChanged.connect(self._on_running)
        page.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Estimate when the page is shown."""
        if watched is self.page and event.type() == QEvent.Type.Show:
            self._schedule()
        return False

    @Slot(bool)
    def _on_running(self, running: bool) -> None:
        self.update_buttons()

    @Slot()
    def update_buttons(self) -> None:
        """Enable the tools when training could start (and is not running)."""
        usable = start_blocker(self.project) is None and not self.page.running
        self.lr_btn.setEnabled(usable)
        self.sweep_btn.setEnabled(usable)

    @Slot()
    def _schedule(self, *_: Any) -> None:
        if self.page.isVisible():
            self._timer.start()

    @Slot()
    def refresh_memory(self) -> None:
        """Estimate the run's memory now (when the project can train and the spec changed)."""
        if start_blocker(self.project) is not None or self.page.running:
            self.memory_label.setVisible(False)
            return
        fingerprint = memory_fingerprint(self.project.spec)
        if fingerprint == self._fingerprint:
            # the line (or the job still measuring) already fits this spec
            self.memory_label.setVisible(self._shown_fingerprint == fingerprint)
            return
        self._fingerprint = fingerprint
        self.memory_estimates += 1

        def show(info: MemoryInfo) -> None:
            self._shown_fingerprint = fingerprint
            self.show_memory(info)

        self.jobs.start("memory", recipe_calls.estimate_memory, self.project.spec_copy(),
                        on_result=show, on_error=self._on_memory_failed,
                        title="Memory estimate failed")

    def show_memory(self, info: MemoryInfo) -> None:
        """Show an estimate: what the run needs of the free memory; a warning in orange."""
        self.memory = info
        free = f" of {format_bytes(info.available_bytes)} free" \
            if info.available_bytes is not None else ""
        mark = "⚠ " if info.warning else ""
        params = (f" · {format_params(info.total_params)} parameters, "
                  f"{format_params(info.trainable_params)} trainable")
        self.memory_label.setText(f"{mark}Memory: about {format_bytes(info.needed_bytes)}"
                                  f"{free}{params}")
        self.memory_label.setToolTip(info.summary + (f"\n\n{info.warning}"
                                                     if info.warning else ""))
        self.memory_label.setStyleSheet("color: #b35900; font-weight: 600;" if info.warning
                                        else "color: #5f6368;")
        self.memory_label.setVisible(True)

    def _on_memory_failed(self, info: ErrorInfo) -> None:
        self._fingerprint = None  # try again on the next change or show
        self.memory_label.setVisible(False)  # the Model page says what is wrong with the model

    @Slot()
    def open_lr_finder(self) -> LrFinderDialog | None:
        """Open the LR finder on the project's spec (when it can train)."""
        reason = start_blocker(self.project)
        if reason is not None:
            self.page.errorRaised.emit(ErrorInfo("Cannot find a learning rate", reason, None,
                                                 True))
            return None
        self.dialog = LrFinderDialog(self.project.spec_copy(), self.jobs.runner, self.page)
        self.dialog.rateChosen.connect(self.use_rate)
        self.dialog.open()
        return self.dialog

    @Slot(float)
    def use_rate(self, rate: float) -> None:
        """Put ``rate`` in the spec's ``training.learning_rate`` and show it."""
        self.project.spec.training.learning_rate = rate
        self.page.refresh_from_spec()
        self.project.touch("training")
        self.page.statusMessage.emit(f"Learning rate set to {rate:g} (LR finder)")

    @Slot()
    def open_sweep(self) -> SweepView | None:
        """Open the sweep view on the project's spec (when it can train)."""
        reason = start_blocker(self.project)
        if reason is not None:
            self.page.errorRaised.emit(ErrorInfo("Cannot start a sweep", reason, None, True))
            return None
        self.sweep = SweepView(self.project.spec_copy(), self.jobs.runner,
                               self.page.runs_root, self.page)
        self.sweep.bestChosen.connect(self.use_settings)
        self.sweep.show()
        return self.sweep

    @Slot(object)
    def use_settings(self, params: dict[str, Any]) -> None:
        """Put a sweep's best settings (spec key -> value) in the project's spec."""
        spec = self.project.spec
        for key, value in params.items():
            section, _, name = key.partition(".")
            setattr(getattr(spec, section), name, value)
            if key == "freeze.last_n":
                spec.freeze.mode = "last_n"
        self.page.refresh_from_spec()
        for section in sorted({key.partition(".")[0] for key in params}):
            self.project.touch(section)
        self.page.statusMessage.emit("Using the best settings of the sweep")
