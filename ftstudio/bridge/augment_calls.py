"""The augmentation preview the Model page shows: a few training images and augmented versions.

Run it in a :class:`~ftstudio.bridge.jobs.Job` (it imports Keras): the result is plain bytes the
window turns into pixmaps, never an array of the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass

from ftstudio.spec import ExperimentSpec

__all__ = ["AugmentPreview", "augment_preview"]


@dataclass
class AugmentPreview:
    """Rows of images: each row an original, then its augmented versions.

    Attributes:
        rows: how many different images.
        columns: 1 + the augmented versions of each.
        height: pixels per image, vertically.
        width: pixels per image, horizontally.
        pixels: uint8 RGB, ``(rows, columns, height, width, 3)`` in C order.
        description: what is on ("flip horizontal, rotation ±0.1 turn"; "" when nothing).
    """

    rows: int
    columns: int
    height: int
    width: int
    pixels: bytes
    description: str

    def image(self, row: int, column: int) -> bytes:
        """The RGB bytes of one image (``height * width * 3``)."""
        size = self.height * self.width * 3
        start = (row * self.columns + column) * size
        return self.pixels[start:start + size]


def augment_preview(spec: ExperimentSpec, images: int = 3, variants: int = 5,
                    size: int = 128) -> AugmentPreview:
    """Augment ``images`` training images ``variants`` times each, as training would.

    Args:
        spec: an image spec (its data and ``augment`` sections).
        images: different images (one per class first).
        variants: augmented versions of each.
        size: height and width of the preview images.

    Raises:
        SpecError: the spec has no image data.
        DataError: the images cannot be read.
    """
    from ftstudio.engine.augment import describe_augmentation, preview_augmentations

    strip = preview_augmentations(spec, images, variants, (size, size))
    rows, columns, height, width, _ = strip.shape
    return AugmentPreview(int(rows), int(columns), int(height), int(width), strip.tobytes(),
                          describe_augmentation(spec.augment))
