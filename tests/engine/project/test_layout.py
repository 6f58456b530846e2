"""Layouts: sections joined with gaps and masked junctions; requests refused with clear words;
the manifest field is additive; seams of a filled gap are where they say."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.project.layout import (
    Layout,
    LayoutRequest,
    SectionRequest,
    fill_gap,
    half_hann,
    layout_for_take,
    place,
    regap,
    splice,
)

FS = 1000


def _info(path: str, start: float, duration: float) -> dict:
    return {"path": path, "start": start, "duration": duration, "sample_rate": 44100}


def test_section_parse() -> None:
    assert SectionRequest.parse("1.5-4", "a.wav") == SectionRequest("a.wav", 1.5, 4.0)
    assert SectionRequest.parse("x/b.wav:0-2", "a.wav") == SectionRequest("x/b.wav", 0.0, 2.0)
    for bad in ("12", "a-b", "3"):
        with pytest.raises(ConfigError, match="START-END"):
            SectionRequest.parse(bad, "a.wav")
    with pytest.raises(ConfigError, match="names no file"):
        SectionRequest.parse("0-2", None)


@pytest.mark.parametrize(("request_", "words"), [
    (LayoutRequest("bridge", (SectionRequest("a.wav", 0, 2),), 1.0), "two sections"),
    (LayoutRequest("bridge", (SectionRequest("a.wav", 0, 2), SectionRequest("a.wav", 1, 3)), 1.0),
     "overlap"),
    (LayoutRequest("bridge", (SectionRequest("a.wav", 0, 2), SectionRequest("a.wav", 3, 3.2)), 1.0),
     "too short"),
    (LayoutRequest("bridge", (SectionRequest("a.wav", 0, 2), SectionRequest("a.wav", 3, 5)), 0.0),
     "gap longer than 0"),
    (LayoutRequest("ending", (SectionRequest("a.wav", 0, 2),), 31.0), "limited to 30"),
    (LayoutRequest("variation", (SectionRequest("a.wav", 0, 2),), 2.0), "no gap"),
    (LayoutRequest("loop", (SectionRequest("a.wav", 0, 2),), 0.0), "Unknown mode"),
    (LayoutRequest("variation", (SectionRequest("a.wav", 3, 2),), 0.0), "must end after"),
])
def test_bad_requests_are_refused_with_words(request_: LayoutRequest, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        request_.check()


def test_sections_of_different_files_may_share_times() -> None:
    LayoutRequest("variation", (SectionRequest("a.wav", 0, 2), SectionRequest("b.wav", 0, 2))).check()


def test_bridge_places_a_gap_between_a_and_b() -> None:
    lay = place("bridge", FS, [_info("/s.wav", 0, 2), _info("/s.wav", 5, 3)], [2000, 3000], 1.5, 0.25)
    assert lay.total == 2000 + 1500 + 3000
    assert lay.gap_span == (2000, 3500) and lay.holes == ((2000, 3500),)
    assert [(s.offset, s.length) for s in lay.sections] == [(0, 2000), (3500, 3000)]
    assert lay.section_a.offset == 0 and lay.section_b is not None
    assert lay.real_spans() == [(0, 2000), (3500, 6500)]
    assert abs(lay.gap_seconds - 1.5) < 1e-9
    assert Layout.from_dict(lay.to_dict()) == lay
    assert "gap: 1.50 s between A and B" in lay.describe()


def test_ending_places_the_gap_last_and_junctions_are_masked() -> None:
    lay = place("ending", FS, [_info("/s.wav", 0, 2), _info("/t.wav", 0, 1)], [2000, 1000], 2.0, 0.2)
    assert lay.total == 5000
    assert lay.gap_span == (3000, 5000)
    assert lay.holes == ((1900, 2100), (3000, 5000))
    assert lay.real_spans() == [(0, 1900), (2100, 3000)]
    assert lay.section_a.offset == 2000  # the section the ending continues: the last one


def test_with_gap_moves_what_follows_the_gap_and_nothing_before_it() -> None:
    lay = place("bridge", FS, [_info("/s.wav", 0, 2), _info("/s.wav", 5, 3)], [2000, 3000], 1.5, 0.25)
    wide = lay.with_gap(4.0)
    assert wide.gap_span == (2000, 6000) and wide.holes == ((2000, 6000),)
    assert [s.offset for s in wide.sections] == [0, 6000] and wide.total == 9000
    assert wide.sections[1].start == 5 and wide.gap_seconds == 4.0
    assert lay.with_gap(1.5) is lay
    end = place("ending", FS, [_info("/s.wav", 0, 2), _info("/t.wav", 0, 1)], [2000, 1000], 2.0, 0.2)
    short = end.with_gap(0.5)
    assert short.holes == ((1900, 2100), (3000, 3500)) and short.total == 3500
    for bad in (0.4, 30.5, float("inf")):
        with pytest.raises(ConfigError, match="0.5 to 30 s"):
            lay.with_gap(bad)
    clip = np.arange(6500, dtype=np.float32)
    moved, moved_clip = layout_for_take(lay, clip, 0.5)
    assert moved.total == 5500 and moved_clip.shape == (5500,)
    assert np.array_equal(moved_clip[:2000], clip[:2000]) and not moved_clip[2000:2500].any()
    assert np.array_equal(moved_clip[2500:], clip[3500:])
    assert regap(np.ones((2, 10)), (4, 6), (4, 9)).shape == (2, 13)


def test_sections_that_join_in_the_original_need_no_junction_mask() -> None:
    lay = place("variation", FS, [_info("/s.wav", 0, 2), _info("/s.wav", 2, 1)], [2000, 1000], 0, 0.2)
    assert lay.holes == () and lay.gap_span is None
    cut = place("variation", FS, [_info("/s.wav", 0, 2), _info("/s.wav", 4, 1)], [2000, 1000], 0, 0.2)
    assert cut.holes == ((1900, 2100),)


def test_fill_gap_keeps_the_real_audio_and_puts_the_seams_at_the_gap() -> None:
    n, gap, cross = 1000, (400, 600), 50
    real = np.ones(n, dtype=np.float32)
    real[400:600] = 0.0
    gen = np.full(n, 3.0, dtype=np.float32)
    out = fill_gap(real, gen, gap, cross)
    assert out.shape == (n,)
    assert np.all(out[: 400 - cross] == 1.0) and np.all(out[600 + cross :] == 1.0)
    assert np.all(out[400:600] == 3.0)
    w = half_hann(cross)
    assert np.allclose(out[350:400], 1.0 * (1 - w) + 3.0 * w)
    assert np.all(np.diff(out[350:400]) > 0) and np.all(np.diff(out[600:650]) < 0)
    # an ending: the gap runs to the end; a fade-out takes the last samples to ~0
    end = fill_gap(real[:600], gen[:600], (400, 600), cross, fade_out=100)
    assert end.shape == (600,) and abs(end[-1]) < 1e-3 and end[450] == 3.0


def test_splice_is_a_plain_crossfade() -> None:
    a, b = np.ones(100, np.float32), np.zeros(80, np.float32)
    out, cut = splice(a, b, 20)
    assert out.shape == (160,) and cut == 90
    assert out[0] == 1 and out[-1] == 0


def test_manifest_layout_is_additive(tiny_run) -> None:
    import json

    from engine.project.checkpoint import read_manifest

    m = read_manifest(tiny_run.project)
    assert m.layout is None and m.holes == []
    data = json.loads((tiny_run.project / "manifest.json").read_text())
    assert "layout" not in data
    lay = place("bridge", 4000, [_info("/s.wav", 0, 0.4), _info("/s.wav", 0.6, 0.4)], [1600, 1600],
                0.2, 0.25)
    m.layout = lay
    again = type(m).from_dict(m.to_dict())
    assert again.layout == lay and again.holes == [(1600, 2400)]
