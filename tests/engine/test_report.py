"""The HTML report: one self-contained file with every section, parsed back (and rendered)."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ftstudio.engine.report import SECTIONS, write_report
from tests.helpers.eval_runs import copy_run, trained_run


class _Outline(HTMLParser):
    """The section ids, images (by section) and every link of an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.sections: list[str] = []
        self.images: dict[str, list[str]] = {}
        self.links: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self.sections.append(str(a.get("id")))
        if tag == "img":
            self.images.setdefault(self.sections[-1], []).append(str(a.get("src")))
        for key in ("href", "src"):
            if key in a and tag != "img":
                self.links.append(str(a[key]))
        if tag in ("script", "link", "iframe"):
            self.links.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _outline(path: Path) -> _Outline:
    outline = _Outline()
    outline.feed(path.read_text(encoding="utf-8"))
    return outline


def _assert_png(src: str, min_width: int) -> None:
    from PIL import Image

    assert src.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as im:
        assert im.format == "PNG" and im.width >= min_width


@pytest.mark.parametrize("kind", ["text", "image", "regression"])
def test_report_has_every_section_and_only_inlined_images(kind: str, tmp_path: Path) -> None:
    out = write_report(trained_run(kind), tmp_path / "r.html")
    page = _outline(out)
    assert page.sections == list(SECTIONS)
    assert page.links == []  # nothing fetched, no script: opens offline
    for section, srcs in page.images.items():
        for src in srcs:
            _assert_png(src, 16 if section == "examples" else 400)  # thumbnails keep their size
    text = " ".join(page.text)
    assert "linear probe" in text and "points" in text or kind == "regression"
    if kind == "regression":
        assert len(page.images["curves"]) == 2  # predicted vs true, residuals
        assert "confusion" not in page.images
    else:
        assert len(page.images["curves"]) == 3  # ROC, precision-recall, reliability
        assert len(page.images["confusion"]) == 1
    if kind == "image":
        assert len(page.images["examples"]) == 12  # the test split's thumbnails


def test_report_of_an_incomplete_run_says_what_is_missing(tmp_path: Path) -> None:
    run = copy_run("tabular", tmp_path / "run")
    for name in ("evaluation.json", "predictions.csv", "history.csv"):
        (run / name).unlink()
    page = _outline(write_report(run))
    assert (run / "report.html").is_file() and page.sections == list(SECTIONS)
    text = " ".join(page.text)
    assert "lacks evaluation.json, history.csv, predictions.csv" in text
    assert "No predictions.csv" in text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium")
def test_report_renders_in_a_headless_browser(tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    out = write_report(trained_run("image"), tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", f"--screenshot={shot}",
                    "--window-size=1280,2000", out.as_uri()], check=True, timeout=120,
                   capture_output=True)
    with Image.open(shot) as im:
        assert im.size == (1280, 2000)
        # not a blank page: the text, cards and charts give the picture contrast
        assert ImageStat.Stat(im.convert("L")).stddev[0] > 20
