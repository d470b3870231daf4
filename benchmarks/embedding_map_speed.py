"""How smooth the embedding map is at 10k points: draw, repaint while panning, lasso.

Builds the Data page's :class:`~ftstudio.ui.widgets.embedding_map.EmbeddingMapView` at
1280x800 with ``--points`` random points in 10 classes (two Gaussian blobs each), then times
``set_points`` plus the first paint, a repaint after each of 20 pan steps (what a user sees
while dragging: < 16 ms keeps 60 frames per second), a colour-mode switch, and a lasso over a
quarter of the map. Runs offscreen (``QT_QPA_PLATFORM=offscreen``) unless a display is set.

Usage: python -m benchmarks.embedding_map_speed [--points 10000]
Prints one line per measurement, in milliseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def _points(n: int):  # noqa: ANN202 - the bridge type is imported lazily
    import numpy as np

    from ftstudio.bridge.data_loop_calls import EmbeddingPoints

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n)
    centres = rng.normal(0, 5, (10, 2))
    xy = centres[labels] + rng.normal(0, 1.0, (n, 2))
    predicted = np.where(rng.random(n) < 0.1, rng.integers(0, 10, n), labels)
    return EmbeddingPoints(xy[:, 0].tolist(), xy[:, 1].tolist(), labels.tolist(),
                           predicted.tolist(), [f"class {k}" for k in range(10)],
                           list(range(2, n + 2)), [f"example {i}" for i in range(n)],
                           (0.4, 0.2), "random blobs")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=10_000)
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from ftstudio.ui.widgets.embedding_map import EmbeddingMapView

    app = QApplication.instance() or QApplication([])
    view = EmbeddingMapView()
    view.resize(1280, 800)
    view.show()
    app.processEvents()
    points = _points(args.points)

    started = time.perf_counter()
    view.set_points(points)
    view.grab()
    print(f"set_points + first paint, {args.points} points: "
          f"{(time.perf_counter() - started) * 1e3:.0f} ms")

    box = view.view_box
    frames = []
    for _ in range(20):
        started = time.perf_counter()
        box.translateBy(x=0.3, y=0.1)
        view.grab()
        frames.append((time.perf_counter() - started) * 1e3)
    print(f"repaint per pan step: median {statistics.median(frames):.1f} ms, "
          f"max {max(frames):.1f} ms")

    xs, ys = points.x, points.y
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    lasso = [(x0, y0), ((x0 + x1) / 2, y0), ((x0 + x1) / 2, (y0 + y1) / 2), (x0, (y0 + y1) / 2)]
    started = time.perf_counter()
    chosen = view.select_polygon(lasso)
    view.grab()
    print(f"lasso over a quarter ({len(chosen)} points) + repaint: "
          f"{(time.perf_counter() - started) * 1e3:.0f} ms")
    view.close()


if __name__ == "__main__":
    main()
