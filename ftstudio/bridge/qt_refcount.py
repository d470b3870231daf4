"""Work around a PySide6 reference-count bug that kills the process on Python 3.11.

PySide6 6.12 (abi3 wheels) returns ``None`` from void methods without taking a new reference,
as if ``None`` were immortal (it is from Python 3.12 on). On Python 3.11 every such call
(``label.setText(...)``, ``widget.setVisible(...)``, ``QObject.parent()`` returning ``None``,
…) drops one reference to ``None``; after a few thousand calls its count reaches zero and the
interpreter aborts with ``Fatal Python error: none_dealloc``. A window that updates a progress
bar per batch dies within a minute.

:func:`protect_singletons` measures the leak once and, only when there is one, gives ``None``,
``True`` and ``False`` a very large reference count, which is what Python 3.12 does to make
them immortal. Nothing changes on Python 3.12+ or with a fixed PySide6.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["leaks_none", "protect_singletons"]

_BOOST = 1 << 50
_protected = False


def leaks_none(calls: int = 16) -> bool:
    """Tell whether a void PySide6 call drops a reference to ``None``."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("probe")
    return sys.getrefcount(None) < before - calls // 2


def protect_singletons() -> bool:
    """Make ``None``, ``True`` and ``False`` practically immortal when PySide6 leaks them.

    Returns:
        True when the protection was (or already had been) applied.
    """
    global _protected
    if _protected:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not leaks_none():
        return False
    for obj in (None, True, False, Ellipsis, NotImplemented):
        refcnt = ctypes.c_ssize_t.from_address(id(obj))
        # ob_refcnt is the first field of every object in a release build; check that we
        # are looking at it (getrefcount counts its own argument once more).
        if abs(refcnt.value - (sys.getrefcount(obj) - 1)) > 2:
            return False
        refcnt.value += _BOOST
    _protected = True
    return True
