"""A quick verdict for the GUI: one line of words for a musician, and the numbers behind it.

The clip's reference and baselines are cached per clip (keyed by a hash of its samples), so
judging several variations of one clip computes them once.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from engine.analysis.baselines import compute_baselines
from engine.analysis.measures import VariationMetrics, evaluate_variation
from engine.analysis.reference import Reference, prepare_reference
from engine.analysis.stereo import image_error, image_words, stereo_metrics

XCORR_FOLLOWS = 0.6  # quick_verdict: waveform correlation that means "follows the original"


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
    otherwise "novel: longest copied run 0.3 s; timbre close|fair". A stereo variation of a
    stereo clip ([2, T] both) gets its image words after a semicolon ("stereo: like the
    original ...", "narrower", "wider", "channels unrelated", "mono"). The per-clip baselines
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
    text = _words(m, copy_run_limit, copy_ratio_limit, real.timbre_fd, position)
    if np.ndim(clip) == 2 and np.ndim(variation) == 2:
        text += "; " + _stereo(clip, variation, sr, numbers)
    return text, numbers


def _stereo(clip: np.ndarray, variation: np.ndarray, sr: int, numbers: dict[str, float]) -> str:
    """The image words of a stereo variation (engine.analysis.stereo); adds its numbers."""
    ref, m = stereo_metrics(clip, sr), stereo_metrics(variation, sr)
    err = image_error(m, ref)
    numbers.update({"stereo_correlation": m.correlation, "stereo_correlation_original": ref.correlation,
                    "side_to_mid_db": m.side_to_mid_db, "side_to_mid_db_original": ref.side_to_mid_db,
                    "mono_change_db": m.mono_change_db, "stereo_correlation_error": err["correlation_error"],
                    "width_change_db": err["width_change_db"]})
    return image_words(m, ref)


def _words(m: VariationMetrics, copy_run_limit: float, copy_ratio_limit: float, real_fd: float,
           position: float) -> str:
    if m.longest_copy_s >= copy_run_limit or m.copy_ratio >= copy_ratio_limit:
        return f"near copy: {m.longest_copy_s:.1f} s copied ({m.copy_ratio:.0%} of it)"
    closeness = "close" if position < 0.25 else "fair" if position < 0.5 else "far"
    xcorr = max(m.max_xcorr, m.local_xcorr)
    if xcorr >= XCORR_FOLLOWS:
        return f"follows the original: waveform xcorr {xcorr:.2f}; timbre {closeness}"
    if position >= 0.5:
        return f"noisy: timbre far (FD {m.timbre_fd:.1f}; real audio {real_fd:.1f})"
    return f"novel: longest copied run {m.longest_copy_s:.1f} s; timbre {closeness}"
