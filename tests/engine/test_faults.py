"""Fault injection: a run killed or failed at every phase and every file write resumes to the
result of an uninterrupted run (same weights, history, metrics), or says clearly why not.

``FTSTUDIO_FAULT`` names the point (``ftstudio/engine/faults.py``). ``crash`` raises a simulated
kill inside the test process (no handler records it, its temp files stay, the lock is freed as
the operating system frees a dead process's lock); one test kills a real child process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ftstudio.engine import faults
from ftstudio.engine.reporting import RecordingReporter
from ftstudio.engine.runs import RunFolder, list_runs
from ftstudio.errors import InjectedCrash, RunError, StorageError
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_json, write_tabular_csv

ROOT = Path(__file__).resolve().parents[2]
RESULT_FILES = ("history.csv", "metrics.json", "evaluation.json", "predictions.csv",
                "labels.json", "splits.json")


def tabular_spec(csv_path: Path) -> ExperimentSpec:
    """Tiny, with dropout (random state that a resume must restore) and early stopping."""
    data = tabular_spec_data(csv_path, name="faults", seed=3, epochs=2,
                             early_stopping_patience=2, baseline=False)
    data["head"]["layers"].append({"type": "dropout", "rate": 0.3})
    return ExperimentSpec.from_dict(data)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted run and the names of its file writes, in order."""
    from ftstudio.engine.training import train

    root = tmp_path_factory.mktemp("faults")
    spec = tabular_spec(write_tabular_csv(root / "d.csv", n=60))
    train(spec, out_dir=root / "reference")
    return spec, root / "reference", faults.written_files()


def model_weights(run: Path) -> list[np.ndarray]:
    from ftstudio.engine.artifacts import load_run_model

    return load_run_model(RunFolder(run)).get_weights()


def assert_same_run(run: Path, reference: Path) -> None:
    """Same weights and results as the reference; nothing left of the interruption."""
    for got, want in zip(model_weights(run), model_weights(reference), strict=True):
        np.testing.assert_array_equal(got, want)
    for name in RESULT_FILES:
        assert (run / name).read_text() == (reference / name).read_text(), name
    assert RunFolder(run).state() == "finished"
    left = sorted(p.name for p in run.rglob("*") if p.name.startswith(".tmp-")
                  or p.name.endswith(".npz") or p.name == "backup")
    assert left == [], left


def crash_then_resume(spec, run: Path, fault: str, monkeypatch) -> RecordingReporter:
    from ftstudio.engine.training import train

    monkeypatch.setenv("FTSTUDIO_FAULT", fault)
    with pytest.raises(InjectedCrash):
        train(spec, out_dir=run)
    monkeypatch.delenv("FTSTUDIO_FAULT")
    rep = RecordingReporter()
    if not (run / "spec.json").is_file():  # killed at its first write: nothing to resume
        with pytest.raises(RunError, match="nothing to resume in .*train without --resume"):
            train(spec, out_dir=run, resume=True)
        train(spec, rep, out_dir=run)
        return rep
    assert RunFolder(run).state() == "interrupted"
    train(spec, rep, out_dir=run, resume=True)
    return rep


def test_fault_grammar():
    assert faults.parse_fault("between-epochs#2=kill") == faults.Fault("between-epochs", 2,
                                                                      "kill")
    assert faults.parse_fault("write:model.keras=enospc").where == "write:model.keras"
    for bad in ("between-epochs", "nowhere=crash", "saving=explode", "write#x=crash"):
        with pytest.raises(ValueError, match="FTSTUDIO_FAULT"):
            faults.parse_fault(bad)


@pytest.mark.parametrize("fault, says", [
    ("before-data=crash", "training starts from epoch 1"),
    ("built=crash", "training starts from epoch 1"),
    ("mid-epoch#2=crash", "continuing after epoch 1 of 2"),
    ("between-epochs#1=crash", "continuing after epoch 1 of 2"),
    ("evaluating=crash", "only evaluating and saving are redone"),
    ("saving=crash", "only evaluating and saving are redone"),
])
def test_a_kill_at_every_phase_resumes_to_the_same_run(reference, tmp_path, monkeypatch,
                                                       fault, says):
    spec, ref, _ = reference
    run = tmp_path / "run"
    rep = crash_then_resume(spec, run, fault, monkeypatch)
    first = rep.of("status")[0][0]
    assert says in first and "interrupted" in first, first
    assert_same_run(run, ref)


def test_a_kill_before_the_export_redoes_only_the_end(reference, tmp_path, monkeypatch):
    spec, ref, _ = reference
    exporting = ExperimentSpec.from_dict({**spec.to_dict(),
                                          "export": {"dir": str(tmp_path / "exported")}})
    run = tmp_path / "run"
    rep = crash_then_resume(exporting, run, "export=crash", monkeypatch)
    assert "only evaluating and saving are redone" in rep.of("status")[0][0]
    assert (tmp_path / "exported" / "keras" / "model.keras").is_file()
    assert_same_run(run, ref)


def test_a_kill_at_every_file_write_resumes_to_the_same_run(reference, tmp_path, monkeypatch):
    """SQLite's crash test in small: the run is killed at its 1st, 2nd, ... N-th write."""
    spec, ref, writes = reference
    assert len(writes) >= 15 and "model.keras" in writes and "latest.weights.h5" in writes
    for n, name in enumerate(writes, start=1):
        run = tmp_path / f"write{n}"
        crash_then_resume(spec, run, f"write#{n}=crash", monkeypatch)
        try:
            assert_same_run(run, ref)
        except AssertionError as exc:
            raise AssertionError(f"killed at write {n} ({name}): {exc}") from exc


def enospc_then_resume(spec, ref: Path, run: Path, fault: str, monkeypatch) -> str:
    from ftstudio.engine.training import train

    monkeypatch.setenv("FTSTUDIO_FAULT", fault)
    with pytest.raises(StorageError) as caught:
        train(spec, out_dir=run)
    monkeypatch.delenv("FTSTUDIO_FAULT")
    message = str(caught.value)
    # no temp file, every file there whole, the run resumable
    assert not [p for p in run.rglob(".tmp-*")]
    for path in run.glob("*.json"):
        json.loads(path.read_text())
    if (run / "spec.json").is_file():
        assert RunFolder(run).state() in ("failed", "interrupted")
        assert message.endswith("continue the run with --resume (same --out)")
        train(spec, out_dir=run, resume=True)
    else:  # failed at its first write: nothing was recorded, so it is simply trained again
        assert message.endswith("then train again")
        train(spec, out_dir=run)
    assert_same_run(run, ref)
    return message


@pytest.mark.parametrize("point", ["spec.json", "history.csv", "latest.weights.h5",
                                   "best_weights.npz", "final_weights.npz", "metrics.json",
                                   "model.keras", "status.json#3"])
def test_a_full_disk_at_a_write_is_one_clear_message_and_resumes(reference, tmp_path,
                                                                  monkeypatch, point):
    spec, ref, _ = reference
    name, _, nth = point.partition("#")
    run = tmp_path / "run"
    message = enospc_then_resume(spec, ref, run, f"write:{name}#{nth or 1}=enospc",
                                 monkeypatch)
    assert message.startswith(f"no space left on the disk of {run}")
    assert f"writing {name}" in message and " free" in message


def test_an_io_error_names_the_file_and_resumes(reference, tmp_path, monkeypatch):
    spec, ref, _ = reference
    from ftstudio.engine.training import train

    monkeypatch.setenv("FTSTUDIO_FAULT", "write:evaluation.json=eio")
    with pytest.raises(StorageError, match=r"cannot write evaluation.json in .*: "
                                           r"Input/output error.*--resume"):
        train(spec, out_dir=tmp_path / "run")
    monkeypatch.delenv("FTSTUDIO_FAULT")
    train(spec, out_dir=tmp_path / "run", resume=True)
    assert_same_run(tmp_path / "run", ref)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("FTSTUDIO_FAULT_SWEEP"),
                    reason="~50 s: set FTSTUDIO_FAULT_SWEEP=1 to fail every write with ENOSPC")
def test_a_full_disk_at_every_file_write_resumes(reference, tmp_path, monkeypatch):
    spec, ref, writes = reference
    for n, name in enumerate(writes, start=1):
        try:
            enospc_then_resume(spec, ref, tmp_path / f"w{n}", f"write#{n}=enospc", monkeypatch)
        except AssertionError as exc:
            raise AssertionError(f"full disk at write {n} ({name}): {exc}") from exc


def test_a_real_kill_leaves_an_interrupted_run_that_resumes(reference, tmp_path):
    """SIGKILL right before ``model.keras`` takes its name: no handler runs at all."""
    from ftstudio.engine.training import train

    spec, ref, _ = reference
    spec_file = write_json(tmp_path / "spec.json", spec.to_dict())
    run = tmp_path / "runs" / "killed"
    env = {**os.environ, "FTSTUDIO_FAULT": "write:model.keras=kill", "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run([sys.executable, "-m", "ftstudio", "train", str(spec_file), "--out",
                           str(run)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -9, proc.stderr[-2000:]
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "running" and status["phase"] == "saving"
    assert status["pid"] != os.getpid() and status["heartbeat"] > 0
    assert [r.status for r in list_runs(tmp_path / "runs")] == ["interrupted"]
    assert list(run.glob(".tmp-model-*.keras"))  # the kill left its half-written model
    with pytest.raises(RunError, match="interrupted while saving.*--resume"):
        from ftstudio.engine.inference import predict

        predict(run, file=spec.data.path)
    train(spec, out_dir=run, resume=True)
    assert_same_run(run, ref)  # across processes too: CPU runs repeat exactly


def test_resume_refuses_another_spec_and_finished_runs(reference, tmp_path, monkeypatch):
    from ftstudio.engine.training import train

    spec, _, _ = reference
    run = tmp_path / "run"
    monkeypatch.setenv("FTSTUDIO_FAULT", "between-epochs=crash")
    with pytest.raises(InjectedCrash):
        train(spec, out_dir=run)
    monkeypatch.delenv("FTSTUDIO_FAULT")
    other = ExperimentSpec.from_dict({**spec.to_dict(),
                                      "training": {**spec.to_dict()["training"],
                                                   "batch_size": 8}})
    def files():  # the lock file records who last held it; everything else must stay
        return {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()
                and p.name != ".lock"}

    before = files()
    with pytest.raises(RunError, match="differs in training.batch_size"):
        train(other, out_dir=run, resume=True)
    assert files() == before
    train(spec, out_dir=run, resume=True)
    with pytest.raises(RunError, match="finished: there is no backup"):
        train(spec, out_dir=run, resume=True)


@pytest.fixture(scope="module")
def image_setup(tmp_path_factory):
    """A two-phase recipe (head first, then fine-tune) on a tiny conv backbone."""
    from ftstudio.engine.training import train
    from tests.helpers.models import save_model, tiny_cnn
    from tests.helpers.specs import write_image_folder

    root = tmp_path_factory.mktemp("twophase")
    folder = write_image_folder(root / "images", per_class=10)
    spec = ExperimentSpec.from_dict({
        "name": "twophase", "data": {"image_dir": str(folder), "label_column": "label"},
        "backbone": {"source": "file", "preprocessing": "scale_0_1",
                     "path": str(save_model(tiny_cnn(16), root / "cnn.keras"))},
        "freeze": {"head_first_epochs": 1},
        "training": {"epochs": 3, "batch_size": 8, "baseline": False}})
    rep = RecordingReporter()
    train(spec, rep, out_dir=root / "reference")
    return spec, root / "reference", rep


def test_two_phase_run_reports_each_phase_and_its_stages(image_setup):
    _, _, rep = image_setup
    begins = [info for (info,) in rep.of("train_begin")]
    assert [(b["phase"], b["phase_epochs"], b["phase_first_epoch"]) for b in begins] == \
        [("head", 1, 1), ("fine-tune", 2, 2)]
    assert all(b["epochs"] == 3 for b in begins)  # the whole run, for the progress bar
    # every stage before the first step says what it does
    first_batch = next(i for i, (name, _) in enumerate(rep.calls) if name == "batch_end")
    before = [args[0] for name, args in rep.calls[:first_batch] if name == "status"]
    for stage in ("Loading data", "Loading TensorFlow", "Loading the backbone",
                  "Building the model", "Compiling the model", "Compiling the training step"):
        assert any(s.startswith(stage) for s in before), (stage, before)


@pytest.mark.parametrize("fault", ["between-epochs#1=crash",  # head phase done, no marker
                                   "write:phase0.done.npz=crash",
                                   "mid-epoch#3=crash"])       # inside the fine-tune phase
def test_a_two_phase_run_killed_anywhere_resumes_to_the_same_run(image_setup, tmp_path,
                                                                 monkeypatch, fault):
    spec, ref, _ = image_setup
    run = tmp_path / "run"
    crash_then_resume(spec, run, fault, monkeypatch)
    assert_same_run(run, ref)


def test_text_run_killed_while_saving_its_preprocessor(tmp_path, monkeypatch):
    """The preprocessor folder appears whole or not at all; predict says what to do."""
    from ftstudio.engine.inference import predict
    from tests.helpers.eval_runs import write_text_csv
    from tests.helpers.models import tiny_bert_preset

    spec = ExperimentSpec.from_dict({
        "name": "text", "data": {"path": str(write_text_csv(tmp_path / "text.csv")),
                                 "text_column": "text", "label_column": "label"},
        "backbone": {"source": "keras_hub", "path": str(tiny_bert_preset(tmp_path / "bert")),
                     "sequence_length": 8},
        "training": {"epochs": 1, "batch_size": 8, "baseline": False}})
    run = tmp_path / "run"
    rep = crash_then_resume(spec, run, "write:preprocessor=crash", monkeypatch)
    assert "only evaluating and saving are redone" in rep.of("status")[0][0]
    assert not [p for p in run.rglob(".tmp-*")]
    assert (run / "preprocessor" / "config.json").is_file()
    rows = predict(run, texts=["good movie", "bad movie"])
    assert {row["label"]["label"] for row in rows} <= {"pos", "neg"}
