"""Project files for the window: open, save, save as, export the spec, recent projects.

:class:`ProjectFiles` owns the file side (dialogs, the recent list, the last folder, asking to
save unsaved changes); what the pages show after a project opened is the window's business.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from ftstudio.bridge.jobs import ErrorInfo
from ftstudio.errors import FtStudioError
from ftstudio.ui.pages.data_parts import droppable_path
from ftstudio.ui.project import PROJECT_SUFFIX, Project
from ftstudio.ui.settings import add_recent, recent_projects, remove_recent

__all__ = ["PROJECT_FILTER", "ProjectFiles", "drop_target"]

PROJECT_FILTER = f"ftstudio projects (*{PROJECT_SUFFIX} *.json);;All files (*)"

Ask = Callable[[str, str, QMessageBox.StandardButton], QMessageBox.StandardButton]
"""Asks the user a question: ``(title, text, buttons) -> the button pressed``."""


def drop_target(mime: Any) -> tuple[str, str] | None:
    """What a drag onto the window carries: ``("project", path)``, ``("data", path)`` or None.

    A project or spec file (``.ftsproj`` / ``.json``) opens as the project; a CSV file or a
    folder opens as data.
    """
    if not mime.hasUrls():
        return None
    for url in mime.urls():
        if url.isLocalFile():
            p = Path(url.toLocalFile())
            if p.suffix in (PROJECT_SUFFIX, ".json"):
                return "project", str(p)
    data = droppable_path(mime)
    return ("data", data) if data is not None else None


class ProjectFiles(QObject):
    """Reads and writes the project's files, with the dialogs that go with them.

    Signals:
        errorRaised(object): a file could not be read or written (:class:`ErrorInfo`).
        statusMessage(str): a line for the status bar.
        openRequested(str): the user picked a project to open (dialog or recent menu); the
            window opens it.

    Args:
        window: the parent of the dialogs.
        project: the open project.
        settings: where the recent projects and the last folder are kept.
        ask: how to ask the user a question (the window's, which tests replace).
        ui_state: returns what a project file keeps about the window.
    """

    errorRaised = Signal(object)
    statusMessage = Signal(str)
    openRequested = Signal(str)

    def __init__(self, window: QWidget, project: Project, settings: QSettings, ask: Ask,
                 ui_state: Callable[[], dict[str, Any]]) -> None:
        super().__init__(window)
        self.window = window
        self.project = project
        self.settings = settings
        self._ask = ask
        self._ui_state = ui_state
        self._recent_menu: QMenu | None = None

    # ================================================================ opening
    @Slot()
    def choose(self) -> None:
        """Ask for a project (or spec) file and ask the window to open it."""
        if not self.confirm_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self.window, "Open a project", self.last_dir(),
                                              PROJECT_FILTER)
        if path:
            self.openRequested.emit(path)

    def open(self, path: str | Path) -> bool:
        """Read a project file or a plain spec file into the project.

        Returns:
            True when it opened; a failure is reported through :attr:`errorRaised` and drops
            the file from the recent projects.
        """
        try:
            self.project.open(path)
        except FtStudioError as exc:
            self.errorRaised.emit(ErrorInfo("Cannot open the project", str(exc), None, True))
            remove_recent(path, self.settings)
            return False
        if self.project.path is not None:
            add_recent(self.project.path, self.settings)
        self.settings.setValue("paths/last_dir", str(Path(path).resolve().parent))
        return True

    # ================================================================= saving
    @Slot()
    def save(self) -> bool:
        """Save to the project's file (asks for one the first time)."""
        if self.project.path is None:
            return self.save_as()
        self.project.save(None, self._ui_state())
        add_recent(self.project.path, self.settings)  # type: ignore[arg-type]
        self.statusMessage.emit(f"Saved {self.project.path}")
        return True

    def save_as(self, path: str | Path | None = None) -> bool:
        """Save under a new name (``path`` or a file dialog)."""
        path = path or self._ask_save_path("Save the project", PROJECT_SUFFIX, PROJECT_FILTER)
        if not path:
            return False
        p = Path(path)
        if not p.suffix:
            p = p.with_suffix(PROJECT_SUFFIX)
        if self.project.spec.name in ("", "experiment"):
            self.project.spec.name = p.stem.removesuffix(".ftsproj")
        try:
            self.project.save(p, self._ui_state())
        except OSError as exc:
            self.errorRaised.emit(ErrorInfo("Cannot save the project",
                                            f"{p}: {exc.strerror or exc}", None, True))
            return False
        add_recent(p, self.settings)
        self.settings.setValue("paths/last_dir", str(p.resolve().parent))
        self.statusMessage.emit(f"Saved {p}")
        return True

    def export_spec(self, path: str | Path | None = None) -> bool:
        """Write the spec alone (what ``ftstudio train SPEC`` reads)."""
        path = path or self._ask_save_path("Export the spec", ".json", "Spec files (*.json)")
        if not path:
            return False
        try:
            self.project.spec.save(path)
        except OSError as exc:
            self.errorRaised.emit(ErrorInfo("Cannot export the spec", str(exc), None, True))
            return False
        self.statusMessage.emit(f"Exported the spec to {path} — run it with: "
                                f"ftstudio train {path}")
        return True

    def _ask_save_path(self, title: str, suffix: str, filters: str) -> str:
        """Ask where to save, starting at ``<last folder>/<spec name><suffix>`` ("" = cancel)."""
        start = str(Path(self.last_dir()) / f"{self.project.spec.name}{suffix}")
        path, _ = QFileDialog.getSaveFileName(self.window, title, start, filters)
        return path

    def confirm_discard(self) -> bool:
        """When there are unsaved changes, ask to save them; False means "cancel"."""
        if not self.project.dirty:
            return True
        buttons = QMessageBox.StandardButton
        answer = self._ask("Unsaved changes", "Save the changes to this project first?",
                           buttons.Save | buttons.Discard | buttons.Cancel)
        if answer == buttons.Save:
            return self.save()
        return answer == buttons.Discard

    # ========================================================== recent files
    def last_dir(self) -> str:
        """The folder of the last project opened or saved (else the home folder)."""
        value = self.settings.value("paths/last_dir", "")
        return str(value) if value and Path(str(value)).is_dir() else str(Path.home())

    def attach_recent_menu(self, menu: QMenu) -> None:
        """Fill ``menu`` with the recent projects each time it is about to show."""
        self._recent_menu = menu
        menu.aboutToShow.connect(self._fill_recent_menu)

    @Slot()
    def _fill_recent_menu(self) -> None:
        menu = self._recent_menu
        if menu is None:
            return
        menu.clear()
        items = recent_projects(self.settings)
        if not items:
            menu.addAction("No recent projects").setEnabled(False)
            return
        for path in items:
            act = menu.addAction(Path(path).name)
            act.setToolTip(path)
            act.setData(path)
            act.triggered.connect(self._on_recent)

    @Slot()
    def _on_recent(self) -> None:
        act = self.sender()
        if isinstance(act, QAction) and self.confirm_discard():
            self.openRequested.emit(str(act.data()))
