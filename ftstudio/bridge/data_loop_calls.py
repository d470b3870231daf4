"""The window's little-data loop calls: data health, label review, label next, map, saliency.

Each runs inside a :class:`~ftstudio.bridge.jobs.Job` (they load data, and most compute
backbone features: seconds to minutes), imports the engine inside the function and returns
the plain dataclasses below (standard library only), never engine objects. A review or a
ranking comes back whole, so saving corrections rebuilds the engine's object from it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ftstudio.spec import ExperimentSpec

__all__ = ["EmbeddingPoints", "Explanation", "HealthFinding", "HealthResult", "LabelIssueRow",
           "LabelReviewResult", "NextExample", "NextResult", "append_labels", "data_health",
           "explain", "label_next", "review_and_map", "review_run", "write_corrections"]


# ================================================================ plain results
@dataclass
class HealthFinding:
    """One finding of the data health check (see ``engine.data_health.Finding``)."""

    check: str
    severity: str
    title: str
    count: int
    examples: list[str]
    action: str
    meaning: str = ""


@dataclass
class HealthResult:
    """The data health report: the classes and every finding, problems first."""

    source: str
    modality: str
    examples: int
    classes: dict[str, dict[str, int]]
    findings: list[HealthFinding] = field(default_factory=list)


@dataclass
class LabelIssueRow:
    """One example of the label review (see ``engine.label_errors.LabelIssue``)."""

    position: int
    row: int
    input: str
    given: str
    suggested: str
    self_confidence: float
    margin: float
    flagged: bool


@dataclass
class LabelReviewResult:
    """Every example ranked by how likely its label is wrong (most likely first)."""

    modality: str
    source: str
    label_column: str
    classes: list[str]
    thresholds: list[float]
    method: str
    row_label: str
    issues: list[LabelIssueRow] = field(default_factory=list)


@dataclass
class EmbeddingPoints:
    """The embedding map: one point per labelled example (parallel lists)."""

    x: list[float]
    y: list[float]
    labels: list[int]
    predicted: list[int]
    classes: list[str]
    rows: list[int]
    inputs: list[str]
    explained: tuple[float, float]
    description: str
    modality: str = "text"


@dataclass
class NextExample:
    """One unlabelled example proposed for labelling."""

    position: int
    row: int
    input: str
    guess: str
    confidence: float
    uncertainty: float


@dataclass
class NextResult:
    """The pool examples to label next, most useful first."""

    pool: str
    pool_size: int
    classes: list[str]
    label_column: str
    method: str
    examples: list[NextExample] = field(default_factory=list)


@dataclass
class Explanation:
    """Why a run predicted what it did: an image heat map or token weights."""

    output: str
    predicted: str
    probability: float
    method: str
    heatmap: list[list[float]] | None = None
    tokens: list[tuple[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    image: str | None = None
    text: str | None = None


def _plain(cls: Any, obj: Any, **nested: Any) -> Any:
    """A bridge dataclass from an engine one with the same field names."""
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(cls)
              if hasattr(obj, f.name)}
    return cls(**{**values, **nested})


# ================================================================ calls
def data_health(spec: ExperimentSpec) -> HealthResult:
    """Check the spec's data before training (duplicates, leakage, imbalance, …)."""
    from ftstudio.engine.data_health import check_data

    report = check_data(spec)
    return _plain(HealthResult, report,
                  findings=[_plain(HealthFinding, f) for f in report.findings])


def _review(review: Any) -> LabelReviewResult:
    return _plain(LabelReviewResult, review,
                  issues=[_plain(LabelIssueRow, i) for i in review.issues])


def review_and_map(spec: ExperimentSpec, reporter: Any = None
                   ) -> tuple[LabelReviewResult, EmbeddingPoints]:
    """The likely label errors and the embedding map of a spec's data (one feature pass)."""
    from ftstudio.engine.embedding_map import map_and_review

    points, review = map_and_review(spec, reporter)
    shown = EmbeddingPoints(
        [float(v) for v in points.xy[:, 0]], [float(v) for v in points.xy[:, 1]],
        [int(v) for v in points.labels], [int(v) for v in points.predicted],
        list(points.classes), [int(v) for v in points.rows], list(points.inputs),
        points.explained, points.description, review.modality)
    return _review(review), shown


def review_run(run_dir: str) -> LabelReviewResult:
    """The likely label errors among a finished run's held-out examples."""
    from ftstudio.engine import label_errors

    return _review(label_errors.review_run(run_dir))


def write_corrections(review: LabelReviewResult, relabel: dict[int, str], drop: list[int],
                      out: str, spec: ExperimentSpec | None = None) -> str:
    """Write the data with the confirmed relabels and drops to a NEW file or folder."""
    from ftstudio.engine import label_errors

    engine_review = label_errors.LabelReview(**{
        f.name: getattr(review, f.name) for f in dataclasses.fields(LabelReviewResult)
        if f.name != "issues"})
    engine_review.issues = [label_errors.LabelIssue(**dataclasses.asdict(i))
                            for i in review.issues]
    d = spec.data if spec is not None else None
    return str(label_errors.write_corrections(engine_review, relabel, drop, out,
                                              d.encoding if d else None,
                                              d.delimiter if d else None))


def label_next(spec: ExperimentSpec, pool: str, n: int = 20, reporter: Any = None) -> NextResult:
    """Rank a pool of unlabelled examples (a CSV or an image folder): label these next."""
    from ftstudio.engine.active_learning import rank_pool

    ranking = rank_pool(spec, pool, n, reporter)
    return _plain(NextResult, ranking,
                  examples=[_plain(NextExample, e) for e in ranking.examples])


def append_labels(spec: ExperimentSpec, ranking: NextResult, labels: dict[int, str],
                  out: str) -> str:
    """Write the data plus the newly labelled pool examples to a NEW file or folder."""
    from ftstudio.engine import active_learning

    engine_ranking = active_learning.PoolRanking(
        ranking.pool, ranking.pool_size, list(ranking.classes), ranking.label_column,
        ranking.method, [active_learning.RankedExample(**dataclasses.asdict(e))
                         for e in ranking.examples])
    return str(active_learning.append_labels(spec, engine_ranking, labels, out))


def explain(run_dir: str, *, text: str | None = None, image: str | None = None) -> Explanation:
    """Why the run predicts what it does for one text or image (the run stays loaded)."""
    # the run try-it keeps loaded: one model in memory, loaded once
    from ftstudio.bridge.evaluation_calls import loaded_run
    from ftstudio.engine.saliency import explain as explain_example

    result = explain_example(loaded_run(run_dir), text=text, image=image)
    heat = None if result.heatmap is None else [[float(v) for v in row]
                                                 for row in result.heatmap]
    return Explanation(result.output, result.predicted, result.probability, result.method,
                       heat, list(result.tokens), result.seconds, image, text)
