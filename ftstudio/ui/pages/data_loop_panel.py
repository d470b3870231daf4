"""The Data page's tabs for the little-data loop: rows, health, label review, label next, map.

:class:`DataLoopPanel` puts the data preview ("Rows") next to the data health report, the
likely-label-error review, what to label next and the embedding map. Every computation is a
job of :mod:`ftstudio.bridge.data_loop_calls` (off the GUI thread); the review and the map
come from one job (one pass over the pretrained features).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QPushButton, QScrollArea, QTabWidget, QWidget

from ftstudio.bridge import data_loop_calls as calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.jobs import ErrorInfo, JobRunner
from ftstudio.spec import ExperimentSpec
from ftstudio.ui.pages.data_health_view import DataHealthView
from ftstudio.ui.widgets.embedding_map import EmbeddingMapView
from ftstudio.ui.widgets.label_next import LabelNextView
from ftstudio.ui.widgets.label_review import LabelReviewView

__all__ = ["DataLoopPanel", "start_from_run"]


def _narrowable(view: QWidget) -> QScrollArea:
    """``view`` in a frameless scroll area: on a small screen the tab scrolls, not the page."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(view)
    return area


class DataLoopPanel(QTabWidget):
    """Rows, Health, Label review, Label next and Map tabs of the Data page.

    Args:
        rows: the data preview (first tab).
        spec_copy: gives a copy of the project's current spec.
        runner: the window's job runner.

    Signals:
        statusMessage(str): a short line for the status bar.
        errorRaised(object): an unexpected failure (:class:`ErrorInfo`).
        openRequested(str): open this newly written data (a corrected copy, or the data
            with new labels) in place of the current one, to train on it.
        retrainRequested(str): open the data with the new labels and train on it starting
            from the last run (see :func:`start_from_run`).
    """

    statusMessage = Signal(str)
    errorRaised = Signal(object)
    openRequested = Signal(str)
    retrainRequested = Signal(str)

    def __init__(self, rows: QWidget, spec_copy: Callable[[], ExperimentSpec],
                 runner: JobRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dataTabs")
        self.spec_copy = spec_copy
        self.jobs = CurrentJobs(runner, self)
        self.health = DataHealthView()
        self.review = LabelReviewView()
        self.next_view = LabelNextView()
        self.map = EmbeddingMapView()
        self.tab_rows = self.addTab(rows, "Rows")
        self.tab_health = self.addTab(_narrowable(self.health), "Health")
        self.tab_review = self.addTab(_narrowable(self.review), "Label review")
        self.tab_next = self.addTab(_narrowable(self.next_view), "Label next")
        self.tab_map = self.addTab(_narrowable(self.map), "Map")
        self.saved_path: str | None = None
        self.map_relabels: dict[int, str] = {}
        self.open_saved = QPushButton("Open the saved data")
        self.open_saved.setObjectName("openSavedData")
        self.open_saved.setToolTip("Use the corrected or newly labelled copy from now on")
        self.open_saved.setVisible(False)
        self.open_saved.clicked.connect(lambda: self.openRequested.emit(self.saved_path or ""))
        self.setCornerWidget(self.open_saved)
        self.health.checkRequested.connect(self.check_health)
        self.review.findRequested.connect(self.find_label_errors)
        self.map.drawRequested.connect(self.find_label_errors)
        self.review.saveRequested.connect(self.save_corrections)
        self.map.relabelRequested.connect(self.relabel_from_map)
        self.next_view.rankRequested.connect(self.rank_pool)
        self.next_view.saveRequested.connect(self.save_new_labels)
        self.next_view.retrainRequested.connect(
            lambda: self.retrainRequested.emit(self.saved_path or ""))

    def _spec(self, view: Any) -> ExperimentSpec | None:
        """The project's spec if it is complete enough to run (else the view says why)."""
        spec = self.spec_copy()
        try:
            spec.validate()
        except Exception as exc:  # noqa: BLE001 - shown in place
            view.set_error(f"Choose the data and its columns first: {exc}")
            return None
        return spec

    def _failed(self, view: Any) -> Callable[[ErrorInfo], None]:
        def show(info: ErrorInfo) -> None:
            view.set_error(info.message if info.user_error else
                           "It failed unexpectedly (see the error dialog).")
            if not info.user_error:
                self.errorRaised.emit(info)
        return show

    # ============================================================ health
    @Slot()
    def check_health(self) -> None:
        """Run the data health check."""
        spec = self._spec(self.health)
        if spec is None:
            return
        self.health.set_busy("Checking the data…")
        self.jobs.start("health", calls.data_health, spec, on_result=self.health.set_result,
                        on_error=self._failed(self.health), title="Cannot check the data")

    # ============================================================ review and map
    @Slot()
    def find_label_errors(self) -> None:
        """Compute the features once: the label review and the map."""
        spec = self._spec(self.review)
        if spec is None:
            self.map.set_error(self.review.status.text())
            return
        busy = "Computing the pretrained features and cross-validated probes…"
        self.review.set_busy(busy)
        self.map.set_busy(busy)

        def failed(info: ErrorInfo) -> None:
            self._failed(self.review)(info)
            self.map.set_error(self.review.status.text())

        self.jobs.start("review", calls.review_and_map, spec, on_result=self._on_review,
                        on_error=failed, title="Cannot review the labels")

    @Slot(object)
    def relabel_from_map(self, labels: dict[int, str]) -> None:
        """Relabel the rows selected on the map (saved with the review's corrections)."""
        self.map_relabels.update(labels)
        self.map.status.setText(f"{len(self.map_relabels):,} example(s) relabelled on the map; "
                                f"\"Save corrected copy…\" on Label review writes them.")

    def _on_review(self, result: tuple[calls.LabelReviewResult, calls.EmbeddingPoints]) -> None:
        review, points = result
        self.map_relabels = {}
        self.review.set_review(review)
        self.map.set_points(points)
        flagged = sum(i.flagged for i in review.issues)
        self.statusMessage.emit(f"{flagged:,} likely label error{'s' if flagged != 1 else ''}")

    @Slot(str)
    def save_corrections(self, path: str) -> None:
        """Write the corrected copy of the data (relabels and drops) to ``path``."""
        review = self.review.review
        if review is None:
            return
        relabel, drop = self.review.decisions()
        relabel = {**self.map_relabels, **relabel}  # a decision in the list wins
        self.jobs.start("save", calls.write_corrections, review, relabel, drop, path,
                        self.spec_copy(), on_result=self._saved(
                            f"{len(relabel)} relabelled, {len(drop)} dropped", self.review),
                        on_error=self._failed(self.review), title="Cannot save the copy")

    def _saved(self, what: str, view: Any) -> Callable[[str], None]:
        def done(path: str) -> None:
            view.status.setText(f"Saved {Path(path).name} ({what}); your original is "
                                f"unchanged. \"Open the saved data\" to train on it.")
            self.saved_path = path
            self.open_saved.setVisible(True)
            self.statusMessage.emit(f"Saved {path}")
        return done

    # ============================================================ label next
    @Slot(str, int)
    def rank_pool(self, pool: str, n: int) -> None:
        """Rank the unlabelled examples of ``pool``; propose ``n``."""
        spec = self._spec(self.next_view)
        if spec is None:
            return
        self.next_view.set_busy(f"Ranking {Path(pool).name}…")
        self.jobs.start("next", calls.label_next, spec, pool, n,
                        on_result=self.next_view.set_result,
                        on_error=self._failed(self.next_view), title="Cannot rank the pool")

    @Slot(str)
    def save_new_labels(self, path: str) -> None:
        """Write the data plus the newly labelled examples to ``path``."""
        result = self.next_view.result
        labels = self.next_view.labels()
        if result is None or not labels:
            self.next_view.status.setText("Pick a label for at least one example first.")
            return
        saved = self._saved(f"{len(labels)} new labels", self.next_view)

        def done(written: str) -> None:
            saved(written)
            self.next_view.labels_saved()

        self.jobs.start("append", calls.append_labels, self.spec_copy(), result, labels, path,
                        on_result=done, on_error=self._failed(self.next_view),
                        title="Cannot save the data")


def start_from_run(spec: ExperimentSpec, last_run: str | None) -> str:
    """Make ``spec`` start from ``last_run``'s weights (``training.init_from_run``).

    Args:
        spec: the project's spec (changed in place).
        last_run: the project's last run folder; a folder without ``model.keras`` (or none)
            clears the key: the run then starts fresh.

    Returns:
        A status line saying which it will be.
    """
    if last_run and (Path(last_run) / "model.keras").is_file():
        spec.training.init_from_run = str(last_run)
        return (f"The next run starts from the weights of {Path(last_run).name}: "
                f"press Start to retrain on the new labels")
    spec.training.init_from_run = None
    return "No finished run in this project yet: the next run starts fresh"
