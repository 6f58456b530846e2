"""Headless export: formats, rates, trimming, loudness matching, names, sidecars, conflicts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio.io import integrated_loudness
from engine.errors import ConfigError
from engine.export import (
    ExportConflictError,
    ExportOptions,
    export_variations,
    original_section,
    plan_export,
    render_name,
)
from engine.project import Project, RenderRecipe
from engine.project.variations import VariationStore


@pytest.fixture()
def project(tmp_path: Path, demo_clip: Path) -> Path:
    from engine.config import get_preset
    from engine.training.loop import prepare_project

    root = tmp_path / "proj"
    prepare_project(demo_clip, root, get_preset("tiny"), seed=0)
    return root


def _noise(seconds: float, sr: int, level: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (level * rng.standard_normal(int(seconds * sr))).astype(np.float32)


@pytest.fixture()
def store(project: Path) -> VariationStore:
    s = VariationStore(project)
    n = Project.open(project).scales_done
    s.add(_noise(2.0, 4000, 0.05, 1), 4000, RenderRecipe.variation(11, 2.0, 1, n))
    s.add(_noise(2.5, 4000, 0.2, 2), 4000, RenderRecipe.free(12, 2.5, n))
    return s


def test_wav_24_working_rate_trimmed_and_matched(project: Path, store: VariationStore,
                                                  tmp_path: Path) -> None:
    out = tmp_path / "out"
    opts = ExportOptions(folder=out, fmt="wav", bit_depth="24")
    plan = plan_export(project, store.list(), opts)
    assert plan.conflicts == []
    results = list(export_variations(project, plan))
    assert [r.path.name for r in results] == [
        "demo-war-of-freedom-10s_very-close_seed11.wav", "demo-war-of-freedom-10s_free_seed12.wav"]
    original, fs = original_section(project)
    target = integrated_loudness(original, fs)
    for r in results:
        info = sf.info(str(r.path))
        assert info.samplerate == 4000 and info.subtype == "PCM_24"
        y, sr = sf.read(str(r.path), dtype="float32")
        rec_seconds = r.record.seconds
        assert y.shape[0] == pytest.approx((rec_seconds - 0.4) * sr, abs=2)
        assert abs(y[0]) < 1e-3 and abs(y[-1]) < 1e-3  # faded edges
        assert integrated_loudness(y, sr) == pytest.approx(target, abs=0.6)
        side = json.loads(r.sidecar.read_text())
        assert side["file"] == r.path.name
        assert side["variation"]["seed"] == r.record.seed
        assert side["project"]["preset"] == "tiny"
        assert side["source"]["sha256"]
        assert side["loudness_matched"] is True
        assert side["edges_trimmed_s"] == 0.2


def test_flac_16_original_rate(project: Path, store: VariationStore, tmp_path: Path) -> None:
    opts = ExportOptions(folder=tmp_path / "o", fmt="flac", bit_depth="16", rate="original",
                         match_loudness=False, trim_ms=0, pattern="{id}-{scale}-{rating}")
    store.rate("v0001", 8)
    results = list(export_variations(project, plan_export(project, store.list(), opts)))
    names = [r.path.name for r in results]
    assert names == ["v0001-k1-8.flac", "v0002-free-unrated.flac"]
    info = sf.info(str(results[0].path))
    assert info.samplerate == 44100 and info.subtype == "PCM_16" and info.format == "FLAC"
    assert info.frames == pytest.approx(2.0 * 44100, abs=50)


def test_float_wav_and_flac_float_refused(tmp_path: Path) -> None:
    ExportOptions(folder=tmp_path, fmt="wav", bit_depth="float")
    with pytest.raises(ConfigError, match="FLAC"):
        ExportOptions(folder=tmp_path, fmt="flac", bit_depth="float")
    with pytest.raises(ConfigError):
        ExportOptions(folder=tmp_path, fmt="mp3")
    with pytest.raises(ConfigError, match="Unknown field"):
        ExportOptions(folder=tmp_path, pattern="{clip}_{bpm}")
    with pytest.raises(ConfigError):
        ExportOptions(folder=tmp_path, pattern="{clip")


def test_never_overwrites_without_being_told(project: Path, store: VariationStore,
                                             tmp_path: Path) -> None:
    out = tmp_path / "out"
    opts = ExportOptions(folder=out)
    list(export_variations(project, plan_export(project, store.list(), opts)))
    first = (out / "demo-war-of-freedom-10s_very-close_seed11.wav").read_bytes()
    plan = plan_export(project, store.list(), opts)
    assert len(plan.conflicts) == 4  # two wavs and two sidecars
    with pytest.raises(ExportConflictError) as err:
        list(export_variations(project, plan))
    assert len(err.value.paths) == 4
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [p.name for p in plan.conflicts])  # nothing new written
    skipped = list(export_variations(project, plan, on_conflict="skip"))
    assert all(r.skipped for r in skipped)
    both = list(export_variations(project, plan, on_conflict="keep-both"))
    assert [r.path.name for r in both] == [
        "demo-war-of-freedom-10s_very-close_seed11 (2).wav", "demo-war-of-freedom-10s_free_seed12 (2).wav"]
    assert (out / "demo-war-of-freedom-10s_very-close_seed11 (2).json").is_file()
    over = list(export_variations(project, plan, on_conflict="overwrite"))
    assert over[0].path.read_bytes() == first  # same render, replaced in place
    assert len(list(out.glob("*.wav"))) == 4


def test_duplicate_names_within_one_export(project: Path, store: VariationStore,
                                           tmp_path: Path) -> None:
    opts = ExportOptions(folder=tmp_path / "o", pattern="{clip}")
    plan = plan_export(project, store.list(), opts)
    assert [i.target.name for i in plan.items] == [
        "demo-war-of-freedom-10s.wav", "demo-war-of-freedom-10s-2.wav"]


def test_nothing_to_export(project: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        plan_export(project, [], ExportOptions(folder=tmp_path))


def test_unsafe_pattern_characters(store: VariationStore) -> None:
    rec = store.list()[0]
    name = render_name("../{clip}/x:{seed}", rec, recipe=rec.recipe_for(4), clip="a/b",
                       preset="tiny", index=1)
    assert "/" not in name and ":" not in name and name


def test_silent_variation_not_boosted(project: Path, tmp_path: Path) -> None:
    s = VariationStore(project)
    s.add(np.zeros(8000, np.float32), 4000, RenderRecipe.variation(1, 2.0, 0, 4))
    (r,) = export_variations(project, plan_export(project, s.list(), ExportOptions(folder=tmp_path)))
    y, _ = sf.read(str(r.path))
    assert np.max(np.abs(y)) == 0.0
    assert json.loads(r.sidecar.read_text())["loudness_matched"] is False


def test_original_section_exported_as_a_reference_track(tmp_path: Path, demo_clip: Path,
                                                        store: VariationStore) -> None:
    """The reference track is the source file's own section: its channels and samples exactly
    (float, original rate), or at the working rate; with a changed source file the project's
    mono copy stands in and the sidecar says so."""
    from engine.config import get_preset
    from engine.project.checkpoint import read_manifest
    from engine.training.loop import prepare_project

    x, sr = sf.read(str(demo_clip), dtype="float32", always_2d=True)
    stereo = np.stack([x[:, 0], -0.5 * x[:, 0]], axis=1)  # two different channels
    src = tmp_path / "song.wav"
    sf.write(str(src), stereo, sr, subtype="FLOAT")
    root = tmp_path / "stereo-proj"
    prepare_project(src, root, get_preset("tiny"), seed=0, start=1.5, duration=2.0)
    start, dur = read_manifest(root).source["start"], read_manifest(root).source["duration"]

    opts = ExportOptions(folder=tmp_path / "ref", bit_depth="float", rate="original",
                         include_original=True)
    plan = plan_export(root, [], opts)  # the original alone is something to export
    (res,) = list(export_variations(root, plan))
    assert res.record is None and res.path.name == "song_original-section.wav"
    y, ysr = sf.read(str(res.path), dtype="float32", always_2d=True)
    a = int(round(start * sr))
    assert ysr == sr and y.shape == (int(round(dur * sr)), 2)
    np.testing.assert_array_equal(y, stereo[a : a + y.shape[0]])  # untouched: no trim, fade, gain
    side = json.loads(res.sidecar.read_text())
    assert side["original_section"] is True and side["taken_from"] == "source file"

    # at the working rate, next to the variations of another project: first in the plan
    work = ExportOptions(folder=tmp_path / "ref2", rate="working", include_original=True)
    results = list(export_variations(root, plan_export(root, [], work)))
    info = sf.info(str(results[0].path))
    assert info.samplerate == 4000 and info.channels == 2

    # the source file changed since training: the project's copy is used, and said to be
    sf.write(str(src), stereo[::-1], sr, subtype="FLOAT")
    results = list(export_variations(root, plan_export(root, [], work.__class__(
        folder=tmp_path / "ref3", include_original=True))))
    y3, sr3 = sf.read(str(results[0].path), dtype="float32", always_2d=True)
    assert sr3 == 4000 and y3.shape[1] == 1
    clip, _ = original_section(root)
    assert y3.shape[0] == clip.shape[0]
    assert "source file is missing or has changed" in json.loads(
        results[0].sidecar.read_text())["taken_from"]


def test_original_and_variations_export_together(project: Path, store: VariationStore,
                                                 tmp_path: Path) -> None:
    opts = ExportOptions(folder=tmp_path / "both", include_original=True)
    plan = plan_export(project, store.list(), opts)
    assert [it.record is None for it in plan.items] == [True, False, False]
    names = [r.path.name for r in export_variations(project, plan)]
    assert names[0] == "demo-war-of-freedom-10s_original-section.wav" and len(set(names)) == 3
    # a second time: the original is a conflict like any other file
    assert len(plan_export(project, store.list(), opts).conflicts) == 6


def test_daw_ready_copy_is_made_once_with_the_export_defaults(project: Path,
                                                              store: VariationStore) -> None:
    from engine.export import daw_ready_file

    rec = store.list()[1]
    path = daw_ready_file(project, rec)
    assert path.parent == project / "for-daw" and path.name.endswith(f"_{rec.id}.wav")
    info = sf.info(str(path))
    assert info.samplerate == 44100 and info.subtype == "PCM_24"  # the source file's rate
    assert info.frames == pytest.approx((rec.seconds - 0.4) * 44100, abs=50)  # edges trimmed
    original, fs = original_section(project)
    y, sr = sf.read(str(path), dtype="float32")
    assert integrated_loudness(y, sr) == pytest.approx(integrated_loudness(original, fs), abs=0.6)
    assert not list(path.parent.glob("*.json"))  # audio only
    mtime = path.stat().st_mtime_ns
    assert daw_ready_file(project, rec) == path and path.stat().st_mtime_ns == mtime  # reused
