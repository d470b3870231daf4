"""Runs page: every past run folder with its key metrics; open one to see it again.

Listing and reading run folders happens in workers (through the bridge); the table is a small
QAbstractTableModel over :class:`~ftstudio.bridge.types.RunRow` values, sortable by column.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QUrl,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QWidget,
)

from ftstudio.bridge import engine_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import JobRunner
from ftstudio.bridge.types import RunDetails, RunRow
from ftstudio.ui.widgets.common import Card, PageHeader, page_layout

__all__ = ["RunsModel", "RunsPage", "key_metric"]

STATUS_COLORS = {"finished": "#188038", "stopped": "#b06000", "failed": "#c5221f",
                 "running": "#1a73e8"}
_Index = QModelIndex | QPersistentModelIndex

METRIC_COLUMNS = [("Accuracy", ("accuracy",)), ("Macro F1", ("macro_f1",)),
                  ("MAE / R²", ("mae", "r2")), ("Test loss", ("loss",))]


def key_metric(metrics: dict[str, float], names: tuple[str, ...], split: str = "test"
               ) -> float | None:
    """Return the first ``split.<name>`` (or ``split.<output>.<name>``) metric found."""
    for name in names:
        key = f"{split}.{name}"
        if key in metrics:
            return float(metrics[key])
        for k, v in metrics.items():
            if k.startswith(f"{split}.") and k.endswith(f".{name}"):
                return float(v)
    return None


class RunsModel(QAbstractTableModel):
    """Table model over run rows."""

    HEADERS = ["Run", "Started", "Status", "Model", "Data", *[c for c, _ in METRIC_COLUMNS],
               "Folder"]
    FIRST_METRIC = 5

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[RunRow] = []

    def set_rows(self, rows: list[RunRow]) -> None:
        """Show ``rows``."""
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802, D102
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802, D102
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802, D102
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: D102
        if not index.isValid():
            return None
        run = self.rows[index.row()]
        col = index.column()
        n_metrics = len(METRIC_COLUMNS)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.UserRole):
            sort = role == Qt.ItemDataRole.UserRole
            if col == 0:
                return run.name
            if col == 1:
                return run.created if sort else time.strftime("%Y-%m-%d %H:%M",
                                                              time.localtime(run.created))
            if col == 2:
                return run.status
            if col == 3:
                return run.model
            if col == 4:
                return run.data
            first = self.FIRST_METRIC
            if first <= col < first + n_metrics:
                value = key_metric(run.metrics, METRIC_COLUMNS[col - first][1])
                if sort:
                    return -math.inf if value is None or math.isnan(value) else value
                if value is None or math.isnan(value):
                    return "—"
                return f"{value:.3f}"
            return Path(run.path).name
        if role == Qt.ItemDataRole.ForegroundRole and col == 2:
            return QColor(STATUS_COLORS.get(run.status, "#5f6368"))
        if role == Qt.ItemDataRole.TextAlignmentRole and \
                self.FIRST_METRIC <= col < self.FIRST_METRIC + n_metrics:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return run.path
        return None


class RunsPage(QWidget):
    """Step 5: past runs.

    Signals:
        runOpened(object, bool): the :class:`RunDetails` of a run that was read, and whether
            the user asked for it (the window then shows the Evaluate page).
        specRequested(object): the user wants a run's spec data (dict) as the project.
        errorRaised(object): a failure (:class:`ErrorInfo`).
        statusMessage(str): a line for the status bar.
    """

    runOpened = Signal(object, bool)
    specRequested = Signal(object)
    errorRaised = Signal(object)
    statusMessage = Signal(str)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsPage")
        self.jobs = CurrentJobs(runner, self)
        self.runs_root: str | None = None
        self.folder: str = ""
        self._open_purpose = "show"

        self.header = PageHeader("Runs", "Every training is kept as a run folder. Open one to "
                                         "see its charts and evaluation, or load its settings.")
        self.refresh_btn = QPushButton("Refresh")
        self.header.action_row.addWidget(self.refresh_btn)
        self._build_table()
        self._build_run_buttons()
        self.folder_label = QLabel("")
        self.folder_label.setObjectName("muted")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        for b in (self.open_btn, self.load_spec_btn, self.reveal_btn, self.copy_btn):
            buttons.addWidget(b)
        buttons.addStretch(1)
        card = Card()
        card.body.addWidget(self.folder_label)
        card.body.addWidget(self.table, 1)
        card.body.addLayout(buttons)
        page_layout(self, self.header).addWidget(card, 1)

        self.refresh_btn.clicked.connect(self.refresh)
        self.open_btn.clicked.connect(self.open_selected)
        self.load_spec_btn.clicked.connect(self.load_selected_spec)
        self.reveal_btn.clicked.connect(self.reveal_selected)
        self.copy_btn.clicked.connect(self.copy_command)
        self.table.doubleClicked.connect(self.open_selected)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)

    def _build_table(self) -> None:
        self.model = RunsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setObjectName("runsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        hh.setSectionResizeMode(len(RunsModel.HEADERS) - 1, QHeaderView.ResizeMode.Stretch)

    def _build_run_buttons(self) -> None:
        """The actions on the selected run (disabled until a run is selected)."""
        self.open_btn = QPushButton("Open")
        self.open_btn.setProperty("primary", True)
        self.open_btn.setToolTip("Show the run's evaluation and training curves")
        self.load_spec_btn = QPushButton("Use its settings")
        self.load_spec_btn.setToolTip("Make this run's spec the current project")
        self.reveal_btn = QPushButton("Show folder")
        self.copy_btn = QPushButton("Copy CLI command")
        self.copy_btn.setToolTip("ftstudio train <run>/spec.json reproduces the run")
        for b in (self.open_btn, self.load_spec_btn, self.reveal_btn, self.copy_btn):
            b.setEnabled(False)

    # ================================================================ listing
    @Slot()
    def refresh(self) -> None:
        """List the runs (in a worker)."""
        self.jobs.start("list", engine_calls.list_runs, self.runs_root,
                        on_result=self._on_listed, on_error=self.errorRaised.emit,
                        title="Cannot list the runs")

    def _on_listed(self, result: tuple[str, list[RunRow]]) -> None:
        self.folder, rows = result
        self.model.set_rows(rows)
        n = len(rows)
        self.folder_label.setText(f"{n} run{'s' if n != 1 else ''} in {self.folder}" if n
                                  else f"No runs yet in {self.folder}. Train a model on the "
                                       "Train page.")
        self._on_selection()

    # ================================================================ actions
    def selected(self) -> RunRow | None:
        """Return the selected run."""
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.model.rows[self.proxy.mapToSource(rows[0]).row()]

    @Slot()
    def _on_selection(self) -> None:
        has = self.selected() is not None
        for b in (self.open_btn, self.load_spec_btn, self.reveal_btn, self.copy_btn):
            b.setEnabled(has)

    def select_path(self, path: str) -> None:
        """Select the run in folder ``path`` (if listed)."""
        for i, run in enumerate(self.model.rows):
            if Path(run.path) == Path(path):
                self.table.selectRow(self.proxy.mapFromSource(self.model.index(i, 0)).row())
                return

    @Slot()
    def open_selected(self) -> None:
        """Read the selected run and show it."""
        run = self.selected()
        if run is not None:
            self.open_run(run.path)

    def open_run(self, path: str, purpose: str = "show") -> None:
        """Read a run folder in a worker.

        Args:
            path: the run folder.
            purpose: ``show`` (the user opened it), ``quiet`` (refresh the evaluation
                without switching pages) or ``spec`` (use its settings).
        """
        self._open_purpose = purpose
        self.statusMessage.emit(f"Opening run {Path(path).name}…")
        self.jobs.start("open", engine_calls.load_run, str(path),
                        on_result=self._on_opened, on_error=self.errorRaised.emit,
                        title="Cannot open the run")

    def _on_opened(self, details: RunDetails) -> None:
        if self._open_purpose == "spec":
            self.specRequested.emit(details)
        else:
            self.runOpened.emit(details, self._open_purpose == "show")

    @Slot()
    def load_selected_spec(self) -> None:
        """Make the selected run's spec the project (through the window)."""
        run = self.selected()
        if run is not None:
            self.open_run(run.path, purpose="spec")

    @Slot()
    def reveal_selected(self) -> None:
        """Open the run folder in the file manager."""
        run = self.selected()
        if run is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(run.path))

    @Slot()
    def copy_command(self) -> None:
        """Copy ``ftstudio train <run>/spec.json`` to the clipboard."""
        run = self.selected()
        if run is not None:
            command = f'ftstudio train "{Path(run.path) / "spec.json"}"'
            QGuiApplication.clipboard().setText(command)
            self.statusMessage.emit(f"Copied: {command}")
