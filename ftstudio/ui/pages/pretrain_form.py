"""The Pretrain page's form kept between sessions: what the user typed is never lost.

The form is not part of the project, so the window keeps it in the settings on the way out
and fills it in again on the way in. Standard Qt only (no pyqtgraph): the window imports this
before the pages are built.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import QSettings

__all__ = ["FORM_KEY", "form_state", "restore_form", "restore_form_state", "save_form"]

FORM_KEY = "forms/pretrain"
"""Settings key of the form."""

_TEXTS = ("path_edit", "columns_edit", "label_edit", "units_edit", "name_edit")
_CHOICES = ("source_kind", "kind_combo", "noise_type", "channels_combo")
_NUMBERS = ("height_spin", "width_spin", "latent_spin", "noise_spin", "epochs_spin",
            "batch_spin", "lr_spin", "val_spin", "seed_spin")
"""The Pretrain page's fields, by kind: what :func:`form_state` keeps between sessions."""


def form_state(page: Any) -> dict[str, Any]:
    """What the Pretrain page's form holds, valid or not (to give it back next time)."""
    state: dict[str, Any] = {name: getattr(page, name).text() for name in _TEXTS}
    state.update({name: getattr(page, name).currentIndex() for name in _CHOICES})
    state.update({name: getattr(page, name).value() for name in _NUMBERS})
    state["replace_check"] = page.replace_check.isChecked()
    return state


def restore_form_state(page: Any, state: dict[str, Any]) -> None:
    """Fill the Pretrain page's form from :func:`form_state` (unknown keys ignored)."""
    for name in _TEXTS:
        if isinstance(state.get(name), str):
            getattr(page, name).setText(state[name])
    for name in _CHOICES:
        if isinstance(state.get(name), int):
            getattr(page, name).setCurrentIndex(state[name])
    for name in _NUMBERS:
        if isinstance(state.get(name), (int, float)) and not isinstance(state[name], bool):
            widget = getattr(page, name)
            widget.setValue(type(widget.value())(state[name]))
    if isinstance(state.get("replace_check"), bool):
        page.replace_check.setChecked(state["replace_check"])



def save_form(page: Any, settings: QSettings) -> None:
    """Keep the page's form in ``settings``."""
    settings.setValue(FORM_KEY, json.dumps(form_state(page)))
    settings.sync()


def restore_form(page: Any, settings: QSettings) -> None:
    """Fill the page's form from ``settings`` (nothing when none was kept, or it is unreadable)."""
    value = settings.value(FORM_KEY)
    try:
        state = json.loads(str(value)) if value else None
    except ValueError:
        state = None
    if isinstance(state, dict):
        restore_form_state(page, state)
