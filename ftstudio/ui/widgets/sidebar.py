"""The window's left column: the app's name and the list of pages."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

import ftstudio
from ftstudio.ui.resources import icon

__all__ = ["Sidebar"]


class Sidebar(QWidget):
    """The app's name and version over a list of pages (one row per page, with its icon).

    Args:
        titles: page key -> title, in the order they are listed.
        parent: the Qt parent.

    Attributes:
        pages: the list; its current row is the page shown.
    """

    def __init__(self, titles: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebarBox")
        # a QWidget subclass paints its style-sheet background only when asked to
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.titles = dict(titles)
        self.pages = QListWidget()
        self.pages.setObjectName("sidebar")
        self.pages.setIconSize(QSize(20, 20))
        self.pages.setFixedWidth(176)
        self.pages.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        for key, title in titles.items():
            item = QListWidgetItem(icon(key), f"  {title}")
            item.setData(Qt.ItemDataRole.UserRole, key)
            item.setSizeHint(QSize(150, 40))
            self.pages.addItem(item)
        brand = QLabel("Fine-Tuning Studio")
        brand.setObjectName("brand")
        brand_sub = QLabel(f"version {ftstudio.__version__} · offline")
        brand_sub.setObjectName("brandSub")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(brand)
        lay.addWidget(brand_sub)
        lay.addWidget(self.pages, 1)

    def mark(self, key: str, sign: str) -> None:
        """Show ``sign`` after a page's title ("●" while it works; "" to clear it)."""
        item = self.pages.item(list(self.titles).index(key))
        item.setText(f"  {self.titles[key]}  {sign}" if sign else f"  {self.titles[key]}")
