"""Readable error dialogs for worker failures (non-blocking, so the app stays responsive)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

from ftstudio.bridge.jobs import ErrorInfo

__all__ = ["show_error"]


def show_error(parent: QWidget | None, info: ErrorInfo) -> QMessageBox:
    """Open a window-modal message box for ``info`` and return it (it does not block).

    User errors (:class:`~ftstudio.errors.FtStudioError`) show their message only; unexpected
    errors add the traceback under "Show Details…".
    """
    box = QMessageBox(parent)
    box.setObjectName("errorDialog")
    box.setWindowTitle(info.title)
    box.setIcon(QMessageBox.Icon.Warning if info.user_error else QMessageBox.Icon.Critical)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setText(info.title)
    box.setInformativeText(info.message)
    if info.details:
        box.setDetailedText(info.details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
