"""What keeps the window responsive, counted rather than timed.

Measured with ``benchmarks/ui_stall.py --profile``: the live charts' axes cost most of a redraw,
a stage text wrapping to another line resized (and so repainted) all four charts, an idle chart
kept a timer running, and the engine's start-up ran a full garbage collection on the GUI thread.
Each test below fails if one of those comes back.
"""

from __future__ import annotations

import gc
import sys
import threading

import pytest
from PySide6.QtCore import QEvent, QObject, QTimer

from ftstudio.bridge.qt_reporter import DEVICE_STATUS_PREFIX, QtReporter, device_from_status
from ftstudio.ui.widgets.train_charts import TrainCharts, stepped_range


class _EventCounter(QObject):
    """Counts events of one type per watched object."""

    def __init__(self, kind: QEvent.Type, watched: dict[str, QObject]) -> None:
        super().__init__()
        self.kind = kind
        self.watched = watched
        self.counts = dict.fromkeys(watched, 0)
        for obj in watched.values():
            obj.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802, D102
        if event.type() == self.kind:
            for name, target in self.watched.items():
                if obj is target:
                    self.counts[name] += 1
        return False

    def reset(self) -> None:
        self.counts = dict.fromkeys(self.watched, 0)


def _plot_viewports(charts: TrainCharts) -> dict[str, QObject]:
    return {"batch": charts.batch_plot.viewport(), "loss": charts.loss_plot.viewport(),
            "metric": charts.metric_plot.viewport(), "lr": charts.lr_plot.viewport()}


def _settle(qapp) -> None:  # noqa: ANN001
    for _ in range(4):
        qapp.processEvents()


def _batches(first: int, n: int, loss) -> list:  # noqa: ANN001
    return [(s, {"loss": loss(s), "lr": 1e-3}) for s in range(first, first + n)]


def test_idle_charts_run_no_timer(qtbot) -> None:
    charts = TrainCharts(redraw_ms=10)
    qtbot.addWidget(charts)
    assert not charts.timer.isActive()  # nothing to draw: nothing ticks
    charts.add_batches(_batches(1, 20, lambda s: 1.0 / s))
    assert charts.timer.isActive()
    qtbot.waitUntil(lambda: charts.point_counts()["batch"] == 20, timeout=5000)
    qtbot.waitUntil(lambda: not charts.timer.isActive(), timeout=5000)  # all drawn: it stops
    charts.add_epoch(1, {"loss": 0.5, "val_loss": 0.6, "accuracy": 0.7, "val_accuracy": 0.6})
    assert charts.timer.isActive()


def test_a_batch_redraw_repaints_the_batch_chart_only(qtbot, qapp) -> None:  # noqa: ANN001
    charts = TrainCharts(redraw_ms=10_000)
    qtbot.addWidget(charts)
    charts.resize(900, 560)
    charts.show()
    qtbot.waitExposed(charts)
    charts.set_total_steps(1000, 4)
    charts.add_epoch(1, {"loss": 0.5, "val_loss": 0.6, "accuracy": 0.7, "val_accuracy": 0.6})
    charts.add_batches(_batches(1, 50, lambda s: 1.0 / s))
    charts.redraw()
    charts.redraw()
    _settle(qapp)
    paints = _EventCounter(QEvent.Type.Paint, _plot_viewports(charts))
    for i in range(1, 11):
        charts.add_batches(_batches(50 * i + 1, 50, lambda s: 0.5 + 0.01 * (s % 7)))
        charts.redraw()
        _settle(qapp)
    assert paints.counts["loss"] == 0 and paints.counts["metric"] == 0
    assert 1 <= paints.counts["batch"] <= 10
    assert paints.counts["lr"] <= 1  # at most once a second


def test_batch_loss_range_grows_in_steps(qtbot) -> None:
    charts = TrainCharts(redraw_ms=10_000)
    qtbot.addWidget(charts)
    charts.set_total_steps(2000, 4)
    view = charts.batch_plot.getPlotItem().getViewBox()
    changes = []
    view.sigYRangeChanged.connect(lambda *_: changes.append(1))
    for i in range(40):  # a loss falling at every batch: a new minimum at every redraw
        charts.add_batches(_batches(50 * i + 1, 50, lambda s: 2.0 / (1 + s / 100)))
        charts.redraw()
    assert charts.redraws == 40
    assert len(changes) <= 8, "the y axis followed every new minimum"
    low, high = view.viewRange()[1]
    assert low <= 2.0 / (1 + 2000 / 100) and high >= 2.0 / (1 + 1 / 100)  # all data shown
    assert low >= -0.05 * high  # a loss never gets a negative axis of any size
    charts.finish_live()  # the finished run: the exact range again
    assert view.autoRangeEnabled()[1]


def test_stepped_range() -> None:
    assert stepped_range((0.0, 2.0), 0.5, 1.5) is None
    low, high = stepped_range(None, 1.0, 2.0)
    assert low < 1.0 and high > 2.0
    low, high = stepped_range((0.9, 2.1), 0.5, 2.0)  # left below: room below, top kept
    assert low <= 0.5 - 0.1 * 1.5 and high == 2.1
    low, high = stepped_range((0.5, 1.0), 0.01, 0.9)  # a loss: headroom stops near zero
    assert -0.02 < low < 0.01 and high == 1.0
    assert stepped_range((-1.0, 1.0), -0.5, 0.5) is None


def test_stage_texts_do_not_resize_the_charts(window, qapp) -> None:  # noqa: ANN001
    window.finish_setup()
    window.go_to("train")
    page = window.train_page
    _settle(qapp)
    resizes = _EventCounter(QEvent.Type.Resize, {"charts": page.charts})
    card = page.progress_card
    texts = ["Reading the data…",
             "Training on CPU (TensorFlow without CUDA; on Linux install ftstudio[gpu] for an "
             "NVIDIA GPU): float32, no XLA, and a few more words so that this stage text "
             "wraps onto a second line of the progress card at this window size",
             "Compiling the training step (the first batch takes longest)…"]
    for text in texts:
        card.show_stage(text)
        _settle(qapp)
    assert card.label.height() >= 2 * card.label.fontMetrics().lineSpacing()
    assert resizes.counts["charts"] <= 1  # the label grew once, to the longest text
    resizes.reset()
    for text in texts * 3:  # shorter and longer texts again: the charts keep their size
        card.show_stage(text)
        _settle(qapp)
    assert resizes.counts["charts"] == 0


def test_the_train_page_shows_the_device_the_run_reports(window, qapp) -> None:  # noqa: ANN001
    window.finish_setup()
    page = window.train_page
    reporter = QtReporter()
    reporter.deviceReported.connect(page.device_line.show_reported)
    reporter.status("Reading the data…")
    assert "CPU" not in page.device_line.full_text()
    from ftstudio.engine.devices import DevicePlan

    line = DevicePlan(device="CPU", reason="no GPU found: check the NVIDIA driver").describe()
    assert line.startswith(DEVICE_STATUS_PREFIX)
    reporter.status(line)
    _settle(qapp)
    shown = page.device_line.full_text()
    assert "CPU" in shown and "no GPU found" in shown and "float32" in shown
    assert device_from_status("Training 3 epochs") is None


def test_engine_ready_runs_no_full_collection(qapp) -> None:  # noqa: ANN001
    from ftstudio.bridge.jobs import JobRunner
    from ftstudio.bridge.types import EngineInfo
    from ftstudio.ui.window_engine import EngineStartup

    startup = EngineStartup(JobRunner())
    full = []

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start" and info.get("generation") == 2:
            full.append(threading.get_ident())

    gc.callbacks.append(on_gc)
    try:
        startup._on_ready(EngineInfo({"tensorflow": "x"}, "CPU", [], 1.0))
    finally:
        gc.callbacks.remove(on_gc)
        frozen = gc.get_freeze_count()
        gc.unfreeze()
    assert startup.state == "ready" and frozen > 0  # the engine's objects left the collector
    assert threading.get_ident() not in full


def test_an_idle_window_runs_no_timer_and_reads_no_files(window, qtbot) -> None:  # noqa: ANN001
    window.finish_setup()
    window.go_to("train")
    qtbot.wait(700)  # start-up's one-off timers (debounces, geometry) have fired
    window.go_to("runs")
    window.go_to("train")
    qtbot.wait(300)
    active = [t for t in window.findChildren(QTimer) if t.isActive()
              and not t.isSingleShot()]
    assert not active, [(t.parent().objectName() or type(t.parent()).__name__, t.interval())
                        for t in active]
    gui = threading.get_ident()
    seen: list[str] = []
    watching = [True]

    def hook(event: str, args: tuple) -> None:
        if watching[0] and threading.get_ident() == gui and \
                event in ("open", "os.listdir", "os.scandir"):
            seen.append(f"{event} {args[0]!r}")

    sys.addaudithook(hook)  # cannot be removed: it checks its flag and does nothing after
    try:
        qtbot.wait(1200)
    finally:
        watching[0] = False
    assert not seen, seen[:5]


@pytest.mark.parametrize("text", ["Training on GPU: NVIDIA H200: mixed precision, XLA"])
def test_device_from_status(text: str) -> None:
    assert device_from_status(text) == "GPU: NVIDIA H200: mixed precision, XLA"
