"""`evaluate --rate`: measures taken in a lower band, for models with different working rates."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from engine.cli.evaluate import evaluate_project
from engine.errors import ConfigError


def test_in_band_measures_resample_everything_to_the_band(tiny_project: Path) -> None:
    full = evaluate_project(tiny_project, count=2, seed=5, device="cpu", baselines=False)
    band = evaluate_project(tiny_project, count=2, seed=5, device="cpu", baselines=False,
                            rate=2000)
    assert full.sr == 4000 and band.sr == 2000
    assert band.clip_seconds == pytest.approx(full.clip_seconds, abs=0.01)
    for name, m in band.variations.items():
        assert math.isfinite(m.timbre_fd) and math.isfinite(m.ltas_db)
        # the same renders, seen through a narrower band: not the same numbers
        assert m.ltas_db != full.variations[name].ltas_db
    assert band.reconstruction is not None and math.isfinite(band.reconstruction.lsd_db)


def test_a_band_above_the_working_rate_is_refused(tiny_project: Path) -> None:
    with pytest.raises(ConfigError, match="working rate"):
        evaluate_project(tiny_project, count=1, device="cpu", baselines=False, rate=8000)
