"""Export page: write a finished run as .keras, SavedModel, TFLite and ONNX files, each proven.

The user picks a run (the last one trained or opened, another listed run, or any run folder),
ticks the formats and an output folder, and presses Export. The export runs as a job whose
engine call runs in the job child process (:func:`ftstudio.bridge.export_calls.export_run`):
converting and loading every file back in a fresh process takes 5–75 s of TensorFlow work that
must not share the window's interpreter. Stop ends it; nothing half-written is kept. The results
card shows a row per file with its size, export time and parity check, and every failure in red
above the table. The page never imports the engine.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QWidget,
)

from ftstudio.bridge import engine_calls, export_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner
from ftstudio.bridge.qt_reporter import QtReporter
from ftstudio.bridge.types import ExportOutcome, RunRow
from ftstudio.spec import ExportFormat
from ftstudio.ui.choices import spec_values
from ftstudio.ui.pages.export_parts import FORMAT_LABELS, ExportResultsCard
from ftstudio.ui.widgets.common import Card, PageHeader, page_layout

__all__ = ["ExportPage"]

_EXPORT, _LIST = "export", "list"
"""The kinds of this page's jobs."""

FORMAT_HINTS = {
    "keras": "Keras 3 in Python: model.keras (+ the text preprocessor), reloads for more "
             "training",
    "savedmodel": "TensorFlow (Serving, TF.js / TFLite converters): takes raw strings, images "
                  "or features, no Keras code needed",
    "tflite": "Phones and small devices (LiteRT / TFLite interpreter); text takes token ids",
    "onnx": "onnxruntime from Python, C#, C++, Java or JavaScript; text takes token ids",
}
"""What each format is for (the check boxes' tooltips)."""

_EXPORTABLE = ("finished", "stopped")
"""Run states that have a model to export (a stopped run keeps its best weights)."""


class ExportPage(QWidget):
    """Export a run to files other programs load, each checked against the studio.

    Args:
        runner: the window's job runner.
        parent: the Qt parent.

    Signals:
        errorRaised(object): a bug (an :class:`ErrorInfo` with details) for the error dialog.
        statusMessage(str): a line for the status bar.
        runningChanged(bool): an export started / ended.
        exportFinished(object): the :class:`~ftstudio.bridge.types.ExportOutcome`.
    """

    errorRaised = Signal(object)  # noqa: N815
    statusMessage = Signal(str)  # noqa: N815
    runningChanged = Signal(bool)  # noqa: N815
    exportFinished = Signal(object)  # noqa: N815

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("exportPage")
        self.jobs = CurrentJobs(runner, self)
        self.reporter = QtReporter(parent=self)
        self.runs_root: str | None = None
        self._last_error = ""
        self._started = 0.0
        self._build()
        self._connect()
        self._on_run_changed()

    # ================================================================== layout
    def _build(self) -> None:
        self.header = PageHeader(
            "Export",
            "Write a run as files other programs load. Each file is loaded back in a fresh "
            "Python process and must predict what the studio predicts on the test split.")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setEnabled(False)
        self.export_button = QPushButton("Export")
        self.export_button.setObjectName("exportButton")
        self.export_button.setProperty("primary", True)
        self.header.action_row.addWidget(self.stop_button)
        self.header.action_row.addWidget(self.export_button)
        form_card = Card()
        form = QFormLayout()
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(8)
        form.addRow("Run:", self._build_run_row())
        form.addRow("Formats:", self._build_formats_row())
        form.addRow("Output folder:", self._build_output_row())
        form_card.body.addLayout(form)
        form_card.body.addLayout(self._build_progress_row())
        self.results = ExportResultsCard()
        lay = page_layout(self, self.header)
        lay.addWidget(form_card)
        lay.addWidget(self.results)
        lay.addStretch(1)

    def _build_run_row(self) -> QHBoxLayout:
        self.run_combo = QComboBox()
        self.run_combo.setObjectName("exportRun")
        # long run names must not widen the page: the combo takes the room there is
        self.run_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.run_combo.setMinimumContentsLength(24)
        self.run_combo.setPlaceholderText("No finished run yet: train one, or choose a folder")
        self.choose_run_button = QPushButton("Choose folder…")
        self.choose_run_button.setToolTip("Any run folder (it holds spec.json and model.keras)")
        return _with_button(self.run_combo, self.choose_run_button)

    def _build_formats_row(self) -> QHBoxLayout:
        self.format_checks: dict[str, QCheckBox] = {}
        row = QHBoxLayout()
        row.setSpacing(14)
        for fmt in spec_values(ExportFormat):
            box = QCheckBox(FORMAT_LABELS.get(fmt, fmt))
            box.setChecked(True)
            box.setToolTip(FORMAT_HINTS.get(fmt, ""))
            self.format_checks[fmt] = box
            row.addWidget(box)
        self.int8_check = QCheckBox("+ int8 TFLite")
        self.int8_check.setToolTip("Also write a dynamic-range int8 TFLite file (about 4x "
                                   "smaller); its accuracy change is reported, never failed")
        row.addWidget(self.int8_check)
        row.addStretch(1)
        return row

    def _build_output_row(self) -> QHBoxLayout:
        self.out_edit = QLineEdit()
        self.out_edit.setObjectName("exportFolder")
        self.out_edit.setClearButtonEnabled(True)
        self.browse_out_button = QPushButton("Browse…")
        return _with_button(self.out_edit, self.browse_out_button)

    def _build_progress_row(self) -> QHBoxLayout:
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(160)
        self.progress.hide()
        self.status_label = QLabel("")
        self.status_label.setObjectName("muted")
        self.status_label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.progress)
        row.addWidget(self.status_label, 1)
        return row

    def _connect(self) -> None:
        self.export_button.clicked.connect(self.start)
        self.stop_button.clicked.connect(self.stop)
        self.choose_run_button.clicked.connect(self._choose_run)
        self.browse_out_button.clicked.connect(self._choose_out_dir)
        self.run_combo.currentIndexChanged.connect(self._on_run_changed)
        self.format_checks["tflite"].toggled.connect(self._on_run_changed)
        self.results.openFolderRequested.connect(self.open_path)
        self.results.openFileRequested.connect(self.open_path)
        self.reporter.statusChanged.connect(self._on_status)
        self.reporter.warningRaised.connect(self._on_status)
        self.reporter.progressed.connect(self._on_progress)

    # ==================================================================== runs
    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802, D102
        super().showEvent(event)
        if not self.is_running():
            self.refresh_runs()

    @Slot()
    def refresh_runs(self) -> None:
        """List the runs that can be exported (in a worker)."""
        self.jobs.start(_LIST, engine_calls.list_runs, self.runs_root, on_result=self._on_runs,
                        on_error=self.errorRaised.emit, title="Cannot list the runs")

    def _on_runs(self, result: tuple[str, list[RunRow]]) -> None:
        _folder, rows = result
        keep = self.run_path()
        listed = {Path(r.path) for r in rows}
        extra = [self.run_combo.itemData(i) for i in range(self.run_combo.count())
                 if Path(self.run_combo.itemData(i)) not in listed]
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for path in extra:  # folders chosen by hand stay on top
            self.run_combo.addItem(_folder_label(path), path)
        for row in rows:
            if row.status in _EXPORTABLE:
                self.run_combo.addItem(_run_label(row), row.path)
        self.run_combo.blockSignals(False)
        self._select(keep)

    def set_run(self, path: str) -> None:
        """Make ``path`` the run to export (the window calls this for the last run)."""
        self._select(str(path))

    def _select(self, path: str | None) -> None:
        index = self._index_of(path) if path else -1
        if path and index < 0:
            self.run_combo.insertItem(0, _folder_label(path), path)
            index = 0
        self.run_combo.setCurrentIndex(index if index >= 0 else min(0, self.run_combo.count() - 1))
        self._on_run_changed()

    def _index_of(self, path: str) -> int:
        for i in range(self.run_combo.count()):
            data = self.run_combo.itemData(i)
            if data and Path(data) == Path(path):
                return i
        return -1

    def run_path(self) -> str | None:
        """The run folder to export (None when there is none)."""
        data = self.run_combo.currentData()
        return str(data) if data else None

    @Slot()
    def _choose_run(self) -> None:
        start = self.run_path() or self.runs_root or ""
        path = QFileDialog.getExistingDirectory(self, "A run folder to export", start)
        if path:
            self.set_run(path)

    @Slot()
    def _choose_out_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Where the exported folders go",
                                                self.out_edit.text() or self.run_path() or "")
        if path:
            self.out_edit.setText(path)

    @Slot()
    def _on_run_changed(self) -> None:
        run = self.run_path()
        default = export_calls.default_export_dir(run) if run else "<run>/export"
        self.out_edit.setPlaceholderText(f"default: {default}")
        self.int8_check.setEnabled(self.format_checks["tflite"].isChecked())
        self._update_buttons()

    # ================================================================= running
    def formats(self) -> list[str]:
        """The ticked formats, in the spec's order."""
        return [fmt for fmt, box in self.format_checks.items() if box.isChecked()]

    def is_running(self) -> bool:
        """True while an export runs."""
        return self.jobs.is_running(_EXPORT)

    @property
    def last_error(self) -> str:
        """The message of the last failed export ("" after one that ran)."""
        return self._last_error

    @Slot()
    def start(self) -> bool:
        """Export the chosen run to the ticked formats; False (and why) when it cannot start."""
        run, formats = self.run_path(), self.formats()
        if self.is_running():
            return False
        if not run or not formats:
            self._set_status("Choose a run and at least one format.", error=True)
            return False
        self._last_error = ""
        self.reporter.reset()
        quantize = self.int8_check.isEnabled() and self.int8_check.isChecked()
        job = Job(export_calls.export_run, run, formats, self.out_edit.text().strip() or None,
                  quantize, reporter=self.reporter, title="Export failed")
        job.add_stop_hook(self.reporter.request_stop)
        self.jobs.start_job(_EXPORT, job, on_result=self._on_finished, on_error=self._on_failed,
                            on_finished=self._on_job_done)
        self._started = time.monotonic()
        self.results.clear()
        self.progress.setRange(0, 0)  # busy until the first progress report
        self._set_running(True)
        self._set_status(f"Exporting {Path(run).name} to {', '.join(formats)}…")
        return True

    @Slot()
    def stop(self) -> None:
        """Stop the export; nothing of it is kept."""
        job = self.jobs.job(_EXPORT)
        if job is not None:
            job.request_stop()
            self._set_status("Stopping…")

    def shutdown(self) -> None:
        """Stop the export and drop its result (before the window closes)."""
        self.jobs.cancel()

    def _set_running(self, running: bool) -> None:
        for w in (self.run_combo, self.choose_run_button, self.out_edit, self.browse_out_button,
                  *self.format_checks.values()):
            w.setEnabled(not running)
        self.int8_check.setEnabled(not running and self.format_checks["tflite"].isChecked())
        self.stop_button.setEnabled(running)
        self.progress.setVisible(running)
        self._update_buttons()
        self.runningChanged.emit(running)

    def _update_buttons(self) -> None:
        self.export_button.setEnabled(not self.is_running() and bool(self.run_path()))

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet("color: #c5221f; font-weight: 600;" if error else "")

    @Slot(str)
    def _on_status(self, text: str) -> None:
        if self.is_running():
            self._set_status(text)

    @Slot(float, object)
    def _on_progress(self, done: float, total: float | None) -> None:
        if total and total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done / total, 1.0)))

    def _on_finished(self, outcome: ExportOutcome) -> None:
        self.results.show_outcome(outcome)
        passed = sum(r.ok for r in outcome.rows)
        done = (f"Finished in {outcome.seconds:.0f} s: {passed} of {len(outcome.rows)} files "
                f"passed, in {outcome.out_dir}")
        self._set_status(done)
        self.statusMessage.emit(f"Export: {passed} of {len(outcome.rows)} files passed")
        self.exportFinished.emit(outcome)

    def _on_failed(self, info: ErrorInfo) -> None:
        if info.cancelled:
            self.results.show_outcome(None)
            self._set_status("Stopped; nothing of this export was kept.")
            return
        self._last_error = info.message
        first, _, _ = info.message.partition("\n\n")
        self.results.show_failure(first)
        self._set_status(f"Export failed: {first}", error=True)
        if not info.user_error:  # a bug: the dialog carries the details
            self.errorRaised.emit(info)

    def _on_job_done(self) -> None:
        self.progress.setRange(0, 1)
        self._set_running(False)

    @Slot(str)
    def open_path(self, path: str) -> None:
        """Show a folder (or open a file) with the desktop's default program."""
        QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def _with_button(field: QWidget, button: QPushButton) -> QHBoxLayout:
    """A field that takes the width there is, with its button on the right."""
    row = QHBoxLayout()
    row.setSpacing(8)
    row.addWidget(field, 1)
    row.addWidget(button)
    return row


def _run_label(row: RunRow) -> str:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(row.created))
    state = "" if row.status == "finished" else f", {row.status}"
    return f"{row.name} · {row.model} · {when}{state}  ({Path(row.path).name})"


def _folder_label(path: str) -> str:
    p = Path(path)
    return f"{p.name}  ({p.parent})"

