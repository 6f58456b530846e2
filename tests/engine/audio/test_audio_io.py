"""Audio in and out: reading, down-mixing, cutting, resampling, normalising, writing."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.audio.io import (
    integrated_loudness,
    load_clip,
    match_loudness,
    read_audio,
    resample,
    save_audio,
    to_mono,
    trim_and_fade,
)
from engine.errors import AudioError, OutputError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_read_audio_gives_channels_first_float32(demo_clip: Path) -> None:
    audio, sr = read_audio(demo_clip)
    info = sf.info(str(demo_clip))
    assert sr == info.samplerate == 44100
    assert audio.dtype == np.float32
    assert audio.shape == (info.channels, info.frames) == (2, info.frames)
    assert audio.flags["C_CONTIGUOUS"]
    # the two channels of the real recording are not identical, and it is not silent
    assert not np.array_equal(audio[0], audio[1])
    assert np.max(np.abs(audio)) > 0.1


def test_to_mono_averages_channels() -> None:
    x = np.array([[1.0, 0.0, -1.0], [0.0, 0.5, 1.0], [0.5, 0.5, 0.5]], dtype=np.float32)
    m = to_mono(x)
    np.testing.assert_allclose(m, [0.5, 1.0 / 3.0, 1.0 / 6.0], rtol=1e-6)
    assert m.dtype == np.float32
    mono = np.arange(4, dtype=np.float32)
    assert to_mono(mono) is mono


def test_resample_keeps_a_low_tone_and_removes_content_above_the_new_nyquist() -> None:
    sr = 16000
    t = np.arange(sr) / sr
    low = np.sin(2 * np.pi * 300 * t).astype(np.float32)
    high = np.sin(2 * np.pi * 5000 * t).astype(np.float32)
    y = resample(low + high, sr, 8000)
    assert isinstance(y, np.ndarray) and y.shape == (8000,)
    t8 = np.arange(8000) / 8000
    expect = np.sin(2 * np.pi * 300 * t8)
    inner = slice(400, -400)  # away from the filter's edge transients
    np.testing.assert_allclose(y[inner], expect[inner], atol=2e-3)


def test_resample_types_lengths_and_identity() -> None:
    x = np.random.default_rng(0).standard_normal((2, 4410)).astype(np.float32)
    assert resample(x, 44100, 44100) is x
    y = resample(x, 44100, 16000)
    assert isinstance(y, np.ndarray) and y.shape == (2, 1600)
    t = torch.from_numpy(x)
    yt = resample(t, 44100, 16000)
    assert isinstance(yt, torch.Tensor) and yt.shape == (2, 1600)
    np.testing.assert_allclose(yt.numpy(), y, atol=1e-6)


def test_load_clip_cuts_the_section_exactly_and_normalises(tmp_path: Path) -> None:
    # file rate == working rate: no resampling, so the cut can be checked sample for sample
    sr = 8000
    x = np.random.default_rng(3).uniform(-0.4, 0.4, 3 * sr).astype(np.float32)
    path = tmp_path / "noise.wav"
    sf.write(str(path), x, sr, subtype="FLOAT")
    clip = load_clip(path, sr, start=0.5, duration=0.25)
    section = x[4000:6000]
    assert clip.signal.shape == (2000,)
    assert clip.fs == sr and clip.source_sr == sr and clip.source_channels == 1
    assert np.max(np.abs(clip.signal)) == pytest.approx(1.0, abs=1e-6)
    assert clip.gain == pytest.approx(np.max(np.abs(section)), rel=1e-6)
    np.testing.assert_allclose(clip.signal * clip.gain, section, atol=1e-6)
    assert clip.start == 0.5 and clip.duration == pytest.approx(0.25)
    assert clip.seconds == pytest.approx(0.25)
    assert clip.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert Path(clip.source_path) == path.resolve()


def test_load_clip_downmixes_resamples_and_caps_length(demo_clip: Path) -> None:
    clip = load_clip(demo_clip, 4000, start=1.0, max_seconds=2.5)
    assert clip.signal.shape == (10000,)  # 2.5 s at 4 kHz
    assert clip.source_sr == 44100 and clip.source_channels == 2
    assert clip.duration == pytest.approx(2.5)
    audio, sr = read_audio(demo_clip)
    expect = resample(audio[:, 44100 : 44100 + int(2.5 * 44100)].mean(axis=0), 44100, 4000)
    np.testing.assert_allclose(clip.signal * clip.gain, expect, atol=1e-5)


def test_load_clip_rest_of_file_by_default_and_duration_held_to_file(tmp_path: Path) -> None:
    sr = 8000
    path = tmp_path / "two-seconds.wav"
    sf.write(str(path), np.random.default_rng(0).uniform(-0.5, 0.5, 2 * sr), sr)
    assert load_clip(path, 8000, start=0.5).signal.shape == (12000,)
    assert load_clip(path, 8000, start=1.5, duration=10.0).signal.shape == (4000,)


def test_a_lower_native_rate_is_resampled_up_to_the_working_rate(tmp_path: Path) -> None:
    path = tmp_path / "8k.wav"
    sf.write(str(path), np.random.default_rng(0).uniform(-0.5, 0.5, 8000), 8000)
    clip = load_clip(path, 16000)
    assert clip.fs == 16000 and clip.source_sr == 8000
    assert clip.signal.shape == (16000,)


@pytest.mark.parametrize(
    ("start", "duration", "words"),
    [
        (-0.1, None, "before the beginning"),
        (5.0, None, "cannot start at"),
        (0.0, 0.0, "longer than 0"),
    ],
)
def test_load_clip_rejects_impossible_sections(
    tmp_path: Path, start: float, duration: float | None, words: str
) -> None:
    path = tmp_path / "one-second.wav"
    sf.write(str(path), np.full(8000, 0.3, dtype=np.float32), 8000)
    with pytest.raises(AudioError, match=words):
        load_clip(path, 8000, start=start, duration=duration)


def test_load_clip_rejects_a_silent_section_of_a_loud_file(tmp_path: Path) -> None:
    x = np.zeros(16000, dtype=np.float32)
    x[8000:] = 0.5
    path = tmp_path / "half-silent.wav"
    sf.write(str(path), x, 16000)
    with pytest.raises(AudioError, match="silent"):
        load_clip(path, 16000, start=0.0, duration=0.4)
    assert load_clip(path, 16000, start=0.6).signal.shape == (6400,)


def test_load_clip_rejects_a_section_shorter_than_min_samples(tmp_path: Path) -> None:
    path = tmp_path / "short.wav"
    sf.write(str(path), np.random.default_rng(0).uniform(-0.5, 0.5, 800), 8000)
    with pytest.raises(AudioError, match="too short"):
        load_clip(path, 8000, min_samples=801)
    assert load_clip(path, 8000, min_samples=800).signal.shape == (800,)


def test_read_audio_rejects_non_finite_samples(tmp_path: Path) -> None:
    x = np.zeros(1000, dtype=np.float32)
    x[10] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(str(path), x, 8000, subtype="FLOAT")
    with pytest.raises(AudioError, match="invalid samples"):
        read_audio(path)


@pytest.mark.parametrize(
    ("subtype", "atol"),
    [("PCM_16", 1 / 32768 + 1e-7), ("PCM_24", 1 / 8388608 + 1e-7), ("FLOAT", 0.0)],
)
def test_save_audio_round_trip(tmp_path: Path, subtype: str, atol: float) -> None:
    x = np.random.default_rng(1).uniform(-0.9, 0.9, (2, 500)).astype(np.float32)
    path = save_audio(tmp_path / "out.wav", x, 22050, subtype=subtype)
    assert sf.info(str(path)).subtype == subtype
    y, sr = sf.read(str(path), dtype="float32", always_2d=True)
    assert sr == 22050 and y.shape == (500, 2)
    np.testing.assert_allclose(y.T, x, atol=atol, rtol=0)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temporary file left


def test_written_files_get_the_usual_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = save_audio(tmp_path / "out.wav", np.zeros(10, dtype=np.float32), 8000)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not the 0600 of a temporary file


def test_save_audio_clips_integer_formats_but_not_float(tmp_path: Path) -> None:
    x = np.array([1.5, -2.0, 0.25], dtype=np.float32)
    y16, _ = sf.read(str(save_audio(tmp_path / "a.wav", x, 8000, subtype="16")), dtype="float32")
    assert y16.max() <= 1.0 and y16.min() == -1.0
    assert y16[0] == pytest.approx(1.0, abs=1e-4)
    yf, _ = sf.read(str(save_audio(tmp_path / "b.wav", x, 8000, subtype="float")), dtype="float32")
    np.testing.assert_array_equal(yf, x)


@pytest.mark.parametrize(
    ("suffix", "fmt"), [(".flac", "FLAC"), (".aiff", "AIFF"), (".aif", "AIFF"), (".wav", "WAV")]
)
def test_save_audio_format_follows_the_suffix(tmp_path: Path, suffix: str, fmt: str) -> None:
    x = np.random.default_rng(2).uniform(-0.5, 0.5, 400).astype(np.float32)
    path = save_audio(tmp_path / f"out{suffix}", x, 16000, subtype="PCM_16")
    info = sf.info(str(path))
    assert info.format == fmt and info.frames == 400 and info.channels == 1


def test_save_audio_refuses_float_flac_and_unwritable_paths(tmp_path: Path) -> None:
    x = np.zeros(10, dtype=np.float32)
    with pytest.raises(OutputError, match="FLAC"):
        save_audio(tmp_path / "x.flac", x, 8000, subtype="FLOAT")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError):
        save_audio(blocker / "x.wav", x, 8000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_trim_and_fade() -> None:
    sr = 1000
    x = np.ones(1000, dtype=np.float32)
    y = trim_and_fade(x, sr, trim_s=0.2, fade_s=0.01)
    assert y.shape == (600,)
    assert y[0] == 0.0 and y[-1] == 0.0
    np.testing.assert_allclose(y[:10], np.linspace(0, 1, 10), atol=1e-7)
    np.testing.assert_array_equal(y[10:-10], 1.0)
    assert np.all(x == 1.0)  # the input is not modified
    # too short to trim: kept whole, still faded
    z = trim_and_fade(np.ones(300, dtype=np.float32), sr, trim_s=0.2)
    assert z.shape == (300,) and z[0] == 0.0 and z[150] == 1.0


def test_match_loudness_reaches_the_target_and_respects_the_ceiling() -> None:
    sr = 16000
    t = np.arange(2 * sr) / sr
    x = (0.01 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    y = match_loudness(x, sr, -23.0)
    assert integrated_loudness(y, sr) == pytest.approx(-23.0, abs=0.1)
    assert np.max(np.abs(y)) < 0.999
    loud = match_loudness(x, sr, 0.0)  # a sine at 0 LUFS would clip: the ceiling wins
    assert np.max(np.abs(loud)) == pytest.approx(0.999, abs=1e-5)
