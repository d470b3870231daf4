"""``ftstudio lr-find``, ``sweep`` and ``script`` on a tiny tabular spec."""

from __future__ import annotations

import json
import re

from ftstudio.cli import EXIT_USER_ERROR, main
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import tabular_spec_data, write_json, write_tabular_csv


def _spec_file(tmp_path):
    data = tabular_spec_data(write_tabular_csv(tmp_path / "d.csv", n=120), name="cli-tiny",
                             epochs=1)
    return write_json(tmp_path / "spec.json", data)


def test_lr_find_prints_the_suggestion_and_writes_the_curve(tmp_path, capsys,
                                                            _isolated_home):
    spec = _spec_file(tmp_path)
    assert main(["lr-find", str(spec), "--out", str(tmp_path / "curve.png"),
                 "--steps", "30"]) == 0
    out = capsys.readouterr().out
    rate = float(re.search(r"Suggested learning rate: (\S+)", out).group(1))
    assert 1e-7 < rate < 10
    assert f"--set training.learning_rate={rate:.2g}" in out
    assert (tmp_path / "curve.csv").read_text().count("\n") >= 9
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert not (_isolated_home / "runs").exists()  # no run folder left behind


def test_sweep_and_script(tmp_path, capsys):
    spec = _spec_file(tmp_path)
    space = write_json(tmp_path / "space.json",
                       {"training.learning_rate": {"low": 0.001, "high": 0.1, "log": True}})
    assert main(["sweep", str(spec), "--trials", "1", "--space", str(space),
                 "--out", str(tmp_path / "sweep")]) == 0
    out = capsys.readouterr().out
    assert "Best: trial" in out and "best_spec.json" in out
    best = ExperimentSpec.load(tmp_path / "sweep" / "best_spec.json")
    assert 0.001 <= best.training.learning_rate <= 0.1
    run = tmp_path / "sweep" / "trial-000"
    assert main(["script", str(run), "-o", str(tmp_path / "again.py")]) == 0
    printed = capsys.readouterr().out
    assert "Script written" in printed and "keras-hub for text, Pillow for images" in printed
    assert "note: the script does not reproduce the batch order" in printed
    source = (tmp_path / "again.py").read_text()
    compile(source, "again.py", "exec")
    assert "ftstudio" not in [line.split()[1] for line in source.splitlines()
                              if line.startswith(("import ", "from "))]
    bad = write_json(tmp_path / "bad.json", {"training.seed": [1, 2]})
    assert main(["sweep", str(spec), "--trials", "1", "--space", str(bad)]) == EXIT_USER_ERROR
    assert "cannot search 'training.seed'" in capsys.readouterr().err
    assert json.loads((run / "status.json").read_text())["status"] == "finished"
