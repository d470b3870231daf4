"""Plain data the bridge hands to the window (no engine types, no Qt, no TensorFlow).

The window never sees engine classes: the bridge copies what it needs into these dataclasses,
so the UI depends only on this module's shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ColumnKind = Literal["text", "numeric", "category", "empty"]


@dataclass
class ColumnInfo:
    """One column of a previewed table.

    Attributes:
        name: the column name.
        kind: ``text`` (long strings), ``category`` (few distinct values), ``numeric``,
            or ``empty``.
        n_unique: distinct non-missing values in the preview.
        n_missing: missing cells in the preview.
        integer: True when every value is a whole number.
    """

    name: str
    kind: ColumnKind
    n_unique: int
    n_missing: int
    integer: bool = False


@dataclass
class DataPreview:
    """What the Data page shows right after a file or folder is opened.

    Attributes:
        source: the CSV path or image folder.
        kind: ``csv`` or ``images``.
        frame: a pandas DataFrame of the first rows (the table model reads it in place).
        n_rows_shown: rows in ``frame``.
        truncated: True when the file has more rows than shown.
        columns: per-column facts, in order.
        suggested: ``text_column``, ``label_column``, ``feature_columns`` guesses.
        warnings: engine warnings about reading the file.
        classes: image folders: class name -> image count (else empty).
    """

    source: str
    kind: Literal["csv", "images"]
    frame: Any
    n_rows_shown: int
    truncated: bool
    columns: list[ColumnInfo] = field(default_factory=list)
    suggested: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    classes: dict[str, int] = field(default_factory=dict)


@dataclass
class LabelSummary:
    """The distribution of one label column as the engine will train on it.

    Attributes:
        column: the label column.
        task: ``classification`` or ``regression``.
        counts: classification: class name -> rows, in class index order.
        histogram: regression: ``(edges, counts)`` of the values.
    """

    column: str
    task: str
    counts: dict[str, int] = field(default_factory=dict)
    histogram: tuple[list[float], list[int]] | None = None


@dataclass
class DataCheck:
    """The result of loading the data exactly as training will (``engine.data.load_data``).

    Attributes:
        modality: ``text``, ``image`` or ``tabular``.
        n_examples: usable rows (after dropping empty labels / inputs / bad images).
        labels: one summary per label column, in output order.
        warnings: every warning the engine raised.
        split_sizes: ``train`` / ``val`` / ``test`` sizes of the seeded split.
    """

    modality: str
    n_examples: int
    labels: list[LabelSummary] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    split_sizes: dict[str, int] = field(default_factory=dict)


@dataclass
class LayerRow:
    """One layer of the built model, as the layer tree shows it.

    Attributes:
        name: the Keras layer name (unique in the model).
        type: the layer class name.
        output_shape: printable output shape.
        params: parameter count of the layer (with its sub-layers).
        trainable: whether it learns under the current freeze settings.
        block: the backbone block it belongs to (``None`` outside blocks).
        depth: nesting depth (0 = a layer of the top model).
        in_backbone: True for backbone layers, False for the head.
    """

    name: str
    type: str
    output_shape: str
    params: int
    trainable: bool
    block: str | None
    depth: int
    in_backbone: bool = True


@dataclass
class ModelDescription:
    """A built model, described for the Model page.

    Attributes:
        description: one line on the backbone ("MiniLM BERT, 6 layers, 22.7M params").
        modality: the backbone's modality.
        layers: every layer row, top model order, nested rows after their parent.
        blocks: ``(block name, layer names)`` bottom to top (for "unfreeze last N").
        trainable_params: trainable parameters under the spec's freeze settings.
        total_params: all parameters.
        summary: the Keras model summary as text.
        output_sizes: output name -> units.
    """

    description: str
    modality: str
    layers: list[LayerRow]
    blocks: list[tuple[str, list[str]]]
    trainable_params: int
    total_params: int
    summary: str = ""
    output_sizes: dict[str, int] = field(default_factory=dict)


@dataclass
class BackboneChoice:
    """A backbone the Model page offers.

    Attributes:
        label: what the picker shows.
        source: the spec's ``backbone.source``.
        name: the spec's ``backbone.name``.
        path: the spec's ``backbone.path``.
        modality: ``text``, ``image``, ``tabular`` or ``""`` when unknown.
        description: a one-line tooltip.
        group: the picker section ("Bundled", "Keras applications", "Library").
    """

    label: str
    source: str
    name: str | None = None
    path: str | None = None
    modality: str = ""
    description: str = ""
    group: str = "Bundled"


@dataclass
class EngineInfo:
    """What the engine loader found.

    Attributes:
        versions: package -> version (tensorflow, keras, keras_hub).
        device: ``CPU`` or the GPUs.
        backbones: the built-in backbone choices.
        seconds: how long loading took.
    """

    versions: dict[str, str]
    device: str
    backbones: list[BackboneChoice]
    seconds: float


@dataclass
class TrainOutcome:
    """The result of a training job.

    Attributes:
        run_dir: the run folder.
        metrics: flat metrics (``test.accuracy``…).
        stopped_by_user: True when Stop ended it.
        best_epoch: the epoch whose weights were kept.
        seconds: wall time of the job.
    """

    run_dir: str
    metrics: dict[str, float]
    stopped_by_user: bool
    best_epoch: int | None
    seconds: float


@dataclass
class RunRow:
    """One past run for the Runs page.

    Attributes:
        path: the run folder.
        name: the spec's name.
        status: ``running`` / ``finished`` / ``stopped`` / ``failed`` / ``unknown``.
        created: modification time (seconds since the epoch).
        metrics: flat metrics.
        model: the backbone, in a few words ("minilm", "MLP", a file name).
        data: the data file or folder name.
    """

    path: str
    name: str
    status: str
    created: float
    metrics: dict[str, float] = field(default_factory=dict)
    model: str = ""
    data: str = ""


@dataclass
class RunDetails:
    """Everything the window shows about one run folder.

    Attributes:
        path: the run folder.
        name: the spec's name.
        status: the run's status.
        spec: the run's ``spec.json`` data.
        metrics: flat metrics.
        history: one row per epoch (``history.csv``).
        evaluation: ``evaluation.json`` data (``splits`` -> split -> ``outputs`` -> report).
        env: ``env.json`` data.
        predictions: header and rows of ``predictions.csv`` (the test split).
        message: the status message (why a run failed).
    """

    path: str
    name: str
    status: str
    spec: dict[str, Any]
    metrics: dict[str, float]
    history: list[dict[str, float]]
    evaluation: dict[str, Any]
    env: dict[str, Any] = field(default_factory=dict)
    predictions: tuple[list[str], list[list[str]]] = ([], [])
    message: str = ""
