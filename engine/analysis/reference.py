"""The training clip's precomputed features (`Reference`), computed once per clip.

Every per-variation measure compares against a Reference: the floored log-mel, the timbre
statistics, the long-term spectrum, the copy detector's patches and a low-rate copy of the
waveform for cross-correlations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.analysis.features import (
    EPS,
    FeatureKind,
    _as_mono,
    _rms,
    copy_bands,
    frame_seconds,
    gaussian_stats,
    logmel_db,
    timbre_features,
)
from engine.audio.io import resample
from engine.errors import AudioError

DYNAMIC_RANGE_DB = 80.0  # log-mel values are floored at the clip's maximum minus this
XCORR_MAX_RATE = 8000  # waveform correlations are computed at this rate at most (speed)
PATCH_SECONDS = 0.1  # length of the log-mel patches compared by the copy detector


@dataclass(frozen=True)
class Reference:
    """The training clip x with everything the per-variation measures compare against."""

    signal: np.ndarray  # [T] float32 mono at sr
    sr: int
    rms: float  # RMS of signal; variations are scaled to it
    floor_db: float  # log-mel floor: the clip's maximum minus DYNAMIC_RANGE_DB
    mel_db: np.ndarray  # [n_mels, frames] floored log-mel in dB
    kind: FeatureKind  # timbre features used
    mu: np.ndarray  # [D] mean of the timbre features
    cov: np.ndarray  # [D, D] covariance of the timbre features
    ltas_db: np.ndarray  # [n_mels] long-term average mel power, dB
    bin_std: np.ndarray  # [n_mels] std over frames of each log-mel bin, dB
    patches: torch.Tensor  # [frames - P + 1, bands * P] centred, unit-norm log-mel patches
    patch_frames: int  # P
    xcorr_signal: np.ndarray  # signal at xcorr_rate, for waveform correlations
    xcorr_rate: int

    @property
    def seconds(self) -> float:
        return self.signal.shape[-1] / self.sr

    @property
    def hop_seconds(self) -> float:
        return frame_seconds(self.sr)


def _floored(mel: np.ndarray, floor_db: float) -> np.ndarray:
    return np.maximum(mel, floor_db)


def _ltas(mel_floored: np.ndarray) -> np.ndarray:
    power = np.power(10.0, mel_floored / 10.0).mean(axis=1)
    return 10.0 * np.log10(power + EPS)


def _patches(mel_floored: np.ndarray, centre: np.ndarray, p: int, sr: int) -> torch.Tensor:
    """Log-mel patches of p consecutive frames as unit vectors: [n, bands * p].

    Each band is centred by the clip's mean (`centre`), then each patch loses its own
    mean, so that similarity follows spectral shape and movement rather than overall
    level (otherwise any quiet, dull sound resembles the clip's quietest moment).
    Only the bands of `copy_bands(sr)` are used.
    """
    keep = copy_bands(sr, mel_floored.shape[0])
    c = torch.from_numpy((mel_floored - centre[:, None])[keep].T.astype(np.float32))  # [F, B]
    if c.shape[0] < p:
        c = torch.nn.functional.pad(c, (0, 0, 0, p - c.shape[0]))
    win = c.unfold(0, p, 1)  # [n, n_mels, p]
    flat = win.reshape(win.shape[0], -1)
    flat = flat - flat.mean(dim=1, keepdim=True)
    return flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-6)


def prepare_reference(
    x: np.ndarray, sr: int, *, kind: FeatureKind = "mfcc", patch_seconds: float = PATCH_SECONDS,
) -> Reference:
    """Compute the clip's features once; every `evaluate_variation` against it reuses them."""
    sig = _as_mono(x)
    if sig.size == 0 or _rms(sig) < EPS:
        raise AudioError("The clip to compare against is empty or silent.")
    raw = logmel_db(sig, sr)
    floor = float(raw.max()) - DYNAMIC_RANGE_DB
    mel = _floored(raw, floor)
    mu, cov = gaussian_stats(timbre_features(mel, kind))
    p = max(1, int(round(patch_seconds / frame_seconds(sr))))
    xr = min(sr, XCORR_MAX_RATE)
    xs = np.asarray(resample(sig, sr, xr), dtype=np.float32)
    return Reference(
        signal=sig, sr=sr, rms=_rms(sig), floor_db=floor, mel_db=mel, kind=kind, mu=mu, cov=cov,
        ltas_db=_ltas(mel), bin_std=mel.std(axis=1), patches=_patches(mel, mel.mean(axis=1), p, sr),
        patch_frames=p, xcorr_signal=xs, xcorr_rate=xr,
    )
