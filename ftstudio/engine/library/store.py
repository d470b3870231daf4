"""The library folder: entries, lookup, atomic commits, hashing and verification.

An entry is a folder ``<library>/<name>/`` holding ``entry.json`` (what it is) and its
payload: ``backbone.keras`` or ``preset/``. Entries are built in a temporary folder inside the
library and moved into place with ``os.replace``, so a half-written entry is never listed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftstudio import config
from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import LibraryError
from ftstudio.spec import BackboneSpec, is_library_name

__all__ = [
    "BACKBONE_FILE", "ENTRY_FILE", "ENTRY_VERSION", "PRESET_DIR", "LibraryEntry",
    "VerifyReport", "check_name", "commit_entry", "ensure_free", "get_entry", "library_root",
    "list_entries", "remove", "resolve_entry", "rewrite_entry_json", "sha256_file",
    "staging_folder", "suggest_name", "verify",
]

ENTRY_FILE = "entry.json"
ENTRY_VERSION = 1
BACKBONE_FILE = "backbone.keras"
PRESET_DIR = "preset"


# ------------------------------------------------------------------------------- entries
@dataclass
class LibraryEntry:
    """One backbone in the library, as recorded in its ``entry.json``."""

    name: str
    modality: str
    """``text``, ``image`` or ``tabular``."""
    format: str
    """``keras`` (payload ``backbone.keras``), ``keras_hub`` (a keras-hub preset folder) or
    ``hf`` (a Hugging Face folder keras-hub converts on load)."""
    payload: str
    """Payload path relative to the entry folder."""
    kind: str
    """How it came in: ``keras_hub_preset``, ``huggingface``, ``model_file``,
    ``applications_weights``, ``run``, ``autoencoder``, ``download_preset``,
    ``download_applications``."""
    source: str
    """Where it came from, in words (file path, run folder, URL)."""
    description: str = ""
    input_shape: list[int | None] = field(default_factory=list)
    """Per-example input shape: ``[h, w, c]`` images, ``[features]`` tabular, ``[None]`` text."""
    params: int = 0
    architecture: str | None = None
    preprocessing: str = "auto"
    """Pixel scaling the backbone expects (``none``, ``scale_0_1``, ``scale_-1_1``, ``caffe``,
    ``torch``, ``auto`` = the keras-hub preset's own)."""
    image_size: list[int] | None = None
    """Default ``[height, width]`` for image backbones."""
    licence: str | None = None
    """Licence text (or a short note saying where the licence was found)."""
    files: dict[str, str] = field(default_factory=dict)
    """Relative path -> sha256 of every file of the entry except ``entry.json``."""
    sizes: dict[str, int] = field(default_factory=dict)
    """Relative path -> size in bytes."""
    origin_sha256: str | None = None
    """sha256 of the imported file itself when it was converted (model/weights files)."""
    created: str = ""
    network: bool = False
    """True when the entry was downloaded (the only library operations that use the network)."""
    extra: dict[str, Any] = field(default_factory=dict)
    version: int = ENTRY_VERSION
    folder: Path = field(default=Path(), compare=False, repr=False)
    """The entry folder (not stored in ``entry.json``)."""
    problem: str | None = field(default=None, compare=False)
    """Set by :func:`list_entries` when ``entry.json`` cannot be read (the entry is broken)."""

    @property
    def payload_path(self) -> Path:
        """Absolute path of the payload (``backbone.keras`` or the preset folder)."""
        return self.folder / self.payload

    @property
    def size_bytes(self) -> int:
        """Total size of the entry's files."""
        return sum(self.sizes.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (what ``entry.json`` holds, plus ``folder`` and ``problem``)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("folder", "problem")}
        data["folder"] = str(self.folder)
        data["problem"] = self.problem
        return data

    def to_json_text(self) -> str:
        """The text of this entry's ``entry.json``."""
        data = self.to_dict()
        data.pop("folder")
        data.pop("problem")
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any], folder: Path) -> LibraryEntry:
        """Rebuild an entry from ``entry.json`` data (unknown keys are ignored)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"folder", "problem"}
        kwargs = {k: v for k, v in data.items() if k in names}
        return cls(**kwargs, folder=folder)


@dataclass
class VerifyReport:
    """The result of checking one entry's files against the recorded sha256."""

    name: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    checked_files: int = 0


# ------------------------------------------------------------------------------ names
def library_root(root: str | Path | None = None) -> Path:
    """Return the library folder (created on first use): ``root`` or ``home/library``."""
    path = Path(root).expanduser() if root is not None else config.library_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_name(name: str) -> str:
    """Return ``name`` when it is a usable library entry name.

    Raises:
        LibraryError: it is not (saying what a name may hold).
    """
    if not is_library_name(name):
        raise LibraryError(f"'{name}' is not a usable library name: use 1-64 letters, digits, "
                           f"'.', '_' or '-', starting with a letter or digit")
    return name


def ensure_free(lib: Path, name: str, replace: bool) -> None:
    """Raise unless the library ``lib`` has no entry ``name`` (or ``replace`` allows one).

    Raises:
        LibraryError: the name is taken.
    """
    if (lib / name).exists() and not replace:
        raise LibraryError(f"the library already has a model called '{name}': choose another "
                           f"name (--name) or remove it first (ftstudio models remove {name})")


def suggest_name(text: str) -> str:
    """Turn a file or model name into a valid library name (``My Model.h5`` -> ``My-Model``)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-._") or "model"
    if not stem[0].isalnum():
        stem = "m" + stem
    return stem[:64]


# --------------------------------------------------------------------------- list / get
def list_entries(root: str | Path | None = None) -> list[LibraryEntry]:
    """Every entry of the library, sorted by name; unreadable ones carry ``problem``."""
    lib = library_root(root)
    entries = []
    for folder in sorted(lib.iterdir()):
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            entries.append(_read_entry(folder))
        except LibraryError as exc:
            entries.append(LibraryEntry(name=folder.name, modality="?", format="?", payload="",
                                        kind="?", source="?", folder=folder,
                                        problem=str(exc)))
    return entries


def _read_entry(folder: Path) -> LibraryEntry:
    path = folder / ENTRY_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise LibraryError(f"library entry '{folder.name}' has no {ENTRY_FILE}: remove it "
                           f"(ftstudio models remove {folder.name}) and import it again") from exc
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LibraryError(f"library entry '{folder.name}' has an unreadable {ENTRY_FILE} "
                           f"({exc}): remove it and import it again") from exc
    if not isinstance(data, dict) or "name" not in data:
        raise LibraryError(f"library entry '{folder.name}' has a malformed {ENTRY_FILE}")
    try:
        return LibraryEntry.from_dict(data, folder)
    except TypeError as exc:
        raise LibraryError(f"library entry '{folder.name}' has a malformed {ENTRY_FILE} "
                           f"({exc})") from exc


def get_entry(name: str, root: str | Path | None = None) -> LibraryEntry:
    """Return the entry called ``name``.

    Raises:
        LibraryError: when there is no such entry (the message lists the installed ones).
    """
    lib = library_root(root)
    folder = lib / name
    if not is_library_name(name) or not folder.is_dir():
        names = [e.name for e in list_entries(lib)]
        have = ", ".join(names) if names else "none yet (ftstudio models install-defaults)"
        raise LibraryError(f"no model called '{name}' in the library ({lib}); installed: {have}")
    return _read_entry(folder)


def resolve_entry(name: str, base: BackboneSpec | None = None,
                  root: str | Path | None = None) -> BackboneSpec:
    """Turn a library entry name into a BackboneSpec that loads it from local files.

    The result never has ``source == "library"``: a ``keras`` entry resolves to
    ``source="file"`` with ``path`` = its ``backbone.keras`` (already the backbone: no
    sub-model or cut layer to apply), ``preprocessing`` and ``image_size`` filled; a
    ``keras_hub``/``hf`` entry resolves to ``source="keras_hub"`` with ``path`` = its preset
    folder. A quick size check runs first (``verify`` does the full sha256 check).

    Args:
        name: the library entry name (``backbone.name`` of a ``library`` backbone spec).
        base: the user's backbone spec; its ``sequence_length``, ``image_size`` (when set) and
            ``preprocessing`` (when not ``auto``) are kept.
        root: library folder (default :func:`library_root`).

    Raises:
        LibraryError: unknown entry, or a missing/truncated payload file.
    """
    entry = get_entry(name, root)
    problems = _quick_check(entry)
    if problems:
        raise LibraryError(f"library model '{name}' is damaged ({problems[0]}): run "
                           f"'ftstudio models verify {name}', then remove and import it again")
    sources = {"keras": "file", "keras_hub": "keras_hub", "hf": "keras_hub"}
    if entry.format not in sources:
        raise LibraryError(f"library model '{name}' has an unknown format '{entry.format}'")
    spec = BackboneSpec(source=sources[entry.format],  # type: ignore[arg-type]
                        path=str(entry.payload_path),
                        preprocessing=entry.preprocessing,  # type: ignore[arg-type]
                        image_size=list(entry.image_size) if entry.image_size else None)
    if base is not None:
        spec.sequence_length = base.sequence_length
        if base.image_size:
            spec.image_size = list(base.image_size)
        if base.preprocessing != "auto":
            spec.preprocessing = base.preprocessing
        spec.weights = None
    return spec


# ------------------------------------------------------------------------ hashing/verify
def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _walk_files(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.relative_to(folder).as_posix() != ENTRY_FILE:
            yield path


def _quick_check(entry: LibraryEntry) -> list[str]:
    problems = []
    for rel, size in entry.sizes.items():
        path = entry.folder / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif path.stat().st_size != size:
            problems.append(f"{rel} has {path.stat().st_size} bytes, expected {size}")
    if not entry.payload_path.exists():
        problems.append(f"{entry.payload} is missing")
    return problems


def _verify_entry(entry: LibraryEntry) -> VerifyReport:
    if entry.problem:
        return VerifyReport(entry.name, False, [entry.problem])
    problems = _quick_check(entry)
    missing_or_bad = {p.split(" ")[0] for p in problems}
    checked = 0
    for rel, expected in entry.files.items():
        if rel in missing_or_bad:
            continue
        path = entry.folder / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
            continue
        checked += 1
        if sha256_file(path) != expected:
            problems.append(f"{rel} changed (sha256 differs from the one recorded at import)")
    for path in _walk_files(entry.folder):
        rel = path.relative_to(entry.folder).as_posix()
        if rel not in entry.files:
            problems.append(f"{rel} is not part of the entry (added after import)")
    return VerifyReport(entry.name, not problems, problems, checked)


def verify(name: str | None = None, root: str | Path | None = None,
           reporter: Reporter | None = None) -> list[VerifyReport]:
    """Check the files of one entry (or all) against their recorded sha256 and sizes.

    Detects changed, truncated, missing and unexpected files and broken ``entry.json``.
    """
    reporter = reporter or BaseReporter()
    if name:
        try:
            entries = [get_entry(name, root)]
        except LibraryError as exc:
            if not (is_library_name(name) and (library_root(root) / name).is_dir()):
                raise
            return [VerifyReport(name, False, [str(exc)])]
    else:
        entries = list_entries(root)
    reports = []
    for i, entry in enumerate(entries):
        reporter.status(f"Verifying {entry.name}…")
        reporter.progress(i, len(entries))
        reports.append(_verify_entry(entry))
    reporter.progress(len(entries), len(entries))
    return reports


def remove(name: str, root: str | Path | None = None) -> None:
    """Delete an entry (renamed aside first, so a half-deleted entry is never listed).

    Raises:
        LibraryError: when there is no such entry.
    """
    lib = library_root(root)
    folder = lib / name
    if not is_library_name(name) or not folder.is_dir():
        get_entry(name, lib)  # raises with the list of installed names
    trash = lib / f".trash-{name}-{uuid.uuid4().hex[:8]}"
    os.replace(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)


# ------------------------------------------------------------------------ atomic staging
@contextlib.contextmanager
def staging_folder(lib: Path, name: str) -> Iterator[Path]:
    """A temporary folder inside ``lib`` to build entry ``name`` in (removed afterwards)."""
    tmp = lib / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def commit_entry(tmp: Path, lib: Path, entry: LibraryEntry, replace: bool) -> LibraryEntry:
    """Hash the staged files, write ``entry.json``, move the folder into place atomically.

    Raises:
        LibraryError: the name is taken (and not ``replace``), or was taken meanwhile.
    """
    entry.files, entry.sizes = {}, {}
    for path in _walk_files(tmp):
        rel = path.relative_to(tmp).as_posix()
        entry.files[rel] = sha256_file(path)
        entry.sizes[rel] = path.stat().st_size
    entry.created = entry.created or datetime.datetime.now(datetime.UTC).isoformat(
        timespec="seconds")
    (tmp / ENTRY_FILE).write_text(entry.to_json_text(), encoding="utf-8")
    target = lib / entry.name
    old = None
    if target.exists():
        if not replace:
            raise LibraryError(f"the library already has a model called '{entry.name}': choose "
                               f"another name (--name) or remove it first")
        old = lib / f".trash-{entry.name}-{uuid.uuid4().hex[:8]}"
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError as exc:  # another import of the same name finished first
        raise LibraryError(f"the library already has a model called '{entry.name}' (added "
                           f"while this import ran): choose another name") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    entry.folder = target
    return entry


def rewrite_entry_json(entry: LibraryEntry) -> None:
    """Write a changed entry's ``entry.json`` again (atomically; file hashes unchanged)."""
    path = entry.folder / ENTRY_FILE
    tmp = path.with_name(ENTRY_FILE + ".tmp")
    tmp.write_text(entry.to_json_text(), encoding="utf-8")
    os.replace(tmp, path)
