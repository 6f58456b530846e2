"""A study of stereo projects keeps its stimuli stereo (issue 13), loudness-matched over both
channels; a study that mixes a mono project in stays all mono, so the channel count never tells
a generated stimulus from a real one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.io import integrated_loudness
from engine.study import GenerateSpec, ProjectSelection, StudySpec
from engine.study.build import build_study
from engine.study.stimuli import study_channels


@pytest.fixture(scope="module")
def stereo_project(stereo_tiny_master: Path) -> Path:
    return stereo_tiny_master


def _sel(path: Path) -> ProjectSelection:
    return ProjectSelection(path=path, generate=[GenerateSpec(count=2, seed=3, from_scale=1)],
                            real_training=1, real_other=1, real_clip=0)


def test_a_stereo_study_keeps_every_stimulus_stereo_at_one_loudness(
    stereo_project: Path, tmp_path: Path
) -> None:
    spec = StudySpec(title="Stereo", projects=[_sel(stereo_project)], seed=2, excerpt_seconds=1.5)
    assert study_channels(spec) == 2
    study = build_study(spec, tmp_path / "study")
    data = json.loads((tmp_path / "study" / "study.json").read_text())
    assert data["settings"]["channels"] == 2
    kinds = set()
    louds = []
    for st in data["stimuli"]:
        x, sr = sf.read(str(tmp_path / "study" / st["file"]), always_2d=True)
        assert x.shape[1] == 2, st["truth"]
        kinds.add(st["truth"]["kind"])
        louds.append(integrated_loudness(x.T.astype(np.float32), sr))
        if st["truth"]["kind"] == "real":  # real excerpts keep the recording's own image
            assert not np.allclose(x[:, 0], x[:, 1], atol=1e-4)
    assert kinds == {"generated", "real"}
    assert max(louds) - min(louds) < 0.5
    audio, rate = study.load_audio(data["stimuli"][0]["code"])  # what the rater plays
    assert audio.shape[0] == 2 and rate == data["settings"]["sample_rate"]


def test_a_study_with_a_mono_project_is_all_mono(stereo_project: Path, tiny_project: Path,
                                                 tmp_path: Path) -> None:
    spec = StudySpec(title="Mixed", projects=[_sel(stereo_project), _sel(tiny_project)], seed=2,
                     excerpt_seconds=1.0)
    assert study_channels(spec) == 1
    build_study(spec, tmp_path / "study")
    data = json.loads((tmp_path / "study" / "study.json").read_text())
    assert data["settings"]["channels"] == 1
    assert all(sf.info(str(tmp_path / "study" / st["file"])).channels == 1 for st in data["stimuli"])


def test_the_channels_of_variation_files_decide_too(stereo_project: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    stereo_file, mono_file = tmp_path / "s.wav", tmp_path / "m.wav"
    sf.write(str(stereo_file), 0.1 * rng.standard_normal((8000, 2)), 4000)
    sf.write(str(mono_file), 0.1 * rng.standard_normal(8000), 4000)
    both = StudySpec(title="x", projects=[_sel(stereo_project)], variation_files=[stereo_file])
    assert study_channels(both) == 2
    mixed = StudySpec(title="x", projects=[_sel(stereo_project)], variation_files=[mono_file])
    assert study_channels(mixed) == 1
    assert study_channels(StudySpec(title="x", variation_files=[tmp_path / "gone.wav"])) == 1
