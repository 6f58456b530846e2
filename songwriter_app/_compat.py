"""Work-arounds for bugs in the pinned GUI stack (each says what, where and why).

PySide6-Essentials / shiboken6 6.12.0 on Python 3.11: every binding that returns None
(all void C++ methods: QPainter.setPen, QWidget.update, QTimer.setInterval, QObject.parent()
returning None ...) hands back None without a new reference. Python 3.12+ does not notice
because None is immortal there (PEP 683); on 3.11 each call lowers None's reference count
by one. A pyqtgraph window repainting during training makes hundreds of such calls per
frame, and after about ten minutes the count reaches zero and the interpreter aborts with
"Fatal Python error: none_dealloc: deallocating None". Measured here: sys.getrefcount(None)
drops by exactly 1.000 per call of QPainter.setRenderHint, QLabel.setText, QPen.setWidth.

The fix is what Python 3.12 does: make None effectively immortal by adding 2**40 to its
reference count once, before any Qt call. No-op on Python >= 3.12. Remove when the project
moves to a PySide6 release with the fix, or to Python 3.12.
"""

from __future__ import annotations

import sys

_PROTECTED = False
NONE_REFCOUNT_BOOST = 1 << 40


def protect_none_refcount() -> bool:
    """Give None a reference count no leak can exhaust (Python < 3.12). True if applied now."""
    global _PROTECTED
    if _PROTECTED or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    import ctypes

    refcnt = ctypes.c_ssize_t.from_address(id(None))  # ob_refcnt is PyObject's first field
    refcnt.value += NONE_REFCOUNT_BOOST
    _PROTECTED = True
    return True
