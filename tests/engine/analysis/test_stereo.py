"""Stereo measures on constructed signals whose answers are known, and on a real recording."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from engine.analysis.stereo import SIDE_FLOOR_DB, stereo_baselines, stereo_metrics
from engine.errors import AudioError
from tests.conftest import SHARED_AUDIO

SR = 16000


def _noise(seed: int, n: int = SR * 2) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(n) * 0.1


def test_identical_channels_read_as_mono() -> None:
    x = _noise(0)
    m = stereo_metrics(np.stack([x, x]), SR)
    assert m.correlation == pytest.approx(1.0, abs=1e-9)
    assert m.side_to_mid == pytest.approx(0.0, abs=1e-12)
    assert m.side_to_mid_db == SIDE_FLOOR_DB
    assert m.mono_change_db == pytest.approx(0.0, abs=1e-9)
    assert all(b.correlation == pytest.approx(1.0, abs=1e-9) for b in m.bands)


def test_hard_panned_source_is_one_sided() -> None:
    x = _noise(1)
    m = stereo_metrics(np.stack([x, np.zeros_like(x)]), SR)
    assert m.correlation == 0.0
    assert m.side_to_mid == pytest.approx(1.0)  # L only: mid and side are the same size
    assert m.mono_change_db == pytest.approx(-3.0103, abs=0.01)


def test_inverted_channel_cancels_in_mono() -> None:
    x = _noise(2)
    m = stereo_metrics(np.stack([x, -x]), SR)
    assert m.correlation == pytest.approx(-1.0, abs=1e-9)
    assert m.mono_change_db < -100


def test_unrelated_channels_are_wide_and_lose_3_db() -> None:
    m = stereo_metrics(np.stack([_noise(3), _noise(4)]), SR)
    assert abs(m.correlation) < 0.05
    assert m.side_to_mid == pytest.approx(1.0, abs=0.1)
    assert m.mono_change_db == pytest.approx(-3.0, abs=0.2)


def test_bands_separate_a_wide_treble_from_a_mono_bass() -> None:
    t = np.arange(SR * 2) / SR
    bass = np.sin(2 * np.pi * 100 * t)
    left = bass + 0.3 * np.sin(2 * np.pi * 5000 * t)
    right = bass + 0.3 * np.sin(2 * np.pi * 5000 * t + np.pi / 2)  # treble 90 degrees apart
    m = stereo_metrics(np.stack([left, right]), SR)
    low = next(b for b in m.bands if b.low_hz == 0.0)
    treble = next(b for b in m.bands if b.low_hz == 4000.0)
    assert low.correlation == pytest.approx(1.0, abs=1e-3)
    assert abs(treble.correlation) < 0.05
    assert m.bands[-1].high_hz == SR / 2  # the last band stops at Nyquist


def test_baselines_bracket_a_real_stereo_recording(demo_stereo: np.ndarray) -> None:
    x = demo_stereo
    mid = x.mean(axis=0)
    base = stereo_baselines(x, SR, takes=[mid[: SR * 2], mid[SR * 2 : SR * 4]])
    assert base["mid to both"].correlation == pytest.approx(1.0, abs=1e-9)
    assert base["mid to both"].side_to_mid_db == SIDE_FLOOR_DB
    assert abs(base["independent takes"].correlation) < base["original"].correlation


def test_refuses_what_is_not_stereo() -> None:
    with pytest.raises(AudioError, match="two channels"):
        stereo_metrics(_noise(5), SR)
    with pytest.raises(AudioError, match="at least"):
        stereo_metrics(np.zeros((2, 100)), SR)


@pytest.fixture(scope="module")
def demo_stereo() -> np.ndarray:
    """A real stereo recording (the shared Sectoid clip, 44.1 kHz stereo), 5 s at 16 kHz."""
    from engine.audio.io import resample

    path = SHARED_AUDIO / "sectoid-war-of-freedom-20s.wav"
    if not path.is_file():
        pytest.skip("the shared recordings are not beside this checkout")
    data, sr = sf.read(path, dtype="float32", always_2d=True, frames=5 * 44100)
    if data.shape[1] != 2:
        pytest.skip("the shared clip is not stereo")
    return np.asarray(resample(np.ascontiguousarray(data.T), sr, SR), dtype=np.float64)


def _recording(seconds: float) -> np.ndarray:
    path = SHARED_AUDIO / "sectoid-metal-madness-8s.wav"
    if not path.is_file():
        pytest.skip("the shared recordings are not beside this checkout")
    data, _sr = sf.read(path, dtype="float32", always_2d=True, frames=int(seconds * 44100))
    return np.ascontiguousarray(data.T)


def test_image_words_and_report_tell_a_kept_image_from_a_lost_one() -> None:
    from engine.analysis.stereo import image_error, image_words, stereo_report

    sr = 44100
    rec = _recording(8.0)
    x = rec[:, : 4 * sr]
    ref = stereo_metrics(x, sr)
    later = rec[:, 4 * sr : 8 * sr]  # the same mix, later: the same kind of image
    assert image_error(ref, ref)["correlation_error"] == 0.0
    assert image_words(stereo_metrics(later, sr), ref).startswith("stereo: ")
    mid = x.mean(axis=0)
    assert image_words(stereo_metrics(np.stack([mid, mid]), sr), ref) == "stereo: mono (no width)"
    unrelated = np.stack([x[0], np.roll(x[1], 30000)])
    words = image_words(stereo_metrics(unrelated, sr), ref)
    assert "unrelated" in words or "wider" in words, words
    report = stereo_report(x, sr, {"later": later, "mono": mid, "shifted": unrelated})
    rows = report["variations"]
    assert rows["mono"]["words"] == "stereo: mono (no width)"
    assert rows["later"]["correlation_error"] < rows["shifted"]["correlation_error"]
    assert set(report["baselines"]) == {"mid to both", "independent takes"}


def test_the_quick_verdict_of_a_stereo_variation_names_its_image() -> None:
    from engine.analysis.verdict import quick_verdict

    sr = 44100
    rec = _recording(8.0)
    clip, var = rec[:, : 4 * sr], rec[:, 4 * sr :]
    text, numbers = quick_verdict(clip, var, sr)
    assert "; stereo: " in text and "stereo_correlation" in numbers
    mono_text, mono_numbers = quick_verdict(clip.mean(axis=0), var.mean(axis=0), sr)
    assert "stereo" not in mono_text and "stereo_correlation" not in mono_numbers
