"""The scale pyramid: which rates, each scale's real signal, up-sampling between scales."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from engine.audio.io import resample
from engine.config import TrainConfig
from engine.errors import AudioError

# A discriminator must see at least this many positions beyond its receptive field.
MIN_D_POSITIONS = 64


def candidate_rates(cfg: TrainConfig) -> list[int]:
    """Candidate scale rates for the working rate: those <= fs, high top scales, fs last."""
    rates = [r for r in cfg.candidate_rates if r <= cfg.fs]
    rates += [r for r in cfg.high_rates if rates and rates[-1] < r <= cfg.fs]
    if not rates or rates[-1] != cfg.fs:
        rates.append(cfg.fs)
    return rates


def min_samples_at(rate: int, seconds: float) -> int:
    return int(round(rate * seconds))


def choose_rates(signal: np.ndarray, cfg: TrainConfig) -> list[int]:
    """The scale rates for a peak-normalised clip at cfg.fs, coarse to fine.

    Walk up from the coarsest candidate and skip those whose mean square is below
    cfg.energy_threshold (music mode), or below 500 Hz (speech mode). A scale must
    also hold more samples than the receptive field (plus MIN_D_POSITIONS), so a
    short clip starts at a finer rate. If no candidate passes the energy test the
    pyramid starts at cfg.fallback_first_rate.
    """
    seconds = signal.shape[-1] / cfg.fs
    need = cfg.receptive_field + MIN_D_POSITIONS
    rates = [r for r in candidate_rates(cfg) if min_samples_at(r, seconds) >= need]
    if not rates:
        raise AudioError(
            f"The section is too short ({seconds:.2f} s): at {cfg.fs} Hz the model needs at least "
            f"{need / cfg.fs:.2f} s."
        )
    if cfg.mode == "speech":
        return [r for r in rates if r >= 500] or rates[-1:]
    for i, r in enumerate(rates):
        x = resample(signal, cfg.fs, r)
        if float(np.mean(np.square(x))) >= cfg.energy_threshold:
            return rates[i:]
    return [r for r in rates if r >= cfg.fallback_first_rate] or rates[-1:]


def scale_signals(signal: np.ndarray, fs: int, rates: list[int]) -> list[np.ndarray]:
    """Each scale's real signal, resampled directly from the full-rate signal."""
    seconds = signal.shape[-1] / fs
    out = []
    for r in rates:
        x = np.asarray(resample(signal, fs, r), dtype=np.float32)
        n = min_samples_at(r, seconds)
        out.append(_fit_length(x, n))
    return out


def _fit_length(x: np.ndarray, n: int) -> np.ndarray:
    if x.shape[-1] >= n:
        return np.ascontiguousarray(x[..., :n])
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])])


def energies(signals: list[np.ndarray]) -> list[float]:
    return [float(np.mean(np.square(x))) for x in signals]


def noise_amplitudes(scale_energies: list[float], factor: float = 0.01) -> list[float]:
    """noise_amp_0 = 1; noise_amp_s = factor * sqrt(max(0, E_s - E_{s-1})).

    The music-mode override of scale 1 (std of the upsampled coarse
    reconstruction) is applied by the trainer once scale 0 is trained.
    """
    amps = [1.0]
    for prev, cur in zip(scale_energies, scale_energies[1:], strict=False):
        amps.append(factor * math.sqrt(max(0.0, cur - prev)))
    return amps


def _keys_weights(t: torch.Tensor, a: float = -0.5) -> torch.Tensor:
    """Keys cubic kernel weights for the 4 taps at offsets -1, 0, 1, 2 of fractional position t."""
    d = torch.stack([t + 1.0, t, 1.0 - t, 2.0 - t], dim=-1).abs()
    near = (a + 2.0) * d**3 - (a + 3.0) * d**2 + 1.0
    far = a * d**3 - 5.0 * a * d**2 + 8.0 * a * d - 4.0 * a
    return torch.where(d <= 1.0, near, torch.where(d < 2.0, far, torch.zeros_like(d)))


@functools.lru_cache(maxsize=64)
def _upsample_plan(n_in: int, n_out: int, ratio: float) -> tuple[torch.Tensor, torch.Tensor]:
    pos = (torch.arange(n_out, dtype=torch.float64) + 0.5) / ratio - 0.5
    base = torch.floor(pos)
    t = (pos - base).to(torch.float32)
    idx = base.to(torch.long)[:, None] + torch.arange(-1, 3)[None, :]
    # half-sample symmetric edges: x[-1] = x[0], x[n] = x[n-1]
    idx = torch.where(idx < 0, -idx - 1, idx)
    idx = torch.where(idx >= n_in, 2 * n_in - idx - 1, idx)
    idx = idx.clamp(0, n_in - 1)
    return idx, _keys_weights(t)


def upsample(x: torch.Tensor, rate_in: int, rate_out: int, n_out: int) -> torch.Tensor:
    """Cubic (Keys, a=-0.5), centre-aligned up-sampling of [..., T] to exactly n_out samples."""
    n_in = x.shape[-1]
    idx, w = _upsample_plan(n_in, n_out, rate_out / rate_in)
    idx, w = idx.to(x.device), w.to(device=x.device, dtype=x.dtype)
    taps = x[..., idx]  # [..., n_out, 4]
    return (taps * w).sum(-1)


# Input samples of mirrored signal put before and after a band-limited upsampling, so the
# resampler's kernel (68 input samples either side at 64 zero crossings) sees music, not zeros.
_BAND_LIMITED_EDGE = 72


def upsample_band_limited(x: torch.Tensor, rate_in: int, rate_out: int, n_out: int) -> torch.Tensor:
    """Band-limited (windowed-sinc) up-sampling of [..., T] to exactly n_out samples.

    Cubic interpolation leaves images of the coarser band above its Nyquist: from 32 to
    44.1 kHz, those of 10-16 kHz content land at 16-22 kHz about 29 dB down, where real music
    is 45-50 dB down, and a top generator passes them through as hiss (bench/README.md,
    "Studio treble"). This is the resampler the scales' real signals are made with (Kaiser
    window, 64 zero crossings, rolloff 0.95), start-aligned like them; the ends are mirrored
    first, so the first and last samples are not faded towards zero.
    """
    g = math.gcd(int(rate_in), int(rate_out))
    unit_in, unit_out = int(rate_in) // g, int(rate_out) // g
    units = -(-_BAND_LIMITED_EDGE // unit_in)  # whole resampler periods, so the offset is exact
    pad = units * unit_in
    lead = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1])
    mode = "reflect" if flat.shape[-1] > pad else "replicate"
    padded = torch.nn.functional.pad(flat[:, None, :], (pad, pad), mode=mode)[:, 0, :]
    y = resample(padded, rate_in, rate_out)[:, units * unit_out:]
    if y.shape[-1] < n_out:
        y = torch.nn.functional.pad(y[:, None, :], (0, n_out - y.shape[-1]), mode="replicate")[:, 0, :]
    return y[:, :n_out].reshape(*lead, n_out)


def scale_upsampler(band_limited_above: int):
    """The up-sampler into each scale: band-limited into scales above `band_limited_above` Hz
    (0: none), cubic (the reference) below. Returns f(x, rate_in, rate_out, n_out)."""
    def up(x: torch.Tensor, rate_in: int, rate_out: int, n_out: int) -> torch.Tensor:
        if band_limited_above and rate_out > band_limited_above:
            return upsample_band_limited(x, rate_in, rate_out, n_out)
        return upsample(x, rate_in, rate_out, n_out)
    return up
