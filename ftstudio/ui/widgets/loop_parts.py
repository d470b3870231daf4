"""What the data-loop views share: one main button with a status line, and their tables.

:class:`ActionView` is a view whose main button starts a job: :meth:`~ActionView.set_busy`
disables it while the job runs, :meth:`~ActionView.set_error` says why there is no result.
:func:`example_table` and :func:`fill_row` build the review and label-next tables.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

__all__ = ["ActionView", "example_table", "fill_row", "muted_label", "primary_button"]


def primary_button(text: str, name: str) -> QPushButton:
    """The view's main (blue) button."""
    button = QPushButton(text)
    button.setObjectName(name)
    button.setProperty("primary", True)
    return button


def muted_label(text: str) -> QLabel:
    """A grey, wrapping line of explanation or status."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setObjectName("muted")
    return label


class ActionView(QWidget):
    """A view with a main button (``action_btn``) and a status line (``status``).

    Subclasses set both in their ``__init__`` before using the methods.
    """

    action_btn: QPushButton
    status: QLabel

    def set_busy(self, text: str) -> None:
        """Show that the view's job runs (the main button waits for it)."""
        self.action_btn.setEnabled(False)
        self.status.setText(text)

    def set_error(self, text: str) -> None:
        """Say why there is no result (the main button works again)."""
        self.action_btn.setEnabled(True)
        self.status.setText(text)


def example_table(headers: Sequence[str], name: str) -> QTableWidget:
    """A read-only table of examples whose second column (the example) takes the width."""
    table = QTableWidget(0, len(headers))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().setVisible(False)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    head = table.horizontalHeader()
    head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
    return table


def fill_row(table: QTableWidget, row: int, cells: Sequence[str],
             right: Sequence[int] = (0,)) -> None:
    """Put ``cells`` in ``row`` (with tooltips); columns in ``right`` are right-aligned."""
    for c, text in enumerate(cells):
        item = QTableWidgetItem(text)
        item.setToolTip(text)
        if c in right:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        table.setItem(row, c, item)
