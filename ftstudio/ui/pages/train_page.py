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
from typing import Any, cast

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge import engine_calls
from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner
from ftstudio.bridge.qt_reporter import QtReporter
from ftstudio.bridge.types import TrainOutcome
from ftstudio.spec import ExperimentSpec, Optimizer, Schedule, TrainSpec
from ftstudio.ui.project import Project
from ftstudio.ui.widgets.charts import TrainCharts
from ftstudio.ui.widgets.common import Card, PageHeader, SciSpinBox

__all__ = ["TrainPage", "format_eta", "recommended_training"]

OPTIMIZERS = ["adamw", "adam", "sgd", "rmsprop", "adagrad"]
UI_REFRESH_MS = 250
"""How often the progress text refreshes while training (4 Hz)."""
CHART_REFRESH_MS = 500
"""How often the live charts redraw (2 Hz). The reporter delivers up to 20 chunks a second, but
painting that often costs CPU the training process needs (measured: benchmarks/ui_stall.py)."""
SCHEDULES = ["constant", "cosine", "exponential", "step"]


def format_eta(seconds: float) -> str:
    """``75`` -> ``'1:15'``, ``3700`` -> ``'1:01:40'``; ``'—'`` when unknown."""
    if not math.isfinite(seconds) or seconds < 0:
        return "—"
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def pretty_metric(text: str) -> str:
    """``'test.accuracy 0.7083'`` -> ``'test accuracy 70.8 %'`` (other metrics as they are)."""
    key, _, value = text.partition(" ")
    split, _, name = key.rpartition(".")
    try:
        number = float(value)
    except ValueError:
        return text
    shown = f"{100 * number:.1f} %" if name in ("accuracy", "macro_f1") else f"{number:.4g}"
    return f"{split.replace('.', ' ')} {name.replace('_', ' ')} {shown}".strip()


def recommended_training(spec: ExperimentSpec) -> dict[str, Any]:
    """Sensible training settings for the spec's data kind and freezing.

    Follows the usual recipes: a transformer fine-tuned end to end wants AdamW at ~5e-5 with
    warm-up and cosine decay; a frozen backbone (or a tabular MLP) lets the head learn at
    1e-3; an image CNN fine-tuned end to end trains the head first, then the rest at a 10×
    lower rate.
    """
    modality = spec.modality
    frozen = spec.freeze.mode == "all" or (spec.freeze.mode == "last_n"
                                           and spec.freeze.last_n == 0)
    if modality == "tabular" or spec.backbone.source == "none":
        return {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 30, "batch_size": 32,
                "schedule": "constant", "warmup_fraction": 0.0, "early_stopping_patience": 5,
                "head_first_epochs": 0}
    if modality == "text":
        if frozen:
            return {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 10, "batch_size": 32,
                    "schedule": "constant", "warmup_fraction": 0.0,
                    "early_stopping_patience": 3, "head_first_epochs": 0}
        return {"optimizer": "adamw", "learning_rate": 5e-5, "epochs": 4, "batch_size": 16,
                "schedule": "cosine", "warmup_fraction": 0.1, "early_stopping_patience": 0,
                "head_first_epochs": 0}
    if frozen:
        return {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 10, "batch_size": 32,
                "schedule": "constant", "warmup_fraction": 0.0, "early_stopping_patience": 3,
                "head_first_epochs": 0}
    return {"optimizer": "adam", "learning_rate": 1e-3, "epochs": 8, "batch_size": 32,
            "schedule": "cosine", "warmup_fraction": 0.0, "early_stopping_patience": 3,
            "head_first_epochs": 2, "unfreeze_lr_factor": 0.1}


class TrainPage(QWidget):
    """Step 3: training.

    Signals:
        errorRaised(object): a failure to show in a dialog (:class:`ErrorInfo`).
        statusMessage(str): a line for the status bar.
        runningChanged(bool): training started / ended.
        runFinished(object): the :class:`TrainOutcome` of a run that ended (finished or
            stopped).
        showEvaluation(str): the user asked to see a run's evaluation (its folder).
    """

    errorRaised = Signal(object)
    statusMessage = Signal(str)
    runningChanged = Signal(bool)
    runFinished = Signal(object)
    showEvaluation = Signal(str)

    def __init__(self, project: Project, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainPage")
        self.project = project
        self.runner = runner
        self.reporter: QtReporter | None = None
        self.job: Job | None = None
        self.outcome: TrainOutcome | None = None
        self.runs_root: str | None = None
        self._updating = False
        self._info: dict[str, Any] = {}
        self._t0 = 0.0
        self._step0 = 0
        self._last_step = 0
        self._stop_requested = False
        self.warnings_seen: list[str] = []
        self.batches_received = 0
        self._auto_settings: dict[str, Any] | None = None
        self._last_batch: tuple[int, dict[str, float]] | None = None
        self._progress_dirty = False

        self.header = PageHeader("Train", "Set how the model learns, press Start, and watch it "
                                          "learn. Stop keeps the best weights so far.")
        self.start_btn = QPushButton("Start training")
        self.start_btn.setObjectName("startButton")
        self.start_btn.setProperty("primary", True)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setObjectName("stopButton")
        self.stop_btn.setEnabled(False)
        self.header.action_row.addWidget(self.stop_btn)
        self.header.action_row.addWidget(self.start_btn)
        self.start_btn.clicked.connect(self.start)
        self.stop_btn.clicked.connect(self.stop)

        # ---- settings form
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 10000)
        self.batch_size = QSpinBox()
        self.batch_size.setRange(1, 4096)
        self.optimizer = QComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.learning_rate = SciSpinBox(1e-7, 1.0)
        self.weight_decay = SciSpinBox(0.0, 1.0)
        self.weight_decay.setMinimum(0.0)
        self.momentum = QDoubleSpinBox()
        self.momentum.setRange(0.0, 0.999)
        self.momentum.setSingleStep(0.05)
        self.schedule = QComboBox()
        self.schedule.addItems(SCHEDULES)
        self.warmup = QSpinBox()
        self.warmup.setRange(0, 90)
        self.warmup.setSuffix(" % of steps")
        self.decay_rate = QDoubleSpinBox()
        self.decay_rate.setRange(0.01, 1.0)
        self.decay_rate.setSingleStep(0.05)
        self.step_epochs = QSpinBox()
        self.step_epochs.setRange(1, 1000)
        self.head_first = QSpinBox()
        self.head_first.setRange(0, 1000)
        self.head_first.setToolTip("Two-phase recipe: train only the head for these epochs, "
                                   "then unfreeze as set on the Model page")
        self.unfreeze_factor = SciSpinBox(1e-4, 10.0)
        self.unfreeze_factor.setToolTip("Learning-rate multiplier for the second phase")
        self.patience = QSpinBox()
        self.patience.setRange(0, 1000)
        self.patience.setSpecialValueText("off")
        self.monitor = QComboBox()
        self.monitor.setEditable(True)
        self.monitor.addItems(["val_loss", "val_accuracy", "loss", "accuracy"])
        self.class_weight = QComboBox()
        self.class_weight.addItems(["none", "balanced"])
        self.clip = QDoubleSpinBox()
        self.clip.setRange(0.0, 1000.0)
        self.clip.setSingleStep(0.5)
        self.clip.setSpecialValueText("off")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.recommend_btn = QPushButton("Use recommended settings")
        self.recommend_btn.setToolTip("Settings that usually work for this kind of data and "
                                      "freezing")
        self.lr_hint = QLabel("")
        self.lr_hint.setObjectName("hint")
        self.lr_hint.setWordWrap(True)

        def form_card(title: str, rows: list[tuple[str, QWidget]]) -> tuple[Card, QFormLayout]:
            card = Card(title)
            form = QFormLayout()
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            form.setHorizontalSpacing(10)
            form.setVerticalSpacing(6)
            for label, w in rows:
                form.addRow(label, w)
            card.body.addLayout(form)
            return card, form

        opt_card, self.opt_form = form_card("Optimisation", [
            ("Epochs", self.epochs), ("Batch size", self.batch_size),
            ("Optimizer", self.optimizer), ("Learning rate", self.learning_rate),
            ("Weight decay", self.weight_decay), ("Momentum", self.momentum),
            ("LR schedule", self.schedule), ("Warm-up", self.warmup),
            ("Decay factor", self.decay_rate), ("Decay every", self.step_epochs)])
        opt_card.body.addWidget(self.lr_hint)
        recipe_card, _ = form_card("Fine-tuning recipe", [
            ("Head-only epochs", self.head_first), ("Then LR ×", self.unfreeze_factor)])
        stop_card, _ = form_card("Stopping & balance", [
            ("Early stopping", self.patience), ("Monitor", self.monitor),
            ("Class weights", self.class_weight), ("Clip gradients", self.clip),
            ("Seed", self.seed)])
        form_widget = QWidget()
        form_lay = QVBoxLayout(form_widget)
        form_lay.setContentsMargins(0, 0, 4, 0)
        form_lay.setSpacing(10)
        form_lay.addWidget(self.recommend_btn)
        form_lay.addWidget(opt_card)
        form_lay.addWidget(recipe_card)
        form_lay.addWidget(stop_card)
        form_lay.addStretch(1)
        self.form_scroll = QScrollArea()
        self.form_scroll.setWidgetResizable(True)
        self.form_scroll.setWidget(form_widget)
        self.form_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.form_scroll.setMinimumWidth(300)
        self.form_scroll.setMaximumWidth(380)

        # ---- progress, charts, log
        self.progress = QProgressBar()
        self.progress.setObjectName("trainProgress")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Not started")
        self.progress_label = QLabel("Press Start to train.")
        self.progress_label.setObjectName("progressLabel")
        self.metric_combo = QComboBox()
        self.metric_combo.setMinimumWidth(140)
        self.metric_combo.setToolTip("The metric of the lower-left chart")
        prog_row = QHBoxLayout()
        prog_row.addWidget(self.progress, 1)
        prog_row.addSpacing(8)
        prog_row.addWidget(QLabel("Metric"))
        prog_row.addWidget(self.metric_combo)
        self.result_label = QLabel("")
        self.result_label.setObjectName("resultBanner")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view_eval_btn = QPushButton("View evaluation →")
        self.view_eval_btn.setProperty("primary", True)
        self.view_eval_btn.clicked.connect(self._on_view_evaluation)
        result_row = QHBoxLayout()
        result_row.addWidget(self.result_label, 1)
        result_row.addWidget(self.view_eval_btn)
        self.result_box = QWidget()
        self.result_box.setObjectName("resultBox")
        self.result_box.setLayout(result_row)
        result_row.setContentsMargins(10, 6, 10, 6)
        self.result_box.hide()
        prog_card = Card()
        prog_card.body.addLayout(prog_row)
        prog_card.body.addWidget(self.progress_label)
        prog_card.body.addWidget(self.result_box)

        self.charts = TrainCharts(redraw_ms=CHART_REFRESH_MS)
        self.charts.setObjectName("trainCharts")
        self.charts.metricsFound.connect(self._on_metrics_found)
        self.metric_combo.currentTextChanged.connect(self._on_metric_picked)
        self.log = QPlainTextEdit()
        self.log.setObjectName("trainLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Training log")
        right_split = QSplitter(Qt.Orientation.Vertical)
        right_split.addWidget(self.charts)
        right_split.addWidget(self.log)
        right_split.setStretchFactor(0, 4)
        right_split.setStretchFactor(1, 1)
        right_split.setSizes([430, 110])
        right_split.setChildrenCollapsible(False)
        right = QWidget()
        right_lay = QVBoxLayout(right)
        right_lay.setContentsMargins(0, 0, 0, 0)
        right_lay.setSpacing(10)
        right_lay.addWidget(prog_card)
        right_lay.addWidget(right_split, 1)

        body = QHBoxLayout()
        body.setSpacing(14)
        body.addWidget(self.form_scroll)
        body.addWidget(right, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 16, 20, 16)
        lay.setSpacing(12)
        lay.addWidget(self.header)
        lay.addLayout(body, 1)

        for w in (self.epochs, self.batch_size, self.warmup, self.step_epochs, self.head_first,
                  self.patience, self.seed):
            w.valueChanged.connect(self._on_form_edited)
        for dw in (self.learning_rate, self.weight_decay, self.momentum, self.decay_rate,
                   self.unfreeze_factor, self.clip):
            dw.valueChanged.connect(self._on_form_edited)
        for c in (self.optimizer, self.schedule, self.class_weight):
            c.currentTextChanged.connect(self._on_form_edited)
        self.monitor.currentTextChanged.connect(self._on_form_edited)
        self.recommend_btn.clicked.connect(self.apply_recommended)
        self._ui_timer = QTimer(self)
        self._ui_timer.setInterval(UI_REFRESH_MS)
        self._ui_timer.timeout.connect(self._refresh_progress)
        project.loaded.connect(self.refresh_from_spec)
        project.changed.connect(self._on_project_changed)
        self.refresh_from_spec()

    # ================================================================ form
    @Slot()
    def refresh_from_spec(self) -> None:
        """Show the spec's training settings."""
        t = self.project.spec.training
        f = self.project.spec.freeze
        self._updating = True
        try:
            self.epochs.setValue(t.epochs)
            self.batch_size.setValue(t.batch_size)
            self.optimizer.setCurrentText(t.optimizer)
            self.learning_rate.setValue(t.learning_rate)
            self.weight_decay.setValue(t.weight_decay)
            self.momentum.setValue(t.momentum)
            self.schedule.setCurrentText(t.schedule)
            self.warmup.setValue(int(round(100 * t.warmup_fraction)))
            self.decay_rate.setValue(t.decay_rate)
            self.step_epochs.setValue(t.step_epochs)
            self.head_first.setValue(f.head_first_epochs)
            self.unfreeze_factor.setValue(f.unfreeze_lr_factor)
            self.patience.setValue(t.early_stopping_patience)
            self.monitor.setCurrentText(t.monitor)
            self.class_weight.setCurrentText("balanced" if t.class_weight == "balanced"
                                             else "none")
            self.clip.setValue(t.gradient_clip_norm or 0.0)
            self.seed.setValue(t.seed)
        finally:
            self._updating = False
        self._update_visibility()

    def _update_visibility(self) -> None:
        opt = self.optimizer.currentText()
        sched = self.schedule.currentText()
        self.opt_form.setRowVisible(self.weight_decay, opt == "adamw")
        self.opt_form.setRowVisible(self.momentum, opt == "sgd")
        self.opt_form.setRowVisible(self.decay_rate, sched in ("exponential", "step"))
        self.opt_form.setRowVisible(self.step_epochs, sched == "step")
        has_backbone = self.project.spec.backbone.source != "none"
        self.head_first.setEnabled(has_backbone)
        self.unfreeze_factor.setEnabled(has_backbone and self.head_first.value() > 0)
        self._update_hint()

    def _update_hint(self) -> None:
        spec = self.project.spec
        lr = spec.training.learning_rate
        frozen = spec.freeze.mode == "all"
        hint = ""
        if (spec.backbone.source == "none" or frozen) and lr < 1e-4:
            hint = ("Only the head learns here: a learning rate around 1e-3 trains much faster "
                    "than this.")
        elif spec.modality == "text" and not frozen and lr > 2e-4:
            hint = ("Fine-tuning a transformer end to end usually needs a small learning rate "
                    "(2e-5 to 1e-4); this one may wreck the pretrained weights.")
        self.lr_hint.setText(hint)
        self.lr_hint.setVisible(bool(hint))

    @Slot()
    def _on_form_edited(self) -> None:
        if self._updating:
            return
        t = self.project.spec.training
        f = self.project.spec.freeze
        t.epochs = self.epochs.value()
        t.batch_size = self.batch_size.value()
        t.optimizer = cast(Optimizer, self.optimizer.currentText())  # combo lists Optimizer values
        t.learning_rate = float(self.learning_rate.value())
        t.weight_decay = float(self.weight_decay.value())
        t.momentum = float(self.momentum.value())
        t.schedule = cast(Schedule, self.schedule.currentText())  # combo items are Schedule values
        t.warmup_fraction = self.warmup.value() / 100.0
        t.decay_rate = float(self.decay_rate.value())
        t.step_epochs = self.step_epochs.value()
        t.early_stopping_patience = self.patience.value()
        t.monitor = self.monitor.currentText().strip() or "val_loss"
        t.class_weight = "balanced" if self.class_weight.currentText() == "balanced" else None
        t.gradient_clip_norm = float(self.clip.value()) or None
        t.seed = self.seed.value()
        f.head_first_epochs = self.head_first.value()
        f.unfreeze_lr_factor = float(self.unfreeze_factor.value())
        self._update_visibility()
        self.project.touch("training")

    def _untouched(self) -> bool:
        """Tell whether the training settings are the defaults or our last recommendation."""
        t = self.project.spec.training
        f = self.project.spec.freeze
        current = {k: getattr(t, k) for k in vars(TrainSpec())}
        current["head_first_epochs"] = f.head_first_epochs
        default = {k: getattr(TrainSpec(), k) for k in vars(TrainSpec())}
        default["head_first_epochs"] = 0
        return current in (default, self._auto_settings)

    @Slot()
    def apply_recommended(self, quiet: bool = False) -> None:
        """Fill the form with :func:`recommended_training` for this project."""
        rec = recommended_training(self.project.spec)
        t = self.project.spec.training
        f = self.project.spec.freeze
        for key, value in rec.items():
            if key in ("head_first_epochs", "unfreeze_lr_factor"):
                setattr(f, key, value)
            else:
                setattr(t, key, value)
        if f.head_first_epochs >= t.epochs:
            f.head_first_epochs = 0
        self.refresh_from_spec()
        self.project.touch("training")
        self._auto_settings = {k: getattr(t, k) for k in vars(TrainSpec())}
        self._auto_settings["head_first_epochs"] = f.head_first_epochs
        shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in rec.items())
        self.statusMessage.emit(f"Training settings set for {self.project.spec.modality} data"
                                if quiet else "Using the recommended training settings")
        self.lr_hint.setToolTip(f"Recommended: {shown}")

    @Slot(str)
    def _on_project_changed(self, section: str) -> None:
        if section in ("data", "backbone") and self.project.dirty and self._untouched() \
                and (self.project.spec.data.path or self.project.spec.data.image_dir):
            self.apply_recommended(quiet=True)
        if section in ("data", "backbone", "freeze"):
            self._update_visibility()

    # ============================================================= training
    @property
    def running(self) -> bool:
        """True while a training job runs."""
        return self.job is not None

    @Slot()
    def start(self) -> None:
        """Validate the spec and start training in a worker."""
        if self.running:
            return
        spec = self.project.spec_copy()
        try:
            spec.validate()
        except Exception as exc:  # noqa: BLE001 - a SpecError says what to fix
            self.errorRaised.emit(ErrorInfo("Cannot start training", str(exc), None, True))
            return
        if not (spec.data.path or spec.data.image_dir):
            self.errorRaised.emit(ErrorInfo("Cannot start training",
                                            "Open some data on the Data page first.", None, True))
            return
        self.reporter = QtReporter(parent=self)
        r = self.reporter
        r.statusChanged.connect(self._on_status)
        r.warningRaised.connect(self._on_warning)
        r.progressed.connect(self._on_progress)
        r.trainBegan.connect(self._on_train_begin)
        r.batchesArrived.connect(self._on_batches)
        r.epochEnded.connect(self._on_epoch)
        r.trainEnded.connect(self._on_train_end)
        job = Job(engine_calls.train, spec, r, self.runs_root, title="Training failed")
        job.succeeded.connect(self._on_finished)
        job.failed.connect(self._on_failed)
        job.done.connect(self._on_done)
        self.job = job
        self.outcome = None
        self._info = {}
        self._t0 = time.monotonic()
        self._stop_requested = False
        self.warnings_seen = []
        self.batches_received = 0
        self._last_batch = None
        self._progress_dirty = False
        self._ui_timer.start()
        self.charts.reset()
        self.result_box.hide()
        self.log.clear()
        self.append_log(f"Training '{spec.name}' — {spec.modality} data, "
                        f"{spec.training.epochs} epochs, batch {spec.training.batch_size}, "
                        f"{spec.training.optimizer} lr {spec.training.learning_rate:g}")
        self.progress.setRange(0, 0)
        self.progress.setFormat("Preparing…")
        self.progress_label.setText("Preparing the data and the model…")
        self._set_running(True)
        self.runner.start(job)

    @Slot()
    def stop(self) -> None:
        """Ask the run to stop after the current batch (best weights are kept)."""
        if self.reporter is None or not self.running:
            return
        self._stop_requested = True
        self.reporter.request_stop()
        self.stop_btn.setEnabled(False)
        self.progress_label.setText("Stopping after this batch; the best weights are kept…")
        self.append_log("Stop requested.")

    def _set_running(self, running: bool) -> None:
        self.start_btn.setEnabled(not running)
        self.stop_btn.setEnabled(running)
        self.form_scroll.setEnabled(not running)
        self.runningChanged.emit(running)

    # ---- reporter slots (GUI thread; queued from the worker)
    @Slot(str)
    def _on_status(self, text: str) -> None:
        self.append_log(text)
        self.statusMessage.emit(text)
        if not self._info:
            self.progress_label.setText(text)

    @Slot(str)
    def _on_warning(self, text: str) -> None:
        self.warnings_seen.append(text)
        self.append_log(f"⚠ {text}")

    @Slot(float, object)
    def _on_progress(self, done: float, total: Any) -> None:
        if self._info:
            return
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{int(done):,} / {int(total):,}")

    @Slot(object)
    def _on_train_begin(self, info: dict[str, Any]) -> None:
        first = not self._info
        self._info = dict(info)
        total = int(info.get("epochs", 1)) * int(info.get("steps_per_epoch", 1))
        self.progress.setRange(0, max(1, total))
        self.charts.set_total_steps(total, int(info.get("epochs", 0)))
        initial = int(info.get("initial_step", 0))
        self.progress.setValue(initial)
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
        self.append_log(f"Phase '{phase or 'train'}': {info.get('epochs')} epochs × "
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
        if not self._progress_dirty or self._last_batch is None:
            return
        self._progress_dirty = False
        step, logs = self._last_batch
        self._last_step = step
        info = self._info
        epochs = int(info.get("epochs", 0))
        spe = int(info.get("steps_per_epoch", 0)) or 1
        total = epochs * spe
        self.progress.setValue(min(step, total))
        elapsed = time.monotonic() - self._t0
        done = step - self._step0
        eta = elapsed / done * (total - step) if done > 0 else math.nan
        epoch = int(logs.get("epoch", (step - 1) // spe + 1))
        rate = logs.get("samples_per_s", math.nan)
        loss = logs.get("loss", math.nan)
        self.progress.setFormat(f"{100 * step / max(1, total):.0f} %")
        rate_text = f"{rate:,.0f} samples/s" if math.isfinite(rate) else "— samples/s"
        if not self._stop_requested:
            self.progress_label.setText(
                f"Epoch {epoch}/{epochs} · step {step:,}/{total:,} · loss {loss:.4f} · "
                f"{rate_text} · ETA {format_eta(eta)}")

    @Slot(int, object)
    def _on_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        self._refresh_progress()
        self.charts.add_epoch(epoch, logs)
        shown = " · ".join(f"{k} {v:.4g}" for k, v in logs.items()
                           if isinstance(v, float) and k not in ("epoch",))
        epochs = self._info.get("epochs", "?")
        self.append_log(f"Epoch {epoch}/{epochs} [{format_eta(time.monotonic() - self._t0)}] "
                        f"{shown}")

    @Slot(object)
    def _on_train_end(self, logs: dict[str, Any]) -> None:
        if logs.get("stopped_by_user"):
            self.append_log("Stopped by the user; keeping the best weights so far.")
        if logs.get("diverged"):
            self.append_log(f"The loss diverged at {logs['diverged']}.")
        self.progress_label.setText("Evaluating and saving the run…")

    # ---- job slots
    @Slot(int, object)
    def _on_finished(self, job_id: int, outcome: TrainOutcome) -> None:
        self._ui_timer.stop()
        self._progress_dirty = False
        self.outcome = outcome
        m = outcome.metrics
        key = next((k for k in ("test.accuracy", "test.macro_f1", "test.r2", "test.mae",
                                "val.accuracy", "test.loss") if k in m),
                   next(iter(m), None))
        headline = f"{key} {m[key]:.4f}" if key else "no test metrics"
        how = "Stopped early" if outcome.stopped_by_user else "Finished"
        run_name = outcome.run_dir.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
        self.result_label.setText(
            f"<b>{how}</b> in {format_eta(outcome.seconds)} — {pretty_metric(headline)}.<br>"
            f"<span style='color:#5f6368'>Run {run_name} · reproduce with "
            f"<code>ftstudio train &lt;run&gt;/spec.json</code></span>")
        self.result_label.setToolTip(f"ftstudio train {outcome.run_dir}/spec.json")
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.result_box.show()
        self.progress.setRange(0, 1)
        self.progress.setValue(1)
        self.progress.setFormat(how)
        self.progress_label.setText(f"{how}. Best epoch: {outcome.best_epoch or '—'}.")
        self.append_log(f"{how}: {', '.join(f'{k} {v:.4g}' for k, v in m.items())}")
        self.append_log(f"Run folder: {outcome.run_dir}")
        self.statusMessage.emit(f"Training {how.lower()}: {headline}")
        self.runFinished.emit(outcome)

    @Slot(int, object)
    def _on_failed(self, job_id: int, info: ErrorInfo) -> None:
        self._ui_timer.stop()
        self._progress_dirty = False
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        if info.cancelled:
            self.progress.setFormat("Stopped")
            self.progress_label.setText("Stopped before training started.")
            self.append_log("Stopped before training started.")
            return
        self.progress.setFormat("Failed")
        self.progress_label.setText(f"Training failed: {info.message.splitlines()[0]}")
        self.append_log(f"Training failed: {info.message}")
        self.errorRaised.emit(info)

    @Slot(int)
    def _on_done(self, job_id: int) -> None:
        self._ui_timer.stop()
        self.charts.finish_live()
        self.job = None
        self._set_running(False)

    @Slot()
    def _on_view_evaluation(self) -> None:
        if self.outcome is not None:
            self.showEvaluation.emit(self.outcome.run_dir)

    # ============================================================== helpers
    @Slot(list)
    def _on_metrics_found(self, names: list[str]) -> None:
        self.metric_combo.blockSignals(True)
        self.metric_combo.clear()
        self.metric_combo.addItems(names)
        self.metric_combo.setCurrentText(self.charts.metric_name)
        self.metric_combo.blockSignals(False)

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
        self.progress.setRange(0, 1)
        self.progress.setValue(1 if rows else 0)
        self.progress.setFormat(title)
        self.progress_label.setText(f"Showing the epochs of {title} (batch curves are only "
                                    "drawn live).")
