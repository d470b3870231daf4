"""The engine's start-up: TensorFlow and the engine imported once, in the background.

The window is on screen before TensorFlow loads; this object starts the loading job, keeps its
state (``idle`` → ``loading`` → ``ready`` or ``failed``) and shows it in a status-bar label.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QLabel

from ftstudio.bridge import engine_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo, JobRunner
from ftstudio.bridge.types import EngineInfo

__all__ = ["EngineStartup"]


class EngineStartup(QObject):
    """Loads the engine once and shows how far it got.

    Signals:
        ready(object): the engine loaded (:class:`EngineInfo`).
        failed(object): it could not load (:class:`ErrorInfo`).

    Attributes:
        state: ``idle``, ``loading``, ``ready`` or ``failed``.
        info: what the loader found, once ready.
        error: why it failed, if it did.
        label: the status-bar label showing the state.
    """

    ready = Signal(object)
    failed = Signal(object)

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.jobs = CurrentJobs(runner, self)
        self.state = "idle"
        self.info: EngineInfo | None = None
        self.error: ErrorInfo | None = None
        self.label = QLabel("Engine not loaded")
        self.label.setObjectName("engineState")

    @Slot()
    def start(self) -> None:
        """Start loading the engine (nothing happens when it is loading or loaded)."""
        if self.state in ("loading", "ready"):
            return
        self.state = "loading"
        self._show("Loading engine…", "loading")
        self.jobs.start("engine", engine_calls.load_engine, on_result=self._on_ready,
                        on_error=self._on_failed, title="The engine failed to load")

    def versions_text(self, separator: str) -> str:
        """The loaded packages and their versions (``tensorflow 2.x · keras 3.x``)."""
        if self.info is None:
            return "engine not loaded yet"
        return separator.join(f"{k} {v}" for k, v in self.info.versions.items())

    def _on_ready(self, info: EngineInfo) -> None:
        self.state = "ready"
        self.info = info
        self._show(f"Ready · {info.device}", "ready")
        self.label.setToolTip(f"{self.versions_text(' · ')}\nloaded in {info.seconds:.1f} s")
        self.ready.emit(info)
        # TensorFlow and Keras leave ~10^6 long-lived objects in this process; a full garbage
        # collection walks all of them and froze the UI for 100-250 ms at a time during
        # training. Move them out of the collector's sight for good. No collection first:
        # on the GUI thread it is itself such a freeze (measured 0.3-0.8 s, freeing a few
        # dozen objects); freezing is instant.
        gc.freeze()

    def _on_failed(self, info: ErrorInfo) -> None:
        self.state = "failed"
        self.error = info
        self._show("Engine failed to load", "failed")
        self.failed.emit(info)

    def _show(self, text: str, state: str) -> None:
        self.label.setText(text)
        self.label.setProperty("state", state)
        self.label.style().unpolish(self.label)
        self.label.style().polish(self.label)
