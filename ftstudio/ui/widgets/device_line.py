"""One line on the Train page saying which device trains (a GPU's name, or the CPU and why).

Before a run it shows what the engine found on this machine; once a run starts, what the run
itself reported (its job process chooses the device: ``engine.devices``), which also says why no
GPU is used and how it trains (mixed precision, XLA).
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

__all__ = ["DeviceLine"]


class DeviceLine(QLabel):
    """A one-line, right-elided label: ``Device: CPU (no GPU found…): float32, no XLA``.

    The whole text is its tooltip. It never changes height, so it never resizes the charts
    under it.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("trainDevice")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._full = ""
        self.show_machine("")

    @Slot(str)
    def show_machine(self, device: str) -> None:
        """Show this machine's device as the engine found it (``CPU``, ``GPU: …``)."""
        if device:
            self._set(f"Device: {device} (the run says how it trains when it starts)")
        else:
            self._set("Device: known once the engine has loaded")

    @Slot(str)
    def show_reported(self, device: str) -> None:
        """Show the device a run reported (``CPU (why): float32, no XLA``)."""
        self._set(f"Device: {device}")

    def full_text(self) -> str:
        """The whole line (what is shown may be cut)."""
        return self._full

    def minimumSizeHint(self) -> QSize:  # noqa: N802, D102
        return QSize(40, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802, D102
        super().resizeEvent(event)
        self._elide()

    def _set(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def _elide(self) -> None:
        width = max(40, self.width())
        self.setText(self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight,
                                                   width))
