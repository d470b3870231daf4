"""The Train page's warm-start line: "Starts from the weights of run <name>" and "Start fresh".

Shown while the spec's ``training.init_from_run`` names a run (set by "Retrain from the last
run" or by hand in the spec); "Start fresh" clears the key. Only the spec is read and written.
"""

from __future__ import annotations

from pathlib import PurePath

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from ftstudio.spec import ExperimentSpec

__all__ = ["WarmStartLine"]


class WarmStartLine(QWidget):
    """Says which run's weights the next run starts from, with a button to start fresh.

    Signals:
        cleared(): the user pressed "Start fresh" (the spec's key is already cleared).
    """

    cleared = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("warmStartLine")
        self._spec: ExperimentSpec | None = None
        self.label = QLabel("")
        self.label.setObjectName("warmStartLabel")
        self.label.setWordWrap(True)  # a long run name wraps instead of widening the page
        self.fresh_btn = QPushButton("Start fresh")
        self.fresh_btn.setObjectName("startFreshButton")
        self.fresh_btn.setToolTip("Train from the backbone's weights instead of this run's")
        self.fresh_btn.clicked.connect(self.start_fresh)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        lay.addWidget(self.label, 1)
        lay.addWidget(self.fresh_btn)
        self.setVisible(False)

    def show_for(self, spec: ExperimentSpec) -> None:
        """Show the line when ``spec`` starts from a run's weights; hide it otherwise."""
        self._spec = spec
        run = spec.training.init_from_run
        if run:
            name = PurePath(run).name or str(run)
            self.label.setText(f"Starts from the weights of run {name}")
            self.label.setToolTip(str(run))
        self.setVisible(bool(run))

    @Slot()
    def start_fresh(self) -> None:
        """Clear ``training.init_from_run``: the next run starts from the backbone's weights."""
        if self._spec is None:
            return
        self._spec.training.init_from_run = None
        self.setVisible(False)
        self.cleared.emit()
