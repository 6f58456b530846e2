"""Audio playback behind a small interface.

`SoundDevicePlayer` plays through PortAudio (sounddevice). Its audio callback
only copies from a preallocated array and advances an index: no allocation, no
locks, no Qt signals. The GUI polls `position` with a QTimer for the playhead
and calls `poll()` there so a stream that reached its end is stopped from the
GUI thread.

`NullPlayer` stands in when PortAudio or an output device is missing; it keeps
a position (so clicking the waveform still moves the playhead) and says why
playback is off in `reason`.

Output is stereo: the stream has two channels whatever is loaded; a mono [T]
signal plays on both speakers and a stereo [2, T] one as it is, so A/B between a
stereo original and a mono variation swaps buffers without reopening the stream.
A device with a single output channel gets the mix of both.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)


class Player(Protocol):
    """What the GUI needs from a player."""

    available: bool  # False for the NullPlayer
    reason: str  # why playback is off (empty when available)
    loop: bool  # start again at the beginning at the end

    def load(self, audio: np.ndarray, sample_rate: int, *, keep_position: bool = False) -> None: ...
    def play(self, start: float | None = None) -> None: ...
    def stop(self) -> None: ...
    def seek(self, seconds: float) -> None: ...
    def poll(self) -> None: ...
    def close(self) -> None: ...

    @property
    def position(self) -> float: ...
    @property
    def duration(self) -> float: ...
    @property
    def is_playing(self) -> bool: ...
    @property
    def sample_rate(self) -> int: ...


OUTPUT_CHANNELS = 2  # the stream's channels: stereo out, mono played on both


def _as_frames(audio: np.ndarray, channels: int = OUTPUT_CHANNELS) -> np.ndarray:
    """[T] or [C, T] or [T, C] -> float32 C-contiguous [T, channels] (1 or 2): mono is copied
    to both channels, stereo kept, more channels (or stereo for a 1-channel device) mixed."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    elif x.ndim == 2 and x.shape[0] < x.shape[1] and x.shape[0] <= 8:
        x = x.T  # [C, T] -> [T, C]
    if x.ndim != 2:
        raise ValueError("audio must be [T], [C, T] or [T, C]")
    if x.shape[1] > 2 or (channels == 1 and x.shape[1] == 2):
        x = x.mean(axis=1, keepdims=True)
    if channels == 2 and x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    return np.ascontiguousarray(np.clip(x, -1.0, 1.0))


class _BasePlayer:
    available = False
    reason = ""

    def __init__(self, channels: int = OUTPUT_CHANNELS) -> None:
        self.loop = False
        self.channels = 1 if channels == 1 else 2  # what the output gets
        self._buf = np.zeros((1, self.channels), dtype=np.float32)
        self._sr = 44100
        self._index = 0
        self._playing = False

    def load(self, audio: np.ndarray, sample_rate: int, *, keep_position: bool = False) -> None:
        pos = self.position
        was_playing = self._playing
        frames = _as_frames(audio, self.channels)
        if frames.shape[0] == 0:
            raise ValueError("nothing to play: the audio is empty")
        self._prepare(frames, int(sample_rate))
        self._buf = frames
        self._sr = int(sample_rate)
        new_index = int(round(pos * self._sr)) if keep_position else 0
        self._index = min(max(new_index, 0), frames.shape[0] - 1)
        if was_playing and keep_position:
            self.play()

    def _prepare(self, frames: np.ndarray, sample_rate: int) -> None:
        """Hook: called before a new buffer is installed."""

    @property
    def position(self) -> float:
        return self._index / self._sr

    @property
    def duration(self) -> float:
        return self._buf.shape[0] / self._sr

    @property
    def sample_rate(self) -> int:
        return self._sr

    @property
    def is_playing(self) -> bool:
        return self._playing

    def seek(self, seconds: float) -> None:
        self._index = min(max(int(round(seconds * self._sr)), 0), max(self._buf.shape[0] - 1, 0))

    def poll(self) -> None:
        pass

    def close(self) -> None:
        self.stop()

    def play(self, start: float | None = None) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self._playing = False


class NullPlayer(_BasePlayer):
    """No sound: remembers a position and explains why."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.available = False
        self.reason = reason

    def play(self, start: float | None = None) -> None:
        if start is not None:
            self.seek(start)
        self._playing = False


class SoundDevicePlayer(_BasePlayer):
    """A sounddevice OutputStream fed from a preallocated array by a copy-only callback."""

    def __init__(self, sd: Any, *, device: int | str | None = None, blocksize: int = 1024,
                 channels: int = OUTPUT_CHANNELS) -> None:
        super().__init__(channels)
        self.available = True
        self.reason = ""
        self._sd = sd
        self._device = device
        self._blocksize = blocksize
        self._stream: Any = None
        self._stream_key: tuple[int, int] | None = None
        self._lock = threading.Lock()  # GUI-side only; the callback never takes it

    # -- the audio thread --------------------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        buf = self._buf  # one reference read: a buffer swapped by load() is seen whole
        n = buf.shape[0]
        if not self._playing or n == 0 or buf.shape[1] != outdata.shape[1]:
            outdata.fill(0.0)
            return
        idx = self._index
        done = 0
        while done < frames:
            if idx >= n:
                if self.loop:
                    idx = 0
                else:
                    outdata[done:].fill(0.0)
                    self._playing = False
                    idx = n - 1 if n else 0
                    break
            take = min(frames - done, n - idx)
            outdata[done : done + take] = buf[idx : idx + take]
            done += take
            idx += take
        self._index = idx

    # -- the GUI thread ----------------------------------------------------------------

    def _prepare(self, frames: np.ndarray, sample_rate: int) -> None:
        key = (sample_rate, frames.shape[1])
        if self._stream is not None and key != self._stream_key:
            self._playing = False
            self._close_stream()

    def _open_stream(self) -> None:
        key = (self._sr, self._buf.shape[1])
        if self._stream is not None and key == self._stream_key:
            return
        self._close_stream()
        self._stream = self._sd.OutputStream(
            samplerate=self._sr, channels=self._buf.shape[1], dtype="float32",
            blocksize=self._blocksize, callback=self._callback, device=self._device,
        )
        self._stream_key = key

    def _close_stream(self) -> None:
        stream, self._stream, self._stream_key = self._stream, None, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception as exc:  # the device may be gone already
                log.debug("closing the audio stream: %s", exc)

    def play(self, start: float | None = None) -> None:
        with self._lock:
            if start is not None:
                self.seek(start)
            if self._index >= self._buf.shape[0] - 1:
                self._index = 0
            self._open_stream()
            self._playing = True
            if not self._stream.active:
                if self._stream.stopped is False:
                    self._stream.stop()
                self._stream.start()

    def stop(self) -> None:
        with self._lock:
            self._playing = False
            if self._stream is not None and self._stream.active:
                try:
                    self._stream.stop()
                except Exception as exc:
                    log.debug("stopping the audio stream: %s", exc)

    def poll(self) -> None:
        """Stop an idle stream that ran to its end (called from the GUI's timer)."""
        if not self._playing and self._stream is not None and self._stream.active:
            self.stop()

    def close(self) -> None:
        self.stop()
        with self._lock:
            self._close_stream()


def make_player() -> Player:
    """The real player when PortAudio and an output device exist, else a NullPlayer saying why."""
    if os.environ.get("SONGWRITER_NO_AUDIO"):
        return NullPlayer("Playback is off (SONGWRITER_NO_AUDIO is set).")
    try:
        import sounddevice as sd
    except OSError as exc:
        return NullPlayer(
            f"Playback is off: the PortAudio library is missing ({exc}). "
            "On Debian/Ubuntu install libportaudio2."
        )
    except ImportError as exc:
        return NullPlayer(f"Playback is off: sounddevice is not installed ({exc}).")
    try:
        info = sd.query_devices(kind="output")
    except Exception as exc:  # PortAudioError, ValueError: no default output device
        return NullPlayer(f"Playback is off: no audio output device was found ({exc}).")
    if not info or int(info.get("max_output_channels", 0)) < 1:
        return NullPlayer("Playback is off: no audio output device was found.")
    return SoundDevicePlayer(sd, channels=min(int(info["max_output_channels"]), OUTPUT_CHANNELS))
