"""Audio in and out: read (soundfile), mono, segment, resample (engine.audio.dsp), normalise, save.

Arrays are numpy float32, shaped [channels, samples] for multichannel audio
and [samples] for mono. Every problem a user can cause raises AudioError with
a sentence that says what is wrong with which file.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from engine.audio import channels, dsp
from engine.errors import AudioError, OutputError
from engine.fileutil import atomic_path, sha256_file

SUPPORTED_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc")
MIN_RATE, MAX_RATE = 1000, 384000  # common rates are 8-192 kHz; the tiny preset writes 4 kHz
SILENCE_PEAK = 1e-4  # -80 dBFS: anything quieter is treated as silence
SUBTYPES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT", "PCM_16": "PCM_16", "PCM_24": "PCM_24", "FLOAT": "FLOAT"}


def read_audio(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read a whole file as float32 [channels, samples] and its sample rate."""
    p = Path(path)
    if not p.exists():
        raise AudioError(f"File not found: {p}.")
    if p.is_dir():
        raise AudioError(f"{p} is a folder, not an audio file.")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise AudioError(
            f"Cannot read {p.name} as audio (supported: wav, flac, ogg, mp3, aiff): {exc}"
        ) from exc
    except OSError as exc:
        raise AudioError(f"Cannot open {p.name}: {exc.strerror or exc}.") from exc
    if data.size == 0 or data.shape[0] == 0:
        raise AudioError(f"{p.name} contains no audio.")
    if not (MIN_RATE <= sr <= MAX_RATE):
        raise AudioError(
            f"{p.name} has a sample rate of {sr} Hz; supported rates are {MIN_RATE} to {MAX_RATE} Hz."
        )
    audio = np.ascontiguousarray(data.T)
    if not np.all(np.isfinite(audio)):
        raise AudioError(f"{p.name} contains invalid samples (NaN or infinity).")
    return audio, int(sr)


def source_rate(path: str | os.PathLike[str]) -> int:
    """A file's own sample rate from its header (0 when it cannot be read: load_clip then says
    why)."""
    try:
        return int(sf.info(str(path)).samplerate)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError):
        return 0


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average channels: [C, T] -> [T]; a 1-D array is returned unchanged."""
    return audio if audio.ndim == 1 else audio.mean(axis=0).astype(np.float32)


def resample(x: np.ndarray | torch.Tensor, orig_sr: int, new_sr: int) -> np.ndarray | torch.Tensor:
    """Band-limited windowed-sinc resampling (Kaiser window, 64 zero crossings, rolloff 0.95).

    Works on the last axis; returns the same type it was given.
    """
    if orig_sr == new_sr:
        return x
    as_numpy = isinstance(x, np.ndarray)
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) if as_numpy else x
    y = dsp.resample(t, orig_sr, new_sr)
    return y.numpy() if as_numpy else y


def peak(x: np.ndarray) -> float:
    return float(np.max(np.abs(x))) if x.size else 0.0


@dataclass(frozen=True)
class Clip:
    """A training section: mono or stereo (engine.audio.channels), at the working rate,
    peak-normalised to 1 over its channels."""

    signal: np.ndarray  # [T] or [2, T] (L/R) float32, peak 1
    fs: int  # working rate of `signal`
    gain: float  # multiply `signal` by this to restore the original level
    source_path: str  # the file it came from
    source_sha256: str  # hash of that file's bytes
    source_sr: int  # the file's own sample rate
    source_channels: int  # the file's channel count
    start: float  # seconds into the file
    duration: float  # seconds of the section

    @property
    def seconds(self) -> float:
        return self.signal.shape[-1] / self.fs


def load_clip(
    path: str | os.PathLike[str],
    fs: int,
    *,
    start: float = 0.0,
    duration: float | None = None,
    max_seconds: float | None = None,
    min_samples: int = 0,
    stereo: str = "mono",
) -> Clip:
    """Read `path`, cut [start, start+duration), keep the channels the channel policy says
    (`stereo`: engine.audio.channels.keep_channels; "mono" downmixes), resample to `fs`,
    peak-normalise.

    The working rate is `fs` when the file's rate is higher; a file with a
    lower native rate is resampled up to `fs` (caw-method.md section 2), so all
    scale rates stay as the preset says. `duration` defaults to the rest of the
    file, held to `max_seconds`. Raises AudioError for a section that is empty,
    silent or shorter than `min_samples` at `fs`.
    """
    audio, sr = read_audio(path)
    name = Path(path).name
    total = audio.shape[1] / sr
    if start < 0:
        raise AudioError("The section cannot start before the beginning of the file.")
    if start >= total:
        raise AudioError(f"{name} is {total:.1f} s long; the section cannot start at {start:.1f} s.")
    if duration is not None and duration <= 0:
        raise AudioError("The section must be longer than 0 s.")
    length = total - start if duration is None else min(duration, total - start)
    if max_seconds is not None:
        length = min(length, max_seconds)
    a, b = int(round(start * sr)), int(round((start + length) * sr))
    section = channels.keep_channels(audio[:, a:b], stereo)
    if peak(section) < SILENCE_PEAK:
        raise AudioError(f"The chosen section of {name} is silent; pick a part with sound.")
    work = resample(section, sr, fs)
    assert isinstance(work, np.ndarray)
    if work.shape[-1] < min_samples:
        raise AudioError(
            f"The section of {name} is too short: {length:.2f} s; this preset needs at least "
            f"{min_samples / fs:.2f} s."
        )
    pk = peak(work)
    return Clip(
        signal=(work / pk).astype(np.float32),
        fs=fs,
        gain=pk,
        source_path=str(Path(path).resolve()),
        source_sha256=sha256_file(path),
        source_sr=sr,
        source_channels=audio.shape[0],
        start=float(start),
        duration=float(length),
    )


def save_audio(
    path: str | os.PathLike[str], x: np.ndarray, sr: int, *, subtype: str = "PCM_16"
) -> Path:
    """Write [T] or [C, T] audio atomically; the format follows the suffix (.wav, .flac...)."""
    p = Path(path)
    st = SUBTYPES.get(subtype, subtype)
    data = np.asarray(x, dtype=np.float32)
    data = data[None, :] if data.ndim == 1 else data
    if st != "FLOAT":
        data = np.clip(data, -1.0, 1.0)
    fmt = p.suffix.lstrip(".").upper() or "WAV"
    fmt = {"AIF": "AIFF", "OGA": "OGG"}.get(fmt, fmt)
    if fmt == "FLAC" and st == "FLOAT":
        raise OutputError("FLAC cannot store floating-point samples; choose 16 or 24 bit.")
    with atomic_path(p) as tmp:
        try:
            sf.write(str(tmp), data.T, int(sr), subtype=st, format=fmt)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            if isinstance(exc, OSError):
                raise
            raise OutputError(f"Could not write {p.name}: {exc}") from exc
    return p


def integrated_loudness(x: np.ndarray, sr: int) -> float:
    """ITU-R BS.1770 integrated loudness in LUFS (pyloudnorm, over every channel of [T] or
    [C, T]: a stereo signal is measured as stereo); RMS dBFS for very short signals."""
    import pyloudnorm

    a = np.asarray(x, dtype=np.float32)
    mono = to_mono(a)
    if mono.shape[-1] >= int(0.5 * sr):
        meter = pyloudnorm.Meter(sr)
        value = float(meter.integrated_loudness(a.T.astype(np.float64)))
        if math.isfinite(value):
            return value
    rms = float(np.sqrt(np.mean(np.square(mono)))) if mono.size else 0.0
    return 20.0 * math.log10(max(rms, 1e-9))


def match_loudness(x: np.ndarray, sr: int, target_lufs: float, *, ceiling: float = 0.999) -> np.ndarray:
    """Scale `x` to `target_lufs`, then pull it down if needed so no sample exceeds `ceiling`."""
    current = integrated_loudness(x, sr)
    y = x * (10.0 ** ((target_lufs - current) / 20.0))
    pk = peak(y)
    if pk > ceiling:
        y = y * (ceiling / pk)
    return y.astype(np.float32)


def trim_and_fade(x: np.ndarray, sr: int, *, trim_s: float = 0.2, fade_s: float = 0.01) -> np.ndarray:
    """Cut `trim_s` from both edges (the zero-padding artefacts) and apply short linear fades."""
    n = int(round(trim_s * sr))
    y = x[..., n : x.shape[-1] - n] if x.shape[-1] > 2 * n + 1 else x
    y = np.array(y, dtype=np.float32, copy=True)
    f = min(int(round(fade_s * sr)), y.shape[-1] // 2)
    if f > 0:
        ramp = np.linspace(0.0, 1.0, f, dtype=np.float32)
        y[..., :f] *= ramp
        y[..., y.shape[-1] - f :] *= ramp[::-1]
    return y
