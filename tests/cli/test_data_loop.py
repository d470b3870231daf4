"""``ftstudio check | labels | label-next | explain`` on tiny data and runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from ftstudio.cli import EXIT_USER_ERROR, main
from tests.helpers.eval_runs import trained_run
from tests.helpers.specs import tabular_spec_data, write_json, write_tabular_csv


def _spec(tmp_path: Path, n: int = 150) -> tuple[Path, Path]:
    data = write_tabular_csv(tmp_path / "d.csv", n=n)
    lines = data.read_text().splitlines()
    lines.append(lines[5])  # an exact duplicate of line 6, labelled the same
    data.write_text("\n".join(lines) + "\n")
    return write_json(tmp_path / "spec.json", tabular_spec_data(data)), data


def test_check_prints_findings_and_says_problems_in_its_exit_code(tmp_path, capsys) -> None:
    spec, data = _spec(tmp_path)
    code = main(["check", str(spec)])
    out = capsys.readouterr().out
    assert "151 examples" in out and "exact duplicate" in out and "what to do:" in out
    assert code in (0, 3)
    assert main(["check", str(spec), "--json"]) == code
    report = json.loads(capsys.readouterr().out)
    assert report["examples"] == 151 and (code == 3) == any(
        f["severity"] == "problem" for f in report["findings"])


def test_labels_lists_the_review_and_writes_corrections_to_a_new_file(tmp_path, capsys) -> None:
    spec, data = _spec(tmp_path)
    assert main(["labels", str(spec), "--top", "5", "--relabel", "3=mid", "--drop", "4",
                 "--out", str(tmp_path / "fixed.csv")]) == 0
    out = capsys.readouterr().out
    assert "likely label errors among 151 examples" in out and "Corrected data written" in out
    with (tmp_path / "fixed.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 150 and rows[1]["label"] == "mid"
    assert main(["labels", str(spec), "--relabel", "3=mid"]) == EXIT_USER_ERROR
    assert "need --out" in capsys.readouterr().err
    assert main(["labels", str(trained_run("tabular")), "--json"]) == 0
    review = json.loads(capsys.readouterr().out)
    assert review["issues"] and "held-out" in review["method"]


def test_label_next_ranks_a_pool_and_appends_labels(tmp_path, capsys) -> None:
    spec, _ = _spec(tmp_path)
    pool = write_tabular_csv(tmp_path / "pool.csv", n=80, seed=9)
    assert main(["label-next", str(spec), "--pool", str(pool), "-n", "5", "--json"]) == 0
    ranking = json.loads(capsys.readouterr().out)
    rows = [e["row"] for e in ranking["examples"]]
    assert len(rows) == 5 and ranking["pool_size"] == 80
    assert main(["label-next", str(spec), "--pool", str(pool), "-n", "5",
                 "--label", f"{rows[0]}=low", "--out", str(tmp_path / "more.csv")]) == 0
    assert "1 new label" in capsys.readouterr().out
    assert len((tmp_path / "more.csv").read_text().splitlines()) == 153


def test_explain_a_text_run(capsys) -> None:
    assert main(["explain", str(trained_run("text")), "--text", "one two good"]) == 0
    out = capsys.readouterr().out
    assert "integrated gradients" in out and "towards it:" in out


def test_explain_an_image_run_writes_the_overlay(tmp_path, capsys) -> None:
    run = trained_run("image")
    picture = next((run.parent / "images").rglob("*.png"))
    out = tmp_path / "overlay.png"
    assert main(["explain", str(run), "--image", str(picture), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Grad-CAM" in text and "top-left" in text and out.stat().st_size > 0
