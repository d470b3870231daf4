"""Comparing runs: metrics side by side, their histories and the spec keys that differ."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ftstudio.engine.compare import compare_runs, comparison_table, flatten_spec
from ftstudio.errors import RunError
from tests.helpers.eval_runs import copy_run, trained_run


def test_three_runs_with_a_regression_one() -> None:
    runs = [trained_run(k) for k in ("tabular", "regression", "text")]
    c = compare_runs(runs)
    assert [r.path for r in c.runs] == [str(p) for p in runs]
    assert all(r.status == "finished" and not r.missing for r in c.runs)
    table = {key: (values, best) for key, values, best in comparison_table(c)}
    accuracy, best = table["test.accuracy"]
    assert accuracy[1] is None and accuracy[0] is not None and accuracy[2] is not None
    assert best == max((0, 2), key=lambda i: accuracy[i])
    mae, best = table["test.mae"]
    assert mae[0] is None and mae[2] is None and mae[1] is not None and best is None
    losses, best = table["test.loss"]
    assert best == min(range(3), key=lambda i: losses[i])  # lower is better for losses
    assert c.metric_keys.index("test.loss") < c.metric_keys.index("val.loss") < \
        c.metric_keys.index("baseline.test.accuracy")
    diffs = dict(c.differences)
    assert diffs["name"] == ["tabular", "regression", "text"]
    assert diffs["head.outputs[0].task"] == ["classification", "regression", "classification"]
    assert "training.baseline" not in diffs  # the same in all three
    assert all(len(r.history) >= 1 for r in c.runs)
    data = json.loads(json.dumps(c.to_json(), allow_nan=False))  # strict JSON: NaN -> null
    assert [m["key"] for m in data["metrics"]] == c.metric_keys
    assert len(data["runs"][0]["history"]) == len(c.runs[0].history)


def test_an_incomplete_run_is_compared_on_what_it_has(tmp_path: Path) -> None:
    broken = copy_run("tabular", tmp_path / "broken")
    (broken / "metrics.json").unlink()
    (broken / "model.keras").unlink()
    c = compare_runs([trained_run("tabular"), broken])
    assert c.runs[1].missing == ["metrics.json", "model.keras"] and c.runs[1].metrics == {}
    values, best = next((v, b) for k, v, b in comparison_table(c) if k == "test.accuracy")
    assert values[1] is None and best is None
    assert c.differences == []  # the same spec


def test_bad_input_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="two or more"):
        compare_runs([trained_run("tabular")])
    with pytest.raises(RunError, match="not found"):
        compare_runs([trained_run("tabular"), tmp_path / "nope"])


def test_flatten_spec() -> None:
    flat = flatten_spec({"a": {"b": 1, "c": [1, 2]}, "o": [{"t": "x"}, {"t": "y"}]})
    assert flat == {"a.b": 1, "a.c": [1, 2], "o[0].t": "x", "o[1].t": "y"}
    assert math.isnan(float("nan"))
