"""Parts of the Data page: the preview table, the column form and the label chart.

The parts show what they are given and hand back what the user picked; the page owns the
spec and the jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QSizePolicy,
    QSpinBox,
    QStackedWidget,
    QTableView,
    QWidget,
)

from ftstudio.bridge.types import ColumnInfo, DataCheck, DataPreview
from ftstudio.spec import DataSpec, Task
from ftstudio.ui.choices import spec_values
from ftstudio.ui.widgets.common import Card, ElidedLabel
from ftstudio.ui.widgets.dataframe_model import DataFrameModel

__all__ = ["CSV_SUFFIXES", "IMAGE_LABEL", "ColumnsCard", "LabelsCard", "PreviewCard",
           "droppable_path", "guess_task"]

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
TASKS = spec_values(Task)
SPLIT_NAMES = ("train", "val", "test")
NO_LABELS_TEXT = "Choose a label column to see its classes."
ENCODINGS = (("automatic", None), ("UTF-8", "utf-8"), ("UTF-8 with BOM", "utf-8-sig"),
             ("Windows-1252", "cp1252"), ("Latin-1", "latin-1"), ("UTF-16", "utf-16"))
"""The encodings offered (the box also takes any name Python knows)."""
DELIMITERS = (("automatic", None), ("comma ,", ","), ("semicolon ;", ";"),
              ("tab", "\t"), ("pipe |", "|"))
IMAGE_LABEL = "label"
"""The label column name of image folders (the class is the sub-folder name)."""
ROW_HEIGHT = 24
THUMBNAIL_ROW_HEIGHT = 50


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


def guess_task(info: ColumnInfo | None) -> Task:
    """Regression for a numeric column with many values, classification otherwise."""
    if info is not None and info.kind == "numeric":
        return "regression"
    return "classification"


class PreviewCard(Card):
    """The first rows of the data in a table, or a drop hint while there is none."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Preview", parent)
        self.model = DataFrameModel()
        self.table = QTableView()
        self.table.setObjectName("previewTable")
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.horizontalHeader().setDefaultSectionSize(140)
        self.table.horizontalHeader().setStretchLastSection(False)
        self.drop_hint = QLabel("Drop a CSV file or an image folder here\n\n"
                                "or use “Open CSV…” / “Open image folder…” above")
        self.drop_hint.setObjectName("dropHint")
        self.drop_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_hint.setWordWrap(True)
        self.table_stack = QStackedWidget()
        self.table_stack.addWidget(self.drop_hint)
        self.table_stack.addWidget(self.table)
        self.source_label = ElidedLabel("")
        self.source_label.setObjectName("muted")
        self.body.addWidget(self.source_label)
        self.body.addWidget(self.table_stack, 1)

    def show_preview(self, preview: DataPreview) -> str:
        """Show a preview's rows; return what it holds in a few words ("240 rows")."""
        images = preview.kind == "images"
        self.model.set_frame(preview.frame)
        self.model.set_thumbnails(preview.source if images else None, column=0)
        self.model.set_row_title("image number" if images else "line in the file")
        self.table.verticalHeader().setDefaultSectionSize(
            THUMBNAIL_ROW_HEIGHT if images else ROW_HEIGHT)
        self.table.setIconSize(QSize(THUMBNAIL_ROW_HEIGHT - 6, THUMBNAIL_ROW_HEIGHT - 6))
        self.table_stack.setCurrentWidget(self.table)
        shown = self._summary(preview, None)
        self.source_label.set_full_text(f"{preview.source}  ·  {shown}")
        self.table.resizeColumnsToContents()
        for c in range(self.model.columnCount()):
            self.table.setColumnWidth(c, max(70, min(self.table.columnWidth(c), 360)))
        return shown

    def show_check(self, preview: DataPreview, check: DataCheck | None) -> None:
        """Say how much of the data training can use, and mark the files it cannot."""
        self.source_label.set_full_text(f"{preview.source}  ·  {self._summary(preview, check)}")
        if preview.kind != "images" or check is None:
            return
        skipped = set(check.skipped)
        files = self.model.frame["file"].tolist() if self.model.frame is not None else []
        self.model.set_flags({row: "unreadable: left out" for row, name in enumerate(files)
                              if name in skipped})

    @staticmethod
    def _summary(preview: DataPreview, check: DataCheck | None) -> str:
        """What the data holds: "240 rows", "121 images in 2 classes, 120 usable"."""
        if preview.kind == "images":
            total = sum(preview.classes.values())
            text = f"{total:,} images in {len(preview.classes)} classes"
            if check is not None and check.n_examples != total:
                text += f", {check.n_examples:,} usable ({total - check.n_examples:,} left out)"
            return text
        text = f"first {preview.n_rows_shown:,} rows" if preview.truncated \
            else f"{preview.n_rows_shown:,} rows"
        if check is not None:
            all_used = check.n_examples == preview.n_rows_shown and not preview.truncated
            text += ", all usable" if all_used else f", {check.n_examples:,} usable"
        return text

    def clear(self) -> None:
        """Show the drop hint again."""
        self.model.set_frame(None)
        self.table_stack.setCurrentWidget(self.drop_hint)
        self.source_label.set_full_text("")


class ColumnsCard(Card):
    """Which columns are the input and the label, the task, and the train/val/test split."""

    ROW_INPUT, ROW_IMAGES, ROW_TEXT, ROW_FEATURES, ROW_LABEL, ROW_TASK = range(6)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Columns", parent)
        self.text_radio = QRadioButton("Text")
        self.features_radio = QRadioButton("Numeric features")
        self.input_group = QButtonGroup(self)
        self.input_group.addButton(self.text_radio)
        self.input_group.addButton(self.features_radio)
        self.text_radio.setChecked(True)
        self.images_label = QLabel("Images — the class is the sub-folder name")
        self.images_label.setWordWrap(True)
        self.text_combo = QComboBox()
        self.text_combo.setObjectName("textColumn")
        self.features_list = QListWidget()
        self.features_list.setObjectName("featureColumns")
        self.features_list.setMaximumHeight(120)
        self.label_combo = QComboBox()
        self.label_combo.setObjectName("labelColumn")
        self.task_combo = QComboBox()
        self.task_combo.addItems(TASKS)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        # in a narrow column a wide field goes under its label instead of widening the card
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.form.addRow("Input", self._build_kind_row())
        self.form.addRow("", self.images_label)
        self.form.addRow("Text column", self.text_combo)
        self.form.addRow("Features", self.features_list)
        self.form.addRow("Label column", self.label_combo)
        self.form.addRow("Task", self.task_combo)
        self._build_file_rows()
        self._build_split_rows()
        self.body.addLayout(self.form)
        # the card sits in a narrow column: its boxes shrink (eliding) instead of widening it
        for combo in (self.text_combo, self.label_combo, self.task_combo, self.encoding_combo,
                      self.delimiter_combo):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(6)

    def _build_kind_row(self) -> QWidget:
        row = QHBoxLayout()
        row.addWidget(self.text_radio)
        row.addWidget(self.features_radio)
        row.addStretch(1)
        row.setContentsMargins(0, 0, 0, 0)
        widget = QWidget()
        widget.setLayout(row)
        return widget

    def _build_file_rows(self) -> None:
        """How the CSV file is read: its text encoding and its delimiter (guessed by default)."""
        self.encoding_combo = QComboBox()
        self.encoding_combo.setObjectName("encoding")
        self.encoding_combo.setEditable(True)
        self.encoding_combo.setToolTip("How the file's bytes become text; any encoding name "
                                       "Python knows can be typed in")
        for text, value in ENCODINGS:
            self.encoding_combo.addItem(text, value)
        self.delimiter_combo = QComboBox()
        self.delimiter_combo.setObjectName("delimiter")
        self.delimiter_combo.setToolTip("The character between the columns")
        for text, value in DELIMITERS:
            self.delimiter_combo.addItem(text, value)
        self.form.addRow("Encoding", self.encoding_combo)
        self.form.addRow("Delimiter", self.delimiter_combo)

    def file_options(self) -> tuple[str | None, str | None]:
        """The chosen ``(encoding, delimiter)``; ``None`` means "guess"."""
        encoding = self.encoding_combo.currentText().strip()
        index = self.encoding_combo.findText(encoding)
        if index >= 0:
            value = self.encoding_combo.itemData(index)
            encoding = value if value is not None else ""
        return encoding or None, self.delimiter_combo.currentData()

    def set_file_options(self, encoding: str | None, delimiter: str | None) -> None:
        """Show the spec's encoding and delimiter (``None``: automatic)."""
        index = self.encoding_combo.findData(encoding) if encoding else 0
        if index >= 0:
            self.encoding_combo.setCurrentIndex(index)
        else:
            self.encoding_combo.setEditText(str(encoding))
        index = self.delimiter_combo.findData(delimiter)
        self.delimiter_combo.setCurrentIndex(max(0, index))

    def _build_split_rows(self) -> None:
        self.split_spins = [QSpinBox() for _ in SPLIT_NAMES]
        row = QHBoxLayout()
        row.setSpacing(4)
        for spin, name in zip(self.split_spins, SPLIT_NAMES, strict=True):
            spin.setRange(0, 100)
            spin.setSuffix("%")
            spin.setMinimumWidth(58)
            spin.setToolTip(f"{name} share of the rows (stratified on the label, seeded)")
            row.addWidget(QLabel(name))
            row.addWidget(spin, 1)
        row.setContentsMargins(0, 0, 0, 0)
        self.split_sizes = QLabel("")
        self.split_sizes.setObjectName("muted")
        self.split_sizes.setWordWrap(True)
        widget = QWidget()
        widget.setLayout(row)
        title = QLabel("Split: train / validation / test (stratified, seeded)")
        title.setObjectName("sectionTitle")
        title.setWordWrap(True)
        self.form.addRow(title)
        self.form.addRow(widget)
        self.form.addRow(self.split_sizes)

    def set_kind(self, kind: str | None) -> None:
        """Show the rows that fit ``csv`` or ``images`` data (``None``: nothing open)."""
        csv = kind == "csv"
        images = kind == "images"
        text = csv and self.text_radio.isChecked()
        self.form.setRowVisible(self.ROW_INPUT, not images)
        self.form.setRowVisible(self.ROW_IMAGES, images)
        self.form.setRowVisible(self.ROW_TEXT, text or kind is None)
        self.form.setRowVisible(self.ROW_FEATURES, csv and not text)
        self.form.setRowVisible(self.ROW_LABEL, not images)
        self.form.setRowVisible(self.ROW_TASK, not images)
        self.form.setRowVisible(self.encoding_combo, csv)
        self.form.setRowVisible(self.delimiter_combo, csv)
        for w in (self.text_radio, self.features_radio, self.text_combo, self.features_list,
                  self.label_combo, self.task_combo):
            w.setEnabled(kind is not None)

    def set_columns(self, preview: DataPreview, data: DataSpec, task: Task) -> None:
        """Offer a CSV preview's columns, with the spec's choices ticked and selected."""
        names = [c.name for c in preview.columns]
        texts = [c.name for c in preview.columns if c.kind in ("text", "category")]
        self.text_combo.clear()
        self.text_combo.addItems(texts or names)
        self.label_combo.clear()
        self.label_combo.addItems(names)
        self.features_list.clear()
        chosen = set(data.feature_columns or [])
        for info in preview.columns:
            item = QListWidgetItem(f"{info.name}  ({info.kind})")
            item.setData(Qt.ItemDataRole.UserRole, info.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if info.name in chosen
                               else Qt.CheckState.Unchecked)
            if info.kind not in ("numeric", "category"):
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                item.setToolTip("Not numeric: cannot be a feature")
            self.features_list.addItem(item)
        self.features_list.setFixedHeight(min(120, 8 + 20 * max(2, len(names))))
        self.text_radio.setChecked(bool(data.text_column) or not data.feature_columns)
        self.features_radio.setChecked(not data.text_column and bool(data.feature_columns))
        if data.text_column:
            self.text_combo.setCurrentText(data.text_column)
        if data.label_column:
            self.label_combo.setCurrentText(data.label_column)
        self.task_combo.setCurrentText(task)

    def checked_features(self) -> list[str]:
        """The ticked feature columns, in table order."""
        items = [self.features_list.item(i) for i in range(self.features_list.count())]
        return [item.data(Qt.ItemDataRole.UserRole) for item in items
                if item.checkState() == Qt.CheckState.Checked]

    def set_split(self, split: list[float]) -> None:
        """Show the spec's split fractions as percentages."""
        for spin, value in zip(self.split_spins, split, strict=False):
            spin.setValue(int(round(100 * value)))

    def show_split_sizes(self, sizes: dict[str, int]) -> None:
        """Show how many examples each split holds (nothing when unknown)."""
        if not sizes:
            return
        self.split_sizes.setText(f"{sizes.get('train', 0):,} train · {sizes.get('val', 0):,} "
                                 f"validation · {sizes.get('test', 0):,} test examples")


class LabelsCard(Card):
    """The distribution of the label column: class bars or a histogram of the values."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Labels", parent)
        self.bars: Any = None
        self.hist: Any = None
        self.no_chart = QLabel("The classes of the label column appear here.")
        self.no_chart.setObjectName("dropHint")
        self.no_chart.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_chart.setWordWrap(True)
        self.chart_stack = QStackedWidget()
        self.chart_stack.addWidget(self.no_chart)
        self.chart_stack.setMinimumHeight(120)
        self.chart_stack.setSizePolicy(QSizePolicy.Policy.Expanding,
                                       QSizePolicy.Policy.Ignored)
        self.caption = QLabel(NO_LABELS_TEXT)
        self.caption.setObjectName("muted")
        self.caption.setWordWrap(True)
        self.body.addWidget(self.caption)
        self.body.addWidget(self.chart_stack, 1)

    def show_nothing(self, caption: str = NO_LABELS_TEXT) -> None:
        """Show no chart, with ``caption`` above the empty space."""
        self.chart_stack.setCurrentWidget(self.no_chart)
        self.caption.setText(caption)

    def show_check(self, check: DataCheck) -> None:
        """Show the first label's classes (or value histogram) of a data check."""
        label = check.labels[0] if check.labels else None
        self._ensure_charts()
        if label is not None and label.task == "classification":
            self.chart_stack.setCurrentWidget(self.bars)
            self.bars.set_counts(label.counts)
            if check.modality == "image":
                self.caption.setText(f"Class folders: {len(label.counts)} classes, "
                                     f"{check.n_examples:,} usable images")
            else:
                self.caption.setText(f"'{label.column}': {len(label.counts)} classes, "
                                     f"{check.n_examples:,} usable examples")
        elif label is not None and label.histogram is not None:
            self.chart_stack.setCurrentWidget(self.hist)
            self.hist.set_histogram(*label.histogram)
            self.caption.setText(f"'{label.column}': regression target, "
                                 f"{check.n_examples:,} usable examples")

    def _ensure_charts(self) -> None:
        """Create the charts on first use (pyqtgraph loads after the window shows)."""
        if self.bars is not None:
            return
        from ftstudio.ui.widgets.charts import ClassBars, Histogram

        self.bars = ClassBars()
        self.bars.setObjectName("classBars")
        self.hist = Histogram()
        self.chart_stack.addWidget(self.bars)
        self.chart_stack.addWidget(self.hist)
