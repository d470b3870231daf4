"""The learning-rate finder on a tiny tabular task, checked against a small grid search."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from ftstudio.engine.lr_find import (
    LrFindResult,
    find_learning_rate,
    suggest_rate,
    sweep_steps,
    write_curve,
)
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.errors import SpecError
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_tabular_csv

GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def _spec(tmp_path, **training):
    data = tabular_spec_data(write_tabular_csv(tmp_path / "d.csv"), seed=3, **training)
    return ExperimentSpec.from_dict(data)


def _grid_loss(spec: ExperimentSpec, lr: float, epochs: int = 3) -> float:
    """Validation loss of the spec's model after ``epochs`` at a constant rate ``lr``."""
    from ftstudio.engine import fitting
    from ftstudio.engine.datasets import make_dataset, prepare_data
    from ftstudio.engine.reporting import BaseReporter
    from ftstudio.engine.training_setup import set_seed

    s = dataclasses.replace(spec, training=dataclasses.replace(spec.training, learning_rate=lr))
    prepared = prepare_data(s, BaseReporter())
    set_seed(s.training.seed)
    fit = fitting.build(s, prepared, BaseReporter())
    fitting.prepare_last_phase(s, fit, fitting.phases(s, fit.backbone))
    train = make_dataset(prepared, fit.backbone, "train", s.training.batch_size, 0, True)
    fit.model.fit(train, epochs=epochs, verbose=0, shuffle=False)
    loss = fit.model.evaluate(fit.val_ds, verbose=0, return_dict=True)["loss"]
    return float(loss) if math.isfinite(loss) else math.inf


def test_suggestion_lands_within_a_decade_of_the_best_grid_rate(tmp_path):
    spec = _spec(tmp_path)
    rep = RecordingReporter()
    result = find_learning_rate(spec, rep)
    rates = np.array(result.learning_rates)
    assert len(rates) >= 8 and np.all(np.diff(rates) > 0)
    assert len(result.losses) == len(result.smoothed) == len(rates)
    # 192 training rows in batches of 16: a short sweep (5 epochs), stopped by the blow-up
    assert len(rates) <= sweep_steps(192, 16) == 60
    assert rates[-1] <= 10.0
    assert rep.of("progress")[-1][0] == len(rates)
    grid = {lr: _grid_loss(spec, lr) for lr in GRID}
    best = min(grid, key=grid.__getitem__)
    assert abs(math.log10(result.suggestion) - math.log10(best)) <= 1.0, (result, grid)
    assert any("Suggested learning rate" in s[0] for s in rep.of("status"))


def test_a_blowing_up_loss_ends_the_sweep(tmp_path):
    data = tabular_spec_data(write_tabular_csv(tmp_path / "d.csv"), seed=3, optimizer="sgd")
    data["head"]["outputs"] = [{"name": "y", "label_column": "target", "task": "regression"}]
    result = find_learning_rate(ExperimentSpec.from_dict(data), steps=40)
    assert result.diverged and len(result.learning_rates) < 40
    assert all(math.isfinite(v) for v in result.losses)
    assert result.suggestion < result.learning_rates[-1]


def test_curve_files_and_no_run_folder(tmp_path, _isolated_home):
    result = LrFindResult([1e-3, 1e-2, 1e-1], [1.0, 0.8, 0.9], [1.0, 0.85, 0.87],
                          suggestion=1e-2, min_loss_rate=1e-2, steepest_rate=1e-2)
    written = write_curve(result, tmp_path / "out" / "curve.png")
    assert [p.name for p in written] == ["curve.csv", "curve.png"]
    lines = written[0].read_text().splitlines()
    assert lines[0] == "step,learning_rate,loss,smoothed_loss" and len(lines) == 4
    assert written[1].read_bytes()[:4] == b"\x89PNG"
    assert not (_isolated_home / "runs").exists()


def test_suggest_rate_rules():
    rates = list(np.geomspace(1e-5, 1.0, 51))
    # a loss that falls fastest around 1e-3 and bottoms out at 1e-2
    x = np.log10(rates)
    loss = list(2.0 - np.tanh((x + 3) * 2) + np.where(x > -2, (x + 2) ** 2 * 4, 0))
    suggestion, lowest, steepest = suggest_rate(rates, loss)
    assert lowest == pytest.approx(1e-2, rel=0.3)
    assert steepest == pytest.approx(1e-3, rel=0.3) and suggestion == steepest
    assert math.isnan(suggest_rate(rates[:3], loss[:3])[0])
    with pytest.raises(SpecError):
        find_learning_rate(ExperimentSpec(), start_lr=1.0, end_lr=0.1)
