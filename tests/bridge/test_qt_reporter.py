"""QtReporter: throttled, ordered, lossless signals from a worker thread to the GUI thread."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QObject, QThread, Slot

from ftstudio.bridge.qt_reporter import QtReporter
from ftstudio.engine.reporting import Reporter

pytestmark = pytest.mark.gui


class Sink(QObject):
    """Lives in the GUI thread; records what arrives and in which thread."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[tuple[int, dict]] = []
        self.chunks = 0
        self.epochs: list[int] = []
        self.ended: list[dict] = []
        self.threads: set[object] = set()

    @Slot(object)
    def on_batches(self, chunk: list) -> None:
        self.chunks += 1
        self.batches.extend(chunk)
        self.threads.add(QThread.currentThread())

    @Slot(int, object)
    def on_epoch(self, epoch: int, logs: dict) -> None:
        self.epochs.append(epoch)
        self.threads.add(QThread.currentThread())

    @Slot(object)
    def on_end(self, logs: dict) -> None:
        self.ended.append(logs)


def test_is_a_reporter(qapp) -> None:
    assert isinstance(QtReporter(), Reporter)


def test_batches_are_throttled_ordered_and_complete(qtbot) -> None:
    reporter = QtReporter(min_interval=0.05)
    sink = Sink()
    reporter.batchesArrived.connect(sink.on_batches)
    reporter.epochEnded.connect(sink.on_epoch)
    reporter.trainEnded.connect(sink.on_end)
    n = 3000

    def work() -> None:
        reporter.train_begin({"epochs": 1, "steps_per_epoch": n})
        for step in range(1, n + 1):
            reporter.batch_end(step, {"loss": 1.0 / step, "batch_loss": 1.0})
            if step % 100 == 0:
                time.sleep(0.01)  # ~0.3 s of "training"
        reporter.epoch_end(1, {"loss": 0.5})
        reporter.train_end({"stopped_by_user": False})

    t0 = time.monotonic()
    thread = threading.Thread(target=work)
    thread.start()
    qtbot.waitUntil(lambda: bool(sink.ended), timeout=10_000)
    thread.join()
    elapsed = time.monotonic() - t0
    assert [s for s, _ in sink.batches] == list(range(1, n + 1))  # nothing lost, in order
    assert sink.chunks <= elapsed / 0.05 + 3  # <= 20 Hz (plus the flushes)
    assert sink.chunks >= 2
    assert sink.epochs == [1]
    assert sink.threads == {QThread.currentThread()}  # delivered in the GUI thread


def test_stop_request_and_reset(qapp) -> None:
    reporter = QtReporter()
    assert not reporter.should_stop()
    reporter.request_stop()
    assert reporter.should_stop()
    reporter.reset()
    assert not reporter.should_stop()


def test_progress_is_throttled_but_keeps_the_end(qtbot) -> None:
    reporter = QtReporter(min_interval=10.0)
    seen: list[tuple[float, object]] = []

    class P(QObject):
        @Slot(float, object)
        def on(self, done: float, total: object) -> None:
            seen.append((done, total))

    p = P()
    reporter.progressed.connect(p.on)
    for i in range(1, 101):
        reporter.progress(i, 100)
    qtbot.waitUntil(lambda: (100.0, 100.0) in seen, timeout=2000)
    assert len(seen) == 2  # the first one and the final one
