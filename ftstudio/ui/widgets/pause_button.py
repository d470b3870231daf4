"""The Train page's Pause / Resume button (a run's reporter holds the pause switch)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QPushButton, QWidget

__all__ = ["PauseButton"]


class PauseButton(QPushButton):
    """Pause / Resume of a running job, through its reporter's pause switch.

    Signals:
        pauseChanged(bool): the user paused (True) or resumed (False) the run.
    """

    pauseChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Pause", parent)
        self.setObjectName("pauseButton")
        self.setToolTip("Hold training after the current batch, nothing lost; press again to "
                        "resume")
        self.setEnabled(False)
        self.paused = False
        self._reporter: Any = None
        self.clicked.connect(self.toggle_pause)

    def attach(self, reporter: Any) -> None:
        """Control the run that reports to ``reporter`` (its ``request_pause(bool)``)."""
        self._reporter = reporter
        self._show(False)
        self.setEnabled(True)

    def detach(self) -> None:
        """The run ended: nothing to pause."""
        self._reporter = None
        self._show(False)
        self.setEnabled(False)

    @Slot()
    def toggle_pause(self) -> None:
        """Pause a running run, or resume a paused one."""
        if self._reporter is None:
            return
        self._show(not self.paused)
        self._reporter.request_pause(self.paused)
        self.pauseChanged.emit(self.paused)

    def _show(self, paused: bool) -> None:
        self.paused = paused
        self.setText("Resume" if paused else "Pause")
        self.setProperty("primary", paused)
        self.style().unpolish(self)
        self.style().polish(self)
