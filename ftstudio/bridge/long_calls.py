"""The long engine calls a job runs in the child process (see :mod:`ftstudio.bridge.child_process`).

Each takes plain, picklable arguments (specs as JSON) and a ``reporter`` keyword, runs the engine
in the calling process (the child, or the job's thread with ``FTSTUDIO_TRAIN_IN_THREAD=1``) and
returns a typed result of :mod:`ftstudio.bridge.types`. The window calls them through
:func:`ftstudio.bridge.engine_calls.train`, :func:`ftstudio.bridge.engine_calls.pretrain` and
:func:`ftstudio.bridge.export_calls.export_run`.
"""

from __future__ import annotations

import time
from typing import Any

from ftstudio.bridge.types import ExportOutcome, PretrainOutcome, TrainOutcome

__all__ = ["run_export", "run_pretraining", "run_training"]


def run_training(spec_json: str, runs_root: str | None = None, *,
                 reporter: Any) -> TrainOutcome:
    """Fine-tune as the spec says (``engine.training.train``) and describe the run.

    Args:
        spec_json: the :class:`~ftstudio.spec.ExperimentSpec` as JSON.
        runs_root: the folder the run folder goes in (the default runs folder when ``None``).
        reporter: the engine's progress sink (it also says when to stop).
    """
    from ftstudio.engine import training
    from ftstudio.spec import ExperimentSpec

    t0 = time.perf_counter()
    result = training.train(ExperimentSpec.from_json(spec_json), reporter, runs_root=runs_root)
    return TrainOutcome(run_dir=str(result.run_dir), metrics=dict(result.metrics),
                        stopped_by_user=bool(result.stopped_by_user),
                        best_epoch=result.best_epoch, seconds=time.perf_counter() - t0)


def run_pretraining(spec_json: str, replace: bool = False, *,
                    reporter: Any) -> PretrainOutcome:
    """Pretrain an autoencoder and save its encoder to the library (``engine.autoencoder``).

    Args:
        spec_json: the :class:`~ftstudio.spec.PretrainSpec` as JSON (paths absolute).
        replace: replace an existing library entry called ``save_as``.
        reporter: the engine's progress sink; its optional ``preview(path)`` method hears of
            every refreshed originals-vs-reconstructions PNG.
    """
    from ftstudio.engine import autoencoder
    from ftstudio.spec import PretrainSpec

    result = autoencoder.pretrain(PretrainSpec.from_json(spec_json), reporter=reporter,
                                  replace=replace, on_preview=getattr(reporter, "preview", None))
    return PretrainOutcome(
        entry_name=result.entry_name, entry_folder=str(result.entry_folder),
        history=[dict(row) for row in result.history],
        stopped_by_user=bool(result.stopped_by_user),
        preview_path=str(result.preview_path) if result.preview_path else None,
        samples=int(result.samples), warnings=list(result.warnings))


def run_export(run_dir: str, formats: list[str], out_dir: str | None = None,
               quantize: bool = False, *, reporter: Any) -> ExportOutcome:
    """Export a finished run and check every file (``engine.export.export_run``).

    Args:
        run_dir: the run folder.
        formats: names of ``engine.export.EXPORT_FORMATS``.
        out_dir: where the format folders go (``None``: ``<run>/export``).
        quantize: also write the dynamic-range int8 TFLite file.
        reporter: the engine's progress sink (it also says when to stop).
    """
    from ftstudio.bridge.export_calls import export_outcome
    from ftstudio.engine.export import export_run

    t0 = time.perf_counter()
    result = export_run(run_dir, formats, out_dir=out_dir, quantize=quantize, reporter=reporter)
    return export_outcome(result, time.perf_counter() - t0)
