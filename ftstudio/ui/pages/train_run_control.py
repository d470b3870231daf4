"""Run control of the Train page: Start, Extend, Stop, Pause and the training job's slots.

:class:`TrainRunControl` is a base class of :class:`~ftstudio.ui.pages.train_page.TrainPage`:
it launches a run (a new one from the spec, or an extension of a finished one) as the page's
``"train"`` job with a fresh :class:`~ftstudio.bridge.run_control.PausableReporter` whose
signals feed the page's progress slots, and shows how the job ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QPlainTextEdit, QPushButton, QWidget

from ftstudio.bridge import engine_calls, run_control
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo, Job
from ftstudio.bridge.run_control import PausableReporter
from ftstudio.bridge.types import TrainOutcome
from ftstudio.ui.pages.train_checks import start_blocker, untrained_question
from ftstudio.ui.pages.train_parts import TrainProgressCard, TrainSettingsForm, run_name
from ftstudio.ui.project import Project
from ftstudio.ui.widgets.device_line import DeviceLine
from ftstudio.ui.widgets.pause_button import PauseButton
from ftstudio.ui.widgets.train_charts import TrainCharts
from ftstudio.ui.words import in_window_words

__all__ = ["TrainRunControl"]


class TrainRunControl(QWidget):
    """Start / extend / stop / pause a run and follow its job (the Train page's base class).

    The page builds the widgets named below and the reporter's slots; this class only uses
    them. The signals are the page's (see :class:`~ftstudio.ui.pages.train_page.TrainPage`).
    """

    errorRaised = Signal(object)
    statusMessage = Signal(str)
    runningChanged = Signal(bool)
    runFinished = Signal(object)
    runEnded = Signal()

    project: Project
    jobs: CurrentJobs
    reporter: PausableReporter | None
    outcome: TrainOutcome | None
    runs_root: str | None
    warnings_seen: list[str]
    batches_received: int
    confirm: Callable[[str, str], bool]
    ask_extra_epochs: Callable[[QWidget], int | None]
    form: TrainSettingsForm
    progress_card: TrainProgressCard
    charts: TrainCharts
    log: QPlainTextEdit
    device_line: DeviceLine
    start_btn: QPushButton
    stop_btn: QPushButton
    pause_btn: PauseButton
    _ui_timer: QTimer
    _info: dict[str, Any]
    _t0: float
    _stop_requested: bool
    _last_batch: tuple[int, dict[str, float]] | None
    _progress_dirty: bool
    _fitting: bool
    _stage: str
    _stage_t0: float

    @property
    def running(self) -> bool:
        """True while a training job runs."""
        return self.jobs.is_running("train")

    @Slot()
    def start(self) -> None:
        """Validate the spec and start training in a worker."""
        if self.running:
            return
        reason = start_blocker(self.project)
        if reason is not None:
            self.errorRaised.emit(ErrorInfo("Cannot start training", reason, None, True))
            return
        untrained = self.project.untrained_backbone
        if untrained and not self.confirm("Train without pretrained weights?",
                                          untrained_question(untrained)):
            self.statusMessage.emit("Not started: the backbone has no pretrained weights.")
            return
        spec = self.project.spec_copy()
        self.reporter = self._make_reporter()
        job = Job(engine_calls.train, spec, self.reporter, self.runs_root,
                  title="Training failed")
        self._launch(job, f"Training '{spec.name}' — {spec.modality} data, "
                          f"{spec.training.epochs} epochs, batch {spec.training.batch_size}, "
                          f"{spec.training.optimizer} lr {spec.training.learning_rate:g}")

    def extend(self, run_dir: str, epochs: int) -> None:
        """Train a finished run ``epochs`` more epochs from its last state, in its folder."""
        if self.running:
            return
        self.reporter = self._make_reporter()
        job = Job(run_control.extend, run_dir, epochs, self.reporter, title="Extending failed")
        self._launch(job, f"Extending {run_name(run_dir)} by {epochs} epoch"
                          f"{'s' if epochs != 1 else ''}")
        self.charts.load_history(run_control.run_history(run_dir))  # the epochs so far

    @Slot()
    def _on_extend_clicked(self) -> None:
        if self.outcome is not None:
            self.ask_and_extend(self.outcome.run_dir)

    def ask_and_extend(self, run_dir: str) -> None:
        """Ask how many epochs to add to a finished run, then extend it."""
        if self.running:
            self.statusMessage.emit("A run is training: extend another one when it ends.")
            return
        epochs = self.ask_extra_epochs(self)
        if epochs:
            self.extend(run_dir, epochs)

    def _launch(self, job: Job, first_line: str) -> None:
        """Start a training job (a new run or an extension) with fresh progress widgets."""
        assert self.reporter is not None
        job.add_stop_hook(self.reporter.request_stop)
        self.outcome = None
        self._info = {}
        self._t0 = time.monotonic()
        self._stop_requested = False
        self.warnings_seen = []
        self.batches_received = 0
        self._last_batch = None
        self._progress_dirty = False
        self._fitting = False
        self._ui_timer.start()
        self.charts.reset()
        self.log.clear()
        self.append_log(first_line)
        self.progress_card.show_busy("Preparing…", "Preparing the data and the model…")
        self._stage, self._stage_t0 = "Starting the training process…", time.monotonic()
        self.jobs.start_job("train", job, on_result=self._on_finished, on_error=self._on_failed,
                            on_finished=self._on_done)
        self._set_running(True)
        self.pause_btn.attach(self.reporter)

    @Slot()
    def stop(self) -> None:
        """Ask the run to stop after the current batch (best weights are kept)."""
        if self.reporter is None or not self.running:
            return
        self._stop_requested = True
        self.reporter.request_stop()
        self.stop_btn.setEnabled(False)
        self.progress_card.label.setText("Stopping after this batch; the best weights are "
                                         "kept…")
        self.append_log("Stop requested.")

    @Slot(bool)
    def _on_pause_changed(self, paused: bool) -> None:
        text = ("Paused after the current batch: nothing is lost; press Resume to continue."
                if paused else "Resuming…")
        self.append_log("Pause requested." if paused else "Resume requested.")
        self.progress_card.label.setText(text)
        self.statusMessage.emit(text)

    def _set_running(self, running: bool) -> None:
        if not running:
            self.pause_btn.detach()
        self.stop_btn.setEnabled(running)
        self.form.setEnabled(not running)
        self.runningChanged.emit(running)
        self.update_start()

    # ---- job slots
    def _on_finished(self, outcome: TrainOutcome) -> None:
        self._ui_timer.stop()
        self._progress_dirty = False
        self.outcome = outcome
        how, headline = self.progress_card.show_outcome(outcome)
        self.append_log(f"{how}: "
                        f"{', '.join(f'{k} {v:.4g}' for k, v in outcome.metrics.items())}")
        self.append_log(f"Run folder: {outcome.run_dir}")
        self.statusMessage.emit(f"Training {how.lower()}: {headline}")
        self.runFinished.emit(outcome)

    def _on_failed(self, info: ErrorInfo) -> None:
        self._ui_timer.stop()
        self._progress_dirty = False
        if info.cancelled:
            self.progress_card.show_state("Stopped", 0, "Stopped before training started.")
            self.append_log("Stopped before training started.")
            return
        self.progress_card.show_state(
            "Failed", 0, f"Training failed: {in_window_words(info.message.splitlines()[0])}")
        self.append_log(f"Training failed: {info.message}")
        self.errorRaised.emit(info)

    def _on_done(self) -> None:
        self._ui_timer.stop()
        self.charts.finish_live()
        self._set_running(False)
        self.runEnded.emit()

    # ---- the page's
    def _make_reporter(self) -> PausableReporter:
        """A reporter for a new run, connected to the page's progress slots."""
        raise NotImplementedError

    def append_log(self, text: str) -> None:
        """Add a time-stamped line to the log pane."""
        raise NotImplementedError

    def update_start(self) -> None:
        """Enable Start when training can start; else say why next to it."""
        raise NotImplementedError
