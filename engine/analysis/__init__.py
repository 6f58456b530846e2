"""Objective quality measures for generated variations (docs: metrics.md).

No pretrained embedding is available offline, so every measure is built from
weight-free signal features (log-mel frames from engine.features). A number
means something only next to its baselines, computed on the same clip:

- real vs real: the clip's two interleaved halves (odd against even 2 s blocks), and
  another excerpt of the same song when there is one;
- cut-and-paste: the clip cut into 1-2 s pieces and shuffled (a disguised copy);
- shaped noise: white noise filtered to the clip's average spectrum;
- untrained generator: the project's pyramid with freshly initialised weights.

Everything compares a variation v with the training clip x at the same (working)
rate. Both are brought to the same RMS level first, so the numbers describe
spectral shape, texture and structure rather than loudness (the level
difference is reported separately as `level_db`).

Per variation (`VariationMetrics`), lower is closer for the first two:
- timbre_fd: Fréchet distance between the Gaussian fits (mean, covariance) of the
  per-frame features of v and x (MFCCs c1..c19 by default, or log-mel frames in dB).
  0 = the same statistics. Order-blind: a verbatim copy also scores ~0.
- ltas_db: RMS over mel bands of the difference of the long-term average spectra, dB.
- max_xcorr: max |normalised cross-correlation| over all lags (waveforms); 1 = a
  (possibly shifted) verbatim copy, ~0 = unrelated. Lower is more novel.
- local_xcorr: mean over 1 s windows of v of the best normalised match anywhere in x;
  catches copied pieces that the global value averages away. Lower is more novel.
- copy_ratio: share of v's frames whose log-mel patch has a nearly identical patch in x
  (cosine >= threshold) *and* whose neighbours match x's neighbours in the same order.
  1 = all copied, 0 = nothing copied. Lower is more novel.
- longest_copy_s: the longest such run of copied frames, in seconds. Lower is more novel.

Among variations (`DiversityMetrics`), higher is more diverse; 0 = all identical.
Reconstruction (`ReconstructionMetrics`): a training health check; lower distances and
higher SNR are better.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from engine import dsp
from engine.audio_io import resample
from engine.errors import AudioError
from engine.features import LogMel

FeatureKind = Literal["mfcc", "logmel"]

N_MELS = 80
N_MFCC = 20  # c0..c19; c0 (overall level) is dropped
DYNAMIC_RANGE_DB = 80.0  # log-mel values are floored at the clip's maximum minus this
XCORR_MAX_RATE = 8000  # waveform correlations are computed at this rate at most (speed)
MAX_SNR_DB = 200.0  # SNR of an exact reconstruction (instead of infinity)
COPY_THRESHOLD = 0.9  # cosine similarity of centred log-mel patches that counts as "the same"
COPY_CONTINUE = 0.8  # similarity that keeps an in-order run going once started (hysteresis)
PATCH_SECONDS = 0.1  # length of the log-mel patches compared by the copy detector
SILENCE_BELOW_DB = 60.0  # patches this far below the clip's loudest frame never count as copies
XCORR_FOLLOWS = 0.6  # quick_verdict: waveform correlation that means "follows the original"
COPY_BAND_LIMIT = 0.9  # the copy detector ignores mel bands centred above this share of Nyquist
EPS = 1e-12


# ---- features ------------------------------------------------------------------------------


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
def copy_bands(sr: int, n_mels: int = N_MELS) -> np.ndarray:
    """Mel bands the copy detector uses: those centred below COPY_BAND_LIMIT x Nyquist.

    The top bands are left out because any resampling (a variation written at another
    rate and read back) removes them, and a copy must still be recognised as one.
    """
    fb = _logmel_module(sr, n_mels).fb.double().numpy()  # [n_freqs, n_mels]
    freqs = np.linspace(0.0, sr / 2, fb.shape[0])
    centre = (fb * freqs[:, None]).sum(axis=0) / np.maximum(fb.sum(axis=0), EPS)
    return centre <= COPY_BAND_LIMIT * sr / 2


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


# ---- the clip's precomputed features --------------------------------------------------------


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


# ---- per-variation measures -----------------------------------------------------------------


@dataclass(frozen=True)
class VariationMetrics:
    """How one signal relates to the training clip. See the module docstring for directions."""

    timbre_fd: float  # Fréchet distance of frame features; ~real-vs-real is good, lower = closer
    ltas_db: float  # long-term spectrum distance, dB RMS over mel bands; lower = closer
    max_xcorr: float  # max |normalised cross-correlation| over all lags; 1 = copy; lower = novel
    local_xcorr: float  # mean over 1 s windows of the best match in x; lower = more novel
    copy_ratio: float  # share of frames copied in order; lower = more novel
    longest_copy_s: float  # longest copied run, seconds; lower = more novel
    level_db: float  # RMS level of v relative to x before matching, dB (information only)
    seconds: float  # length of v

    def to_dict(self) -> dict[str, float]:
        return {k: _json_float(v) for k, v in asdict(self).items()}


def _json_float(v: float) -> float:
    return round(float(v), 6)


def timbre_distance(ref: Reference, mel_v: np.ndarray) -> float:
    """Fréchet distance between v's and x's per-frame timbre features (see Reference.kind)."""
    mu, cov = gaussian_stats(timbre_features(mel_v, ref.kind))
    return frechet(mu, cov, ref.mu, ref.cov)


def ltas_distance(ref: Reference, mel_v: np.ndarray) -> float:
    """RMS over mel bands of the long-term-average-spectrum difference in dB (0 = identical)."""
    return float(np.sqrt(np.mean(np.square(_ltas(mel_v) - ref.ltas_db))))


def max_normalised_xcorr(
    v: np.ndarray, x: np.ndarray, *, min_overlap: int | None = None
) -> float:
    """max over lags of |<v_o, x_o>| / (|v_o| |x_o|), v_o, x_o the overlapping parts.

    Normalising by the overlapping parts (not the whole signals) makes a time-shifted
    copy score ~1 too. Lags whose overlap is shorter than `min_overlap` samples
    (default: a quarter of the shorter signal) are ignored: tiny overlaps correlate by
    chance. Computed with FFTs (scipy.signal.fftconvolve).
    """
    from scipy.signal import fftconvolve

    v64, x64 = np.asarray(v, np.float64), np.asarray(x, np.float64)
    nv, nx = v64.size, x64.size
    if nv == 0 or nx == 0:
        return 0.0
    shorter = min(nv, nx)
    need = max(1, shorter // 4 if min_overlap is None else min(min_overlap, shorter))
    c = fftconvolve(v64, x64[::-1], mode="full")  # c[k]: v[n] * x[n - lag], lag = k - (nx - 1)
    lag = np.arange(c.size) - (nx - 1)
    lo_v, hi_v = np.maximum(0, lag), np.minimum(nv, nx + lag)  # overlap in v: [lo_v, hi_v)
    overlap = hi_v - lo_v
    cv = np.concatenate([[0.0], np.cumsum(v64 * v64)])
    cx = np.concatenate([[0.0], np.cumsum(x64 * x64)])
    ev = cv[hi_v] - cv[lo_v]
    ex = cx[hi_v - lag] - cx[lo_v - lag]
    ok = overlap >= need
    ncc = np.abs(c[ok]) / np.sqrt(ev[ok] * ex[ok] + EPS)
    return float(min(1.0, ncc.max())) if ncc.size else 0.0


def local_xcorr(
    v: np.ndarray, x: np.ndarray, sr: int, *, window_s: float = 1.0, max_windows: int = 24
) -> float:
    """Mean over windows of v (window_s long) of the best normalised match anywhere in x.

    Each window w is slid over x; the score at a position is |<w, x_p>| / (|w| |x_p|) with
    x_p the part of x under it. 1 = every window of v occurs verbatim somewhere in x
    (cut-and-paste); unrelated audio gives a small value. Silent windows are skipped;
    at most `max_windows` evenly spread windows are used.
    """
    import scipy.fft as sfft

    n = int(round(window_s * sr))
    x32, v32 = np.asarray(x, np.float32), np.asarray(v, np.float32)
    n = min(n, v32.size, x32.size)
    if n < 2:
        return 0.0
    starts = np.arange(0, v32.size - n + 1, n)
    if starts.size > max_windows:
        starts = starts[np.linspace(0, starts.size - 1, max_windows).round().astype(int)]
    length = sfft.next_fast_len(x32.size + n, real=True)
    fx = sfft.rfft(x32, length)
    cx = np.concatenate([[0.0], np.cumsum(np.square(x32, dtype=np.float64))])
    ex = cx[n:] - cx[:-n]  # energy of x[p:p+n], p = 0 .. nx-n
    floor = 1e-6 * float(np.max(ex))
    scores = []
    for s in starts:
        w = v32[s : s + n]
        ew = float(np.dot(w, w))
        if ew < 1e-9 * n:
            continue
        corr = sfft.irfft(fx * np.conj(sfft.rfft(w, length)), length)[: x32.size - n + 1]
        ncc = np.abs(corr) / np.sqrt(ew * np.maximum(ex, floor))
        scores.append(min(1.0, float(ncc.max())))
    return float(np.mean(scores)) if scores else 0.0


@dataclass(frozen=True)
class CopyMatch:
    """Result of the copy detector, frame by frame."""

    similarity: np.ndarray  # [n] cosine similarity of each patch of v to its nearest patch of x
    index: np.ndarray  # [n] index of that nearest patch in x
    copied: np.ndarray  # [n] bool: part of an in-order run of nearly identical patches
    ratio: float  # copied.mean()
    longest_s: float  # longest in-order run, seconds


def _in_order_runs(
    pv: np.ndarray, px: np.ndarray, idx: np.ndarray, good: np.ndarray, loud: np.ndarray,
    keep: float,
) -> tuple[np.ndarray, int]:
    """Runs of v's patches that follow a stretch of x in the same order.

    A run starts at a `good` patch i (its nearest neighbour idx[i] is similar enough)
    with the offset a = idx[i] - i, and continues while the next patch of v is similar
    (>= `keep`, a little lower than the start threshold, so one transient smeared by a
    sub-frame shift does not cut a copy in two) to the patch of x on the same diagonal
    (i + a, give or take one frame), even when its global nearest neighbour is another
    occurrence of repeated material. A stationary sound that keeps matching the same
    patch of x does not make a run. Returns the copied mask (members of runs of two
    patches or more) and the longest run, in patches.
    """
    n, m = pv.shape[0], px.shape[0]
    copied = np.zeros(n, dtype=bool)
    longest, start, anchor = 0, -1, 0
    for i in range(n + 1):
        if i < n and start >= 0 and loud[i]:
            lo, hi = max(0, i + anchor - 1), min(m, i + anchor + 2)
            if lo < hi and float(np.max(px[lo:hi] @ pv[i])) >= keep:
                continue
        if start >= 0 and i - start >= 2:
            copied[start:i] = True
            longest = max(longest, i - start)
        start, anchor = (i, int(idx[i]) - i) if i < n and good[i] else (-1, 0)
    return copied, longest


def copy_detect(
    ref: Reference, mel_v: np.ndarray, *, threshold: float = COPY_THRESHOLD, chunk: int = 2048,
) -> CopyMatch:
    """Nearest-neighbour search of v's log-mel patches among x's (cosine, torch matmul).

    A patch of v counts as copied when it belongs to an in-order run (`_in_order_runs`):
    consecutive patches of v nearly identical (cosine similarity >= `threshold` to start
    a run, >= threshold - 0.1 to go on) to consecutive patches of x. Patches far below the clip's loudest frame (silence) never
    count. `longest_s` is the longest run converted to seconds (a run of R patches of
    P frames spans R + P - 1 frames).
    """
    p = ref.patch_frames
    pv = _patches(mel_v, ref.mel_db.mean(axis=1), p, ref.sr)
    sims, idxs = [], []
    for i in range(0, pv.shape[0], chunk):
        s = pv[i : i + chunk] @ ref.patches.T  # [chunk, n_x]
        best, where = s.max(dim=1)
        sims.append(best)
        idxs.append(where)
    sim = torch.cat(sims).numpy().astype(np.float64)
    idx = torch.cat(idxs).numpy().astype(np.int64)
    loud = mel_v.max(axis=0)  # [frames]
    loud_patch = np.lib.stride_tricks.sliding_window_view(
        np.pad(loud, (0, max(0, p - loud.size)), constant_values=ref.floor_db), p
    ).max(axis=1)[: sim.size]
    audible = loud_patch > float(ref.mel_db.max()) - SILENCE_BELOW_DB
    good = (sim >= threshold) & audible
    copied, longest = _in_order_runs(
        pv.numpy(), ref.patches.numpy(), idx, good, audible, threshold - COPY_THRESHOLD
        + COPY_CONTINUE,
    )
    longest_frames = longest + p - 1 if longest else 0
    hop = ref.hop_seconds
    return CopyMatch(
        similarity=sim, index=idx, copied=copied,
        ratio=float(copied.mean()) if copied.size else 0.0,
        longest_s=min(longest_frames * hop, mel_v.shape[1] * hop),
    )


def evaluate_variation(
    ref: Reference, v: np.ndarray, *, copy_threshold: float = COPY_THRESHOLD
) -> VariationMetrics:
    """All per-variation measures of `v` (mono, at ref.sr) against the clip in `ref`."""
    sig = _as_mono(v)
    if sig.size < frame_seconds(ref.sr) * ref.sr * 4:
        raise AudioError(
            f"The variation is too short to measure ({sig.size / ref.sr:.3f} s); it needs at "
            f"least {4 * frame_seconds(ref.sr):.3f} s."
        )
    r = _rms(sig)
    level = 20.0 * math.log10(max(r, 1e-9) / max(ref.rms, 1e-9))
    sig = match_rms(sig, ref.rms)
    mel = _floored(logmel_db(sig, ref.sr), ref.floor_db)
    copy = copy_detect(ref, mel, threshold=copy_threshold)
    xs = np.asarray(resample(sig, ref.sr, ref.xcorr_rate), dtype=np.float32)
    return VariationMetrics(
        timbre_fd=timbre_distance(ref, mel),
        ltas_db=ltas_distance(ref, mel),
        max_xcorr=max_normalised_xcorr(xs, ref.xcorr_signal),
        local_xcorr=local_xcorr(xs, ref.xcorr_signal, ref.xcorr_rate),
        copy_ratio=copy.ratio,
        longest_copy_s=copy.longest_s,
        level_db=level,
        seconds=sig.shape[-1] / ref.sr,
    )


# ---- diversity ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DiversityMetrics:
    """How different N variations are from each other (all 0 when they are identical).

    std_ratio: SinGAN-style diversity. For each mel bin and frame, the std across the N
    (time-aligned) variations; averaged over frames and divided by the clip's own std
    of that bin over time, then averaged over bins. ~1 = as different from each other
    as unrelated moments of the clip; 0 = all the same. Higher = more diverse.
    pairwise_db: mean over pairs of the RMS difference of their time-aligned log-mels, dB.
    pairwise_fd: mean over pairs of the Fréchet distance of their frame statistics
    (differences in overall character, ignoring arrangement).
    """

    count: int
    std_ratio: float
    pairwise_db: float
    pairwise_fd: float
    std_map: list[float] = field(default_factory=list)  # [n_mels] per-bin std ratio, low to high

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["std_map"] = [_json_float(v) for v in self.std_map]
        return {k: (_json_float(v) if isinstance(v, float) else v) for k, v in d.items()}


def diversity(ref: Reference, variations: Sequence[np.ndarray]) -> DiversityMetrics:
    """Diversity among `variations` (mono at ref.sr; cropped to the shortest)."""
    if len(variations) < 2:
        return DiversityMetrics(len(variations), 0.0, 0.0, 0.0, [0.0] * ref.mel_db.shape[0])
    sigs = [match_rms(_as_mono(v), ref.rms) for v in variations]
    n = min(s.shape[-1] for s in sigs)
    mels = np.stack([_floored(logmel_db(s[:n], ref.sr), ref.floor_db) for s in sigs])  # [N, M, F]
    per_bin = mels.std(axis=0, ddof=1).mean(axis=1)  # [M]
    ratio_map = per_bin / np.maximum(ref.bin_std, 1e-3)
    stats = [gaussian_stats(timbre_features(m, ref.kind)) for m in mels]
    pairs = list(itertools.combinations(range(len(sigs)), 2))
    pdb = [float(np.sqrt(np.mean(np.square(mels[a] - mels[b])))) for a, b in pairs]
    pfd = [frechet(*stats[a], *stats[b]) for a, b in pairs]
    return DiversityMetrics(
        count=len(sigs), std_ratio=float(ratio_map.mean()), pairwise_db=float(np.mean(pdb)),
        pairwise_fd=float(np.mean(pfd)), std_map=[float(v) for v in ratio_map],
    )


# ---- reconstruction ----------------------------------------------------------------------


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


# ---- baselines ---------------------------------------------------------------------------


def cut_and_paste(
    x: np.ndarray, sr: int, *, seed: int = 0, min_s: float = 1.0, max_s: float = 2.0,
    fade_s: float = 0.005,
) -> np.ndarray:
    """x cut into pieces of min_s..max_s seconds, shuffled (seeded), joined with 5 ms fades.

    The result has x's length. It keeps every local detail of x, so it scores well on
    timbre, spectrum and diversity; the copy detector must catch it.
    """
    sig = _as_mono(x)
    rng = np.random.default_rng(seed)
    bounds = [0]
    while bounds[-1] < sig.size:
        bounds.append(min(sig.size, bounds[-1] + int(rng.uniform(min_s, max_s) * sr)))
    pieces = [sig[a:b].copy() for a, b in itertools.pairwise(bounds)]
    order = rng.permutation(len(pieces))
    if len(pieces) > 1:
        while np.all(order == np.arange(len(pieces))):
            order = rng.permutation(len(pieces))
    f = int(fade_s * sr)
    out = []
    for i in order:
        p = pieces[i]
        if f > 0 and p.size > 2 * f:
            ramp = np.linspace(0.0, 1.0, f, dtype=np.float32)
            p[:f] *= ramp
            p[-f:] *= ramp[::-1]
        out.append(p)
    return np.concatenate(out).astype(np.float32)


def shaped_noise(x: np.ndarray, sr: int, *, seed: int = 0, n_fft: int | None = None) -> np.ndarray:
    """White noise filtered to x's long-term average spectrum, at x's RMS and length.

    Matches the clip's average spectrum (good long-term spectrum distance) but has none
    of its temporal structure, so its timbre distance should be far worse than real audio's.
    """
    from scipy.signal import welch

    sig = _as_mono(x).astype(np.float64)
    nperseg = min(sig.size, n_fft or 1 << int(round(math.log2(max(sr * 0.064, 128)))))
    freqs, psd = welch(sig, fs=sr, nperseg=nperseg)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(sig.size)
    spec = np.fft.rfft(noise)
    grid = np.fft.rfftfreq(sig.size, 1.0 / sr)
    spec *= np.sqrt(np.interp(grid, freqs, psd))
    y = np.fft.irfft(spec, sig.size)
    return match_rms(y.astype(np.float32), _rms(sig))


def interleaved_halves(
    x: np.ndarray, sr: int, *, block_s: float = 2.0, fade_s: float = 0.005
) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of x that both span the whole clip: even and odd blocks.

    The clip is cut into blocks of `block_s` seconds (shorter for clips under 8 s, so
    that each half gets at least two blocks); the even blocks, joined with short fades,
    form one half and the odd blocks the other. Unlike the first and second half, both
    cover every section of the song, so their distance measures "the same music,
    different moments" rather than how much the song changes between its sections.
    """
    sig = _as_mono(x)
    n = max(2, min(int(round(block_s * sr)), sig.size // 4))
    f = int(fade_s * sr)
    blocks = []
    for a in range(0, sig.size - n + 1, n):
        b = sig[a : a + n].copy()
        if f > 0 and b.size > 2 * f:
            ramp = np.linspace(0.0, 1.0, f, dtype=np.float32)
            b[:f] *= ramp
            b[-f:] *= ramp[::-1]
        blocks.append(b)
    if len(blocks) < 2:
        h = sig.size // 2
        return sig[:h], sig[h : 2 * h]
    return np.concatenate(blocks[0::2]), np.concatenate(blocks[1::2])


def untrained_generator_output(
    manifest: Any, seconds: float, *, seed: int = 0, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Audio from the project's pyramid with freshly initialised generators (peak-1 scale).

    Uses the manifest's rates, channels and noise amplitudes; the weights are seeded.
    Shows what training buys. Returned at the working rate (manifest.config.fs).
    """
    from engine.generate import Pyramid, lengths_for
    from engine.models import ScaleGenerator

    cfg = manifest.config
    dev = torch.device(device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gens = [
            ScaleGenerator(channels=manifest.channels_at(s), n_layers=cfg.n_layers,
                           kernel=cfg.kernel_size)
            for s in range(manifest.n_scales)
        ]
    pyr = Pyramid(gens, list(manifest.rates), list(manifest.noise_amps), dev)
    lengths = lengths_for(pyr.rates, seconds)
    g = torch.Generator().manual_seed(seed)
    y = pyr.run(lengths, pyr.random_noise(lengths, g)).reshape(-1).float().cpu().numpy()
    if pyr.rates[-1] != cfg.fs:
        y = np.asarray(resample(y, pyr.rates[-1], cfg.fs), dtype=np.float32)
    pk = float(np.max(np.abs(y))) if y.size else 0.0
    return (y / pk).astype(np.float32) if pk > EPS else y.astype(np.float32)


BASELINE_LABELS = {
    "real_vs_real": "real vs real",
    "real_other": "real: other excerpt",
    "cut_and_paste": "cut-and-paste",
    "shaped_noise": "shaped noise",
    "untrained": "untrained generator",
}


def compute_baselines(
    x: np.ndarray, sr: int, *, ref: Reference | None = None, other_excerpt: np.ndarray | None = None,
    untrained: np.ndarray | None = None, seed: int = 0, kind: FeatureKind = "mfcc",
) -> dict[str, VariationMetrics]:
    """The baselines on clip x, keyed as in BASELINE_LABELS.

    real_vs_real: the odd blocks of the clip against its even blocks
    (`interleaved_halves`); its measures use the even half as the reference, so they
    are a little pessimistic (half as many frames, noisier statistics). The plain first
    and second half make a poor yardstick for timbre: songs change between sections
    (on the demo clip the halves are further apart than shaped noise is from the clip).
    real_other: `other_excerpt` (another part of the same song) against x, when given.
    untrained: the untrained generator's output (`untrained_generator_output`), when given.
    """
    sig = _as_mono(x)
    ref = ref or prepare_reference(sig, sr, kind=kind)
    out: dict[str, VariationMetrics] = {}
    even, odd = interleaved_halves(sig, sr)
    out["real_vs_real"] = evaluate_variation(prepare_reference(even, sr, kind=kind), odd)
    if other_excerpt is not None:
        out["real_other"] = evaluate_variation(ref, other_excerpt)
    out["cut_and_paste"] = evaluate_variation(ref, cut_and_paste(sig, sr, seed=seed))
    out["shaped_noise"] = evaluate_variation(ref, shaped_noise(sig, sr, seed=seed))
    if untrained is not None:
        out["untrained"] = evaluate_variation(ref, untrained)
    return out


# ---- a full report -----------------------------------------------------------------------


TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (field, header, format)
    ("timbre_fd", "timbre FD", "{:9.2f}"),
    ("ltas_db", "LTAS dB", "{:7.2f}"),
    ("max_xcorr", "max xcorr", "{:9.3f}"),
    ("local_xcorr", "1s xcorr", "{:8.3f}"),
    ("copy_ratio", "copy ratio", "{:10.3f}"),
    ("longest_copy_s", "longest copy s", "{:14.2f}"),
)


@dataclass
class EvaluationReport:
    """Everything `songwriter-cli evaluate` prints and writes."""

    sr: int
    clip_seconds: float
    variations: dict[str, VariationMetrics]
    baselines: dict[str, VariationMetrics]
    diversity: DiversityMetrics | None = None
    reconstruction: ReconstructionMetrics | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sr,
            "clip_seconds": round(self.clip_seconds, 4),
            "feature": "MFCC c1-c19 of an 80-band log-mel (64 ms frames); signals RMS-matched",
            "variations": {k: v.to_dict() for k, v in self.variations.items()},
            "variation_mean": mean_metrics(self.variations.values()),
            "baselines": {k: v.to_dict() for k, v in self.baselines.items()},
            "diversity": self.diversity.to_dict() if self.diversity else None,
            "reconstruction": self.reconstruction.to_dict() if self.reconstruction else None,
            "notes": dict(self.notes),
        }

    def format_table(self) -> str:
        """Variations and baselines side by side, then diversity and reconstruction."""
        rows: list[tuple[str, Mapping[str, float]]] = [
            (name, m.to_dict()) for name, m in self.variations.items()
        ]
        if len(self.variations) > 1:
            rows.append(("mean of variations", mean_metrics(self.variations.values())))
        base_rows = [
            (f"[{BASELINE_LABELS.get(k, k)}]", m.to_dict()) for k, m in self.baselines.items()
        ]
        width = max(len(r[0]) for r in rows + base_rows + [("", {})]) + 2
        width = max(width, 12)
        header = "".ljust(width) + "  ".join(h for _, h, _ in TABLE_COLUMNS)
        lines = [header, "-" * len(header)]

        def fmt(name: str, vals: Mapping[str, float]) -> str:
            cells = [f.format(vals[k]).rjust(len(h)) for k, h, f in TABLE_COLUMNS]
            return name.ljust(width) + "  ".join(cells)

        lines += [fmt(n, v) for n, v in rows]
        if base_rows:
            lines.append("baselines on the same clip:")
            lines += [fmt(n, v) for n, v in base_rows]
        lines.append(
            "lower is closer (timbre FD, LTAS); lower is more novel (xcorr, copy); a good "
            "variation sits near [real vs real] on timbre and far below [cut-and-paste] on copying."
        )
        if self.diversity is not None:
            d = self.diversity
            lines.append(
                f"diversity of {d.count}: std ratio {d.std_ratio:.3f} (0 = identical, ~1 = as "
                f"varied as the clip itself), pairwise log-mel {d.pairwise_db:.2f} dB, "
                f"pairwise FD {d.pairwise_fd:.2f}"
            )
        if self.reconstruction is not None:
            r = self.reconstruction
            lines.append(
                f"reconstruction: SNR {r.snr_db:.2f} dB (higher is better), LSD {r.lsd_db:.2f} dB, "
                f"MR-STFT {r.mrstft:.3f} (lower is better)"
            )
        return "\n".join(lines)


def mean_metrics(items: Any) -> dict[str, float]:
    """Field-wise mean of VariationMetrics (empty dict for none)."""
    ds = [m.to_dict() for m in items]
    if not ds:
        return {}
    return {k: _json_float(float(np.mean([d[k] for d in ds]))) for k in ds[0]}


def evaluate(
    clip: np.ndarray, sr: int, variations: Mapping[str, np.ndarray], *,
    reconstruction: np.ndarray | None = None, other_excerpt: np.ndarray | None = None,
    untrained: np.ndarray | None = None, seed: int = 0, with_baselines: bool = True,
) -> EvaluationReport:
    """Evaluate named variations (mono at `sr`) against `clip`, with baselines and diversity."""
    ref = prepare_reference(clip, sr)
    per = {name: evaluate_variation(ref, v) for name, v in variations.items()}
    base = (
        compute_baselines(clip, sr, ref=ref, other_excerpt=other_excerpt, untrained=untrained,
                          seed=seed)
        if with_baselines
        else {}
    )
    div = diversity(ref, list(variations.values())) if len(variations) > 1 else None
    rec = reconstruction_metrics(clip, reconstruction, sr) if reconstruction is not None else None
    notes = {"real_vs_real": "odd 2 s blocks of the clip against its even blocks"}
    if other_excerpt is not None:
        notes["real_other"] = "another excerpt of the source file against the clip"
    return EvaluationReport(sr, ref.seconds, per, base, div, rec, notes)


# ---- a quick verdict for the GUI ---------------------------------------------------------


@dataclass(frozen=True)
class _ClipCache:
    ref: Reference
    baselines: dict[str, VariationMetrics]


_CACHE: OrderedDict[tuple[str, int], _ClipCache] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_COMPUTE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def _clip_key(clip: np.ndarray, sr: int) -> tuple[str, int]:
    a = np.ascontiguousarray(clip, dtype=np.float32)
    return hashlib.sha1(a.tobytes()).hexdigest(), int(sr)


def _clip_cache(clip: np.ndarray, sr: int) -> _ClipCache:
    key = _clip_key(clip, sr)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    with _COMPUTE_LOCK:  # one computation per clip, even when several threads ask at once
        with _CACHE_LOCK:
            hit = _CACHE.get(key)
        if hit is not None:
            return hit
        ref = prepare_reference(clip, sr)
        entry = _ClipCache(ref, compute_baselines(clip, sr, ref=ref))
        with _CACHE_LOCK:
            _CACHE[key] = entry
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return entry


def quick_verdict(clip: np.ndarray, variation: np.ndarray, sr: int) -> tuple[str, dict[str, float]]:
    """A one-line verdict on a variation for a musician, and the numbers behind it.

    Labels: "near copy: 4.1 s copied" when the copy detector finds long in-order copies
    (relative to the clip's cut-and-paste baseline); "follows the original: waveform
    xcorr 0.71; timbre close" when the global or 1 s cross-correlation reaches
    XCORR_FOLLOWS (real-vs-real scores 0.2-0.35 on the real clips; variations that keep
    the real signal up to a scale score 0.6-0.8: its low band and timing stay); "noisy: timbre far" when the timbre
    distance is closer (on a log scale) to the shaped-noise baseline (at least 4x
    real-vs-real) than to real-vs-real;
    otherwise "novel: longest copied run 0.3 s; timbre close|fair". The per-clip baselines
    are cached (keyed by a hash of the clip), so later calls on the same clip are fast.
    Thread-safe; both signals must be at `sr`.
    """
    cache = _clip_cache(clip, sr)
    m = evaluate_variation(cache.ref, variation)
    real, cut, noise = (cache.baselines[k] for k in ("real_vs_real", "cut_and_paste", "shaped_noise"))
    copy_run_limit = max(1.0, min(3.0, 0.5 * cut.longest_copy_s))
    copy_ratio_limit = max(0.3, 0.5 * cut.copy_ratio)
    # the "far" anchor: shaped noise, or 4x real-vs-real where noise is not clearly worse
    # than real audio (short clips give noisy statistics)
    far = max(noise.timbre_fd, 4.0 * real.timbre_fd)
    lr, lf, lv = (math.log(max(t, 1e-3)) for t in (real.timbre_fd, far, m.timbre_fd))
    position = (lv - lr) / (lf - lr) if lf > lr else 0.0  # 0 = like real audio, 1 = like noise
    numbers = {
        "timbre_fd": m.timbre_fd,
        "timbre_fd_real_vs_real": real.timbre_fd,
        "timbre_fd_shaped_noise": noise.timbre_fd,
        "ltas_db": m.ltas_db,
        "max_xcorr": m.max_xcorr,
        "local_xcorr": m.local_xcorr,
        "copy_ratio": m.copy_ratio,
        "copy_ratio_cut_and_paste": cut.copy_ratio,
        "longest_copy_s": m.longest_copy_s,
        "longest_copy_s_cut_and_paste": cut.longest_copy_s,
        "timbre_position": position,
    }
    if m.longest_copy_s >= copy_run_limit or m.copy_ratio >= copy_ratio_limit:
        return f"near copy: {m.longest_copy_s:.1f} s copied ({m.copy_ratio:.0%} of it)", numbers
    closeness = "close" if position < 0.25 else "fair" if position < 0.5 else "far"
    xcorr = max(m.max_xcorr, m.local_xcorr)
    if xcorr >= XCORR_FOLLOWS:
        return f"follows the original: waveform xcorr {xcorr:.2f}; timbre {closeness}", numbers
    if position >= 0.5:
        return f"noisy: timbre far (FD {m.timbre_fd:.1f}; real audio {real.timbre_fd:.1f})", numbers
    return f"novel: longest copied run {m.longest_copy_s:.1f} s; timbre {closeness}", numbers
