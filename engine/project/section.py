"""The source section a project was trained on, as a typed record (manifest "source")."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from engine.fileutil import sha256_file


class SourceStatus(Enum):
    UNCHANGED = "unchanged"  # the file is there with the same SHA-256
    CHANGED = "changed"  # the file is there but its content differs
    MISSING = "missing"  # no file at the recorded path (moved, deleted, another machine)
    UNKNOWN = "unknown"  # the project recorded no hash (cannot tell)


@dataclass(frozen=True)
class SourceSection:
    """Where the training section came from: a region of a file, with its level."""

    path: Path  # the source file as it was opened
    sha256: str  # its SHA-256 when training started ("" when unknown)
    sample_rate: int  # the file's own rate
    channels: int  # the file's own channel count
    start: float  # seconds into the file
    duration: float  # seconds of the section
    gain: float  # the section's peak level (the model works peak-normalised)

    @classmethod
    def from_manifest(cls, source: dict[str, Any], *, default_rate: int,
                      default_duration: float) -> SourceSection:
        """From manifest.json's "source" dict; missing fields get the defaults older projects
        imply (the whole clip at the working rate, full level)."""
        duration = source.get("duration")
        return cls(
            path=Path(str(source.get("path") or "")),
            sha256=str(source.get("sha256") or ""),
            sample_rate=int(source.get("sample_rate") or default_rate),
            channels=int(source.get("channels") or 1),
            start=float(source.get("start") or 0.0),
            duration=float(duration) if duration else float(default_duration),
            gain=float(source.get("gain", 1.0)),
        )

    @property
    def name(self) -> str:
        return self.path.name or "clip"

    @property
    def stem(self) -> str:
        return self.path.stem or "clip"

    @property
    def end(self) -> float:
        return self.start + self.duration

    def status(self) -> SourceStatus:
        """Is the source file still there, unchanged? (Reads the whole file to hash it.)"""
        if not str(self.path) or not self.path.is_file():
            return SourceStatus.MISSING
        if not self.sha256:
            return SourceStatus.UNKNOWN
        try:
            same = sha256_file(self.path) == self.sha256
        except OSError:
            return SourceStatus.MISSING
        return SourceStatus.UNCHANGED if same else SourceStatus.CHANGED
