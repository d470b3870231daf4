"""The Evaluate page's error analysis: every validation/test example, worst first.

:class:`ExamplesModel` is a table model over one output of an
:class:`~ftstudio.bridge.evaluation_types.ExampleTable` (thumbnails for image runs, the feature
row for tables); :class:`ExamplesPanel` adds the filters (true class, predicted class,
right/wrong), a search box and a detail view with the full input and every class's
probability. Clicking a confusion-matrix cell sets the filters to that cell.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge.data_loop_calls import Explanation
from ftstudio.bridge.evaluation_types import ExampleTable, OutputExamples
from ftstudio.ui.widgets.saliency_view import overlay_pixmap, token_html
from ftstudio.ui.widgets.thumbnails import THUMB, load_thumbnail

__all__ = ["ExamplesModel", "ExamplesPanel"]

_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


def _number(value: float, digits: int = 4) -> str:
    return "—" if not math.isfinite(value) else f"{value:.{digits}g}"


class ExamplesModel(QAbstractTableModel):
    """The examples of one output that pass the panel's filters (rows = example positions)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table: ExampleTable | None = None
        self.output: OutputExamples | None = None
        self.rows: list[int] = []

    def set_rows(self, table: ExampleTable | None, output: OutputExamples | None,
                 rows: list[int]) -> None:
        """Show ``rows`` (positions in ``table``) of ``output``."""
        self.beginResetModel()
        self.table, self.output, self.rows = table, output, rows
        self.endResetModel()

    @property
    def regression(self) -> bool:
        """True for a regression output."""
        return self.output is not None and self.output.task == "regression"

    def headers(self) -> list[str]:
        """The column titles (the first names the numbering: "Line" in the file, "Image")."""
        label = (self.table.row_label.split()[0].capitalize() if self.table else "Row")
        last = ["Error", "Loss"] if self.regression else ["Prob.", "Loss"]
        return [label, "Input", "True", "Predicted", *last]

    def rowCount(self, parent: _Index = _ROOT) -> int:  # noqa: N802, D102
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = _ROOT) -> int:  # noqa: N802, D102
        return 0 if parent.isValid() else 6

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802, D102
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers()[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole \
                and self.table is not None:
            return {0: f"The example's {self.table.row_label}",
                    4: "The predicted class's probability"}.get(section)
        return None

    def input_text(self, i: int) -> str:
        """The example's input in one line (text, file name or ``feature=value, …``)."""
        t = self.table
        if t is None:
            return ""
        if t.kind == "tabular":
            return ", ".join(f"{n}={v}" for n, v in zip(t.feature_names, t.features[i],
                                                        strict=False))
        if t.kind == "image":
            return Path(t.inputs[i]).name
        return t.inputs[i]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: D102
        if not index.isValid() or self.table is None or self.output is None:
            return None
        i, col, out = self.rows[index.row()], index.column(), self.output
        if role == Qt.ItemDataRole.UserRole:  # sort keys: numbers sort as numbers
            return self._sort_key(i, col)
        if role == Qt.ItemDataRole.DecorationRole and col == 1 and self.table.kind == "image":
            return load_thumbnail(self.table.inputs[i])
        if role == Qt.ItemDataRole.ToolTipRole and col == 1:
            return self.table.inputs[i] if self.table.kind != "tabular" else self.input_text(i)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (0, 4, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if col == 0:
            return self.table.rows[i]
        if col == 1:
            return self.input_text(i).replace("\n", " ")
        if col == 2:
            return out.true[i]
        if col == 3:
            return out.pred[i]
        if col == 4:
            value = out.error[i] if self.regression else out.confidence[i]
            return _number(value) if self.regression or not math.isfinite(value) \
                else f"{100 * value:.1f}%"
        return _number(out.loss[i])

    def _sort_key(self, i: int, col: int) -> Any:
        assert self.table is not None and self.output is not None
        if col == 0:
            try:
                return float(self.table.rows[i])
            except ValueError:
                return math.inf
        if col == 4:
            value = self.output.error[i] if self.regression else self.output.confidence[i]
            return value if math.isfinite(value) else -math.inf
        if col == 5:
            loss = self.output.loss[i]
            return loss if math.isfinite(loss) else -math.inf
        if col == 1:
            return self.input_text(i)
        return self.output.true[i] if col == 2 else self.output.pred[i]


class ExamplesPanel(QWidget):
    """Filters, the examples table (worst first) and the selected example in full.

    Signals:
        explainRequested(object): ``{"text": …}`` or ``{"image": …}`` of the selected
            example, to explain its prediction (saliency).
    """

    explainRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.current: int | None = None
        self.table: ExampleTable | None = None
        self.output: OutputExamples | None = None
        self.split = "test"
        self._build()

    def _build(self) -> None:
        self.true_combo = QComboBox()
        self.true_combo.setObjectName("exampleTrue")
        self.pred_combo = QComboBox()
        self.pred_combo.setObjectName("examplePred")
        self.outcome = QComboBox()
        self.outcome.addItem("Right and wrong", "all")
        self.outcome.addItem("Wrong", "wrong")
        self.outcome.addItem("Right", "right")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search text, file or number…")
        self.search.setClearButtonEnabled(True)
        self.count = QLabel("")
        self.count.setObjectName("muted")
        for combo in (self.true_combo, self.pred_combo, self.outcome):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(5)
        self.search.setMinimumWidth(120)
        self._build_table()
        filters = QHBoxLayout()
        filters.setContentsMargins(0, 4, 0, 0)
        for w in (self.true_combo, self.pred_combo, self.outcome):
            filters.addWidget(w, 1)
        finder = QHBoxLayout()
        finder.addWidget(self.search, 1)
        finder.addWidget(self.count)
        self.why_btn = QPushButton("Why this prediction?")
        self.why_btn.setObjectName("exampleWhy")
        self.why_btn.clicked.connect(self._ask_why)
        finder.addWidget(self.why_btn)
        self.detail = QTextBrowser()
        self.detail.setObjectName("exampleDetail")
        self.detail.setOpenLinks(False)
        self.picture = QLabel()
        self.picture.setFixedWidth(170)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        bottom = QWidget()
        bottom_lay = QHBoxLayout(bottom)
        bottom_lay.setContentsMargins(0, 0, 0, 0)
        bottom_lay.addWidget(self.picture)
        bottom_lay.addWidget(self.detail, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.view)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(filters)
        lay.addLayout(finder)
        lay.addWidget(split, 1)
        for combo in (self.true_combo, self.pred_combo, self.outcome):
            combo.currentIndexChanged.connect(self.refilter)
        self.search.textChanged.connect(self.refilter)
        self.view.selectionModel().currentRowChanged.connect(self._show_current)

    def _build_table(self) -> None:
        self.model = ExamplesModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.view = QTableView()
        self.view.setObjectName("examplesTable")
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.verticalHeader().setVisible(False)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.view.setIconSize(QSize(THUMB, THUMB))
        head = self.view.horizontalHeader()
        head.setMinimumSectionSize(40)
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col in (2, 3):  # class names can be long: a fixed width the user may drag
            head.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            head.resizeSection(col, 90)

    # ------------------------------------------------------------ content
    def set_examples(self, table: ExampleTable | None, output: str | None, split: str) -> None:
        """Show ``split``'s examples of ``output`` (the filters keep their choice if they can)."""
        self.table, self.split = table, split
        self.output = next((o for o in (table.outputs if table else []) if o.name == output),
                           table.outputs[0] if table and table.outputs else None)
        classes = self.output.classes if self.output else []
        regression = self.output is not None and self.output.task == "regression"
        for combo, what in ((self.true_combo, "true"), (self.pred_combo, "predicted")):
            keep = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem(f"Any {what} class", None)
            for c in classes:
                combo.addItem(f"{what.capitalize()}: {c}", c)
            combo.setCurrentIndex(max(0, combo.findData(keep)) if keep is not None else 0)
            combo.blockSignals(False)
            combo.setVisible(not regression)
        self.outcome.setVisible(not regression)
        self.view.verticalHeader().setDefaultSectionSize(
            THUMB + 6 if table is not None and table.kind == "image" else 24)
        self.refilter()

    def show_cell(self, true_class: str, pred_class: str) -> None:
        """Show the examples of one confusion-matrix cell, worst first."""
        self.search.blockSignals(True)
        self.search.clear()
        self.search.blockSignals(False)
        for combo, value in ((self.true_combo, true_class), (self.pred_combo, pred_class)):
            combo.blockSignals(True)
            combo.setCurrentIndex(max(0, combo.findData(value)))
            combo.blockSignals(False)
        self.outcome.blockSignals(True)
        self.outcome.setCurrentIndex(0)
        self.outcome.blockSignals(False)
        self.refilter()

    def shown_rows(self) -> list[int]:
        """The example positions shown, in the order the table shows them."""
        return [self.model.rows[self.proxy.mapToSource(self.proxy.index(r, 0)).row()]
                for r in range(self.proxy.rowCount())]

    @Slot()
    def refilter(self) -> None:
        """Apply the filters and search; sort by loss, highest first."""
        t, out = self.table, self.output
        rows: list[int] = []
        if t is not None and out is not None:
            rows = [i for i in range(len(t)) if t.splits[i] == self.split]
            total = len(rows)
            true, pred = self.true_combo.currentData(), self.pred_combo.currentData()
            outcome = self.outcome.currentData() if out.task == "classification" else "all"
            needle = self.search.text().strip().lower()
            rows = [i for i in rows
                    if (true is None or out.true[i] == true)
                    and (pred is None or out.pred[i] == pred)
                    and (outcome == "all" or (out.true[i] == out.pred[i]) == (outcome == "right"))
                    and (not needle or needle in self._haystack(i))]
            self.count.setText(f"{len(rows):,} of {total:,} examples")
        else:
            self.count.setText("No per-example results in this run.")
        self.model.set_rows(t, out, rows)
        self.view.sortByColumn(5, Qt.SortOrder.DescendingOrder)
        if rows:
            self.view.selectRow(0)
        else:
            self.detail.clear()
            self.picture.clear()

    def _haystack(self, i: int) -> str:
        assert self.table is not None
        return f"{self.table.rows[i]} {self.model.input_text(i)} {self.table.inputs[i]}".lower()

    @Slot(QModelIndex, QModelIndex)
    def _show_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid() or self.table is None or self.output is None:
            return
        i = self.model.rows[self.proxy.mapToSource(current).row()]
        self.current = i
        self.detail.setHtml(example_html(self.table, self.output, i))
        if self.table.kind == "image":
            self.picture.setPixmap(load_thumbnail(self.table.inputs[i], 160))
        self.picture.setVisible(self.table.kind == "image")

    @Slot()
    def _ask_why(self) -> None:
        t, i = self.table, self.current
        if t is None or i is None or t.kind == "tabular":
            self.count.setText("Saliency explains text and image examples.")
            return
        self.explainRequested.emit({"image" if t.kind == "image" else "text": t.inputs[i]})

    def show_explanation(self, result: Explanation) -> None:
        """Show why the selected example got its prediction (overlay or tinted tokens)."""
        if result.heatmap is not None and result.image:
            self.picture.setPixmap(overlay_pixmap(result.image, result.heatmap, 160))
        elif result.tokens:
            self.detail.append(f"<p><b>Why {html.escape(result.predicted)}</b> "
                               f"(green: for, red: against)<br>{token_html(result.tokens)}</p>")
        self.count.setText(f"{result.method}, {result.seconds:.1f} s")


def example_html(table: ExampleTable, out: OutputExamples, i: int) -> str:
    """One example in full: its input, true and predicted label, each class's probability."""
    head = f"<b>{html.escape(table.row_label.capitalize())} {html.escape(table.rows[i])}</b>"
    if table.kind == "tabular":
        body = "<table>" + "".join(
            f"<tr><td>{html.escape(n)}</td><td align=right>{html.escape(v)}</td></tr>"
            for n, v in zip(table.feature_names, table.features[i], strict=False)) + "</table>"
    else:  # the full text, or the image file's path
        body = f"<p>{html.escape(table.inputs[i])}</p>"
    verdict = (f"true <b>{html.escape(out.true[i])}</b> · predicted "
               f"<b>{html.escape(out.pred[i])}</b> · loss {_number(out.loss[i])}")
    bars = ""
    if out.task == "classification" and i < len(out.probabilities) and out.probabilities[i]:
        order = sorted(range(len(out.classes)), key=lambda k: -out.probabilities[i][k])
        cells = []
        for k in order:
            p = out.probabilities[i][k]
            width = max(1, int(160 * p)) if math.isfinite(p) else 1
            color = "#2ca58d" if out.classes[k] == out.true[i] else "#3b6cf6"
            cells.append(f"<tr><td>{html.escape(out.classes[k])}</td><td><table cellspacing=0>"
                         f"<tr><td width={width} bgcolor='{color}'>&nbsp;</td></tr></table></td>"
                         f"<td align=right>{100 * p:.1f}%</td></tr>")
        bars = "<table cellspacing=3>" + "".join(cells) + "</table>"
    return f"{head}<br>{verdict}{body}{bars}"
