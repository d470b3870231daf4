"""Parts of the Train page: the settings form and the progress card.

The form shows a spec's ``training`` section (and the two-phase recipe of its ``freeze``
section) and writes the user's edits back; the page decides when. The progress card shows how
far a run is and, at the end, its headline result.
"""

from __future__ import annotations

import html
import os
import shlex
from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge.types import TrainOutcome
from ftstudio.formatting import format_duration
from ftstudio.spec import ExperimentSpec, Optimizer, Schedule
from ftstudio.ui.choices import spec_values
from ftstudio.ui.pages.train_checks import RecipeOffer
from ftstudio.ui.widgets.common import Card, ElidedLabel, SciSpinBox
from ftstudio.ui.widgets.train_charts import reserve_lines

__all__ = ["OPTIMIZERS", "SCHEDULES", "TrainProgressCard", "TrainSettingsForm",
           "ask_extra_epochs", "pretty_metric", "reproduce_command", "run_name"]

OPTIMIZERS = spec_values(Optimizer, first=("adamw", "adam", "sgd", "rmsprop"))
"""The optimizers offered, the usual ones first."""
SCHEDULES = spec_values(Schedule)
CLASS_WEIGHTS = ("none", "balanced")
"""What the class-weight box offers (a per-class map is for spec files)."""
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
"""Suggestions of the (editable) early-stopping monitor box."""

HEADLINE_METRICS = ("test.accuracy", "test.macro_f1", "test.r2", "test.mae", "val.accuracy",
                    "test.loss")
"""The metric a finished run is summed up by: the first of these it has."""


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


def phase_epochs(info: dict[str, Any]) -> str:
    """How many epochs a training phase runs, in words ("1 epoch", "epochs 2–4 of 4").

    ``info`` is what the engine's ``train_begin`` reports: ``phase_epochs`` (the phase's own
    count) when it gives one, else the phase's first step and the run's epochs.
    """
    epochs = int(info.get("epochs", 0) or 0)
    own = info.get("phase_epochs")
    if own is not None:
        n = int(own)
        return f"{n} epoch{'s' if n != 1 else ''}"
    spe = max(1, int(info.get("steps_per_epoch", 1) or 1))
    first = int(info.get("initial_step", 0) or 0) // spe
    if first and epochs:
        return f"epochs {first + 1}–{epochs} of {epochs}"
    return f"{epochs} epoch{'s' if epochs != 1 else ''}"


def reproduce_command(run_dir: str) -> str:
    """The command line that trains a run again from its ``spec.json`` (quoted for a shell)."""
    spec = str(Path(run_dir) / "spec.json")
    quoted = f'"{spec}"' if os.name == "nt" else shlex.quote(spec)
    return f"ftstudio train {quoted}"


def run_name(run_dir: str) -> str:
    """The run folder's own name (the last part of its path, on any platform)."""
    return run_dir.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def ask_extra_epochs(parent: QWidget) -> int | None:
    """Ask how many epochs to add to a finished run (``None``: cancelled)."""
    epochs, ok = QInputDialog.getInt(
        parent, "Extend the run", "Epochs to add (training continues from the last epoch's "
        "weights and optimizer state, in the same run folder):", 2, 1, 10000)
    return epochs if ok else None


def _form_card(title: str, rows: list[tuple[str, QWidget]]) -> tuple[Card, QFormLayout]:
    """A titled card holding a form of ``(label, widget)`` rows."""
    card = Card(title)
    form = QFormLayout()
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
    form.setHorizontalSpacing(10)
    form.setVerticalSpacing(6)
    for label, widget in rows:
        form.addRow(label, widget)
    card.body.addLayout(form)
    return card, form


class TrainSettingsForm(QScrollArea):
    """The training settings, in a scroll area.

    Signals:
        edited(): the user changed a setting (not emitted while :meth:`load` fills the form).
    """

    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._loading = False
        self._build_optimisation_widgets()
        self._build_other_widgets()
        self.recommend_btn = QPushButton("Use recommended settings")
        self.recommend_btn.setToolTip("Settings that usually work for this kind of data and "
                                      "freezing")
        self.lr_hint = QLabel("")
        self.lr_hint.setObjectName("hint")
        self.lr_hint.setWordWrap(True)
        self.offer = RecipeOffer()
        self.offer.setObjectName("recipeOffer")
        self._build_layout()
        self._connect_edits()

    # ================================================================ layout
    def _build_optimisation_widgets(self) -> None:
        self.run_name = QLineEdit()
        self.run_name.setObjectName("runName")
        self.run_name.setToolTip("The run's name (its folder is named after it). It follows the "
                                 "data and the backbone until you type your own.")
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

    def _build_other_widgets(self) -> None:
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
        self.monitor.addItems(MONITORS)
        self.class_weight = QComboBox()
        self.class_weight.addItems(CLASS_WEIGHTS)
        self.clip = QDoubleSpinBox()
        self.clip.setRange(0.0, 1000.0)
        self.clip.setSingleStep(0.5)
        self.clip.setSpecialValueText("off")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)

    def _build_layout(self) -> None:
        name_card, _ = _form_card("Run", [("Name", self.run_name)])
        opt_card, self.opt_form = _form_card("Optimisation", [
            ("Epochs", self.epochs), ("Batch size", self.batch_size),
            ("Optimizer", self.optimizer), ("Learning rate", self.learning_rate),
            ("Weight decay", self.weight_decay), ("Momentum", self.momentum),
            ("LR schedule", self.schedule), ("Warm-up", self.warmup),
            ("Decay factor", self.decay_rate), ("Decay every", self.step_epochs)])
        opt_card.body.addWidget(self.lr_hint)
        recipe_card, _ = _form_card("Fine-tuning recipe", [
            ("Head-only epochs", self.head_first), ("Then LR ×", self.unfreeze_factor)])
        stop_card, _ = _form_card("Stopping & balance", [
            ("Early stopping", self.patience), ("Monitor", self.monitor),
            ("Class weights", self.class_weight), ("Clip gradients", self.clip),
            ("Seed", self.seed)])
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(0, 0, 4, 0)
        lay.setSpacing(10)
        lay.addWidget(self.offer)
        lay.addWidget(self.recommend_btn)
        lay.addWidget(name_card)
        lay.addWidget(opt_card)
        lay.addWidget(recipe_card)
        lay.addWidget(stop_card)
        lay.addStretch(1)
        self.setWidgetResizable(True)
        self.setWidget(body)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setMinimumWidth(320)  # the form and the vertical scroll bar, never sideways
        self.setMaximumWidth(390)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def _connect_edits(self) -> None:
        for spin in (self.epochs, self.batch_size, self.warmup, self.step_epochs,
                     self.head_first, self.patience, self.seed):
            spin.valueChanged.connect(self._on_edited)
        for real in (self.learning_rate, self.weight_decay, self.momentum, self.decay_rate,
                     self.unfreeze_factor, self.clip):
            real.valueChanged.connect(self._on_edited)
        for combo in (self.optimizer, self.schedule, self.class_weight, self.monitor):
            combo.currentTextChanged.connect(self._on_edited)
        self.run_name.editingFinished.connect(self._on_edited)

    @Slot()
    def _on_edited(self) -> None:
        if not self._loading:
            self.edited.emit()

    # ============================================================ spec I/O
    def load(self, spec: ExperimentSpec) -> None:
        """Show the spec's training settings (without emitting :attr:`edited`)."""
        t = spec.training
        f = spec.freeze
        self._loading = True
        try:
            self.run_name.setText(spec.name)
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
            self._loading = False
        self.update_visibility(spec)

    def store(self, spec: ExperimentSpec) -> None:
        """Write the form into the spec's training section (and the two-phase recipe)."""
        t = spec.training
        f = spec.freeze
        spec.name = self.run_name.text().strip() or spec.name
        t.epochs = self.epochs.value()
        t.batch_size = self.batch_size.value()
        t.optimizer = cast(Optimizer, self.optimizer.currentText())  # the combo lists Optimizer
        t.learning_rate = float(self.learning_rate.value())
        t.weight_decay = float(self.weight_decay.value())
        t.momentum = float(self.momentum.value())
        t.schedule = cast(Schedule, self.schedule.currentText())  # the combo lists Schedule
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

    def update_visibility(self, spec: ExperimentSpec) -> None:
        """Show the rows that matter for the chosen optimizer, schedule and backbone."""
        opt = self.optimizer.currentText()
        sched = self.schedule.currentText()
        self.opt_form.setRowVisible(self.weight_decay, opt == "adamw")
        self.opt_form.setRowVisible(self.momentum, opt == "sgd")
        self.opt_form.setRowVisible(self.decay_rate, sched in ("exponential", "step"))
        self.opt_form.setRowVisible(self.step_epochs, sched == "step")
        has_backbone = spec.backbone.source != "none"
        self.head_first.setEnabled(has_backbone)
        self.unfreeze_factor.setEnabled(has_backbone and self.head_first.value() > 0)
        self._update_hint(spec)

    def _update_hint(self, spec: ExperimentSpec) -> None:
        lr = spec.training.learning_rate
        frozen = spec.freeze.mode == "all"
        # with head-only epochs first, the backbone learns at the rate times the factor
        backbone_lr = lr * spec.freeze.unfreeze_lr_factor if spec.freeze.head_first_epochs \
            else lr
        hint = ""
        if (spec.backbone.source == "none" or frozen) and lr < 1e-4:
            hint = ("Only the head learns here: a learning rate around 1e-3 trains much faster "
                    "than this.")
        elif spec.modality == "text" and not frozen and backbone_lr > 2e-4:
            hint = ("Fine-tuning a transformer end to end usually needs a small learning rate "
                    "(2e-5 to 1e-4); this one may wreck the pretrained weights.")
        self.lr_hint.setText(hint)
        self.lr_hint.setVisible(bool(hint))


class TrainProgressCard(Card):
    """The progress bar, a line of text under it, and the result banner of a finished run."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent=parent)
        self.progress = QProgressBar()
        self.progress.setObjectName("trainProgress")
        self.progress.setTextVisible(True)
        self.label = QLabel("Press Start to train.")
        self.label.setObjectName("progressLabel")
        self.label.setWordWrap(True)
        reserve_lines(self.label, 2)  # a stage text that wraps must not resize the charts
        self.blocker = QLabel("")
        self.blocker.setObjectName("startBlocker")
        self.blocker.setWordWrap(True)
        self.blocker.hide()
        self.metric_combo = QComboBox()
        self.metric_combo.setMinimumWidth(140)
        self.metric_combo.setToolTip("The metric of the lower-left chart")
        row = QHBoxLayout()
        row.addWidget(self.progress, 1)
        row.addSpacing(8)
        row.addWidget(QLabel("Metric"))
        row.addWidget(self.metric_combo)
        self.result_label = QLabel("")
        self.result_label.setObjectName("resultBanner")
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.setTextFormat(Qt.TextFormat.RichText)
        self.view_eval_btn = QPushButton("View evaluation →")
        self.view_eval_btn.setProperty("primary", True)
        self.copy_cmd_btn = QPushButton("Copy command")
        self.copy_cmd_btn.setToolTip("Copy the command that trains this run again")
        self.copy_cmd_btn.clicked.connect(self.copy_command)
        self.extend_btn = QPushButton("Extend…")
        self.extend_btn.setObjectName("extendButton")
        self.extend_btn.setToolTip("Train this run more epochs, continuing from its last epoch "
                                   "(weights and optimizer state) in the same run folder")
        self.command = ""
        # long words (the run folder, the command) are elided, never widen the page
        self.run_label = ElidedLabel("")
        self.run_label.setObjectName("muted")
        self.command_label = ElidedLabel("")
        self.command_label.setObjectName("commandLine")
        result_row = QHBoxLayout()
        result_row.addWidget(self.result_label, 1)
        result_row.addWidget(self.copy_cmd_btn)
        result_row.addWidget(self.extend_btn)
        result_row.addWidget(self.view_eval_btn)
        result_lay = QVBoxLayout()
        result_lay.setContentsMargins(10, 6, 10, 6)
        result_lay.setSpacing(2)
        result_lay.addLayout(result_row)
        result_lay.addWidget(self.run_label)
        result_lay.addWidget(self.command_label)
        self.result_box = QWidget()
        self.result_box.setObjectName("resultBox")
        self.result_box.setLayout(result_lay)
        self.result_box.hide()
        self.body.addWidget(self.blocker)
        self.body.addLayout(row)
        self.body.addWidget(self.label)
        self.body.addWidget(self.result_box)
        self.show_state("Not started", 0)

    def show_stage(self, text: str) -> None:
        """Show a busy bar and, under it, what the run is doing now ("Loading backbone…")."""
        self.result_box.hide()
        self.progress.setRange(0, 0)
        self.progress.setFormat("Preparing…")
        self.label.setText(text)

    def show_blocker(self, reason: str | None) -> None:
        """Say why Start is off (``None``: it is on)."""
        self.blocker.setText(f"Start is off: {reason}" if reason else "")
        self.blocker.setVisible(bool(reason))

    @Slot()
    def copy_command(self) -> None:
        """Copy the command that reproduces the last run to the clipboard."""
        if self.command:
            QGuiApplication.clipboard().setText(self.command)

    def show_state(self, state: str, value: int, text: str | None = None) -> None:
        """Show a still bar: ``value`` 0 (empty) or 1 (full) with ``state`` on it."""
        self.progress.setRange(0, 1)
        self.progress.setValue(value)
        self.progress.setFormat(state)
        if text is not None:
            self.label.setText(text)

    def show_busy(self, state: str, text: str) -> None:
        """Show a busy bar (no known end) with ``state`` on it."""
        reserve_lines(self.label, 2)  # a new run: the label may shrink back to two lines
        self.result_box.hide()
        self.progress.setRange(0, 0)
        self.progress.setFormat(state)
        self.label.setText(text)

    def show_count(self, done: float, total: float) -> None:
        """Show ``done`` of ``total`` (preparing the data: rows read, images decoded…)."""
        self.progress.setRange(0, 1000)
        self.progress.setValue(int(1000 * done / total))
        self.progress.setFormat(f"{int(done):,} / {int(total):,}  (%p %)")

    def start_steps(self, total: int, initial: int) -> None:
        """A training phase began: the bar counts ``total`` steps from ``initial``."""
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(initial)
        self.progress.setFormat("%p %")

    def show_step(self, step: int, total: int) -> None:
        """Show training step ``step`` of ``total`` as a percentage."""
        self.progress.setValue(min(step, total))
        self.progress.setFormat(f"{100 * step / max(1, total):.0f} %")

    def show_outcome(self, outcome: TrainOutcome) -> tuple[str, str]:
        """Show a finished (or stopped) run's headline result in the banner.

        Returns:
            ``(how, headline)``: "Finished" or "Stopped early", and the headline metric.
        """
        m = outcome.metrics
        key = next((k for k in HEADLINE_METRICS if k in m), next(iter(m), None))
        headline = f"{key} {m[key]:.4f}" if key else "no test metrics"
        how = "Stopped early" if outcome.stopped_by_user else "Finished"
        self.command = reproduce_command(outcome.run_dir)
        self.result_label.setText(
            f"<b>{how}</b> in {format_duration(outcome.seconds)} — "
            f"{html.escape(pretty_metric(headline))}.")
        self.run_label.set_full_text(f"Run {run_name(outcome.run_dir)}")
        # the real command, elided to the width there is (whole in its tooltip and the copy)
        self.command_label.set_full_text(f"To train it again: {self.command}")
        self.result_box.show()
        self.show_state(how, 1, f"{how}. Best epoch: {outcome.best_epoch or '—'}.")
        return how, headline
