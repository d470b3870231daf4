"""Data page: open a CSV or an image folder, preview it, pick columns, see the labels.

Opening (dialog or drag-and-drop) previews the first rows through the engine's
``preview_table`` in a worker; choosing columns writes the spec's ``data`` section and then
loads the data exactly as training will (``load_data``, debounced, in a worker) to show the
class distribution, the split sizes and every engine warning in place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge import engine_calls
from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner
from ftstudio.bridge.types import ColumnInfo, DataCheck, DataPreview
from ftstudio.spec import OutputSpec, Task
from ftstudio.ui.project import Project
from ftstudio.ui.widgets.common import Card, PageHeader, WarningList
from ftstudio.ui.widgets.dataframe_model import DataFrameModel

__all__ = ["CSV_SUFFIXES", "DataPage"]

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
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
        self.runner = runner
        self.preview: DataPreview | None = None
        self.check: DataCheck | None = None
        self.check_error: str | None = None
        self._preview_job = 0
        self._check_job = 0
        self._updating = False
        self._keep_columns = False
        self.setAcceptDrops(True)

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

        # ---- left: preview table (or the drop hint)
        self.model = DataFrameModel()
        self.table = QTableView()
        self.table.setObjectName("previewTable")
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.horizontalHeader().setDefaultSectionSize(140)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.drop_hint = QLabel("Drop a CSV file or an image folder here\n\n"
                                "or use “Open CSV…” / “Open image folder…” above")
        self.drop_hint.setObjectName("dropHint")
        self.drop_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.drop_hint)
        self.table_stack.addWidget(self.table)
        self.source_label = QLabel("")
        self.source_label.setObjectName("muted")
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        table_card = Card("Preview")
        table_card.body.addWidget(self.source_label)
        table_card.body.addWidget(self.table_stack, 1)

        # ---- right: columns, split, labels, warnings
        self.text_radio = QRadioButton("Text")
        self.features_radio = QRadioButton("Numeric features")
        self.input_group = QButtonGroup(self)
        self.input_group.addButton(self.text_radio)
        self.input_group.addButton(self.features_radio)
        self.text_radio.setChecked(True)
        self.images_label = QLabel("Images — the class is the sub-folder name")
        self.images_label.setWordWrap(True)
        kind_row = QHBoxLayout()
        kind_row.addWidget(self.text_radio)
        kind_row.addWidget(self.features_radio)
        kind_row.addStretch(1)
        self.text_combo = QComboBox()
        self.text_combo.setObjectName("textColumn")
        self.features_list = QListWidget()
        self.features_list.setObjectName("featureColumns")
        self.features_list.setMaximumHeight(120)
        self.label_combo = QComboBox()
        self.label_combo.setObjectName("labelColumn")
        self.task_combo = QComboBox()
        self.task_combo.addItems(["classification", "regression"])
        self.columns_card = Card("Columns")
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.kind_widget = QWidget()
        self.kind_widget.setLayout(kind_row)
        kind_row.setContentsMargins(0, 0, 0, 0)
        form.addRow("Input", self.kind_widget)
        form.addRow("", self.images_label)
        form.addRow("Text column", self.text_combo)
        form.addRow("Features", self.features_list)
        form.addRow("Label column", self.label_combo)
        form.addRow("Task", self.task_combo)
        self.form = form
        self.columns_card.body.addLayout(form)

        self.split_spins = [QSpinBox(), QSpinBox(), QSpinBox()]
        split_row = QHBoxLayout()
        split_row.setSpacing(4)
        for spin, name in zip(self.split_spins, ("train", "val", "test"), strict=True):
            spin.setRange(0, 100)
            spin.setSuffix("%")
            spin.setMinimumWidth(58)
            spin.setToolTip(f"{name} share of the rows (stratified on the label, seeded)")
            split_row.addWidget(QLabel(name))
            split_row.addWidget(spin, 1)
        self.split_sizes = QLabel("")
        self.split_sizes.setObjectName("muted")
        self.split_sizes.setWordWrap(True)
        split_widget = QWidget()
        split_widget.setLayout(split_row)
        split_row.setContentsMargins(0, 0, 0, 0)
        split_title = QLabel("Split: train / validation / test (stratified, seeded)")
        split_title.setObjectName("sectionTitle")
        form.addRow(split_title)
        form.addRow(split_widget)
        form.addRow(self.split_sizes)

        self.bars: Any = None
        self.hist: Any = None
        self.no_chart = QLabel("The classes of the label column appear here.")
        self.no_chart.setObjectName("dropHint")
        self.no_chart.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_chart.setWordWrap(True)
        self.chart_stack = QStackedWidget()
        self.chart_stack.addWidget(self.no_chart)
        self.chart_stack.setMinimumHeight(120)
        self.chart_stack.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.labels_caption = QLabel("Choose a label column to see its classes.")
        self.labels_caption.setObjectName("muted")
        self.labels_caption.setWordWrap(True)
        labels_card = Card("Labels")
        labels_card.body.addWidget(self.labels_caption)
        labels_card.body.addWidget(self.chart_stack, 1)

        self.warnings = WarningList()
        self.warnings.setObjectName("dataWarnings")

        side = QWidget()
        side_lay = QVBoxLayout(side)
        side_lay.setContentsMargins(0, 0, 4, 0)
        side_lay.setSpacing(10)
        side_lay.addWidget(self.warnings)
        side_lay.addWidget(self.columns_card)
        side_lay.addWidget(labels_card, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(side)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(380)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(table_card)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([640, 420])

        lay = QVBoxLayout(self)
        lay.setContentsMargins(20, 16, 20, 16)
        lay.setSpacing(12)
        lay.addWidget(self.header)
        lay.addWidget(splitter, 1)

        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(350)
        self._check_timer.timeout.connect(self.run_check)

        self.text_radio.toggled.connect(self._on_columns_edited)
        self.text_combo.currentIndexChanged.connect(self._on_columns_edited)
        self.features_list.itemChanged.connect(self._on_columns_edited)
        self.label_combo.currentIndexChanged.connect(self._on_label_changed)
        self.task_combo.currentIndexChanged.connect(self._on_columns_edited)
        for spin in self.split_spins:
            spin.valueChanged.connect(self._on_split_edited)
        project.loaded.connect(self.refresh_from_spec)
        project.changed.connect(self._on_project_changed)
        self._set_kind_widgets(None)
        self._split_to_widgets()

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

    def open_path(self, path: str, keep_columns: bool = False) -> None:
        """Preview a CSV file or an image folder (in a worker).

        Args:
            path: the file or folder.
            keep_columns: keep the spec's column choices (opening a saved project) instead
                of guessing new ones.
        """
        self._keep_columns = keep_columns
        job = Job(engine_calls.preview_data, str(path), PREVIEW_ROWS,
                  self.project.spec.data.encoding if keep_columns else None,
                  self.project.spec.data.delimiter if keep_columns else None,
                  title="Cannot open the data")
        job.succeeded.connect(self._on_preview)
        job.failed.connect(self._on_preview_failed)
        self._preview_job = job.id
        self.source_label.setText(f"Reading {Path(path).name}…")
        self.statusMessage.emit(f"Reading {Path(path).name}…")
        self.runner.start(job)

    @Slot(int, object)
    def _on_preview_failed(self, job_id: int, info: ErrorInfo) -> None:
        if job_id != self._preview_job:
            return
        self.source_label.setText("")
        if info.user_error:
            self.warnings.set_items([], info.message)
        else:
            self.errorRaised.emit(info)

    @Slot(int, object)
    def _on_preview(self, job_id: int, preview: DataPreview) -> None:
        if job_id != self._preview_job:
            return
        self.preview = preview
        self.model.set_frame(preview.frame)
        self.table_stack.setCurrentWidget(self.table)
        d = self.project.spec.data
        self._updating = True
        try:
            if preview.kind == "images":
                d.image_dir, d.path, d.text_column, d.feature_columns = \
                    preview.source, None, None, None
                if not d.label_column:
                    d.label_column = "label"
                self._set_kind_widgets("images")
            else:
                d.path, d.image_dir = preview.source, None
                self._fill_columns(preview, keep=self._keep_columns)
                self._set_kind_widgets("csv")
        finally:
            self._updating = False
        self._write_spec()
        total = f"first {preview.n_rows_shown:,} rows" if preview.truncated \
            else f"{preview.n_rows_shown:,} rows"
        shown = f"{sum(preview.classes.values()):,} images in {len(preview.classes)} classes" \
            if preview.kind == "images" else total
        self.source_label.setText(f"{preview.source}  ·  {shown}")
        self.source_label.setToolTip(preview.source)
        self.table.resizeColumnsToContents()
        for c in range(self.model.columnCount()):
            self.table.setColumnWidth(c, max(70, min(self.table.columnWidth(c), 360)))
        self.statusMessage.emit(f"Opened {Path(preview.source).name}: {shown}")
        self.warnings.set_items(preview.warnings)
        self.model.set_roles(self.roles())
        self.project.touch("data", modified=not self._keep_columns)
        self.previewed.emit(preview)
        self.run_check()

    # ============================================================== columns
    def _fill_columns(self, preview: DataPreview, keep: bool) -> None:
        d = self.project.spec.data
        names = [c.name for c in preview.columns]
        texts = [c.name for c in preview.columns if c.kind in ("text", "category")]
        self.text_combo.clear()
        self.text_combo.addItems(texts or names)
        self.label_combo.clear()
        self.label_combo.addItems(names)
        self.features_list.clear()
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
                first.task = _guess_task(info)
                if first.task == "regression" and first.activation in ("softmax", "sigmoid"):
                    first.activation = "auto"
        if d.label_column not in names:
            d.label_column = sug.get("label_column")
        by_name = {c.name: c for c in preview.columns}
        chosen = set(d.feature_columns or [])
        for name in names:
            info = by_name[name]
            item = QListWidgetItem(f"{name}  ({info.kind})")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if name in chosen else Qt.CheckState.Unchecked)
            if info.kind not in ("numeric", "category"):
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip("Not numeric: cannot be a feature")
            self.features_list.addItem(item)
        self.features_list.setFixedHeight(min(120, 8 + 20 * max(2, len(names))))
        self.text_radio.setChecked(bool(d.text_column) or not d.feature_columns)
        self.features_radio.setChecked(not d.text_column and bool(d.feature_columns))
        if d.text_column:
            self.text_combo.setCurrentText(d.text_column)
        if d.label_column:
            self.label_combo.setCurrentText(d.label_column)
        first = self.project.spec.head.outputs[0] if self.project.spec.head.outputs else None
        self.task_combo.setCurrentText(first.task if first else "classification")

    def _set_kind_widgets(self, kind: str | None) -> None:
        csv = kind == "csv"
        images = kind == "images"
        text = csv and self.text_radio.isChecked()
        self.form.setRowVisible(0, not images)
        self.form.setRowVisible(1, images)
        self.form.setRowVisible(2, text or kind is None)
        self.form.setRowVisible(3, csv and not text)
        self.form.setRowVisible(4, not images)
        self.form.setRowVisible(5, not images)
        for w in (self.text_radio, self.features_radio, self.text_combo, self.features_list,
                  self.label_combo, self.task_combo):
            w.setEnabled(kind is not None)

    @Slot()
    def _on_label_changed(self) -> None:
        if self._updating:
            return
        info = None
        if self.preview is not None:
            info = next((c for c in self.preview.columns
                         if c.name == self.label_combo.currentText()), None)
        self._updating = True
        self.task_combo.setCurrentText(_guess_task(info))
        self._updating = False
        self._on_columns_edited()

    @Slot()
    def _on_columns_edited(self) -> None:
        if self._updating or self.preview is None:
            return
        if self.preview.kind == "csv":
            self._set_kind_widgets("csv")
        self._write_spec()
        self.project.touch("data")
        self._check_timer.start()

    def _write_spec(self) -> None:
        """Copy the column widgets into the spec's data section and first output."""
        if self.preview is None or self.preview.kind != "csv":
            return
        d = self.project.spec.data
        if self.text_radio.isChecked():
            d.text_column = self.text_combo.currentText() or None
            d.feature_columns = None
        else:
            d.text_column = None
            label = self.label_combo.currentText()
            d.feature_columns = [
                self.features_list.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.features_list.count())
                if self.features_list.item(i).checkState() == Qt.CheckState.Checked
                and self.features_list.item(i).data(Qt.ItemDataRole.UserRole) != label] or None
        d.label_column = self.label_combo.currentText() or None
        outputs = self.project.spec.head.outputs
        if not outputs:
            outputs.append(OutputSpec())
        first = outputs[0]
        first.task = cast(Task, self.task_combo.currentText())  # the combo lists the tasks
        if first.task == "regression" and first.activation in ("softmax", "sigmoid"):
            first.activation = "auto"
        if first.task == "classification" and first.activation == "linear":
            first.activation = "auto"

    # ================================================================ split
    def _split_to_widgets(self) -> None:
        self._updating = True
        for spin, value in zip(self.split_spins, self.project.spec.data.split, strict=False):
            spin.setValue(int(round(100 * value)))
        self._updating = False

    @Slot()
    def _on_split_edited(self) -> None:
        if self._updating:
            return
        values = [s.value() for s in self.split_spins]
        total = sum(values)
        if total != 100 or values[0] == 0:
            self.split_sizes.setText(f"The shares add up to {total} %; they must make 100 % "
                                     "with some training rows.")
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
        job = Job(engine_calls.check_data, spec, title="Cannot check the data")
        job.succeeded.connect(self._on_check)
        job.failed.connect(self._on_check_failed)
        self._check_job = job.id
        self.labels_caption.setText("Checking the data…")
        self.runner.start(job)

    @Slot(int, object)
    def _on_check(self, job_id: int, check: DataCheck) -> None:
        if job_id == self._check_job:
            self._show_check(check, None)

    @Slot(int, object)
    def _on_check_failed(self, job_id: int, info: ErrorInfo) -> None:
        if job_id != self._check_job:
            return
        if info.user_error:
            self._show_check(None, info.message)
        else:
            self._show_check(None, "the data could not be checked (see the error dialog)")
            self.errorRaised.emit(info)

    def _show_check(self, check: DataCheck | None, error: str | None) -> None:
        self.check = check
        self.check_error = error
        self.project.data_check = check
        preview_warnings = self.preview.warnings if self.preview else []
        warnings = list(check.warnings) if check else []
        shown = warnings + [w for w in preview_warnings if w not in warnings]
        self.warnings.set_items(shown, error)
        if check is None:
            self.chart_stack.setCurrentWidget(self.no_chart)
            self.labels_caption.setText("No label distribution: the data cannot be used yet.")
            self.split_sizes.setText("")
        else:
            label = check.labels[0] if check.labels else None
            self._ensure_charts()
            if label is not None and label.task == "classification":
                self.chart_stack.setCurrentWidget(self.bars)
                self.bars.set_counts(label.counts)
                self.labels_caption.setText(
                    f"'{label.column}': {len(label.counts)} classes, {check.n_examples:,} "
                    f"usable examples")
            elif label is not None and label.histogram is not None:
                self.chart_stack.setCurrentWidget(self.hist)
                self.hist.set_histogram(*label.histogram)
                self.labels_caption.setText(f"'{label.column}': regression target, "
                                            f"{check.n_examples:,} usable examples")
            s = check.split_sizes
            if s:
                self.split_sizes.setText(f"{s.get('train', 0):,} train · {s.get('val', 0):,} "
                                         f"validation · {s.get('test', 0):,} test examples")
        self.checked.emit(check)

    def _ensure_charts(self) -> None:
        """Create the label charts on first use (pyqtgraph loads after the window shows)."""
        if self.bars is not None:
            return
        from ftstudio.ui.widgets.charts import ClassBars, Histogram

        self.bars = ClassBars()
        self.bars.setObjectName("classBars")
        self.hist = Histogram()
        self.chart_stack.addWidget(self.bars)
        self.chart_stack.addWidget(self.hist)

    # ============================================================ project IO
    @Slot(str)
    def _on_project_changed(self, section: str) -> None:
        if section in ("data", "head"):
            self.model.set_roles(self.roles())

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
            self.preview = None
            self.model.set_frame(None)
            self.table_stack.setCurrentWidget(self.drop_hint)
            self.source_label.setText("")
            self.warnings.set_items([])
            self.chart_stack.setCurrentWidget(self.no_chart)
            self.labels_caption.setText("Choose a label column to see its classes.")
            self._set_kind_widgets(None)

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


def droppable_path(mime: Any) -> str | None:
    """Return the local CSV file or folder in a drag's data, if it carries one."""
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if not url.isLocalFile():
            continue
        p = Path(url.toLocalFile())
        if p.is_dir() or p.suffix.lower() in CSV_SUFFIXES:
            return str(p)
    return None


def _guess_task(info: ColumnInfo | None) -> Task:
    """Regression for a numeric column with many values, classification otherwise."""
    if info is not None and info.kind == "numeric":
        return "regression"
    return "classification"
