"""Why this prediction: Grad-CAM finds a planted quadrant, integrated gradients a planted token."""

from __future__ import annotations

import numpy as np
import pytest

from ftstudio.engine.saliency import explain, image_saliency, token_attributions
from tests.helpers.eval_runs import trained_run


def _quadrant_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise; class 1 has a bright 4x4 square somewhere in the top-left quadrant."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 80, (n, 16, 16, 3)).astype(np.float32)
    y = np.arange(n) % 2
    for i in np.flatnonzero(y):
        r, c = rng.integers(0, 5, 2)
        x[i, r:r + 4, c:c + 4] = 255.0
    return x, y


def test_grad_cam_puts_its_mass_in_the_quadrant_that_holds_the_signal() -> None:
    import keras

    keras.utils.set_random_seed(0)
    x, y = _quadrant_images(240, 0)
    inp = keras.Input((16, 16, 3))
    h = keras.layers.Rescaling(1 / 255)(inp)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(h)
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="features")(h)
    out = keras.layers.Dense(2, activation="softmax", name="label")(
        keras.layers.GlobalMaxPooling2D()(h))
    model = keras.Model(inp, out)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    test_x, test_y = _quadrant_images(20, 1)
    assert model.evaluate(test_x, test_y, verbose=0)[1] >= 0.9
    shares = []
    for image in test_x[test_y == 1]:
        heat, method = image_saliency(model, image, 1, "label")
        assert heat.shape == (16, 16) and 0.0 <= heat.min() and heat.max() == pytest.approx(1.0)
        shares.append(heat[:8, :8].sum() / heat.sum())
    assert method == "Grad-CAM on features"
    assert np.mean(shares) > 0.6, shares


def test_integrated_gradients_put_the_top_weight_on_the_planted_token() -> None:
    import keras

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    planted, length = 7, 10
    tokens = rng.integers(10, 60, (400, length))
    y = np.arange(400) % 2
    where = rng.integers(0, length, 400)
    tokens[y == 1, where[y == 1]] = planted
    model = keras.Sequential([keras.Input((length,), dtype="int32"),
                              keras.layers.Embedding(60, 8),
                              keras.layers.GlobalAveragePooling1D(),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(tokens, y, epochs=20, batch_size=32, verbose=0)
    assert model.evaluate(tokens, y, verbose=0)[1] >= 0.95
    hits = 0
    for i in np.flatnonzero(y == 1)[:10]:
        scores = token_attributions(model, tokens[i:i + 1], 1)
        assert scores.shape == (length,)
        hits += int(np.argmax(scores) == where[i])
    assert hits == 10


def test_explain_runs_on_finished_text_and_image_runs() -> None:
    from ftstudio.engine.tryit import open_run

    text = explain(open_run(trained_run("text")), text="one two good")
    assert text.predicted in ("pos", "neg") and 0 < text.probability <= 1
    assert text.tokens and all(isinstance(w, str) for w, _ in text.tokens)
    assert "integrated gradients" in text.method and text.heatmap is None
    image_run = trained_run("image")
    picture = next((image_run.parent / "images").rglob("*.png"))
    shown = explain(open_run(image_run), image=picture)
    assert shown.heatmap is not None and shown.heatmap.shape == (16, 16)
    assert float(shown.heatmap.max()) <= 1.0 and shown.seconds > 0
