"""Parts of the Export page: the results card (a row per exported file, failures in red).

A failed file is an error, not a footnote: its reason (a converter that cannot handle an op, a
missing package with the command that installs it, a parity check over its tolerance) is shown
in a red panel above the table, and its row says "failed".
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge.types import ExportFormatRow, ExportOutcome
from ftstudio.formatting import format_bytes
from ftstudio.ui.widgets.common import Card

__all__ = ["FORMAT_LABELS", "ExportResultsCard", "common_metric", "difference_text",
           "metrics_text", "runnable_command"]

FORMAT_LABELS = {"keras": ".keras", "savedmodel": "SavedModel", "tflite": "TFLite",
                 "tflite-int8": "TFLite int8", "onnx": "ONNX"}
"""How the page names each exported file (by its key)."""

COLUMNS = ("Format", "Result", "Size", "Export", "Largest |Δp|", "Studio → file", "Same class",
           "File")
COL_RESULT, COL_DIFF, COL_METRIC, COL_FILE = 1, 4, 5, 7
_OK, _BAD, _MUTED = "#188038", "#c5221f", "#5f6368"


def difference_text(row: ExportFormatRow) -> str:
    """The largest probability difference against what it may be: ``'1.2e-07 ≤ 1e-04'``."""
    if not row.checked or row.max_abs_diff is None:
        return "—"
    diff = f"{row.max_abs_diff:.1e}" if row.max_abs_diff else "0"
    if row.tolerance is None:
        return f"{diff} (reported)"
    sign = "≤" if row.max_abs_diff <= row.tolerance else ">"
    return f"{diff} {sign} {row.tolerance:.0e}"


def metrics_text(row: ExportFormatRow, named: bool = True) -> str:
    """Each output's metric in the studio and in the file: ``'accuracy 0.950 → 0.950'``.

    Args:
        row: the file's row.
        named: say which metric (and, with several outputs, which output) each line is.
    """
    several = len(row.outputs) > 1
    lines = []
    for o in row.outputs:
        label = ((f"{o.name} " if several else "") + f"{o.metric} ") if named else ""
        lines.append(f"{label}{o.app:.3f} → {o.exported:.3f}")
    return "\n".join(lines) or "—"


def common_metric(rows: list[ExportFormatRow]) -> str | None:
    """The one metric of every checked row when each has a single output (for the header)."""
    metrics = {(len(r.outputs), r.outputs[0].metric) for r in rows if r.outputs}
    if len(metrics) == 1:
        count, metric = metrics.pop()
        return metric if count == 1 else None
    return None


def _agreement_text(row: ExportFormatRow) -> str:
    shares = [o.agreement for o in row.outputs if o.agreement is not None]
    if not shares:
        return "—"
    return f"{100 * min(shares):.1f} %"


class ExportResultsCard(Card):
    """What an export wrote: a summary, the failures (in red) and one table row per file.

    Signals:
        openFolderRequested(str): the user wants to see a folder (the export folder, or the
            folder of a file they double-clicked).
        openFileRequested(str): the user wants to open the report.
    """

    openFolderRequested = Signal(str)  # noqa: N815
    openFileRequested = Signal(str)  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Results", parent)
        self.outcome: ExportOutcome | None = None
        self.summary = QLabel()
        self.summary.setObjectName("exportSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.errors = QFrame()
        self.errors.setObjectName("warningList")
        self.errors.setProperty("error", True)
        self._errors_lay = QVBoxLayout(self.errors)
        self._errors_lay.setContentsMargins(10, 8, 10, 8)
        self._errors_lay.setSpacing(6)
        self.errors.hide()
        self._build_table()
        self.open_folder_btn = QPushButton("Open folder")
        self.open_folder_btn.setToolTip("Show the export folder (double-click a row for the "
                                        "folder of that file)")
        self.open_report_btn = QPushButton("Open report")
        self.open_report_btn.setToolTip("export_report.json: every check, as JSON")
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_folder_btn)
        buttons.addWidget(self.open_report_btn)
        buttons.addStretch(1)
        for w in (self.summary, self.errors, self.table):
            self.body.addWidget(w)
        self.body.addLayout(buttons)
        self.open_folder_btn.clicked.connect(self._open_folder)
        self.open_report_btn.clicked.connect(self._open_report)
        self.table.cellDoubleClicked.connect(self._open_row)
        self.show_outcome(None)

    def _build_table(self) -> None:
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("exportTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Stretch)
        hh.setMinimumSectionSize(40)

    # ------------------------------------------------------------------ showing
    def show_outcome(self, outcome: ExportOutcome | None) -> None:
        """Show an export's files (``None``: nothing exported yet)."""
        self.outcome = outcome
        rows = outcome.rows if outcome is not None else []
        metric = common_metric(rows)
        # one metric for all: it goes in the header, the cells keep just the numbers
        header = f"{metric.upper() if metric == 'mae' else metric.capitalize()}\nstudio → file" \
            if metric else COLUMNS[COL_METRIC]
        self.table.setHorizontalHeaderItem(COL_METRIC, QTableWidgetItem(header))
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            self._fill_row(i, row, named=metric is None)
        self.table.resizeRowsToContents()
        self._fit_table_height()
        self._show_messages([(FORMAT_LABELS.get(r.key, r.key), r.error, r.install_command)
                             for r in rows if r.error])
        if outcome is None:
            self._set_summary("Each file is loaded back in a fresh Python process and run on "
                              "the run's test split; the results appear here.", _MUTED)
        else:
            self._set_summary(_summary_text(outcome), _OK if outcome.ok else _BAD, bold=True)
        self.table.setVisible(bool(rows))
        for b in (self.open_folder_btn, self.open_report_btn):
            b.setEnabled(outcome is not None)

    def show_failure(self, message: str) -> None:
        """Show an export that did not run at all (not a run folder, unreadable data…)."""
        self.show_outcome(None)
        self._set_summary("✗ The export did not run.", _BAD, bold=True)
        self._show_messages([("Export", message, None)])

    def clear(self) -> None:
        """Forget the shown results (a new export starts)."""
        self._set_summary("Exporting…", _MUTED)
        self.table.setRowCount(0)
        self.table.hide()
        self._show_messages([])
        self.outcome = None
        for b in (self.open_folder_btn, self.open_report_btn):
            b.setEnabled(False)

    def _set_summary(self, text: str, color: str, bold: bool = False) -> None:
        self.summary.setText(text)
        weight = "font-weight: 600;" if bold else ""
        self.summary.setStyleSheet(f"color: {color}; {weight}")

    def _fill_row(self, i: int, row: ExportFormatRow, named: bool) -> None:
        if row.ok:
            result, color = ("✓ reported" if row.quantized else "✓ passed"), _OK
        else:
            result, color = "✗ failed", _BAD
        if row.file and row.folder and Path(row.file).is_relative_to(row.folder):
            shown = str(Path(row.file).relative_to(row.folder))  # the folder is the format's
        else:
            shown = Path(row.file).name if row.file else "not saved"
        cells = (FORMAT_LABELS.get(row.key, row.key), result, format_bytes(row.size_bytes),
                 f"{row.export_seconds:.1f} s", difference_text(row), metrics_text(row, named),
                 _agreement_text(row), shown)
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(row.error or row.file or "")
            if col == COL_RESULT or (col == COL_DIFF and row.checked and not row.ok):
                item.setForeground(QColor(color))
            elif col == COL_FILE and not row.file:
                item.setForeground(QColor(_MUTED))
            if 1 < col < COL_FILE:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(i, col, item)

    def _fit_table_height(self) -> None:
        """Make the table as tall as its rows: the page scrolls, never the table."""
        header = self.table.horizontalHeader()
        # the size hint: the header's height is only updated at the next layout pass
        height = header.sizeHint().height() + 2 * self.table.frameWidth()
        height += sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setFixedHeight(height + 2)

    def _show_messages(self, failures: list[tuple[str, str, str | None]]) -> None:
        """Show ``(what, why, install command)`` for each failure in the red panel."""
        while self._errors_lay.count():
            item = self._errors_lay.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()
        for what, why, command in failures:
            if command:  # the command goes in its own box, ready to copy
                why = why.replace(command, "").rstrip(" :") + ". Install it with:"
            self._errors_lay.addWidget(_error_label(what, why))
            if command:
                self._errors_lay.addWidget(_InstallCommand(command))
        self.errors.style().unpolish(self.errors)
        self.errors.style().polish(self.errors)
        self.errors.setVisible(bool(failures))

    def error_texts(self) -> list[str]:
        """The failure messages shown (one per failed file)."""
        return [r.error for r in (self.outcome.rows if self.outcome else []) if r.error]

    # ------------------------------------------------------------------ actions
    @Slot()
    def _open_folder(self) -> None:
        if self.outcome is not None:
            self.openFolderRequested.emit(self.outcome.out_dir)

    @Slot()
    def _open_report(self) -> None:
        if self.outcome is not None:
            self.openFileRequested.emit(self.outcome.report_path)

    @Slot(int, int)
    def _open_row(self, row: int, _column: int) -> None:
        if self.outcome is not None and 0 <= row < len(self.outcome.rows):
            folder = self.outcome.rows[row].folder
            self.openFolderRequested.emit(folder or self.outcome.out_dir)


def _summary_text(outcome: ExportOutcome) -> str:
    checked = [r for r in outcome.rows if r.checked]
    where = (f" (checked on {checked[0].examples} {checked[0].split} examples in a fresh "
             f"Python process, {outcome.seconds:.0f} s in all)") if checked else ""
    if outcome.ok:
        n = len(outcome.rows)
        return f"✓ All {n} file{'s' if n != 1 else ''} predict what the studio predicts{where}."
    bad = [FORMAT_LABELS.get(r.key, r.key) for r in outcome.rows if not r.ok]
    return (f"✗ {len(bad)} of {len(outcome.rows)} failed: {', '.join(bad)}. A failed file was "
            f"not saved{where}.")


def _error_label(what: str, why: str) -> QLabel:
    label = QLabel(f"<b>✗ {_escape(what)}:</b> {_escape(why)}")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class _InstallCommand(QWidget):
    """The command that installs a missing package, selectable, with a Copy button."""

    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command
        lay = QHBoxLayout(self)
        lay.setContentsMargins(16, 0, 0, 0)
        first, sep, alternative = command.partition("(or:")
        lines = [first.strip()] + ([f"or: {alternative.strip().removesuffix(')').strip()}"]
                                   if sep else [])
        self.label = QLabel("<br>".join(f"<code>{_escape(line)}</code>" for line in lines))
        self.label.setObjectName("installCommand")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_btn = QPushButton("Copy command")
        self.copy_btn.setToolTip(f"Copies: {runnable_command(command)}")
        self.copy_btn.clicked.connect(self._copy)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.copy_btn, 0, Qt.AlignmentFlag.AlignTop)

    @Slot()
    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(runnable_command(self.command))


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def runnable_command(command: str) -> str:
    """The part of an install hint to paste into a shell.

    ``"pip install 'ftstudio[export]'  (or: pip install 'a>=1' 'b>=2')"`` -> the pinned
    alternative in brackets (it works whichever way ftstudio was installed); a plain command
    as it is.
    """
    _, sep, alternative = command.partition("(or:")
    return alternative.strip().removesuffix(")").strip() if sep else command.strip()

