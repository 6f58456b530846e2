"""Reconstruction measures: how well the model reproduces the clip (a training health check)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from engine.analysis.features import EPS, _as_mono
from engine.analysis.measures import _json_float

MAX_SNR_DB = 200.0  # SNR of an exact reconstruction (instead of infinity)


@dataclass(frozen=True)
class ReconstructionMetrics:
    """How well the reconstruction y reproduces x (training health check).

    snr_db: 10 log10(|x|^2 / |x - y|^2), capped at MAX_SNR_DB; higher is better.
    lsd_db: log-spectral distance, per frame sqrt(mean_f (10 log10 Px - 10 log10 Py)^2),
    averaged over frames (STFT 64 ms); 0 = identical, lower is better.
    mrstft: multi-resolution STFT distance, mean over 3 resolutions of spectral
    convergence (|Y|-|X| Frobenius / |X| Frobenius) plus mean |log |X| - log |Y||;
    0 = identical, lower is better.
    """

    snr_db: float
    lsd_db: float
    mrstft: float

    def to_dict(self) -> dict[str, float]:
        return {k: _json_float(v) for k, v in asdict(self).items()}


def _stft_mag(x: torch.Tensor, n_fft: int) -> torch.Tensor:
    return torch.stft(
        x, n_fft=n_fft, hop_length=n_fft // 4, window=torch.hann_window(n_fft, dtype=x.dtype),
        center=True, return_complex=True,
    ).abs()


def snr_db(x: np.ndarray, y: np.ndarray) -> float:
    """Signal-to-error ratio of y against x in dB; MAX_SNR_DB for an exact match."""
    x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    err = float(np.sum(np.square(x64 - y64)))
    sig = float(np.sum(np.square(x64)))
    if err <= sig * 10.0 ** (-MAX_SNR_DB / 10.0):
        return MAX_SNR_DB
    return 10.0 * math.log10(max(sig, EPS) / err)


def reconstruction_metrics(x: np.ndarray, y: np.ndarray, sr: int) -> ReconstructionMetrics:
    """Compare reconstruction `y` with clip `x` (same rate; cropped to the shorter)."""
    x1, y1 = _as_mono(x), _as_mono(y)
    n = min(x1.size, y1.size)
    x1, y1 = x1[:n], y1[:n]
    tx, ty = torch.from_numpy(x1).double(), torch.from_numpy(y1).double()
    base = 1 << int(round(math.log2(max(sr * 0.064, 128))))  # 1024 at 16 kHz
    px, py = _stft_mag(tx, base) ** 2, _stft_mag(ty, base) ** 2
    floor = float(px.max()) * 1e-8 + 1e-12  # 80 dB below the clip's strongest bin
    d = 10.0 * (torch.log10(px + floor) - torch.log10(py + floor))
    lsd = float(d.square().mean(dim=0).sqrt().mean())
    terms = []
    for n_fft in (base * 2, base, base // 2):
        mx, my = _stft_mag(tx, n_fft), _stft_mag(ty, n_fft)
        sc = float(torch.linalg.norm(my - mx) / torch.linalg.norm(mx).clamp_min(1e-9))
        eps = float(mx.max()) * 1e-4 + 1e-9
        mag = float((torch.log(mx + eps) - torch.log(my + eps)).abs().mean())
        terms.append(sc + mag)
    return ReconstructionMetrics(snr_db=snr_db(x1, y1), lsd_db=lsd, mrstft=float(np.mean(terms)))
