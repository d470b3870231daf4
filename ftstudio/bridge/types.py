"""Plain data the bridge hands to the window (no engine types, no Qt, no TensorFlow).

The window never sees engine classes: the bridge copies what it needs into these dataclasses,
so the UI depends only on this module's shapes. One exception: :class:`ColumnInfo` is the
column guesser's own frozen dataclass (``ftstudio.engine.suggestions``, standard library only),
re-exported here rather than copied field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from ftstudio.engine.suggestions import ColumnInfo, ColumnKind

__all__ = [
    "BackboneChoice", "ColumnInfo", "ColumnKind", "DataCheck", "DataPreview", "EngineInfo",
    "ExportFormatRow", "ExportOutcome", "ExportOutputRow", "ImportSource", "LabelSummary",
    "LayerRow", "LibraryEntryInfo", "ModelDescription",
    "PretrainOutcome", "RunDetails", "RunRow", "TrainOutcome", "VerifyResult",
]

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
        skipped: image folders: the image files that cannot be used (unreadable), relative
            to the folder, ``/``-separated.
    """

    modality: str
    n_examples: int
    labels: list[LabelSummary] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    split_sizes: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


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
        always_frozen: True for backbone layers that never learn, whatever the freeze
            settings (BatchNormalization statistics, a pooler the head does not use).
    """

    name: str
    type: str
    output_shape: str
    params: int
    trainable: bool
    block: str | None
    depth: int
    in_backbone: bool = True
    always_frozen: bool = False


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
        pretrained: True when the backbone comes with learned weights (False: random ones).
        weights: the spec's ``backbone.weights`` (``imagenet`` when Keras has them cached).
    """

    label: str
    source: str
    name: str | None = None
    path: str | None = None
    modality: str = ""
    description: str = ""
    group: str = "Bundled"
    pretrained: bool = False
    weights: str | None = None


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
        status: ``running`` / ``finished`` / ``stopped`` / ``failed`` / ``diverged`` /
            ``interrupted`` (recorded as running, but its process died) / ``unknown``.
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
        predictions: header and rows of ``predictions.csv`` (every test and validation example).
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


@dataclass
class PretrainOutcome:
    """The result of an autoencoder pretraining job.

    Attributes:
        entry_name: the library entry the encoder was saved as.
        entry_folder: that entry's folder.
        history: one row per epoch (``epoch``, ``loss``, ``val_loss``).
        stopped_by_user: True when Stop ended it (the encoder is saved all the same).
        preview_path: images: the originals-vs-reconstructions PNG, else ``None``.
        samples: how many examples it trained on.
        warnings: every warning the engine raised.
    """

    entry_name: str
    entry_folder: str
    history: list[dict[str, float]]
    stopped_by_user: bool
    preview_path: str | None
    samples: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class LibraryEntryInfo:
    """One backbone of the model library, as the Library page shows it.

    Attributes:
        name: the entry name (``backbone.name`` of a ``library`` backbone spec).
        modality: ``text``, ``image``, ``tabular`` (``?`` when the entry is broken).
        format: ``keras``, ``keras_hub`` or ``hf``.
        kind: how it came in (``model_file``, ``keras_hub_preset``, ``autoencoder``, …).
        source: where it came from, in words.
        description: one line on what it is.
        input_shape: per-example input shape (``None`` for unknown sizes).
        params: parameter count.
        architecture: the architecture name, when known.
        preprocessing: the pixel scaling it expects.
        image_size: default ``[height, width]`` of image backbones.
        licence: the licence text, if one came with the model.
        files: relative path -> sha256.
        sizes: relative path -> bytes.
        created: when it was added.
        network: True when it was downloaded.
        folder: the entry folder.
        problem: why the entry is broken, else ``None``.
    """

    name: str
    modality: str
    format: str
    kind: str
    source: str
    description: str = ""
    input_shape: list[int | None] = field(default_factory=list)
    params: int = 0
    architecture: str | None = None
    preprocessing: str = "auto"
    image_size: list[int] | None = None
    licence: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    created: str = ""
    network: bool = False
    folder: str = ""
    problem: str | None = None

    def backbone_choice(self) -> BackboneChoice:
        """The entry as a choice of the Model page's backbone picker."""
        return BackboneChoice(label=self.name, source="library", name=self.name,
                              modality="" if self.modality == "?" else self.modality,
                              description=self.description, group="Model library",
                              pretrained=True)


@dataclass
class VerifyResult:
    """The check of one library entry's files against their recorded sha256.

    Attributes:
        name: the entry.
        ok: True when every file matches.
        problems: what is wrong, one line each.
        checked_files: how many files were hashed.
    """

    name: str
    ok: bool
    problems: list[str] = field(default_factory=list)
    checked_files: int = 0


@dataclass
class ImportSource:
    """What a file or folder holds, before it is imported (for the import dialog).

    Attributes:
        path: the file or folder.
        kind: ``model_file``, ``run``, ``applications_weights``, ``keras_hub_preset``,
            ``huggingface``, …
        layers: model files and runs: the top-level layer names.
        submodels: model files and runs: nested model name -> its layer names.
        input_shape: model files and runs: the per-example input shape, when known.
        candidates: weights files: the matching keras.applications architectures.
        config: folders: a summary of their ``config.json``.
    """

    path: str
    kind: str
    layers: list[str] = field(default_factory=list)
    submodels: dict[str, list[str]] = field(default_factory=dict)
    input_shape: list[int | None] | None = None
    candidates: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportOutputRow:
    """One output of one exported file against the in-app model, on the check split.

    Attributes:
        name: the output (label column).
        metric: ``accuracy`` (classification) or ``mae`` (regression).
        app: the in-app model's metric.
        exported: the exported file's metric.
        agreement: classification: the share of examples where both pick the same class.
        max_abs_diff: the largest absolute difference of this output's probabilities (values).
    """

    name: str
    metric: str
    app: float
    exported: float
    agreement: float | None
    max_abs_diff: float


@dataclass
class ExportFormatRow:
    """One exported file (a format, or the int8 TFLite variant) and how its check went.

    Attributes:
        key: ``keras``, ``savedmodel``, ``tflite``, ``tflite-int8`` or ``onnx``.
        format: the format it belongs to (``tflite`` for ``tflite-int8``).
        quantized: the int8 variant (its differences are reported, never failed).
        ok: written and within its tolerance.
        error: why it failed (a converter, a missing package, a parity failure), else None.
        install_command: the command that installs a missing optional package, else None.
        folder: the format's folder once kept (None when nothing was kept).
        file: the exported file or folder (None when nothing was kept).
        size_bytes: its size.
        export_seconds: how long writing it took.
        checked: True when it was loaded back and compared (``max_abs_diff`` is then set).
        max_abs_diff: the largest absolute probability (value) difference to the in-app model.
        tolerance: the largest difference allowed (None: reported only).
        split: the split it was checked on (``test``, or ``val`` when there is no test split).
        examples: how many examples it was checked on.
        outputs: per output, the metric of each side.
    """

    key: str
    format: str
    quantized: bool
    ok: bool
    error: str | None = None
    install_command: str | None = None
    folder: str | None = None
    file: str | None = None
    size_bytes: int | None = None
    export_seconds: float = 0.0
    checked: bool = False
    max_abs_diff: float | None = None
    tolerance: float | None = None
    split: str = ""
    examples: int = 0
    outputs: list[ExportOutputRow] = field(default_factory=list)


@dataclass
class ExportOutcome:
    """The result of an export job (``engine.export.export_run``), file by file.

    Attributes:
        run_dir: the exported run.
        out_dir: the folder holding one folder per format.
        report_path: ``out_dir/export_report.json``.
        ok: every asked file was written and passed its check.
        rows: one row per file, in the order they were written.
        seconds: wall time of the job.
    """

    run_dir: str
    out_dir: str
    report_path: str
    ok: bool
    rows: list[ExportFormatRow] = field(default_factory=list)
    seconds: float = 0.0
