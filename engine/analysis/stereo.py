"""Stereo measures: how wide a two-channel signal is, band by band, and how it survives mono.

For a signal [2, T] (left, right) at rate `sr`, per frequency band (`STEREO_BANDS`, cut at the
Nyquist frequency):

- correlation: the inter-channel correlation, Re(sum L R*) / sqrt(sum |L|^2 sum |R|^2) over the
  STFT bins and frames of the band, i.e. the zero-lag normalised correlation of the band-passed
  channels. 1 = identical channels (mono), 0 = unrelated (or one channel silent), -1 = one
  channel inverted (vanishes in mono).
- side_to_mid: energy of the side S = (L - R) / 2 over the energy of the mid M = (L + R) / 2.
  0 = mono, 1 = one channel only (hard-panned), large = out of phase. `side_to_mid_db` is the
  same in dB, floored at SIDE_FLOOR_DB so that mono reads as a number, not -inf.

Whole signal: `mono_change_db`, the level change when the channels are summed to mono
((L + R) / 2 against the RMS of both channels): 0 dB for identical channels, -3 dB for one
channel alone or for two unrelated channels, very negative when the channels cancel.

A variation's numbers mean something next to the original section's and next to two baselines
(`stereo_baselines`): the original's mid copied to both channels (width gone) and two
independent mono takes as left and right (width without a coherent image).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import AudioError

# Band edges in Hz; the last band runs to the Nyquist frequency.
STEREO_BANDS: tuple[float, ...] = (0.0, 200.0, 1000.0, 4000.0, 8000.0, 16000.0)
SIDE_FLOOR_DB = -60.0
N_FFT = 2048
HOP = 512
EPS = 1e-20


@dataclass(frozen=True)
class BandStereo:
    low_hz: float
    high_hz: float
    correlation: float
    side_to_mid: float
    side_to_mid_db: float


@dataclass(frozen=True)
class StereoMetrics:
    bands: tuple[BandStereo, ...]
    correlation: float  # over the whole band
    side_to_mid: float
    side_to_mid_db: float
    mono_change_db: float

    def to_dict(self) -> dict[str, object]:
        return {
            "correlation": round(self.correlation, 6),
            "side_to_mid": round(self.side_to_mid, 6),
            "side_to_mid_db": round(self.side_to_mid_db, 3),
            "mono_change_db": round(self.mono_change_db, 3),
            "bands": [
                {"low_hz": b.low_hz, "high_hz": b.high_hz, "correlation": round(b.correlation, 6),
                 "side_to_mid": round(b.side_to_mid, 6),
                 "side_to_mid_db": round(b.side_to_mid_db, 3)}
                for b in self.bands
            ],
        }


def _as_stereo(x: np.ndarray) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != 2:
        raise AudioError(f"Stereo measures need two channels as [2, samples]; got shape {a.shape}.")
    if a.shape[1] < N_FFT:
        raise AudioError(f"Stereo measures need at least {N_FFT} samples per channel.")
    return a


def _db(ratio: float) -> float:
    return SIDE_FLOOR_DB if ratio <= 10 ** (SIDE_FLOOR_DB / 10) else 10 * math.log10(ratio)


def _band_stats(left: torch.Tensor, right: torch.Tensor, rows: torch.Tensor) -> tuple[float, float]:
    ll = float((left[rows].abs() ** 2).sum())
    rr = float((right[rows].abs() ** 2).sum())
    lr = float((left[rows] * right[rows].conj()).real.sum())
    # with one channel silent the correlation is 0 (nothing in common), not undefined
    corr = lr / math.sqrt(ll * rr) if ll > EPS and rr > EPS else 0.0
    mid = (ll + rr + 2 * lr) / 4
    side = (ll + rr - 2 * lr) / 4
    ratio = side / mid if mid > EPS else (0.0 if side <= EPS else math.inf)
    return max(-1.0, min(1.0, corr)), ratio


def stereo_metrics(x: np.ndarray, sr: int) -> StereoMetrics:
    """The stereo measures of `x` [2, T] at rate `sr` (see the module docstring)."""
    a = _as_stereo(x)
    window = torch.hann_window(N_FFT, dtype=torch.float64)
    spec = torch.stft(torch.from_numpy(a), N_FFT, HOP, window=window, return_complex=True)
    left, right = spec[0], spec[1]  # [bins, frames]
    freqs = torch.arange(left.shape[0], dtype=torch.float64) * sr / N_FFT
    nyquist = sr / 2
    edges = [e for e in STEREO_BANDS if e < nyquist] + [nyquist]
    bands = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        rows = (freqs >= lo) & (freqs < hi) if hi < nyquist else (freqs >= lo)
        corr, ratio = _band_stats(left, right, rows)
        bands.append(BandStereo(float(lo), float(hi), corr, ratio, _db(ratio)))
    corr, ratio = _band_stats(left, right, torch.ones_like(freqs, dtype=torch.bool))
    both = math.sqrt(float(np.mean(a**2)))
    mono = math.sqrt(float(np.mean(((a[0] + a[1]) / 2) ** 2)))
    change = 20 * math.log10(max(mono, 1e-12) / both) if both > 0 else 0.0
    return StereoMetrics(tuple(bands), corr, ratio, _db(ratio), change)


def stereo_baselines(
    original: np.ndarray, sr: int, takes: Sequence[np.ndarray] = ()
) -> dict[str, StereoMetrics]:
    """Reference points for a variation's stereo measures, on the same section.

    "original": the section itself. "mid to both": its mid copied to both channels (no width).
    "independent takes": the mid of two different takes as left and right (width with no
    coherent image), when at least two `takes` ([2, T] or [T]) are given.
    """
    a = _as_stereo(original)
    mid = (a[0] + a[1]) / 2
    out = {
        "original": stereo_metrics(a, sr),
        "mid to both": stereo_metrics(np.stack([mid, mid]), sr),
    }
    if len(takes) >= 2:
        first, second = (np.asarray(t, dtype=np.float64) for t in takes[:2])
        first = first.mean(axis=0) if first.ndim == 2 else first
        second = second.mean(axis=0) if second.ndim == 2 else second
        n = min(first.shape[-1], second.shape[-1])
        out["independent takes"] = stereo_metrics(np.stack([first[:n], second[:n]]), sr)
    return out


# ---- a variation's image against the original's --------------------------------------------

# image_error's correlation error under which a take's image reads as the original's, and the
# side/mid change (dB) beyond which it reads as narrower or wider
IMAGE_CORR_CLOSE = 0.15
IMAGE_WIDTH_DB = 3.0


def image_error(m: StereoMetrics, ref: StereoMetrics) -> dict[str, float]:
    """How far an image is from the original's, band by band (0 = the same image): the mean over
    bands of |correlation - the original's|, the mean of |side/mid dB - the original's|, the
    mean signed side/mid change (dB; below 0 = narrower), and the mono level change's error."""
    pairs = list(zip(m.bands, ref.bands, strict=True))
    return {
        "correlation_error": float(np.mean([abs(a.correlation - b.correlation) for a, b in pairs])),
        "side_mid_db_error": float(np.mean([abs(a.side_to_mid_db - b.side_to_mid_db) for a, b in pairs])),
        "width_change_db": float(np.mean([a.side_to_mid_db - b.side_to_mid_db for a, b in pairs])),
        "mono_change_error_db": abs(m.mono_change_db - ref.mono_change_db),
    }


def image_words(m: StereoMetrics, ref: StereoMetrics) -> str:
    """A musician's words for a take's stereo image next to the original's."""
    err = image_error(m, ref)
    if m.side_to_mid_db <= SIDE_FLOOR_DB + 1e-6:
        return "stereo: mono (no width)"
    if err["correlation_error"] > 2 * IMAGE_CORR_CLOSE and m.correlation < ref.correlation - 0.3:
        return f"stereo: channels unrelated (correlation {m.correlation:.2f}, original {ref.correlation:.2f})"
    if err["width_change_db"] < -IMAGE_WIDTH_DB:
        shape = "narrower"
    elif err["width_change_db"] > IMAGE_WIDTH_DB:
        shape = "wider"
    else:
        shape = "like the original" if err["correlation_error"] <= IMAGE_CORR_CLOSE else "close"
    return (f"stereo: {shape} (side/mid {err['width_change_db']:+.0f} dB against the original's, "
            f"mean over bands; correlation {m.correlation:.2f}, original {ref.correlation:.2f})")


def stereo_report(original: np.ndarray, sr: int, variations: dict[str, np.ndarray]) -> dict[str, object]:
    """The stereo measures of each variation ([2, T]; a mono one is measured as mono on both
    channels) beside the original's and the baselines (stereo_baselines, the independent takes
    made from the first two variations), with each one's image error against the original."""
    def two(x: np.ndarray) -> np.ndarray:
        a = np.asarray(x, dtype=np.float64)
        return np.stack([a, a]) if a.ndim == 1 else a

    base = stereo_baselines(original, sr, list(variations.values()))
    ref = base["original"]
    rows: dict[str, object] = {}
    for name, x in variations.items():
        m = stereo_metrics(two(x), sr)
        rows[name] = {**m.to_dict(), **image_error(m, ref), "words": image_words(m, ref)}
    return {"original": ref.to_dict(),
            "baselines": {k: {**v.to_dict(), **image_error(v, ref)} for k, v in base.items()
                          if k != "original"},
            "variations": rows}


def format_stereo_report(report: dict[str, object]) -> str:
    """The stereo report as a table: correlation, side/mid and mono change, image errors."""
    head = (f"{'stereo':<24} {'corr':>6} {'side/mid dB':>11} {'mono dB':>8} {'corr err':>8} "
            f"{'width err dB':>12}")
    out = [head]

    def row(name: str, d: dict) -> str:
        return (f"{name[:24]:<24} {d['correlation']:>6.2f} {d['side_to_mid_db']:>11.1f} "
                f"{d['mono_change_db']:>8.2f} {d.get('correlation_error', 0.0):>8.2f} "
                f"{d.get('side_mid_db_error', 0.0):>12.1f}")

    out.append(row("original", report["original"]))  # type: ignore[arg-type]
    for name, d in report["baselines"].items():  # type: ignore[union-attr]
        out.append(row(f"baseline: {name}", d))
    for name, d in report["variations"].items():  # type: ignore[union-attr]
        out.append(row(name, d) + f"  {d['words']}")
    return "\n".join(out)
