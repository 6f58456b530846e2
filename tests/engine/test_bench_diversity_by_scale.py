"""bench/diversity_by_scale.py: the coarser stages of the very takes `generate` renders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.analysis.measures import diversity
from engine.analysis.reference import prepare_reference
from engine.audio.io import to_mono
from engine.generation.render import generate, load_model


def test_the_top_scale_row_is_the_diversity_of_generates_takes(
    tiny_project: Path, tmp_path: Path, bench_script
) -> None:
    """Its top row measures the takes `generate` makes with the same seeds; the rows below are
    the coarser stages of those takes (different audio, so different figures)."""
    script = bench_script("diversity_by_scale")
    out = tmp_path / "by-scale.json"
    assert script.main([str(out), str(tiny_project), "--rate", "4000", "--takes", "3"]) == 0
    report = json.loads(out.read_text())
    model = load_model(tiny_project, "cpu")
    rows = report["projects"][tiny_project.name]
    assert [r["rate"] for r in rows] == list(model.pyramid.rates)

    ref = prepare_reference(to_mono(model.clip), model.fs)  # tiny works at 4 kHz
    takes = [generate(model, seconds=model.clip_seconds, seed=s) for s in report["take_seeds"]]
    expected = diversity(ref, takes)
    assert report["take_seeds"] == [1000, 1001, 1002]
    assert np.isclose(rows[-1]["std_ratio"], expected.std_ratio, rtol=1e-4)
    assert np.isclose(rows[-1]["pairwise_db"], expected.pairwise_db, rtol=1e-4)
    assert not np.isclose(rows[0]["std_ratio"], rows[-1]["std_ratio"], rtol=1e-3)
