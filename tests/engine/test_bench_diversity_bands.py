"""bench/diversity_bands.py: the diversity std ratio split into take_levels.py's bands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from engine.analysis.features import mel_centres


def test_each_band_averages_the_mel_bands_centred_in_it(tmp_path: Path, bench_script) -> None:
    script = bench_script("diversity_bands")
    full = np.where(mel_centres(16000, 80) >= 4000, 1.0, 0.25)  # takes vary only on top
    ramp = np.linspace(0.0, 1.0, 80)
    run = {"clip": "/x/song.wav", "seed": 3,
           "evaluation": {"sample_rate": 16000, "diversity": {"std_ratio": 0.4, "std_map": full.tolist()}},
           "evaluation_in_band": {"8000": {"sample_rate": 8000,
                                           "diversity": {"std_ratio": 0.5, "std_map": ramp.tolist()}}}}
    quality = tmp_path / "quality-x.json"
    quality.write_text(json.dumps({"runs": [run, {"clip": "/x/other.wav", "evaluation": {}}]}))
    out = tmp_path / "bands.json"
    assert script.main([str(out), str(quality)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["clip"], r["seed"], r["evaluation"]) for r in rows] == [
        ("song.wav", 3, "full"), ("song.wav", 3, "at 8000")]  # a run without diversity: no row
    assert rows[0]["by_band"] == [0.25, 0.25, 0.25, 1.0]
    # at 8 kHz nothing is centred at 4-8 kHz, and higher bands have the higher means of the ramp
    low, mid, high, top = rows[1]["by_band"]
    assert top is None and low < mid < high
    centres = mel_centres(8000, 80)
    assert np.isclose(high, ramp[(centres >= 1000) & (centres < 4000)].mean(), atol=1e-4)
