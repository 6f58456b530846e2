"""Seam measures on real audio: a gap filled with the real continuation has seams like the
music's own changes; a gap filled with silence or noise is found out by the seam, timbre and
naive-splice comparisons."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.analysis.seams import seam_zone, take_measures, take_verdict, transition_measure
from engine.audio.io import load_clip
from engine.project.layout import fill_gap, place

SR = 8000


@pytest.fixture(scope="module")
def real_case(demo_clip: Path):
    """A bridge layout over 0.5-3.5 s of the demo: A = 0.5-1.5, gap 1.5-2.5, B = 2.5-3.5; the
    real gap is kept to fill it with the truth."""
    clip = load_clip(demo_clip, SR, start=0.5, duration=3.0)
    x = clip.signal
    n = SR
    info = [{"path": str(demo_clip), "start": 0.5, "duration": 1.0},
            {"path": str(demo_clip), "start": 2.5, "duration": 1.0}]
    lay = place("bridge", SR, info, [n, n], 1.0, 0.25)
    training = x.copy()
    training[n : 2 * n] = 0.0
    return lay, training, x


def _seams(lay, cross: int) -> dict:
    a, b = lay.gap_span
    return {"take": [a, b], "seams": [a, b], "crossfade": cross}


def test_real_continuation_beats_silence_and_noise(real_case) -> None:
    lay, training, truth = real_case
    cross = int(0.1 * SR)
    seams = _seams(lay, cross)
    real = take_measures(lay, training, fill_gap(training, truth, lay.gap_span, cross), seams, SR)
    rng = np.random.default_rng(0)
    hush = 1e-3 * rng.standard_normal(truth.shape).astype(np.float32)  # near silence
    silent = take_measures(lay, training, fill_gap(training, hush, lay.gap_span, cross), seams, SR)
    noise = fill_gap(training, 0.3 * rng.standard_normal(truth.shape).astype(np.float32),
                     lay.gap_span, cross)
    noisy = take_measures(lay, training, noise, seams, SR)
    assert len(real.seams) == 2
    assert max(s.jump_db for s in real.seams) < max(s.jump_db for s in silent.seams)
    assert max(s.percentile for s in silent.seams) >= 90
    assert real.timbre_fd_a < noisy.timbre_fd_a and real.timbre_fd_b < noisy.timbre_fd_b
    assert real.timbre_fd_a_vs_b is not None and real.timbre_fd_a_vs_b > 0
    # the real continuation moves like the sections; near silence does not
    assert 0.6 < real.motion_ratio < 1.6 and silent.motion_ratio < 0.5
    for m in (real, silent, noisy):
        nums = m.to_numbers()
        assert all(np.isfinite(v) for v in nums.values())
        assert {"seam1_jump_db", "seam2_naive_percentile", "longest_copy_s"} <= set(nums)
    words, numbers = take_verdict(lay, training, noise, seams, SR)
    assert "seam" in words and "splice" in words and numbers["take_seconds"] == 1.0


def test_level_does_not_change_the_measures(real_case) -> None:
    lay, training, truth = real_case
    cross = int(0.1 * SR)
    stitched = fill_gap(training, truth, lay.gap_span, cross)
    a = take_measures(lay, training, stitched, _seams(lay, cross), SR)
    b = take_measures(lay, training, 0.25 * stitched, _seams(lay, cross), SR)
    assert abs(a.seams[0].jump_db - b.seams[0].jump_db) < 1e-3


def test_transition_measure_of_the_original(real_case) -> None:
    lay, training, truth = real_case
    zone = seam_zone(lay.gap_span[0], lay.gap_span, int(0.1 * SR))
    assert zone == (SR - 800, SR)
    j, p = transition_measure(truth, SR, lay, training, zone)
    assert j > 0 and 0 <= p <= 100
