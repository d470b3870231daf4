"""Loading TensorFlow for the CLI, the window's engine thread and the training child.

Standard library at import time; TensorFlow is imported only when :func:`import_tensorflow_quietly`
is called.
"""

from __future__ import annotations

import os
import sys

from ftstudio import config


def import_tensorflow_quietly(debug: bool = False) -> None:
    """Import TensorFlow with its C++ start-up log lines (oneDNN, CUDA probing) hidden.

    TensorFlow writes them to file descriptor 2 before any Python setting applies, so the
    descriptor is pointed at /dev/null for the import only. ``debug`` (or the environment
    variable ``FTSTUDIO_DEBUG``) keeps them.
    """
    if "tensorflow" in sys.modules:
        return
    if debug or config.debug_enabled():
        import tensorflow  # noqa: F401
        return
    try:
        saved = os.dup(2)
    except OSError:  # pragma: no cover - no stderr descriptor (frozen GUI app)
        import tensorflow  # noqa: F401
        return
    try:
        sys.stderr.flush()
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
