"""The recipe tools the window runs: the LR finder and sweeps (child process), the memory estimate.

:func:`lr_find` and :func:`sweep` run in the job child process like training
(:mod:`ftstudio.bridge.child_process`, calls ``lr_find`` and ``sweep``); :func:`run_lr_find` and
:func:`run_sweep` are what the child runs. :func:`estimate_memory` runs in the child too (call
``memory_estimate``): reading the data and building the model in a thread of the window would
stall its GUI thread through the GIL. The engine is imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Any

from ftstudio.bridge import child_process
from ftstudio.bridge.recipe_types import LrFindOutcome, MemoryInfo, SweepOutcome, SweepTrial
from ftstudio.spec import ExperimentSpec

__all__ = ["default_space", "estimate_memory", "lr_find", "run_estimate_memory", "run_lr_find",
           "run_sweep", "sweep"]

_profiles: dict[str, Any] = {}
_profiles_lock = threading.Lock()


def lr_find(spec: ExperimentSpec, reporter: Any) -> LrFindOutcome:
    """Sweep the learning rate on the spec's model in the job child process."""
    return child_process.run_call("lr_find", spec.to_json(), reporter=reporter)  # type: ignore[no-any-return]


def sweep(spec: ExperimentSpec, trials: int, reporter: Any,
          space: dict[str, Any] | None = None, runs_root: str | None = None) -> SweepOutcome:
    """Run a sweep of ``trials`` trials in the job child process."""
    return child_process.run_call(  # type: ignore[no-any-return]
        "sweep", spec.to_json(), trials, json.dumps(space) if space else None, runs_root,
        reporter=reporter)


def default_space(spec: ExperimentSpec) -> dict[str, dict[str, Any]]:
    """What a sweep of ``spec`` searches by default: spec key -> range (``engine.sweep``)."""
    from ftstudio.engine.sweep import default_space as engine_space

    return engine_space(spec)


def run_lr_find(spec_json: str, *, reporter: Any) -> LrFindOutcome:
    """The child's side of :func:`lr_find` (``engine.lr_find.find_learning_rate``)."""
    from ftstudio.engine.lr_find import find_learning_rate

    t0 = time.perf_counter()
    result = find_learning_rate(ExperimentSpec.from_json(spec_json), reporter)
    return LrFindOutcome(list(result.learning_rates), list(result.losses),
                         list(result.smoothed), float(result.suggestion),
                         float(result.min_loss_rate), bool(result.diverged),
                         time.perf_counter() - t0)


def run_sweep(spec_json: str, trials: int, space_json: str | None = None,
              runs_root: str | None = None, *, reporter: Any) -> SweepOutcome:
    """The child's side of :func:`sweep` (``engine.sweep.run_sweep``)."""
    from ftstudio.engine.sweep import run_sweep as engine_sweep

    t0 = time.perf_counter()
    space = json.loads(space_json) if space_json else None
    result = engine_sweep(ExperimentSpec.from_json(spec_json), trials, space, reporter,
                          runs_root=runs_root)
    rows = [SweepTrial(t.number, t.state, t.value, dict(t.params), t.run_dir)
            for t in result.trials]
    return SweepOutcome(str(result.sweep_dir), result.monitor, result.direction, rows,
                        result.best.number if result.best else None,
                        str(result.best_spec) if result.best_spec else None,
                        [str(p) for p in result.plots], time.perf_counter() - t0)


def estimate_memory(spec: ExperimentSpec) -> MemoryInfo:
    """The memory the spec's run needs against the free memory, measured in the job child.

    Call it from a job thread: it blocks on the child's pipe (no GIL held). Nobody watches
    its reports, and it leaves a warm child warm for the next training.
    """
    from ftstudio.engine.reporting import BaseReporter

    return child_process.run_call(  # type: ignore[no-any-return]
        "memory_estimate", spec.to_json(), reporter=BaseReporter(), keep_warm=True)


def run_estimate_memory(spec_json: str, *, reporter: Any) -> MemoryInfo:
    """The child's side of :func:`estimate_memory` (``engine.memory_estimate``).

    The model is built once per backbone, head, freezing and data columns; the batch size
    and optimizer only rescale the estimate.
    """
    from ftstudio.engine import memory_estimate as me

    spec = ExperimentSpec.from_json(spec_json)
    profile, examples, per_example = _profile(spec)
    est = me.estimate_memory(profile, spec.training.batch_size, spec.training.optimizer,
                             examples * per_example, me.available_ram(), me.gpu_free_memory())
    return MemoryInfo(est.summary(), est.warning(), est.ram_needed, est.available_ram,
                      profile.total_params, profile.trainable_params)


def _profile(spec: ExperimentSpec) -> tuple[Any, int, int]:
    """``(model profile, examples, bytes held per example)`` of the spec, cached."""
    key = json.dumps([dataclasses.asdict(spec.data), dataclasses.asdict(spec.backbone),
                      dataclasses.asdict(spec.head), dataclasses.asdict(spec.freeze)],
                     sort_keys=True, default=str)
    with _profiles_lock:
        if key in _profiles:
            return _profiles[key]  # type: ignore[no-any-return]
    import numpy as np

    from ftstudio.bridge.engine_calls import backbone_lock, load_backbone_cached
    from ftstudio.engine import data, freezing, heads, memory_estimate

    loaded = data.load_data(spec)
    sizes = {o.name: len(loaded.classes[c]) if o.task == "classification" else 1
             for o, c in zip(spec.head.outputs, spec.label_columns(), strict=True)}
    backbone = load_backbone_cached(spec)
    stats = None
    if spec.modality == "tabular":
        n = len(spec.data.feature_columns or [])
        stats = (np.zeros(n, np.float32), np.ones(n, np.float32))
    seq = getattr(backbone.preprocessor, "sequence_length", None) or \
        spec.backbone.sequence_length
    with backbone_lock:
        model = heads.build_model(backbone, spec, sizes, stats)
        freezing.apply_freeze(model, backbone, spec.freeze)
        profile = memory_estimate.profile_model(model, seq)
    if spec.modality == "image" and backbone.image_shape:
        per_example = int(np.prod(backbone.image_shape))
    elif spec.modality == "text":
        per_example = 9 * int(seq)  # int32 ids and segments, a boolean mask
    else:
        per_example = 4 * len(spec.data.feature_columns or [])
    value = (profile, len(loaded.row_ids), per_example)
    with _profiles_lock:
        _profiles.clear()
        _profiles[key] = value
    return value
