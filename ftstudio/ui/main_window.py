"""The main window: a sidebar of pages, the status bar, and the wiring between the pages.

The window composes the pages and wires their signals; the work happens in the pages and, off
the GUI thread, in bridge jobs. Menus are in :mod:`~ftstudio.ui.window_menus`, project files in
:mod:`~ftstudio.ui.window_projects`, and the engine's start-up (TensorFlow is imported only
after the window is on screen) in :mod:`~ftstudio.ui.window_engine`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

import ftstudio
from ftstudio.bridge import engine_calls
from ftstudio.bridge.jobs import ErrorInfo, JobRunner
from ftstudio.bridge.types import EngineInfo
from ftstudio.ui.dialogs import ask_question, show_error
from ftstudio.ui.pages.data_page import DataPage
from ftstudio.ui.pages.pretrain_form import restore_form, save_form
from ftstudio.ui.project import Project
from ftstudio.ui.resources import icon
from ftstudio.ui.settings import make_settings
from ftstudio.ui.widgets.sidebar import Sidebar
from ftstudio.ui.window_engine import EngineStartup
from ftstudio.ui.window_geometry import (
    MINIMUM_SIZE,
    clamp_to_screen,
    restore_geometry,
    save_geometry,
    scrolling,
)
from ftstudio.ui.window_menus import build_menus
from ftstudio.ui.window_projects import ProjectFiles, drop_target
from ftstudio.ui.window_runs import RunLinks

__all__ = ["MainWindow"]

log = logging.getLogger(__name__)

PAGE_TITLES = {"data": "Data", "model": "Model", "train": "Train", "evaluate": "Evaluate",
               "runs": "Runs", "export": "Export", "library": "Library", "pretrain": "Pretrain"}
"""Sidebar order and titles of the pages."""


class MainWindow(QMainWindow):
    """Fine-Tuning Studio's window.

    Args:
        settings: where geometry and recent projects live (default :func:`make_settings`).
        runs_root: where training writes run folders (default ``FTSTUDIO_HOME/runs``).
        defer_pages: build only the first page now; :meth:`finish_setup` builds the others.
    """

    def __init__(self, settings: QSettings | None = None, runs_root: str | None = None,
                 defer_pages: bool = False) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings or make_settings()
        self.project = Project(self)
        self.runner = JobRunner(self)
        self.runs_root = runs_root
        self.engine = EngineStartup(self.runner, self)
        self.files = ProjectFiles(self, self.project, self.settings,
                                  ask=lambda title, text, buttons: self.ask(title, text, buttons),
                                  ui_state=self.ui_state)
        self.errors: list[ErrorInfo] = []
        self._dialogs: list[Any] = []
        self._closing = False
        self._pages_ready = False
        self._shown_once = False
        self.run_links = RunLinks(self, closing=lambda: self._closing)
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)

        # the first page now; the others now or right after the first paint (finish_setup)
        self.data_page = DataPage(self.project, self.runner)
        self.pages: dict[str, QWidget] = {"data": self.data_page}
        self.setCentralWidget(self._build_sidebar_and_stack())
        self.statusBar().addPermanentWidget(self.engine.label)
        self.statusBar().setSizeGripEnabled(True)
        self.menu_actions = build_menus(self, PAGE_TITLES)
        self._connect_window()
        self._update_title()
        self.restore_geometry()
        if not defer_pages:
            self.finish_setup()

    def _build_sidebar_and_stack(self) -> QWidget:
        """The sidebar of pages and the stack that shows one (placeholders until built)."""
        self.sidebar = Sidebar(PAGE_TITLES)
        self.stack = QStackedWidget()
        for key in PAGE_TITLES:
            self.stack.addWidget(scrolling(self.data_page) if key == "data" else QWidget())
        self.sidebar.pages.currentRowChanged.connect(self._on_sidebar_row)
        central = QWidget()
        lay = QHBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.sidebar)
        lay.addWidget(self.stack, 1)
        self.sidebar.pages.setCurrentRow(0)
        return central

    def _connect_window(self) -> None:
        self.data_page.errorRaised.connect(self.show_error)
        self.data_page.statusMessage.connect(self.show_status)
        self.data_page.loop.retrainRequested.connect(self.run_links.retrain_from_last_run)
        self.files.errorRaised.connect(self.show_error)
        self.files.statusMessage.connect(self.show_status)
        self.files.openRequested.connect(self.open_project)
        self.engine.ready.connect(self._on_engine_ready)
        self.engine.failed.connect(self.show_error)
        self.project.dirtyChanged.connect(self._update_title)
        self.project.pathChanged.connect(self._update_title)
        self.project.loaded.connect(self._update_title)
        self.project.changed.connect(self._update_title)  # the name follows the data

    # ============================================================= composing
    @Slot()
    def finish_setup(self) -> None:
        """Create every page but the first (idempotent).

        ``run_app`` calls this right after the window is on screen, so the window appears
        before pyqtgraph and the other pages are built; everything else calls it on demand.
        """
        if self._pages_ready:
            return
        self._pages_ready = True
        from ftstudio.ui.pages.evaluate_page import EvaluatePage
        from ftstudio.ui.pages.export_page import ExportPage
        from ftstudio.ui.pages.library_page import LibraryPage
        from ftstudio.ui.pages.model_page import ModelPage
        from ftstudio.ui.pages.pretrain_page import PretrainPage
        from ftstudio.ui.pages.runs_page import RunsPage
        from ftstudio.ui.pages.train_page import TrainPage

        self.model_page = ModelPage(self.project, self.runner)
        self.train_page = TrainPage(self.project, self.runner)
        self.train_page.runs_root = self.runs_root
        self.evaluate_page = EvaluatePage()
        self.runs_page = RunsPage(self.runner, settings=self.settings)
        self.runs_page.runs_root = self.runs_root
        self.export_page = ExportPage(self.runner)
        self.export_page.runs_root = self.runs_root
        self.library_page = LibraryPage(self.runner)
        self.pretrain_page = PretrainPage(self.runner)
        self.pages.update({"model": self.model_page, "train": self.train_page,
                           "evaluate": self.evaluate_page, "runs": self.runs_page,
                           "export": self.export_page, "library": self.library_page,
                           "pretrain": self.pretrain_page})
        current = self.sidebar.pages.currentRow()
        for row, key in enumerate(PAGE_TITLES):
            if key == "data":
                continue
            page = self.pages[key]
            page.setObjectName(page.objectName() or f"{key}Page")
            placeholder = self.stack.widget(row)  # the empty widget added in __init__
            self.stack.insertWidget(row, scrolling(page))
            if placeholder is not None:
                self.stack.removeWidget(placeholder)
                placeholder.deleteLater()
        self.stack.setCurrentIndex(current)
        self._connect_pages()
        restore_form(self.pretrain_page, self.settings)
        if self.data_page.preview is not None:
            self.model_page.set_preview(self.data_page.preview)

    def _connect_pages(self) -> None:
        for page in (self.model_page, self.train_page, self.runs_page, self.export_page):
            page.errorRaised.connect(self.show_error)
            page.statusMessage.connect(self.show_status)
        self.evaluate_page.statusMessage.connect(self.show_status)
        self.data_page.previewed.connect(self.model_page.set_preview)
        self.train_page.runningChanged.connect(self._on_training_running)
        self.train_page.startableChanged.connect(self.menu_actions.start_training.setEnabled)
        self.train_page.confirm = self._confirm
        self.train_page.runFinished.connect(self.run_links.on_run_finished)
        self.train_page.runEnded.connect(self.runs_page.refresh)
        self.model_page.weightsImportRequested.connect(self.run_links.on_weights_import)
        self.model_page.weightsDownloadRequested.connect(self.run_links.on_weights_download)
        self.train_page.update_start()
        self.train_page.showEvaluation.connect(self.run_links.on_show_evaluation)
        self.runs_page.runOpened.connect(self.run_links.on_run_opened)
        self.runs_page.specRequested.connect(self.run_links.on_spec_requested)
        self.runs_page.extendRequested.connect(self.run_links.on_extend_requested)
        self.menu_actions.stop_training.triggered.connect(self.train_page.stop)
        self.library_page.entriesChanged.connect(self.model_page.set_library_entries)
        self.model_page.set_library_entries(self.library_page.entries())
        # a freshly pretrained encoder shows up in the library (and the backbone list)
        self.pretrain_page.pretrainFinished.connect(self.library_page.refresh)

    # ================================================================ engine
    @property
    def engine_state(self) -> str:
        """``idle``, ``loading``, ``ready`` or ``failed``."""
        return self.engine.state

    @property
    def engine_error(self) -> ErrorInfo | None:
        """Why the engine failed to load, if it did."""
        return self.engine.error

    @Slot()
    def start_engine(self) -> None:
        """Import TensorFlow and the engine in the background (once)."""
        self.finish_setup()
        if self.engine.state in ("loading", "ready"):
            return
        self.engine.start()
        self.runs_page.refresh()

    @Slot(object)
    def _on_engine_ready(self, info: EngineInfo) -> None:
        self.finish_setup()
        self.model_page.set_backbones(info.backbones)
        self.train_page.device_line.show_machine(info.device)
        self.show_status(f"Engine ready ({info.seconds:.1f} s)")
        if not self._closing:
            engine_calls.prewarm_training()

    # ================================================================= pages
    def go_to(self, key: str) -> None:
        """Show page ``key`` (``data``, ``model``, ``train``, ``evaluate``, ``runs``…)."""
        keys = list(PAGE_TITLES)
        if key in keys:
            self.sidebar.pages.setCurrentRow(keys.index(key))

    @Slot()
    def go_to_sender(self) -> None:
        """Show the page a Go menu item names (its data)."""
        act = self.sender()
        if isinstance(act, QAction):
            self.go_to(str(act.data()))

    def current_page(self) -> str:
        """Return the key of the page shown."""
        return list(PAGE_TITLES)[self.stack.currentIndex()]

    @Slot(int)
    def _on_sidebar_row(self, row: int) -> None:
        if row > 0:
            self.finish_setup()
        self.stack.setCurrentIndex(row)

    @Slot()
    def open_data(self) -> None:
        """Go to the Data page and ask for a CSV file."""
        self.go_to("data")
        self.data_page.choose_csv()

    @Slot()
    def start_training(self) -> None:
        """Go to the Train page and start."""
        self.finish_setup()
        self.go_to("train")
        self.train_page.start()

    @Slot(bool)
    def _on_training_running(self, running: bool) -> None:
        self.menu_actions.stop_training.setEnabled(running)
        self.sidebar.mark("train", "●" if running else "")

    # ============================================================== projects
    @Slot()
    def new_project(self) -> None:
        """Start an empty project (asks to save unsaved changes)."""
        self.finish_setup()
        if self.files.confirm_discard():
            self.project.new()
            self.evaluate_page.clear()
            self.go_to("data")

    @Slot()
    def choose_project(self) -> None:
        """Ask for a project (or spec) file and open it."""
        self.files.choose()

    @Slot(str)
    def open_project(self, path: str | Path) -> bool:
        """Open a project file or a plain spec file and show it; errors become a dialog.

        Returns:
            True when it opened.
        """
        self.finish_setup()
        if not self.files.open(path):
            return False
        self.evaluate_page.clear()
        state = self.project.ui_state
        last_run = state.get("last_run")
        if last_run and Path(str(last_run)).is_dir():
            self.runs_page.open_run(str(last_run), purpose="quiet")
        self.go_to(str(state.get("page", "data")))
        self.show_status(f"Opened {Path(path).name}")
        return True

    @Slot()
    def save_project(self) -> bool:
        """Save to the project's file (asks for one the first time)."""
        return self.files.save()

    @Slot()
    def save_project_as(self, path: str | Path | None = None) -> bool:
        """Save under a new name (``path`` or a file dialog)."""
        return self.files.save_as(path)

    @Slot()
    def export_spec(self, path: str | Path | None = None) -> bool:
        """Write the spec alone (what ``ftstudio train SPEC`` reads)."""
        return self.files.export_spec(path)

    def ui_state(self) -> dict[str, Any]:
        """Return what a project file keeps about the window."""
        self.finish_setup()
        state = dict(self.project.ui_state)
        state["page"] = self.current_page()
        if self.evaluate_page.run is not None:
            state["last_run"] = self.evaluate_page.run.path
        return state

    def ask(self, title: str, text: str,
            buttons: QMessageBox.StandardButton) -> QMessageBox.StandardButton:
        """Ask a blocking question (tests replace this method)."""
        return ask_question(self, title, text, buttons)

    def _confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question through :meth:`ask`."""
        yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
        return self.ask(title, text, yes | no) == yes

    @Slot()
    def _update_title(self, *args: Any) -> None:
        star = " *" if self.project.dirty else ""
        self.setWindowTitle(f"{self.project.title}{star} — Fine-Tuning Studio")

    # =============================================================== messages
    @Slot(object)
    def show_error(self, info: ErrorInfo) -> None:
        """Show a failure in a (non-blocking) dialog; the app carries on."""
        self.errors.append(info)
        if self._closing:
            return
        self.show_status(f"{info.title}: {info.message.splitlines()[0]}")
        box = show_error(self, info)
        self._dialogs = [d for d in self._dialogs if d.isVisible()] + [box]

    @Slot(str)
    def show_status(self, text: str) -> None:
        """Show a transient status-bar message."""
        self.statusBar().showMessage(text, 8000)

    @Slot()
    def show_about(self) -> None:
        """Show the About box."""
        QMessageBox.about(self, "About Fine-Tuning Studio",
                          f"<b>Fine-Tuning Studio</b> {ftstudio.__version__}<br>"
                          f"Fine-tune pretrained models on your own data, offline.<br><br>"
                          f"{self.engine.versions_text(', ')}")

    # ========================================================== drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802, D102
        if drop_target(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802, D102
        target = drop_target(event.mimeData())
        if target is None:
            return
        event.acceptProposedAction()
        kind, path = target
        if kind == "project":
            if self.files.confirm_discard():
                self.open_project(path)
        else:
            self.go_to("data")
            self.data_page.open_path(path)

    # ============================================================ geometry
    def restore_geometry(self) -> None:
        """Restore the last size and position, clamped to the screen (default 1280×800)."""
        self.setMinimumSize(MINIMUM_SIZE)
        restore_geometry(self, self.settings)

    def save_geometry(self) -> None:
        """Remember the size and position."""
        save_geometry(self, self.settings)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802, D102
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            # the frame's size is known once the window manager has framed the window
            QTimer.singleShot(400, self, self._clamp_to_screen)

    @Slot()
    def _clamp_to_screen(self) -> None:
        clamp_to_screen(self)

    # ============================================================= shutdown
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802, D102
        if self._pages_ready and self.train_page.running:
            answer = self.ask("Training is running",
                              "Stop the training and quit? The run keeps the best weights "
                              "so far.",
                              QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        # unsaved edits are asked about on every way out, training or not; a Cancel here
        # leaves the training running
        if not self.files.confirm_discard():
            event.ignore()
            return
        self.save_geometry()
        if self._pages_ready:  # what was typed outside the project, for next time
            save_form(self.pretrain_page, self.settings)
        self._closing = True
        self.hide()
        self.shutdown()
        event.accept()

    def shutdown(self, timeout_ms: int = 120_000) -> bool:
        """Stop training and pretraining, then wait for every worker thread to end.

        A thread is never aborted.

        Returns:
            True when every thread ended within ``timeout_ms``.
        """
        self._closing = True
        if self._pages_ready:
            if self.train_page.running:
                self.train_page.stop()
            for page in (self.library_page, self.pretrain_page, self.export_page):
                try:
                    page.shutdown()
                except Exception:  # noqa: BLE001 - shutting down anyway
                    log.exception("page shutdown failed")
        ok = self.runner.wait_all(timeout_ms)
        engine_calls.shutdown_training()
        for timer in self.findChildren(QTimer):
            timer.stop()
        return ok
