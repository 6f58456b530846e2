"""Seam measures for bridge and ending takes (issue 12): is the join heard, does the filled
part sound like its neighbours, and is it new?

- Seam smoothness: the log-mel jump (RMS over mel bands of the dB difference between
  consecutive frames) around each seam, as the largest jump within the seam's zone (its
  cross-fade plus two frames on each side). It is set against the distribution of the same
  statistic (the largest jump in a zone of as many frames) over every position inside the
  real sections: a percentile (50 = a seam like a typical moment of the music, 100 = larger
  than any change inside the sections) and a z-score. The baseline is the naive splice: A's end
  joined straight to B's start (an ending: A's end to A's start, a loop) with a plain half-Hann
  cross-fade of the same length, measured the same way.
- Timbre: the Fréchet distance of the filled part's frame features to A and to B, beside the
  distance of A to B themselves (real against real).
- Not a copy: the copy detector and cross-correlations of the filled part against the real
  sections (engine.analysis.measures).
- Motion inside the take: the spread (standard deviation over frames) of the frame loudness
  inside the filled part over the same inside the real sections (1 = as much rise and fall as
  the music itself; well below 1 = a smeared, static wash without the sections' onsets and
  beats, which smooth seams alone would not reveal).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engine.analysis.features import EPS, _rms, frame_seconds, logmel_db
from engine.analysis.measures import evaluate_variation
from engine.analysis.reference import prepare_reference
from engine.audio.io import to_mono
from engine.project.layout import Layout, layout_for_take, splice

FLOOR_DB = 80.0  # frames are floored this far below the loudest frame of the real sections
ZONE_EXTRA_FRAMES = 2
# below this motion ratio a take is called smeared (calibrated on one real run: a 40-iteration
# quick bridge on war-of-freedom scored 0.21, the real continuation there 0.46)
MOTION_SMEARED = 0.35


def frame_jumps(x: np.ndarray, sr: int, floor_db: float | None = None) -> tuple[np.ndarray, float]:
    """Frame-to-frame log-mel jumps of x: [frames - 1] in dB (RMS over mel bands); jump i lies
    between frames i and i + 1. Returns the jumps and the floor used."""
    mel = logmel_db(np.asarray(x, dtype=np.float32), sr)
    floor = float(mel.max()) - FLOOR_DB if floor_db is None else floor_db
    mel = np.maximum(mel, floor)
    return np.sqrt(np.mean(np.diff(mel, axis=1) ** 2, axis=0)), floor


def frame_loudness(x: np.ndarray, sr: int, floor_db: float) -> np.ndarray:
    """Per-frame loudness in dB (the mean over mel bands of the floored log-mel), [frames]."""
    return np.maximum(logmel_db(np.asarray(x, dtype=np.float32), sr), floor_db).mean(axis=0)


def _hop(sr: int) -> int:
    return int(round(frame_seconds(sr) * sr))


def zone_frames(sr: int, crossfade: int) -> int:
    """Jumps in a seam's zone: the cross-fade's frames plus ZONE_EXTRA_FRAMES on each side."""
    return int(np.ceil(crossfade / _hop(sr))) + 2 * ZONE_EXTRA_FRAMES + 1


def seam_jump(jumps: np.ndarray, sr: int, lo: int, hi: int) -> float:
    """The largest jump whose frames meet the sample range [lo, hi) widened by two frames."""
    hop = _hop(sr)
    a = max(0, lo // hop - ZONE_EXTRA_FRAMES)
    b = min(len(jumps), -(-hi // hop) + ZONE_EXTRA_FRAMES)
    return float(jumps[a:b].max()) if b > a else 0.0


def zone_maxima(jumps: np.ndarray, width: int) -> np.ndarray:
    """The largest jump of every run of `width` consecutive jumps (the real distribution)."""
    if len(jumps) < width:
        return jumps[:0] if len(jumps) == 0 else np.array([jumps.max()])
    view = np.lib.stride_tricks.sliding_window_view(jumps, width)
    return view.max(axis=1)


@dataclass(frozen=True)
class SeamMeasure:
    position_s: float  # where real audio meets the take, seconds into the stitched audio
    jump_db: float  # largest log-mel jump in the seam's zone
    percentile: float  # share (%) of real zones with a smaller largest jump
    z: float  # (jump - mean of real zones) / their std
    naive_jump_db: float  # the same for the naive splice
    naive_percentile: float

    @property
    def smoother_than_naive(self) -> bool:
        return self.jump_db < self.naive_jump_db


@dataclass(frozen=True)
class TakeMeasures:
    seams: list[SeamMeasure]
    real_zone_median_db: float  # the real distribution: median and 95th percentile
    real_zone_p95_db: float
    timbre_fd_a: float  # filled part vs A
    timbre_fd_b: float | None  # filled part vs B (bridge)
    timbre_fd_a_vs_b: float | None  # A vs B: real against real
    max_xcorr: float  # filled part vs the real sections
    local_xcorr: float
    copy_ratio: float
    longest_copy_s: float
    take_seconds: float
    motion_ratio: float = float("nan")  # loudness spread inside the take / inside the sections
    extra: dict[str, float] = field(default_factory=dict)

    def to_numbers(self) -> dict[str, float]:
        """Flat numbers (the store's verdict metrics)."""
        out: dict[str, float] = {}
        for i, s in enumerate(self.seams):
            for k, v in asdict(s).items():
                out[f"seam{i + 1}_{k}"] = float(v)
        for k, v in asdict(self).items():
            if k in ("seams", "extra") or v is None:
                continue
            out[k] = float(v)
        out.update(self.extra)
        return out

    def words(self) -> str:
        """One line for a musician."""
        worst = max(self.seams, key=lambda s: s.percentile)
        if worst.percentile <= 90:
            seam = "seams like the music's own changes"
        elif worst.percentile <= 99:
            seam = "a noticeable seam"
        else:
            seam = "an abrupt seam"
        pct = ", ".join(f"p{s.percentile:.0f}" for s in self.seams)
        naive = ("smoother than a plain splice" if all(s.smoother_than_naive for s in self.seams)
                 else "not smoother than a plain splice")
        near = min(v for v in (self.timbre_fd_a, self.timbre_fd_b) if v is not None)
        if self.timbre_fd_a_vs_b:  # a bridge: set against how far A and B are from each other
            timbre = "timbre fits" if near <= 2.0 * self.timbre_fd_a_vs_b else "timbre off"
        else:
            timbre = f"timbre distance to A {near:.1f}"
        copy = (f"copies {self.longest_copy_s:.1f} s" if self.longest_copy_s >= 1.0
                or self.copy_ratio >= 0.3 else "new material")
        motion = ""
        if self.motion_ratio == self.motion_ratio and self.motion_ratio < MOTION_SMEARED:
            motion = f"; smeared: {self.motion_ratio:.0%} of the sections' motion"
        return f"{seam} ({pct}), {naive}; {timbre}; {copy}{motion}"


def _sections(layout: Layout, clip: np.ndarray) -> list[np.ndarray]:
    return [clip[a:b] for a, b in layout.real_spans()]


def take_measures(layout: Layout, clip: np.ndarray, stitched: np.ndarray, seams: dict[str, Any],
                  sr: int) -> TakeMeasures:
    """Seam, timbre and copy measures of a stitched take (`seams`: VariationRecord.seams) made
    from a project with this `layout`; `clip` is the training clip (gaps silent), any level. A
    take of another gap length than the project's is measured in the layout moved to its gap."""
    a, b = (int(v) for v in seams["take"])
    layout, clip = layout_for_take(layout, np.asarray(clip, dtype=np.float32), (b - a) / layout.fs)
    clip = to_mono(clip)  # stereo: the seams of the downmix
    stitched = to_mono(np.asarray(stitched, dtype=np.float32))
    cross = int(seams.get("crossfade", 0))
    real = _sections(layout, clip)
    # the stitched audio holds A at its original level: bring it to the clip's level
    gain = _rms(clip[:a]) / max(_rms(stitched[:a]), EPS) if a else 1.0
    # the real distribution: each real section on its own (no cut inside), same floor for all
    loudest = max(float(logmel_db(r, sr).max()) for r in real)
    floor = loudest - FLOOR_DB
    width = zone_frames(sr, cross)
    zones = np.concatenate([zone_maxima(frame_jumps(r, sr, floor)[0], width) for r in real])
    if zones.size == 0:
        zones = np.zeros(1)
    mean, std = float(zones.mean()), float(zones.std())

    def rank(v: float) -> tuple[float, float]:
        return 100.0 * float(np.mean(zones < v)), (v - mean) / max(std, EPS)

    jumps, _ = frame_jumps(stitched * gain, sr, floor)
    real_spread = float(np.mean([frame_loudness(r, sr, floor).std() for r in real]))
    # an ending's fade-out is not the take's own motion: leave it out
    still = b - int(seams.get("fade_out", 0))
    end = still if still - a >= (b - a) // 2 else b
    take_spread = float(frame_loudness(stitched[a:end] * gain, sr, floor).std())
    sec_a = clip[layout.section_a.offset : layout.section_a.end_sample]
    sec_b = (clip[layout.section_b.offset : layout.section_b.end_sample]
             if layout.section_b is not None else sec_a)
    naive, cut = splice(sec_a, sec_b, max(cross, 1))
    naive_jumps, _ = frame_jumps(naive, sr, floor)
    naive_j = seam_jump(naive_jumps, sr, cut - cross // 2, cut + (cross - cross // 2))
    n_p, _ = rank(naive_j)
    measures = []
    for pos in seams["seams"]:
        pos = int(pos)
        j = seam_jump(jumps, sr, *seam_zone(pos, (a, b), cross))
        p, z = rank(j)
        measures.append(SeamMeasure(pos / sr, j, p, z, naive_j, n_p))
    take = stitched[a:b] * gain
    ref_all = prepare_reference(np.concatenate(real), sr)
    ref_a = prepare_reference(sec_a, sr)
    m_all = evaluate_variation(ref_all, take)
    fd_a = evaluate_variation(ref_a, take).timbre_fd
    fd_b = fd_ab = None
    if layout.section_b is not None:
        ref_b = prepare_reference(sec_b, sr)
        fd_b = evaluate_variation(ref_b, take).timbre_fd
        fd_ab = evaluate_variation(ref_a, sec_b).timbre_fd
    return TakeMeasures(
        seams=measures, real_zone_median_db=float(np.median(zones)),
        real_zone_p95_db=float(np.percentile(zones, 95)), timbre_fd_a=fd_a, timbre_fd_b=fd_b,
        timbre_fd_a_vs_b=fd_ab, max_xcorr=m_all.max_xcorr, local_xcorr=m_all.local_xcorr,
        copy_ratio=m_all.copy_ratio, longest_copy_s=m_all.longest_copy_s,
        take_seconds=(b - a) / sr, motion_ratio=take_spread / max(real_spread, EPS),
    )


def take_verdict(layout: Any, clip: np.ndarray, stitched: np.ndarray, seams: dict[str, Any],
                 sr: int) -> tuple[str, dict[str, float]]:
    """The verdict of a bridge or ending take (generate_into_project's `take_verdict`)."""
    m = take_measures(layout, clip, stitched, seams, sr)
    return m.words(), m.to_numbers()


def seam_zone(position: int, gap: tuple[int, int], crossfade: int) -> tuple[int, int]:
    """The sample range a seam's statistic looks at: the cross-fade before the gap's start, or
    the one after its end."""
    return (position - crossfade, position) if position == gap[0] else (position, position + crossfade)


def transition_measure(signal: np.ndarray, sr: int, layout: Layout, clip: np.ndarray,
                       zone: tuple[int, int]) -> tuple[float, float]:
    """The seam statistic (largest jump in `zone`, see seam_zone, and its percentile among the
    real zones of `clip`) of any signal: e.g. the original recording where a bridge's seams
    are, to set a take's seams beside a real transition."""
    crossfade = zone[1] - zone[0]
    real = _sections(layout, np.asarray(clip, dtype=np.float32))
    floor = max(float(logmel_db(r, sr).max()) for r in real) - FLOOR_DB
    width = zone_frames(sr, crossfade)
    zones = np.concatenate([zone_maxima(frame_jumps(r, sr, floor)[0], width) for r in real])
    gain = _rms(np.concatenate(real)) / max(_rms(signal), EPS)
    jumps, _ = frame_jumps(np.asarray(signal, dtype=np.float32) * gain, sr, floor)
    j = seam_jump(jumps, sr, zone[0], zone[1])
    return j, 100.0 * float(np.mean(zones < j)) if zones.size else 0.0
