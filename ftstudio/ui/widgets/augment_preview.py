"""The Model page's Augment tab: the spec's ``augment`` factors and a preview strip.

:class:`AugmentPanel` edits an :class:`~ftstudio.spec.parts.AugmentSpec` (flip and five factors,
0 = off) and shows :class:`AugmentStrip`: rows of a training image, then augmented versions of
it, as :func:`ftstudio.bridge.augment_calls.augment_preview` made them. The page decides when to
store the edits and when to ask for a preview.
"""

from __future__ import annotations

from typing import cast

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ftstudio.bridge.augment_calls import AugmentPreview
from ftstudio.spec import choices
from ftstudio.spec.parts import AugmentSpec, Flip

__all__ = ["FACTORS", "AugmentPanel", "AugmentStrip"]

FACTORS: tuple[tuple[str, str, str], ...] = (
    ("rotation", "Rotation", "Rotate up to this fraction of a full turn either way "
                             "(0.05 = ±18°)"),
    ("zoom", "Zoom", "Zoom in or out up to this fraction of the size"),
    ("translation", "Shift", "Shift up to this fraction of the height and width"),
    ("contrast", "Contrast", "Scale the contrast by a random factor in [1 − x, 1 + x]"),
    ("brightness", "Brightness", "Shift the brightness up to this fraction of the pixel range"),
)
"""The numeric factors: spec key, label, tooltip."""
THUMB = 68
"""Pixels per preview image on screen."""


class AugmentStrip(QWidget):
    """A grid of preview images: a row per training image, the original first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("augmentStrip")
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(4)
        self.shown = 0
        """How many images are shown (for tests)."""

    def clear(self) -> None:
        """Remove every image."""
        while self.grid.count():
            item = self.grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.shown = 0

    def show_preview(self, preview: AugmentPreview) -> None:
        """Show ``preview``: column 0 the originals, then the augmented versions."""
        self.clear()
        for column, title in enumerate(["Original"] + [f"#{i}" for i in
                                                       range(1, preview.columns)]):
            head = QLabel(title)
            head.setObjectName("muted")
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.grid.addWidget(head, 0, column)
        for row in range(preview.rows):
            for column in range(preview.columns):
                label = QLabel()
                label.setPixmap(_pixmap(preview, row, column))
                label.setFixedSize(THUMB, THUMB)
                self.grid.addWidget(label, row + 1, column)
                self.shown += 1


def _right_aligned(text: str) -> QLabel:
    label = QLabel(text)
    label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return label


def _pixmap(preview: AugmentPreview, row: int, column: int) -> QPixmap:
    data = preview.image(row, column)
    image = QImage(data, preview.width, preview.height, 3 * preview.width,
                   QImage.Format.Format_RGB888).copy()  # copy: the bytes are not kept
    return QPixmap.fromImage(image).scaled(
        THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation)


class AugmentPanel(QScrollArea):
    """The augmentation settings and their preview (scrolling on a small screen).

    Signals:
        edited(): the user changed a setting (not emitted while :meth:`load` fills it).
        previewRequested(): the user pressed Preview.
    """

    edited = Signal()
    previewRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("augmentPanel")
        self._loading = False
        self.flip = QComboBox()
        self.flip.addItems(list(choices(Flip)))
        self.flip.setToolTip("Mirror images at random (left-right, top-bottom or both)")
        self.flip.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.flip.setMinimumContentsLength(8)  # the long choice must not widen the tab
        self.factors: dict[str, QDoubleSpinBox] = {}
        form = QGridLayout()  # two settings a row: the preview keeps the height
        form.setHorizontalSpacing(8)
        form.setVerticalSpacing(6)
        form.addWidget(_right_aligned("Flip"), 0, 0)
        form.addWidget(self.flip, 0, 1)
        for i, (key, label, tip) in enumerate(FACTORS, start=1):
            spin = QDoubleSpinBox()
            spin.setRange(0.0, 0.95)
            spin.setSingleStep(0.05)
            spin.setDecimals(2)
            spin.setSpecialValueText("off")
            spin.setToolTip(tip)
            spin.valueChanged.connect(self._on_edited)
            self.factors[key] = spin
            form.addWidget(_right_aligned(label), i // 2, 2 * (i % 2))
            form.addWidget(spin, i // 2, 2 * (i % 2) + 1)
        form.setColumnStretch(1, 1)
        form.setColumnStretch(3, 1)
        self.flip.currentTextChanged.connect(self._on_edited)
        self.note = QLabel("Random changes to the training images, inside the model: only while "
                           "training (evaluation, predictions and exports see the images as "
                           "they are), seeded. Augmenting turns the feature cache off.")
        self.note.setObjectName("hint")
        self.note.setWordWrap(True)
        self.preview_btn = QPushButton("Preview")
        self.preview_btn.setObjectName("augmentPreviewButton")
        self.preview_btn.setToolTip("Show a few training images and augmented versions of them")
        self.preview_btn.clicked.connect(self.previewRequested)
        self.state = QLabel("")
        self.state.setObjectName("muted")
        self.state.setWordWrap(True)
        self.strip = AugmentStrip()
        self._build_layout(form)

    def _build_layout(self, form: QGridLayout) -> None:
        row = QHBoxLayout()
        row.addWidget(self.preview_btn)
        row.addWidget(self.state, 1)
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addWidget(self.note)
        lay.addLayout(form)
        lay.addLayout(row)
        lay.addWidget(self.strip)
        lay.addStretch(1)
        self.setWidgetResizable(True)
        self.setWidget(body)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    @Slot()
    def _on_edited(self) -> None:
        if not self._loading:
            self.edited.emit()

    def load(self, augment: AugmentSpec) -> None:
        """Show ``augment`` (without emitting :attr:`edited`)."""
        self._loading = True
        try:
            self.flip.setCurrentText(augment.flip)
            for key, spin in self.factors.items():
                spin.setValue(float(getattr(augment, key)))
        finally:
            self._loading = False

    def store(self, augment: AugmentSpec) -> None:
        """Write the settings into ``augment``."""
        augment.flip = cast(Flip, self.flip.currentText())  # the combo lists Flip
        for key, spin in self.factors.items():
            setattr(augment, key, float(spin.value()))

    def show_busy(self) -> None:
        """A preview is being made."""
        self.state.setText("Augmenting a few training images…")
        self.preview_btn.setEnabled(False)

    def show_preview(self, preview: AugmentPreview) -> None:
        """Show a finished preview."""
        self.preview_btn.setEnabled(True)
        what = preview.description or "nothing is on: the copies are unchanged"
        self.state.setText(f"Augmented: {what} (seeded by the training seed).")
        self.strip.show_preview(preview)

    def show_failure(self, message: str) -> None:
        """The preview could not be made."""
        self.preview_btn.setEnabled(True)
        self.state.setText(f"No preview: {message}")
