"""Bridge and ending takes from tiny projects trained on real audio (the demo clip): seeded and
reproducible, the stitched whole exactly A + take + B with the seams where the sidecar says,
the real sections untouched outside the cross-fades; several sections in one model still
render variations and free material."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.config import get_preset
from engine.errors import ConfigError
from engine.generation import VariationReady, VerdictReady, generate_into_project
from engine.generation.render import generate, load_model
from engine.generation.takes import render_take
from engine.project import Project, RenderRecipe
from engine.project.layout import LayoutRequest, SectionRequest
from engine.training.loop import iter_train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FS = 4000  # tiny's working rate


def _train(root: Path, request: LayoutRequest) -> Path:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in iter_train(None, root, get_preset("tiny", iters_per_scale=3), seed=2,
                            device="cpu", layout=request):
            pass
    finally:
        torch.set_num_threads(before)
    return root


@pytest.fixture(scope="session")
def bridge_master(tmp_path_factory: pytest.TempPathFactory, demo_clip: Path) -> Path:
    d = str(demo_clip)
    req = LayoutRequest("bridge", (SectionRequest(d, 0.5, 1.7), SectionRequest(d, 2.5, 3.7)), 0.8)
    return _train(tmp_path_factory.mktemp("bridge") / "project", req)


@pytest.fixture(scope="session")
def ending_master(tmp_path_factory: pytest.TempPathFactory, demo_clip: Path,
                  second_clip: Path) -> Path:
    # two files: the demo and the second real recording; the ending continues the second
    req = LayoutRequest("ending", (SectionRequest(str(demo_clip), 1.0, 2.0),
                                   SectionRequest(str(second_clip), 2.5, 3.7)), 0.6)
    return _train(tmp_path_factory.mktemp("ending") / "project", req)


@pytest.fixture()
def bridge_project(bridge_master: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(bridge_master, tmp_path / "bridge"))


def test_bridge_project_records_its_layout(bridge_master: Path, demo_clip: Path) -> None:
    p = Project.open(bridge_master)
    lay = p.manifest.layout
    assert lay is not None and lay.mode == "bridge" and p.complete
    a, b = lay.gap_span
    assert (a, b) == (4800, 4800 + 3200)
    assert lay.holes == ((a, b),)
    clip, sr = sf.read(str(bridge_master / "clip.wav"), dtype="float32")
    assert sr == FS and clip.shape == (4800 + 3200 + 4800,)
    assert np.all(clip[a:b] == 0) and abs(np.max(np.abs(clip)) - 1.0) < 1e-6
    assert p.section.path == demo_clip.resolve() and p.section.start == 0.5


def test_takes_are_seeded_and_stitched_exactly(bridge_master: Path) -> None:
    model = load_model(bridge_master, "cpu")
    lay = model.manifest.layout
    a, b = lay.gap_span
    r0 = RenderRecipe.take("bridge", 0, 0.8, n_scales=model.n_scales)
    t0, again, t1 = render_take(model, r0), render_take(model, r0), render_take(
        model, RenderRecipe.take("bridge", 1, 0.8, n_scales=model.n_scales))
    assert np.array_equal(t0.stitched, again.stitched)
    assert not np.array_equal(t0.take, t1.take)
    # A + take + B, exactly; the seams at the gap's edges
    assert t0.stitched.shape == (4800 + 3200 + 4800,)
    assert t0.gap == (a, b) and t0.seams == [4800, 8000] and t0.take.shape == (3200,)
    assert np.array_equal(t0.take, t0.stitched[a:b])
    cross = t0.crossfade
    assert cross == int(0.25 * FS)
    real = model.clip * np.float32(model.gain)
    assert np.array_equal(t0.stitched[: a - cross], real[: a - cross])
    assert np.array_equal(t0.stitched[b + cross :], real[b + cross :])
    # seeds change only the gap and its cross-fades
    assert np.array_equal(t0.stitched[: a - cross], t1.stitched[: a - cross])
    side = t0.sidecar()
    assert side["seams"] == [4800, 8000] and side["seams_s"] == [1.2, 2.0]
    assert side["take"] == [4800, 8000] and side["length"] == 12800


def test_a_take_must_fit_the_project(bridge_master: Path, tiny_project: Path) -> None:
    model = load_model(bridge_master, "cpu")
    for gap in (0.2, 31.0, float("nan")):
        with pytest.raises(ConfigError, match="fills a gap of 0.5 to 30 s"):
            render_take(model, RenderRecipe.take("bridge", 0, gap))
    with pytest.raises(ConfigError, match="trained for a bridge"):
        render_take(model, RenderRecipe.take("ending", 0, 0.8))
    with pytest.raises(ConfigError, match="not trained with a gap"):
        render_take(load_model(tiny_project, "cpu"), RenderRecipe.take("bridge", 0, 0.8))


def test_a_take_fills_another_gap_without_retraining(bridge_master: Path) -> None:
    """The model trained with a 0.8 s gap fills 2 s and 0.5 s: B moves with the gap, the real
    sections are untouched outside the cross-fades, seeds reproduce, and the seam measures
    are taken in the moved layout (the trained gap's takes are unchanged: test above)."""
    from engine.analysis.seams import take_measures

    model = load_model(bridge_master, "cpu")
    lay = model.manifest.layout
    a, b = lay.gap_span
    real = model.clip * np.float32(model.gain)
    for gap in (2.0, 0.5):
        n = int(gap * FS)
        recipe = RenderRecipe.take("bridge", 7, gap, n_scales=model.n_scales)
        t = render_take(model, recipe)
        assert np.array_equal(t.stitched, render_take(model, recipe).stitched)
        assert t.stitched.shape == (a + n + 4800,) and t.gap == (a, a + n)
        assert t.seams == [a, a + n] and t.take.shape == (n,)
        assert t.layout is not None and t.layout.gap_span == (a, a + n)
        assert t.layout.section_b.offset == a + n and t.layout.total == a + n + 4800
        cross = t.crossfade
        assert cross == min(int(0.25 * FS), n // 2)
        assert np.array_equal(t.stitched[: a - cross], real[: a - cross])
        assert np.array_equal(t.stitched[a + n + cross :], real[b + cross :])
        assert np.all(np.isfinite(t.take)) and np.abs(t.take).max() > 0
        m = take_measures(lay, model.clip, t.stitched, t.sidecar(), FS)
        assert [round(s.position_s, 6) for s in m.seams] == [a / FS, (a + n) / FS]
        assert abs(m.take_seconds - gap) < 1e-9
    # the gap the model trained with renders as before, through the same path
    same = render_take(model, RenderRecipe.take("bridge", 7, 0.8, n_scales=model.n_scales))
    assert same.layout is lay and same.stitched.shape == (lay.total,)


def test_an_ending_renders_longer_than_it_trained(ending_master: Path) -> None:
    model = load_model(ending_master, "cpu")
    lay = model.manifest.layout
    a = lay.gap_span[0]
    t = render_take(model, RenderRecipe.take("ending", 1, 1.5, fade_out=0.3))
    assert t.stitched.shape == (a + int(1.5 * FS),) and t.seams == [a]
    assert np.array_equal(t.stitched[: a - t.crossfade],
                          (model.clip * np.float32(model.gain))[: a - t.crossfade])
    assert abs(t.stitched[-1]) < 1e-3 * model.gain


def test_takes_into_the_project_keep_recipe_and_seams(bridge_project: Path) -> None:
    from engine.analysis.seams import take_verdict

    project = Project.open(bridge_project)
    recipes = [RenderRecipe.take("bridge", s, 0.8, n_scales=project.scales_done) for s in (4, 5)]
    events = list(generate_into_project(project, recipes, device="cpu", take_verdict=take_verdict))
    ready = [e for e in events if isinstance(e, VariationReady)]
    verdicts = [e for e in events if isinstance(e, VerdictReady)]
    assert len(ready) == 2 and len(verdicts) == 2
    rec = project.store.get(ready[0].record.id)
    assert rec.recipe == recipes[0] and rec.is_take and rec.tag == "bridge"
    assert rec.seams is not None and rec.seams["seams"] == [4800, 8000]
    assert "seam" in (rec.verdict or "") and "seam1_percentile" in rec.metrics
    audio, sr = project.store.load_audio(rec)
    take = render_take(load_model(bridge_project, "cpu"), recipes[0])
    assert sr == FS and np.array_equal(audio, take.stitched)
    # the sidecar keeps the recipe and the seams; the same recipe is found, not rendered again
    import json

    side = json.loads(project.store.path(rec).with_suffix(".json").read_text())
    assert side["variation"]["recipe"]["mode"] == "bridge"
    assert side["variation"]["seams"]["seams_s"] == [1.2, 2.0]
    again = list(generate_into_project(project, recipes[:1], device="cpu"))
    assert isinstance(again[0], VariationReady) and again[0].existed
    # a take of another gap is its own record, with its own seams and a verdict
    other = RenderRecipe.take("bridge", 4, 1.2, n_scales=project.scales_done)
    events = list(generate_into_project(project, [other], device="cpu", take_verdict=take_verdict))
    rec2 = next(e.record for e in events if isinstance(e, VariationReady))
    assert not [e for e in events if isinstance(e, VariationReady)][0].existed
    assert rec2.seams["seams"] == [4800, 4800 + 4800] and rec2.seams["length"] == 14400
    assert any(isinstance(e, VerdictReady) for e in events)
    assert "seam" in (project.store.get(rec2.id).verdict or "")
    # free and variation recipes live beside the takes
    free = RenderRecipe.free(4, 0.8, project.scales_done)
    assert project.store.find(free) is None


def test_ending_continues_the_last_section_and_fades_out(ending_master: Path) -> None:
    model = load_model(ending_master, "cpu")
    lay = model.manifest.layout
    assert lay.mode == "ending" and len(lay.sections) == 2
    n1, n2, gap = 4000, 4800, 2400
    assert lay.total == n1 + n2 + gap and lay.gap_span == (n1 + n2, n1 + n2 + gap)
    assert len(lay.holes) == 2  # the junction of two files, and the gap
    t = render_take(model, RenderRecipe.take("ending", 3, 0.6, fade_out=0.3))
    assert t.seams == [n1 + n2] and t.stitched.shape == (lay.total,)
    assert t.fade_out == int(0.3 * FS) and abs(t.stitched[-1]) < 1e-3 * model.gain
    plain = render_take(model, RenderRecipe.take("ending", 3, 0.6))
    assert np.array_equal(plain.stitched[: -t.fade_out], t.stitched[: -t.fade_out])


def test_several_sections_render_variations_and_free_material(ending_master: Path) -> None:
    model = load_model(ending_master, "cpu")
    free = generate(model, seconds=1.5, seed=0)
    var = generate(model, seconds=10.0, seed=0, from_scale=1)
    assert free.shape == (6000,) and np.all(np.isfinite(free))
    assert var.shape == (model.manifest.layout.total,) and np.all(np.isfinite(var))


def test_exported_take_sidecar_places_the_seams_in_the_trimmed_file(bridge_project: Path,
                                                                     tmp_path: Path) -> None:
    import json

    import soundfile as sf

    from engine.export import ExportOptions, export_variations, plan_export

    project = Project.open(bridge_project)
    recipe = RenderRecipe.take("bridge", 4, 0.8, n_scales=project.scales_done)
    list(generate_into_project(project, [recipe], device="cpu"))
    rec = project.store.find(recipe)
    assert rec is not None and rec.seams["seams_s"] == [1.2, 2.0]
    options = ExportOptions(folder=tmp_path / "out", trim_ms=200.0, rate="original")
    (result,) = export_variations(project, plan_export(project, [rec], options))
    side = json.loads(result.sidecar.read_text())
    # the export cut 0.2 s from the start: the seams sit 0.2 s earlier in the file
    assert side["seams_in_file_s"] == pytest.approx([1.0, 1.8])
    assert side["seams_in_file_s"][-1] < sf.info(str(result.path)).duration
