"""Songwriter Assistant desktop app (PySide6, pyqtgraph, sounddevice) over the headless engine."""

from __future__ import annotations

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
