"""Masked training (caw-method.md section 8): what lies in a hole is never learned from, whole
scale or windows; the scales where the hole and two receptive fields do not fit are left out;
a project without holes trains exactly as before."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.config import get_preset
from engine.training.loop import lone_scale_step, masked_rates

pytestmark = pytest.mark.usefixtures("one_torch_thread")

WINDOWED = {"window": 2048, "window_batch": 2, "window_above": 3000}


@pytest.fixture()
def real(demo_clip: Path) -> torch.Tensor:
    """2 s of the demo clip at tiny's 4 kHz, [1, 1, 8000]."""
    from engine.audio.io import load_clip

    clip = load_clip(demo_clip, 4000, start=1.0, duration=2.0)
    return torch.from_numpy(clip.signal).reshape(1, 1, -1)


def _train(cfg, real: torch.Tensor, holes, steps: int = 3) -> dict[str, torch.Tensor]:
    torch.manual_seed(3)
    step = lone_scale_step(cfg, real, seed=1, holes=holes)
    for it in range(steps):
        terms = step.step(it)
        assert all(torch.isfinite(v) for v in terms.values())
    state = {f"G.{k}": v.clone() for k, v in step.g.state_dict().items()}
    state.update({f"D.{k}": v.clone() for k, v in step.d.state_dict().items()})
    return state


@pytest.mark.parametrize("overrides", [{}, WINDOWED], ids=["whole-scale", "windows"])
def test_what_lies_in_the_hole_is_never_learned(real: torch.Tensor, overrides: dict) -> None:
    cfg = get_preset("tiny", **overrides)
    hole = (3500, 4700)
    other = real.clone()
    other[..., hole[0] : hole[1]] = torch.randn(hole[1] - hole[0]) * 0.8
    a = _train(cfg, real, [hole])
    b = _train(cfg, other, [hole])
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # without the mask the same change does change the weights
    c = _train(cfg, real, [])
    d = _train(cfg, other, [])
    assert any(not torch.equal(c[k], d[k]) for k in c)


def test_windows_are_drawn_where_the_critic_sees_audio(real: torch.Tensor) -> None:
    cfg = get_preset("tiny", **WINDOWED)
    hole = (2000, 6000)
    torch.manual_seed(0)
    step = lone_scale_step(cfg, real, seed=2, holes=[hole])
    assert step.windowed and step.masked
    rf = cfg.receptive_field
    for _ in range(50):
        for st in step.window_starts():
            assert 0 <= st <= real.shape[-1] - cfg.window
            # the window holds at least 64 critic outputs that see no hole
            left = max(0, min(st + cfg.window, hole[0]) - st - rf + 1)
            right = max(0, st + cfg.window - max(st, hole[1] + 1) - rf + 1)
            assert left + right >= 64


def test_scales_without_room_beside_the_hole_are_left_out() -> None:
    cfg = get_preset("tiny")  # rates 500, 1000, 2000, 4000; receptive field 249 samples
    fs, n = cfg.fs, 4 * cfg.fs  # a 4 s clip
    # a 1 s hole in the middle: 1.5 s each side holds the receptive field at every rate
    assert masked_rates([500, 1000, 2000, 4000], [(6000, 10000)], n, cfg) == [500, 1000, 2000, 4000]
    # a 3.6 s hole leaves 0.2 s each side: 100 samples at 500 Hz (< 249), 200 at 1 kHz
    hole = [(int(0.2 * fs), int(3.8 * fs))]
    assert masked_rates([500, 1000, 2000, 4000], hole, n, cfg) == [2000, 4000]
    assert masked_rates([500, 1000], [], n, cfg) == [500, 1000]


def test_a_cancelled_bridge_resumes_to_the_weights_of_a_whole_run(tmp_path: Path,
                                                                  demo_clip: Path) -> None:
    """Masked training resumes exactly: the layout (and so the masks) comes back from the
    manifest."""
    import hashlib

    from engine.jobs import CancelToken
    from engine.project.layout import LayoutRequest, SectionRequest
    from engine.training.loop import TrainCancelled, TrainProgress, iter_train

    d = str(demo_clip)
    req = LayoutRequest("bridge", (SectionRequest(d, 0.5, 1.5), SectionRequest(d, 2.0, 3.0)), 0.5)
    cfg = get_preset("tiny", iters_per_scale=3)
    token = CancelToken()
    root = tmp_path / "cut"
    for ev in iter_train(None, root, cfg, seed=4, device="cpu", cancel=token, layout=req):
        if isinstance(ev, TrainProgress) and ev.scale == 1:
            token.cancel()
    assert isinstance(ev, TrainCancelled)
    list(iter_train(None, root, None, resume=True, device="cpu"))
    whole = tmp_path / "whole"
    list(iter_train(None, whole, cfg, seed=4, device="cpu", layout=req))

    def sha(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    files = sorted(p.name for p in (whole / "scales").iterdir())
    assert len(files) >= 3
    assert [sha(root / "scales" / f) for f in files] == [sha(whole / "scales" / f) for f in files]
