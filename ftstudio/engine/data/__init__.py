"""Data loading and splits: CSV files and image folders become validated arrays.

The engine's single entry point for user data. :func:`load_data` turns the ``data`` section of
an :class:`~ftstudio.spec.ExperimentSpec` into a :class:`LoadedData` (inputs, encoded targets,
class names, row ids, warnings); :func:`split_indices` makes the seeded, stratified
train / validation / test split; :func:`load_images` decodes image files into a uint8 batch.

Everything the user can get wrong (a missing column, a wrong delimiter, an odd encoding, empty
labels, a class with one example, corrupt images …) ends in a one-sentence
:class:`~ftstudio.errors.DataError` or a warning in :attr:`LoadedData.warnings`.

Line numbers in messages are *file* line numbers as a text editor shows them (the header is
line 1). ``LoadedData.row_ids`` count data lines instead (1 = the first line after the header).

The package's modules, bottom to top: ``labels`` (LoadedData and the label rules), ``tables``
(reading CSV files), ``csv_loader`` and ``images`` (a spec's CSV file or image folder
-> LoadedData), ``streaming`` and ``csv_scan`` (streamed data: the first pass over a CSV too
large for memory, reading its splits back in chunks), ``splits``. Import the names from
``ftstudio.engine.data``.

No TensorFlow here. pandas, scikit-learn and Pillow are imported inside the functions that
need them, so importing this package costs only numpy.

Example:
    >>> spec = ExperimentSpec.from_dict({"data": {"path": "reviews.csv", "text_column": "text",
    ...                                           "label_column": "label"}})
    >>> data = load_data(spec)                                   # doctest: +SKIP
    >>> parts = split_indices(len(data.inputs), data.targets["label"], spec.data.split, 42)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ftstudio.engine.data.csv_loader import load_csv
from ftstudio.engine.data.csv_scan import scan_csv
from ftstudio.engine.data.images import IMAGE_EXTENSIONS, load_image_folder, load_images
from ftstudio.engine.data.labels import LoadedData, class_counts
from ftstudio.engine.data.splits import positions_of, split_indices
from ftstudio.engine.data.streaming import (
    STREAM_CSV_BYTES,
    STREAM_IMAGE_FILES,
    CsvStream,
    ImageStream,
    feature_stats,
    is_streamed,
    iter_split_inputs,
    streaming_wanted,
)
from ftstudio.engine.data.tables import preview_table, read_table
from ftstudio.errors import DataError

if TYPE_CHECKING:
    from ftstudio.engine.reporting import Reporter
    from ftstudio.spec import ExperimentSpec

__all__ = [
    "IMAGE_EXTENSIONS",
    "STREAM_CSV_BYTES",
    "STREAM_IMAGE_FILES",
    "CsvStream",
    "ImageStream",
    "LoadedData",
    "class_counts",
    "feature_stats",
    "is_streamed",
    "iter_split_inputs",
    "load_data",
    "load_images",
    "positions_of",
    "preview_table",
    "read_table",
    "split_indices",
    "streaming_wanted",
]


def load_data(spec: ExperimentSpec, reporter: Reporter | None = None,
              stream: bool = False) -> LoadedData:
    """Load and validate the data an experiment spec points at.

    Text CSVs give an object array of strings, numeric CSVs a float32 matrix of the feature
    columns, image folders (one sub-folder per class) the absolute paths of every readable
    image. Each label column (``spec.label_columns()``) is encoded by its output's task:
    classification -> int64 indices into the sorted class names, regression -> float32.

    Args:
        spec: the experiment; only ``spec.data`` and ``spec.head.outputs`` are read.
        reporter: told ``status`` once and every warning; optional.
        stream: stream the data when ``data.streaming`` says so (training does; see
            :mod:`~ftstudio.engine.data.streaming`): a CSV is checked in one chunked pass
            and its ``inputs`` left empty (``stream`` says how to read them back), an image
            folder's images are not decoded up front. Same rows, labels and warnings.

    Returns:
        The loaded data; its ``warnings`` are also sent to ``reporter.warning``.

    Raises:
        DataError: one clear sentence on what is wrong with the data and what to do.
    """
    d = spec.data
    modality = spec.modality
    if modality == "image":
        source = str(d.image_dir)
    elif d.path:
        source = str(d.path)
    else:
        raise DataError("no data given; set data.path (a CSV file) or data.image_dir "
                        "(a folder of class folders)")
    if reporter is not None:
        reporter.status(f"Loading data from {Path(source).name}…")
    streamed = stream and streaming_wanted(spec)
    if modality == "image":
        data = load_image_folder(spec, reporter, decode=not streamed)
        data.stream = ImageStream() if streamed else None
    elif streamed:
        data = scan_csv(spec, modality, reporter)
    else:
        data = load_csv(spec, modality)
    if reporter is not None:
        for text in data.warnings:
            reporter.warning(text)
    return data

