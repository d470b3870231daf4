"""Start the window: ``run_app()`` is what ``ftstudio`` (no arguments) and ``make run`` call.

Start-up order matters: Qt and the window first (well under a second), TensorFlow later. The
other pages (and pyqtgraph) are built right after the first paint; the engine is imported by a
background job started after that; the status bar says "Loading engine…" and then "Ready".
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication

from ftstudio import config
from ftstudio.ui.main_window import MainWindow
from ftstudio.ui.resources import icon, style_sheet
from ftstudio.ui.settings import APPLICATION, ORGANIZATION

__all__ = ["create_app", "create_window", "run_app"]

ENGINE_DELAY_MS = 150
"""How long after the window shows the engine starts loading (lets the first paint happen)."""


def create_app(argv: Sequence[str] | None = None) -> QApplication:
    """Return the QApplication (created once; an existing one is reused), styled."""
    config.quiet_tensorflow_logs()
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName(APPLICATION)
    app.setWindowIcon(icon("app"))
    app.setStyle("Fusion")
    app.setStyleSheet(style_sheet())
    return app


def create_window(project: str | None = None, runs_root: str | None = None,
                  defer_pages: bool = False) -> MainWindow:
    """Return the main window, with ``project`` (a project or spec file) opened.

    Args:
        project: a project or spec file to open.
        runs_root: where run folders go (default ``FTSTUDIO_HOME/runs``).
        defer_pages: build only the first page now; :meth:`MainWindow.finish_setup` builds
            the rest (``run_app`` calls it once the window is on screen).
    """
    window = MainWindow(runs_root=runs_root, defer_pages=defer_pages)
    if project:
        window.open_project(project)
    return window


def run_app(project: str | None = None, argv: list[str] | None = None) -> int:
    """Open the window (on ``project`` when given) and run the event loop.

    Args:
        project: a project file (``.ftsproj``) or a plain spec JSON to open.
        argv: Qt command-line arguments (default: the program name only).

    Returns:
        The exit code.
    """
    app = create_app(argv)
    window = create_window(None, defer_pages=True)
    window.show()
    # first paint, then the other pages (and the project), then the engine in the background
    _AfterFirstPaint(window, project, parent=app)
    probe = config.startup_probe()
    if probe:
        _StartupProbe(window, engine=probe == "engine", parent=app)
    app.aboutToQuit.connect(window.shutdown)
    return int(app.exec())


class _AfterFirstPaint(QObject):
    """After the first paint: build the other pages, open the project, then load the engine."""

    def __init__(self, window: MainWindow, project: str | None, parent: QObject) -> None:
        super().__init__(parent)
        self.window = window
        self.project = project
        self.timer = QTimer(self)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    @Slot()
    def _tick(self) -> None:
        handle = self.window.windowHandle()
        if handle is None or not handle.isExposed():
            return
        self.timer.stop()
        QTimer.singleShot(0, self._finish)

    @Slot()
    def _finish(self) -> None:
        self.window.finish_setup()
        if self.project:
            self.window.open_project(self.project)
        QTimer.singleShot(ENGINE_DELAY_MS, self.window.start_engine)


class _StartupProbe(QObject):
    """Print when the window is on screen (and the engine ready), then quit.

    For ``benchmarks/ui_launch.py``: times count from ``FTSTUDIO_T0`` (the launcher's
    ``time.time()`` just before it started this process).
    """

    def __init__(self, window: MainWindow, engine: bool, parent: QObject) -> None:
        super().__init__(parent)
        self.window = window
        self.engine = engine
        self.t0 = config.startup_time(time.time())
        self.shown = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(2)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    @Slot()
    def _tick(self) -> None:
        handle = self.window.windowHandle()
        if not self.shown and handle is not None and handle.isExposed():
            self.window.repaint()
            self.shown = time.time() - self.t0
            print(f"ftstudio-startup window_visible_s={self.shown:.3f}", file=sys.stderr,
                  flush=True)
            if not self.engine:
                self.timer.stop()
                QTimer.singleShot(0, QApplication.quit)
            return
        if self.shown and self.window.engine_state in ("ready", "failed"):
            print(f"ftstudio-startup engine_{self.window.engine_state}_s="
                  f"{time.time() - self.t0:.3f}", file=sys.stderr, flush=True)
            self.timer.stop()
            QTimer.singleShot(0, QApplication.quit)
