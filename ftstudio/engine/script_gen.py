"""``ftstudio script RUN``: a standalone Python file that reproduces a run.

The file needs Keras, numpy and pandas (keras-hub for text, Pillow for images); it never
imports ftstudio. It reads the run's data, takes the run's own split (``splits.json``,
written into the file as positions of the CSV's records, or as image paths), loads the same
backbone (a keras-hub preset folder for text, a ``.keras`` / ``.h5`` file for images, with
its sub-model, cut layer, pixel scaling and LoRA rank), builds the same model (pooling, head
layers, outputs), freezes as the run did (``all`` / ``none`` / ``last_n`` / ``layers``, the
head-first two-phase recipe, gradual unfreezing), compiles with the same optimizer, schedule
and losses, trains with the same epochs, batch size, seed, class weights and early stopping,
keeps the best epoch's weights and prints the test metrics as JSON
(``{"test.accuracy": …}``). Keras shuffles the batches its own way, so the numbers match the
run's within noise.

Per-block learning rates (``freeze.layer_decay``, ``freeze.lr_multipliers``) are written out
with the engine's ``Scaled*`` optimizer classes and the same per-variable factor rule;
gradual unfreezing with its stages and the engine's optimizer-state carry-over. A setting the
script cannot reproduce faithfully (augmentation, a backbone that needs a download) makes it
refuse the run with a message naming the key; a setting that changes only speed or batching
(feature caching, length grouping, devices, precision) is listed at the top of the file and
returned by :func:`script_notes`, so nothing differs silently.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ftstudio.engine.artifacts import read_labels, read_splits
from ftstudio.engine.reporting import Reporter
from ftstudio.engine.runs import RunFolder
from ftstudio.engine.script_templates import SCRIPT_TEMPLATE
from ftstudio.errors import RunError
from ftstudio.spec import BackboneSpec, ExperimentSpec

__all__ = ["generate_script", "refusal", "script_notes", "script_text"]

_DEFAULT_TRAINING = {"devices": "auto", "mixed_precision": "auto", "jit_compile": "auto",
                     "steps_per_execution": 0}


def generate_script(run_dir: str | Path, out: str | Path | None = None,
                    reporter: Reporter | None = None) -> Path:
    """Write the script that reproduces ``run_dir`` to ``out`` (default ``RUN/reproduce.py``).

    Args:
        run_dir: a finished run folder.
        out: where to write the script.
        reporter: warned once per setting the script does not reproduce (speed or batching
            only; see :func:`script_notes`).

    Raises:
        RunError: the run folder is incomplete, or a setting of the run cannot be reproduced
            by a standalone script (the message names the key).
    """
    run = RunFolder.open(run_dir)
    target = Path(out) if out else run.file("reproduce.py")
    text = script_text(run)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    if reporter is not None:
        for note in script_notes(_run_spec(run)):
            reporter.warning(f"the script does not reproduce {note}")
    return target


def _run_spec(run: RunFolder) -> ExperimentSpec:
    return ExperimentSpec.from_json(run.file("spec.json").read_text(encoding="utf-8"))


def script_text(run: RunFolder) -> str:
    """The reproducing script of a run folder, as text.

    Raises:
        RunError: a setting of the run cannot be reproduced (see :func:`refusal`).
    """
    spec = _run_spec(run)
    problem = refusal(spec)
    if problem:
        raise RunError(f"cannot write a script for {run.path.name}: {problem}")
    splits = read_splits(run)
    if splits is None:
        raise RunError(f"{run.path} has no splits.json: train the run to the end first")
    settings: dict[str, Any] = {"spec": spec.to_dict(), "classes": read_labels(run),
                                "run": run.path.name, "modality": spec.modality,
                                "backbone": _backbone_settings(spec)}
    if spec.modality == "image":
        settings["images"] = _image_splits(spec, splits)
    else:
        settings["positions"], settings["reading"] = _csv_positions(spec, splits)
    notes = script_notes(spec)
    listed = "\n".join(f"- {n}" for n in notes)
    settings["stages"] = _stages(spec, len(settings["backbone"]["blocks"]))
    scaled = spec.freeze.layer_decay != 1.0 or bool(spec.freeze.lr_multipliers)
    kept = [spec.modality] + (["scaled"] if scaled else []) + \
        (["stages"] if settings["stages"] else [])
    text = _keep_sections(SCRIPT_TEMPLATE, kept).replace("__NOTES__", listed)
    text = text.replace("__SCHEDULE__", _schedule_source())
    if scaled:
        text = text.replace("__OPTIMIZERS__", _optimizer_source())
    if settings["stages"]:
        text = text.replace("__CARRY__", _carry_source())
    return text.replace("__SETTINGS__", json.dumps(settings, indent=1, sort_keys=True))


def refusal(spec: ExperimentSpec) -> str | None:
    """Why a standalone script cannot reproduce a run of ``spec`` (None when it can).

    The message names the spec key: augmentation needs ftstudio's layers, and a backbone
    that is not a local keras-hub folder (text) or model file (images) a download or the
    model library. The per-block learning rates (``freeze.layer_decay``,
    ``freeze.lr_multipliers``) and gradual unfreezing are written out: the script holds the
    engine's ``Scaled*`` optimizers, the same factor rule, stages and ``carry_state``.
    """
    if spec.modality == "tabular":
        if spec.backbone.source not in ("none", "auto") or spec.backbone.path \
                or spec.backbone.name:
            return ("a tabular run on a backbone model (backbone.source "
                    f"'{spec.backbone.source}') is not written out; only tabular runs with "
                    "backbone.source 'none'")
        return None
    a = spec.augment
    on = [k for k in ("rotation", "zoom", "translation", "contrast", "brightness")
          if getattr(a, k)] + (["flip"] if a.flip != "none" else [])
    if spec.modality == "image" and on:
        return (f"augment.{on[0]} is on: the script does not write the augmentation "
                f"layers out (set the augment keys to 0 / none and train again)")
    try:
        _backbone_files(spec)
    except RunError as exc:
        return str(exc)
    return None


def script_notes(spec: ExperimentSpec) -> list[str]:
    """The settings of ``spec`` the script leaves to Keras' defaults (speed, not results)."""
    t, notes = spec.training, []
    if spec.modality != "tabular":
        frozen = spec.freeze.mode == "all" or spec.freeze.head_first_epochs > 0 or (
            spec.freeze.mode == "last_n" and spec.freeze.last_n == 0)
        if t.cache_features == "auto" and frozen:
            notes.append("training.cache_features 'auto': the frozen backbone runs on "
                         "every batch (same model, slower)")
        if t.length_grouping:
            notes.append("training.length_grouping: batches are shuffled by Keras and "
                         "padded to backbone.sequence_length (masked pooling: same model)")
    for key, default in _DEFAULT_TRAINING.items():
        if getattr(t, key) != default:
            notes.append(f"training.{key} {getattr(t, key)!r}: Keras' default device, "
                         f"precision and compilation are used")
    notes.append("the batch order: Keras shuffles the training split its own way")
    return notes


def _backbone_files(spec: ExperimentSpec) -> BackboneSpec:
    """The backbone as local files: a keras-hub folder (text) or a model file (images).

    Library entries and bundled names are followed to their files, as the engine does.

    Raises:
        RunError: the backbone needs a download (keras.applications, a preset name), or
            its files are of the wrong kind for the data.
    """
    from ftstudio.engine.bundled import default_backbone, find_bundled
    from ftstudio.engine.library import resolve_entry
    from ftstudio.engine.model_files import MODEL_FILE_SUFFIXES
    from ftstudio.errors import FtStudioError

    user = b = spec.backbone
    from_library = False
    for _ in range(4):
        if b.path or b.source not in ("auto", "library"):
            break
        bundled = find_bundled(b.name) if b.name else default_backbone(spec.modality)
        entry = None
        if b.name and (b.source == "library" or bundled is None):
            try:  # the engine's order: a library name before a bundled one
                entry = resolve_entry(b.name, base=user)
            except FtStudioError:
                entry = None
        if entry is None and bundled is None:
            break
        from_library = entry is not None
        b = entry if entry is not None else bundled.spec  # type: ignore[union-attr]
    if not b.path:
        _refuse_download(user)
    path = Path(b.path).expanduser()
    kind_ok = path.is_dir() if spec.modality == "text" else \
        path.suffix.lower() in MODEL_FILE_SUFFIXES
    if not kind_ok:
        raise RunError(f"backbone.path {path} is not what the script loads for "
                       f"{spec.modality} data: a keras-hub folder for text, a .keras/.h5 "
                       f"file for images")
    submodel = b.submodel if from_library else (user.submodel or b.submodel)
    return dataclasses.replace(b, submodel=submodel,
                               cut_layer=user.cut_layer or b.cut_layer,
                               weights=user.weights or b.weights)


def _refuse_download(user: BackboneSpec) -> NoReturn:
    raise RunError(f"backbone.source '{user.source}' (backbone.name '{user.name}') is not a "
                   f"local model: the script loads keras-hub folders and .keras/.h5 files; "
                   f"import the model into the library (ftstudio models import) and train "
                   f"on it")


def _backbone_settings(spec: ExperimentSpec) -> dict[str, Any]:
    """What the script needs to load the backbone: files, sizes, scaling, blocks."""
    if spec.modality == "tabular":
        return {"kind": "none", "blocks": []}
    from ftstudio.engine.backbones import load_backbone

    files = _backbone_files(spec)
    loaded = load_backbone(spec.backbone, spec.modality)
    settings: dict[str, Any] = {"path": str(Path(files.path or "").expanduser().resolve()),
                "blocks": [[name, list(names)] for name, names in loaded.blocks],
                "lora_rank": spec.backbone.lora_rank}
    if spec.modality == "text":
        length = getattr(loaded.preprocessor, "sequence_length", None) or \
            spec.backbone.sequence_length
        return {**settings, "kind": "hub", "sequence_length": int(length)}
    _refuse_unportable_file(Path(settings["path"]))
    return {**settings, "kind": "file", "submodel": files.submodel,
            "cut_layer": files.cut_layer, "preprocessing": loaded.preprocessing,
            "image_shape": list(loaded.image_shape or ()),
            "weights": str(Path(files.weights).expanduser().resolve())
            if files.weights and files.weights.lower() != "imagenet" else None}


def _refuse_unportable_file(path: Path) -> None:
    """Refuse a model file plain Keras cannot open as the engine did."""
    from ftstudio.engine.model_files import h5_model_config, is_hdf5, keras_zip_config

    config = h5_model_config(path) if is_hdf5(path) else keras_zip_config(path)
    if '"ftstudio>' in json.dumps(config) or "'ftstudio>" in str(config):
        raise RunError(f"backbone.path {path.name} holds ftstudio's own layers, which plain "
                       f"Keras cannot load; the script needs a plain Keras model file")


_SECTIONS = ("image", "text", "scaled", "stages")


def _keep_sections(template: str, keep: list[str]) -> str:
    """The template without the ``# [kind]`` … ``# [/kind]`` sections not in ``keep``.

    ``image`` / ``text``: the modality's code; ``scaled``: the per-variable optimizers;
    ``stages``: the optimizer state carried across the stages of gradual unfreezing.
    """
    kept, skipping = [], False
    for line in template.splitlines(keepends=True):
        tag = line.strip()
        if tag in {f"# [{k}]" for k in _SECTIONS}:
            skipping = tag[3:-1] not in keep
        elif tag in {f"# [/{k}]" for k in _SECTIONS}:
            skipping = False
        elif not skipping:
            kept.append(line)
    return "".join(kept)


def _schedule_source() -> str:
    """The engine's own warm-up schedule class, as source for the script (one definition)."""
    from ftstudio.engine.schedules import WarmupSchedule

    lines = inspect.getsource(WarmupSchedule).splitlines()
    return "\n".join(line for line in lines if not line.startswith("@keras.saving"))


def _optimizer_source() -> str:
    """The engine's ``Scaled*`` optimizers (per-variable update factors), as source."""
    from ftstudio.engine import optimizers

    classes = [optimizers._ScaledUpdates, optimizers.ScaledAdam, optimizers.ScaledAdamW,
               optimizers.ScaledSGD, optimizers.ScaledAdagrad, optimizers.ScaledRMSprop]
    parts = ["\n".join(line for line in inspect.getsource(c).splitlines()
                       if not line.startswith("@keras.saving")) for c in classes]
    return "\n\n\n".join(parts)


def _carry_source() -> str:
    """The engine's optimizer-state carry-over between stages (gradual unfreezing)."""
    from ftstudio.engine import optimizers

    return "\n\n\n".join(inspect.getsource(f) for f in (optimizers.slot_lists,
                                                          optimizers.carry_state))


def _stages(spec: ExperimentSpec, n_blocks: int) -> list[list[int | None]]:
    """Gradual unfreezing's stages as ``[first epoch, end, top blocks]`` (none: off)."""
    from ftstudio.engine.recipes import gradual_unfreeze_stages

    if spec.modality == "tabular":
        return []
    return [[start, end, top] for _, start, end, top in gradual_unfreeze_stages(spec, n_blocks)]


def _image_splits(spec: ExperimentSpec,
                  splits: dict[str, list[int]]) -> dict[str, dict[str, Any]]:
    """Each split's image paths and class indices, as the run read them."""
    from ftstudio.engine.data import load_data, positions_of

    data = load_data(spec)
    columns = {o.name: (o.label_column or spec.data.label_column or "")
               for o in spec.head.outputs}
    out = {}
    for split, rows in splits.items():
        where = positions_of(data.row_ids, rows)
        if len(where) != len(rows):
            raise RunError(f"the images of {spec.data.image_dir} changed since the run "
                           f"({len(rows) - len(where)} of its {split} images are gone)")
        out[split] = {"paths": [str(Path(p).resolve()) for p in data.inputs[where]],
                      "targets": {n: [int(v) for v in data.targets[c][where]]
                                  for n, c in columns.items()}}
    return out


def _csv_positions(spec: ExperimentSpec,
                   splits: dict[str, list[int]]) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """Each split's rows as positions among the CSV's records, checked against pandas.

    ``splits.json`` names rows by their line in the file; the script reads the file with
    pandas, which numbers records. The positions are found here (with ftstudio's reader) and
    checked by reading the file as the script will (the features, or the texts).
    """
    import pandas as pd

    from ftstudio.engine.data import load_data, read_table

    d = spec.data
    frame, _ = read_table(str(d.path), d.encoding, d.delimiter)
    lines = frame.index.to_numpy()
    header_line = int(frame.attrs.get("header_line", 1))
    positions = {k: [int(p) for p in np.searchsorted(lines, np.asarray(v) + header_line)]
                 for k, v in splits.items()}
    reading = {"path": str(Path(str(d.path)).expanduser().resolve()), "sep": d.delimiter,
               "encoding": d.encoding or "utf-8", "skiprows": header_line - 1}
    try:
        plain = pd.read_csv(reading["path"], sep=reading["sep"], encoding=reading["encoding"],
                            skiprows=reading["skiprows"], engine="python")
    except (ValueError, UnicodeError, pd.errors.ParserError) as exc:
        raise RunError(f"pandas cannot read {d.path} as ftstudio did ({exc}); set "
                       f"data.encoding and data.delimiter in the spec and train again") from exc
    data = load_data(spec)
    by_line = {int(r): i for i, r in enumerate(data.row_ids)}
    for split, rows in splits.items():
        picked = [by_line[r] for r in rows]
        if spec.modality == "text":
            expected = [str(v) for v in np.asarray(data.inputs, dtype=object)[picked]]
            got = [str(v) for v in plain.iloc[positions[split]][d.text_column or ""]]
            same = got == expected
        else:
            want = np.asarray(data.inputs, dtype=np.float32)[picked]
            have = plain.iloc[positions[split]][list(d.feature_columns or [])].to_numpy(
                dtype=np.float32) if rows else want
            same = have.shape == want.shape and bool(np.allclose(have, want, equal_nan=True))
        if not same:
            raise RunError(f"pandas reads {d.path} differently from ftstudio (the {split} "
                           f"rows do not match), so a script could not take the run's split")
    return positions, reading
