"""Runs page: every past run folder with its key metrics; open one to see it again.

Listing and reading run folders happens in workers (through the bridge); the table is
:class:`~ftstudio.ui.pages.runs_model.RunsModel`, sortable by column, its Run names editable.
Several runs can be selected and compared side by side.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from PySide6.QtCore import QSettings, QSortFilterProxyModel, Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QPushButton,
    QTableView,
    QWidget,
)

from ftstudio.bridge import engine_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import JobRunner
from ftstudio.bridge.types import RunDetails, RunRow
from ftstudio.ui.pages.runs_model import RunsModel, key_metric
from ftstudio.ui.pages.train_parts import reproduce_command
from ftstudio.ui.settings import make_settings
from ftstudio.ui.widgets.common import Card, ElidedLabel, PageHeader, page_layout
from ftstudio.ui.widgets.flow_layout import FlowLayout
from ftstudio.ui.window_geometry import FRAME_ALLOWANCE, available_geometry

__all__ = ["RunsModel", "RunsPage", "key_metric"]

COMPARE_MODULE = "ftstudio.ui.widgets.compare_view"
"""Where the comparison dialog lives (``CompareDialog(run_dirs, runner, parent)``)."""
RUN_COLUMN_WIDTH = (180, 360)
"""The Run column's width: at least the first, at most the second (then the names elide)."""


def compare_available() -> bool:
    """Whether the comparison dialog is part of this version."""
    try:
        return importlib.util.find_spec(COMPARE_MODULE) is not None
    except (ImportError, ValueError):
        return False


class RunsPage(QWidget):
    """Step 5: past runs.

    Signals:
        runOpened(object, bool): the :class:`RunDetails` of a run that was read, and whether
            the user asked for it (the window then shows the Evaluate page).
        specRequested(object): the user wants a run's spec data (dict) as the project.
        errorRaised(object): a failure (:class:`ErrorInfo`).
        statusMessage(str): a line for the status bar.
        extendRequested(str): the user wants to train a finished run more epochs (its folder).
    """

    runOpened = Signal(object, bool)
    extendRequested = Signal(str)
    specRequested = Signal(object)
    errorRaised = Signal(object)
    statusMessage = Signal(str)

    def __init__(self, runner: JobRunner, parent: QWidget | None = None,
                 settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsPage")
        self.runner = runner
        self.jobs = CurrentJobs(runner, self)
        self.settings = settings or make_settings()
        self.runs_root: str | None = None
        self._dialogs: list[QWidget] = []
        self.folder: str = ""
        self._open_purpose = "show"

        self.header = PageHeader("Runs", "Every training is kept as a run folder. Open one to "
                                         "see its charts and evaluation, or load its settings.")
        self.refresh_btn = QPushButton("Refresh")
        self.header.action_row.addWidget(self.refresh_btn)
        self._build_table()
        self._build_run_buttons()
        self.folder_label = ElidedLabel("")
        self.folder_label.setObjectName("muted")
        buttons = FlowLayout(spacing=6)
        for b in (self.open_btn, self.compare_btn, self.rename_btn, self.load_spec_btn,
                  self.extend_btn, self.reveal_btn, self.copy_btn):
            buttons.addWidget(b)
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
        self.compare_btn.clicked.connect(self.compare_selected)
        self.rename_btn.clicked.connect(self.rename_selected)
        self.extend_btn.clicked.connect(self._on_extend_clicked)
        self.table.doubleClicked.connect(self.open_selected)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)

    def _build_table(self) -> None:
        self.model = RunsModel(self.settings, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.table = QTableView()
        self.table.setObjectName("runsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setAlternatingRowColors(True)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().setVisible(False)
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # the name keeps its room; the folder column takes what is left
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        hh.setSectionResizeMode(len(RunsModel.HEADERS) - 1, QHeaderView.ResizeMode.Stretch)
        self.table.setColumnWidth(0, RUN_COLUMN_WIDTH[0])

    def _build_run_buttons(self) -> None:
        """The actions on the selected run (disabled until a run is selected)."""
        self.open_btn = QPushButton("Open")
        self.open_btn.setProperty("primary", True)
        self.open_btn.setToolTip("Show the run's evaluation and training curves")
        self.load_spec_btn = QPushButton("Use its settings")
        self.load_spec_btn.setToolTip("Make this run's spec the current project")
        self.reveal_btn = QPushButton("Show folder")
        self.copy_btn = QPushButton("Copy command")
        self.copy_btn.setToolTip("Copy the command line that trains this run again")
        self.rename_btn = QPushButton("Rename")
        self.rename_btn.setToolTip("Give the run a name of your own (or press F2)")
        self.compare_btn = QPushButton("Compare")
        self.compare_btn.setObjectName("compareButton")
        self.extend_btn = QPushButton("Extend…")
        self.extend_btn.setToolTip("Train a finished run more epochs from its last epoch, in "
                                   "its folder (on the Train page)")
        for b in (self.open_btn, self.load_spec_btn, self.reveal_btn, self.copy_btn,
                  self.rename_btn, self.compare_btn, self.extend_btn):
            b.setEnabled(False)

    # ================================================================ listing
    @Slot()
    def refresh(self) -> None:
        """List the runs (in a worker)."""
        self.jobs.start("list", engine_calls.list_runs, self.runs_root,
                        on_result=self._on_listed, on_error=self.errorRaised.emit,
                        title="Cannot list the runs")

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802, D102
        super().showEvent(event)
        self.refresh()  # runs may have ended, or been written by the command line

    def _on_listed(self, result: tuple[str, list[RunRow]]) -> None:
        selected = [r.path for r in self.selected_runs()]
        self.folder, rows = result
        self.model.set_rows(rows)
        for path in selected:
            self.select_path(path, add=True)
        self._fit_run_column()
        n = len(rows)
        self.folder_label.set_full_text(f"{n} run{'s' if n != 1 else ''} in {self.folder}" if n
                                  else f"No runs yet in {self.folder}. Train a model on the "
                                       "Train page.")
        self._on_selection()

    def _fit_run_column(self) -> None:
        """Make the Run column as wide as the longest name (within bounds)."""
        width = max((self.table.fontMetrics().horizontalAdvance(self.model.name(r))
                     for r in self.model.rows), default=0) + 24
        self.table.setColumnWidth(0, max(RUN_COLUMN_WIDTH[0], min(width, RUN_COLUMN_WIDTH[1])))

    # ================================================================ actions
    def selected_runs(self) -> list[RunRow]:
        """Return the selected runs, in table order."""
        rows = sorted(self.table.selectionModel().selectedRows(), key=lambda i: i.row())
        return [self.model.rows[self.proxy.mapToSource(i).row()] for i in rows]

    def selected(self) -> RunRow | None:
        """Return the selected run when exactly one is selected."""
        runs = self.selected_runs()
        return runs[0] if len(runs) == 1 else None

    @Slot()
    def _on_selection(self) -> None:
        one = self.selected() is not None
        for b in (self.open_btn, self.load_spec_btn, self.reveal_btn, self.copy_btn,
                  self.rename_btn):
            b.setEnabled(one)
        run = self.selected()
        self.extend_btn.setEnabled(run is not None and run.status in ("finished", "stopped"))
        n = len(self.selected_runs())
        available = compare_available()
        self.compare_btn.setEnabled(available and n >= 2)
        if not available:
            self.compare_btn.setToolTip("Comparing runs is not available in this version.")
        else:
            self.compare_btn.setToolTip("Select two or more runs (Ctrl+click) to compare "
                                        "their metrics, curves and settings" if n < 2 else
                                        f"Compare the {n} selected runs side by side")

    def select_path(self, path: str, add: bool = False) -> None:
        """Select the run in folder ``path`` (if listed); ``add`` keeps the other selected."""
        for i, run in enumerate(self.model.rows):
            if Path(run.path) == Path(path):
                row = self.proxy.mapFromSource(self.model.index(i, 0)).row()
                if add:
                    flags = self.table.selectionModel().SelectionFlag
                    self.table.selectionModel().select(
                        self.proxy.index(row, 0), flags.Select | flags.Rows)
                else:
                    self.table.selectRow(row)
                return

    @Slot()
    def rename_selected(self) -> None:
        """Edit the selected run's name in place."""
        rows = self.table.selectionModel().selectedRows()
        if len(rows) == 1:
            self.table.edit(rows[0])

    @Slot()
    def compare_selected(self) -> None:
        """Open the comparison of the selected runs."""
        runs = self.selected_runs()
        if len(runs) < 2 or not compare_available():
            return
        module = importlib.import_module(COMPARE_MODULE)
        dialog = module.CompareDialog([r.path for r in runs], self.runner, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._dialogs = [d for d in self._dialogs if d.isVisible()] + [dialog]
        avail = available_geometry(self)
        # never larger than the screen (the window manager's frame included)
        dialog.resize(min(dialog.width(), avail.width() - FRAME_ALLOWANCE.width()),
                      min(dialog.height(), avail.height() - FRAME_ALLOWANCE.height()))
        dialog.show()

    @Slot()
    def _on_extend_clicked(self) -> None:
        run = self.selected()
        if run is not None:
            self.extendRequested.emit(run.path)

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
        """Copy the command that trains the selected run again to the clipboard."""
        run = self.selected()
        if run is not None:
            command = reproduce_command(run.path)
            QGuiApplication.clipboard().setText(command)
            self.statusMessage.emit(f"Copied: {command}")
