"""Warm start: begin a run from the weights of a previous run (``training.init_from_run``).

After labelling more examples the quickest good model is the last one, trained on: the new
model is built as usual, then every layer whose name and weight shapes match a layer of the
previous run's ``model.keras`` takes that layer's weights. A layer that does not match (the
output layer when the number of classes changed, a layer the new spec added) keeps its fresh
initialisation, and the log says which layers were warm-started and which were not.

The previous model is read with the one safe loader (:func:`load_model_safely`). Keras is
imported inside the functions (through the loader).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftstudio.engine.model_files import load_model_safely
from ftstudio.engine.reporting import Reporter
from ftstudio.errors import LibraryError, SpecError
from ftstudio.spec import ExperimentSpec

__all__ = ["MODEL_FILE", "WarmStart", "copy_matching_weights", "init_model_file",
           "warm_start"]

MODEL_FILE = "model.keras"
"""The file of a run folder a warm start reads its weights from."""


@dataclass
class WarmStart:
    """Which layers of the new model took the previous run's weights, and which did not."""

    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def describe(self, source: Path) -> str:
        """One log line: how many layers were warm-started from ``source``, and the others."""
        text = (f"Warm start from {source.name}: {len(self.loaded)} of "
                f"{len(self.loaded) + len(self.skipped)} layers took its weights")
        if self.skipped:
            text += f"; kept fresh (no match by name and shape): {', '.join(self.skipped)}"
        return text


def init_model_file(spec: ExperimentSpec) -> Path | None:
    """The ``model.keras`` of ``training.init_from_run``, or ``None`` when it is not set.

    Raises:
        SpecError: naming ``training.init_from_run`` when its folder holds no ``model.keras``.
    """
    folder = spec.training.init_from_run
    if not folder:
        return None
    path = Path(folder).expanduser() / MODEL_FILE
    if not path.is_file():
        raise SpecError(f"training.init_from_run must be a run folder holding {MODEL_FILE}; "
                        f"{folder!r} has none (train that run to the end first, or clear "
                        f"the key)")
    return path


def warm_start(model: Any, spec: ExperimentSpec, reporter: Reporter) -> WarmStart | None:
    """Copy the matching weights of ``training.init_from_run``'s model into ``model``.

    Args:
        model: the freshly built model of this run.
        spec: the experiment; nothing happens when ``training.init_from_run`` is unset.
        reporter: told how many layers were warm-started and which kept fresh weights.

    Returns:
        What was copied, or ``None`` when no warm start was asked for.

    Raises:
        SpecError: the folder holds no ``model.keras``, or that file cannot be loaded.
    """
    path = init_model_file(spec)
    if path is None:
        return None
    reporter.status(f"Loading the weights of {path.parent.name} to start from…")
    try:
        previous = load_model_safely(path)
    except LibraryError as exc:
        raise SpecError(f"training.init_from_run: cannot load {path}: {exc}") from exc
    result = copy_matching_weights(previous, model)
    reporter.status(result.describe(path.parent))
    return result


def copy_matching_weights(source: Any, target: Any) -> WarmStart:
    """Give each layer of ``target`` the weights of the same-named layer of ``source``.

    Only when every weight's shape matches; a nested model (a backbone) that does not match
    as a whole is matched layer by layer inside.
    """
    result = WarmStart()
    _copy_layers(_by_name(source), target, result, "")
    return result


def _by_name(model: Any) -> dict[str, Any]:
    """Every layer of ``model`` with weights, by name (nested models also layer by layer)."""
    found: dict[str, Any] = {}
    for layer in model.layers:
        if layer.weights:
            found.setdefault(layer.name, layer)
        for inner in getattr(layer, "layers", None) or []:
            if inner.weights:
                found.setdefault(f"{layer.name}/{inner.name}", inner)
    return found


def _copy_layers(source: dict[str, Any], target: Any, result: WarmStart, prefix: str) -> None:
    for layer in target.layers:
        if not layer.weights:
            continue
        name = f"{prefix}{layer.name}"
        match = source.get(name)
        if match is not None and _shapes(match) == _shapes(layer):
            layer.set_weights(match.get_weights())
            result.loaded.append(name)
        elif getattr(layer, "layers", None) and not prefix:
            _copy_layers(source, layer, result, f"{name}/")
        else:
            result.skipped.append(name)


def _shapes(layer: Any) -> list[tuple[int, ...]]:
    return [tuple(int(d) for d in w.shape) for w in layer.weights]
