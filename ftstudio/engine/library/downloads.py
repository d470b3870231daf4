"""Downloads into the library: the only library operations that use the network.

keras.applications ImageNet weights and keras-hub presets, each only when asked; offline
they fail with a message that says to import a local file instead.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ftstudio.engine.library.applications import (
    applications_constructor,
    default_image_side,
    import_applications_weights,
)
from ftstudio.engine.library.folders import import_keras_hub_preset
from ftstudio.engine.library.store import (
    LibraryEntry,
    check_name,
    ensure_free,
    library_root,
    suggest_name,
)
from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import CancelledError, LibraryError

__all__ = ["NETWORK_NOTICE", "download_applications", "download_file", "download_preset"]

NETWORK_NOTICE = "uses the network: downloads model weights from the internet"


def download_file(url: str, dest: Path, reporter: Reporter) -> Path:
    """Download ``url`` to ``dest`` with progress (bytes).

    Raises:
        LibraryError: offline, or the download failed.
        CancelledError: the reporter asked to stop.
    """
    reporter.status(f"Downloading {url} (network use)…")
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            done = 0
            while block := response.read(1 << 16):
                if reporter.should_stop():
                    raise CancelledError("download stopped by the user")
                out.write(block)
                done += len(block)
                reporter.progress(done, total)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        part.unlink(missing_ok=True)
        raise LibraryError(f"cannot download {url} ({exc}); downloads need a network "
                           f"connection; offline, import a local file instead") from exc
    os.replace(part, dest)
    return dest


@contextlib.contextmanager
def _intercept_keras_downloads(folder: Path, reporter: Reporter) -> Iterator[list[Path]]:
    """Route keras.applications weight downloads through :func:`download_file` into ``folder``."""
    from keras.src.utils import file_utils

    fetched: list[Path] = []
    original = file_utils.get_file

    def get_file(fname: str | None = None, origin: str | None = None, *args: Any,
                 file_hash: str | None = None, **kwargs: Any) -> str:
        if origin is None:
            raise LibraryError("keras asked for a download without a URL")
        target = folder / (fname or origin.rsplit("/", 1)[-1])
        download_file(origin, target, reporter)
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
    check_name(name)
    lib = library_root(root)
    ensure_free(lib, name, replace)
    fn = applications_constructor(arch)
    kwargs = {"alpha": alpha} if alpha is not None else {}
    with tempfile.TemporaryDirectory(dir=lib) as tmp:
        reporter.status(f"Network use: downloading {arch} ImageNet weights…")
        with _intercept_keras_downloads(Path(tmp), reporter) as fetched:
            try:
                size = default_image_side(arch)
                fn(include_top=False, weights="imagenet", input_shape=(size, size, 3), **kwargs)
            except LibraryError:
                raise
            except ValueError as exc:
                raise LibraryError(f"keras.applications {arch}: {exc}") from exc
        if not fetched:
            raise LibraryError(f"keras.applications {arch} downloaded no weights file")
        weights = fetched[-1]
        return import_applications_weights(
            weights, name, arch, None, None, None, replace, root, reporter,
            kind="download_applications", network=True,
            source=f"keras.applications {arch} ImageNet weights ({weights.name})")


@contextlib.contextmanager
def _private_hub_caches(folder: Path) -> Iterator[None]:
    """Point keras-hub's download caches (Kaggle, Hugging Face) into ``folder`` meanwhile."""
    old = {k: os.environ.get(k) for k in ("KAGGLEHUB_CACHE", "HF_HOME")}
    os.environ["KAGGLEHUB_CACHE"] = str(folder / "cache")
    os.environ["HF_HOME"] = str(folder / "hf")
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _save_preset(preset: str, out: Path) -> None:
    import keras_hub

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
        raise LibraryError(f"cannot download keras-hub preset '{preset}' ({first[:200]}); it "
                           f"needs a network connection and a known preset name") from exc


def download_preset(preset: str, name: str | None = None, replace: bool = False,
                    root: str | Path | None = None,
                    reporter: Reporter | None = None) -> LibraryEntry:
    """Download a keras-hub preset (e.g. ``bert_tiny_en_uncased``) into the library. Network use.

    The backbone and its tokenizer / image converter are saved as a local preset folder.
    """
    reporter = reporter or BaseReporter()
    name = name or suggest_name(preset.split("/")[-1])
    check_name(name)
    lib = library_root(root)
    ensure_free(lib, name, replace)
    with tempfile.TemporaryDirectory(dir=lib) as tmp:
        reporter.status(f"Network use: downloading keras-hub preset {preset}…")
        reporter.progress(0, None)
        out = Path(tmp) / "preset"
        with _private_hub_caches(Path(tmp)):
            _save_preset(preset, out)
        reporter.progress(1, 1)
        return import_keras_hub_preset(out, name, None, replace, root, reporter,
                                       kind="download_preset", network=True,
                                       source=f"keras-hub preset {preset} (downloaded)")
