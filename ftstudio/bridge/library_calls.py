"""The model-library calls the window makes, each run inside a :class:`~ftstudio.bridge.jobs.Job`.

Every function runs on a worker thread, imports the engine lazily and returns the plain
dataclasses of :mod:`ftstudio.bridge.types` (never engine objects). Errors are the engine's own
(:class:`~ftstudio.errors.LibraryError` and friends); the job turns them into an
:class:`~ftstudio.bridge.jobs.ErrorInfo`. Only the ``download_*`` calls use the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ftstudio.bridge.types import ImportSource, LibraryEntryInfo, VerifyResult

if TYPE_CHECKING:
    from ftstudio.engine.library import LibraryEntry
    from ftstudio.engine.reporting import Reporter

__all__ = [
    "download_applications",
    "download_preset",
    "entry_info",
    "import_path",
    "inspect_path",
    "install_defaults",
    "list_entries",
    "remove",
    "verify",
]


def entry_info(entry: LibraryEntry) -> LibraryEntryInfo:
    """Copy an engine library entry into the window's :class:`LibraryEntryInfo`."""
    return LibraryEntryInfo(
        name=entry.name, modality=entry.modality, format=entry.format, kind=entry.kind,
        source=entry.source, description=entry.description,
        input_shape=list(entry.input_shape), params=int(entry.params),
        architecture=entry.architecture, preprocessing=entry.preprocessing,
        image_size=list(entry.image_size) if entry.image_size else None, licence=entry.licence,
        files=dict(entry.files), sizes=dict(entry.sizes), created=entry.created,
        network=bool(entry.network), folder=str(entry.folder), problem=entry.problem)


def list_entries() -> list[LibraryEntryInfo]:
    """Every entry of the library, sorted by name (broken ones carry ``problem``)."""
    from ftstudio.engine import library

    return [entry_info(e) for e in library.list_entries()]


def import_path(path: str, name: str | None = None, *, submodel: str | None = None,
                cut_layer: str | None = None, arch: str | None = None,
                preprocessing: str | None = None, image_size: list[int] | None = None,
                description: str | None = None, replace: bool = False,
                reporter: Reporter | None = None) -> LibraryEntryInfo:
    """Import a model file or folder into the library.

    Args:
        path: the file or folder.
        name: the library name (derived from the path when ``None``).
        submodel: model files and runs: the nested model to keep.
        cut_layer: model files and runs: the layer whose output is the backbone's.
        arch: weights files: the keras.applications architecture.
        preprocessing: the pixel scaling (guessed when ``None``).
        image_size: the default ``[height, width]`` of an image backbone.
        description: one line on what it is (made up when ``None``).
        replace: replace an entry of that name.
        reporter: progress sink.
    """
    from ftstudio.engine import library

    return entry_info(library.import_path(
        path, name, submodel=submodel, cut_layer=cut_layer, arch=arch,
        preprocessing=preprocessing, image_size=image_size, description=description,
        replace=replace, reporter=reporter))


def inspect_path(path: str) -> ImportSource:
    """Describe an import source without importing it (for the import dialog)."""
    from ftstudio.engine import library

    info = library.inspect_path(path)
    return ImportSource(
        path=str(info["path"]), kind=str(info["kind"]), layers=list(info["layers"]),
        submodels={str(k): list(v) for k, v in info["submodels"].items()},
        input_shape=info["input_shape"], candidates=list(info["candidates"]),
        config=dict(info["config"]))


def verify(name: str | None = None, reporter: Reporter | None = None) -> list[VerifyResult]:
    """Check the files of one entry (every entry when ``name`` is ``None``) against their sha256."""
    from ftstudio.engine import library

    return [VerifyResult(r.name, bool(r.ok), list(r.problems), int(r.checked_files))
            for r in library.verify(name, reporter=reporter)]


def remove(name: str) -> str:
    """Delete the entry ``name`` and its files; return its name."""
    from ftstudio.engine import library

    library.remove(name)
    return name


def install_defaults(replace: bool = False,
                     reporter: Reporter | None = None) -> list[LibraryEntryInfo]:
    """Register the bundled default backbones in the library."""
    from ftstudio.engine import library

    return [entry_info(e) for e in library.install_defaults(replace=replace, reporter=reporter)]


def download_preset(preset: str, name: str | None = None, replace: bool = False,
                    reporter: Reporter | None = None) -> LibraryEntryInfo:
    """Download a keras-hub preset into the library (uses the network)."""
    from ftstudio.engine import library

    return entry_info(library.download_preset(preset, name, replace=replace, reporter=reporter))


def download_applications(arch: str, name: str | None = None, alpha: float | None = None,
                          replace: bool = False,
                          reporter: Reporter | None = None) -> LibraryEntryInfo:
    """Download keras.applications ImageNet weights into the library (uses the network)."""
    from ftstudio.engine import library

    return entry_info(library.download_applications(arch, name, alpha=alpha, replace=replace,
                                                    reporter=reporter))
