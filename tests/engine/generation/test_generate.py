"""Generation from a trained project: unconditional, variations, reconstruction, files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import ENGINE_VERSION
from engine.errors import ConfigError, OutputError
from engine.generation.render import (
    TRIM_SECONDS,
    generate,
    iter_variations,
    load_model,
    reconstruct,
    strength_label,
)
from engine.jobs import CancelToken
from engine.study.spec import flatten_sidecar

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FS = 4000  # the tiny preset's working rate
TRIM = int(TRIM_SECONDS * FS)


@pytest.fixture()
def model(tiny_project: Path):
    return load_model(tiny_project, "cpu")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    n = min(a.shape[-1], b.shape[-1])
    return float(np.corrcoef(a[:n], b[:n])[0, 1])


@pytest.mark.parametrize("seconds", [0.5, 3.0, 5.25])
def test_unconditional_generation_has_any_requested_length(model, seconds: float) -> None:
    out = generate(model, seconds=seconds, seed=0)
    assert out.shape == (int(round(seconds * FS)),) and out.dtype == np.float32
    assert np.all(np.isfinite(out)) and _rms(out) > 1e-3
    trimmed = generate(model, seconds=seconds, seed=0, trim=True)
    assert trimmed.shape == (out.shape[0] - 2 * TRIM,)
    assert trimmed[0] == 0.0 and trimmed[-1] == 0.0  # faded in and out
    np.testing.assert_array_equal(trimmed[100:-100], out[TRIM + 100 : -TRIM - 100])


def test_a_seed_gives_the_same_audio_and_other_seeds_differ(model) -> None:
    a = generate(model, seconds=2.0, seed=42)
    np.testing.assert_array_equal(a, generate(model, seconds=2.0, seed=42))
    b = generate(model, seconds=2.0, seed=43)
    assert _rms(a - b) > 0.3 * _rms(a)
    assert abs(_corr(a, b)) < 0.5


def test_variations_have_the_clip_length_and_keep_more_of_it_at_higher_scales(model) -> None:
    clip = model.clip
    assert model.n_scales == 4 and clip.shape == (3 * FS,)
    corr = {}
    for k in (None, 0, 1, 2):
        out = generate(model, seconds=10.0, seed=1, from_scale=k)
        if k is not None:
            assert out.shape == clip.shape  # held to the clip's length
        corr[k] = _corr(out, clip)
    # the real signal at scale k stays: more of it the higher k; a free sample does not follow it
    assert corr[0] > 0.3 and corr[0] < corr[1] < corr[2]
    assert abs(corr[None]) < 0.2
    short = generate(model, seconds=1.0, seed=1, from_scale=1)
    assert short.shape == (FS,)


@pytest.mark.parametrize("k", [-1, 3, 7])
def test_from_scale_outside_the_pyramid_is_a_config_error(model, k: int) -> None:
    with pytest.raises(ConfigError, match="between 0 and 2"):
        generate(model, seconds=1.0, seed=0, from_scale=k)


@pytest.mark.parametrize("seconds", [0.0, -1.0])
def test_a_length_of_zero_or_less_is_a_config_error(model, seconds: float) -> None:
    with pytest.raises(ConfigError, match="more than 0 seconds"):
        generate(model, seconds=seconds, seed=0)


def test_reconstruction_is_deterministic_and_has_the_clip_length(model) -> None:
    r = reconstruct(model)
    assert r.shape == (3 * FS,)
    np.testing.assert_array_equal(r, reconstruct(model))
    assert reconstruct(model, trim=True).shape == (3 * FS - 2 * TRIM,)


def test_output_is_at_the_original_loudness(model) -> None:
    a = generate(model, seconds=1.0, seed=5)
    model.manifest.source["gain"] = model.gain * 2.0
    np.testing.assert_allclose(generate(model, seconds=1.0, seed=5), 2.0 * a, rtol=1e-6)


def test_iter_variations_writes_audio_and_sidecars(model, tmp_path: Path) -> None:
    out = tmp_path / "out"
    vs = list(iter_variations(model, count=3, seconds=1.5, seed=10, from_scale=1, out_dir=out))
    assert [v.seed for v in vs] == [10, 11, 12] and [v.index for v in vs] == [0, 1, 2]
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [f"variation_seed{s}_k1.wav" for s in (10, 11, 12)]
        + [f"variation_seed{s}_k1.json" for s in (10, 11, 12)]
    )
    for v in vs:
        data, sr = sf.read(str(v.path), dtype="float32")
        assert sr == FS and sf.info(str(v.path)).subtype == "FLOAT"
        np.testing.assert_array_equal(data, v.audio)
        assert data.shape == (int(1.5 * FS) - 2 * TRIM,)
        side = flatten_sidecar(json.loads(v.path.with_suffix(".json").read_text()))
        assert (
            side["seed"] == v.seed and side["from_scale"] == 1 and side["from_scale_rate"] == 1000
        )
        assert side["preset"] == "tiny" and side["engine_version"] == ENGINE_VERSION
        assert side["project"] == str(model.project_dir.resolve())
        assert side["sample_rate"] == FS and side["edges_trimmed_s"] == TRIM_SECONDS
        assert side["seconds"] == pytest.approx(data.shape[0] / FS)
        assert side["source_sha256"] == model.manifest.source["sha256"]
    # in memory only, without trimming
    mem = list(iter_variations(model, count=1, seconds=1.0, seed=0, trim=False))
    assert mem[0].path is None and mem[0].audio.shape == (FS,)


def test_iter_variations_stops_when_cancelled_and_checks_its_arguments(
    model, tmp_path: Path
) -> None:
    token = CancelToken()
    made = []
    for v in iter_variations(
        model, count=5, seconds=0.5, seed=0, out_dir=tmp_path / "o", cancel=token
    ):
        made.append(v)
        token.cancel()
    assert len(made) == 1
    assert len(list((tmp_path / "o").glob("*.wav"))) == 1
    with pytest.raises(ConfigError):
        list(iter_variations(model, count=0, seconds=1.0, seed=0))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        list(iter_variations(model, count=1, seconds=1.0, seed=0, out_dir=blocker / "sub"))


def test_strength_labels() -> None:
    assert strength_label(None, 10) == "free (new structure)"
    assert strength_label(0, 10) == "far from the original"
    assert strength_label(4, 10) == "loosely like the original"
    assert strength_label(6, 10) == "close to the original"
    assert strength_label(8, 10) == "very close to the original"
