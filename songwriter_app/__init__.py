"""Songwriter Assistant desktop app (PySide6, pyqtgraph, sounddevice) over the headless engine."""

from __future__ import annotations

import os

from songwriter_app._compat import protect_none_refcount

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
protect_none_refcount()  # PySide6 6.12.0 on Python 3.11 leaks references to None (see _compat)
