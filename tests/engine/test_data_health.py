"""Data health: each check finds what was planted, with a count, examples and an action."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ftstudio.engine.data_health import check_data
from ftstudio.spec import ExperimentSpec
from tests.helpers.specs import (
    image_spec_data,
    tabular_spec_data,
    text_spec_data,
    write_image_folder,
    write_tabular_csv,
)


def _text_csv(path: Path) -> Path:
    rows = [(f"review number {i} about the film", "pos" if i % 5 else "neg") for i in range(60)]
    rows += [(f"a fine little film {i}", "rare") for i in range(2)]
    rows += [("the same text twice", "pos"), ("the same text twice", "pos")]
    rows += [("Conflicting LABEL here!", "pos"), ("conflicting label here", "neg")]
    rows += [(" .", "pos"), ("word " * 900, "neg")]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def _by_check(report: object) -> dict[str, object]:
    return {f.check: f for f in report.findings}  # type: ignore[attr-defined]


def test_text_checks_find_imbalance_duplicates_conflicts_and_odd_lengths(tmp_path: Path) -> None:
    spec = ExperimentSpec.from_dict(text_spec_data(_text_csv(tmp_path / "t.csv")))
    report = check_data(spec)
    found = _by_check(report)
    assert {"imbalance", "small_classes", "duplicates", "conflicting_labels", "empty_texts",
            "long_texts"} <= set(found)
    imbalance = found["imbalance"]
    assert "'rare' 2" in imbalance.title and "accuracy" in imbalance.meaning
    assert "class_weight" in imbalance.action
    assert found["duplicates"].count == 1 and "line 64" in found["duplicates"].examples[0]
    assert found["conflicting_labels"].severity == "problem"
    assert found["conflicting_labels"].count == 2
    assert found["empty_texts"].count == 1 and found["long_texts"].count == 1
    assert report.findings[0].severity == "problem"  # problems first
    assert all(f.action and f.count > 0 for f in report.findings)


def test_a_copy_across_the_split_is_reported_as_leakage(tmp_path: Path) -> None:
    rows = [(f"text {i} " + "abc"[i % 3], "abc"[i % 3]) for i in range(30)]
    rows += [("text 0 a", "a")] * 6  # copies of one text: some land in val/test
    path = tmp_path / "leak.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows([("text", "label"), *rows])
    found = _by_check(check_data(ExperimentSpec.from_dict(text_spec_data(path))))
    assert found["leakage"].severity == "problem" and "inflated" in found["leakage"].meaning
    assert "conflicting_labels" not in found


def test_tabular_checks_find_constant_features_and_outliers(tmp_path: Path) -> None:
    path = write_tabular_csv(tmp_path / "d.csv", n=120, features=4)
    lines = path.read_text().splitlines()
    head, body = lines[0].split(","), [line.split(",") for line in lines[1:]]
    for i, cells in enumerate(body):
        cells[2] = "1.0"  # f2 never changes
        if i == 7:
            cells[0] = "900.0"  # a typo-sized value on line 9
    path.write_text("\n".join(",".join(c) for c in [head, *body]) + "\n")
    found = _by_check(check_data(ExperimentSpec.from_dict(tabular_spec_data(path))))
    assert found["constant_features"].examples == ["f2"]
    assert found["outliers"].count == 1 and found["outliers"].examples[0].startswith("line 9")


def test_image_checks_find_odd_modes_and_sizes(tmp_path: Path) -> None:
    from PIL import Image

    folder = write_image_folder(tmp_path / "images", per_class=6, size=40)
    Image.new("RGBA", (40, 40), (1, 2, 3, 4)).save(folder / "red" / "alpha.png")
    Image.fromarray(np.full((8, 40, 3), 90, np.uint8)).save(folder / "blue" / "strip.png")
    found = _by_check(check_data(ExperimentSpec.from_dict(image_spec_data(folder))))
    assert found["image_modes"].count == 1 and "RGBA" in found["image_modes"].title
    assert found["image_sizes"].count == 1 and "image" in found["image_sizes"].examples[0]
