"""The studio window (PySide6 + pyqtgraph). Imports the spec, the errors and the bridge only.

Importing the bridge first applies its PySide6 reference-count protection (see
:mod:`ftstudio.bridge.qt_refcount`) before any widget exists.
"""

import ftstudio.bridge  # noqa: F401
