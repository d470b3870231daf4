"""Where cached backbone features live, and the key that says whether they are still valid.

:func:`feature_key` hashes everything the pooled features of a frozen backbone depend on: the
backbone spec and its files (size and modification time; also a library or bundled one), the
freezing, the preprocessing, the sequence length, the image size, the pooling, the seed and
the data (the file's content hash, or each image's size and time, and the row ids of each
split). Any change is a new key, so nothing stale is reused. :func:`lookup` finds features by
key: the last ones of this process (in memory), else a run folder's ``cache/`` (``.npy``
files, memory-mapped: what :func:`store` writes when they are larger than
:data:`MEMORY_LIMIT_BYTES`, and what a resumed run reuses).

numpy and the standard library only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ftstudio.engine.run_files import atomic_save, atomic_write_text

if TYPE_CHECKING:
    from ftstudio.engine.datasets import PreparedData
    from ftstudio.engine.runs import RunFolder
    from ftstudio.spec import ExperimentSpec

__all__ = ["CACHE_DIR", "MEMORY_LIMIT_BYTES", "CachedFeatures", "clear_memory", "feature_key",
           "lookup", "store"]

CACHE_DIR = "cache"
"""The run-folder sub-folder of large caches (removed when the run finishes)."""

MEMORY_LIMIT_BYTES = 256 * 2**20
"""Caches up to this size stay in memory; larger ones are memory-mapped files."""

_FORMAT = 1
"""Bumped when the way features are computed changes (old caches then never match)."""

_memory: dict[str, CachedFeatures] = {}
"""The last cache of this process (one entry: a run and its baseline share it)."""


@dataclass
class CachedFeatures:
    """The pooled backbone features of every split of one run's data.

    Attributes:
        key: :func:`feature_key` of what they were computed from.
        splits: ``{split: float32 (n, d)}`` in the split's example order (memory-mapped
            arrays when stored in the run folder).
        description: what the features are, for the log and ``baseline.json``.
        seconds: what computing them took.
        stored: ``"memory"`` or the folder they are in.
    """

    key: str
    splits: dict[str, np.ndarray]
    description: str
    seconds: float
    stored: str = "memory"

    @property
    def examples(self) -> int:
        """How many examples have features."""
        return sum(len(v) for v in self.splits.values())


# ------------------------------------------------------------------ the key
def feature_key(spec: ExperimentSpec, prepared: PreparedData, backbone: Any = None,
                pooling: str | None = None) -> str:
    """A hash of everything the pooled features depend on (any change: a new key).

    Args:
        spec: the experiment (backbone, freezing, pooling, data sections and the seed).
        prepared: the data and its split (row ids of each split; the data file).
        backbone: the loaded backbone (its resolved preprocessing, image shape, description).
        pooling: the pooling used instead of ``head.pooling`` (the baseline's).
    """
    parts = {
        "format": _FORMAT,
        "backbone": dataclasses.asdict(spec.backbone),
        "backbone_files": _backbone_stamps(spec, prepared.data.modality),
        "resolved": None if backbone is None else [
            str(getattr(backbone, "description", "")), str(getattr(backbone, "preprocessing", "")),
            list(getattr(backbone, "image_shape", None) or [])],
        "freeze": dataclasses.asdict(spec.freeze),
        "pooling": pooling or spec.head.pooling,
        "seed": spec.training.seed,
        "data": dataclasses.asdict(spec.data),
        "modality": prepared.data.modality,
        "source": _data_stamp(prepared),
        "rows": {s: hashlib.sha256(np.ascontiguousarray(
            prepared.data.row_ids[idx], dtype=np.int64).tobytes()).hexdigest()
            for s, idx in prepared.splits.items()},
    }
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stamp(path: Path) -> list[Any]:
    """``[path, size, mtime_ns]`` of a file, or of every file under a folder."""
    if path.is_file():
        st = path.stat()
        return [str(path), st.st_size, st.st_mtime_ns]
    if path.is_dir():
        return [_stamp(p) for p in sorted(path.rglob("*")) if p.is_file()]
    return [str(path), None]


def _backbone_stamps(spec: ExperimentSpec, modality: str) -> list[Any]:
    """Size and time of the files the backbone loads from (also a library or bundled one)."""
    from ftstudio.engine.bundled import default_backbone, find_bundled

    b = spec.backbone
    paths = [p for p in (b.path, b.weights) if p]
    if spec.training.init_from_run:  # a warm start changes the backbone's weights too
        paths.append(str(Path(spec.training.init_from_run) / "model.keras"))
    bundled = find_bundled(b.name) if b.name else (
        default_backbone(modality) if not b.path and b.source == "auto" else None)
    if bundled is not None and bundled.spec.path:
        paths.append(bundled.spec.path)
    if b.name and b.source in ("auto", "library"):
        try:
            from ftstudio.engine.library import resolve_entry

            resolved = resolve_entry(b.name)
            if resolved.path:
                paths.append(resolved.path)
        except Exception:  # noqa: BLE001 - not a library entry: the name says it all
            pass
    return [_stamp(Path(p).expanduser()) for p in paths]


def _data_stamp(prepared: PreparedData) -> Any:
    """The data file's content hash, or each input file's size and time (image folders)."""
    source = Path(str(prepared.data.source))
    if source.is_file():
        digest = hashlib.sha256()
        with open(source, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()
    if prepared.data.modality == "image":
        digest = hashlib.sha256()
        for p in np.asarray(prepared.data.inputs, dtype=object):
            digest.update(json.dumps(_stamp(Path(str(p)))).encode("utf-8"))
        return digest.hexdigest()
    return str(source)


# ------------------------------------------------------------------ storing
def clear_memory() -> None:
    """Forget the cache kept in this process (benchmarks and tests)."""
    _memory.clear()


def lookup(run: RunFolder | None, key: str, splits: tuple[str, ...] = ()) -> CachedFeatures | None:
    """The cached features of ``key`` (this process's, else the run folder's), or ``None``.

    Args:
        run: the run folder whose ``cache/`` may hold them.
        key: from :func:`feature_key`.
        splits: the splits that must be there.
    """
    found = _memory.get(key)
    if found is None and run is not None:
        found = _load(run.file(CACHE_DIR) / key[:24], key)
    if found is None or any(s not in found.splits for s in splits):
        return None
    return found


def store(run: RunFolder, cached: CachedFeatures) -> CachedFeatures:
    """Keep ``cached`` in memory, or (large) as memory-mapped files in the run folder."""
    size = sum(int(v.nbytes) for v in cached.splits.values())
    _memory.clear()
    if size > MEMORY_LIMIT_BYTES:
        folder = run.file(CACHE_DIR) / cached.key[:24]
        shutil.rmtree(run.file(CACHE_DIR), ignore_errors=True)  # one cache per run
        for split, values in cached.splits.items():
            atomic_save(folder / f"{split}.npy", _npy_writer(values), suffix=".npy",
                        needed=int(values.nbytes) + 4096)
        meta = {"key": cached.key, "description": cached.description,
                "seconds": cached.seconds, "splits": sorted(cached.splits)}
        atomic_write_text(folder / "meta.json", json.dumps(meta))  # last: commits the cache
        loaded = _load(folder, cached.key)
        if loaded is not None:
            cached = loaded
    _memory[cached.key] = cached
    return cached


def _npy_writer(values: np.ndarray) -> Any:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            np.save(fh, values)
    return write


def _load(folder: Path, key: str) -> CachedFeatures | None:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("key") != key:
            return None
        splits = {s: np.load(folder / f"{s}.npy", mmap_mode="r") for s in meta["splits"]}
    except (OSError, ValueError, KeyError):
        return None
    return CachedFeatures(key, splits, str(meta.get("description", "")),
                          float(meta.get("seconds", 0.0)), stored=str(folder))
