"""Pausing a run and extending a finished one, for the window.

:class:`PausableReporter` is the Train page's reporter: besides the throttled signals of
:class:`~ftstudio.bridge.qt_reporter.QtReporter` it carries a pause switch. The child process's
relay (:mod:`ftstudio.bridge.child_process`) passes the switch to the engine through the same
channel as a stop request, and the engine's ``PauseGate`` holds training between two batches
while it is on. :func:`extend` runs ``engine.extend.extend_run`` in the job child like training.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from ftstudio.bridge.qt_reporter import QtReporter
from ftstudio.bridge.types import TrainOutcome

__all__ = ["PausableReporter", "extend", "run_extension", "run_history"]


class PausableReporter(QtReporter):
    """A :class:`QtReporter` that can also ask the run to pause and to resume (thread-safe).

    Args:
        min_interval: the least number of seconds between two batch emits.
        parent: the Qt parent.
    """

    def __init__(self, min_interval: float = 0.05, parent: QObject | None = None) -> None:
        super().__init__(min_interval, parent)
        self._pause = threading.Event()

    def request_pause(self, paused: bool) -> None:
        """Ask the run to hold after the current batch (``True``) or to go on (``False``)."""
        if paused:
            self._pause.set()
        else:
            self._pause.clear()

    def pause_requested(self) -> bool:
        """Whether a pause is asked for (the child relay reads this)."""
        return self._pause.is_set()

    def should_pause(self) -> bool:
        """The engine's question when it runs in this process (``FTSTUDIO_TRAIN_IN_THREAD``)."""
        return self._pause.is_set() and not self.should_stop()

    def reset(self) -> None:
        """Forget a previous stop or pause request and pending batches (before a new run)."""
        super().reset()
        self._pause.clear()


def run_extension(run_dir: str, epochs: int, *, reporter: Any) -> TrainOutcome:
    """Extend a finished run by ``epochs`` (``engine.extend.extend_run``); the child's call.

    Args:
        run_dir: the run folder.
        epochs: epochs to add.
        reporter: the engine's progress sink (it also says when to stop or pause).
    """
    from ftstudio.engine.extend import extend_run

    t0 = time.perf_counter()
    result = extend_run(run_dir, int(epochs), reporter)
    return TrainOutcome(run_dir=str(result.run_dir), metrics=dict(result.metrics),
                        stopped_by_user=bool(result.stopped_by_user),
                        best_epoch=result.best_epoch, seconds=time.perf_counter() - t0)


def extend(run_dir: str, epochs: int, reporter: Any) -> TrainOutcome:
    """Extend a finished run in the job child process, reporting to ``reporter``.

    Like :func:`ftstudio.bridge.engine_calls.train`: ``reporter.request_stop()`` stops it
    after the current batch, :meth:`PausableReporter.request_pause` holds it.
    """
    from ftstudio.bridge.child_process import run_call

    t0 = time.perf_counter()
    outcome: TrainOutcome = run_call("extend", str(run_dir), int(epochs), reporter=reporter)
    return dataclasses.replace(outcome, seconds=time.perf_counter() - t0)


def run_history(run_dir: str) -> list[dict[str, float]]:
    """The rows of a run's ``history.csv`` (one per epoch; ``[]`` when there is none).

    Standard library only and a small file: fine to call on the GUI thread.
    """
    from ftstudio.engine.runs import RunFolder

    return RunFolder(Path(run_dir)).history()
