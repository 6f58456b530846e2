"""Qt-free typed state shared by the controllers: the open clip, the project's original
section, previews, variation audio, and what the player is playing.

Plain frozen dataclasses of numpy arrays: made in worker threads, handed to the GUI
thread, never mutated. Tested without Qt.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class ClipAudio:
    """An audio file opened for the clip view."""

    path: Path
    audio: np.ndarray  # [C, T] float32 at the file's rate
    sample_rate: int
    mono: np.ndarray  # [T] float32, for the waveform and the mel
    mel: np.ndarray  # [n_mels, frames] dB
    frame_seconds: float  # seconds between mel frames

    @property
    def seconds(self) -> float:
        return self.audio.shape[-1] / self.sample_rate

    @property
    def channels(self) -> int:
        return int(self.audio.shape[0])

    def describe(self) -> str:
        ch = "stereo" if self.channels == 2 else f"{self.channels} ch"
        return f"{self.path.name} · {self.seconds:.1f} s · {self.sample_rate} Hz · {ch}"


@dataclass(frozen=True)
class SectionAudio:
    """A project's training section at the working rate and original level."""

    project: Path
    audio: np.ndarray  # [T] float32, or [2, T] (L/R) for a stereo project
    sample_rate: int
    mel: np.ndarray
    frame_seconds: float


@dataclass(frozen=True)
class PreviewAudio:
    """The sample and the reconstruction rendered after one training scale."""

    scale: int
    n_scales: int
    rate: int  # the scale's own rate
    sample: np.ndarray  # [T] float32 at sample_rate
    reconstruction: np.ndarray
    sample_rate: int
    seconds: float


@dataclass(frozen=True)
class VariationAudio:
    """A stored variation's audio with its mel, for the compare view and the player."""

    id: str
    audio: np.ndarray
    sample_rate: int
    mel: np.ndarray


SourceKind = Literal["clip", "original", "variation", "preview"]
PreviewTake = Literal["sample", "reconstruction"]


@dataclass(frozen=True)
class PlaySource:
    """What the player holds: the clip, the original section, a variation or a preview."""

    kind: SourceKind
    variation_id: str | None = None  # kind == "variation"
    scale: int | None = None  # kind == "preview"
    take: PreviewTake | None = None  # kind == "preview"

    @classmethod
    def clip(cls) -> PlaySource:
        return cls("clip")

    @classmethod
    def original(cls) -> PlaySource:
        return cls("original")

    @classmethod
    def variation(cls, vid: str) -> PlaySource:
        return cls("variation", variation_id=vid)

    @classmethod
    def preview(cls, scale: int, take: PreviewTake) -> PlaySource:
        return cls("preview", scale=scale, take=take)

    @property
    def in_section(self) -> bool:
        """Plays in the section's time (the compare view's playhead follows it)."""
        return self.kind in ("original", "variation")
