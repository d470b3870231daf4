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
from tests.helpers.specs import (
    tabular_spec_data,
    write_image_folder,
    write_json,
    write_tabular_csv,
)


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


_BOTH = """
import json, os, runpy, sys
for script in sys.argv[1:]:
    os.chdir(os.path.dirname(script))
    runpy.run_path(script, run_name="__main__")
    print("::end::", flush=True)
"""


def _backbone_runs(tmp_path):
    """A text run on a tiny keras-hub BERT folder and an image run on a tiny .keras CNN."""
    from ftstudio.engine.training import train
    from tests.helpers.eval_runs import write_text_csv
    from tests.helpers.models import save_model, tiny_bert_preset, tiny_cnn

    training = {"batch_size": 8, "optimizer": "adam", "learning_rate": 0.01, "seed": 5,
                "schedule": "cosine", "warmup_fraction": 0.1}
    text = {"name": "text", "data": {"path": str(write_text_csv(tmp_path / "t.csv", 240)),
                                     "text_column": "text", "label_column": "label"},
            "backbone": {"source": "keras_hub", "sequence_length": 8,
                         "path": str(tiny_bert_preset(tmp_path / "bert"))},
            "head": {"pooling": "mean", "dropout": 0.1,
                     "layers": [{"type": "dense", "units": 8}]},
            # the text recipe's per-block rates: the script holds the Scaled optimizers
            "freeze": {"mode": "none", "head_first_epochs": 1, "unfreeze_lr_factor": 1.0,
                       "layer_decay": 0.8, "lr_multipliers": {"head_0_dense": 0.5}},
            "training": {**training, "epochs": 8, "learning_rate": 0.03}}
    folder = write_image_folder(tmp_path / "images", per_class=30)
    image = {"name": "image", "data": {"image_dir": str(folder), "label_column": "label",
                                       "split": [0.6, 0.2, 0.2]},
             "backbone": {"source": "file", "cut_layer": "block2_conv",
                          "path": str(save_model(tiny_cnn(16), tmp_path / "cnn.keras"))},
             # gradual unfreezing: head, then the top block, then both (moments carried on)
             "head": {"pooling": "max"},
             "freeze": {"mode": "last_n", "last_n": 2, "gradual_unfreeze_epochs": 2},
             "training": {**training, "epochs": 6, "learning_rate": 0.02}}
    return [train(ExperimentSpec.from_dict(d), out_dir=tmp_path / d["name"])
            for d in (text, image)]


def test_scripts_of_backbone_runs_reach_the_runs_test_metrics(tmp_path):
    runs = _backbone_runs(tmp_path)
    scripts = [generate_script(r.run_dir, tmp_path / f"out_{i}" / "reproduce.py")
               for i, r in enumerate(runs)]
    for script in scripts:
        assert "ftstudio" not in {alias.split(".")[0] for alias in _imports(script.read_text())}
    text_settings = _settings(scripts[0].read_text())
    assert text_settings["backbone"]["kind"] == "hub"
    assert "class ScaledAdam(" in scripts[0].read_text()
    assert "class ScaledAdam(" not in scripts[1].read_text()
    assert "def carry_state(" in scripts[1].read_text()
    assert "def carry_state(" not in scripts[0].read_text()
    assert _settings(scripts[1].read_text())["stages"] == [[0, 2, 0], [2, 4, 1], [4, 6, None]]
    _assert_same_factors(runs[0], scripts[0])
    _assert_same_stages(runs[1], scripts[1])
    assert len(_settings(scripts[1].read_text())["backbone"]["blocks"]) >= 2, (
        "last_n freezing needs the blocks")
    assert _settings(scripts[1].read_text())["backbone"]["preprocessing"] in (
        "none", "scale_0_1", "scale_-1_1", "caffe", "torch")
    done = subprocess.run([sys.executable, "-c", _BOTH, *map(str, scripts)],
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = [part.strip().splitlines()[-1] for part in done.stdout.split("::end::")[:2]]
    for run, line in zip(runs, outputs, strict=True):
        metrics = json.loads(line)
        # 24 / 12 test examples the model learns well: same data, split, seed and recipe,
        # only Keras' batch order differs, so the accuracies agree within noise
        assert abs(metrics["test.accuracy"] - run.metrics["test.accuracy"]) <= 0.15, (
            metrics, run.metrics)
        assert metrics["test.accuracy"] > 0.7, metrics


def _assert_same_factors(run, script):
    """The script's factor rule gives each variable the engine's factor (same model)."""
    import runpy
    from types import SimpleNamespace

    from ftstudio.engine.optimizers import learning_rate_factors

    ns = runpy.run_path(str(script), run_name="reproduce")
    base, _ = ns["load_backbone"]()
    model = ns["build_model"](base, None)[0]
    ours = {id(v): f for v, f in ns["lr_factors"](model, base)}
    spec = ExperimentSpec.load(run.run_dir / "spec.json")
    blocks = [(b, names) for b, names in ns["BACKBONE"]["blocks"]]
    engine = {id(v): f for v, f in learning_rate_factors(
        model, SimpleNamespace(model=base, blocks=blocks), spec.freeze)}
    assert ours == engine
    assert len(set(ours.values())) >= 3, ours  # decayed blocks and the named head layer
    assert 0.5 in ours.values()


def _assert_same_stages(run, script):
    """Each stage of the script's gradual unfreezing trains what the engine's trains."""
    import runpy
    from types import SimpleNamespace

    from ftstudio.engine.freezing import apply_freeze

    ns = runpy.run_path(str(script), run_name="reproduce")
    base, _ = ns["load_backbone"]()
    model = ns["build_model"](base, None)[0]
    spec = ExperimentSpec.load(run.run_dir / "spec.json")
    backbone = SimpleNamespace(model=base, blocks=[tuple(b) for b in ns["BACKBONE"]["blocks"]])
    counts = []
    for _, _, _, head_only, top, window in ns["phases"](True):
        assert window == spec.training.epochs  # one schedule over the stages
        ns["freeze"](model, base, head_only, top)
        ours = {id(v) for v in model.trainable_variables}
        apply_freeze(model, backbone, spec.freeze, head_only=head_only, top_blocks=top)
        assert ours == {id(v) for v in model.trainable_variables}
        counts.append(len(ours))
    assert counts == sorted(set(counts)), counts  # one more block per stage


def _imports(source):
    return {alias.name for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (node.names if isinstance(node, ast.Import) else
                          [ast.alias(node.module or "")])}


def _settings(source):
    return json.loads(source.split('json.loads(r"""', 1)[1].split('""")', 1)[0])


@pytest.mark.parametrize(("freeze", "augment", "key"), [
    ({}, {"flip": "horizontal"}, "augment.flip"),
])
def test_a_run_the_script_cannot_reproduce_is_refused_naming_the_key(tmp_path, freeze,
                                                                        augment, key):
    run = tmp_path / "run"
    run.mkdir()
    write_json(run / "spec.json", {"data": {"image_dir": str(tmp_path), "label_column": "label"},
                                   "backbone": {"path": "m.keras"},
                                   "freeze": freeze, "augment": augment})
    with pytest.raises(RunError, match=key.replace(".", r"\.")):
        generate_script(run)


def test_a_backbone_that_needs_a_download_is_refused(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    write_json(run / "spec.json", {"data": {"image_dir": str(tmp_path), "label_column": "label"},
                                   "backbone": {"source": "applications", "name": "ResNet50"}})
    with pytest.raises(RunError, match="backbone.source 'applications'"):
        generate_script(run)
