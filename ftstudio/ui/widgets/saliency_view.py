"""Why this prediction, drawn: a heat map over the image, or the tokens tinted by weight.

:func:`overlay_pixmap` lays an explanation's heat map (values in ``[0, 1]``) over its image
in translucent red; :func:`token_html` tints each token green (towards the predicted class)
or red (against it), by its share of the largest weight. :class:`SaliencyView` shows either.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from ftstudio.bridge import data_loop_calls
from ftstudio.bridge.current_job import CurrentJobs
from ftstudio.bridge.data_loop_calls import Explanation

__all__ = ["SaliencyView", "WhyPanel", "overlay_pixmap", "stacked", "start_explaining",
           "token_html"]


def overlay_pixmap(image_path: str, heatmap: Sequence[Sequence[float]], size: int = 220
                   ) -> QPixmap:
    """The image scaled to fit ``size`` with the heat map over it (red, up to 65% opaque)."""
    base = QImage(image_path)
    if base.isNull():
        return QPixmap()
    base = base.convertToFormat(QImage.Format.Format_ARGB32).scaled(
        size, size, Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation)
    rows, cols = len(heatmap), len(heatmap[0]) if heatmap else 0
    heat = QImage(max(1, cols), max(1, rows), QImage.Format.Format_ARGB32)
    heat.fill(QColor(0, 0, 0, 0))
    for r in range(rows):
        for c in range(cols):
            alpha = int(max(0.0, min(1.0, float(heatmap[r][c]))) * 165)
            heat.setPixelColor(c, r, QColor(230, 20, 20, alpha))
    heat = heat.scaled(base.width(), base.height(), Qt.AspectRatioMode.IgnoreAspectRatio,
                       Qt.TransformationMode.SmoothTransformation)
    painter = QPainter(base)
    painter.drawImage(0, 0, heat)
    painter.end()
    return QPixmap.fromImage(base)


def token_html(tokens: Sequence[tuple[str, float]]) -> str:
    """The tokens as HTML spans tinted by their attribution (green: for, red: against)."""
    top = max((abs(w) for _, w in tokens), default=0.0) or 1.0
    spans = []
    for token, weight in tokens:
        share = abs(weight) / top
        color = (24, 128, 56) if weight >= 0 else (197, 34, 31)
        alpha = 0.08 + 0.62 * share
        background = f"rgba({color[0]},{color[1]},{color[2]},{alpha:.2f})"
        spans.append(f"<span style='background-color:{background};padding:2px' "
                     f"title='{weight:+.4f}'>{html.escape(token)}</span>")
    return " ".join(spans)


class SaliencyView(QWidget):
    """Shows one :class:`Explanation`: the overlay (images) or the tinted tokens (text)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("saliencyView")
        self.caption = QLabel("")
        self.caption.setWordWrap(True)
        self.caption.setObjectName("muted")
        self.picture = QLabel()
        self.tokens = QLabel("")
        self.tokens.setTextFormat(Qt.TextFormat.RichText)
        self.tokens.setWordWrap(True)
        self.tokens.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.tokens.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.caption)
        lay.addWidget(self.picture, 1)
        lay.addWidget(self.tokens, 1)
        self.explanation: Explanation | None = None

    def show_explanation(self, result: Explanation) -> None:
        """Show why the run predicted ``result.predicted``."""
        self.explanation = result
        self.caption.setText(f"Why {result.predicted} ({result.probability:.0%}): "
                             f"{result.method}, {result.seconds:.1f} s. "
                             + ("Red: where the model looked." if result.heatmap is not None
                                else "Green pushes towards it, red against."))
        if result.heatmap is not None and result.image:
            self.picture.setPixmap(overlay_pixmap(result.image, result.heatmap))
            self.tokens.clear()
        else:
            self.picture.clear()
            self.tokens.setText(f"<p style='line-height:170%'>{token_html(result.tokens)}</p>")
        self.picture.setVisible(result.heatmap is not None)
        self.tokens.setVisible(result.heatmap is None)

    def show_message(self, text: str) -> None:
        """A line instead of an explanation (working, or why there is none)."""
        self.caption.setText(text)
        self.picture.clear()
        self.tokens.clear()


class WhyPanel(QWidget):
    """A "Why this prediction?" button over a :class:`SaliencyView` (under try-it).

    Signals:
        explainRequested(): the user asks why (the page runs the explanation in a job).
    """

    explainRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.button = QPushButton("Why this prediction?")
        self.button.setObjectName("whyButton")
        self.button.clicked.connect(self.explainRequested)
        self.view = SaliencyView()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.button, 0, Qt.AlignmentFlag.AlignLeft)
        lay.addWidget(self.view, 1)


def stacked(top: QWidget, bottom: QWidget, stretch: tuple[int, int] = (3, 2)) -> QWidget:
    """``top`` over ``bottom`` in one widget (a tab's content)."""
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(top, stretch[0])
    lay.addWidget(bottom, stretch[1])
    return box


def start_explaining(jobs: CurrentJobs, run_dir: str, args: dict[str, Any] | None,
                     show: Callable[[Explanation], None],
                     say: Callable[[str], None]) -> None:
    """Explain one example of a run in a job; ``show`` the result or ``say`` why not.

    Args:
        jobs: the page's jobs (the explanation is its ``explain`` job).
        run_dir: the run folder.
        args: ``{"text": …}`` or ``{"image": …}`` (feature rows cannot be explained).
        show: called with the :class:`Explanation`.
        say: called with a line: working, or why there is no explanation.
    """
    if not args or not (args.get("text") or args.get("image")):
        say("Predict a text or an image first; saliency explains text and image runs.")
        return
    say("Working out why… (a few seconds)")
    jobs.start("explain", data_loop_calls.explain, run_dir, **args, on_result=show,
               on_error=lambda info: say(info.message), title="Cannot explain this prediction")
