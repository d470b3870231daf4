"""The seeded, stratified train / validation / test split (:func:`split_indices`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ftstudio.errors import DataError


def _split_sizes(n: int, fractions: Sequence[float]) -> tuple[int, int]:
    """(n_val, n_test): rounded, at least 1 when asked for and at least 1 row left to train."""
    if len(fractions) != 3:
        raise DataError(f"the split needs three fractions (train, val, test), got "
                        f"{list(fractions)}")
    _, f_val, f_test = (max(0.0, float(f)) for f in fractions)
    n_val = max(1, round(n * f_val)) if f_val > 0 else 0
    n_test = max(1, round(n * f_test)) if f_test > 0 else 0
    while n_val + n_test > n - 1 and (n_val or n_test):
        if n_test >= n_val and n_test:
            n_test -= 1
        else:
            n_val -= 1
    return n_val, n_test


def _cut(idx: np.ndarray, size: int, strat: np.ndarray | None,
         seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split ``idx`` into (rest, part of ``size``), stratified if that is possible."""
    from sklearn.model_selection import train_test_split

    if size == 0:
        return idx, idx[:0]
    if strat is not None:
        try:
            rest, part = train_test_split(idx, test_size=size, random_state=seed, shuffle=True,
                                          stratify=strat)
            return np.asarray(rest), np.asarray(part)
        except ValueError:
            pass
    rest, part = train_test_split(idx, test_size=size, random_state=seed, shuffle=True)
    return np.asarray(rest), np.asarray(part)


def split_indices(n: int, stratify: np.ndarray | None, fractions: Sequence[float],
                  seed: int) -> dict[str, np.ndarray]:
    """Split ``n`` rows into train / validation / test positions, seeded and stratified.

    Sizes are ``round(n * fraction)`` for validation and test (at least 1 each when their
    fraction is above 0, and never leaving training empty); training gets the rest. The split
    is stratified on ``stratify`` (class indices) when every class is big enough, and silently
    falls back to a plain shuffled split otherwise (tiny data).

    Args:
        n: number of rows.
        stratify: class index per row (usually the first classification target), or ``None``.
        fractions: ``[train, val, test]`` fractions (summing to 1).
        seed: random seed; the same seed gives the same split.

    Returns:
        ``{"train", "val", "test"}`` -> sorted int64 positions; each position is in exactly
        one of them; ``val`` / ``test`` are empty when their fraction is 0.
    """
    n = int(n)
    all_idx = np.arange(n, dtype=np.int64)
    empty = all_idx[:0]
    n_val, n_test = _split_sizes(n, fractions)
    strat = None
    if stratify is not None:
        strat = np.asarray(stratify)
        if strat.shape[0] != n:
            raise ValueError(f"stratify has {strat.shape[0]} labels for {n} rows")
    if n == 0:
        return {"train": empty, "val": empty.copy(), "test": empty.copy()}
    seed = int(seed) % (2**32)
    rest, test = _cut(all_idx, n_test, strat, seed)
    rest_strat = strat[rest] if strat is not None else None
    train, val = _cut(rest, n_val, rest_strat, seed)
    return {"train": np.sort(train).astype(np.int64), "val": np.sort(val).astype(np.int64),
            "test": np.sort(test).astype(np.int64)}




def positions_of(row_ids: np.ndarray, wanted: Sequence[int]) -> np.ndarray:
    """Sorted positions in ``row_ids`` of the ids in ``wanted`` (ids not there are left out).

    A saved split (``splits.json`` row ids) back as positions into freshly loaded data;
    vectorised, so a million rows cost no per-row Python objects.
    """
    ids = np.asarray(row_ids, dtype=np.int64)
    want = np.asarray(list(wanted), dtype=np.int64)
    if not len(ids) or not len(want):
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    where = np.clip(np.searchsorted(ids, want, sorter=order), 0, len(ids) - 1)
    found = ids[order[where]] == want
    return np.sort(order[where[found]]).astype(np.int64)
