"""The CLI: exit codes, one-line errors, train/evaluate/predict, kill + --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ftstudio.cli import EXIT_USER_ERROR, main
from tests.helpers.specs import tabular_spec_data, write_json, write_tabular_csv

ROOT = Path(__file__).resolve().parents[2]


def spec_file(tmp_path, csv_path, **training):
    data = tabular_spec_data(csv_path, name="cli-tiny", **{"epochs": 2, **training})
    return write_json(tmp_path / "spec.json", data)


def one_error_line(capsys):
    """Progress lines may come first; the error itself is exactly one last line."""
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    errors = [line for line in err if line.startswith(("error", "internal error"))]
    assert len(errors) == 1 and err[-1] == errors[0] and errors[0].startswith("error: "), err
    return errors[0]


def test_train_evaluate_predict(tmp_path, capsys):
    csv_path = write_tabular_csv(tmp_path / "d.csv")
    spec = spec_file(tmp_path, csv_path)
    assert main(["train", str(spec), "--out", str(tmp_path / "run"),
                 "--set", "training.epochs=3"]) == 0
    out = capsys.readouterr().out
    assert "test.accuracy" in out
    assert json.loads((tmp_path / "run" / "spec.json").read_text())["training"]["epochs"] == 3
    assert main(["evaluate", str(tmp_path / "run"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0 <= metrics["test.accuracy"] <= 1
    assert main(["predict", str(tmp_path / "run"), "--file", str(csv_path), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 240 and "label" in rows[0]["label"]
    # a run folder's spec.json replays the run
    assert main(["train", str(tmp_path / "run" / "spec.json"), "--out",
                 str(tmp_path / "replay")]) == 0
    capsys.readouterr()
    assert (json.loads((tmp_path / "replay" / "metrics.json").read_text()) ==
            json.loads((tmp_path / "run" / "metrics.json").read_text()))


@pytest.mark.parametrize("patch, expect", [
    ({"data": {"label_column": "lable"}}, "lable"),
    ({"training": {"epoch": 2}}, "unknown key 'training.epoch'"),
    ({"training": {"epochs": "two"}}, "training.epochs"),
    ({"backbone": {"source": "auto", "name": "NoSuchNet9000"}}, "NoSuchNet9000"),
])
def test_bad_input_is_one_clear_line(tmp_path, capsys, patch, expect):
    spec = spec_file(tmp_path, write_tabular_csv(tmp_path / "d.csv"))
    data = json.loads(spec.read_text())
    for section, values in patch.items():
        data[section].update(values)
    if "name" in patch.get("backbone", {}):
        data["data"] = {"path": data["data"]["path"], "text_column": "f0",
                        "label_column": "label"}
    spec.write_text(json.dumps(data))
    assert main(["train", str(spec), "--out", str(tmp_path / "run")]) == EXIT_USER_ERROR
    assert expect in one_error_line(capsys)


def test_missing_files_and_runs(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nope.json")]) == EXIT_USER_ERROR
    assert "not found" in one_error_line(capsys)
    assert main(["evaluate", str(tmp_path)]) == EXIT_USER_ERROR
    assert "not a run folder" in one_error_line(capsys)
    assert main(["predict", str(tmp_path / "x"), "--text", "hi"]) == EXIT_USER_ERROR
    assert "not found" in one_error_line(capsys)


def test_debug_shows_the_traceback_and_its_cause(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    assert main(["--debug", "train", str(bad)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "Traceback" in err and "JSONDecodeError" in err
    assert "direct cause of the following exception" in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "not valid JSON" in last


def test_no_command_prints_help_and_exits_2(capsys):
    assert main([]) == EXIT_USER_ERROR
    assert "models" in capsys.readouterr().out


def test_kill_mid_training_then_resume(tmp_path):
    """A real process killed with SIGKILL mid-run continues from its last epoch."""
    rng = np.random.default_rng(1)
    n = 12000
    x = rng.normal(size=(n, 4))
    csv_path = tmp_path / "big.csv"
    with open(csv_path, "w") as fh:
        fh.write("f0,f1,f2,f3,label\n")
        for row in x:
            label = "a" if row[0] > 0 else "b"
            fh.write(",".join(f"{v:.4f}" for v in row) + f",{label}\n")
    spec = spec_file(tmp_path, csv_path, epochs=12, batch_size=8)
    run = tmp_path / "run"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, "-m", "ftstudio", "train", str(spec), "--out", str(run)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    history = run / "history.csv"
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            if history.is_file() and len(history.read_text().splitlines()) >= 3:  # 2 epochs
                break
            if proc.poll() is not None:
                pytest.fail("training ended before it could be killed")
            time.sleep(0.05)
        else:
            pytest.fail("no epoch finished in time")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done_before = len(history.read_text().splitlines()) - 1
    assert done_before < 12
    assert (run / "backup").is_dir()
    assert json.loads((run / "status.json").read_text())["status"] == "running"
    res = subprocess.run(cmd + ["--resume"], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=400)
    assert res.returncode == 0, res.stderr
    assert "interrupted while training" in res.stderr  # the resume says what it found
    epochs = [line.split(",")[0] for line in history.read_text().splitlines()[1:]]
    assert epochs == [str(i) for i in range(12)]
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
