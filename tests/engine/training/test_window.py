"""Window training (issue 11): long scales train on batches of random windows whose generator
inputs carry their real neighbourhood. These tests check that the windows stay inside the scale,
that a window's generator output is exactly the matching slice of the whole-signal output (so the
context is real, not zero padding), that the reference path is untouched when windows are off,
and that a windowed run trains, resumes identically, saves and generates."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.config import get_preset
from engine.errors import ConfigError
from engine.generation.render import generate, load_model
from engine.model.networks import ScaleGenerator
from engine.project.checkpoint import read_manifest
from engine.training.loop import (
    CancelToken,
    ScaleFinished,
    TrainCancelled,
    TrainFinished,
    TrainProgress,
    iter_train,
    lone_scale_step,
)
from engine.training.step import _windows

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# tiny at 1 s: scales of 500, 1000, 2000 and 4000 samples; only the 4 kHz scale is windowed
WINDOWED = {"window": 2048, "window_batch": 2, "window_above": 3000}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _scale(demo_clip: Path, seconds: float) -> torch.Tensor:
    """`seconds` of the demo clip at tiny's 4 kHz as [1, 1, T]."""
    from engine.audio.io import load_clip

    clip = load_clip(demo_clip, 4000, duration=seconds, max_seconds=3.0)
    return torch.from_numpy(clip.signal).reshape(1, 1, -1)


@pytest.fixture()
def one_scale(demo_clip: Path) -> torch.Tensor:
    """1 s of the demo clip at tiny's 4 kHz as [1, 1, T]."""
    return _scale(demo_clip, 1.0)


def test_config_decides_which_scales_use_windows_and_refuses_short_windows() -> None:
    cfg = get_preset("tiny", **WINDOWED)
    assert [cfg.uses_windows(n) for n in (500, 2000, 3000, 4000)] == [False, False, False, True]
    span = 2048 + 2 * cfg.window_margin  # a window with its context
    assert cfg.step_sizes([2000, 4000]) == [2000, 2 * span]
    assert cfg.windows([2000, 4000]) == [0, 2]
    # default threshold: longer than the batch of windows
    auto = get_preset("tiny", window=2048, window_batch=2)
    assert not auto.uses_windows(4096) and auto.uses_windows(4097)
    sched = get_preset("tiny", iters_window=3, **WINDOWED)
    assert sched.schedule([2000, 4000, 8000]) == [8, 3, 3]
    assert get_preset("tiny").schedule([10**6]) == [8] and not get_preset("tiny").uses_windows(10**6)
    top = get_preset("tiny", iters_window=3, iters_top=5, **WINDOWED)
    assert top.schedule([2000, 4000, 4000]) == [8, 3, 5]  # the finest scale is the last
    assert get_preset("tiny", iters_top=5).schedule([1000, 2000]) == [8, 5]  # windows or not
    assert top.schedule([]) == []
    with pytest.raises(ConfigError, match="iters_top"):
        get_preset("tiny", iters_top=-1)
    wide = get_preset("tiny", window_batch_top=3, **WINDOWED)  # more windows at the finest only
    assert wide.step_sizes([2000, 4000, 4000]) == [2000, 2 * span, 3 * span]  # the last is finest
    assert wide.step_sizes([4000, 2000]) == [2 * span, 2000]  # a whole finest scale stays whole
    assert cfg.step_sizes([4000, 4000]) == [2 * span, 2 * span]  # 0: window_batch
    assert wide.windows([2000, 4000, 4000]) == [0, 2, 3] and wide.step_sizes([]) == []
    with pytest.raises(ConfigError, match="window_batch_top"):
        get_preset("tiny", window_batch_top=-1)
    # the spectral loss's 2048-point FFT must fit a window; D must score inside it
    with pytest.raises(ConfigError, match="window"):
        get_preset("tiny", window=1024)
    assert get_preset("tiny", window=1024, mode="speech").window == 1024
    with pytest.raises(ConfigError, match="window"):
        get_preset("tiny", window=200, mode="speech")  # below tiny's receptive field + 64
    with pytest.raises(ConfigError):
        get_preset("tiny", window_batch=0)


@pytest.mark.parametrize("start", [0, 3, 900, 2700, 2997])
def test_a_window_of_the_generator_is_the_slice_of_the_whole_output(start: int) -> None:
    """With its real neighbourhood (and zeros only beyond the true ends, marked by `valid`), a
    window's output equals the same samples of G run on the whole signal, at the ends too."""
    torch.manual_seed(0)
    g = ScaleGenerator(channels=8, n_layers=5, kernel=9).eval()
    n, w = 3300, 300
    noise, prev = torch.randn(1, 1, n), torch.randn(1, 1, n)
    whole = g(noise, prev)[..., start : start + w]
    m = g.window_margin
    assert m == get_preset("tiny").window_margin
    z, p, v = (_windows(F.pad(x, (m, m)), [start], w + 2 * m)
               for x in (noise, prev, torch.ones_like(noise)))
    torch.testing.assert_close(g(z, p, margin=m, valid=v), whole, atol=1e-5, rtol=0)
    # the context matters: zero padding instead of the neighbours changes the output
    zero_ctx = g(F.pad(noise[..., start : start + w], (m, m)), F.pad(prev[..., start : start + w],
                 (m, m)), margin=m)
    assert (zero_ctx - whole).abs().max() > 1e-3
    with pytest.raises(ValueError):
        g(z[..., 2:-2], p[..., 2:-2], margin=m - 2)


def test_windows_are_drawn_inside_the_scale_and_reproducibly(one_scale: torch.Tensor) -> None:
    cfg = get_preset("tiny", **WINDOWED)
    n = one_scale.shape[-1]
    torch.manual_seed(0)
    step = lone_scale_step(cfg, one_scale, seed=5)
    assert step.windowed and step.margin == cfg.window_margin
    starts = [st for _ in range(200) for st in step.window_starts()]
    assert min(starts) >= 0 and max(starts) + cfg.window <= n
    assert max(starts) - min(starts) > 0.8 * (n - cfg.window)  # they spread over the scale
    torch.manual_seed(0)
    again = lone_scale_step(cfg, one_scale, seed=5)
    assert [st for _ in range(200) for st in again.window_starts()] == starts
    # a step on windows: finite losses, the real windows are slices of the real signal
    real, noise, prev, rec_noise, rec_prev, valid = step._window_inputs(0)
    assert real.shape == (2, 1, cfg.window) and noise.shape == (2, 1, cfg.window + 2 * step.margin)
    # zeros stand only for what lies beyond the clip's true ends, and the noise is zero there
    assert valid.shape == noise.shape and set(valid.unique().tolist()) <= {0.0, 1.0}
    assert bool((noise[valid == 0] == 0).all()) and bool((prev[valid == 0] == 0).all())
    terms = step.step(0)
    assert all(math.isfinite(float(v.detach())) for v in terms.values())


def _coverage(cfg, one_scale: torch.Tensor, draws: int) -> np.ndarray:
    """How many of `draws` iterations' windows cover each sample of the scale."""
    torch.manual_seed(0)
    step = lone_scale_step(cfg, one_scale, seed=3)
    hits = np.zeros(one_scale.shape[-1])
    for _ in range(draws):
        for st in step.window_starts():
            assert st >= 0 and st + cfg.window <= hits.size
            hits[st : st + cfg.window] += 1
    return hits


def test_window_ends_train_the_clips_ends_about_as_often_as_its_middle(demo_clip: Path) -> None:
    """Uniform starts leave the clip's first and last samples almost untrained (the windows'
    reconstruction was worst there, bench/README.md); extra starts clamped to each end give the
    end windows the middle's coverage on average, and 0 keeps the old draw."""
    one_scale = _scale(demo_clip, 3.0)  # 12 000 samples
    n, w = one_scale.shape[-1], WINDOWED["window"]
    old = _coverage(get_preset("tiny", **WINDOWED), one_scale, 3000)
    new = _coverage(get_preset("tiny", **WINDOWED, window_ends=0.5), one_scale, 3000)
    middle = slice(w, n - w)
    for hits in (old, new):
        assert hits[middle].min() > 0.9 * hits[middle].mean()  # the middle is even either way
    mid_old, mid_new = old[middle].mean(), new[middle].mean()
    assert old[0] < 0.02 * mid_old and old[-1] < 0.02 * mid_old
    assert new[0] > 0.35 * mid_new and new[-1] > 0.35 * mid_new
    for end in (slice(0, w), slice(n - w, n)):
        assert old[end].mean() < 0.6 * mid_old
        assert 0.85 * mid_new < new[end].mean() < 1.15 * mid_new
    # window_ends=0 draws exactly what projects trained before the field drew
    torch.manual_seed(0)
    step = lone_scale_step(get_preset("tiny", **WINDOWED), one_scale, seed=3)
    gen = torch.Generator()
    gen.set_state(step.win_rng.get_state())
    assert step.window_starts() == torch.randint(n - w + 1, (2,), generator=gen).tolist()


def test_window_rec_power_sets_the_weight_of_the_windows_reconstruction(demo_clip: Path) -> None:
    """The windows' spectral loss is scaled to estimate the whole scale's norm by default
    (square root of the scale's samples over the windows'); window_rec_power weighs it less."""
    one_scale = _scale(demo_clip, 3.0)  # 12 000 samples, windows of 2 x 2048
    ratio = one_scale.shape[-1] / (2 * 2048)
    scales = [lone_scale_step(get_preset("tiny", **WINDOWED, **kw), one_scale).rec_scale
              for kw in ({}, {"window_rec_power": 0.25}, {"window_rec_power": 0.0})]
    assert scales == pytest.approx([ratio**0.5, ratio**0.25, 1.0])
    with pytest.raises(ConfigError, match="window_rec_power"):
        get_preset("tiny", window_rec_power=1.5)


def test_windows_off_or_below_the_threshold_is_the_reference_step(one_scale: torch.Tensor) -> None:
    """A scale below the threshold trains exactly as with windows off (same weights)."""
    states = []
    for cfg in (get_preset("tiny"), get_preset("tiny", window=2048, window_above=10**6)):
        torch.manual_seed(0)
        step = lone_scale_step(cfg, one_scale, seed=1)
        assert not step.windowed
        for it in range(3):
            step.step(it)
        states.append({k: v.clone() for k, v in step.g.state_dict().items()})
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k], rtol=0, atol=0)


def test_thorough_is_quick_with_twice_the_iterations_at_the_windowed_scales() -> None:
    quick, thorough = get_preset("quick"), get_preset("thorough")
    assert thorough.replace(name="quick", summary=quick.summary, iters_window=0) == quick
    lengths = [round(r * 10.0) for r in quick.candidate_rates]  # a 10 s section
    assert quick.schedule(lengths) == [350] * 8
    assert thorough.schedule(lengths) == [350] * 5 + [700] * 3  # 4, 8, 16 kHz


def test_iters_top_trains_only_the_finest_scale_longer(tmp_path: Path, demo_clip: Path) -> None:
    cfg = get_preset("tiny", iters_per_scale=2, iters_top=3)
    events = list(iter_train(demo_clip, tmp_path / "p", cfg, duration=1.0, seed=1, device="cpu"))
    assert isinstance(events[-1], TrainFinished)
    progress = [e for e in events if isinstance(e, TrainProgress)]
    assert {(e.scale, e.iterations) for e in progress} == {(0, 2), (1, 2), (2, 2), (3, 3)}
    assert read_manifest(tmp_path / "p").iterations_done == [2, 2, 2, 3]


def test_window_batch_top_draws_more_windows_at_the_finest_scale_only(
    tmp_path: Path, demo_clip: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.training.step import ScaleStep

    drawn: dict[int, set[int]] = {}
    original = ScaleStep.window_starts

    def record(self: ScaleStep) -> list[int]:
        starts = original(self)
        drawn.setdefault(self.real.shape[-1], set()).add(len(starts))
        return starts

    monkeypatch.setattr(ScaleStep, "window_starts", record)
    # 2 s: scales of 1000, 2000, 4000 and 8000 samples, the last two on windows
    cfg = get_preset("tiny", iters_per_scale=2, window_batch_top=3, **WINDOWED)
    events = list(iter_train(demo_clip, tmp_path / "p", cfg, duration=2.0, seed=1, device="cpu"))
    assert isinstance(events[-1], TrainFinished)
    assert drawn == {4000: {2}, 8000: {3}}


def test_windowed_run_trains_saves_generates_and_resumes_identically(
    tmp_path: Path, demo_clip: Path
) -> None:
    cfg = get_preset("tiny", iters_per_scale=4, iters_window=3, bank_size=2, bank_refresh=2,
                     **WINDOWED)
    whole = tmp_path / "whole"
    events = list(iter_train(demo_clip, whole, cfg, duration=1.0, seed=4, device="cpu"))
    assert isinstance(events[-1], TrainFinished)
    progress = [e for e in events if isinstance(e, TrainProgress)]
    assert {e.iterations for e in progress if e.scale == 3} == {3}  # the schedule
    assert {e.iterations for e in progress if e.scale == 2} == {4}
    assert all(math.isfinite(v) for e in progress for v in e.losses.values())
    m = read_manifest(whole)
    assert m.complete and m.iterations_done == [4, 4, 4, 3]
    assert m.config.window == 2048  # the manifest keeps the window settings
    out = generate(load_model(whole, "cpu"), seconds=1.5, seed=3)
    assert out.shape == (6000,) and np.isfinite(out).all() and np.sqrt(np.mean(out**2)) > 1e-3

    # cancel inside the windowed scale, resume: the same weights as the uninterrupted run
    root = tmp_path / "p"
    token = CancelToken()
    first = []
    for e in iter_train(demo_clip, root, cfg, duration=1.0, seed=4, device="cpu", cancel=token):
        first.append(e)
        if isinstance(e, TrainProgress) and e.scale == 3:
            token.cancel()
    assert isinstance(first[-1], TrainCancelled) and first[-1].scales_done == 3
    second = list(iter_train(None, root, None, resume=True, device="cpu"))
    assert [e.scale for e in second if isinstance(e, ScaleFinished)] == [3]
    for s in range(4):
        name = f"{s:03d}.safetensors"
        assert _sha(root / "scales" / name) == _sha(whole / "scales" / name), name
