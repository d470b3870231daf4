"""The window's menu bar: File, Go, Training and Help."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from ftstudio.ui.main_window import MainWindow

__all__ = ["WindowActions", "build_menus"]


@dataclass
class WindowActions:
    """The menu items the window enables and disables as it goes."""

    start_training: QAction
    stop_training: QAction
    recent_menu: QMenu


def _add(window: MainWindow, menu: QMenu, text: str, slot: Callable[..., Any],
         shortcut: QKeySequence.StandardKey | str | None = None) -> QAction:
    act = QAction(text, window)
    if shortcut is not None:
        act.setShortcut(QKeySequence(shortcut))
    act.triggered.connect(slot)
    menu.addAction(act)
    return act


def build_menus(window: MainWindow, pages: dict[str, str]) -> WindowActions:
    """Fill the window's menu bar.

    Args:
        window: the main window (its slots are what the items do).
        pages: page key -> title, in sidebar order (the Go menu, Ctrl+1, Ctrl+2, …).
    """
    keys = QKeySequence.StandardKey
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    _add(window, file_menu, "&New project", window.new_project, keys.New)
    _add(window, file_menu, "&Open project…", window.choose_project, keys.Open)
    recent_menu = file_menu.addMenu("Open &recent")
    window.files.attach_recent_menu(recent_menu)
    file_menu.addSeparator()
    _add(window, file_menu, "&Save project", window.save_project, keys.Save)
    _add(window, file_menu, "Save project &as…", window.save_project_as, keys.SaveAs)
    _add(window, file_menu, "&Export spec for the CLI…", window.export_spec)
    file_menu.addSeparator()
    _add(window, file_menu, "Open &data…", window.open_data, "Ctrl+Shift+O")
    file_menu.addSeparator()
    _add(window, file_menu, "&Quit", window.close, keys.Quit)

    go = bar.addMenu("&Go")
    for i, key in enumerate(pages):
        act = _add(window, go, key.capitalize(), window.go_to_sender, f"Ctrl+{i + 1}")
        act.setData(key)

    train = bar.addMenu("&Training")
    start = _add(window, train, "&Start training", window.start_training, "Ctrl+Return")
    stop = QAction("S&top training", window)
    stop.setShortcut(QKeySequence("Ctrl+."))
    stop.setEnabled(False)
    train.addAction(stop)

    help_menu = bar.addMenu("&Help")
    _add(window, help_menu, "&About Fine-Tuning Studio", window.show_about)
    return WindowActions(start, stop, recent_menu)
