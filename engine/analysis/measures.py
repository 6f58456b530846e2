"""Per-variation measures against the clip, and diversity among variations.

Per variation (`VariationMetrics`, directions in engine.analysis): timbre Fréchet distance,
long-term spectrum distance, global and 1 s waveform cross-correlation, and the copy detector
(in-order runs of nearly identical log-mel patches). Among variations (`DiversityMetrics`):
std ratio, pairwise log-mel and pairwise Fréchet distances.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from engine.analysis.features import (
    EPS,
    _as_mono,
    _rms,
    frame_seconds,
    frechet,
    gaussian_stats,
    logmel_db,
    match_rms,
    timbre_features,
)
from engine.analysis.reference import Reference, _floored, _ltas, _patches
from engine.audio.io import resample
from engine.errors import AudioError

COPY_THRESHOLD = 0.9  # cosine similarity of centred log-mel patches that counts as "the same"
COPY_CONTINUE = 0.8  # similarity that keeps an in-order run going once started (hysteresis)
SILENCE_BELOW_DB = 60.0  # patches this far below the clip's loudest frame never count as copies


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
