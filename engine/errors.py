"""Exceptions the engine raises for problems a user can fix.

Every message is one plain sentence that a front end can show as it is
(the CLI prints it on one line, the GUI in a dialog).
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""


class AudioError(EngineError):
    """An audio file cannot be used (missing, unreadable, empty, silent, too short...)."""


class ConfigError(EngineError):
    """An unknown preset or an invalid setting."""


class ProjectError(EngineError):
    """A project folder is missing, damaged, or from a newer format."""


class OutputError(EngineError):
    """An output location cannot be written (permissions, full disk)."""


class DeviceError(EngineError):
    """The compute device cannot be used (no CUDA, out of memory)."""
