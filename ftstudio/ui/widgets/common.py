"""Small shared widgets and layouts of the pages.

A page header and the page layout, cards, a side-by-side splitter, a debounce timer, a
scientific spin box and a warnings panel.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, QSize, Qt, QTimer
from PySide6.QtGui import QResizeEvent, QValidator
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ftstudio.ui.words import in_window_words

__all__ = ["Card", "ElidedLabel", "MetricCard", "PageHeader", "SciSpinBox", "WarningList",
           "debounce_timer", "hline", "page_layout", "side_by_side"]


class PageHeader(QWidget):
    """A page's title with a one-line explanation under it, and room for actions on the right.

    Args:
        title: the page title.
        subtitle: what the user does on this page.
    """

    def __init__(self, title: str, subtitle: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pageHeader")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 4)
        text = QVBoxLayout()
        text.setSpacing(2)
        self.title = QLabel(title)
        self.title.setObjectName("pageTitle")
        self.subtitle = QLabel(subtitle)
        self.subtitle.setObjectName("pageSubtitle")
        self.subtitle.setWordWrap(True)
        text.addWidget(self.title)
        if subtitle:
            text.addWidget(self.subtitle)
        lay.addLayout(text, 1)
        self.action_row = QHBoxLayout()
        self.action_row.setSpacing(8)
        lay.addLayout(self.action_row)


def page_layout(page: QWidget, header: PageHeader) -> QVBoxLayout:
    """Give a page its layout (the window's margins and spacing) with ``header`` on top."""
    lay = QVBoxLayout(page)
    lay.setContentsMargins(20, 16, 20, 16)
    lay.setSpacing(12)
    lay.addWidget(header)
    return lay


def side_by_side(left: QWidget, right: QWidget, stretch: tuple[int, int],
                 sizes: tuple[int, int]) -> QSplitter:
    """Two panes in a horizontal splitter that never collapses either of them.

    Args:
        left: the left pane.
        right: the right pane.
        stretch: how the panes share extra width.
        sizes: their first widths in pixels.
    """
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.addWidget(left)
    splitter.addWidget(right)
    splitter.setStretchFactor(0, stretch[0])
    splitter.setStretchFactor(1, stretch[1])
    splitter.setChildrenCollapsible(False)
    splitter.setSizes(list(sizes))
    return splitter


def debounce_timer(parent: QObject, interval_ms: int, slot: Callable[[], None]) -> QTimer:
    """A single-shot timer calling ``slot``; each ``start()`` restarts it (so edits coalesce)."""
    timer = QTimer(parent)
    timer.setSingleShot(True)
    timer.setInterval(interval_ms)
    timer.timeout.connect(slot)
    return timer


class Card(QFrame):
    """A white rounded panel with an optional bold title.

    Attributes:
        body: the layout to add the card's content to.
    """

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("card")
        self.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 10, 12, 12)
        outer.setSpacing(8)
        self.title_label: QLabel | None = None
        if title:
            self.title_label = QLabel(title)
            self.title_label.setObjectName("cardTitle")
            outer.addWidget(self.title_label)
        self.body = QVBoxLayout()
        self.body.setSpacing(6)
        outer.addLayout(self.body, 1)


class MetricCard(QFrame):
    """A big number with a caption ("Accuracy 0.912")."""

    def __init__(self, caption: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metricCard")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.setSpacing(0)
        self.value = QLabel("—")
        self.value.setObjectName("metricValue")
        self.caption = QLabel(caption)
        self.caption.setObjectName("metricCaption")
        lay.addWidget(self.value)
        lay.addWidget(self.caption)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_value(self, value: float | None, percent: bool = False, digits: int = 3) -> None:
        """Show a number (``—`` when missing or NaN)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            self.value.setText("—")
        elif percent:
            self.value.setText(f"{100 * value:.1f}%")
        else:
            self.value.setText(f"{value:.{digits}g}" if abs(value) >= 1000 or
                               (value != 0 and abs(value) < 0.001) else f"{value:.{digits}f}")


class ElidedLabel(QLabel):
    """A one-line label that never asks for more width than it gets.

    Long text is cut at the start with "…" (a path's folders go first, its file name and what
    follows stay); the whole text is its tooltip.

    Args:
        text: the text.
        parent: the Qt parent.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        """Show ``text`` (elided to the label's width)."""
        self._full = text
        self.setToolTip(text if text else "")
        self._elide()

    def full_text(self) -> str:
        """The whole text (what :meth:`text` shows may be cut)."""
        return self._full

    def minimumSizeHint(self) -> QSize:  # noqa: N802, D102
        return QSize(40, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802, D102
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(40, self.width())
        super().setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideLeft,
                                                      width))


def hline() -> QFrame:
    """Make a thin horizontal separator."""
    line = QFrame()
    line.setObjectName("hline")
    line.setFrameShape(QFrame.Shape.HLine)
    return line


_NUMBER = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d*)?\s*$")


class SciSpinBox(QDoubleSpinBox):
    """A spin box for learning rates and weight decays: shows ``5e-05``, steps ×/÷ 2.

    Args:
        minimum: the smallest value.
        maximum: the largest value.
    """

    def __init__(self, minimum: float = 1e-8, maximum: float = 10.0,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)
        self.setRange(minimum, maximum)
        self.setKeyboardTracking(False)
        self.setAlignment(Qt.AlignmentFlag.AlignRight)

    def textFromValue(self, value: float) -> str:  # noqa: N802, D102
        return f"{value:.3g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802, D102
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> tuple[QValidator.State, str, int]:  # noqa: D102
        if _NUMBER.match(text):
            try:
                v = float(text)
            except ValueError:
                return QValidator.State.Intermediate, text, pos
            if self.minimum() <= v <= self.maximum():
                return QValidator.State.Acceptable, text, pos
            return QValidator.State.Intermediate, text, pos
        if text.strip() in ("", "-", "+", ".") or re.match(r"^\s*[+-]?[\d.]*[eE][+-]?$", text):
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802, D102
        value = self.value() * (2.0 ** steps) if self.value() > 0 else self.minimum()
        self.setValue(min(self.maximum(), max(self.minimum(), value)))


class WarningList(QFrame):
    """A yellow panel listing warnings (hidden when there are none)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("warningList")
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(10, 8, 10, 8)
        self._lay.setSpacing(4)
        self.items: list[str] = []
        self.hide()

    def set_items(self, items: Sequence[str], error: str | None = None) -> None:
        """Show ``items`` (warnings) and an optional blocking ``error`` first."""
        while self._lay.count():
            item = self._lay.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()
        self.items = list(items)
        shown = ([f"<b>Cannot use this data:</b> {_escape(in_window_words(error))}"]
                 if error else []) + [f"⚠ {_escape(in_window_words(t))}" for t in items]
        self.setProperty("error", bool(error))
        self.style().unpolish(self)
        self.style().polish(self)
        for text in shown:
            label = QLabel(text)
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._lay.addWidget(label)
        self.setVisible(bool(shown))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
