"""Autoencoder pretraining: learn a backbone from unlabelled rows, then fine-tune with few labels.

A :class:`~ftstudio.spec.PretrainSpec` names the data (a numeric CSV, standardised; or a
folder of images, flat or with sub-folders, labels ignored), the autoencoder (dense or
convolutional, its depth and width, optional denoising) and the library name the encoder is
saved as. :func:`pretrain` trains it, reporting the reconstruction loss through a
:class:`~ftstudio.engine.reporting.Reporter` (and, for images, a PNG strip of originals over
reconstructions after every epoch), then saves the ENCODER to the model library, where any
fine-tune spec uses it with ``backbone.source = "library"`` and ``backbone.name = save_as``.

TensorFlow / Keras are imported inside functions.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ftstudio import config
from ftstudio.engine.reporting import BaseReporter, Reporter
from ftstudio.errors import CancelledError, DataError
from ftstudio.spec import PretrainSpec

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
PREVIEW_FILE = "reconstructions.png"
PREVIEW_COUNT = 8


@dataclass
class UnlabelledData:
    """Rows to pretrain on, already scaled for the autoencoder."""

    x: np.ndarray
    """float32: ``(n, features)`` standardised, or ``(n, h, w, c)`` pixels in [0, 1]."""
    modality: str
    feature_names: list[str] = field(default_factory=list)
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)
    source: str = ""


@dataclass
class PretrainResult:
    """What :func:`pretrain` produced."""

    entry_name: str
    entry_folder: Path
    history: list[dict[str, float]]
    stopped_by_user: bool
    preview_path: Path | None
    samples: int
    warnings: list[str]
    work_dir: Path


# ------------------------------------------------------------------------------- data
def load_unlabelled(spec: PretrainSpec, reporter: Reporter | None = None) -> UnlabelledData:
    """Load the spec's unlabelled data, scaled for the autoencoder.

    Numeric CSV: the feature columns (default: every numeric column but ``label_column``),
    rows with missing values dropped, standardised (mean 0, std 1). Images: every image file
    under ``image_dir`` (flat or in sub-folders), resized, pixels scaled to [0, 1]; unreadable
    files are skipped and listed.

    Raises:
        DataError: missing file/columns, non-numeric columns, too few rows or images.
    """
    reporter = reporter or BaseReporter()
    if spec.data.image_dir:
        return _load_images(spec, reporter)
    path = Path(spec.data.path or "")
    reporter.status(f"Reading {path.name}…")
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    from ftstudio.engine.data import read_table

    frame, warnings = read_table(path, spec.data.encoding, spec.data.delimiter)

    def numeric(column: Any) -> bool:
        return is_numeric_dtype(frame[column]) and not is_bool_dtype(frame[column])

    columns = spec.data.feature_columns
    if columns is None:
        columns = [c for c in frame.columns if c != spec.data.label_column and numeric(c)]
        if not columns:
            raise DataError(f"{path.name} has no numeric columns; columns are: "
                            f"{', '.join(map(str, frame.columns))}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"column(s) {', '.join(missing)} not in {path.name}; columns are: "
                        f"{', '.join(map(str, frame.columns))}")
    bad = [c for c in columns if not numeric(c)]
    if bad:
        raise DataError(f"column(s) {', '.join(bad)} of {path.name} are not numeric; "
                        f"list only numeric columns in data.feature_columns")
    values = frame[columns].to_numpy(dtype=np.float64)
    keep = np.isfinite(values).all(axis=1)
    if not keep.all():
        warnings.append(f"dropped {int((~keep).sum())} row(s) with missing values")
    values = values[keep]
    if len(values) < 4:
        raise DataError(f"{path.name} has {len(values)} usable rows; pretraining needs at "
                        f"least 4")
    mean = values.mean(axis=0)
    std = values.std(axis=0)
    std[std < 1e-12] = 1.0
    x = ((values - mean) / std).astype(np.float32)
    for w in warnings:
        reporter.warning(w)
    return UnlabelledData(x=x, modality="tabular", feature_names=[str(c) for c in columns],
                          mean=mean, std=std, warnings=warnings, source=str(path))


def _load_images(spec: PretrainSpec, reporter: Reporter) -> UnlabelledData:
    from PIL import Image, UnidentifiedImageError

    folder = Path(spec.data.image_dir or "")
    if not folder.is_dir():
        raise DataError(f"image folder not found: {folder}")
    files = sorted(p for p in folder.rglob("*")
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise DataError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {folder}")
    height, width = spec.image_size
    mode = "L" if spec.channels == 1 else "RGB"
    out = np.zeros((len(files), height, width, spec.channels), dtype=np.float32)
    bad: list[str] = []
    n = 0
    reporter.status(f"Loading {len(files)} images from {folder.name}…")
    for i, path in enumerate(files):
        try:
            with Image.open(path) as raw:
                img = raw.convert(mode).resize((width, height), Image.Resampling.BILINEAR)
                arr = np.asarray(img, dtype=np.float32) / 255.0
        except (UnidentifiedImageError, OSError, ValueError):
            bad.append(path.name)
            continue
        out[n] = arr.reshape(height, width, spec.channels)
        n += 1
        if i % 64 == 0:
            reporter.progress(i + 1, len(files))
    reporter.progress(len(files), len(files))
    warnings = []
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        warnings.append(f"skipped {len(bad)} unreadable image(s): {shown}")
        reporter.warning(warnings[-1])
    if n < 4:
        raise DataError(f"{folder} has {n} readable images; pretraining needs at least 4")
    return UnlabelledData(x=out[:n], modality="image", warnings=warnings, source=str(folder))


# ----------------------------------------------------------------------------- models
def build_autoencoder(spec: PretrainSpec, input_shape: tuple[int, ...]) -> tuple[Any, Any]:
    """Build ``(autoencoder, encoder)`` for the spec; the encoder is a layer of the autoencoder.

    Dense: ``features -> units... -> latent_dim`` and back (linear output, standardised
    units); on images the pixels are flattened first and the output is a sigmoid image.
    Conv: per entry of ``encoder_units`` a 3x3 conv + 2x2 max-pool, an optional 1x1
    bottleneck of ``latent_dim`` channels, mirrored by transposed convs, sigmoid output.
    Denoising noise sits in the autoencoder before the encoder, so the saved encoder is clean.
    """
    import keras

    layers = keras.layers
    if spec.resolved_kind == "dense":
        image = len(input_shape) > 1
        inp = keras.Input(shape=tuple(input_shape), name="pixels" if image else "features")
        x = layers.Flatten(name="flatten")(inp) if image else inp
        for i, units in enumerate(spec.encoder_units):
            x = layers.Dense(units, activation=spec.activation, name=f"enc_dense_{i + 1}")(x)
        code = layers.Dense(spec.latent_dim, name="code")(x)
        encoder = keras.Model(inp, code, name="encoder")
        dec_in = keras.Input(shape=(spec.latent_dim,), name="code_in")
        y = dec_in
        for i, units in enumerate(reversed(spec.encoder_units)):
            y = layers.Dense(units, activation=spec.activation, name=f"dec_dense_{i + 1}")(y)
        size = int(np.prod(input_shape))
        y = layers.Dense(size, activation="sigmoid" if image else None,
                         name="reconstruction")(y)
        if image:
            y = layers.Reshape(tuple(input_shape), name="image")(y)
        decoder = keras.Model(dec_in, y, name="decoder")
    else:
        inp = keras.Input(shape=tuple(input_shape), name="pixels")
        x = inp
        for i, filters in enumerate(spec.encoder_units):
            x = layers.Conv2D(filters, 3, padding="same", activation=spec.activation,
                              name=f"enc_conv_{i + 1}")(x)
            x = layers.MaxPooling2D(2, name=f"enc_pool_{i + 1}")(x)
        if spec.latent_dim:
            x = layers.Conv2D(spec.latent_dim, 1, activation=spec.activation, name="code")(x)
        encoder = keras.Model(inp, x, name="encoder")
        dec_in = keras.Input(shape=tuple(encoder.output.shape[1:]), name="code_in")
        y = dec_in
        for i, filters in enumerate(reversed(spec.encoder_units)):
            y = layers.Conv2DTranspose(filters, 3, strides=2, padding="same",
                                       activation=spec.activation, name=f"dec_up_{i + 1}")(y)
        y = layers.Conv2D(int(input_shape[-1]), 3, padding="same", activation="sigmoid",
                          name="reconstruction")(y)
        decoder = keras.Model(dec_in, y, name="decoder")
    ae_in = keras.Input(shape=tuple(input_shape), name="inputs")
    noisy = ae_in
    if spec.noise > 0:
        noisy = (layers.GaussianNoise(spec.noise, seed=spec.seed, name="noise")(ae_in)
                 if spec.noise_type == "gaussian"
                 else layers.Dropout(spec.noise, seed=spec.seed, name="noise")(ae_in))
    autoencoder = keras.Model(ae_in, decoder(encoder(noisy)), name="autoencoder")
    return autoencoder, encoder


def save_preview(originals: np.ndarray, reconstructions: np.ndarray, path: str | Path,
                 min_side: int = 48) -> Path:
    """Write a PNG strip: originals on the top row, reconstructions below (atomically)."""
    from PIL import Image

    path = Path(path)
    n, h, w, c = originals.shape
    scale = max(1, int(np.ceil(min_side / max(h, w))))
    pad = 2
    canvas = np.full((2 * h * scale + 3 * pad, n * (w * scale + pad) + pad, 3), 255, np.uint8)
    for row, images in enumerate((originals, reconstructions)):
        for i in range(n):
            img = np.clip(images[i], 0.0, 1.0)
            img = np.repeat(img, 3, axis=-1) if c == 1 else img
            img = np.kron(img, np.ones((scale, scale, 1)))
            top = pad + row * (h * scale + pad)
            left = pad + i * (w * scale + pad)
            canvas[top:top + h * scale, left:left + w * scale] = (img * 255).round()
    tmp = path.with_name(path.stem + ".tmp.png")
    Image.fromarray(canvas).save(tmp)
    os.replace(tmp, path)
    return path


def _reporter_callback(reporter: Reporter, info: dict[str, Any],
                       preview: Callable[[int], None] | None) -> Any:
    import keras

    class _Callback(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.step = 0
            self.epoch = 0
            self.prev_mean = 0.0
            self.t0 = time.monotonic()
            self.stopped = False

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            reporter.train_begin(dict(info))

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epoch = epoch + 1
            self.prev_mean = 0.0
            self.t0 = time.monotonic()

        def _lr(self) -> float:
            return float(np.asarray(self.model.optimizer.learning_rate))

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self.step += 1
            mean = float((logs or {}).get("loss", float("nan")))
            batch_loss = mean * (batch + 1) - self.prev_mean * batch
            self.prev_mean = mean
            elapsed = max(time.monotonic() - self.t0, 1e-9)
            reporter.batch_end(self.step, {
                "loss": mean, "batch_loss": float(batch_loss), "lr": self._lr(),
                "epoch": float(self.epoch),
                "samples_per_s": (batch + 1) * info["batch_size"] / elapsed})
            if reporter.should_stop():
                self.stopped = True
                self.model.stop_training = True

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            clean = {k: float(v) for k, v in (logs or {}).items()
                     if isinstance(v, (int, float, np.floating, np.integer))
                     or np.ndim(v) == 0}
            clean["lr"] = self._lr()
            if preview is not None:
                preview(epoch + 1)
            reporter.epoch_end(epoch + 1, clean)

    return _Callback()


def pretrain_arrays(x: np.ndarray, spec: PretrainSpec, reporter: Reporter | None = None,
                    preview_path: Path | None = None,
                    on_preview: Callable[[str], None] | None = None,
                    ) -> tuple[Any, Any, list[dict[str, float]], bool]:
    """Train the spec's autoencoder on already-scaled rows.

    Args:
        x: ``(n, features)`` standardised or ``(n, h, w, c)`` in [0, 1].
        spec: the pretraining spec (architecture, noise, epochs, batch, lr, seed).
        reporter: receives train_begin / batch_end / epoch_end (``loss``, ``val_loss``:
            mean squared reconstruction error) / train_end.
        preview_path: images only: a PNG strip of originals vs reconstructions is written
            here after every epoch.
        on_preview: called with the PNG path after each write.

    Returns:
        ``(encoder, autoencoder, history, stopped_by_user)``.
    """
    import keras

    reporter = reporter or BaseReporter()
    keras.utils.set_random_seed(spec.seed)
    rng = np.random.default_rng(spec.seed)
    order = rng.permutation(len(x))
    n_val = int(round(len(x) * spec.val_fraction)) if len(x) >= 10 else 0
    x_val, x_train = x[order[:n_val]], x[order[n_val:]]
    autoencoder, encoder = build_autoencoder(spec, tuple(x.shape[1:]))
    autoencoder.compile(optimizer=keras.optimizers.Adam(spec.learning_rate), loss="mse")
    steps = int(np.ceil(len(x_train) / spec.batch_size))
    info = {"epochs": spec.epochs, "steps_per_epoch": steps, "train_samples": len(x_train),
            "val_samples": n_val, "batch_size": spec.batch_size, "phase": "pretrain",
            "kind": spec.resolved_kind}
    preview_fn = None
    if preview_path is not None and x.ndim == 4:
        sample = np.concatenate([x_val[:PREVIEW_COUNT], x_train[:PREVIEW_COUNT]])[
            :PREVIEW_COUNT]

        def preview_fn(epoch: int) -> None:
            recon = np.asarray(autoencoder.predict(sample, verbose=0))
            save_preview(sample, recon, preview_path)
            if on_preview is not None:
                on_preview(str(preview_path))

    callback = _reporter_callback(reporter, info, preview_fn)
    hist = autoencoder.fit(x_train, x_train, batch_size=spec.batch_size, epochs=spec.epochs,
                           validation_data=(x_val, x_val) if n_val else None, shuffle=True,
                           verbose=0, callbacks=[callback])
    keys = list(hist.history)
    epochs_done = len(hist.history[keys[0]]) if keys else 0
    history = [{"epoch": float(i + 1), **{k: float(hist.history[k][i]) for k in keys}}
               for i in range(epochs_done)]
    reporter.train_end({"epochs": epochs_done, "stopped_by_user": callback.stopped,
                        **({k: v for k, v in history[-1].items()} if history else {})})
    return encoder, autoencoder, history, callback.stopped


# ----------------------------------------------------------------------------- pipeline
def pretrain_work_dir(name: str) -> Path:
    """Folder where a pretraining writes its live files (``reconstructions.png``, history)."""
    path = config.ftstudio_home() / "pretrain" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _history_csv(history: list[dict[str, float]]) -> str:
    if not history:
        return ""
    keys = list(history[0])
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (int(v) if k == "epoch" else f"{v:.6g}") for k, v in row.items()})
    return buf.getvalue()


def _entry_files(spec: PretrainSpec, data: UnlabelledData, work: Path,
                 preview_path: Path | None) -> dict[str, bytes | str | Path]:
    """The files a pretraining entry keeps besides the encoder."""
    files: dict[str, bytes | str | Path] = {
        "pretrain_spec.json": spec.to_json() + "\n",
        "history.csv": work / "history.csv",
    }
    if data.modality == "image":
        if preview_path is not None and preview_path.exists():
            files[PREVIEW_FILE] = preview_path
    else:
        files["feature_stats.json"] = json.dumps({
            "columns": data.feature_names,
            "mean": [float(v) for v in (data.mean if data.mean is not None else [])],
            "std": [float(v) for v in (data.std if data.std is not None else [])],
        }, indent=2) + "\n"
    return files


def _entry_description(spec: PretrainSpec, data: UnlabelledData,
                       history: list[dict[str, float]], stopped: bool) -> str:
    """One paragraph: the encoder, the data it learnt from and its final loss."""
    last = history[-1]
    loss_text = f"reconstruction MSE {last['loss']:.4g}" + (
        f" (val {last['val_loss']:.4g})" if "val_loss" in last else "")
    denoise = f", denoising ({spec.noise_type} {spec.noise:g})" if spec.noise else ""
    if data.modality == "image":
        h, w = spec.image_size
        what = (f"{len(data.x)} unlabelled {h}x{w}x{spec.channels} images from "
                f"{Path(data.source).name}; pixels scaled to [0, 1]")
    else:
        what = (f"{len(data.x)} unlabelled rows of {Path(data.source).name} "
                f"({len(data.feature_names)} standardised features: "
                f"{', '.join(data.feature_names[:6])}{'…' if len(data.feature_names) > 6 else ''})")
    if spec.resolved_kind == "conv":
        shape = "feature maps" if not spec.latent_dim else f"{spec.latent_dim}-channel maps"
        arch = f"Conv autoencoder encoder (filters {spec.encoder_units} -> {shape})"
    else:
        arch = f"Dense autoencoder encoder (units {spec.encoder_units} -> {spec.latent_dim}-d code)"
    return (f"{arch}{denoise}, pretrained {len(history)} epoch(s) on {what}; {loss_text}"
            + (" (stopped early by the user)" if stopped else ""))


def pretrain(spec: PretrainSpec, reporter: Reporter | None = None, replace: bool = False,
             root: str | Path | None = None,
             on_preview: Callable[[str], None] | None = None) -> PretrainResult:
    """Pretrain an autoencoder on unlabelled data and save its encoder to the library.

    The library entry ``spec.save_as`` (format ``keras``, kind ``autoencoder``) holds
    ``backbone.keras`` (the encoder), ``pretrain_spec.json``, ``history.csv`` and, for
    images, ``reconstructions.png``; tabular entries also hold ``feature_stats.json``
    (columns, mean, std used to standardise). Use it in a fine-tune spec with
    ``{"backbone": {"source": "library", "name": spec.save_as}}``.

    Args:
        spec: the pretraining spec (paths already resolved).
        reporter: progress, live reconstruction loss, warnings; ``should_stop`` ends early
            (the encoder trained so far is still saved, unless no epoch finished).
        replace: replace an existing library entry called ``spec.save_as``.
        root: library folder.
        on_preview: called with the path of the refreshed PNG strip after every epoch.

    Raises:
        DataError: unusable data. LibraryError: the name is taken (and not ``replace``).
        CancelledError: stopped before the first epoch ended.
    """
    from ftstudio.engine import library

    reporter = reporter or BaseReporter()
    spec.validate()
    lib = library.library_root(root)
    library.check_name(spec.save_as)
    library.ensure_free(lib, spec.save_as, replace)
    data = load_unlabelled(spec, reporter)
    work = pretrain_work_dir(spec.save_as)
    preview_path = work / PREVIEW_FILE if data.modality == "image" else None
    reporter.status(f"Pretraining a {spec.resolved_kind} autoencoder on {len(data.x)} "
                    f"unlabelled {'images' if data.modality == 'image' else 'rows'}…")
    encoder, _, history, stopped = pretrain_arrays(data.x, spec, reporter, preview_path,
                                                  on_preview)
    if not history:
        raise CancelledError("pretraining stopped before the first epoch ended; nothing saved")
    (work / "history.csv").write_text(_history_csv(history), encoding="utf-8")
    last = history[-1]
    extra_files = _entry_files(spec, data, work, preview_path)
    description = _entry_description(spec, data, history, stopped)
    entry = library.save_model_entry(
        encoder, spec.save_as, kind="autoencoder",
        source=f"autoencoder pretraining on {data.source}", description=description,
        modality=data.modality,
        preprocessing="scale_0_1" if data.modality == "image" else "none",
        architecture=f"{spec.resolved_kind}-autoencoder-encoder", extra_files=extra_files,
        extra={"feature_columns": data.feature_names or None, "final_loss": last["loss"],
               "samples": len(data.x), "stopped_by_user": stopped},
        replace=replace, root=root, reporter=reporter)
    if preview_path is not None and preview_path.exists():
        reporter.status(f"Reconstructions (top: originals, bottom: reconstructed): "
                        f"{preview_path}")
    reporter.status(f"Saved the encoder to the library as '{entry.name}'")
    return PretrainResult(entry_name=entry.name, entry_folder=entry.folder, history=history,
                          stopped_by_user=stopped,
                          preview_path=entry.folder / PREVIEW_FILE
                          if (entry.folder / PREVIEW_FILE).exists() else None,
                          samples=len(data.x), warnings=data.warnings, work_dir=work)
