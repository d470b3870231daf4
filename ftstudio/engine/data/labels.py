"""What every data loader returns (:class:`LoadedData`) and the label rules loaders share.

CSV files and image folders share: label columns and their tasks, class encoding, class-size
checks, and the message helpers (``listing``, ``plural``).

Standard library and numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ftstudio.errors import DataError

if TYPE_CHECKING:
    from ftstudio.spec import ExperimentSpec

_IMBALANCE_RATIO = 10.0
_MAX_LISTED = 10


@dataclass
class LoadedData:
    """A data set ready for splitting and training.

    Attributes:
        modality: ``"text"``, ``"image"`` or ``"tabular"``.
        inputs: text: object array of ``str``; tabular: float32 ``(n, f)``; image: object
            array of absolute file paths.
        feature_names: tabular: the feature columns in ``inputs`` order; else ``[]``.
        targets: label column -> int64 class index (classification) or float32 (regression).
        classes: label column -> class names in index order (classification columns only,
            in the order of ``spec.label_columns()``; the first key is the one to stratify on).
        row_ids: int64; CSV data line number (1 = first line after the header) or image index.
        warnings: dropped rows, encoding fallback, corrupt images, imbalance …
        source: the CSV path or image folder.
        stream: ``None`` when ``inputs`` holds every example; else how the examples are
            streamed (:mod:`ftstudio.engine.data.streaming`): a ``CsvStream`` (``inputs`` is
            empty: the rows are read back from the file, split by split, in chunks) or an
            ``ImageStream`` (``inputs`` holds the paths; images are decoded per batch).
    """

    modality: Literal["text", "image", "tabular"]
    inputs: np.ndarray
    feature_names: list[str]
    targets: dict[str, np.ndarray]
    classes: dict[str, list[str]]
    row_ids: np.ndarray
    warnings: list[str] = field(default_factory=list)
    source: str = ""
    stream: Any = None


def listing(items: Sequence[Any], limit: int = _MAX_LISTED) -> str:
    """``1, 2, 3`` or ``1, 2, … and 5 more`` for long lists."""
    shown = ", ".join(str(x) for x in items[:limit])
    if len(items) > limit:
        shown += f" and {len(items) - limit} more"
    return shown


def plural(n: int, word: str) -> str:
    """``1 row`` or ``2 rows``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def label_tasks(spec: ExperimentSpec) -> dict[str, str]:
    """Label column -> task, in output order, each column once."""
    tasks: dict[str, str] = {}
    for output, column in zip(spec.head.outputs, spec.label_columns(), strict=True):
        if not column:
            raise DataError(f"output '{output.name}' has no label column; set "
                            f"data.label_column or its head.outputs label_column")
        if tasks.get(column, output.task) != output.task:
            raise DataError(f"label column '{column}' is used by a classification and a "
                            f"regression output; use one task per column")
        tasks[column] = output.task
    return tasks


def encode_classes(labels: list[str], column: str, unit: str, remedy: str,
                   warns: list[str]) -> tuple[np.ndarray, list[str]]:
    """Encode class names (sorted as strings) and check there are enough of each."""
    names = sorted(set(labels))
    index = {c: i for i, c in enumerate(names)}
    codes = np.fromiter((index[v] for v in labels), dtype=np.int64, count=len(labels))
    counts = np.bincount(codes, minlength=len(names))
    check_classes(dict(zip(names, counts.tolist(), strict=True)), column, unit, remedy, warns)
    return codes, names


def check_classes(counts: dict[str, int], column: str, unit: str, remedy: str,
                  warns: list[str]) -> None:
    """Raise unless there are two classes with two examples each; warn on a big imbalance.

    Args:
        counts: class name -> number of examples.
        column: the label column (or folder) named in messages.
        unit: what one example is called (``row``, ``image``).
        remedy: what to do instead of adding examples (``remove those rows``).
        warns: the warnings list an imbalance is appended to.
    """
    if len(counts) < 2:
        only = next(iter(counts), None)
        raise DataError(f"'{column}' has only one class, '{only}'; a classifier needs at least "
                        f"two classes")
    small = [(c, n) for c, n in counts.items() if n < 2]
    if small:
        listed = ", ".join(f"'{c}' ({plural(n, unit)})" for c, n in small)
        one = len(small) == 1
        raise DataError(f"{'class' if one else 'classes'} {listed} of '{column}' "
                        f"{'has' if one else 'have'} fewer than 2 {unit}s; add examples of "
                        f"{'it' if one else 'them'} or {remedy}")
    big = max(counts, key=lambda c: counts[c])
    tiny = min(counts, key=lambda c: counts[c])
    if counts[big] > _IMBALANCE_RATIO * counts[tiny]:
        warns.append(f"Classes of '{column}' are imbalanced: '{big}' has {counts[big]} {unit}s "
                     f"but '{tiny}' only {counts[tiny]} ({counts[big] / counts[tiny]:.0f}x); "
                     f"consider training.class_weight = 'balanced'.")


def class_counts(data: LoadedData) -> dict[str, dict[str, int]]:
    """Rows per class for every classification label column.

    Args:
        data: loaded data.

    Returns:
        label column -> {class name: count}, classes in index order.
    """
    out: dict[str, dict[str, int]] = {}
    for col, names in data.classes.items():
        counts = np.bincount(np.asarray(data.targets[col], dtype=np.int64),
                             minlength=len(names))
        out[col] = {name: int(c) for name, c in zip(names, counts, strict=False)}
    return out

