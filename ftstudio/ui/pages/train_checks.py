"""What the Train page checks before it lets a run start, and the recipe it offers.

Start stays disabled, with the reason in words next to it, until there is data that loads, a
model that builds and settings that validate. When the kind of data, the backbone or the
freezing changes, the training settings that fit are *offered* (a bar with "Use them" /
"Keep mine"), never swapped in behind the user's back; only the very first data of a new
project fills in the untouched default settings, and the bar says so.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ftstudio.bridge import engine_calls
from ftstudio.errors import FtStudioError
from ftstudio.spec import ExperimentSpec, FreezeSpec, TrainSpec

__all__ = ["RecipeAdvisor", "RecipeOffer", "describe_recipe", "recipe_differs", "recipe_key",
           "recipe_subject", "start_blocker", "untrained_question"]

RecipeKey = tuple[str, str, str, str, bool]
"""What a training recipe depends on: data kind, backbone (source, name, path), frozen."""

_WORDS = {"optimizer": "{}", "learning_rate": "learning rate {:g}", "epochs": "{} epochs",
          "batch_size": "batch {}", "schedule": "{} schedule",
          "warmup_fraction": "{:.0%} warm-up", "early_stopping_patience": "early stop after {}",
          "head_first_epochs": "the head alone for the first {} epochs",
          "unfreeze_lr_factor": "then the backbone at learning rate {:g} (×{:g})"}
"""How each recommended setting reads in the offer (zero / off settings are left out)."""


def start_blocker(project: Any) -> str | None:
    """Why training cannot start now, in one sentence, or None when it can.

    Args:
        project: the :class:`~ftstudio.ui.project.Project` (its spec and blockers).
    """
    spec: ExperimentSpec = project.spec
    if not (spec.data.path or spec.data.image_dir):
        return "Open some data on the Data page first."
    for area in ("data", "model"):
        reason = project.blockers.get(area)
        if reason:
            return str(reason)
    try:
        spec.validate()
    except FtStudioError as exc:
        return f"Fix the settings first: {exc}"
    return None


def untrained_question(label: str) -> str:
    """The confirmation asked before training on a backbone without pretrained weights."""
    return (f"{label} has no pretrained weights on this computer: training starts from "
            f"random weights, which needs far more data and time, and is rarely what you "
            f"want.\n\nTo start from pretrained weights, import its weights file into the "
            f"model library (Library page → Import file…), or download them there when you "
            f"are online.\n\nTrain from random weights anyway?")


def recipe_key(spec: ExperimentSpec) -> RecipeKey:
    """What the recommended training settings of ``spec`` depend on."""
    b = spec.backbone
    frozen = spec.freeze.mode == "all" or (spec.freeze.mode == "last_n"
                                           and spec.freeze.last_n == 0)
    return spec.modality, b.source, (b.name or "").lower(), b.path or "", frozen


def recipe_differs(spec: ExperimentSpec, recipe: dict[str, Any]) -> bool:
    """Whether ``spec``'s settings differ from a recommended ``recipe``."""
    for key, value in recipe.items():
        section = spec.freeze if key in ("head_first_epochs", "unfreeze_lr_factor", "layer_decay") \
            else spec.training
        if getattr(section, key) != value:
            return True
    return False


def describe_recipe(recipe: dict[str, Any]) -> str:
    """A recommended recipe in words: ``adam, learning rate 0.001, 8 epochs, batch 32…``."""
    parts = []
    for key, template in _WORDS.items():
        value = recipe.get(key)
        if value in (None, 0, 0.0) or (key == "schedule" and value == "constant"):
            continue
        if key == "unfreeze_lr_factor":  # the rate the backbone learns at, after the head
            if not recipe.get("head_first_epochs"):
                continue
            parts.append(template.format(recipe["learning_rate"] * value, value))
        else:
            parts.append(template.format(value))
    return ", ".join(parts)


class RecipeOffer(QFrame):
    """A bar over the training settings offering the recipe that fits the data and model.

    Signals:
        accepted(): "Use them" was pressed.
        dismissed(): "Keep mine" (or "OK" on a notice) was pressed.
    """

    accepted = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("warningList")
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.use_btn = QPushButton("Use them")
        self.use_btn.setObjectName("useRecipe")
        self.use_btn.setProperty("primary", True)
        self.keep_btn = QPushButton("Keep mine")
        self.keep_btn.setObjectName("keepSettings")
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addStretch(1)
        buttons.addWidget(self.keep_btn)
        buttons.addWidget(self.use_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addWidget(self.text)
        lay.addLayout(buttons)
        self.use_btn.clicked.connect(self._on_use)
        self.keep_btn.clicked.connect(self._on_keep)
        self.hide()

    def offer(self, what: str, recipe: dict[str, Any]) -> None:
        """Offer ``recipe``, recommended for ``what`` ("image data with MobileNetV2")."""
        self.text.setText(f"<b>Recommended for {what}:</b> {describe_recipe(recipe)}. "
                          f"Your settings differ.")
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.use_btn.show()
        self.keep_btn.setText("Keep mine")
        self.show()

    def notify(self, what: str, recipe: dict[str, Any]) -> None:
        """Say that the recommended recipe for ``what`` was filled in."""
        self.text.setText(f"<b>Settings filled in for {what}:</b> {describe_recipe(recipe)}.")
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.use_btn.hide()
        self.keep_btn.setText("OK")
        self.show()

    def is_offering(self) -> bool:
        """True while an offer (not a notice) is shown."""
        return not self.isHidden() and not self.use_btn.isHidden()

    def _on_use(self) -> None:
        self.hide()
        self.accepted.emit()

    def _on_keep(self) -> None:
        self.hide()
        self.dismissed.emit()


def recipe_subject(spec: ExperimentSpec) -> str:
    """What a recipe is for, in words: ``image data with MobileNetV2 (backbone frozen)``."""
    b = spec.backbone
    if b.source == "none":
        model = "an MLP"
    else:
        model = b.name or (Path(b.path).name if b.path else "the bundled backbone")
    frozen = " (backbone frozen)" if recipe_key(spec)[4] else ""
    return f"{spec.modality} data with {model}{frozen}"


class RecipeAdvisor(QObject):
    """Keeps the training settings in step with the data kind, backbone and freezing.

    It remembers what the current settings were chosen for (:func:`recipe_key`). When that
    changes it offers the recommended recipe (:class:`RecipeOffer`), unless the settings
    already match it. A new project's untouched default settings are filled in once, when
    its first data arrives, with a notice.

    Args:
        project: the open project.
        offer: the bar that shows offers and notices.
        apply: writes a recipe into the spec and the form.
    """

    def __init__(self, project: Any, offer: RecipeOffer,
                 apply: Callable[[dict[str, Any]], None]) -> None:
        super().__init__(offer)
        self.project = project
        self.offer = offer
        self._apply = apply
        self.chosen_for: RecipeKey | None = None
        """What the current settings were chosen for (None: nothing yet, the defaults)."""
        self._pending: RecipeKey | None = None
        offer.accepted.connect(self.use_offer)
        offer.dismissed.connect(self._keep)

    def reset(self) -> None:
        """A project was opened (its settings are what it says) or a new one started."""
        spec = self.project.spec
        has_data = bool(spec.data.path or spec.data.image_dir)
        self.chosen_for = recipe_key(spec) if has_data else None
        self._pending = None
        self.offer.hide()

    def chosen_now(self) -> None:
        """The user applied the recommended settings for the spec as it is."""
        self.chosen_for = recipe_key(self.project.spec)
        self._pending = None
        self.offer.hide()

    def on_change(self) -> None:
        """The data, backbone or freezing changed: offer what fits, if it differs."""
        spec = self.project.spec
        if not (spec.data.path or spec.data.image_dir):
            return
        key = recipe_key(spec)
        if key == self.chosen_for:
            self._pending = None
            if self.offer.is_offering():
                self.offer.hide()
            return
        recipe = engine_calls.recommended_training(spec)
        untouched = self.chosen_for is None and spec.training == TrainSpec() and \
            spec.freeze.head_first_epochs == FreezeSpec().head_first_epochs
        if untouched:
            self._apply(recipe)
            self.chosen_for = key
            self.offer.notify(recipe_subject(spec), recipe)
        elif recipe_differs(spec, recipe):
            self._pending = key
            self.offer.offer(recipe_subject(spec), recipe)
        else:
            self.chosen_for = key
            if self.offer.is_offering():  # a notice of what was filled in stays
                self.offer.hide()

    def use_offer(self) -> None:
        """Apply the recommended recipe for the spec as it is now."""
        self._apply(engine_calls.recommended_training(self.project.spec))
        self.chosen_now()

    def _keep(self) -> None:
        if self._pending is not None:
            self.chosen_for = self._pending
        self._pending = None

