"""End-to-end training on tiny tabular data (no backbone): fast, real Keras."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ftstudio.engine.reporting import RecordingReporter
from ftstudio.errors import FtStudioError, RunError, SpecError
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_tabular_csv


def tabular_spec(csv_path, **training):
    return ExperimentSpec.from_dict(tabular_spec_data(csv_path, **{"seed": 3, **training}))


def test_train_writes_a_complete_run_folder(tmp_path):
    spec = tabular_spec(write_tabular_csv(tmp_path / "d.csv"))
    rep = RecordingReporter()
    result = __import__("ftstudio.engine.training", fromlist=["train"]).train(
        spec, rep, out_dir=tmp_path / "run")
    run = tmp_path / "run"
    for name in ("spec.json", "history.csv", "metrics.json", "evaluation.json", "model.keras",
                 "splits.json", "env.json", "labels.json", "status.json", "predictions.csv"):
        assert (run / name).is_file(), name
    assert not (run / "backup").exists()
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("test.accuracy", "test.macro_f1", "test.loss", "test.roc_auc", "val.accuracy"):
        assert key in metrics
    # three classes from a linear score: far above the majority class
    assert metrics["test.accuracy"] > 0.6
    assert result.metrics == metrics
    assert len(result.history) == 3
    # the best epoch's weights (lowest val_loss) are the ones evaluated and saved
    val_losses = [row["val_loss"] for row in result.history]
    assert result.best_epoch == int(np.argmin(val_losses)) + 1
    assert metrics["val.loss"] == pytest.approx(min(val_losses), rel=1e-3)
    assert not (run / "best_weights.npz").exists()
    ev = json.loads((run / "evaluation.json").read_text())
    test = ev["splits"]["test"]["outputs"]["label"]
    assert np.array(test["confusion"]).sum() == test["n"]
    assert {r["class"] for r in test["per_class"]} == {"high", "low", "mid"}
    # the spec in the run folder replays the run
    assert ExperimentSpec.from_dict(json.loads((run / "spec.json").read_text())) == spec
    splits = json.loads((run / "splits.json").read_text())["row_ids"]
    ids = splits["train"] + splits["val"] + splits["test"]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 240
    # reporter saw the whole job
    begin = rep.of("train_begin")[0][0]
    assert begin["epochs"] == 3 and begin["steps_per_epoch"] == math.ceil(len(splits["train"]) / 16)
    batches = rep.of("batch_end")
    assert len(batches) == 3 * begin["steps_per_epoch"]
    assert {"loss", "batch_loss", "lr", "samples_per_s", "epoch"} <= set(batches[0][1])
    epochs = rep.of("epoch_end")
    assert [e[0] for e in epochs] == [1, 2, 3]
    assert "val_loss" in epochs[0][1] and epochs[0][1]["lr"] == pytest.approx(0.01)


def test_same_spec_and_seed_give_identical_metrics(tmp_path):
    from ftstudio.engine.training import train

    spec = tabular_spec(write_tabular_csv(tmp_path / "d.csv"))
    train(spec, out_dir=tmp_path / "a")
    train(spec, out_dir=tmp_path / "b")
    a = (tmp_path / "a" / "metrics.json").read_text()
    b = (tmp_path / "b" / "metrics.json").read_text()
    assert a == b
    history = [(tmp_path / d / "history.csv").read_text() for d in ("a", "b")]
    assert history[0] == history[1]


def test_stop_keeps_a_usable_model(tmp_path):
    from ftstudio.engine.training import train

    spec = tabular_spec(write_tabular_csv(tmp_path / "d.csv"), epochs=50)
    rep = RecordingReporter(stop_after_batches=30)
    result = train(spec, rep, out_dir=tmp_path / "run")
    assert result.stopped_by_user
    assert len(rep.of("batch_end")) == 30  # stopped right after the asking batch
    assert json.loads((tmp_path / "run" / "status.json").read_text())["status"] == "stopped"
    assert (tmp_path / "run" / "model.keras").is_file()
    assert "test.accuracy" in result.metrics
    assert rep.of("train_end")[0][0]["stopped_by_user"] is True


def test_multitask_functional_and_regression(tmp_path):
    from ftstudio.engine.training import train

    path = write_tabular_csv(tmp_path / "d.csv")
    spec = tabular_spec(path, epochs=4)
    spec.head.outputs = [
        type(spec.head.outputs[0])(name="cls", label_column="label"),
        type(spec.head.outputs[0])(name="reg", label_column="target", task="regression",
                                   loss_weight=0.5),
    ]
    result = train(spec, out_dir=tmp_path / "run")
    m = result.metrics
    assert {"test.cls.accuracy", "test.reg.mae", "test.reg.rmse", "test.reg.r2"} <= set(m)
    assert m["test.reg.r2"] > 0.5
    from ftstudio.engine.artifacts import load_run_model
    from ftstudio.engine.runs import RunFolder

    model = load_run_model(RunFolder(tmp_path / "run"))
    assert type(model).__name__ == "Functional"
    assert set(model.output_names) >= {"cls", "reg"}


def test_schedule_warmup_then_cosine_decay(tmp_path):
    from ftstudio.engine.training import train

    spec = tabular_spec(write_tabular_csv(tmp_path / "d.csv"), epochs=3, schedule="cosine",
                        warmup_fraction=0.2)
    rep = RecordingReporter()
    train(spec, rep, out_dir=tmp_path / "run")
    lrs = [logs["lr"] for _, logs in rep.of("batch_end")]
    peak = int(np.argmax(lrs))
    assert 0 < peak < len(lrs) - 1
    assert lrs[0] < lrs[peak] and lrs[-1] < 0.2 * lrs[peak]
    assert max(lrs) <= 0.01 + 1e-9


def test_class_weight_balanced_and_bad_names(tmp_path):
    from ftstudio.engine.training import train

    path = write_tabular_csv(tmp_path / "d.csv")
    train(tabular_spec(path, class_weight="balanced", epochs=1), out_dir=tmp_path / "a")
    with pytest.raises(SpecError, match="unknown class 'nope'"):
        train(tabular_spec(path, class_weight={"nope": 2.0}, epochs=1), out_dir=tmp_path / "b")
    assert json.loads((tmp_path / "b" / "status.json").read_text())["status"] == "failed"


def test_divergence_is_a_clear_error(tmp_path):
    from ftstudio.engine.training import train

    spec = tabular_spec(write_tabular_csv(tmp_path / "d.csv"), optimizer="sgd", learning_rate=1e12,
                        epochs=2)
    spec.head.outputs[0].task = "regression"
    spec.head.outputs[0].label_column = "target"
    with pytest.raises(FtStudioError, match="diverged.*learning_rate"):
        train(spec, out_dir=tmp_path / "run")


class CrashAtEpoch(RecordingReporter):
    def __init__(self, epoch):
        super().__init__()
        self.crash_epoch = epoch

    def epoch_end(self, epoch, logs):
        super().epoch_end(epoch, logs)
        if epoch == self.crash_epoch:
            raise KeyboardInterrupt("simulated kill")


def test_resume_continues_from_the_last_epoch(tmp_path):
    from ftstudio.engine.training import train

    spec = tabular_spec(write_tabular_csv(tmp_path / "d.csv"), epochs=4)
    with pytest.raises(KeyboardInterrupt):
        train(spec, CrashAtEpoch(2), out_dir=tmp_path / "run")
    assert (tmp_path / "run" / "backup").is_dir()
    assert json.loads((tmp_path / "run" / "status.json").read_text())["status"] == "failed"
    rep = RecordingReporter()
    result = train(spec, rep, out_dir=tmp_path / "run", resume=True)
    assert [e[0] for e in rep.of("epoch_end")] == [3, 4]
    assert [int(r["epoch"]) for r in result.history] == [0, 1, 2, 3]
    assert json.loads((tmp_path / "run" / "status.json").read_text())["status"] == "finished"
    with pytest.raises(RunError, match="no backup"):
        train(spec, out_dir=tmp_path / "run", resume=True)
    with pytest.raises(RunError, match="already holds a run"):
        train(spec, out_dir=tmp_path / "run")


def test_resume_without_anything_to_resume(tmp_path):
    from ftstudio.engine.training import train

    spec = tabular_spec(write_tabular_csv(tmp_path / "d.csv"))
    with pytest.raises(RunError, match="nothing to resume"):
        train(spec, resume=True, runs_root=tmp_path / "runs")


def test_predict_and_evaluate_run(tmp_path):
    from ftstudio.engine.inference import evaluate_run, predict
    from ftstudio.engine.training import train

    path = write_tabular_csv(tmp_path / "d.csv")
    result = train(tabular_spec(path), out_dir=tmp_path / "run")
    again = evaluate_run(tmp_path / "run")
    assert again["test.accuracy"] == pytest.approx(result.metrics["test.accuracy"])
    rows = predict(tmp_path / "run", file=path)
    assert len(rows) == 240
    assert rows[0]["label"]["label"] in {"high", "low", "mid"}
    assert sum(rows[0]["label"]["probabilities"].values()) == pytest.approx(1, abs=1e-4)
