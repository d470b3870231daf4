"""The learning-rate finder: a short exponential sweep of the rate, loss against rate.

As fast.ai's ``lr_find``: train a fresh copy of the spec's model for a few hundred steps (fewer
on tiny data) while the learning rate grows exponentially from ``start_lr`` to ``end_lr``;
record each batch's loss, smooth it (bias-corrected moving average) and stop once it diverges
(four times the best smoothed loss, or not a number). The suggestion is the steepest descent
of the smoothed loss before its minimum (when that lies within two decades below the
minimum), else a tenth of the rate at the minimum.

Nothing is written unless asked: :func:`find_learning_rate` returns an :class:`LrFindResult`;
:func:`write_curve` writes it as CSV and PNG.

NumPy at import time; TensorFlow and Keras are imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import CancelledError, SpecError
from ftstudio.spec import ExperimentSpec

__all__ = ["LrFindResult", "find_learning_rate", "suggest_rate", "sweep_steps", "write_curve"]

DIVERGE_FACTOR = 4.0
"""The sweep stops once the smoothed loss exceeds this many times its best value."""
MIN_POINTS = 8
"""Fewer recorded steps than this give no suggestion (stopped too early)."""


@dataclass
class LrFindResult:
    """The recorded sweep and the suggested learning rate.

    Attributes:
        learning_rates: the rate of each recorded step (increasing).
        losses: the batch loss at each step.
        smoothed: the bias-corrected moving average of ``losses``.
        suggestion: the suggested ``training.learning_rate``.
        min_loss_rate: the rate at the smallest smoothed loss.
        steepest_rate: the rate where the smoothed loss falls fastest (before its minimum).
        diverged: the sweep stopped because the loss blew up.
    """

    learning_rates: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    suggestion: float = math.nan
    min_loss_rate: float = math.nan
    steepest_rate: float = math.nan
    diverged: bool = False

    def to_csv(self) -> str:
        """The curve as CSV: ``step,learning_rate,loss,smoothed_loss``."""
        lines = ["step,learning_rate,loss,smoothed_loss"]
        for i, (lr, loss, smooth) in enumerate(zip(self.learning_rates, self.losses,
                                                   self.smoothed, strict=True)):
            lines.append(f"{i},{lr:.6g},{loss:.6g},{smooth:.6g}")
        return "\n".join(lines) + "\n"


def sweep_steps(train_examples: int, batch_size: int, most: int = 300) -> int:
    """Steps of a sweep: five epochs of the data, at least 50 and at most ``most``."""
    per_epoch = max(1, math.ceil(train_examples / max(1, batch_size)))
    return int(min(most, max(50, 5 * per_epoch)))


def suggest_rate(rates: list[float], smoothed: list[float]) -> tuple[float, float, float]:
    """``(suggestion, rate at minimum, steepest rate)`` of a smoothed loss curve.

    The steepest descent is the most negative slope of the loss against ``log10(rate)``
    before the minimum, measured over windows of an eighth of the sweep (single steps are
    too noisy) after its first tenth (the moving average is still settling there). It is the
    suggestion when it lies within two decades below the minimum's rate, else a tenth of
    that rate is.
    """
    if len(rates) < MIN_POINTS:
        return math.nan, math.nan, math.nan
    log_lr = np.log10(np.asarray(rates, dtype=np.float64))
    loss = np.asarray(smoothed, dtype=np.float64)
    lowest = int(np.nanargmin(loss))
    min_rate = float(rates[lowest])
    window = max(2, len(rates) // 8)
    starts = np.arange(len(rates) // 10, lowest - window + 1)
    if not len(starts):
        return min_rate / 10, min_rate, math.nan
    slope = (loss[starts + window] - loss[starts]) / (log_lr[starts + window] - log_lr[starts])
    steep = int(starts[int(np.nanargmin(slope))] + window // 2)
    steep_rate = float(rates[steep])
    inside = min_rate / 100 <= steep_rate <= min_rate and float(np.nanmin(slope)) < 0
    return (steep_rate if inside else min_rate / 10), min_rate, steep_rate


def find_learning_rate(spec: ExperimentSpec, reporter: Reporter | None = None,
                       start_lr: float = 1e-7, end_lr: float = 10.0,
                       steps: int | None = None) -> LrFindResult:
    """Sweep the learning rate exponentially on the spec's model and data.

    The model, freezing (the first phase of the recipe) and optimizer are the spec's; the
    schedule is replaced by the sweep. Nothing is written to disk.

    Args:
        spec: the experiment (paths resolved).
        reporter: told the progress; ``should_stop()`` ends the sweep early.
        start_lr: the first rate.
        end_lr: the last rate (the sweep usually diverges before).
        steps: steps of the sweep (default :func:`sweep_steps`).

    Returns:
        The recorded curve and the suggestion.

    Raises:
        SpecError: ``start_lr`` is not below ``end_lr``.
        CancelledError: stopped before enough steps to suggest anything.
    """
    from ftstudio.engine import fitting
    from ftstudio.engine.datasets import prepare_data
    from ftstudio.engine.runtime import import_tensorflow_quietly
    from ftstudio.engine.training_setup import set_seed

    if not 0 < start_lr < end_lr:
        raise SpecError(f"the learning-rate sweep needs 0 < start ({start_lr:g}) < end "
                        f"({end_lr:g})")
    reporter = reporter or BaseReporter()
    flat = dataclasses.replace(spec, training=dataclasses.replace(
        spec.training, schedule="constant", warmup_fraction=0.0, learning_rate=start_lr))
    prepared = prepare_data(flat, reporter)
    reporter.status("Loading TensorFlow…")
    import_tensorflow_quietly()
    set_seed(flat.training.seed)
    fit = fitting.build(flat, prepared, reporter)
    recipe = fitting.phases(flat, fit.backbone)
    fitting.prepare_last_phase(flat, fit, recipe[:1])  # freeze and compile as phase 1 does
    n = steps or sweep_steps(len(prepared.splits["train"]), flat.training.batch_size)
    rates = np.geomspace(start_lr, end_lr, n)
    result = _sweep(fit, flat, rates, reporter)
    result.suggestion, result.min_loss_rate, result.steepest_rate = suggest_rate(
        result.learning_rates, result.smoothed)
    if not math.isfinite(result.suggestion):
        raise CancelledError("the learning-rate sweep stopped before it could suggest a rate")
    reporter.status(f"Suggested learning rate: {result.suggestion:.2g} (lowest loss at "
                    f"{result.min_loss_rate:.2g})")
    return result


def _sweep(fit: Any, spec: ExperimentSpec, rates: np.ndarray,
           reporter: Reporter) -> LrFindResult:
    """Train one batch per rate, recording the loss, until the end or a divergence."""
    from ftstudio.engine.datasets import make_dataset

    t = spec.training
    epochs = math.ceil(len(rates) / max(1, fit.steps))
    data = make_dataset(fit.prepared, fit.backbone, "train", t.batch_size, t.seed, True,
                        images=fit.images.get("train"), sample_weights=fit.sample_weights,
                        epochs=(0, epochs), tokens=fit.tokens.get("train"))
    model = fit.model
    beta = min(0.98, 1.0 - 5.0 / len(rates))
    result = LrFindResult()
    average, best = 0.0, math.inf
    reporter.status(f"Sweeping the learning rate from {rates[0]:.0e} to {rates[-1]:.0e} over "
                    f"{len(rates)} steps…")
    for i, (batch, lr) in enumerate(zip(data, rates, strict=False)):
        if reporter.should_stop():
            break
        model.optimizer.learning_rate = float(lr)
        logs = model.train_on_batch(*batch, return_dict=True)
        loss = float(logs["loss"])
        average = beta * average + (1 - beta) * loss
        smooth = average / (1 - beta ** (i + 1))
        if not math.isfinite(loss) or (i > 0 and smooth > DIVERGE_FACTOR * best):
            result.diverged = True
            break
        best = min(best, smooth)
        result.learning_rates.append(float(lr))
        result.losses.append(loss)
        result.smoothed.append(smooth)
        reporter.progress(i + 1, len(rates))
    return result


def write_curve(result: LrFindResult, out: str | Path) -> list[Path]:
    """Write the curve as ``<stem>.csv`` and ``<stem>.png`` (``out`` names either).

    Returns:
        The files written.
    """
    from ftstudio.engine.report_charts import Series, line_chart_png
    from ftstudio.engine.run_files import atomic_save, atomic_write_text

    path = Path(out)
    stem = path.with_suffix("") if path.suffix.lower() in (".csv", ".png") else path
    csv_path, png_path = stem.with_suffix(".csv"), stem.with_suffix(".png")
    stem.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(csv_path, result.to_csv())
    log_lr = [math.log10(v) for v in result.learning_rates]
    series = [Series("loss", log_lr, result.losses, points=True),
              Series("smoothed", log_lr, result.smoothed)]
    if math.isfinite(result.suggestion):
        low = min(result.smoothed)
        high = max(result.smoothed)
        x = math.log10(result.suggestion)
        series.append(Series(f"suggested {result.suggestion:.2g}", [x, x], [low, high],
                             dashed=True))
    top = min(max(result.losses), 2 * max(result.smoothed[:1] or [1.0]))
    png = line_chart_png(series, "Learning-rate finder", "log10 learning rate", "loss",
                         y_range=(min(result.losses), top))
    atomic_save(png_path, lambda target: target.write_bytes(png))
    return [csv_path, png_path]
