"""Features of every labelled example (and of unlabelled pools) for the data tools.

The data tools (likely label errors, what to label next, the embedding map) fit small linear
probes on a fixed representation of each example: the pooled features of the *pretrained*
backbone (computed by :func:`ftstudio.engine.baseline.frozen_features`, the same pass the
run's baseline makes), or the raw feature columns of tabular data. Nothing here trains the
backbone; one forward pass per example.

numpy at import time; TensorFlow and the backbone load inside :func:`spec_features`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ftstudio.engine.baseline import frozen_features
from ftstudio.engine.data import LoadedData
from ftstudio.engine.datasets import PreparedData, load_images_of_splits, prepare_data
from ftstudio.engine.reporting import BaseReporter, Reporter

if TYPE_CHECKING:
    from ftstudio.spec import ExperimentSpec

__all__ = ["ExampleFeatures", "pool_features", "spec_features"]


@dataclass
class ExampleFeatures:
    """Every labelled example of a spec with its features.

    Attributes:
        prepared: the loaded data, with every example in one ``train`` split.
        features: float32 ``(n, d)``, in data order.
        description: what the features are (one line for the user).
        backbone: the loaded backbone (``None`` for tabular data without one), kept so
            that a pool of unlabelled examples is described the same way.
    """

    prepared: PreparedData
    features: np.ndarray
    description: str
    backbone: Any = None


def _whole(prepared: PreparedData, n: int) -> PreparedData:
    """``prepared`` with all ``n`` examples in the train split (val and test empty)."""
    every = np.arange(n, dtype=np.int64)
    return dataclasses.replace(prepared, splits={"train": every, "val": every[:0],
                                                 "test": every[:0]})


def _frozen_spec(spec: ExperimentSpec) -> ExperimentSpec:
    """The spec with the whole backbone frozen: the loaded backbone *is* the pretrained one."""
    return dataclasses.replace(spec, freeze=dataclasses.replace(spec.freeze, mode="all"))


def spec_features(spec: ExperimentSpec, reporter: Reporter | None = None) -> ExampleFeatures:
    """Load a spec's data and compute the features of every example (one pass).

    Args:
        spec: the experiment (its data, backbone and pooling).
        reporter: told what happens; optional.

    Returns:
        The examples and their features.

    Raises:
        DataError: the data cannot be loaded.
        BackboneError: the backbone cannot be loaded.
    """
    reporter = reporter or BaseReporter()
    prepared = prepare_data(spec, reporter)
    prepared = _whole(prepared, len(prepared.data.row_ids))
    backbone = _backbone(spec, prepared.data, reporter)
    reporter.status(f"Computing the features of {len(prepared.data.row_ids):,} examples…")
    images = load_images_of_splits(prepared, backbone, ("train",)) if backbone else {}
    features, described = frozen_features(_frozen_spec(spec), prepared, backbone, images)
    return ExampleFeatures(prepared, features["train"], described, backbone)


def pool_features(spec: ExperimentSpec, labelled: ExampleFeatures, pool: LoadedData
                  ) -> np.ndarray:
    """The features of unlabelled examples, computed like those of ``labelled``."""
    prepared = dataclasses.replace(labelled.prepared, data=pool)
    prepared = _whole(prepared, len(pool.row_ids))
    backbone = labelled.backbone
    images = load_images_of_splits(prepared, backbone, ("train",)) if backbone else {}
    features, _ = frozen_features(_frozen_spec(spec), prepared, backbone, images)
    return features["train"]


def _backbone(spec: ExperimentSpec, data: LoadedData, reporter: Reporter) -> Any:
    """The pretrained backbone, or ``None`` for tabular data without one."""
    if data.modality == "tabular":  # numeric columns are their own features
        return None
    from ftstudio.engine.backbones import load_backbone

    backbone = load_backbone(spec.backbone, data.modality, reporter)
    return backbone if backbone.model is not None else None
