"""Recompute the generators' batch-norm running statistics of trained projects' top scales,
and measure the free takes again (retrain_top.py's measures).

    python bench/bn_recalibrate.py OUT.json PROJECT [PROJECT ...] --from-scale 5 \
        --how whole --passes 8 --work DIR

Why: generation runs each G in eval mode, so its batch norm uses the running statistics that
training left: an exponential average (momentum 0.1) over the last ten-odd iterations' forwards.
A scale trained on whole signals leaves the statistics of the whole scale there; a scale trained
on a few random windows leaves those of the last windows drawn, which a music with quiet and
loud parts, or with notes that change, makes far from the whole scale's.

For each project and each scale from --from-scale up (coarse to fine, so a scale sees the
recalibrated scales below it), a copy of the project gets G's running statistics replaced by a
plain average over `passes` forwards in training mode, half on the noise path (fresh noise at
this scale, the coarser scales' output from fresh noise) and half on the reconstruction path,
as a training iteration alternates them:

  whole     every forward on the whole scale (what a reference run's statistics hold)
  windows   every forward on the run's own windows (window, window_batch, margin): the
            statistics its training normalised with, averaged over many more windows

Nothing is trained; only the running means and variances change. Writes OUT.json with each
project's measures before (`as-trained`) and after, and by how much the statistics moved.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retrain_top import finish, measure, record  # noqa: E402

from engine.audio.channels import as_network_input  # noqa: E402
from engine.model.networks import ScaleGenerator  # noqa: E402
from engine.model.pyramid import scale_signals  # noqa: E402
from engine.model.stack import Pyramid  # noqa: E402
from engine.project.checkpoint import (  # noqa: E402
    load_clip_signal,
    load_scale,
    load_tensors,
    load_z_rec,
    read_manifest,
    save_tensors,
    scale_path,
)


def _norms(g: nn.Module) -> list[nn.BatchNorm1d]:
    return [m for m in g.modules() if isinstance(m, nn.BatchNorm1d)]


def _cut(x: torch.Tensor, starts: list[int], window: int, margin: int) -> torch.Tensor:
    """[1, A, T] -> [B, A, window + 2 margin]: the windows at `starts` with their margins (zeros
    beyond the clip's ends), as training cuts them."""
    padded = F.pad(x, (margin, margin))
    return torch.cat([padded[..., a : a + window + 2 * margin] for a in starts])


@torch.no_grad()
def recalibrate(g: ScaleGenerator, real: torch.Tensor, pyramid: Pyramid, s: int, lengths: list[int],
                z_rec: torch.Tensor, amp: float, how: str, passes: int, window: int, batch: int,
                seed: int) -> float:
    """Replace g's running statistics (see the module docstring); returns the mean over layers
    and channels of |log(new var / old var)|, how far the variances moved."""
    norms = _norms(g)
    old = [bn.running_var.clone() for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a plain average over the passes
    g.train()
    gen = torch.Generator().manual_seed(seed)
    rec_prev = pyramid.prev_input(s, lengths, [z_rec] + [None] * (s - 1))
    length = real.shape[-1]
    margin = g.window_margin
    for p in range(passes):
        if p % 2 == 0:
            prev = pyramid.prev_input(s, lengths, pyramid.random_noise(lengths, gen, upto=s))
            noise = torch.randn(real.shape, generator=gen) * amp
        else:
            prev, noise = rec_prev, torch.zeros_like(real)
        if how == "whole":
            g(noise, prev)
            continue
        starts = torch.randint(0, length - window + 1, (batch,), generator=gen).tolist()
        v = _cut(torch.ones_like(real[:, :1]), starts, window, margin)
        g(_cut(noise, starts, window, margin) * v, _cut(prev, starts, window, margin),
          margin=margin, valid=v)
    g.eval()
    for bn in norms:
        bn.momentum = 0.1
    moved = [float((bn.running_var.clamp_min(1e-12) / o.clamp_min(1e-12)).log().abs().mean())
             for bn, o in zip(norms, old, strict=True)]
    return sum(moved) / len(moved)


def recalibrated_copy(src: Path, dst: Path, from_scale: int, how: str, passes: int,
                      seed: int) -> list[float]:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    m = read_manifest(dst)
    cfg = m.config
    clip, fs = load_clip_signal(dst)
    reals = [as_network_input(x, cfg.stereo) for x in scale_signals(clip, fs, m.rates)]
    lengths = [x.shape[-1] for x in reals]
    z_rec = load_z_rec(dst)
    dev = torch.device("cpu")
    gens = [load_scale(dst, m, s, with_discriminator=False)[0] for s in range(m.n_scales)]
    pyramid = Pyramid(gens[:from_scale], m.rates, m.noise_amps, dev, m.audio_channels,
                      band_limited_above=cfg.band_limited_above)
    moved = []
    for s in range(from_scale, m.n_scales):
        g = gens[s]
        kind = how if cfg.uses_windows(lengths[s]) else "whole"
        moved.append(recalibrate(g, reals[s], pyramid, s, lengths, z_rec, m.noise_amps[s], kind,
                                 passes, cfg.window or lengths[s], cfg.window_batch, seed * 31 + s))
        tensors = load_tensors(scale_path(dst, s))
        tensors.update({f"G.{k}": v for k, v in g.state_dict().items()})
        save_tensors(scale_path(dst, s), tensors)
        pyramid.append(g)
    return moved


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("projects", type=Path, nargs="+")
    ap.add_argument("--from-scale", type=int, required=True)
    ap.add_argument("--how", choices=("whole", "windows"), action="append", required=True)
    ap.add_argument("--passes", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=None)
    ap.add_argument("--skip-original", action="store_true",
                    help="do not measure the projects as trained (their figures are known)")
    args = ap.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bn-recalibrate-"))
    work.mkdir(parents=True, exist_ok=True)
    variants = ([] if args.skip_original else ["as-trained"]) + [f"bn-{h}" for h in args.how]
    report: dict[str, Any] = {"kind": "bn-recalibrate", "from_scale": args.from_scale,
                              "passes": args.passes, "variants": {v: {} for v in variants},
                              "threads": torch.get_num_threads(), "runs": []}
    for project in args.projects:
        if not args.skip_original:
            record(report, args.out, {"project": project.name, "variant": "as-trained",
                                      "dir": str(project), **measure(project)})
        for how in args.how:
            dst = work / f"{project.name}-bn-{how}"
            moved = recalibrated_copy(project, dst, args.from_scale, how, args.passes, args.seed)
            record(report, args.out, {"project": project.name, "variant": f"bn-{how}",
                                      "dir": str(dst), "log_var_moved": moved, **measure(dst)})
    return finish(report, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
