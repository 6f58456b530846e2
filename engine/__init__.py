"""Headless engine of the Songwriter Assistant.

Everything that is not a window lives here: audio I/O, the multiscale
single-sample GAN (models, losses, training), generation, metrics and the
listening-study logic. This package never imports Qt, pyqtgraph or
sounddevice; a test checks that.
"""

from __future__ import annotations

__version__ = "0.1.0"

ENGINE_VERSION = __version__
