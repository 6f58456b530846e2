"""A project, its variations and a listening study made by the code of commit 6d00f76 (before
the restructuring) still open and work: tests/fixtures/legacy_6d00f76 (make_fixture.py there
says how it was made, with that commit's code)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.cli import main

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "legacy_6d00f76" / "data"


@pytest.fixture()
def legacy(tmp_path: Path) -> Path:
    dst = tmp_path / "legacy"
    shutil.copytree(FIXTURE, dst)
    return dst


def test_a_legacy_project_reports_its_state(legacy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--project", str(legacy / "project")]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out and "4 of 4" in out.replace("scales trained: ", "")


def test_a_legacy_project_generates_the_same_audio_again(legacy: Path, tmp_path: Path) -> None:
    """Variation v0001 was rendered by 6d00f76 with seed 11, free, 1.5 s: today's code renders
    the same samples from the same weights."""
    out = tmp_path / "renders"
    assert main(["generate", "--project", str(legacy / "project"), "--count", "1", "--seed", "11",
                 "--seconds", "1.5", "--out", str(out), "--device", "cpu"]) == 0
    (wav,) = out.glob("*.wav")
    new, sr = sf.read(wav, dtype="float32")
    old, old_sr = sf.read(legacy / "project" / "variations" / "v0001_seed11_free.wav",
                          dtype="float32")
    assert sr == old_sr == 4000
    trim = 800  # the CLI trims 0.2 s from each edge; the store keeps the whole render
    assert new.shape == old[trim:-trim].shape
    fade = 200  # and fades the new edges in and out
    np.testing.assert_allclose(new[fade:-fade], old[trim + fade:-trim - fade], atol=1e-4)


def test_legacy_variations_keep_their_strengths_ratings_and_verdicts(legacy: Path) -> None:
    from engine.project.variations import VariationStore

    store = VariationStore(legacy / "project")
    recs = store.list()
    assert [r.seed for r in recs] == [11, 12, 13]
    assert [r.from_scale for r in recs] == [None, 0, 2]
    assert recs[0].rating == 4 and all(r.verdict for r in recs)
    audio, sr = store.load_audio(recs[1])
    assert sr == 4000 and audio.shape == (6000,)


def test_a_legacy_study_reports_and_analyses_its_session(
    legacy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = legacy / "study"
    assert main(["study", "info", str(study)]) == 0
    info = capsys.readouterr().out
    assert "5" in info and "rater-one" in info.lower().replace(" ", "-")
    out = tmp_path / "results.json"
    assert main(["study", "results", str(study), "--json", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert "Rater One" in json.dumps(data)
