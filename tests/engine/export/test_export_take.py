"""Bridge takes through engine.export: the take alone (part="take") is the span between the
seams, at the gain its stitched whole gets, in the chosen format and bit depth, with or without
its sidecar; a variation that is not a take is refused with words and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.errors import ConfigError
from engine.export import ExportOptions, export_variations, plan_export
from engine.project import Project

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_take_alone_is_the_span_between_the_seams_at_the_wholes_gain(
        bridge_takes_project: Path, tmp_path: Path) -> None:
    p = Project.open(bridge_takes_project)
    take = p.store.list()[0]
    stitched, sr = p.store.load_audio(take)
    a, b = take.seams["take"]
    assert (a, b) == (4800, 4800 + 2400) and stitched.shape == (4800 + 2400 + 4800,)

    # float, no fades, no loudness matching: exactly the stored samples between the seams
    raw = ExportOptions(folder=tmp_path / "raw", bit_depth="float", fade_ms=0,
                        match_loudness=False, part="take")
    plan = plan_export(p, [take], raw)
    assert plan.items[0].target.name.endswith("_take-alone.wav")
    [res] = list(export_variations(p, plan))
    data, rate = sf.read(str(res.path), dtype="float32")
    assert rate == sr and np.array_equal(data, stitched[a:b])
    side = json.loads(res.sidecar.read_text())
    assert side["what"] == "take alone" and side["take_in_stitched_s"] == [1.2, 1.8]
    assert side["recipe"]["mode"] == "bridge" and side["variation"]["seams"]["seams"] == [a, b]
    assert side["edges_trimmed_s"] == 0.0 and "seams_in_file_s" not in side

    # the dialog's defaults (24-bit, loudness matched), flac and no sidecar: the take alone
    # keeps the level it has in the stitched whole exported with the same options
    both = tmp_path / "both"
    opts = ExportOptions(folder=both, fmt="flac", sidecar=False)
    [whole] = list(export_variations(p, plan_export(p, [take], opts)))
    [alone] = list(export_variations(p, plan_export(p, [take], ExportOptions(
        folder=both, fmt="flac", sidecar=False, part="take"))))
    assert alone.sidecar is None and sorted(f.name for f in both.iterdir()) == sorted(
        [whole.path.name, alone.path.name])
    info = sf.info(str(alone.path))
    assert info.format == "FLAC" and info.subtype == "PCM_24" and info.frames == b - a
    w, _ = sf.read(str(whole.path), dtype="float32")
    t, _ = sf.read(str(alone.path), dtype="float32")
    trim = int(round(0.2 * sr))  # the whole is trimmed at its outer edges, the take is not
    mid = slice(200, (b - a) - 200)  # away from the take's 10 ms fades
    ratio = np.abs(w[a - trim : b - trim][mid]).sum() / np.abs(t[mid]).sum()
    assert ratio == pytest.approx(1.0, abs=1e-3)
    gain = np.abs(t[mid]).sum() / np.abs(stitched[a:b][mid]).sum()
    assert gain != pytest.approx(1.0, abs=0.01)  # it was matched, not copied


def test_only_takes_have_a_take_alone(bridge_takes_project: Path, tiny_project: Path,
                                      tmp_path: Path) -> None:
    from engine.generation import generate_into_project
    from engine.project import RenderRecipe

    p = Project.open(tiny_project)
    for _ in generate_into_project(p, [RenderRecipe.of(3, 2.0, None, p.scales_done)],
                                   device="cpu"):
        pass
    [plain] = p.store.list()
    with pytest.raises(ConfigError, match="Only bridge and ending takes have a take alone"):
        plan_export(p, [plain], ExportOptions(folder=tmp_path / "out", part="take"))
    assert not (tmp_path / "out").exists()
    with pytest.raises(ConfigError, match="part must be"):
        ExportOptions(folder=tmp_path, part="middle")
