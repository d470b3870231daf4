"""The main window: a sidebar of pages, menus, the status bar, project files and shutdown.

The window composes the pages and wires their signals; the work happens in the pages and, off
the GUI thread, in bridge jobs. TensorFlow is imported by the engine loader job only after the
window is on screen (:meth:`MainWindow.start_engine`).
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

import ftstudio
from ftstudio.bridge import engine_calls
from ftstudio.bridge.jobs import ErrorInfo, Job, JobRunner
from ftstudio.bridge.types import EngineInfo, RunDetails, TrainOutcome
from ftstudio.errors import FtStudioError
from ftstudio.spec import ExperimentSpec
from ftstudio.ui.dialogs import show_error
from ftstudio.ui.pages.data_page import CSV_SUFFIXES, DataPage, droppable_path
from ftstudio.ui.project import PROJECT_SUFFIX, Project
from ftstudio.ui.resources import icon
from ftstudio.ui.settings import add_recent, make_settings, recent_projects, remove_recent

__all__ = ["MainWindow"]

log = logging.getLogger(__name__)

PROJECT_FILTER = f"ftstudio projects (*{PROJECT_SUFFIX} *.json);;All files (*)"
PAGE_TITLES = {"data": "Data", "model": "Model", "train": "Train", "evaluate": "Evaluate",
               "runs": "Runs"}
OPTIONAL_PAGES = {
    "library": ("ftstudio.ui.pages.library_page", "LibraryPage", "Library"),
    "pretrain": ("ftstudio.ui.pages.pretrain_page", "PretrainPage", "Pretrain"),
}
"""Pages of the model library (another module's), shown when they are installed."""


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class MainWindow(QMainWindow):
    """Fine-Tuning Studio's window.

    Args:
        settings: where geometry and recent projects live (default :func:`make_settings`).
        runs_root: where training writes run folders (default ``FTSTUDIO_HOME/runs``).
    """

    def __init__(self, settings: QSettings | None = None, runs_root: str | None = None,
                 defer_pages: bool = False) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.settings = settings or make_settings()
        self.project = Project(self)
        self.runner = JobRunner(self)
        self.runs_root = runs_root
        self.engine_state = "idle"
        self.engine_info: EngineInfo | None = None
        self.engine_error: ErrorInfo | None = None
        self.errors: list[ErrorInfo] = []
        self._engine_job = 0
        self._dialogs: list[Any] = []
        self._closing = False
        self._pages_ready = False
        self.setWindowIcon(icon("app"))
        self.setAcceptDrops(True)

        # ---- the first page now; the others now or right after the first paint
        self.data_page = DataPage(self.project, self.runner)
        self.titles = dict(PAGE_TITLES)
        self.optional_modules = {key: spec for key, spec in OPTIONAL_PAGES.items()
                                 if _module_exists(spec[0])}
        for key in self.optional_modules:
            self.titles[key] = OPTIONAL_PAGES[key][2]
        self.pages: dict[str, QWidget] = {"data": self.data_page}
        self.optional_pages: dict[str, QWidget] = {}

        # ---- sidebar + stack (placeholders until the pages exist)
        self.sidebar = QListWidget()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.setIconSize(QSize(20, 20))
        self.sidebar.setFixedWidth(176)
        self.sidebar.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stack = QStackedWidget()
        for key, title in self.titles.items():
            item = QListWidgetItem(icon(key), f"  {title}")
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setSizeHint(QSize(150, 40))
            self.sidebar.addItem(item)
            self.stack.addWidget(self.data_page if key == "data" else QWidget())
        self.sidebar.currentRowChanged.connect(self._on_sidebar_row)
        brand = QLabel("Fine-Tuning Studio")
        brand.setObjectName("brand")
        brand_sub = QLabel(f"version {ftstudio.__version__} · offline")
        brand_sub.setObjectName("brandSub")
        side = QWidget()
        side.setObjectName("sidebarBox")
        side_lay = QVBoxLayout(side)
        side_lay.setContentsMargins(0, 0, 0, 0)
        side_lay.setSpacing(0)
        side_lay.addWidget(brand)
        side_lay.addWidget(brand_sub)
        side_lay.addWidget(self.sidebar, 1)
        central = QWidget()
        lay = QHBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(side)
        lay.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.sidebar.setCurrentRow(0)

        # ---- status bar
        self.engine_label = QLabel("Engine not loaded")
        self.engine_label.setObjectName("engineState")
        self.statusBar().addPermanentWidget(self.engine_label)
        self.statusBar().setSizeGripEnabled(True)

        self._build_menus()
        self.data_page.errorRaised.connect(self.show_error)
        self.data_page.statusMessage.connect(self.show_status)
        self.project.dirtyChanged.connect(self._update_title)
        self.project.pathChanged.connect(self._update_title)
        self.project.loaded.connect(self._update_title)
        self._update_title()
        self.restore_geometry()
        if not defer_pages:
            self.finish_setup()

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
        from ftstudio.ui.pages.model_page import ModelPage
        from ftstudio.ui.pages.runs_page import RunsPage
        from ftstudio.ui.pages.train_page import TrainPage

        self.model_page = ModelPage(self.project, self.runner)
        self.train_page = TrainPage(self.project, self.runner)
        self.train_page.runs_root = self.runs_root
        self.evaluate_page = EvaluatePage()
        self.runs_page = RunsPage(self.runner)
        self.runs_page.runs_root = self.runs_root
        self.pages.update({"model": self.model_page, "train": self.train_page,
                           "evaluate": self.evaluate_page, "runs": self.runs_page})
        for key, optional_page in self._optional_pages():
            self.optional_pages[key] = optional_page
            self.pages[key] = optional_page
        current = self.sidebar.currentRow()
        for row in range(self.sidebar.count() - 1, 0, -1):
            key = self.sidebar.item(row).data(Qt.ItemDataRole.UserRole)
            page = self.pages.get(key)
            old = self.stack.widget(row)  # the placeholder added in __init__
            if page is None:  # an optional page that failed to build
                self.sidebar.takeItem(row)
                if old is not None:
                    self.stack.removeWidget(old)
                    old.deleteLater()
                continue
            page.setObjectName(page.objectName() or f"{key}Page")
            if key in self.optional_pages:
                # another team's page: scroll rather than let it force the window's size
                holder = QScrollArea()
                holder.setWidgetResizable(True)
                holder.setFrameShape(QScrollArea.Shape.NoFrame)
                holder.setWidget(page)
                page = holder
            self.stack.insertWidget(row, page)
            if old is not None:
                self.stack.removeWidget(old)
                old.deleteLater()
        self.pages = {self.sidebar.item(r).data(Qt.ItemDataRole.UserRole):
                      self.pages[self.sidebar.item(r).data(Qt.ItemDataRole.UserRole)]
                      for r in range(self.sidebar.count())}
        self.stack.setCurrentIndex(max(0, min(current, self.stack.count() - 1)))
        self._connect_pages()
        self.stop_action.triggered.connect(self.train_page.stop)
        if self.data_page.preview is not None:
            self.model_page.set_preview(self.data_page.preview)

    def _optional_pages(self) -> list[tuple[str, QWidget]]:
        """Return the model library's Library and Pretrain pages, when they are installed."""
        found = []
        for key, (module, cls_name, title) in self.optional_modules.items():
            try:
                cls = getattr(importlib.import_module(module), cls_name)
            except Exception:  # noqa: BLE001 - a broken optional page must not stop us
                log.exception("cannot import the %s page", title)
                continue
            page = None
            for args in ((), (self.project, self.runner)):
                try:
                    page = cls(*args)
                    break
                except TypeError:
                    continue
                except Exception:  # noqa: BLE001 - a broken optional page must not stop us
                    log.exception("cannot create the %s page", title)
                    break
            if page is not None:
                found.append((key, page))
        return found

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")

        def action(menu: Any, text: str, slot: Any, shortcut: Any = None) -> QAction:
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            menu.addAction(act)
            return act

        action(file_menu, "&New project", self.new_project, QKeySequence.StandardKey.New)
        action(file_menu, "&Open project…", self.choose_project, QKeySequence.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        action(file_menu, "&Save project", self.save_project, QKeySequence.StandardKey.Save)
        action(file_menu, "Save project &as…", self.save_project_as,
               QKeySequence.StandardKey.SaveAs)
        action(file_menu, "&Export spec for the CLI…", self.export_spec)
        file_menu.addSeparator()
        action(file_menu, "Open &data…", self._open_data, "Ctrl+Shift+O")
        file_menu.addSeparator()
        action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        go = bar.addMenu("&Go")
        for i, key in enumerate(self.titles):
            act = QAction(key.capitalize(), self)
            act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            act.setData(key)
            act.triggered.connect(self._on_go_action)
            go.addAction(act)

        train = bar.addMenu("&Training")
        self.start_action = action(train, "&Start training", self.start_training, "Ctrl+Return")
        self.stop_action = QAction("S&top training", self)
        self.stop_action.setShortcut(QKeySequence("Ctrl+."))
        train.addAction(self.stop_action)
        self.stop_action.setEnabled(False)

        help_menu = bar.addMenu("&Help")
        action(help_menu, "&About Fine-Tuning Studio", self.show_about)

    def _connect_pages(self) -> None:
        for page in (self.model_page, self.train_page, self.runs_page):
            page.errorRaised.connect(self.show_error)
            page.statusMessage.connect(self.show_status)
        self.evaluate_page.statusMessage.connect(self.show_status)
        self.data_page.previewed.connect(self.model_page.set_preview)
        self.train_page.runningChanged.connect(self._on_training_running)
        self.train_page.runFinished.connect(self._on_run_finished)
        self.train_page.showEvaluation.connect(self._on_show_evaluation)
        self.runs_page.runOpened.connect(self._on_run_opened)
        self.runs_page.specRequested.connect(self._on_spec_requested)
        library = self.optional_pages.get("library")
        entries = getattr(library, "entriesChanged", None)
        if entries is not None:
            entries.connect(self.model_page.set_library_entries)
            try:
                self.model_page.set_library_entries(list(library.entries()))  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001 - the list arrives with the next refresh anyway
                pass
        pretrain = self.optional_pages.get("pretrain")
        finished = getattr(pretrain, "pretrainFinished", None)
        if finished is not None and hasattr(library, "refresh"):
            # a freshly pretrained encoder shows up in the library (and the backbone list)
            finished.connect(library.refresh)  # type: ignore[union-attr]

    # ================================================================ engine
    @Slot()
    def start_engine(self) -> None:
        """Import TensorFlow and the engine in the background (once)."""
        self.finish_setup()
        if self.engine_state in ("loading", "ready"):
            return
        self.engine_state = "loading"
        self._set_engine_label("Loading engine…", "loading")
        job = Job(engine_calls.load_engine, title="The engine failed to load")
        job.succeeded.connect(self._on_engine_ready)
        job.failed.connect(self._on_engine_failed)
        self._engine_job = job.id
        self.runner.start(job)
        self.runs_page.refresh()

    @Slot(int, object)
    def _on_engine_ready(self, job_id: int, info: EngineInfo) -> None:
        self.finish_setup()
        self.engine_state = "ready"
        self.engine_info = info
        versions = " · ".join(f"{k} {v}" for k, v in info.versions.items())
        self._set_engine_label(f"Ready · {info.device}", "ready")
        self.engine_label.setToolTip(f"{versions}\nloaded in {info.seconds:.1f} s")
        self.model_page.set_backbones(info.backbones)
        self.show_status(f"Engine ready ({info.seconds:.1f} s)")
        # TensorFlow and Keras leave ~10^6 long-lived objects in this process; a full garbage
        # collection walks all of them and froze the UI for 100-250 ms at a time during
        # training. Move them out of the collector's sight for good.
        gc.collect()
        gc.freeze()
        if not self._closing:
            engine_calls.prewarm_training()

    @Slot(int, object)
    def _on_engine_failed(self, job_id: int, info: ErrorInfo) -> None:
        self.engine_state = "failed"
        self.engine_error = info
        self._set_engine_label("Engine failed to load", "failed")
        self.show_error(info)

    def _set_engine_label(self, text: str, state: str) -> None:
        self.engine_label.setText(text)
        self.engine_label.setProperty("state", state)
        self.engine_label.style().unpolish(self.engine_label)
        self.engine_label.style().polish(self.engine_label)

    # ================================================================= pages
    def go_to(self, key: str) -> None:
        """Show page ``key`` (``data``, ``model``, ``train``, ``evaluate``, ``runs``…)."""
        keys = self._keys()
        if key in keys:
            self.sidebar.setCurrentRow(keys.index(key))

    def _keys(self) -> list[str]:
        return [self.sidebar.item(r).data(Qt.ItemDataRole.UserRole)
                for r in range(self.sidebar.count())]

    def current_page(self) -> str:
        """Return the key of the page shown."""
        return self._keys()[self.stack.currentIndex()]

    @Slot(int)
    def _on_sidebar_row(self, row: int) -> None:
        if row > 0:
            self.finish_setup()
        self.stack.setCurrentIndex(row)

    @Slot()
    def _on_go_action(self) -> None:
        act = self.sender()
        if isinstance(act, QAction):
            self.go_to(str(act.data()))

    @Slot()
    def _open_data(self) -> None:
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
        self.start_action.setEnabled(not running)
        self.stop_action.setEnabled(running)
        item = self.sidebar.item(self._keys().index("train"))
        item.setText("  Train  ●" if running else "  Train")

    @Slot(object)
    def _on_run_finished(self, outcome: TrainOutcome) -> None:
        self.project.ui_state["last_run"] = outcome.run_dir
        if self._closing:
            return
        self.runs_page.refresh()
        self.runs_page.open_run(outcome.run_dir, purpose="quiet")

    @Slot(str)
    def _on_show_evaluation(self, run_dir: str) -> None:
        self.go_to("evaluate")
        if self.evaluate_page.run is None or Path(self.evaluate_page.run.path) != Path(run_dir):
            self.runs_page.open_run(run_dir, purpose="show")

    @Slot(object, bool)
    def _on_run_opened(self, details: RunDetails, switch: bool) -> None:
        self.evaluate_page.show_run(details)
        if switch:
            self.train_page.show_history(details.history, details.name)
            self.go_to("evaluate")

    @Slot(object)
    def _on_spec_requested(self, details: RunDetails) -> None:
        if not self._confirm_discard():
            return
        try:
            spec = ExperimentSpec.from_dict(details.spec)
        except FtStudioError as exc:
            self.show_error(ErrorInfo("Cannot use this run's settings", str(exc), None, True))
            return
        self.project.set_spec(spec, None, {"last_run": details.path})
        self.project.touch("name")
        self.evaluate_page.show_run(details)
        self.go_to("data")

    # ============================================================== projects
    @Slot()
    def new_project(self) -> None:
        """Start an empty project (asks to save unsaved changes)."""
        self.finish_setup()
        if self._confirm_discard():
            self.project.new()
            self.evaluate_page.clear()
            self.go_to("data")

    @Slot()
    def choose_project(self) -> None:
        """Ask for a project (or spec) file and open it."""
        if not self._confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open a project", self._last_dir(),
                                              PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> bool:
        """Open a project file or a plain spec file; errors become a dialog.

        Returns:
            True when it opened.
        """
        self.finish_setup()
        try:
            self.project.open(path)
        except FtStudioError as exc:
            self.show_error(ErrorInfo("Cannot open the project", str(exc), None, True))
            remove_recent(path, self.settings)
            return False
        if self.project.path is not None:
            add_recent(self.project.path, self.settings)
        self.settings.setValue("paths/last_dir", str(Path(path).resolve().parent))
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
        if self.project.path is None:
            return self.save_project_as()
        self.project.save(None, self.ui_state())
        add_recent(self.project.path, self.settings)  # type: ignore[arg-type]
        self.show_status(f"Saved {self.project.path}")
        return True

    @Slot()
    def save_project_as(self, path: str | Path | None = None) -> bool:
        """Save under a new name (``path`` or a file dialog)."""
        if not path:
            start = str(Path(self._last_dir()) / f"{self.project.spec.name}{PROJECT_SUFFIX}")
            path, _ = QFileDialog.getSaveFileName(self, "Save the project", start, PROJECT_FILTER)
            if not path:
                return False
        p = Path(path)
        if not p.suffix:
            p = p.with_suffix(PROJECT_SUFFIX)
        if self.project.spec.name in ("", "experiment"):
            self.project.spec.name = p.stem.removesuffix(".ftsproj")
        try:
            self.project.save(p, self.ui_state())
        except OSError as exc:
            self.show_error(ErrorInfo("Cannot save the project", f"{p}: {exc.strerror or exc}",
                                      None, True))
            return False
        add_recent(p, self.settings)
        self.settings.setValue("paths/last_dir", str(p.resolve().parent))
        self.show_status(f"Saved {p}")
        return True

    @Slot()
    def export_spec(self, path: str | Path | None = None) -> bool:
        """Write the spec alone (what ``ftstudio train SPEC`` reads)."""
        if not path:
            start = str(Path(self._last_dir()) / f"{self.project.spec.name}.json")
            path, _ = QFileDialog.getSaveFileName(self, "Export the spec", start,
                                                  "Spec files (*.json)")
            if not path:
                return False
        try:
            self.project.spec.save(path)
        except OSError as exc:
            self.show_error(ErrorInfo("Cannot export the spec", str(exc), None, True))
            return False
        self.show_status(f"Exported the spec to {path} — run it with: ftstudio train {path}")
        return True

    def ui_state(self) -> dict[str, Any]:
        """Return what a project file keeps about the window."""
        self.finish_setup()
        state = dict(self.project.ui_state)
        state["page"] = self.current_page()
        if self.evaluate_page.run is not None:
            state["last_run"] = self.evaluate_page.run.path
        return state

    def _last_dir(self) -> str:
        value = self.settings.value("paths/last_dir", "")
        return str(value) if value and Path(str(value)).is_dir() else str(Path.home())

    @Slot()
    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        items = recent_projects(self.settings)
        if not items:
            act = self.recent_menu.addAction("No recent projects")
            act.setEnabled(False)
            return
        for path in items:
            act = self.recent_menu.addAction(Path(path).name)
            act.setToolTip(path)
            act.setData(path)
            act.triggered.connect(self._on_recent)

    @Slot()
    def _on_recent(self) -> None:
        act = self.sender()
        if isinstance(act, QAction) and self._confirm_discard():
            self.open_project(str(act.data()))

    def _confirm_discard(self) -> bool:
        """When there are unsaved changes, ask to save them; False means "cancel"."""
        if not self.project.dirty:
            return True
        answer = self.ask("Unsaved changes", "Save the changes to this project first?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Save:
            return self.save_project()
        return answer == QMessageBox.StandardButton.Discard

    def ask(self, title: str, text: str,
            buttons: QMessageBox.StandardButton) -> QMessageBox.StandardButton:
        """Ask a blocking question (tests replace this method)."""
        return QMessageBox.question(self, title, text, buttons)

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
        info = self.engine_info
        versions = ", ".join(f"{k} {v}" for k, v in info.versions.items()) if info else \
            "engine not loaded yet"
        QMessageBox.about(self, "About Fine-Tuning Studio",
                          f"<b>Fine-Tuning Studio</b> {ftstudio.__version__}<br>"
                          f"Fine-tune pretrained models on your own data, offline.<br><br>"
                          f"{versions}")

    # ========================================================== drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802, D102
        if self._drop_target(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802, D102
        target = self._drop_target(event.mimeData())
        if target is None:
            return
        event.acceptProposedAction()
        kind, path = target
        if kind == "project":
            if self._confirm_discard():
                self.open_project(path)
        else:
            self.go_to("data")
            self.data_page.open_path(path)

    def _drop_target(self, mime: Any) -> tuple[str, str] | None:
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile():
                p = Path(url.toLocalFile())
                if p.suffix in (PROJECT_SUFFIX, ".json"):
                    return "project", str(p)
        data = droppable_path(mime)
        if data is not None and (Path(data).is_dir() or Path(data).suffix.lower()
                                 in CSV_SUFFIXES):
            return "data", data
        return None

    # ============================================================ geometry
    def restore_geometry(self) -> None:
        """Restore the last size and position (default 1280×800)."""
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)

    def save_geometry(self) -> None:
        """Remember the size and position."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.sync()

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
        elif not self._confirm_discard():
            event.ignore()
            return
        self.save_geometry()
        self._closing = True
        self.hide()
        self.shutdown()
        event.accept()

    def shutdown(self, timeout_ms: int = 120_000) -> bool:
        """Stop training, then wait for every worker thread to end (never abort a thread).

        Returns:
            True when every thread ended within ``timeout_ms``.
        """
        self._closing = True
        if self._pages_ready and self.train_page.running:
            self.train_page.stop()
        for page in self.pages.values():
            stop = getattr(page, "shutdown", None)
            if callable(stop) and page is not getattr(self, "train_page", None):
                try:
                    stop()
                except Exception:  # noqa: BLE001 - shutting down anyway
                    log.exception("page shutdown failed")
        ok = self.runner.wait_all(timeout_ms)
        engine_calls.shutdown_training()
        for timer in self.findChildren(QTimer):
            timer.stop()
        return ok
