"""The Project object, render recipes, and the generation use cases over a project."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.analysis import quick_verdict
from engine.errors import ConfigError, ProjectError
from engine.generation import (
    GenerationDone,
    VariationReady,
    VerdictReady,
    fill_verdicts,
    generate_into_project,
)
from engine.jobs import CancelToken
from engine.project import Project, RenderRecipe
from engine.project.section import SourceStatus

LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy_6d00f76" / "data"


def test_recipe_words_tags_and_conditions_derive_from_the_numbers() -> None:
    free = RenderRecipe.free(3, 2.0, n_scales=10)
    assert (free.word, free.tag, free.slug, free.label) == ("free", "free", "free",
                                                           "free (new structure)")
    words = [RenderRecipe.variation(1, 2.0, k, 10).word for k in range(9)]
    assert words == ["far", "far", "loose", "loose", "loose", "close", "close", "very close",
                     "very close"]
    close = RenderRecipe.variation(1, 2.0, 8, 10)
    assert (close.tag, close.slug, close.condition) == ("k8", "very-close",
                                                        "generated (very close)")
    assert RenderRecipe.from_dict(close.to_dict()) == close


@pytest.mark.parametrize("bad", [dict(mode="loop", seed=1, seconds=1.0),
                                 dict(mode="bridge", seed=1, seconds=1.0, from_scale=2),
                                 dict(mode="bridge", seed=1, seconds=1.0, fade_out=1.0),
                                 dict(mode="ending", seed=1, seconds=1.0, crossfade=-1.0),
                                 dict(mode="free", seed=1, seconds=1.0, from_scale=2),
                                 dict(mode="variation", seed=1, seconds=1.0),
                                 dict(mode="free", seed=1, seconds=0.0)])
def test_inconsistent_recipes_are_refused(bad: dict) -> None:
    with pytest.raises(ConfigError):
        RenderRecipe(**bad)


def test_legacy_records_map_to_recipes(tmp_path: Path) -> None:
    project = Project.open(shutil.copytree(LEGACY / "project", tmp_path / "p"))
    recipes = [project.recipe_of(r) for r in project.store.list()]
    assert [(r.mode, r.seed, r.from_scale, r.word) for r in recipes] == [
        ("free", 11, None, "free"), ("variation", 12, 0, "far"),
        ("variation", 13, 2, "very close")]
    # the labels 6d00f76 stored agree with the words derived now
    assert [r.strength for r in project.store.list()] == [x.label for x in recipes]


def test_project_reads_its_section_and_checks_the_source_once(tmp_path: Path) -> None:
    root = shutil.copytree(LEGACY / "project", tmp_path / "p")
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    src = tmp_path / "song.wav"  # where the source file "was"
    manifest["source"]["path"] = str(src)
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    sec = Project.open(root).section
    assert (sec.start, sec.duration, sec.sample_rate, sec.channels) == (0.0, 2.0, 44100, 2)
    assert (sec.name, sec.stem) == ("song.wav", "song")
    assert sec.status() is SourceStatus.MISSING
    shutil.copy2(LEGACY / "clip.wav", src)
    assert sec.status() is SourceStatus.UNCHANGED
    with open(src, "ab") as fh:
        fh.write(b"\0")
    assert sec.status() is SourceStatus.CHANGED
    with pytest.raises(ProjectError):
        Project.open(tmp_path / "nothing-here")


def test_generate_into_project_reuses_recipes_and_gives_verdicts(tiny_project: Path) -> None:
    project = Project.open(tiny_project)
    n = project.scales_done
    recipes = [RenderRecipe.free(5, 1.0, n), RenderRecipe.variation(6, 1.0, 1, n)]
    events = list(generate_into_project(project, recipes, device="cpu", verdict=quick_verdict))
    ready = [e for e in events if isinstance(e, VariationReady)]
    assert [e.record.recipe for e in ready] == recipes and not any(e.existed for e in ready)
    assert sum(isinstance(e, VerdictReady) for e in events) == 2
    assert events[-1] == GenerationDone(2, cancelled=False)
    again = list(generate_into_project(Project.open(tiny_project), recipes[:1], device="cpu"))
    assert again[0].existed and np.array_equal(again[0].audio, ready[0].audio)
    assert again[-1] == GenerationDone(0, cancelled=False)
    assert len(Project.open(tiny_project).store) == 2


def test_generation_stops_when_cancelled_and_verdicts_fill_in(tiny_project: Path) -> None:
    project = Project.open(tiny_project)
    token = CancelToken()
    recipes = [RenderRecipe.free(s, 1.0, project.scales_done) for s in (1, 2, 3)]
    events = []
    for ev in generate_into_project(project, recipes, device="cpu", cancel=token):
        events.append(ev)
        if isinstance(ev, VariationReady):
            token.cancel()
    assert events[-1] == GenerationDone(1, cancelled=True)
    assert project.store.list()[0].verdict is None
    filled = list(fill_verdicts(project, quick_verdict))
    assert isinstance(filled[0], VerdictReady) and filled[-1] == GenerationDone(1, False)
    assert Project.open(tiny_project).store.list()[0].verdict
