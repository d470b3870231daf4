"""The default text recipe against a plain fine-tune, on real movie-review sentences.

Data: the 10,605 Rotten Tomatoes review snippets (Pang & Lee's sentence polarity data) that
ship, rated by people from -4 to +4, in the vaderSentiment source package
(``additional_resources/hutto_ICWSM_2014.tar.gz`` -> ``movieReviewSnippets_GroundTruth.txt``;
``pip download --no-deps --no-binary :all: vaderSentiment``). A snippet whose mean rating is
above 0 is ``positive``, below 0 ``negative`` (ties left out); 3,200 of them, shuffled with a
fixed seed, split 2,000 train / 200 validation / 1,000 test (the same for every recipe).
The same package's Amazon review snippets (``amazonReviewSnippets_GroundTruth.txt``) and
tweets (``tweets_GroundTruth.txt``) are read the same way: other real sentiment text.

Recipes (MiniLM, 64 tokens, masked-mean pooling, full fine-tune, 2 epochs, seed 42):

* ``plain``: Adam at 5e-5, constant, batch 32 (the issue's yardstick).
* ``recommended``: what ``engine.recipes.recommended_training`` gives this spec.
* ``example``: the training section of ``examples/text_classification.json``.
* ``custom``: ``recommended`` with the sections of a JSON object (the optional fourth
  argument, e.g. ``'{"freeze": {"head_first_epochs": 1}}'``) laid over it. The same argument
  also lays over the other recipes (e.g. ``'{"training": {"seed": 1}}'``: another seed, which
  also draws another split of the same rows). A top-level ``"fine_tune_epochs": N`` in it
  changes the number of fine-tune epochs (to see where longer training would get).

Epochs: every recipe fine-tunes the backbone for :data:`FINE_TUNE_EPOCHS` epochs. A recipe
that first trains the head alone (``freeze.head_first_epochs``, on cached backbone features:
the backbone does not move and runs once) gets those head epochs on top, so
``training.epochs`` (the engine counts the total) is ``FINE_TUNE_EPOCHS + head_first_epochs``.

Usage: python -m benchmarks.recipe_text GROUND_TRUTH_TXT RECIPE OUT_DIR [OVERRIDES_JSON]
Prints one JSON line: the recipe, its settings, test accuracy and the fit time.
"""

from __future__ import annotations

import csv
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROWS, SPLIT = 3200, [0.625, 0.0625, 0.3125]
FINE_TUNE_EPOCHS = 2


def write_csv(ground_truth: Path, out: Path, seed: int = 0) -> Path:
    """The labelled CSV (``text,label``) of :data:`ROWS` shuffled snippets."""
    rows = []
    for line in ground_truth.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) < 3:
            continue
        score = float(parts[1])
        if score:
            rows.append((parts[2].strip(), "positive" if score > 0 else "negative"))
    random.Random(seed).shuffle(rows)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows[:ROWS])
    return out


def recipe_spec(data: Path, recipe: str,
                overrides: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The spec of ``recipe`` on ``data`` (plain data, before parsing).

    Args:
        data: the labelled CSV of :func:`write_csv`.
        recipe: ``plain``, ``recommended``, ``example`` or ``custom``.
        overrides: spec sections laid over the recipe (for ``custom``, over the
            recommended one).
    """
    from ftstudio.engine.recipes import recommended_training
    from ftstudio.spec import ExperimentSpec, FreezeSpec

    spec: dict[str, Any] = {
        "name": f"recipe-{recipe}",
        "data": {"path": str(data), "text_column": "text", "label_column": "label",
                 "split": SPLIT},
        "backbone": {"source": "library", "name": "minilm", "sequence_length": 64},
        "head": {"pooling": "mean", "dropout": 0.1},
        "freeze": {"mode": "none"},
        "training": {"epochs": FINE_TUNE_EPOCHS, "seed": 42, "baseline": False},
    }
    if recipe == "plain":
        spec["training"].update(optimizer="adam", learning_rate=5e-5, batch_size=32,
                                schedule="constant", warmup_fraction=0.0)
    elif recipe == "example":
        example = json.loads(Path("examples/text_classification.json").read_text())
        spec["head"] = example["head"]
        spec["freeze"] = example["freeze"]
        spec["training"].update({k: v for k, v in example["training"].items()
                                 if k not in ("epochs", "seed")})
    else:
        freeze_keys = set(FreezeSpec.__dataclass_fields__)
        for key, value in recommended_training(ExperimentSpec.from_dict(spec)).items():
            if key == "epochs":
                continue
            section = "freeze" if key in freeze_keys else "training"
            spec[section][key] = value
    overrides = dict(overrides or {})
    fine_tune_epochs = overrides.pop("fine_tune_epochs", FINE_TUNE_EPOCHS)
    for section, values in overrides.items():
        spec[section].update(values)
    spec["training"]["epochs"] = fine_tune_epochs + spec["freeze"].get("head_first_epochs", 0)
    return spec


def main() -> None:
    ground_truth, recipe, out_dir = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    out_dir.mkdir(parents=True, exist_ok=True)
    data = write_csv(ground_truth, out_dir / "reviews_rt.csv")
    from ftstudio.engine.training import train
    from ftstudio.spec import ExperimentSpec

    overrides = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
    spec_data = recipe_spec(data, recipe, overrides)
    started = time.perf_counter()
    result = train(ExperimentSpec.from_dict(spec_data), out_dir=out_dir / recipe)
    print(json.dumps({"recipe": recipe, "training": spec_data["training"],
                      "freeze": spec_data["freeze"], "head": spec_data["head"],
                      "test_accuracy": result.metrics.get("test.accuracy"),
                      "seconds": round(time.perf_counter() - started)}))


if __name__ == "__main__":
    main()
