"""First guesses for a table the user just opened: what each column holds, which is the label.

The Data page proposes a text column, a label column and feature columns as soon as a CSV is
previewed; the user can change every guess. Only pandas is needed (no TensorFlow).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = ["DEFAULT_RUN_NAME", "LABEL_NAMES", "ColumnInfo", "ColumnKind", "describe_column",
           "run_name", "suggest_columns"]

ColumnKind = Literal["text", "numeric", "category", "empty"]

LABEL_NAMES = ("label", "labels", "class", "classes", "target", "y", "category", "sentiment",
               "species", "outcome", "tag")
"""Column names that usually hold the label."""

_MAX_CATEGORIES = 30
"""More distinct values than this (and than half the rows) make a column text or numeric."""
_TEXT_MEAN_LENGTH = 25
"""Strings longer than this on average are text to read, not categories."""
_NOT_FEATURES = ("id", "index", "row")
"""Column names that number the rows rather than describe them."""
DEFAULT_RUN_NAME = "experiment"
"""The name of a spec nobody named (``ExperimentSpec.name``'s default)."""


@dataclass(frozen=True)
class ColumnInfo:
    """What a previewed column holds (the window gets it as ``bridge.types.ColumnInfo``).

    Attributes:
        name: the column name.
        kind: ``text`` (long strings), ``category`` (few distinct values), ``numeric``, or
            ``empty``.
        n_unique: distinct non-missing values.
        n_missing: missing cells.
        integer: True when every value is a whole number.
    """

    name: str
    kind: ColumnKind
    n_unique: int
    n_missing: int
    integer: bool = False


def describe_column(name: str, values: Any) -> ColumnInfo:
    """Classify one column of a preview as text, category, numeric or empty.

    Args:
        name: the column name.
        values: the column (a pandas Series).
    """
    missing = int(values.isna().sum())
    present = values.dropna()
    n_unique = int(present.nunique())
    if len(present) == 0:
        return ColumnInfo(name, "empty", 0, missing)
    if values.dtype.kind in "biuf":
        integer = values.dtype.kind in "biu" or bool((present.astype(float) % 1 == 0).all())
        few = n_unique <= min(_MAX_CATEGORIES, max(2, len(present) // 2))
        kind: ColumnKind = "category" if integer and few else "numeric"
        return ColumnInfo(name, kind, n_unique, missing, integer)
    lengths = present.astype(str).str.len()
    mean_len = float(lengths.mean()) if len(lengths) else 0.0
    many = n_unique > max(_MAX_CATEGORIES, 0.5 * len(present))
    text_kind: ColumnKind = "text" if (mean_len > _TEXT_MEAN_LENGTH or many) else "category"
    return ColumnInfo(name, text_kind, n_unique, missing)


def suggest_columns(columns: Sequence[ColumnInfo]) -> dict[str, Any]:
    """Guess the text, label and feature columns from the column kinds and names.

    Returns:
        ``text_column`` and ``label_column`` (a name or ``None``), ``feature_columns`` (names)
        and ``modality`` (``text`` when there is a text column, else ``tabular``).
    """
    label = _label_by_name(columns)
    if label is None:
        categories = [c.name for c in columns if c.kind == "category"]
        label = categories[-1] if categories else None
    texts = [c for c in columns if c.kind == "text" and c.name != label]
    features = [c.name for c in columns if c.kind in ("numeric", "category")
                and c.name != label and c.name.strip().lower() not in _NOT_FEATURES]
    if label is None:
        numeric = [c.name for c in columns if c.kind == "numeric"]
        label = numeric[-1] if numeric and not texts else None
        features = [f for f in features if f != label]
    return {
        "text_column": texts[0].name if texts else None,
        "label_column": label,
        "feature_columns": features,
        "modality": "text" if texts else "tabular",
    }


def _label_by_name(columns: Sequence[ColumnInfo]) -> str | None:
    """The first column named like a label (:data:`LABEL_NAMES`) that is not text."""
    by_name = {c.name.strip().lower(): c for c in columns}
    for key in LABEL_NAMES:
        if key in by_name and by_name[key].kind in ("category", "numeric"):
            return by_name[key].name
    return None


def run_name(data_source: str | None, backbone: str | None) -> str:
    """A run name made of the data and the backbone: ``flowers-mlp``, ``reviews-minilm``.

    Args:
        data_source: the CSV file or image folder (its name without extension is used).
        backbone: the backbone in a word or two (``minilm``, ``MLP``, a file name).

    Returns:
        Lower-case words joined by ``-`` (letters, digits, ``_`` and ``.`` kept), at most 40
        characters; :data:`DEFAULT_RUN_NAME` when there is nothing to name it after.
    """
    parts = [Path(data_source).stem if data_source else "", backbone or ""]
    words = [re.sub(r"[^a-z0-9_.]+", "-", p.lower()).strip("-.") for p in parts]
    name = "-".join(w for w in words if w)[:40].strip("-.")
    return name or DEFAULT_RUN_NAME
