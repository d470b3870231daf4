"""Length grouping: every example once per epoch, in seeded resumable order, few padded shapes."""

from __future__ import annotations

import json

import numpy as np

from ftstudio.engine.datasets import _epoch_ordered
from ftstudio.engine.length_batches import (
    bucket_lengths,
    epoch_batches,
    grouped_dataset,
    padded_length,
)
from ftstudio.spec import ExperimentSpec

SEQUENCE = 64


def _tokens(n: int = 230, seed: int = 1) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Token arrays of ``n`` texts of 2..64 tokens (mostly short, as reviews are)."""
    rng = np.random.default_rng(seed)
    lengths = np.minimum(2 + rng.geometric(0.06, size=n), SEQUENCE)
    mask = np.arange(SEQUENCE)[None, :] < lengths[:, None]
    ids = np.where(mask, rng.integers(5, 100, size=(n, SEQUENCE)), 0).astype(np.int32)
    return {"token_ids": ids, "padding_mask": mask}, lengths


def test_buckets_are_few_and_cover_the_sequence():
    assert bucket_lengths(64) == [8, 16, 32, 48, 64]
    assert bucket_lengths(128) == [16, 32, 64, 96, 128]
    assert bucket_lengths(10) == [8, 10]
    assert padded_length(17, [8, 16, 32]) == 32
    assert padded_length(40, [8, 16, 32]) == 32


def test_each_epoch_holds_every_example_once_in_an_order_of_seed_and_epoch():
    _, lengths = _tokens()
    for epoch in range(3):
        batches = epoch_batches(lengths, 16, seed=7, epoch=epoch)
        assert len(batches) == -(-len(lengths) // 16)
        assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
        assert all(len(b) == 16 for b in batches[:-1])
        again = epoch_batches(lengths, 16, seed=7, epoch=epoch)
        assert all(np.array_equal(a, b) for a, b in zip(batches, again, strict=True))
    first, second = (np.concatenate(epoch_batches(lengths, 16, 7, e)) for e in (0, 1))
    assert not np.array_equal(first, second)
    # grouped: a batch spans far fewer lengths than a random batch of the same epoch
    spread = np.mean([np.ptp(lengths[b]) for b in epoch_batches(lengths, 16, 7, 0)])
    assert spread < 0.5 * np.mean([np.ptp(lengths[b]) for b in np.array_split(first, 15)])


def test_grouped_batches_match_fixed_padding_per_epoch_with_bounded_shapes():
    tokens, lengths = _tokens()
    n = len(lengths)
    ids = np.arange(n, dtype=np.int64)
    parts = (tokens, {"label": ids})
    steps = -(-n // 16)

    def epochs_of(ds):
        out, shapes, batches = [], set(), list(ds.as_numpy_iterator())
        for start in range(0, len(batches), steps):
            seen = []
            for x, y in batches[start:start + steps]:
                width = x["token_ids"].shape[1]
                shapes.add(width)
                rows = y["label"]
                assert width >= lengths[rows].max()  # only padding was cut off
                assert np.array_equal(x["token_ids"], tokens["token_ids"][rows, :width])
                seen.extend(rows.tolist())
            out.append(sorted(seen))
        return out, shapes

    grouped, shapes = epochs_of(grouped_dataset(parts, 16, 3, (0, 3), SEQUENCE))
    fixed, fixed_shapes = epochs_of(_epoch_ordered(parts, n, 16, 3, (0, 3)))
    assert grouped == fixed == [list(range(n))] * 3
    assert fixed_shapes == {SEQUENCE}
    assert shapes <= set(bucket_lengths(SEQUENCE)) and len(shapes) >= 3
    resumed = list(grouped_dataset(parts, 16, 3, (1, 3), SEQUENCE).as_numpy_iterator())
    whole = list(grouped_dataset(parts, 16, 3, (0, 3), SEQUENCE).as_numpy_iterator())
    assert all(np.array_equal(a[1]["label"], b[1]["label"])
               for a, b in zip(resumed, whole[steps:], strict=True))
    validation = list(grouped_dataset(parts, 16, 3, None, SEQUENCE).as_numpy_iterator())
    assert sorted(np.concatenate([y["label"] for _, y in validation]).tolist()) == \
        list(range(n))


def test_a_text_run_with_length_grouping_trains_and_predicts_any_length(tmp_path):
    from ftstudio.engine.inference import predict
    from ftstudio.engine.training import train
    from tests.helpers.eval_runs import write_text_csv
    from tests.helpers.models import tiny_bert_preset

    spec = ExperimentSpec.from_dict({
        "name": "grouped", "data": {"path": str(write_text_csv(tmp_path / "t.csv")),
                                    "text_column": "text", "label_column": "label"},
        "backbone": {"source": "keras_hub", "sequence_length": 16,
                     "path": str(tiny_bert_preset(tmp_path / "bert", sequence_length=16))},
        "training": {"epochs": 2, "batch_size": 8, "optimizer": "adam", "learning_rate": 0.01,
                     "length_grouping": True, "baseline": False}})
    result = train(spec, out_dir=tmp_path / "run")
    assert len(result.history) == 2 and np.isfinite(result.metrics["test.loss"])
    assert json.loads((result.run_dir / "spec.json").read_text())["training"][
        "length_grouping"] is True
    rows = predict(result.run_dir, texts=["good", "bad bad bad good good bad"])
    assert len(rows) == 2 and all("label" in row["label"] for row in rows)
