"""A file section B may come from (engine.project.layout.probe_section_file): read through once,
its length known, a range checked against it; unreadable or too short files refused in words."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.errors import AudioError, ConfigError
from engine.project.layout import probe_section_file


def test_a_real_file_is_probed_and_ranges_are_checked(second_clip: Path) -> None:
    info = probe_section_file(second_clip)
    real = sf.info(str(second_clip))
    assert info.path == str(second_clip.resolve()) and info.name == second_clip.name
    assert info.duration == pytest.approx(real.duration, abs=1e-6)
    assert (info.sample_rate, info.channels) == (real.samplerate, real.channels)
    info.check_section(2.5, 3.7)  # fine
    with pytest.raises(ConfigError, match=r"reaches past the end of .*choose an earlier start"):
        info.check_section(info.duration - 0.6, info.duration + 0.6)
    with pytest.raises(ConfigError, match="too short"):
        info.check_section(1.0, 1.2)
    with pytest.raises(ConfigError, match="must end after it starts"):
        info.check_section(-1.0, 1.0)


def test_unreadable_missing_and_too_short_files_are_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEjunk" * 8)
    with pytest.raises(AudioError, match="broken.wav"):
        probe_section_file(broken)
    with pytest.raises(AudioError, match="not found"):
        probe_section_file(tmp_path / "missing.wav")
    short = tmp_path / "short.wav"
    sf.write(str(short), np.full(4000, 0.1, dtype=np.float32), 16000)  # 0.25 s
    with pytest.raises(ConfigError, match="only 0.25 s long"):
        probe_section_file(short)
