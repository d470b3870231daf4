"""The choices the window's widgets offer, derived from the spec's ``Literal`` types.

The spec is the one list of what a field accepts: a combo box takes its values from there
(``typing.get_args``), so a value added to the spec shows up in the window. Widgets keep only
their display labels and, where it reads better, which values come first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ftstudio.spec import OutputActivation, Task, choices

__all__ = ["fitting_activation", "spec_values"]


def spec_values(literal: Any, first: Sequence[str] = ()) -> list[str]:
    """The values a spec ``Literal`` allows, ``first`` ones first (in that order).

    Args:
        literal: a ``Literal[...]`` type of :mod:`ftstudio.spec`.
        first: values to put at the top of the list (the usual choices); the others follow
            in the spec's order.

    Raises:
        ValueError: ``first`` names a value the spec does not allow.
    """
    values = list(choices(literal))
    unknown = [v for v in first if v not in values]
    if unknown:
        raise ValueError(f"not values of {literal}: {unknown}")
    return [*first, *(v for v in values if v not in first)]


def fitting_activation(task: Task, activation: OutputActivation) -> OutputActivation:
    """The output activation to keep when an output's task changes.

    A regression output cannot end in softmax / sigmoid and a classification output cannot
    end linear; those fall back to ``auto`` (which picks the task's own).
    """
    if task == "regression" and activation in ("softmax", "sigmoid"):
        return "auto"
    if task == "classification" and activation == "linear":
        return "auto"
    return activation
