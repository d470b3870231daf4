"""Start the window: ``run_app()`` is what ``ftstudio`` (no arguments) and ``make run`` call.

Start-up order matters: Qt and the window first (well under a second), TensorFlow later. The
engine is imported by a background job started right after the window is on screen; the status
bar says "Loading engine…" and then "Ready".
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ftstudio.ui.main_window import MainWindow
from ftstudio.ui.resources import icon, style_sheet
from ftstudio.ui.settings import APPLICATION, ORGANIZATION

__all__ = ["create_app", "create_window", "run_app"]

ENGINE_DELAY_MS = 150
"""How long after the window shows the engine starts loading (lets the first paint happen)."""


def create_app(argv: Sequence[str] | None = None) -> QApplication:
    """Return the QApplication (created once; an existing one is reused), styled."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
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


def create_window(project: str | None = None, runs_root: str | None = None) -> MainWindow:
    """Return the main window, with ``project`` (a project or spec file) opened."""
    window = MainWindow(runs_root=runs_root)
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
    t0 = time.perf_counter()
    app = create_app(argv)
    window = create_window(project)
    window.show()
    QTimer.singleShot(ENGINE_DELAY_MS, window.start_engine)
    if os.environ.get("FTSTUDIO_DEBUG_STARTUP"):
        print(f"window shown after {time.perf_counter() - t0:.3f} s", file=sys.stderr)
    app.aboutToQuit.connect(window.shutdown)
    return int(app.exec())
