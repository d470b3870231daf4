"""``ftstudio pretrain SPEC``: an autoencoder on unlabelled data; its encoder goes to the library.

The engine is imported inside the handler, so ``ftstudio --help`` stays fast.
"""

from __future__ import annotations

import argparse
from typing import Any

from ftstudio.cli.output import console, library_backbone

__all__ = ["cmd_pretrain", "register"]


def register(subparsers: Any) -> None:
    """Add ``pretrain`` to the main parser's subparsers."""
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


def cmd_pretrain(args: argparse.Namespace) -> int:
    """Run autoencoder pretraining from a spec file."""
    from ftstudio.spec import PretrainSpec

    spec = PretrainSpec.load(args.spec, args.overrides)  # a bad spec fails before the engine
    from ftstudio.engine import autoencoder

    result = autoencoder.pretrain(spec, reporter=console(), replace=args.replace)
    last = result.history[-1] if result.history else {}
    losses = ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k != "epoch")
    print(f"Saved encoder '{result.entry_name}' to the library ({result.entry_folder}); "
          f"{len(result.history)} epoch(s) on {result.samples} unlabelled examples; {losses}")
    if result.preview_path:
        print(f"Reconstructions: {result.preview_path}")
    print(f"Fine-tune with it: {library_backbone(result.entry_name)}")
    return 0
