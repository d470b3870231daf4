"""One line on the Train page saying which device trains (a GPU's name, or the CPU and why).

Before a run it shows what the engine found on this machine; once a run starts, what the run
itself reported (its job process chooses the device: ``engine.devices``), which also says why no
GPU is used and how it trains (mixed precision, XLA).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QSizePolicy, QWidget

from ftstudio.ui.widgets.common import ElidedLabel

__all__ = ["DeviceLine"]


class DeviceLine(ElidedLabel):
    """A one-line label cut at its end: ``Device: CPU (no GPU found…): float32, no XLA``.

    The whole text is its tooltip. It never changes height, so it never resizes the charts
    under it.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("trainDevice")
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.show_machine("")

    @Slot(str)
    def show_machine(self, device: str) -> None:
        """Show this machine's device as the engine found it (``CPU``, ``GPU: …``)."""
        self.set_full_text(f"Device: {device} (the run says how it trains when it starts)"
                           if device else "Device: known once the engine has loaded")

    @Slot(str)
    def show_reported(self, device: str) -> None:
        """Show the device a run reported (``CPU (why): float32, no XLA``)."""
        self.set_full_text(f"Device: {device}")

    def _elide(self) -> None:
        # the start says the most here (the device), unlike a path's
        width = max(40, self.width())
        self.setText(self.fontMetrics().elidedText(self.full_text(), Qt.TextElideMode.ElideRight,
                                                   width))
