"""Small static charts as PNG bytes (Pillow only) for the self-contained HTML report.

Line charts (curves, training history), scatter plots (predicted vs true, residuals) and a
heat map (confusion matrix): enough to read a run's evaluation offline, without a plotting
library. Each function returns the PNG file's bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["PALETTE", "Series", "heatmap_png", "line_chart_png", "scatter_png"]

PALETTE = ["#3b6cf6", "#f28e2b", "#2ca58d", "#e15759", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]
"""Curve colours, as in the window."""

_TEXT = "#3c4043"
_GRID = "#e8eaed"
_SCALE = 2  # drawn at twice the size shown, so the text stays sharp on high-density screens


@dataclass
class Series:
    """One curve or point cloud: its name (legend), x and y values, and how to draw it."""

    name: str
    x: Sequence[float]
    y: Sequence[float]
    dashed: bool = False
    points: bool = False
    markers: bool = False


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size * _SCALE)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def nice_ticks(lo: float, hi: float, count: int = 5, integer: bool = False) -> list[float]:
    """Round tick values covering ``[lo, hi]`` (1, 2, 5 × a power of ten apart).

    ``integer`` keeps the ticks on whole numbers (epochs).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if integer:
        step = max(1.0, round(step))
    first = math.ceil(lo / step - 1e-9) * step
    ticks = []
    value = first
    while value <= hi + 1e-9 * step:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _tick_text(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1e4 or abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.4g}"


class _Canvas:
    """A Pillow image with plot axes: data coordinates -> pixels, grid, labels, legend."""

    def __init__(self, width: int, height: int, title: str, x_label: str, y_label: str,
                 x_range: tuple[float, float], y_range: tuple[float, float],
                 left: int = 62, integer_x: bool = False) -> None:
        from PIL import Image, ImageDraw

        s = _SCALE
        self.image = Image.new("RGB", (width * s, height * s), "white")
        self.draw = ImageDraw.Draw(self.image)
        self.font = _font(11)
        self.box = (left * s, 34 * s, (width - 14) * s, (height - 46) * s)
        self.x_range = _padded(x_range)
        self.y_range = _padded(y_range)
        self.integer_x = integer_x
        self.draw.text((left * s, 8 * s), title, fill=_TEXT, font=_font(13))
        x0, y0, x1, y1 = self.box
        self.draw.text(((x0 + x1) // 2, height * s - 6 * s), x_label, fill=_TEXT,
                       font=self.font, anchor="md")
        self._vertical_text(y_label, 4 * s, (y0 + y1) // 2)
        self._axes()

    def _vertical_text(self, text: str, x: int, centre_y: int) -> None:
        """Text turned a quarter to the left, its top at ``x``, centred on ``centre_y``."""
        from PIL import Image, ImageDraw

        width = int(self.draw.textlength(text, font=self.font)) + 4
        height = int(self.font.size * 1.3) if hasattr(self.font, "size") else 14
        label = Image.new("RGB", (width, height), "white")
        ImageDraw.Draw(label).text((2, 0), text, fill=_TEXT, font=self.font)
        turned = label.rotate(90, expand=True)
        self.image.paste(turned, (x, centre_y - turned.height // 2))

    def px(self, x: float, y: float) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        (a, b), (c, d) = self.x_range, self.y_range
        return x0 + (x - a) / (b - a) * (x1 - x0), y1 - (y - c) / (d - c) * (y1 - y0)

    def _axes(self) -> None:
        x0, y0, x1, y1 = self.box
        s = _SCALE
        for v in nice_ticks(*self.x_range, integer=self.integer_x):
            px, _ = self.px(v, self.y_range[0])
            self.draw.line([(px, y0), (px, y1)], fill=_GRID, width=s)
            self.draw.text((px, y1 + 4 * s), _tick_text(v), fill=_TEXT, font=self.font,
                           anchor="ma")
        for v in nice_ticks(*self.y_range):
            _, py = self.px(self.x_range[0], v)
            self.draw.line([(x0, py), (x1, py)], fill=_GRID, width=s)
            self.draw.text((x0 - 4 * s, py), _tick_text(v), fill=_TEXT, font=self.font,
                           anchor="rm")
        self.draw.rectangle(self.box, outline="#bdc1c6", width=s)

    def line(self, xs: Sequence[float], ys: Sequence[float], color: str,
             dashed: bool = False, markers: bool = False) -> None:
        pts = [self.px(x, y) for x, y in zip(xs, ys, strict=False)
               if math.isfinite(x) and math.isfinite(y)]
        if dashed:
            for a, b in zip(pts[::2], pts[1::2], strict=False):
                self.draw.line([a, b], fill=color, width=2 * _SCALE)
        elif len(pts) >= 2:
            self.draw.line(pts, fill=color, width=2 * _SCALE, joint="curve")
        if markers:
            for x, y in pts:
                r = 2.5 * _SCALE
                self.draw.ellipse([x - r, y - r, x + r, y + r], fill=color)

    def points(self, xs: Sequence[float], ys: Sequence[float], color: str) -> None:
        r = 2.2 * _SCALE
        for x, y in zip(xs, ys, strict=False):
            if math.isfinite(x) and math.isfinite(y):
                px, py = self.px(x, y)
                self.draw.ellipse([px - r, py - r, px + r, py + r], outline=color, width=_SCALE)

    def legend(self, names: Sequence[str], colors: Sequence[str], corner: str = "tr") -> None:
        """A legend box in a corner of the plot: ``tr``, ``br``, ``bl`` or ``tl``."""
        if not names:
            return
        s = _SCALE
        x0, y0, x1, y1 = self.box
        widths = [self.draw.textlength(n, font=self.font) for n in names]
        box_w, box_h = max(widths) + 34 * s, (16 * len(names) + 6) * s
        left = x1 - box_w - 6 * s if corner.endswith("r") else x0 + 6 * s
        top = y0 + 6 * s if corner.startswith("t") else y1 - box_h - 6 * s
        self.draw.rectangle([left, top, left + box_w, top + box_h], fill="white",
                            outline=_GRID, width=s)
        left += 6 * s
        for i, (name, color) in enumerate(zip(names, colors, strict=True)):
            y = top + (11 + 16 * i) * s
            self.draw.line([(left, y), (left + 16 * s, y)], fill=color, width=3 * s)
            self.draw.text((left + 22 * s, y), name, fill=_TEXT, font=self.font, anchor="lm")

    def png(self) -> bytes:
        buf = io.BytesIO()
        self.image.save(buf, format="PNG", optimize=True)
        return buf.getvalue()


def _padded(rng: tuple[float, float]) -> tuple[float, float]:
    lo, hi = rng
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    if hi <= lo:
        return lo - 0.5, hi + 0.5
    pad = 0.03 * (hi - lo)
    return lo - pad, hi + pad


def _extent(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    return (min(finite), max(finite)) if finite else (0.0, 1.0)


def line_chart_png(series: Sequence[Series], title: str, x_label: str, y_label: str,
                   x_range: tuple[float, float] | None = None,
                   y_range: tuple[float, float] | None = None, diagonal: bool = False,
                   legend_at: str = "tr", integer_x: bool = False,
                   size: tuple[int, int] = (520, 360)) -> bytes:
    """Curves (and point clouds) with a legend in corner ``legend_at``.

    ``diagonal`` adds the dashed ``y = x`` line; ``integer_x`` keeps x ticks on whole numbers.
    """
    xr = x_range or _extent([v for s in series for v in s.x])
    yr = y_range or _extent([v for s in series for v in s.y])
    canvas = _Canvas(size[0], size[1], title, x_label, y_label, xr, yr, integer_x=integer_x)
    if diagonal:
        lo, hi = max(xr[0], yr[0]), min(xr[1], yr[1])
        steps = [lo + (hi - lo) * i / 40 for i in range(41)]
        canvas.line(steps, steps, "#9aa0a6", dashed=True)
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(series))]
    for s, color in zip(series, colors, strict=True):
        if s.points:
            canvas.points(s.x, s.y, color)
        else:
            canvas.line(s.x, s.y, color, dashed=s.dashed, markers=s.markers)
    canvas.legend([s.name for s in series if s.name],
                  [c for s, c in zip(series, colors, strict=True) if s.name], legend_at)
    return canvas.png()


def scatter_png(x: Sequence[float], y: Sequence[float], title: str, x_label: str,
                y_label: str, identity: bool = False, zero_line: bool = False,
                size: tuple[int, int] = (520, 360)) -> bytes:
    """A point cloud; ``identity`` adds ``y = x``, ``zero_line`` the line ``y = 0``."""
    xr, yr = _extent(x), _extent(y)
    if identity:
        xr = yr = (min(xr[0], yr[0]), max(xr[1], yr[1]))
    canvas = _Canvas(size[0], size[1], title, x_label, y_label, xr, yr)
    if identity:
        canvas.line([xr[0], xr[1]], [xr[0], xr[1]], "#e15759")
    if zero_line:
        canvas.line([xr[0], xr[1]], [0.0, 0.0], "#e15759")
    canvas.points(x, y, PALETTE[0])
    return canvas.png()


def heatmap_png(matrix: Sequence[Sequence[float]], labels: Sequence[str], title: str,
                size: int = 460) -> bytes:
    """A confusion matrix: rows = true class, columns = predicted, counts in the cells."""
    from PIL import Image, ImageDraw

    s = _SCALE
    k = max(1, len(labels))
    margin = 110
    cell = max(14, (size - margin - 10) // k)
    width = margin + cell * k + 10
    image = Image.new("RGB", (width * s, (margin + cell * k + 10) * s), "white")
    draw = ImageDraw.Draw(image)
    font = _font(11 if k <= 10 else 8)
    draw.text((8 * s, 8 * s), title, fill=_TEXT, font=_font(13))
    draw.text(((margin + cell * k / 2) * s, 40 * s), "predicted", fill=_TEXT, font=font,
              anchor="mm")
    top = max((max(row) for row in matrix if len(row)), default=0) or 1
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            share = value / top
            fill = tuple(int(a + (b - a) * share) for a, b in zip((246, 249, 255), (31, 70, 180),
                                                                 strict=True))
            x0, y0 = (margin + j * cell) * s, (margin + i * cell) * s
            draw.rectangle([x0, y0, x0 + cell * s - 1, y0 + cell * s - 1], fill=fill,
                           outline="white")
            if k <= 25:
                draw.text((x0 + cell * s / 2, y0 + cell * s / 2), f"{int(value):,}",
                          fill="white" if share > 0.55 else _TEXT, font=font, anchor="mm")
    for i, name in enumerate(labels):
        short = name if len(name) <= 12 else name[:11] + "…"
        centre = (margin + i * cell + cell / 2) * s
        draw.text((centre, (margin - 6) * s), short, fill=_TEXT, font=font, anchor="md")
        draw.text(((margin - 6) * s, centre), short, fill=_TEXT, font=font, anchor="rm")
    draw.text((8 * s, (margin - 6) * s), "true (rows)", fill=_TEXT, font=font, anchor="ld")
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
