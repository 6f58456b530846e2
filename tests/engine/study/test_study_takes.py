"""A listening study from a bridge project with takes (A and B from two real recordings): each
take is a stimulus in context (the stitched A + take + B, untrimmed, its seams in the hidden
truth), a take-alone file is replaced by its stitched file or refused, new material is takes,
and real excerpts never include the silent gap nor the sections trained on ("other")."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.export import ExportOptions, export_variations, plan_export
from engine.project import Project
from engine.study import GENERATED, REAL, GenerateSpec, ProjectSelection, StudyError, StudySpec
from engine.study.build import build_study, iter_build_study
from engine.study.spec import find_variation_files
from engine.study.stimuli import _windows

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FS = 4000  # tiny's working rate
STITCHED_S = 1.2 + 0.6 + 1.2  # A + gap + B


def _build(spec: StudySpec, out: Path) -> tuple:
    warnings: tuple[str, ...] = ()
    study = None
    for ev in iter_build_study(spec, out):
        if hasattr(ev, "warnings"):
            study, warnings = ev.study, ev.warnings
    return study, warnings


def test_takes_are_stimuli_in_context_and_real_excerpts_avoid_the_gap(
        bridge_takes_project: Path, demo_clip: Path, second_clip: Path, tmp_path: Path,
        cli) -> None:
    proj = bridge_takes_project
    # the CLI's stitched + take-alone pair for seed 7: the take alone stands for its stitched
    r = cli("generate", "--project", proj, "--count", "1", "--seed", "7", "--out", tmp_path / "cli")
    assert r.rc == 0, r.err
    take_alone = tmp_path / "cli" / "bridge_seed7_take.wav"
    assert take_alone.is_file()
    spec = StudySpec(projects=[ProjectSelection(
        proj, label="bridge", variation_files=[*find_variation_files(proj), take_alone],
        generate=[GenerateSpec(1, seed=9)], real_training=2, real_other=1, real_clip=2)],
        seed=3)
    study, warnings = _build(spec, tmp_path / "study")
    assert any("bridge_seed7_take.wav is a take alone" in w for w in warnings)
    gen = [s for s in study.stimuli if s.kind == GENERATED]
    real = [s for s in study.stimuli if s.kind == REAL]
    assert len(gen) == 4 and len(real) == 5
    for s in gen:  # the stitched whole, untrimmed, seams where A ends and B starts
        take = s.truth["take"]
        assert take["mode"] == "bridge" and take["gap_s"] == pytest.approx(0.6)
        assert take["seams_s"] == pytest.approx([1.2, 1.8], abs=1e-6)
        assert s.seconds == pytest.approx(STITCHED_S, abs=1e-3)
        assert "bridge take" in s.truth["strength"] and "bridge take" in s.condition
    assert sorted(s.truth["seed"] for s in gen) == [1, 2, 7, 9]
    assert [s.truth["origin"] for s in gen].count("rendered for the study") == 1
    assert any(s.truth["file"].endswith("bridge_seed7_stitched.wav") for s in gen
               if s.truth["origin"] == "variation file")

    # real excerpts: from A's file and B's file, never the gap, never A or B as "other"
    by_origin: dict[str, list] = {}
    for s in real:
        by_origin.setdefault(s.truth["origin"], []).append(s)
    assert {Path(s.truth["source_path"]).name for s in by_origin["training section"]} == \
        {demo_clip.name, second_clip.name}
    for s in by_origin["clip.wav"]:  # inside A (0.5-1.7 s) or B (2.5-3.7 s), not the gap
        a, d = s.truth["start"], s.truth["duration"]
        assert (a >= 0.5 - 1e-3 and a + d <= 1.7 + 1e-3) or (a >= 2.5 - 1e-3 and a + d <= 3.7 + 1e-3)
    [other] = by_origin["other section"]
    o0, o1 = other.truth["start"], other.truth["start"] + other.truth["duration"]
    assert Path(other.truth["source_path"]).name == demo_clip.name
    assert o1 <= 0.5 + 1e-3 or o0 >= 1.7 - 1e-3
    for s in real:  # no silent stretch of 0.1 s anywhere (the gap is silent in clip.wav)
        x, sr = sf.read(str(study.root / s.file), dtype="float32")
        n = sr // 10
        blocks = np.abs(x[: len(x) // n * n]).reshape(-1, n).max(axis=1)
        assert blocks.min() > 1e-4, (s.truth["origin"], s.truth["start"])


def test_an_exported_take_alone_needs_its_stitched_file(bridge_takes_project: Path,
                                                        tmp_path: Path) -> None:
    p = Project.open(bridge_takes_project)
    take = p.store.list()[0]
    out = tmp_path / "export"
    [alone] = list(export_variations(p, plan_export(p, [take], ExportOptions(
        folder=out, part="take"))))
    spec = StudySpec(variation_files=[alone.path],
                     projects=[ProjectSelection(bridge_takes_project, real_training=1)])
    with pytest.raises(StudyError, match="is a take alone.*add its stitched file"):
        build_study(spec, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    # exported beside it (same options), the stitched whole is used, seams in its own time
    [whole] = list(export_variations(p, plan_export(p, [take], ExportOptions(folder=out))))
    study, warnings = _build(spec, tmp_path / "study")
    [g] = [s for s in study.stimuli if s.kind == GENERATED]
    assert g.truth["file"] == str(whole.path.resolve())
    side = json.loads(whole.sidecar.read_text())
    assert g.truth["take"]["seams_s"] == side["seams_in_file_s"] == pytest.approx([1.0, 1.6])
    assert g.seconds == pytest.approx(STITCHED_S - 0.4, abs=1e-3)  # the export trimmed 0.2 s


def test_strengths_do_not_apply_to_takes_and_a_seed_is_one_take(bridge_takes_project: Path,
                                                                 tmp_path: Path) -> None:
    spec = StudySpec(projects=[ProjectSelection(
        bridge_takes_project, real_training=1,
        generate=[GenerateSpec(2, seed=5), GenerateSpec(2, seed=6, from_scale=1)])])
    study, warnings = _build(spec, tmp_path / "study")
    gen = [s for s in study.stimuli if s.kind == GENERATED]
    assert sorted(s.truth["seed"] for s in gen) == [5, 6, 7]
    assert all("take" in s.truth for s in gen)
    assert any("strengths and lengths do not apply" in w for w in warnings)
    assert any("Seed 6 of" in w and "asked for twice" in w for w in warnings)


def test_windows_avoid_every_span() -> None:
    rng = np.random.default_rng(0)
    starts = _windows(100, 10, 20, [(10, 30), (60, 80)], rng)
    assert starts and all(s + 10 <= 10 or s >= 30 and s + 10 <= 60 or s >= 80 for s in starts)
    assert _windows(100, 10, 3, (0, 95), rng) == []
