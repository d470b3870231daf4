"""Parts of the Evaluate page: the before-vs-after card and the Try-it panel.

:class:`BeforeAfterCard` shows what fine-tuning added over a linear probe on the pretrained
features (``baseline.*`` metrics). :class:`TryItPanel` takes one example (a text, an image
file dropped or chosen, or a feature row) and shows the run's answer; the page runs the
prediction as a job.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal, Slot
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge.evaluation_types import TryItResult
from ftstudio.ui.widgets.charts import TRAIN_COLOR, VAL_COLOR
from ftstudio.ui.widgets.thumbnails import load_thumbnail
from ftstudio.ui.widgets.train_charts import metric_names

__all__ = ["BeforeAfterCard", "TryItPanel", "baseline_pair", "baseline_wording", "plot_history",
           "with_options_bar"]


def with_options_bar(bar: QWidget | QHBoxLayout, content: QWidget) -> QWidget:
    """A tab's content with its options above."""
    box = QWidget()
    lay = QVBoxLayout(box)
    lay.setContentsMargins(0, 4, 0, 0)
    if isinstance(bar, QWidget):
        lay.addWidget(bar)
    else:
        lay.addLayout(bar)
    lay.addWidget(content, 1)
    return box


def baseline_wording(spec: dict[str, Any]) -> tuple[str, str]:
    """(why a run has no baseline, what its probe was fitted on), from the run's spec."""
    off = (spec.get("training") or {}).get("baseline") is False
    no_backbone = (spec.get("backbone") or {}).get("source") == "none"
    reason = ("No baseline: it was turned off in this run's training settings" if off else
              "No baseline recorded for this run (stopped early, or trained before baselines)")
    return reason, "the raw feature columns" if no_backbone else "the pretrained features"


def plot_history(loss_plot: pg.PlotWidget, metric_plot: pg.PlotWidget,
                 rows: list[dict[str, float]]) -> None:
    """Draw a run's loss and first metric per epoch (train and validation)."""
    for history_plot in (loss_plot, metric_plot):
        history_plot.getPlotItem().clear()
    if not rows:
        return
    epochs = [int(r.get("epoch", i)) + 1 for i, r in enumerate(rows)]

    def plot(widget: pg.PlotWidget, key: str, color: str, name: str) -> None:
        values = [float(r.get(key, math.nan)) for r in rows]
        if any(math.isfinite(v) for v in values):
            widget.plot(epochs, values, pen=pg.mkPen(color, width=2), symbol="o",
                        symbolSize=6, symbolBrush=color, name=name)

    plot(loss_plot, "loss", TRAIN_COLOR, "train")
    plot(loss_plot, "val_loss", VAL_COLOR, "validation")
    names = metric_names(rows[0])
    if names:
        plot(metric_plot, names[0], TRAIN_COLOR, "train")
        plot(metric_plot, "val_" + names[0], VAL_COLOR, "validation")
        metric_plot.getPlotItem().setTitle(
            f"<span style='font-size:10pt;font-weight:600'>"
            f"{names[0].replace('_', ' ').capitalize()} per epoch</span>")


def baseline_pair(metrics: dict[str, float], split: str, output: str | None, multi: bool,
                  regression: bool) -> tuple[str, float, float] | None:
    """``(metric, linear probe, fine-tuned)`` for the card, or None without a baseline."""
    for key in (("r2", "mae") if regression else ("accuracy", "macro_f1")):
        name = f"{split}.{output}.{key}" if multi else f"{split}.{key}"
        before, after = metrics.get("baseline." + name), metrics.get(name)
        if before is not None and after is not None:
            return key, float(before), float(after)
    return None


class _Bars(QWidget):
    """Two horizontal bars: the linear probe (grey) and the fine-tuned model (blue)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: tuple[float, float] | None = None
        self.setFixedHeight(30)
        self.setMinimumWidth(60)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802, D102
        if self.values is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width = self.width() - 2
        for row, (value, color) in enumerate(zip(self.values, ("#9aa0a6", "#3b6cf6"),
                                                 strict=True)):
            share = min(1.0, max(0.0, value)) if math.isfinite(value) else 0.0
            painter.setBrush(QColor("#eef1f6"))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(QRectF(1, 2 + row * 15, width, 11), 3, 3)
            painter.setBrush(QColor(color))
            painter.drawRoundedRect(QRectF(1, 2 + row * 15, max(2.0, width * share), 11), 3, 3)
        painter.end()


_VALUE_SIZE = "font-size: 20px"
"""A little smaller than the metric cards' numbers: the card must fit a 1024-pixel screen."""


class BeforeAfterCard(QFrame):
    """What fine-tuning added over a linear probe on the frozen pretrained features."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metricCard")
        self.value = QLabel("—")
        self.value.setObjectName("metricValue")
        self.value.setStyleSheet(_VALUE_SIZE)
        self.caption = QLabel("Fine-tuning added")
        self.caption.setObjectName("metricCaption")
        self.caption.setWordWrap(True)
        self.bars = _Bars()
        self.legend = QLabel("")
        self.legend.setObjectName("metricCaption")
        self.legend.setWordWrap(True)
        text = QVBoxLayout()
        text.setSpacing(0)
        text.addWidget(self.value)
        text.addWidget(self.caption)
        right = QVBoxLayout()
        right.setSpacing(0)
        right.addWidget(self.bars)
        right.addWidget(self.legend)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 8)
        lay.addLayout(text, 2)
        lay.addLayout(right, 3)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.gain: float | None = None

    def show_pair(self, pair: tuple[str, float, float] | None, reason: str = "",
                  features: str = "the pretrained features") -> None:
        """Show ``(metric, probe, fine-tuned)``; None shows ``reason`` instead.

        ``features`` names what the probe was fitted on (a run without a backbone has no
        pretrained features: its probe is a linear model on the raw columns).
        """
        if pair is None:
            self.gain = None
            self.value.setText("—")
            self.value.setStyleSheet(_VALUE_SIZE)
            self.caption.setText(reason or "No baseline recorded for this run")
            self.bars.values = None
            self.legend.setText("")
            self.bars.update()
            return
        key, before, after = pair
        percent = key in ("accuracy", "macro_f1")
        lower_better = key == "mae"
        if percent:
            self.gain = 100 * (after - before)
            self.value.setText(f"{self.gain:+.1f} points")
            shown = (f"{100 * before:.1f}%", f"{100 * after:.1f}%")
        else:
            self.gain = after - before
            self.value.setText(f"{self.gain:+.3f} {key.upper() if key == 'mae' else 'R²'}")
            shown = (f"{before:.3f}", f"{after:.3f}")
        better = (self.gain <= 0) if lower_better else (self.gain >= 0)
        name = key.replace("macro_f1", "macro F1").replace("r2", "R²").replace("mae", "MAE")
        self.caption.setText(("Fine-tuning added" if better else "Fine-tuning lost") +
                             f" ({name}) over a linear probe on {features}")
        self.value.setStyleSheet(f"color: {'#188038' if better else '#c5221f'}; {_VALUE_SIZE}")
        self.bars.values = (before, after) if percent or key == "r2" else None
        self.bars.update()
        self.legend.setText(f"probe {shown[0]}  ·  fine-tuned {shown[1]}")


class _DropLabel(QLabel):
    """A label that takes a dropped file (an image to try)."""

    dropped = Signal(str)

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setAcceptDrops(True)
        self.setObjectName("dropHint")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumHeight(180)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802, D102
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802, D102
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile():
            self.dropped.emit(urls[0].toLocalFile())
            event.acceptProposedAction()


class TryItPanel(QWidget):
    """Type a text, drop an image or fill a feature row; see what the run predicts.

    Signals:
        tryRequested(object): a dict of keyword arguments for the try-it call
            (``text=…``, ``image=…`` or ``features=…``).
    """

    tryRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = "text"
        self.image_path: str | None = None
        self.feature_edits: dict[str, QLineEdit] = {}
        self._build()

    def _build(self) -> None:
        self.text = QPlainTextEdit()
        self.text.setObjectName("tryText")
        self.text.setPlaceholderText("Type or paste a text, then Predict (Ctrl+Enter)")
        self.drop = _DropLabel("Drop an image file here\nor choose one")
        self.choose = QPushButton("Choose image…")
        self.choose.clicked.connect(self._choose_image)
        self.drop.dropped.connect(self.try_image)
        image_box = QWidget()
        image_lay = QVBoxLayout(image_box)
        image_lay.setContentsMargins(0, 0, 0, 0)
        image_lay.addWidget(self.drop, 1)
        image_lay.addWidget(self.choose, 0, Qt.AlignmentFlag.AlignLeft)
        self.form_box = QWidget()
        self.form = QFormLayout(self.form_box)
        form_scroll = QScrollArea()
        form_scroll.setWidgetResizable(True)
        form_scroll.setWidget(self.form_box)
        self.inputs = QStackedWidget()
        for w in (self.text, image_box, form_scroll):
            self.inputs.addWidget(w)
        self.predict_btn = QPushButton("Predict")
        self.predict_btn.setObjectName("tryPredict")
        self.predict_btn.setProperty("primary", True)
        self.predict_btn.clicked.connect(self.request)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.result = QLabel("")
        self.result.setObjectName("tryResult")
        self.result.setTextFormat(Qt.TextFormat.RichText)
        self.result.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.result.setWordWrap(True)
        for label in (self.result, self.message, self.drop):
            # wrapped text and bars take the width there is, not widen the page
            label.setSizePolicy(QSizePolicy.Policy.Ignored, label.sizePolicy().verticalPolicy())
            label.setMinimumWidth(120)
        left = QVBoxLayout()
        left.addWidget(self.inputs, 1)
        left.addWidget(self.predict_btn, 0, Qt.AlignmentFlag.AlignLeft)
        right = QVBoxLayout()
        right.addWidget(self.message)
        right.addWidget(self.result, 1)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 6, 0, 0)
        lay.addLayout(left, 1)
        lay.addLayout(right, 1)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802, D102
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.request()
            return
        super().keyPressEvent(event)

    def set_run(self, kind: str, feature_names: list[str], example: list[str] | None,
                unavailable: str = "") -> None:
        """Set the input kind (``text`` / ``image`` / ``tabular``) for a run.

        Args:
            kind: the run's data kind.
            feature_names: tabular runs: the feature columns (one field each).
            example: tabular runs: values to start from (a test example).
            unavailable: why this run cannot predict (no model); empty when it can.
        """
        self.kind = kind
        self.inputs.setCurrentIndex({"text": 0, "image": 1}.get(kind, 2))
        self.feature_edits.clear()
        while self.form.rowCount():
            self.form.removeRow(0)
        for i, name in enumerate(feature_names):
            edit = QLineEdit(example[i] if example and i < len(example) else "0")
            self.feature_edits[name] = edit
            self.form.addRow(name, edit)
        self.result.setText("")
        self.image_path = None
        self.drop.clear()
        self.drop.setText("Drop an image file here\nor choose one")
        self.set_message(unavailable, error=bool(unavailable))
        self.setEnabled(not unavailable)
        self.predict_btn.setVisible(kind != "image")

    def set_message(self, text: str, error: bool = False) -> None:
        """A line above the result: progress, or why the example could not be predicted."""
        self.message.setText(text)
        self.message.setStyleSheet("color: #c5221f" if error else "color: #5f6368")

    @Slot()
    def _choose_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose an image", "",
                                              "Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp);;"
                                              "All files (*)")
        if path:
            self.try_image(path)

    @Slot(str)
    def try_image(self, path: str) -> None:
        """Show the image and ask for its prediction."""
        self.image_path = path
        picture = load_thumbnail(path, 170)
        if picture.isNull():
            self.drop.setText(path)
        else:
            self.drop.setPixmap(picture)
        self.request()

    @Slot()
    def request(self) -> None:
        """Ask for the prediction of what the input holds."""
        if self.kind == "text":
            args: dict[str, Any] = {"text": self.text.toPlainText()}
        elif self.kind == "image":
            args = {"image": self.image_path}
        else:
            values = {}
            for name, edit in self.feature_edits.items():
                try:
                    values[name] = float(edit.text().strip())
                except ValueError:
                    self.set_message(f"'{name}' must be a number, not '{edit.text()}'.", True)
                    return
            args = {"features": values}
        self.set_message("Predicting…")
        self.tryRequested.emit(args)

    def show_result(self, result: TryItResult) -> None:
        """Show the top classes with their probabilities (or the predicted value)."""
        parts = []
        for out in result.outputs:
            title = f"<b>{html.escape(out.name)}</b>" if len(result.outputs) > 1 else ""
            if out.task == "regression":
                parts.append(f"{title}<p style='font-size:20pt'>{out.value:.4g}</p>")
                continue
            rows = "".join(
                f"<tr><td>{html.escape(c)}</td><td><table cellspacing=0><tr>"
                f"<td width={max(1, int(100 * p))} bgcolor='{'#3b6cf6' if i else '#188038'}'>"
                f"&nbsp;</td></tr></table></td><td align=right>{100 * p:.1f}%</td></tr>"
                for i, (c, p) in enumerate(out.top))
            best = html.escape(out.top[0][0]) if out.top else "—"
            parts.append(f"{title}<p style='font-size:18pt'>{best}</p>"
                         f"<table cellspacing=4>{rows}</table>")
        self.result.setText("".join(parts))
        self.set_message(f"Predicted in {result.seconds:.2f} s")
