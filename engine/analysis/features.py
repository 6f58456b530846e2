"""Frame features shared by every measure: log-mel in dB, MFCC timbre features, Gaussian fits.

All weight-free (no pretrained embedding is available offline), built on engine.audio.features.LogMel.
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np
import torch

from engine.audio import dsp
from engine.audio.features import LogMel

FeatureKind = Literal["mfcc", "logmel"]

N_MELS = 80
N_MFCC = 20  # c0..c19; c0 (overall level) is dropped
COPY_BAND_LIMIT = 0.9  # the copy detector ignores mel bands centred above this share of Nyquist
EPS = 1e-12


@functools.lru_cache(maxsize=8)
def _logmel_module(sr: int, n_mels: int) -> LogMel:
    return LogMel(sr, n_mels=n_mels)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def _as_mono(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 2:
        a = a.mean(axis=0)
    if a.ndim != 1:
        raise ValueError(f"expected mono audio [T] or [C, T], got shape {a.shape}")
    return np.ascontiguousarray(a)


def match_rms(v: np.ndarray, target_rms: float) -> np.ndarray:
    """`v` scaled to the RMS `target_rms` (returned unchanged when silent)."""
    r = _rms(v)
    return v if r < EPS else (v * (target_rms / r)).astype(np.float32)


def logmel_db(x: np.ndarray, sr: int, *, n_mels: int = N_MELS) -> np.ndarray:
    """Log-mel power in dB, float64 [n_mels, frames] (no floor applied)."""
    with torch.no_grad():
        out = _logmel_module(sr, n_mels)(torch.from_numpy(_as_mono(x)))
    return out.double().numpy()


def frame_seconds(sr: int) -> float:
    """Seconds between log-mel frames at rate `sr`."""
    return _logmel_module(sr, N_MELS).hop / sr


@functools.lru_cache(maxsize=8)
def mel_centres(sr: int, n_mels: int = N_MELS) -> np.ndarray:
    """Centre frequency (Hz, the filters' weighted mean) of each band of `logmel_db` at `sr`."""
    fb = _logmel_module(sr, n_mels).fb.double().numpy()  # [n_freqs, n_mels]
    freqs = np.linspace(0.0, sr / 2, fb.shape[0])
    return (fb * freqs[:, None]).sum(axis=0) / np.maximum(fb.sum(axis=0), EPS)


@functools.lru_cache(maxsize=8)
def copy_bands(sr: int, n_mels: int = N_MELS) -> np.ndarray:
    """Mel bands the copy detector uses: those centred below COPY_BAND_LIMIT x Nyquist.

    The top bands are left out because any resampling (a variation written at another
    rate and read back) removes them, and a copy must still be recognised as one.
    """
    return mel_centres(sr, n_mels) <= COPY_BAND_LIMIT * sr / 2


@functools.lru_cache(maxsize=4)
def _dct(n_mels: int, n_mfcc: int) -> np.ndarray:
    return dsp.dct_matrix(n_mfcc, n_mels)  # [n_mels, n_mfcc]


def timbre_features(mel_db: np.ndarray, kind: FeatureKind = "mfcc") -> np.ndarray:
    """Per-frame features [frames, dims]: MFCCs without c0, or the log-mel frames themselves."""
    if kind == "logmel":
        return mel_db.T.copy()
    if kind == "mfcc":
        return (mel_db.T @ _dct(mel_db.shape[0], N_MFCC))[:, 1:]
    raise ValueError(f"unknown feature kind {kind!r}; use 'mfcc' or 'logmel'")


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and covariance [D, D] over frames of [frames, D] features."""
    mu = features.mean(axis=0)
    if features.shape[0] < 2:
        return mu, np.zeros((features.shape[1], features.shape[1]))
    return mu, np.cov(features, rowvar=False)


def frechet(
    mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray
) -> float:
    """Fréchet distance between two Gaussians (float64, clamped at 0)."""
    return dsp.frechet_distance(mu_a, cov_a, mu_b, cov_b)
