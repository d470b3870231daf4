"""Pretrain page: learn a backbone from unlabelled data with an autoencoder.

The form edits a :class:`~ftstudio.spec.PretrainSpec`; Start runs it as a job
(:func:`ftstudio.bridge.engine_calls.pretrain`) whose engine runs in the job child process, so
the window stays responsive. The reconstruction loss is drawn live (curves created once,
redrawn on a timer), and for images a strip of originals (top) over reconstructions (bottom)
refreshes after every epoch. The encoder lands in the model library under the chosen name.
The page never imports the engine.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge import engine_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner
from ftstudio.bridge.qt_reporter import QtReporter
from ftstudio.bridge.types import PretrainOutcome
from ftstudio.errors import FtStudioError
from ftstudio.spec import DataSpec, PretrainSpec
from ftstudio.ui.pages.pretrain_parts import LossChart, float_spin, int_spin
from ftstudio.ui.widgets.common import PageHeader, SciSpinBox

__all__ = ["PretrainPage"]

_PRETRAIN = "pretrain"
"""The kind of this page's job."""


def _parse_ints(text: str) -> list[int]:
    parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
    try:
        return [int(p) for p in parts]
    except ValueError as exc:
        raise FtStudioError(f"encoder sizes must be whole numbers separated by commas, "
                            f"got '{text}'") from exc


class PretrainPage(QWidget):
    """Autoencoder pretraining: unlabelled data in, a library backbone out.

    Args:
        runner: the window's job runner.
        parent: the Qt parent.

    Signals:
        pretrainFinished(object): the :class:`~ftstudio.bridge.types.PretrainOutcome` once
            the encoder is in the library (the library page refreshes on it).
        runningChanged(bool): training started / ended.
    """

    pretrainFinished = Signal(object)  # noqa: N815
    runningChanged = Signal(bool)  # noqa: N815

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = CurrentJobs(runner, self)
        self.reporter = QtReporter(parent=self)
        self._steps_per_epoch = 1
        self._last_error = ""
        self._last_result: PretrainOutcome | None = None
        self._spec_path: Path | None = None
        self._base = PretrainSpec()
        """The last spec set: keeps the keys the form does not show (name, encoding…)."""
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self._redraw)
        self._connect()
        self._kind_changed()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.header = PageHeader(
            "Pretrain a backbone",
            "Train an autoencoder on rows without labels (a numeric CSV or a folder of images); "
            "its encoder is saved to the model library, ready to fine-tune with few labels.")
        self._build_actions()
        left = QVBoxLayout()
        left.addWidget(self._build_data_box())
        left.addWidget(self._build_model_box())
        left.addWidget(self._build_train_box())
        left.addStretch(1)
        body = QHBoxLayout()
        body.addLayout(left, 2)
        body.addLayout(self._build_live_view(), 3)
        lay = QVBoxLayout(self)
        lay.addWidget(self.header)
        lay.addLayout(body, 1)

    def _build_data_box(self) -> QGroupBox:
        data_box = QGroupBox("Unlabelled data")
        data_form = self.data_form = QFormLayout(data_box)
        self.source_kind = QComboBox()
        self.source_kind.addItem("Images (folder)", "image")
        self.source_kind.addItem("Numeric CSV", "tabular")
        data_form.addRow("Kind:", self.source_kind)
        path_row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("image folder (flat or with sub-folders) or CSV file")
        self.browse_button = QPushButton("Browse…")
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(self.browse_button)
        data_form.addRow("Path:", path_row)
        self.columns_edit = QLineEdit()
        self.columns_edit.setPlaceholderText("all numeric columns")
        data_form.addRow("Feature columns:", self.columns_edit)
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("(none) — a label column to leave out")
        data_form.addRow("Ignore column:", self.label_edit)
        size_row = QHBoxLayout()
        self.height_spin = int_spin(4, 1024, 32)
        self.width_spin = int_spin(4, 1024, 32)
        self.channels_combo = QComboBox()
        self.channels_combo.addItem("RGB", 3)
        self.channels_combo.addItem("Gray", 1)
        size_row.addWidget(self.height_spin)
        size_row.addWidget(QLabel("×"))
        size_row.addWidget(self.width_spin)
        size_row.addWidget(self.channels_combo)
        data_form.addRow("Image size:", size_row)
        self._size_row = size_row
        return data_box

    def _build_model_box(self) -> QGroupBox:
        model_box = QGroupBox("Autoencoder")
        model_form = QFormLayout(model_box)
        self.kind_combo = QComboBox()
        for text, value in (("Automatic", "auto"), ("Dense (numeric)", "dense"),
                            ("Convolutional (images)", "conv")):
            self.kind_combo.addItem(text, value)
        model_form.addRow("Kind:", self.kind_combo)
        self.units_edit = QLineEdit("64, 32")
        self.units_edit.setToolTip("Dense: units per encoder layer. Conv: filters per block "
                                   "(each block halves the image size)")
        model_form.addRow("Encoder sizes:", self.units_edit)
        self.latent_spin = int_spin(0, 4096, 16)
        self.latent_spin.setToolTip("Dense: code size. Conv: 1x1 bottleneck channels (0 = none)")
        model_form.addRow("Latent size:", self.latent_spin)
        noise_row = QHBoxLayout()
        self.noise_spin = float_spin(0.0, 5.0, 0.0, 0.05, decimals=3)
        self.noise_type = QComboBox()
        self.noise_type.addItem("Gaussian noise (std)", "gaussian")
        self.noise_type.addItem("Masking (drop fraction)", "dropout")
        noise_row.addWidget(self.noise_spin)
        noise_row.addWidget(self.noise_type, 1)
        model_form.addRow("Denoising:", noise_row)
        return model_box

    def _build_train_box(self) -> QGroupBox:
        train_box = QGroupBox("Training")
        self.epochs_spin = int_spin(1, 10000, 20)
        self.batch_spin = int_spin(1, 65536, 32)
        self.lr_spin = SciSpinBox(1e-6, 1.0)
        self.lr_spin.setValue(1e-3)
        self.val_spin = float_spin(0.0, 0.5, 0.1, 0.05)
        self.val_spin.setToolTip("The share of the rows held out to watch the validation loss")
        self.seed_spin = int_spin(0, 2**31 - 1, 42)
        self.name_edit = QLineEdit("my-encoder")
        self.replace_check = QCheckBox("Replace an existing model of that name")
        form = QFormLayout(train_box)
        for text, field in (("Epochs:", self.epochs_spin), ("Batch size:", self.batch_spin),
                            ("Learning rate:", self.lr_spin), ("Validation:", self.val_spin),
                            ("Seed:", self.seed_spin), ("Save encoder as:", self.name_edit)):
            form.addRow(text, field)
        form.addRow("", self.replace_check)
        return train_box

    def _build_actions(self) -> None:
        # actions sit in the page header, top right (the house style of the Train page)
        self.load_button = QPushButton("Open spec…")
        self.save_button = QPushButton("Save spec…")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setEnabled(False)
        self.start_button = QPushButton("Start pretraining")
        self.start_button.setObjectName("pretrainStartButton")
        self.start_button.setProperty("primary", True)
        for b in (self.load_button, self.save_button, self.stop_button, self.start_button):
            self.header.action_row.addWidget(b)

    def _build_live_view(self) -> QVBoxLayout:
        self.chart = LossChart()
        self.plot = self.chart.plot
        self.preview_title = QLabel("Originals (top) and reconstructions (bottom)")
        self.preview_label = QLabel("The image strip appears after the first epoch "
                                    "(image data only).")
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_label.setWordWrap(True)
        self.preview_label.setMinimumHeight(120)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        right = QVBoxLayout()
        right.addWidget(self.plot, 2)
        right.addWidget(self.preview_title)
        right.addWidget(self.preview_label, 1)
        right.addWidget(self.progress)
        right.addWidget(self.status_label)
        return right

    def _connect(self) -> None:
        self.source_kind.currentIndexChanged.connect(self._kind_changed)
        self.browse_button.clicked.connect(self._browse)
        self.start_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.load_button.clicked.connect(self._open_spec)
        self.save_button.clicked.connect(self._save_spec)
        self.reporter.statusChanged.connect(self._on_status)
        self.reporter.warningRaised.connect(self._on_warning)
        self.reporter.progressed.connect(self._on_progress)
        self.reporter.trainBegan.connect(self._on_train_begin)
        self.reporter.batchesArrived.connect(self._on_batches)
        self.reporter.epochEnded.connect(self._on_epoch_end)
        self.reporter.previewReady.connect(self._on_preview)

    # ------------------------------------------------------------------ spec <-> form
    def spec(self) -> PretrainSpec:
        """Return the form as a validated spec.

        Raises:
            FtStudioError: a field is invalid (the message names it).
        """
        image = self.source_kind.currentData() == "image"
        path = self.path_edit.text().strip()
        if not path:
            raise FtStudioError("choose the unlabelled data: an image folder or a numeric CSV")
        columns = [c.strip() for c in self.columns_edit.text().split(",") if c.strip()]
        base = self._base.data
        data = DataSpec(image_dir=path) if image else DataSpec(
            path=path, feature_columns=columns or None,
            label_column=self.label_edit.text().strip() or None, encoding=base.encoding,
            delimiter=base.delimiter)
        spec = PretrainSpec(
            name=self._base.name, description=self._base.description, data=data,
            kind=self.kind_combo.currentData(), encoder_units=_parse_ints(self.units_edit.text()),
            latent_dim=self.latent_spin.value(), noise=self.noise_spin.value(),
            noise_type=self.noise_type.currentData(),
            image_size=[self.height_spin.value(), self.width_spin.value()],
            channels=int(self.channels_combo.currentData()), epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(), learning_rate=self.lr_spin.value(),
            val_fraction=self.val_spin.value(), seed=self.seed_spin.value(),
            save_as=self.name_edit.text().strip())
        spec.validate()
        return spec

    def set_spec(self, spec: PretrainSpec) -> None:
        """Fill the form from a spec."""
        self._base = spec
        image = bool(spec.data.image_dir)
        self.source_kind.setCurrentIndex(0 if image else 1)
        self.path_edit.setText(spec.data.image_dir or spec.data.path or "")
        self.columns_edit.setText(", ".join(spec.data.feature_columns or []))
        self.label_edit.setText(spec.data.label_column or "")
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(spec.kind)))
        self.units_edit.setText(", ".join(str(u) for u in spec.encoder_units))
        self.latent_spin.setValue(spec.latent_dim)
        self.noise_spin.setValue(spec.noise)
        self.noise_type.setCurrentIndex(max(0, self.noise_type.findData(spec.noise_type)))
        self.height_spin.setValue(spec.image_size[0])
        self.width_spin.setValue(spec.image_size[1])
        self.channels_combo.setCurrentIndex(max(0, self.channels_combo.findData(spec.channels)))
        self.epochs_spin.setValue(spec.epochs)
        self.batch_spin.setValue(spec.batch_size)
        self.lr_spin.setValue(spec.learning_rate)
        self.val_spin.setValue(spec.val_fraction)
        self.seed_spin.setValue(spec.seed)
        self.name_edit.setText(spec.save_as)
        self._kind_changed()

    @Slot()
    def _kind_changed(self) -> None:
        image = self.source_kind.currentData() == "image"
        # only the rows of the chosen kind of data show (a shorter form fits small screens)
        self.data_form.setRowVisible(self._size_row, image)
        for w in (self.columns_edit, self.label_edit):
            self.data_form.setRowVisible(w, not image)

    @Slot()
    def _browse(self) -> None:
        if self.source_kind.currentData() == "image":
            path = QFileDialog.getExistingDirectory(self, "Folder of unlabelled images")
        else:
            path, _ = QFileDialog.getOpenFileName(self, "Numeric CSV", "",
                                                  "CSV files (*.csv *.tsv *.txt);;All (*)")
        if path:
            self.path_edit.setText(path)

    @Slot()
    def _open_spec(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a pretraining spec", "",
                                              "JSON (*.json)")
        if path:
            self.load_spec_file(path)

    def load_spec_file(self, path: str | Path) -> bool:
        """Load a spec file into the form; False (and a message) when it is invalid."""
        try:
            self.set_spec(PretrainSpec.load(path))
        except FtStudioError as exc:
            self._set_status(f"Error: {exc}")
            return False
        self._spec_path = Path(path)
        self._set_status(f"Loaded {Path(path).name}")
        return True

    @Slot()
    def _save_spec(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the pretraining spec",
                                              "pretrain.json", "JSON (*.json)")
        if path:
            try:
                self.spec().save(path)
            except FtStudioError as exc:
                self._set_status(f"Error: {exc}")
                return
            self._set_status(f"Saved {Path(path).name}")

    # ------------------------------------------------------------------ running
    def is_running(self) -> bool:
        """Return True while pretraining runs."""
        return self.jobs.is_running(_PRETRAIN)

    @property
    def last_error(self) -> str:
        """The message of the last failure ("" after a success)."""
        return self._last_error

    @property
    def last_result(self) -> PretrainOutcome | None:
        """The last finished result (``entry_name``, ``history``, ``preview_path`` …)."""
        return self._last_result

    def curve_data(self) -> dict[str, tuple[list[float], list[float]]]:
        """Return the points drawn so far: ``batches``, ``train`` and ``val`` (x, y) lists."""
        return self.chart.curve_data()

    @Slot()
    def start(self) -> bool:
        """Validate the form and start pretraining; False (with a message) when invalid."""
        if self.is_running():
            return False
        try:
            spec = self.spec()
        except FtStudioError as exc:
            self._last_error = str(exc)
            self._set_status(f"Error: {exc}")
            return False
        self._last_error = ""
        self.status_label.setToolTip("")
        self._clear_chart()
        self.reporter.reset()
        job = Job(engine_calls.pretrain, spec, self.reporter, self.replace_check.isChecked(),
                  title="Pretraining failed")
        job.add_stop_hook(self.reporter.request_stop)
        self.jobs.start_job(_PRETRAIN, job, on_result=self._on_finished,
                            on_error=self._on_failed, on_finished=self._on_job_done)
        self._set_running(True)
        self._timer.start()
        self._set_status(f"Starting: {spec.resolved_kind} autoencoder → library model "
                         f"'{spec.save_as}'…")
        return True

    @Slot()
    def stop(self) -> None:
        """Ask the running pretraining to stop after the current batch (the encoder is saved)."""
        job = self.jobs.job(_PRETRAIN)
        if job is not None:
            job.request_stop()
            self._set_status("Stopping after this batch…")

    def shutdown(self) -> None:
        """Stop the pretraining and drop its result (call before closing).

        The job runner joins its thread (``JobRunner.wait_all``).
        """
        self._timer.stop()
        self.jobs.cancel()

    def closeEvent(self, event: Any) -> None:  # noqa: D102, N802
        self.shutdown()
        super().closeEvent(event)

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        for w in (self.load_button, self.save_button):
            w.setEnabled(not running)
        self.runningChanged.emit(running)

    def _set_status(self, text: str) -> None:
        self.status_label.setText(text)

    def _clear_chart(self) -> None:
        self.chart.clear()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)

    @Slot()
    def _redraw(self) -> None:
        self.chart.redraw()

    @Slot(str)
    def _on_status(self, text: str) -> None:
        self._set_status(text)

    @Slot(str)
    def _on_warning(self, text: str) -> None:
        self._set_status(f"⚠ {text}")

    @Slot(float, object)
    def _on_progress(self, done: float, total: float | None) -> None:
        if total and total > 0 and not self.chart.has_points():
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done / total, 1.0)))

    @Slot(object)
    def _on_train_begin(self, info: dict[str, Any]) -> None:
        self._steps_per_epoch = max(1, int(info.get("steps_per_epoch", 1)))
        total = int(info.get("epochs", 1)) * self._steps_per_epoch
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(0)
        self._set_status(f"Pretraining on {info.get('train_samples')} examples "
                         f"({info.get('val_samples', 0)} held out for validation)…")

    @Slot(object)
    def _on_batches(self, chunk: list[tuple[int, dict[str, float]]]) -> None:
        self.chart.add_batches(chunk, self._steps_per_epoch)
        if chunk:
            self.progress.setValue(min(chunk[-1][0], self.progress.maximum()))

    @Slot(int, object)
    def _on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.chart.add_epoch(epoch, logs)
        self.progress.setValue(min(epoch * self._steps_per_epoch, self.progress.maximum()))
        shown = ", ".join(f"{k} {v:.4g}" for k, v in logs.items() if k in ("loss", "val_loss"))
        self._set_status(f"Epoch {epoch}: {shown}")

    @Slot(str)
    def _on_preview(self, path: str) -> None:
        pixmap = QPixmap(path)
        if pixmap.isNull():
            return
        width = max(self.preview_label.width() - 8, 200)
        if pixmap.width() > width:
            pixmap = pixmap.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation)
        self.preview_label.setPixmap(pixmap)

    def _on_finished(self, result: PretrainOutcome) -> None:
        self._last_result = result
        last = result.history[-1] if result.history else {}
        stopped = " (stopped early)" if result.stopped_by_user else ""
        self._set_status(f"Saved the encoder to the library as '{result.entry_name}'"
                         f"{stopped}: final loss {last.get('loss', math.nan):.4g}. Pick it on "
                         f"the Model page, under “Model library”.")
        if result.preview_path:
            self._on_preview(result.preview_path)
        self.pretrainFinished.emit(result)

    def _on_failed(self, info: ErrorInfo) -> None:
        if info.cancelled:
            self._set_status("Stopped before the first epoch ended; nothing was saved.")
            return
        self._last_error = info.message
        # a bug's message goes on to say that the details help: they are the tooltip
        first, _, _ = info.message.partition("\n\n")
        self._set_status(f"Error: {first}")
        self.status_label.setToolTip(info.details or "")

    def _on_job_done(self) -> None:
        self._timer.stop()
        self.chart.redraw(force=True)
        self._set_running(False)
