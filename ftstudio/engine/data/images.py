"""Image folders and image files.

An image folder (one sub-folder per class) becomes :class:`LoadedData`; image files become
uint8 batches (:func:`load_images`). Pillow is imported inside the functions that need it.
"""

from __future__ import annotations

import os
import warnings as _warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ftstudio.engine.data.labels import LoadedData, check_classes, label_tasks, listing, plural
from ftstudio.errors import DataError

if TYPE_CHECKING:
    from ftstudio.engine.reporting import Reporter
    from ftstudio.spec import ExperimentSpec

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
"""File suffixes (lower case) taken from image folders."""


def _image_ok(path: Path, decode: bool = True) -> bool:
    """Return True when Pillow can verify (and, with ``decode``, fully decode) the file."""
    from PIL import Image

    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore")
            with Image.open(path) as im:
                im.verify()
            if decode:
                with Image.open(path) as im:
                    im.load()
        return True
    except Exception:  # noqa: BLE001 - any decoder failure means "skip this file"
        return False


def load_image_folder(spec: ExperimentSpec, reporter: Reporter | None,
                      decode: bool = True) -> LoadedData:
    """Load ``spec.data.image_dir``: one sub-folder per class, unreadable images skipped.

    Args:
        spec: the experiment; ``spec.data.image_dir`` and ``spec.head.outputs`` are read.
        reporter: told the progress of checking the images; optional.
        decode: check each image by decoding it; ``False`` (streamed folders) checks only
            what Pillow's ``verify`` reads, and a file that then fails to decode stops
            training with a message naming it.

    Returns:
        The absolute paths of every readable image, labelled by their class folder.

    Raises:
        DataError: no such folder, fewer than two classes, a class with fewer than two images,
            or a regression output.
    """
    root = Path(str(spec.data.image_dir)).expanduser()
    tasks = label_tasks(spec)
    for col, task in tasks.items():
        if task != "classification":
            raise DataError(f"label '{col}' is a regression output, but an image folder only "
                            f"gives class labels (its sub-folder names); use classification")
    class_dirs = _class_folders(root)
    found, other = _find_images(class_dirs)

    warns: list[str] = []
    good_paths: list[str] = []
    labels: list[int] = []
    bad: list[str] = []
    total = len(found)
    for i, (p, k) in enumerate(found):
        if _image_ok(p, decode):
            good_paths.append(os.path.abspath(p))
            labels.append(k)
        else:
            bad.append(p.relative_to(root).as_posix())
        if reporter is not None and (i + 1) % 100 == 0:
            reporter.progress(i + 1, total)
    if reporter is not None and total:
        reporter.progress(total, total)
    if bad:
        warns.append(f"Skipped {plural(len(bad), 'unreadable image')} in {root.name}: "
                     f"{listing(bad)}.")
    if other:
        exts = " ".join(IMAGE_EXTENSIONS)
        warns.append(f"Ignored {plural(other, 'file')} in {root.name} that "
                     f"{'is not an image' if other == 1 else 'are not images'} ({exts}).")
    names = [p.name for p in class_dirs]
    codes = np.asarray(labels, dtype=np.int64)
    counts = np.bincount(codes, minlength=len(names)) if len(codes) else np.zeros(len(names),
                                                                                  np.int64)
    check_classes(dict(zip(names, counts.tolist(), strict=True)),
                  next(iter(tasks)), "image", "remove those folders", warns)
    return LoadedData(modality="image", inputs=np.array(good_paths, dtype=object),
                      feature_names=[], targets={col: codes.copy() for col in tasks},
                      classes={col: list(names) for col in tasks},
                      row_ids=np.arange(len(good_paths), dtype=np.int64),
                      warnings=warns, source=str(root))


def _class_folders(root: Path) -> list[Path]:
    """The class sub-folders of ``root`` by name (hidden ones left out); at least two."""
    if not root.exists():
        raise DataError(f"image folder not found: {root}; check data.image_dir")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder; data.image_dir must be a folder with one "
                        f"sub-folder of images per class")
    class_dirs = sorted((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
                        key=lambda p: p.name)
    if not class_dirs:
        raise DataError(f"{root} has no class sub-folders; put the images of each class in a "
                        f"sub-folder named after the class (e.g. {root.name}/cat/1.png)")
    if len(class_dirs) < 2:
        raise DataError(f"{root} has only one class folder, '{class_dirs[0].name}'; a "
                        f"classifier needs at least two classes (one sub-folder each)")
    return class_dirs


def _find_images(class_dirs: list[Path]) -> tuple[list[tuple[Path, int]], int]:
    """Every image file under the class folders with its class index, and how many other files.

    Hidden files and folders are skipped; the order is sorted, so it does not depend on the
    file system.
    """
    found: list[tuple[Path, int]] = []
    other = 0
    for k, cdir in enumerate(class_dirs):
        for dirpath, dirnames, filenames in os.walk(cdir):
            dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
            for fname in sorted(filenames):
                if fname.startswith("."):
                    continue
                p = Path(dirpath) / fname
                if p.suffix.lower() in IMAGE_EXTENSIONS:
                    found.append((p, k))
                else:
                    other += 1
    return found, other


def load_images(paths: Sequence[str], size: tuple[int, int], channels: int = 3) -> np.ndarray:
    """Decode image files into one uint8 batch.

    Each image is turned upright by its EXIF orientation, converted to RGB (``channels=3``)
    or greyscale (``channels=1``) and resized to ``size`` with bilinear filtering.

    Args:
        paths: image files.
        size: ``(height, width)`` of the output.
        channels: 3 (RGB) or 1 (greyscale).

    Returns:
        uint8 array ``(len(paths), height, width, channels)``.

    Raises:
        DataError: a file cannot be read as an image.
        ValueError: ``channels`` is not 1 or 3.
    """
    from PIL import Image, ImageOps

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    h, w = int(size[0]), int(size[1])
    mode = "RGB" if channels == 3 else "L"
    out = np.empty((len(paths), h, w, channels), dtype=np.uint8)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as im:
                if im.format == "JPEG":
                    im.draft(mode, (max(h, w), max(h, w)))
                img = ImageOps.exif_transpose(im) or im
                if img.mode == "P" and "transparency" in img.info:
                    img = img.convert("RGBA")
                if img.mode != mode:
                    img = img.convert(mode)
                if img.size != (w, h):
                    img = img.resize((w, h), Image.Resampling.BILINEAR)
                arr = np.asarray(img, dtype=np.uint8)
        except (OSError, ValueError, SyntaxError) as exc:
            raise DataError(f"cannot read image {path}: {exc}") from exc
        out[i] = arr.reshape(h, w, channels)
    return out
