"""Plain results of the recipe tools the window runs (LR finder, sweep, memory estimate).

No engine types, no Qt, no TensorFlow: the bridge copies what the window shows into these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["LrFindOutcome", "MemoryInfo", "SweepOutcome", "SweepTrial"]


@dataclass
class LrFindOutcome:
    """A learning-rate sweep: the curve and the suggested rate.

    Attributes:
        learning_rates: the rate of each recorded step (increasing).
        losses: the batch loss at each step.
        smoothed: the smoothed loss at each step.
        suggestion: the suggested ``training.learning_rate``.
        min_loss_rate: the rate at the lowest smoothed loss.
        diverged: the sweep stopped because the loss blew up.
        seconds: wall time of the job.
    """

    learning_rates: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestion: float
    min_loss_rate: float
    diverged: bool = False
    seconds: float = 0.0


@dataclass
class SweepTrial:
    """One trial of a sweep: its settings, how it ended and its objective."""

    number: int
    state: str
    value: float | None
    params: dict[str, Any]
    run_dir: str


@dataclass
class SweepOutcome:
    """A finished (or stopped) sweep.

    Attributes:
        sweep_dir: the sweep folder (trial runs, results table, plots).
        monitor: the objective (``training.monitor``).
        direction: ``minimize`` or ``maximize``.
        trials: every trial, in order.
        best: the best complete trial's number (``None``: none completed).
        best_spec: the spec with the best trial's settings (``None``: none completed).
        plots: the objective-vs-parameter PNGs.
        seconds: wall time of the job.
    """

    sweep_dir: str
    monitor: str
    direction: str
    trials: list[SweepTrial] = field(default_factory=list)
    best: int | None = None
    best_spec: str | None = None
    plots: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class MemoryInfo:
    """The memory estimate of a spec's run, for one line on the Train page.

    Attributes:
        summary: parameters, what the run needs and what is free, in words.
        warning: set when the run will not fit.
        needed_bytes: main memory the run needs.
        available_bytes: free main memory (``None``: unknown).
        total_params: every parameter of the model.
        trainable_params: the parameters that learn.
    """

    summary: str
    warning: str | None
    needed_bytes: int
    available_bytes: int | None
    total_params: int
    trainable_params: int
