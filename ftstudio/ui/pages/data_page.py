"""Data page: open a CSV or an image folder, preview it, pick columns, see the labels.

Opening (dialog or drag-and-drop) previews the first rows through the engine's
``preview_table`` in a worker; choosing columns writes the spec's ``data`` section and then
loads the data exactly as training will (``load_data``, debounced, in a worker) to show the
class distribution, the split sizes and every engine warning in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge import engine_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo, JobRunner
from ftstudio.bridge.types import DataCheck, DataPreview
from ftstudio.spec import OutputSpec, Task
from ftstudio.ui.choices import fitting_activation
from ftstudio.ui.pages.data_loop_panel import DataLoopPanel
from ftstudio.ui.pages.data_parts import (
    CSV_SUFFIXES,
    IMAGE_LABEL,
    ColumnsCard,
    LabelsCard,
    PreviewCard,
    droppable_path,
    guess_task,
)
from ftstudio.ui.project import Project
from ftstudio.ui.widgets.common import (
    PageHeader,
    WarningList,
    debounce_timer,
    page_layout,
    side_by_side,
)

__all__ = ["CSV_SUFFIXES", "DataPage", "droppable_path"]

PREVIEW_ROWS = 1000


class DataPage(QWidget):
    """Step 1: the data.

    Signals:
        errorRaised(object): an unexpected failure (:class:`ErrorInfo`) for the window's dialog.
        statusMessage(str): a short line for the status bar.
        checked(object): the latest :class:`DataCheck` (or ``None`` when the data is unusable).
        previewed(object): a new :class:`DataPreview` (its columns feed the head builder).
    """

    errorRaised = Signal(object)
    statusMessage = Signal(str)
    checked = Signal(object)
    previewed = Signal(object)

    def __init__(self, project: Project, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataPage")
        self.project = project
        self.jobs = CurrentJobs(runner, self)
        self.preview: DataPreview | None = None
        self.check: DataCheck | None = None
        self.check_error: str | None = None
        self._updating = False
        self._keep_columns = False
        self.setAcceptDrops(True)

        self._build_header()
        self.preview_card = PreviewCard()
        self.columns = ColumnsCard()
        self.labels = LabelsCard()
        self.warnings = WarningList()
        self.warnings.setObjectName("dataWarnings")
        lay = page_layout(self, self.header)
        # the preview shares its place with the data tools (health, labels, map)
        self.loop = DataLoopPanel(self.preview_card, project.spec_copy, runner)
        self.loop.statusMessage.connect(self.statusMessage)
        self.loop.errorRaised.connect(self.errorRaised)
        self.loop.openRequested.connect(
            lambda path: self.open_path(path, keep_columns=True, edited=True))
        lay.addWidget(side_by_side(self.loop, self._build_side(), (3, 2), (640, 420)), 1)

        self._check_timer = debounce_timer(self, 350, self.run_check)
        self._connect_columns()
        project.loaded.connect(self.refresh_from_spec)
        project.changed.connect(self._on_project_changed)
        self.columns.set_kind(None)
        self._split_to_widgets()

    def _build_header(self) -> None:
        self.header = PageHeader(
            "Data", "Open a CSV file, or a folder with one sub-folder of images per class. "
                    "You can also drop it anywhere on this page.")
        self.open_csv_btn = QPushButton("Open CSV…")
        self.open_csv_btn.setProperty("primary", True)
        self.open_images_btn = QPushButton("Open image folder…")
        self.header.action_row.addWidget(self.open_csv_btn)
        self.header.action_row.addWidget(self.open_images_btn)
        self.open_csv_btn.clicked.connect(self.choose_csv)
        self.open_images_btn.clicked.connect(self.choose_folder)

    def _build_side(self) -> QScrollArea:
        """The right-hand column: warnings, the column form and the labels, scrolling."""
        side = QWidget()
        side_lay = QVBoxLayout(side)
        side_lay.setContentsMargins(0, 0, 4, 0)
        side_lay.setSpacing(10)
        side_lay.addWidget(self.warnings)
        side_lay.addWidget(self.columns)
        side_lay.addWidget(self.labels, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(side)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(360)
        return scroll

    def _connect_columns(self) -> None:
        c = self.columns
        c.text_radio.toggled.connect(self._on_columns_edited)
        c.text_combo.currentIndexChanged.connect(self._on_columns_edited)
        c.features_list.itemChanged.connect(self._on_columns_edited)
        c.label_combo.currentIndexChanged.connect(self._on_label_changed)
        c.task_combo.currentIndexChanged.connect(self._on_columns_edited)
        for spin in c.split_spins:
            spin.valueChanged.connect(self._on_split_edited)
        c.encoding_combo.activated.connect(self._on_file_options_edited)
        line = c.encoding_combo.lineEdit()
        if line is not None:
            line.editingFinished.connect(self._on_file_options_edited)
        c.delimiter_combo.activated.connect(self._on_file_options_edited)

    # ============================================================== opening
    @Slot()
    def choose_csv(self) -> None:
        """Ask for a CSV file and open it."""
        path, _ = QFileDialog.getOpenFileName(self, "Open a CSV file", self._start_dir(),
                                              "Tables (*.csv *.tsv *.txt);;All files (*)")
        if path:
            self.open_path(path)

    @Slot()
    def choose_folder(self) -> None:
        """Ask for an image folder and open it."""
        path = QFileDialog.getExistingDirectory(self, "Open an image folder (one sub-folder "
                                                      "per class)", self._start_dir())
        if path:
            self.open_path(path)

    def _start_dir(self) -> str:
        d = self.project.spec.data
        current = d.path or d.image_dir
        return str(Path(current).parent) if current else str(Path.home())

    def open_path(self, path: str, keep_columns: bool = False, edited: bool = False) -> None:
        """Preview a CSV file or an image folder (in a worker).

        Args:
            path: the file or folder.
            keep_columns: keep the spec's column choices and file options (opening a saved
                project, reading the file again) instead of guessing new ones.
            edited: the user changed how the file is read (the project becomes unsaved).
        """
        self._keep_columns = keep_columns
        self._edited = edited or not keep_columns
        self._opening = str(path)
        self.statusMessage.emit(f"Reading {Path(path).name}…")
        self.project.set_blocker("data", f"Reading {Path(path).name}…")
        self.jobs.start("preview", engine_calls.preview_data, str(path), PREVIEW_ROWS,
                        self.project.spec.data.encoding if keep_columns else None,
                        self.project.spec.data.delimiter if keep_columns else None,
                        on_result=self._on_preview, on_error=self._on_preview_failed,
                        title="Cannot open the data")

    def _on_preview_failed(self, info: ErrorInfo) -> None:
        """The file could not be read: no view may go on showing another file as if it were it.

        Opening a project whose data fails clears every view; a file the user picked that
        fails leaves the project on its previous data (if any), and the message says so.
        """
        name = Path(self._opening).name
        keep_previous = self.preview is not None and not self._keep_columns
        if keep_previous:
            assert self.preview is not None
            still = Path(self.preview.source).name
            message = f"{name}: {info.message} The project still uses {still}."
            self.warnings.set_items(self._shown_warnings(), message)
            self.project.set_blocker("data", self.check_error and
                                     f"The data cannot be used: {self.check_error}")
        else:
            self._clear_views()
            message = f"{name}: {info.message}" if info.user_error else \
                "the data could not be read (see the error dialog)"
            self.warnings.set_items([], message)
            self.project.set_blocker("data", f"The data cannot be used: {message}")
        self.statusMessage.emit(f"Cannot open {name}")
        if not info.user_error:
            self.errorRaised.emit(info)

    def _clear_views(self) -> None:
        """Show no data anywhere on the page (nothing stale from an earlier file)."""
        self.preview = None
        self.check = None
        self.project.data_check = None
        self.preview_card.clear()
        self.labels.show_nothing()
        self.columns.set_kind(None)
        self.columns.split_sizes.setText("")

    def _on_preview(self, preview: DataPreview) -> None:
        self.preview = preview
        d = self.project.spec.data
        self._updating = True
        try:
            if preview.kind == "images":
                d.image_dir, d.path, d.text_column, d.feature_columns = \
                    preview.source, None, None, None
                # the class is the sub-folder: nothing of a CSV's label column carries over
                d.label_column = IMAGE_LABEL
                for out in self.project.spec.head.outputs:
                    out.label_column = None
                    out.task = "classification"
                    out.activation = fitting_activation(out.task, out.activation)
                self.columns.set_kind("images")
            else:
                d.path, d.image_dir = preview.source, None
                self._fill_columns(preview, keep=self._keep_columns)
                self.columns.set_kind("csv")
            self.columns.set_file_options(d.encoding, d.delimiter)
        finally:
            self._updating = False
        self._write_spec()
        # the new data's check replaces the old one's labels and sizes when it arrives
        self.check = None
        self.check_error = None
        self.project.data_check = None
        self.labels.show_nothing("Checking the data…")
        self.columns.split_sizes.setText("")
        shown = self.preview_card.show_preview(preview)
        self.statusMessage.emit(f"Opened {Path(preview.source).name}: {shown}")
        self.warnings.set_items(preview.warnings)
        self.preview_card.model.set_roles(self.roles())
        self.project.touch("data", modified=self._edited)
        self.previewed.emit(preview)
        self.run_check()

    # ============================================================== columns
    def _fill_columns(self, preview: DataPreview, keep: bool) -> None:
        """Offer the preview's columns; guess the input, label and task unless ``keep``."""
        d = self.project.spec.data
        names = [c.name for c in preview.columns]
        sug = preview.suggested
        if not keep or not ((d.text_column in names) or
                            (d.feature_columns and set(d.feature_columns) <= set(names))):
            d.text_column = sug.get("text_column") if sug.get("modality") == "text" else None
            d.feature_columns = None if d.text_column else list(sug.get("feature_columns") or [])
            d.label_column = sug.get("label_column")
            first = self.project.spec.head.outputs[0] if self.project.spec.head.outputs else None
            if first is not None:
                first.label_column = None
                info = next((c for c in preview.columns if c.name == d.label_column), None)
                first.task = guess_task(info)
                first.activation = fitting_activation(first.task, first.activation)
        if d.label_column not in names:
            d.label_column = sug.get("label_column")
        first = self.project.spec.head.outputs[0] if self.project.spec.head.outputs else None
        self.columns.set_columns(preview, d, first.task if first else "classification")

    @Slot()
    def _on_label_changed(self) -> None:
        if self._updating:
            return
        info = None
        if self.preview is not None:
            info = next((c for c in self.preview.columns
                         if c.name == self.columns.label_combo.currentText()), None)
        self._updating = True
        self.columns.task_combo.setCurrentText(guess_task(info))
        self._updating = False
        self._on_columns_edited()

    @Slot()
    def _on_columns_edited(self) -> None:
        if self._updating or self.preview is None:
            return
        if self.preview.kind == "csv":
            self.columns.set_kind("csv")
        self._write_spec()
        self.project.touch("data")
        self._check_timer.start()

    def _write_spec(self) -> None:
        """Copy the column widgets into the spec's data section and first output."""
        if self.preview is None or self.preview.kind != "csv":
            return
        d = self.project.spec.data
        c = self.columns
        if c.text_radio.isChecked():
            d.text_column = c.text_combo.currentText() or None
            d.feature_columns = None
        else:
            d.text_column = None
            label = c.label_combo.currentText()
            d.feature_columns = [name for name in c.checked_features() if name != label] or None
        d.label_column = c.label_combo.currentText() or None
        outputs = self.project.spec.head.outputs
        if not outputs:
            outputs.append(OutputSpec())
        first = outputs[0]
        first.task = cast(Task, c.task_combo.currentText())  # the combo lists the tasks
        first.activation = fitting_activation(first.task, first.activation)

    @Slot()
    def _on_file_options_edited(self) -> None:
        """Read the CSV file again with the chosen encoding and delimiter."""
        d = self.project.spec.data
        if self._updating or self.preview is None or self.preview.kind != "csv":
            return
        options = self.columns.file_options()
        if options == (d.encoding, d.delimiter):
            return
        d.encoding, d.delimiter = options
        self.open_path(str(d.path), keep_columns=True, edited=True)

    # ================================================================ split
    def _split_to_widgets(self) -> None:
        self._updating = True
        self.columns.set_split(self.project.spec.data.split)
        self._updating = False

    @Slot()
    def _on_split_edited(self) -> None:
        if self._updating:
            return
        values = [s.value() for s in self.columns.split_spins]
        total = sum(values)
        if total != 100 or values[0] == 0:
            self.columns.split_sizes.setText(f"The shares add up to {total} %; they must make "
                                             "100 % with some training rows.")
            return
        self.project.spec.data.split = [v / 100 for v in values]
        self.project.touch("data")
        self._check_timer.start()

    # ================================================================ check
    @Slot()
    def run_check(self) -> None:
        """Load the data as training will (in a worker) and show labels and warnings."""
        self._check_timer.stop()
        spec = self.project.spec_copy()
        try:
            spec.validate()
        except Exception as exc:  # noqa: BLE001 - shown in place
            self._show_check(None, str(exc))
            return
        self.labels.caption.setText("Checking the data…")
        self.project.set_blocker("data", "Checking the data…")
        self.jobs.start("check", engine_calls.check_data, spec,
                        on_result=self._on_check, on_error=self._on_check_failed,
                        title="Cannot check the data")

    def _on_check(self, check: DataCheck) -> None:
        self._show_check(check, None)

    def _on_check_failed(self, info: ErrorInfo) -> None:
        if info.user_error:
            self._show_check(None, info.message)
        else:
            self._show_check(None, "the data could not be checked (see the error dialog)")
            self.errorRaised.emit(info)

    def _show_check(self, check: DataCheck | None, error: str | None) -> None:
        """Show the data as training will see it; every view of the page follows the check."""
        self.check = check
        self.check_error = error
        self.project.data_check = check
        self.warnings.set_items(self._shown_warnings(), error)
        if check is None:
            self.labels.show_nothing("No label distribution: the data cannot be used yet.")
            self.columns.split_sizes.setText("")
        else:
            self.labels.show_check(check)
            self.columns.show_split_sizes(check.split_sizes)
        if self.preview is not None:
            self.preview_card.show_check(self.preview, check)
        self.project.set_blocker("data", error and f"The data cannot be used: {error}")
        self.checked.emit(check)

    def _shown_warnings(self) -> list[str]:
        """The check's warnings, then the preview's that the check did not repeat."""
        preview_warnings = self.preview.warnings if self.preview else []
        warnings = list(self.check.warnings) if self.check else []
        return warnings + [w for w in preview_warnings if w not in warnings]

    # ============================================================ project IO
    @Slot(str)
    def _on_project_changed(self, section: str) -> None:
        if section in ("data", "head"):
            self.preview_card.model.set_roles(self.roles())

    @Slot()
    def refresh_from_spec(self) -> None:
        """Show the data of a freshly opened project (or nothing for a new one)."""
        self._split_to_widgets()
        d = self.project.spec.data
        source = d.image_dir or d.path
        self.check = None
        self.check_error = None
        if source:
            self.open_path(source, keep_columns=True)
        else:
            self._clear_views()
            self.warnings.set_items([])
            self.project.set_blocker("data", None)

    def roles(self) -> dict[str, str]:
        """Column -> role tint for the preview (text / feature / label)."""
        d = self.project.spec.data
        roles: dict[str, str] = {}
        if d.text_column:
            roles[d.text_column] = "text"
        for c in d.feature_columns or []:
            roles[c] = "feature"
        for c in self.project.spec.label_columns():
            if c:
                roles[c] = "label"
        return roles

    def ui_state(self) -> dict[str, Any]:
        """Return what the project file keeps of this page."""
        return {}

    # ========================================================== drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802, D102
        if droppable_path(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802, D102
        path = droppable_path(event.mimeData())
        if path is not None:
            event.acceptProposedAction()
            self.open_path(path)
