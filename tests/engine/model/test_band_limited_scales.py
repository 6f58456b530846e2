"""TrainConfig.band_limited_above: the up-sampler into the scales above it is the band-limited
one, in training and in generation, and a project keeps the one it was trained with (those
trained before the field stay cubic)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine.model.pyramid as pyramid_module
from engine.config import TrainConfig, get_preset
from engine.errors import ConfigError
from engine.generation.render import generate, load_model
from engine.project.checkpoint import read_manifest, write_manifest
from engine.training.loop import iter_train

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _set_band_limited(project: Path, above: int) -> None:
    m = read_manifest(project)
    m.config = m.config.replace(band_limited_above=above)
    write_manifest(project, m)


def test_generation_uses_the_up_sampler_the_project_names(tiny_project: Path) -> None:
    before = generate(load_model(tiny_project, "cpu"), seconds=2.0, seed=3)
    assert read_manifest(tiny_project).config.band_limited_above == 0  # the preset's: cubic
    _set_band_limited(tiny_project, 1000)  # the 2 and 4 kHz scales take band-limited input
    assert read_manifest(tiny_project).config.band_limited_above == 1000
    changed = generate(load_model(tiny_project, "cpu"), seconds=2.0, seed=3)
    assert changed.shape == before.shape
    assert not np.allclose(changed, before, atol=1e-4)
    _set_band_limited(tiny_project, 0)
    np.testing.assert_array_equal(generate(load_model(tiny_project, "cpu"), seconds=2.0, seed=3),
                                  before)


def test_training_feeds_only_the_scales_above_the_rate_band_limited(
        tmp_path: Path, demo_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    real = pyramid_module.upsample_band_limited

    def spy(x, rate_in, rate_out, n_out):
        calls.append((rate_in, rate_out))
        return real(x, rate_in, rate_out, n_out)

    monkeypatch.setattr(pyramid_module, "upsample_band_limited", spy)
    cfg = get_preset("tiny", band_limited_above=1000)
    for _ in iter_train(demo_clip, tmp_path / "p", cfg, seed=0, device="cpu"):
        pass
    assert {r_out for _r_in, r_out in calls} == {2000, 4000}
    assert read_manifest(tmp_path / "p").config.band_limited_above == 1000


def test_a_config_written_before_the_field_reads_as_cubic() -> None:
    old = {k: v for k, v in get_preset("studio").to_dict().items() if k != "band_limited_above"}
    assert TrainConfig.from_dict(old).band_limited_above == 0
    with pytest.raises(ConfigError, match="band_limited_above"):
        get_preset("tiny", band_limited_above=-1)
