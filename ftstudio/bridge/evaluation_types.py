"""Plain results of the evaluation calls (:mod:`ftstudio.bridge.evaluation_calls`).

Standard library only: the pages import these at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ComparedRun", "ExampleTable", "OutputExamples", "RunComparison", "TryItOutput",
           "TryItResult"]


@dataclass
class OutputExamples:
    """One output's per-example results (parallel lists, one item per example).

    Attributes:
        name: the output.
        task: ``classification`` or ``regression``.
        classes: class names in index order (classification).
        true: the true class name / value, as written.
        pred: the predicted class name / value, as written.
        loss: each example's loss (NaN when the run did not record it).
        confidence: the probability of the predicted class (NaN for regression).
        probabilities: each example's class probabilities, in class order (classification).
        error: predicted minus true value (regression; NaN for classification).
    """

    name: str
    task: str
    classes: list[str] = field(default_factory=list)
    true: list[str] = field(default_factory=list)
    pred: list[str] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    confidence: list[float] = field(default_factory=list)
    probabilities: list[list[float]] = field(default_factory=list)
    error: list[float] = field(default_factory=list)


@dataclass
class ExampleTable:
    """Every validation and test example of a run, with each output's results.

    Attributes:
        row_label: what ``rows`` count ("line in the file", "image number").
        kind: ``text``, ``image`` (``inputs`` are file paths) or ``tabular`` (``features``).
        splits: each example's split (``test`` / ``val``).
        rows: each example's number as the user sees it (see ``row_label``).
        inputs: the text or image path (empty for tabular data).
        feature_names: tabular data: the feature columns.
        features: tabular data: each example's feature values, as written.
        outputs: the results of each output, in output order.
    """

    row_label: str
    kind: str
    splits: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    feature_names: list[str] = field(default_factory=list)
    features: list[list[str]] = field(default_factory=list)
    outputs: list[OutputExamples] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


@dataclass
class TryItOutput:
    """One output's answer for the example tried.

    Attributes:
        name: the output.
        task: ``classification`` or ``regression``.
        top: the most probable classes first, with their probabilities (classification).
        value: the predicted value (regression).
    """

    name: str
    task: str
    top: list[tuple[str, float]] = field(default_factory=list)
    value: float | None = None


@dataclass
class TryItResult:
    """The run's prediction for one example.

    Attributes:
        run_dir: the run that predicted.
        outputs: one answer per output.
        seconds: how long it took (loading the run the first time included).
    """

    run_dir: str
    outputs: list[TryItOutput]
    seconds: float


@dataclass
class ComparedRun:
    """One run of a comparison.

    Attributes:
        path: the run folder.
        label: its folder name (unique among the runs).
        name: the spec's name.
        status: the run's status.
        missing: the files it lacks (a stopped or failed run).
        metrics: its flat metrics.
        history: one row per epoch.
    """

    path: str
    label: str
    name: str
    status: str
    missing: list[str]
    metrics: dict[str, float]
    history: list[dict[str, float]]


@dataclass
class RunComparison:
    """Two or more runs side by side.

    Attributes:
        runs: the runs, in the order asked.
        metrics: ``(metric key, value of each run or None, index of the best run or None)``.
        differences: ``(spec key, value in each run)`` for every spec key that differs.
    """

    runs: list[ComparedRun]
    metrics: list[tuple[str, list[float | None], int | None]]
    differences: list[tuple[str, list[Any]]]
