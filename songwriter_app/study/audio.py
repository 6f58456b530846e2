"""The player used by the study windows.

The app's own player (songwriter_app.playback: sounddevice behind a small interface, a null
player when PortAudio or an output device is missing) is reused when it is there; otherwise a
minimal private one with the same few methods is used. The study windows need only:
available, reason, load(audio, sample_rate), play(start=None), stop(), poll(), close(),
position, duration, is_playing.
"""

from __future__ import annotations

import os
import time
from typing import Any, Protocol

import numpy as np


class StudyPlayer(Protocol):
    available: bool
    reason: str

    def load(self, audio: np.ndarray, sample_rate: int) -> None: ...
    def play(self, start: float | None = None) -> None: ...
    def stop(self) -> None: ...
    def poll(self) -> None: ...
    def close(self) -> None: ...

    @property
    def position(self) -> float: ...
    @property
    def duration(self) -> float: ...
    @property
    def is_playing(self) -> bool: ...


class _SilentPlayer:
    """No audio output: nothing plays, and `reason` says why."""

    def __init__(self, reason: str) -> None:
        self.available = False
        self.reason = reason
        self._duration = 0.0

    def load(self, audio: np.ndarray, sample_rate: int) -> None:
        self._duration = np.asarray(audio).shape[-1] / float(sample_rate)

    def play(self, start: float | None = None) -> None:
        pass

    def stop(self) -> None:
        pass

    def poll(self) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def position(self) -> float:
        return 0.0

    @property
    def duration(self) -> float:
        return self._duration

    @property
    def is_playing(self) -> bool:
        return False


class _SimplePlayer(_SilentPlayer):
    """sounddevice's play/stop with a clock-based position (used only without playback.py)."""

    def __init__(self, sd: Any) -> None:
        super().__init__("")
        self.available = True
        self._sd = sd
        self._audio = np.zeros(1, dtype=np.float32)
        self._sr = 44100
        self._t0: float | None = None
        self._start = 0.0

    def load(self, audio: np.ndarray, sample_rate: int) -> None:
        self.stop()
        self._audio = np.ascontiguousarray(np.clip(audio, -1, 1), dtype=np.float32)
        self._sr = int(sample_rate)
        self._duration = self._audio.shape[-1] / self._sr

    def play(self, start: float | None = None) -> None:
        self._start = 0.0 if start is None else float(start)
        self._sd.play(self._audio[int(self._start * self._sr):], self._sr)
        self._t0 = time.monotonic()

    def stop(self) -> None:
        if self._t0 is not None:
            self._start = self.position
            self._t0 = None
            self._sd.stop()

    @property
    def position(self) -> float:
        if self._t0 is None:
            return self._start
        return min(self._duration, self._start + time.monotonic() - self._t0)

    @property
    def is_playing(self) -> bool:
        return self._t0 is not None and self.position < self._duration

    def poll(self) -> None:
        if self._t0 is not None and self.position >= self._duration:
            self._start = self._duration
            self._t0 = None


def make_study_player() -> StudyPlayer:
    try:
        from songwriter_app.playback import make_player
    except ImportError:
        make_player = None
    if make_player is not None:
        return make_player()  # type: ignore[return-value]
    if os.environ.get("SONGWRITER_NO_AUDIO"):
        return _SilentPlayer("Playback is off (SONGWRITER_NO_AUDIO is set).")
    try:
        import sounddevice as sd
    except (OSError, ImportError) as exc:
        return _SilentPlayer(f"Playback is off: PortAudio/sounddevice is missing ({exc}). "
                             "On Debian/Ubuntu install libportaudio2.")
    try:
        sd.query_devices(kind="output")
    except Exception as exc:  # PortAudioError: no output device
        return _SilentPlayer(f"Playback is off: no audio output device was found ({exc}).")
    return _SimplePlayer(sd)


def player_name(player: Any) -> str:
    """What to record in a session about the output: the player's class, or why there is none."""
    if getattr(player, "available", False):
        return type(player).__name__
    return f"none: {getattr(player, 'reason', '')}".strip()
