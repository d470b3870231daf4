"""Train page: the training settings, Start / Stop, live charts, progress and a log.

Training runs ``engine.training.train`` in a worker QThread. The engine reports through a
:class:`~ftstudio.bridge.qt_reporter.QtReporter` whose throttled signals (≤ 20 Hz) are connected
to bound slots of this page; the charts redraw on their own timer. Stop asks the reporter to
stop: Keras ends after the current batch, the engine restores the best weights, evaluates and
saves the run as usual.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge import engine_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import JobRunner
from ftstudio.bridge.run_control import PausableReporter
from ftstudio.bridge.types import TrainOutcome
from ftstudio.formatting import format_duration
from ftstudio.spec import ExperimentSpec
from ftstudio.ui.dialogs import ask_question
from ftstudio.ui.pages.train_checks import (
    RecipeAdvisor,
    describe_recipe,
    recipe_subject,
    start_blocker,
)
from ftstudio.ui.pages.train_parts import (
    TrainProgressCard,
    TrainSettingsForm,
    ask_extra_epochs,
    phase_epochs,
)
from ftstudio.ui.pages.train_run_control import TrainRunControl
from ftstudio.ui.pages.train_tools import TrainTools
from ftstudio.ui.pages.train_warm_start import WarmStartLine
from ftstudio.ui.project import Project
from ftstudio.ui.widgets.common import PageHeader, page_layout
from ftstudio.ui.widgets.device_line import DeviceLine
from ftstudio.ui.widgets.pause_button import PauseButton
from ftstudio.ui.widgets.train_charts import TrainCharts

__all__ = ["TrainPage"]

DEFAULT_RUN_NAME = ExperimentSpec().name
"""The name of a spec nobody named: runs follow the data and backbone instead."""

UI_REFRESH_MS = 250
"""How often the progress text refreshes while training (4 Hz)."""
CHART_REFRESH_MS = 500
"""How often the live charts redraw (2 Hz). The reporter delivers up to 20 chunks a second, but
painting that often costs CPU the training process needs (measured: benchmarks/ui_stall.py)."""


class TrainPage(TrainRunControl):
    """Step 3: training.

    Signals:
        errorRaised(object): a failure to show in a dialog (:class:`ErrorInfo`).
        statusMessage(str): a line for the status bar.
        runningChanged(bool): training started / ended.
        runFinished(object): the :class:`TrainOutcome` of a run that ended (finished or
            stopped).
        runEnded(): a run ended in any way (finished, stopped, failed): run folders changed.
        showEvaluation(str): the user asked to see a run's evaluation (its folder).
        startableChanged(bool): whether Start can be pressed now.

    Attributes:
        confirm: asks a yes/no question, ``(title, text) -> bool`` (the window's; tests
            replace it).
    """

    showEvaluation = Signal(str)
    startableChanged = Signal(bool)

    def __init__(self, project: Project, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainPage")
        self.project = project
        self.jobs = CurrentJobs(runner, self)
        self.reporter: PausableReporter | None = None
        self.outcome: TrainOutcome | None = None
        self.runs_root: str | None = None
        self._info: dict[str, Any] = {}
        self._t0 = 0.0
        self._step0 = 0
        self._last_step = 0
        self._stop_requested = False
        self.warnings_seen: list[str] = []
        self.batches_received = 0
        self.confirm: Callable[[str, str], bool] = self._confirm_with_dialog
        self.ask_extra_epochs: Callable[[QWidget], int | None] = ask_extra_epochs
        self._auto_name = ""
        self._fitting = False
        self._stage = ""
        self._stage_t0 = 0.0
        self._last_batch: tuple[int, dict[str, float]] | None = None
        self._progress_dirty = False

        self._build_header()
        self.form = TrainSettingsForm()
        self.progress_card = TrainProgressCard()
        self.progress_card.view_eval_btn.clicked.connect(self._on_view_evaluation)
        self.progress_card.extend_btn.clicked.connect(self._on_extend_clicked)
        body = QHBoxLayout()
        body.setSpacing(14)
        body.addWidget(self.form)
        body.addWidget(self._build_right_column(), 1)
        page_layout(self, self.header).addLayout(body, 1)

        self.advisor = RecipeAdvisor(project, self.form.offer, self._apply_recipe)
        self.form.edited.connect(self._on_form_edited)
        self.form.recommend_btn.clicked.connect(self.apply_recommended)
        self._ui_timer = QTimer(self)
        self._ui_timer.setInterval(UI_REFRESH_MS)
        self._ui_timer.timeout.connect(self._refresh_progress)
        project.loaded.connect(self._on_project_loaded)
        project.changed.connect(self._on_project_changed)
        project.readinessChanged.connect(self.update_start)
        self._on_project_loaded()
        self.tools = TrainTools(self)  # the LR finder button and the memory estimate

    def _build_header(self) -> None:
        self.header = PageHeader("Train", "Set how the model learns, press Start, and watch it "
                                          "learn. Stop keeps the best weights so far.")
        self.start_btn = QPushButton("Start training")
        self.start_btn.setObjectName("startButton")
        self.start_btn.setProperty("primary", True)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setObjectName("stopButton")
        self.stop_btn.setEnabled(False)
        self.pause_btn = PauseButton()
        self.pause_btn.pauseChanged.connect(self._on_pause_changed)
        self.header.action_row.addWidget(self.pause_btn)
        self.header.action_row.addWidget(self.stop_btn)
        self.header.action_row.addWidget(self.start_btn)
        self.start_btn.clicked.connect(self.start)
        self.stop_btn.clicked.connect(self.stop)

    def _build_right_column(self) -> QWidget:
        """The progress card, the device and warm-start lines, the charts over the log."""
        right_split = self._build_charts_and_log()
        right = QWidget()
        right_lay = QVBoxLayout(right)
        right_lay.setContentsMargins(0, 0, 0, 0)
        right_lay.setSpacing(10)
        right_lay.addWidget(self.progress_card)
        self.device_line = DeviceLine()  # which device trains (the run reports it)
        right_lay.addWidget(self.device_line)
        self.warm_start = WarmStartLine()  # "Starts from the weights of run …"
        self.warm_start.cleared.connect(self._on_start_fresh)
        right_lay.addWidget(self.warm_start)
        right_lay.addWidget(right_split, 1)
        return right

    def _build_charts_and_log(self) -> QSplitter:
        self.charts = TrainCharts(redraw_ms=CHART_REFRESH_MS)
        self.charts.setObjectName("trainCharts")
        self.charts.metricsFound.connect(self._on_metrics_found)
        self.progress_card.metric_combo.currentTextChanged.connect(self._on_metric_picked)
        self.log = QPlainTextEdit()
        self.log.setObjectName("trainLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Training log")
        self.log.setMinimumHeight(48)  # the charts get the height first on a small screen
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.charts)
        split.addWidget(self.log)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 1)
        split.setSizes([430, 110])
        split.setChildrenCollapsible(False)
        return split

    # ================================================================ form
    @Slot()
    def refresh_from_spec(self) -> None:
        """Show the spec's training settings."""
        self.form.load(self.project.spec)
        self.warm_start.show_for(self.project.spec)

    @Slot()
    def _on_start_fresh(self) -> None:
        self.project.touch("training")
        self.statusMessage.emit("The next run starts fresh from the backbone's weights")

    @Slot()
    def _on_project_loaded(self) -> None:
        self.refresh_from_spec()
        self.advisor.reset()
        self.update_start()

    @Slot()
    def _on_form_edited(self) -> None:
        self.form.store(self.project.spec)
        self.form.update_visibility(self.project.spec)
        self.project.touch("training")

    @Slot()
    def apply_recommended(self) -> None:
        """Fill the form with the recommended training recipe for this project."""
        self.advisor.use_offer()
        self.statusMessage.emit("Using the recommended training settings for "
                                f"{recipe_subject(self.project.spec)}")

    def _apply_recipe(self, recipe: dict[str, Any]) -> None:
        """Write a recommended recipe into the spec and show it."""
        t = self.project.spec.training
        f = self.project.spec.freeze
        for key, value in recipe.items():
            freeze_key = key in ("head_first_epochs", "unfreeze_lr_factor", "layer_decay")
            setattr(f if freeze_key else t, key, value)
        if f.head_first_epochs >= t.epochs:
            f.head_first_epochs = 0
        self.refresh_from_spec()
        self.project.touch("training")
        self.form.lr_hint.setToolTip(f"Recommended: {describe_recipe(recipe)}")

    @Slot(str)
    def _on_project_changed(self, section: str) -> None:
        if section in ("data", "backbone"):
            self._follow_run_name()
        if section in ("data", "backbone", "freeze"):
            self.advisor.on_change()
            self.form.update_visibility(self.project.spec)
        if section == "training":
            self.warm_start.show_for(self.project.spec)
        self.update_start()

    def _follow_run_name(self) -> None:
        """Name the runs after the data and the backbone, until the user names them."""
        spec = self.project.spec
        if spec.name not in ("", DEFAULT_RUN_NAME, self._auto_name) or \
                not (spec.data.path or spec.data.image_dir):
            return
        self._auto_name = engine_calls.suggested_run_name(spec)
        if spec.name != self._auto_name:
            spec.name = self._auto_name
            self.form.run_name.setText(spec.name)
            self.project.touch("name", modified=self.project.dirty)

    @Slot()
    def update_start(self) -> None:
        """Enable Start when training can start; else say why next to it."""
        reason = None if self.running else start_blocker(self.project)
        startable = reason is None and not self.running
        self.start_btn.setEnabled(startable)
        self.start_btn.setToolTip(reason or "Train the model with these settings")
        self.progress_card.show_blocker(reason)
        self.startableChanged.emit(startable)

    def _confirm_with_dialog(self, title: str, text: str) -> bool:
        buttons = QMessageBox.StandardButton
        return ask_question(self, title, text, buttons.Yes | buttons.No,
                            buttons.No) == buttons.Yes

    # ============================================================= training
    def _make_reporter(self) -> PausableReporter:
        """A reporter for a new run, its throttled signals connected to this page's slots."""
        reporter = PausableReporter(parent=self)
        reporter.statusChanged.connect(self._on_status)
        reporter.warningRaised.connect(self._on_warning)
        reporter.progressed.connect(self._on_progress)
        reporter.trainBegan.connect(self._on_train_begin)
        reporter.batchesArrived.connect(self._on_batches)
        reporter.epochEnded.connect(self._on_epoch)
        reporter.trainEnded.connect(self._on_train_end)
        reporter.deviceReported.connect(self.device_line.show_reported)
        return reporter

    # ---- reporter slots (GUI thread; queued from the worker)
    @Slot(str)
    def _on_status(self, text: str) -> None:
        self.append_log(text)
        self.statusMessage.emit(text)
        if not self._fitting:
            self._set_stage(text)

    def _set_stage(self, text: str) -> None:
        """Show what the run is doing outside the epochs (reading, loading, evaluating…)."""
        self._stage, self._stage_t0 = text, time.monotonic()
        if not self._stop_requested:
            self.progress_card.show_stage(text)

    @Slot(str)
    def _on_warning(self, text: str) -> None:
        self.warnings_seen.append(text)
        self.append_log(f"⚠ {text}")

    @Slot(float, object)
    def _on_progress(self, done: float, total: Any) -> None:
        if self._fitting:
            return
        if total:
            self.progress_card.show_count(done, total)

    @Slot(object)
    def _on_train_begin(self, info: dict[str, Any]) -> None:
        first = not self._info
        self._info = dict(info)
        self._fitting = True
        total = int(info.get("epochs", 1)) * int(info.get("steps_per_epoch", 1))
        initial = int(info.get("initial_step", 0))
        self.progress_card.start_steps(total, initial)
        self.charts.set_total_steps(total, int(info.get("epochs", 0)))
        if first:
            self._t0 = time.monotonic()
            self._step0 = initial
        phase = info.get("phase")
        if phase and phase != "train":
            self.charts.mark_phase(initial, str(phase))
        extra = ""
        if info.get("trainable_params") is not None:
            extra = (f", {int(info['trainable_params']):,} of "
                     f"{int(info.get('total_params', 0)):,} parameters trainable")
        self.append_log(f"Phase '{phase or 'train'}': {phase_epochs(info)} × "
                        f"{info.get('steps_per_epoch')} steps, {info.get('train_samples')} "
                        f"examples{extra}")

    @Slot(object)
    def _on_batches(self, batches: list[tuple[int, dict[str, float]]]) -> None:
        """Buffer batch results; the progress widgets refresh on :attr:`_ui_timer`."""
        if not batches:
            return
        self.batches_received += len(batches)
        self.charts.add_batches(batches)
        self._last_batch = batches[-1]
        self._progress_dirty = True

    @Slot()
    def _refresh_progress(self) -> None:
        """Show the latest step, loss, speed and ETA (a few times a second, not per signal)."""
        waiting = not self._fitting or self._last_batch is None or \
            self._last_batch[0] <= int(self._info.get("initial_step", 0))
        if waiting and self.running and not self._stop_requested:
            # no step of this phase yet: the stage and how long it has taken so far, ticking
            so_far = format_duration(time.monotonic() - self._stage_t0)
            self.progress_card.label.setText(f"{self._stage} ({so_far})")
            return
        if not self._progress_dirty or self._last_batch is None:
            return
        self._progress_dirty = False
        step, logs = self._last_batch
        self._last_step = step
        info = self._info
        epochs = int(info.get("epochs", 0))
        spe = int(info.get("steps_per_epoch", 0)) or 1
        total = epochs * spe
        self.progress_card.show_step(step, total)
        elapsed = time.monotonic() - self._t0
        done = step - self._step0
        eta = elapsed / done * (total - step) if done > 0 else math.nan
        epoch = int(logs.get("epoch", (step - 1) // spe + 1))
        rate = logs.get("samples_per_s", math.nan)
        loss = logs.get("loss", math.nan)
        rate_text = f"{rate:,.0f} samples/s" if math.isfinite(rate) else "— samples/s"
        if self.pause_btn.paused:
            self.progress_card.label.setText(f"Paused at step {step:,}/{total:,}: nothing is "
                                             f"lost; press Resume to continue.")
        elif not self._stop_requested:
            self.progress_card.label.setText(
                f"Epoch {epoch}/{epochs} · step {step:,}/{total:,} · loss {loss:.4f} · "
                f"{rate_text} · ETA {format_duration(eta)}")

    @Slot(int, object)
    def _on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        self._refresh_progress()
        self.charts.add_epoch(epoch, logs)
        shown = " · ".join(f"{k} {v:.4g}" for k, v in logs.items()
                           if isinstance(v, float) and k not in ("epoch",))
        epochs = self._info.get("epochs", "?")
        self.append_log(f"Epoch {epoch}/{epochs} [{format_duration(time.monotonic() - self._t0)}] "
                        f"{shown}")

    @Slot(object)
    def _on_train_end(self, logs: dict[str, Any]) -> None:
        if logs.get("stopped_by_user"):
            self.append_log("Stopped by the user; keeping the best weights so far.")
        if logs.get("diverged"):
            self.append_log(f"The loss diverged at {logs['diverged']}.")
        self._fitting = False
        if self._info.get("phase") == "head" and not logs.get("stopped_by_user"):
            self._set_stage("Head-only phase done; unfreezing the backbone for fine-tuning…")
        else:
            self._set_stage("Evaluating and saving the run…")

    @Slot()
    def _on_view_evaluation(self) -> None:
        if self.outcome is not None:
            self.showEvaluation.emit(self.outcome.run_dir)

    # ============================================================== helpers
    @Slot(list)
    def _on_metrics_found(self, names: list[str]) -> None:
        combo = self.progress_card.metric_combo
        combo.blockSignals(True)
        combo.clear()
        combo.addItems(names)
        combo.setCurrentText(self.charts.metric_name)
        combo.blockSignals(False)

    @Slot(str)
    def _on_metric_picked(self, name: str) -> None:
        if name:
            self.charts.set_metric(name)

    def append_log(self, text: str) -> None:
        """Add a time-stamped line to the log pane."""
        self.log.appendPlainText(f"{time.strftime('%H:%M:%S')}  {text}")
        self.log.moveCursor(QTextCursor.MoveOperation.End)

    def show_history(self, rows: list[dict[str, float]], title: str) -> None:
        """Show a past run's epoch curves (no batch data is stored for past runs)."""
        if self.running:
            return
        self.charts.load_history(rows)
        self.progress_card.show_state(title, 1 if rows else 0,
                                      f"Showing the epochs of {title} (batch curves are only "
                                      "drawn live).")
