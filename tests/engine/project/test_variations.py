"""The variation store: add, list, rate, delete, survive a damaged index, same seed = same audio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ConfigError, ProjectError
from engine.project import RenderRecipe as R
from engine.project.variations import INDEX, VariationStore, provenance_for


@pytest.fixture()
def project(tmp_path: Path, demo_clip: Path) -> Path:
    """A prepared (untrained) tiny project: manifest and clip, enough for the store."""
    from engine.config import get_preset
    from engine.training.loop import prepare_project

    root = tmp_path / "proj"
    prepare_project(demo_clip, root, get_preset("tiny"), seed=0)
    return root


def _tone(seconds: float = 1.0, sr: int = 4000, f: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def test_add_list_and_read_back(project: Path) -> None:
    store = VariationStore(project)
    assert store.list() == []
    a = store.add(_tone(), 4000, R.of(3, 1.0, 1, 4), provenance=provenance_for(project))
    b = store.add(_tone(2.0), 4000, R.of(4, 2.0, None, 4))
    assert [r.id for r in store.list()] == ["v0001", "v0002"]
    assert a.file == "v0001_seed3_k1.wav" and b.tag == "free"
    assert b.seconds == pytest.approx(2.0)
    audio, sr = store.load_audio(a.id)
    assert sr == 4000 and np.allclose(audio, _tone(), atol=1e-7)
    side = json.loads((project / "variations" / "v0001_seed3_k1.json").read_text())
    assert side["variation"]["seed"] == 3
    assert side["provenance"]["preset"] == "tiny"
    assert side["provenance"]["source_sha256"]
    # a second instance (a reopened project) sees the same
    again = VariationStore(project)
    assert [r.to_dict() for r in again.list()] == [r.to_dict() for r in store.list()]
    assert again.find(R.of(4, 2.0, None, 4)).id == "v0002"
    assert again.find(R.of(4, 2.0, 0, 4)) is None
    assert a.recipe == R.of(3, 1.0, 1, 4) and a.strength == "loosely like the original"


def test_rate_and_delete_persist(project: Path) -> None:
    store = VariationStore(project)
    a = store.add(_tone(), 4000, R.of(1, 1.0, 0, 4))
    store.add(_tone(), 4000, R.of(2, 1.0, 0, 4))
    store.rate(a.id, 7)
    assert VariationStore(project).get(a.id).rating == 7
    store.rate(a.id, None)
    assert VariationStore(project).get(a.id).rating is None
    with pytest.raises(ConfigError):
        store.rate(a.id, 11)
    with pytest.raises(ConfigError):
        store.rate(a.id, -1)
    store.delete(a.id)
    assert not (project / "variations" / a.file).exists()
    assert not (project / "variations" / a.file).with_suffix(".json").exists()
    assert [r.seed for r in VariationStore(project).list()] == [2]
    # ids are never reused after a delete
    c = store.add(_tone(), 4000, R.of(9, 1.0, 0, 4))
    assert c.id == "v0003"
    with pytest.raises(ProjectError):
        store.get("v0001")


def test_verdict_saved(project: Path) -> None:
    store = VariationStore(project)
    a = store.add(_tone(), 4000, R.of(1, 1.0, 0, 4))
    store.set_verdict(a.id, "novel", {"longest_copy_s": 0.3, "bad": float("nan"), "x": "y"})
    rec = VariationStore(project).get(a.id)
    assert rec.verdict == "novel" and rec.metrics == {"longest_copy_s": 0.3}


def test_damaged_index_is_rebuilt_from_sidecars(project: Path) -> None:
    store = VariationStore(project)
    store.add(_tone(), 4000, R.of(1, 1.0, 0, 4))
    b = store.add(_tone(), 4000, R.of(2, 1.0, 1, 4))
    store.rate(b.id, 9)
    (project / "variations" / INDEX).write_text("{ not json")
    again = VariationStore(project)
    assert [(r.seed, r.rating) for r in again.list()] == [(1, None), (2, 9)]
    assert json.loads((project / "variations" / INDEX).read_text())["next_id"] == 3


def test_missing_audio_is_dropped(project: Path) -> None:
    store = VariationStore(project)
    a = store.add(_tone(), 4000, R.of(1, 1.0, 0, 4))
    (project / "variations" / a.file).unlink()
    assert VariationStore(project).list() == []


def test_newer_format_refused(project: Path) -> None:
    (project / "variations").mkdir()
    (project / "variations" / INDEX).write_text(json.dumps({"format_version": 99, "variations": []}))
    with pytest.raises(ProjectError, match="newer"):
        VariationStore(project)


def test_no_project_folder(tmp_path: Path) -> None:
    with pytest.raises(ProjectError):
        VariationStore(tmp_path / "missing")


def test_empty_audio_refused(project: Path) -> None:
    with pytest.raises(ConfigError):
        VariationStore(project).add(np.zeros(0, np.float32), 4000, R.of(1, 1.0, None, 4))


@pytest.mark.slow
def test_same_seed_regenerates_same_audio(tiny_project: Path) -> None:
    from engine.generation.render import generate, load_model

    model = load_model(tiny_project, "cpu")
    store = VariationStore(tiny_project)
    y = generate(model, seconds=2.0, seed=5, from_scale=1)
    rec = store.add(y, model.fs, R.of(5, 2.0, 1, 4))
    stored, sr = store.load_audio(rec.id)
    again = generate(load_model(tiny_project, "cpu"), seconds=2.0, seed=5, from_scale=1)
    assert sr == model.fs
    assert np.array_equal(stored, again)
