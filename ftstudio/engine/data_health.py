"""Data health, before training: what in the data will hurt the run or mislead its score.

:func:`check_data` loads a spec's data exactly as training will and runs every check that
applies to it; :func:`check_loaded` runs them on data already loaded. Each
:class:`Finding` says how many examples it concerns, shows a few, and says what to do:

* class imbalance (and what it does to accuracy), classes too small for the split;
* exact duplicates, near-duplicates (texts equal up to case, spacing and punctuation; images
  with the same 8x8 average hash; rows equal to 3 decimals), duplicates with conflicting
  labels, and duplicates across the split (leakage: the test score is inflated);
* text: empty texts, texts longer than the backbone reads;
* tabular: constant features, extreme outliers (robust z-score);
* images: modes that lose information when converted to RGB, tiny or very elongated images.

numpy at import time; Pillow inside the image checks.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from ftstudio.engine.data import LoadedData, class_counts, load_data, split_indices
from ftstudio.engine.examples import row_numbers

if TYPE_CHECKING:
    from ftstudio.engine.reporting import Reporter
    from ftstudio.spec import ExperimentSpec

__all__ = ["Finding", "HealthReport", "check_data", "check_loaded"]

Severity = Literal["problem", "warning", "info"]

IMBALANCE_RATIO = 3.0
"""A largest-to-smallest class ratio from which imbalance is reported."""

CHARS_PER_TOKEN = 4.0
"""About how many characters of English one token covers (for 'longer than the model reads')."""

OUTLIER_Z = 8.0
"""A value this many robust standard deviations (MAD-based) from the median is an outlier."""

MAX_SHOWN = 5
"""Examples shown per finding."""


@dataclass
class Finding:
    """One thing the data health check found.

    Attributes:
        check: what was checked (``imbalance``, ``small_classes``, ``duplicates``,
            ``near_duplicates``, ``conflicting_labels``, ``leakage``, ``empty_texts``,
            ``long_texts``, ``constant_features``, ``outliers``, ``image_modes``,
            ``image_sizes``).
        severity: ``problem`` (fix before training), ``warning`` or ``info``.
        title: one line saying what was found.
        count: how many examples (or features, or classes) it concerns.
        examples: a few of them, as the user can find them (``line 12: …``).
        action: what to do (drop, merge, weight …).
        meaning: what it does to the run or its score.
    """

    check: str
    severity: Severity
    title: str
    count: int
    examples: list[str]
    action: str
    meaning: str = ""


@dataclass
class HealthReport:
    """Every finding about one data set (problems first)."""

    source: str
    modality: str
    examples: int
    classes: dict[str, dict[str, int]]
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        """The findings to fix before training."""
        return [f for f in self.findings if f.severity == "problem"]


def check_data(spec: ExperimentSpec, reporter: Reporter | None = None) -> HealthReport:
    """Load a spec's data as training will and check its health.

    Raises:
        DataError: the data cannot be loaded at all (the message says why).
    """
    return check_loaded(load_data(spec, reporter), spec)


def check_loaded(data: LoadedData, spec: ExperimentSpec) -> HealthReport:
    """Run every check that applies to ``data`` (the split is the spec's, as training makes it)."""
    rows = row_numbers(data, spec)
    report = HealthReport(data.source, data.modality, len(rows), class_counts(data))
    first = next(iter(data.classes), None)
    stratify = data.targets[first] if first else None
    split = split_indices(len(rows), stratify, spec.data.split, spec.training.seed)
    where = np.zeros(len(rows), dtype="<U5")
    for name, idx in split.items():
        where[idx] = name
    found = report.findings
    for column, counts in report.classes.items():
        found += _class_findings(column, counts, data.targets[column], where, spec)
    found += _duplicate_findings(data, rows, where, _label_keys(data))
    if data.modality == "text":
        found += _text_findings(data, rows, spec.backbone.sequence_length)
    elif data.modality == "tabular":
        found += _tabular_findings(data, rows)
    else:
        found += _image_findings(data, rows)
    order = {"problem": 0, "warning": 1, "info": 2}
    report.findings.sort(key=lambda f: order[f.severity])
    return report


def _shown(data: LoadedData, rows: np.ndarray, i: int, unit: str = "line") -> str:
    value = data.inputs[i]
    if data.modality == "tabular":
        text = ", ".join(f"{v:.4g}" for v in value[:6])
    else:
        text = str(value).replace("\n", " ")
    text = text if len(text) <= 70 else text[:67] + "…"
    unit = "image" if data.modality == "image" else unit
    return f"{unit} {int(rows[i])}: {text}"


# ---------------------------------------------------------------- classes
def _class_findings(column: str, counts: dict[str, int], targets: np.ndarray,
                    where: np.ndarray, spec: ExperimentSpec) -> list[Finding]:
    found: list[Finding] = []
    n = sum(counts.values())
    biggest = max(counts, key=lambda c: counts[c])
    smallest = min(counts, key=lambda c: counts[c])
    ratio = counts[biggest] / max(1, counts[smallest])
    if ratio >= IMBALANCE_RATIO:
        found.append(Finding(
            "imbalance", "warning",
            f"'{column}' is imbalanced: '{biggest}' has {counts[biggest]:,} examples, "
            f"'{smallest}' {counts[smallest]:,} ({ratio:.0f}:1)",
            len(counts), [f"{c}: {k:,}" for c, k in sorted(counts.items(), key=lambda x: x[1])],
            "set training.class_weight to 'balanced', add examples of the small classes, or "
            "merge classes that mean the same",
            f"always answering '{biggest}' already scores {counts[biggest] / n:.0%} accuracy: "
            f"judge runs by macro F1 and each class's recall, not by accuracy"))
    names = list(counts)
    short = []
    for name in ("val", "test"):
        if not (where == name).any():
            continue
        present = set(targets[where == name].tolist())
        short += [f"{names[k]}: none in {name} ({counts[names[k]]} in all)"
                  for k in range(len(names)) if k not in present]
    if short:
        found.append(Finding(
            "small_classes", "problem",
            f"{len(short)} class/split pair(s) of '{column}' get no example", len(short),
            short[:MAX_SHOWN], "add examples of those classes, merge them with a related "
            "class, or drop them",
            "a class missing from the test split cannot be scored: its recall is unknown"))
    return found


# ---------------------------------------------------------------- duplicates and leakage
def _label_keys(data: LoadedData) -> np.ndarray:
    """The labels of each example as one string (to spot duplicates that disagree)."""
    parts = [np.asarray(t).astype(str) for t in data.targets.values()]
    if not parts:
        return np.zeros(len(data.row_ids), dtype=str)
    return np.array(["|".join(p) for p in zip(*parts, strict=True)])


def _exact_key(data: LoadedData, i: int) -> str:
    if data.modality == "image":
        with open(str(data.inputs[i]), "rb") as fh:
            return hashlib.sha1(fh.read()).hexdigest()
    if data.modality == "tabular":
        return np.asarray(data.inputs[i], dtype=np.float32).tobytes().hex()
    return str(data.inputs[i])


def _near_key(data: LoadedData, i: int) -> str:
    if data.modality == "image":
        return _average_hash(str(data.inputs[i]))
    if data.modality == "tabular":
        return np.round(np.asarray(data.inputs[i], dtype=np.float64), 3).tobytes().hex()
    return " ".join(re.sub(r"[\W_]+", " ", str(data.inputs[i]).lower()).split())


def _average_hash(path: str) -> str:
    """An 8x8 average hash: near-identical pictures (resized, recompressed) share it."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            small = np.asarray(im.convert("L").resize((8, 8)), dtype=np.float64)
    except OSError:
        return f"unreadable:{path}"
    return np.packbits(small > small.mean()).tobytes().hex()


def _groups(keys: list[str]) -> list[list[int]]:
    by_key: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        by_key[k].append(i)
    return [g for g in by_key.values() if len(g) > 1]


def _duplicate_findings(data: LoadedData, rows: np.ndarray, where: np.ndarray,
                        labels: np.ndarray) -> list[Finding]:
    exact = _groups([_exact_key(data, i) for i in range(len(rows))])
    near = _groups([_near_key(data, i) for i in range(len(rows))])
    exact_sets = {frozenset(g) for g in exact}
    near_only = [g for g in near if frozenset(g) not in exact_sets]
    found: list[Finding] = []

    def pairs(groups: list[list[int]]) -> list[str]:
        return [" = ".join(_shown(data, rows, i) for i in g[:2]) for g in groups[:MAX_SHOWN]]

    if exact:
        found.append(Finding(
            "duplicates", "warning", f"{sum(len(g) - 1 for g in exact)} exact duplicate(s) "
            f"in {len(exact)} group(s)", sum(len(g) - 1 for g in exact), pairs(exact),
            "drop the extra copies", "duplicates count twice in training and in the score"))
    if near_only:
        found.append(Finding(
            "near_duplicates", "info", f"{len(near_only)} group(s) of near-duplicates",
            sum(len(g) - 1 for g in near_only), pairs(near_only),
            "check them; drop the copies that add nothing",
            "texts equal up to case, spacing and punctuation; images that look the same at "
            "8x8; rows equal to 3 decimals"))
    conflicting = [g for g in near if len(set(labels[g].tolist())) > 1]
    if conflicting:
        found.append(Finding(
            "conflicting_labels", "problem",
            f"{len(conflicting)} group(s) of (near-)duplicates have different labels",
            sum(len(g) for g in conflicting),
            [" vs ".join(f"{_shown(data, rows, i)} → {labels[i]}" for i in g[:2])
             for g in conflicting[:MAX_SHOWN]],
            "decide the right label and fix or drop the others",
            "the model is taught two answers for one input"))
    leaked = [g for g in near if "train" in where[g] and ({"val", "test"} & set(where[g]))]
    if leaked:
        found.append(Finding(
            "leakage", "problem", f"{len(leaked)} example(s) of the validation or test split "
            f"have a (near-)copy in training", len(leaked), pairs(leaked),
            "drop the copies (keep one) before training",
            "the model is scored on examples it trained on: the test score is inflated"))
    return found


# ---------------------------------------------------------------- per modality
def _text_findings(data: LoadedData, rows: np.ndarray, sequence_length: int) -> list[Finding]:
    texts = [str(t) for t in data.inputs]
    empty = [i for i, t in enumerate(texts) if len(t.strip()) < 2]
    limit = int(sequence_length * CHARS_PER_TOKEN)
    long = [i for i, t in enumerate(texts) if len(t) > limit]
    found: list[Finding] = []
    if empty:
        found.append(Finding(
            "empty_texts", "warning", f"{len(empty)} empty or one-character text(s)",
            len(empty), [_shown(data, rows, i) for i in empty[:MAX_SHOWN]],
            "drop them or fill them in", "an empty text carries no signal for its label"))
    if long:
        found.append(Finding(
            "long_texts", "info", f"{len(long)} text(s) longer than the model reads "
                                  f"(about {sequence_length} tokens, ~{limit:,} characters)",
            len(long), [_shown(data, rows, i) for i in long[:MAX_SHOWN]],
            "raise backbone.sequence_length, or split long texts into parts",
            "only the beginning of a long text is read; the end is cut off"))
    return found


def _tabular_findings(data: LoadedData, rows: np.ndarray) -> list[Finding]:
    x = np.asarray(data.inputs, dtype=np.float64)
    found: list[Finding] = []
    constant = [n for n, col in zip(data.feature_names, x.T, strict=True) if np.ptp(col) == 0]
    if constant:
        found.append(Finding(
            "constant_features", "warning", f"{len(constant)} feature(s) never change",
            len(constant), constant[:MAX_SHOWN], "drop them from data.feature_columns",
            "a constant column carries no information"))
    median = np.median(x, axis=0)
    mad = np.median(np.abs(x - median), axis=0) * 1.4826
    z = np.abs(x - median) / np.where(mad > 0, mad, np.inf)
    odd = np.argwhere(z > OUTLIER_Z)
    if len(odd):
        shown = [f"{_shown(data, rows, int(i)).split(':')[0]}: {data.feature_names[j]} = "
                 f"{x[i, j]:.4g} (median {median[j]:.4g})" for i, j in odd[:MAX_SHOWN]]
        found.append(Finding(
            "outliers", "warning", f"{len(set(odd[:, 0].tolist()))} row(s) with an extreme "
                                   f"value (over {OUTLIER_Z:.0f} robust deviations)",
            len(set(odd[:, 0].tolist())), shown,
            "check for typos or unit mistakes; fix, clip or drop those rows",
            "a few extreme values can dominate the normalisation and the loss"))
    return found


def _image_findings(data: LoadedData, rows: np.ndarray) -> list[Finding]:
    from PIL import Image

    modes: dict[str, list[int]] = defaultdict(list)
    tiny, elongated, sizes = [], [], set()
    for i, path in enumerate(data.inputs):
        with Image.open(str(path)) as im:
            w, h = im.size
            modes[im.mode].append(i)
        sizes.add((w, h))
        if min(w, h) < 32:
            tiny.append(i)
        if max(w, h) > 3 * min(w, h):
            elongated.append(i)
    found: list[Finding] = []
    odd = {m: idx for m, idx in modes.items() if m not in ("RGB", "L")}
    if odd:
        found.append(Finding(
            "image_modes", "info", "images in modes " + ", ".join(
                f"{m} ({len(v)})" for m, v in odd.items()) + " are converted to RGB",
            sum(len(v) for v in odd.values()),
            [_shown(data, rows, v[0]) + f" ({m})" for m, v in odd.items()][:MAX_SHOWN],
            "check that transparency or a palette carries nothing the label depends on",
            "transparency is dropped and palettes are expanded"))
    if tiny or elongated:
        idx = tiny + [i for i in elongated if i not in tiny]
        found.append(Finding(
            "image_sizes", "warning", f"{len(tiny)} tiny (under 32 px) and {len(elongated)} "
            f"very elongated (over 3:1) image(s), of {len(sizes)} different sizes",
            len(idx), [_shown(data, rows, i) for i in idx[:MAX_SHOWN]],
            "drop or replace them, or crop elongated images to their subject",
            "every image is resized to the model's square input: tiny ones blur, "
            "elongated ones are squashed"))
    return found
