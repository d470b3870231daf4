"""Qt-side glue between the window and the engine (QtCore only, never QtWidgets).

Importing the bridge protects the interpreter from PySide6's ``None`` reference leak on
Python 3.11 (see :mod:`ftstudio.bridge.qt_refcount`) before any Qt object is used.
"""

from ftstudio.bridge.qt_refcount import protect_singletons

protect_singletons()
