"""The generated script reproduces a tiny tabular run without ftstudio."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest

from ftstudio.engine.script_gen import generate_script
from ftstudio.errors import RunError
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_json, write_tabular_csv


def test_script_reaches_the_runs_test_metric(tmp_path):
    from ftstudio.engine.training import train

    data = tabular_spec_data(write_tabular_csv(tmp_path / "d.csv", n=300), seed=3, epochs=8,
                             schedule="cosine", warmup_fraction=0.1)
    result = train(ExperimentSpec.from_dict(data), out_dir=tmp_path / "run")
    script = generate_script(result.run_dir, tmp_path / "out" / "reproduce.py")
    source = script.read_text()
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Import | ast.ImportFrom)
                for alias in (node.names if isinstance(node, ast.Import) else
                              [ast.alias(node.module or "")])}
    assert imported <= {"__future__", "json", "math", "typing", "keras", "numpy", "pandas"}, (
        imported)
    # the run's own split, as positions of the CSV's records
    settings = json.loads(source.split('json.loads(r"""', 1)[1].split('""")', 1)[0])
    splits = json.loads((result.run_dir / "splits.json").read_text())["row_ids"]
    assert {k: [p + 1 for p in v] for k, v in settings["positions"].items()} == splits
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path / "out",
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(metrics) >= {"test.accuracy", "test.loss", "test.macro_f1"}
    # 30 test rows: within noise (Keras orders the batches its own way)
    assert abs(metrics["test.accuracy"] - result.metrics["test.accuracy"]) <= 0.15, (
        metrics, result.metrics)
    assert metrics["test.accuracy"] > 0.6


def test_a_run_on_a_backbone_is_refused_clearly(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_json(run / "spec.json", {"data": {"path": "x.csv", "text_column": "t",
                                            "label_column": "l"}})
    with pytest.raises(RunError, match="without a backbone"):
        generate_script(run)
