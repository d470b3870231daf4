"""Message boxes: error dialogs for worker failures (non-blocking) and questions.

Window managers put the application's name after a dialog's title; a message box sizes itself
to its text only, so both helpers widen it to show the whole title.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics, QGuiApplication
from PySide6.QtWidgets import QGridLayout, QMessageBox, QSizePolicy, QSpacerItem, QWidget

from ftstudio.bridge.jobs import ErrorInfo
from ftstudio.ui.words import in_window_words

__all__ = ["ask_question", "fit_title", "show_error"]

_TITLE_PADDING = 140
"""Room a title bar takes besides the title: the icon and the window buttons."""


def fit_title(box: QMessageBox) -> None:
    """Make ``box`` at least as wide as its title (with the application's name after it)."""
    font = QFont(box.font())
    font.setBold(True)
    app = QGuiApplication.applicationDisplayName()
    title = f"{box.windowTitle()} — {app}" if app else box.windowTitle()
    width = QFontMetrics(font).horizontalAdvance(title) + _TITLE_PADDING
    layout = box.layout()
    if isinstance(layout, QGridLayout):
        layout.addItem(QSpacerItem(width, 0, QSizePolicy.Policy.Minimum,
                                   QSizePolicy.Policy.Expanding),
                       layout.rowCount(), 0, 1, layout.columnCount())


def ask_question(parent: QWidget | None, title: str, text: str,
                 buttons: QMessageBox.StandardButton,
                 default: QMessageBox.StandardButton = QMessageBox.StandardButton.NoButton
                 ) -> QMessageBox.StandardButton:
    """Ask a blocking question; return the button pressed (its whole title shows)."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, buttons, parent)
    if default != QMessageBox.StandardButton.NoButton:
        box.setDefaultButton(default)
    fit_title(box)
    box.exec()
    return box.standardButton(box.clickedButton()) if box.clickedButton() is not None \
        else QMessageBox.StandardButton.Cancel


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
    box.setInformativeText(in_window_words(info.message))
    if info.details:
        box.setDetailedText(info.details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    fit_title(box)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
