"""The pretraining spec: an autoencoder on unlabelled data whose encoder goes to the library.

Standard library only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ftstudio.errors import SpecError
from ftstudio.spec.parsing import JsonSpecMixin, make_paths_absolute
from ftstudio.spec.parts import SPEC_VERSION, DataSpec

__all__ = ["NoiseType", "PretrainKind", "PretrainSpec", "is_library_name"]

PretrainKind = Literal["auto", "dense", "conv"]
NoiseType = Literal["gaussian", "dropout"]

_LIBRARY_NAME_CHARS = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def is_library_name(name: str) -> bool:
    """Return whether ``name`` is a usable library entry name (1-64 of ``A-Za-z0-9._-``).

    The first character is a letter or digit (so a name is never a hidden or relative path).
    """
    return (0 < len(name) <= 64 and name[0].isascii() and name[0].isalnum()
            and all(c in _LIBRARY_NAME_CHARS for c in name))


@dataclass
class PretrainSpec(JsonSpecMixin):
    """Autoencoder pretraining on unlabelled data; the encoder is saved to the model library.

    The data section is a :class:`DataSpec`: ``path`` (+ optional ``feature_columns``; by
    default every numeric column except ``label_column``) for a numeric CSV, or ``image_dir``
    for images (a flat folder or one sub-folder per class; labels are not used).
    ``PretrainSpec.from_json(spec.to_json()) == spec``.
    """

    name: str = "pretrain"
    description: str = ""
    version: int = SPEC_VERSION
    data: DataSpec = field(default_factory=DataSpec)
    kind: PretrainKind = "auto"
    """``dense`` (numeric CSV, or images flattened), ``conv`` (images); ``auto``: ``conv`` for
    images, ``dense`` for a CSV."""
    encoder_units: list[int] = field(default_factory=lambda: [64, 32])
    """Dense: units of each encoder layer. Conv: filters of each block (each halves the size)."""
    latent_dim: int = 16
    """Dense: size of the code. Conv: channels of a 1x1 bottleneck (0 = none)."""
    activation: str = "relu"
    noise: float = 0.0
    """Denoising: corruption applied to the inputs while training (0 = plain autoencoder)."""
    noise_type: NoiseType = "gaussian"
    """``gaussian``: add noise of std ``noise`` (standardised units / pixels in 0..1);
    ``dropout``: zero a fraction ``noise`` of the inputs (masking noise)."""
    image_size: list[int] = field(default_factory=lambda: [32, 32])
    """``[height, width]`` images are resized to (conv); divisible by 2 per encoder block."""
    channels: int = 3
    """Image channels: 1 (grayscale) or 3 (RGB)."""
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    val_fraction: float = 0.1
    """Rows held out to report the validation reconstruction loss (0 = none)."""
    seed: int = 42
    save_as: str = "my-encoder"
    """Name of the library entry the encoder is saved as (``backbone.name`` in a fine-tune
    spec with ``backbone.source = "library"``)."""

    def resolved(self, base: Path) -> PretrainSpec:
        """Return a copy whose relative data paths are made absolute against ``base``."""
        spec = dataclasses.replace(self, data=dataclasses.replace(self.data))
        make_paths_absolute(base, ((spec.data, "path"), (spec.data, "image_dir")))
        return spec

    # ----------------------------------------------------------- semantics
    @property
    def modality(self) -> Literal["image", "tabular"]:
        """``image`` when the data is an image folder, else ``tabular``."""
        return "image" if self.data.image_dir else "tabular"

    @property
    def resolved_kind(self) -> Literal["dense", "conv"]:
        """The autoencoder kind, with ``auto`` decided from the data section."""
        if self.kind != "auto":
            return self.kind
        return "conv" if self.data.image_dir else "dense"

    def validate(self) -> None:
        """Check cross-field rules; field types were checked while parsing.

        Raises:
            SpecError: naming the key and what is allowed.
        """
        self._check_data_and_kind()
        self._check_architecture()
        self._check_training()

    def _check_data_and_kind(self) -> None:
        d = self.data
        if d.text_column:
            raise SpecError("pretraining works on numeric CSV columns or images, not text: "
                            "remove data.text_column")
        if d.image_dir and d.path:
            raise SpecError("use only one input kind: data.path (numeric CSV) or data.image_dir")
        if not (d.image_dir or d.path):
            raise SpecError("set data.path (a numeric CSV) or data.image_dir (a folder of images)")
        if d.feature_columns is not None and not d.feature_columns:
            raise SpecError("data.feature_columns is empty: list the numeric columns or remove "
                            "the key to use every numeric column")
        if self.resolved_kind == "conv" and not d.image_dir:
            raise SpecError("kind 'conv' needs images: set data.image_dir or use kind 'dense'")

    def _check_architecture(self) -> None:
        kind = self.resolved_kind
        if not self.encoder_units or any(u < 1 for u in self.encoder_units):
            raise SpecError(f"encoder_units must list at least one size of 1 or more, "
                            f"got {self.encoder_units}")
        if len(self.encoder_units) > 6:
            raise SpecError(f"encoder_units: at most 6 layers, got {len(self.encoder_units)}")
        if self.latent_dim < (0 if kind == "conv" else 1):
            raise SpecError(f"latent_dim must be at least {0 if kind == 'conv' else 1}, "
                            f"got {self.latent_dim}")
        if not 0 <= self.noise < (1 if self.noise_type == "dropout" else 10):
            raise SpecError(f"noise must be >= 0 (and below 1 for noise_type 'dropout'), "
                            f"got {self.noise}")
        if len(self.image_size) != 2 or min(self.image_size) < 4:
            raise SpecError(f"image_size must be [height, width] of at least 4, "
                            f"got {self.image_size}")
        if kind == "conv":
            step = 2 ** len(self.encoder_units)
            if any(s % step for s in self.image_size):
                raise SpecError(f"image_size {self.image_size} must be divisible by {step} "
                                f"(2 per encoder block of encoder_units)")
        if self.channels not in (1, 3):
            raise SpecError(f"channels must be 1 or 3, got {self.channels}")

    def _check_training(self) -> None:
        if self.epochs < 1:
            raise SpecError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise SpecError(f"batch_size must be at least 1, got {self.batch_size}")
        if not self.learning_rate > 0:
            raise SpecError(f"learning_rate must be above 0, got {self.learning_rate}")
        if not 0 <= self.val_fraction < 0.9:
            raise SpecError(f"val_fraction must be in [0, 0.9), got {self.val_fraction}")
        if not is_library_name(self.save_as):
            raise SpecError(f"save_as {self.save_as!r} is not a usable library name: use "
                            f"letters, digits, '.', '_' or '-' (1-64, starting with a letter "
                            f"or digit)")
