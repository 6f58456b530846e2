"""Render-only checks of what makes a bridge's gap a wash (bench/README.md, "Bridges and
endings"): render a trained bridge or ending project's takes (seeds 0-2, the trained gap) with
the gap's input changed, and print the seam measures, motion, level and cross-correlation.

    python bench/bridge_gap_probe.py PROJECT --noise-upto J    # fresh noise in the gap at
                                                               # scales 0..J only, none above
    python bench/bridge_gap_probe.py PROJECT --skeleton K      # the gap's signal at scale K is
                                                               # the sections' own (A's tail,
                                                               # then B's head), noise above

Nothing here is used by the app: it is the evidence for not adopting either as a render recipe.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _skeleton(model, k: int, lengths: list[int]) -> torch.Tensor:  # noqa: ANN001
    """Scale k's real signal with the gap filled by A's last half-gap and B's first half-gap
    (an ending: A's tail, repeated as needed)."""
    from engine.model.mask import spans_at

    lay, fs, pyr = model.manifest.layout, model.fs, model.pyramid
    x = torch.from_numpy(model.reals[k].copy()).reshape(1, pyr.audio_channels, -1)
    rate = pyr.rates[k]
    ((lo, hi),) = spans_at([lay.gap_span], fs, rate, lengths[k])
    n = hi - lo
    secs = [spans_at([(s.offset, s.end_sample)], fs, rate, lengths[k])[0] for s in lay.sections]
    a0, a1 = secs[0] if lay.mode == "bridge" else secs[-1]
    if lay.mode == "bridge":
        b0, _ = secs[1]
        h = n // 2
        fill = torch.cat([x[..., max(a0, a1 - h) : a1], x[..., b0 : b0 + n - h]], -1)
    else:
        fill = x[..., max(a0, a1 - n) : a1]
        while fill.shape[-1] < n:
            fill = torch.cat([fill, fill], -1)
    x[..., lo:hi] = fill[..., :n]
    return x


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("project", type=Path)
    p.add_argument("--noise-upto", type=int, default=None)
    p.add_argument("--skeleton", type=int, default=None)
    args = p.parse_args()

    from engine.analysis.seams import take_measures
    from engine.audio.channels import network_to_audio
    from engine.generation.render import load_model
    from engine.model.mask import spans_at
    from engine.model.stack import seeded_noise
    from engine.project.layout import fill_gap

    model = load_model(args.project, "cpu")
    lay, fs, pyr = model.manifest.layout, model.fs, model.pyramid
    lengths = [r.shape[-1] for r in model.reals]
    top = len(lengths) - 1 if args.noise_upto is None else args.noise_upto
    for seed in range(3):
        g = torch.Generator().manual_seed(seed)
        noise: list[torch.Tensor | None] = []
        for s, (rate, n) in enumerate(zip(pyr.rates, lengths, strict=True)):
            fresh = seeded_noise(n, g, pyr.device, pyr.audio_channels)
            z = model.z_rec.clone() if s == 0 else torch.zeros_like(fresh)
            if s <= top:
                for lo, hi in spans_at([lay.gap_span], fs, rate, n):
                    z[..., lo:hi] = fresh[..., lo:hi]
            noise.append(z)
        with torch.no_grad():
            if args.skeleton is None:
                y = pyr.run(lengths, noise)
            else:
                k = args.skeleton
                y = pyr.run(lengths, noise, start=k, start_signal=_skeleton(model, k, lengths))
        out = network_to_audio(y, model.manifest.config.stereo)
        total = lay.total
        gen = np.zeros(out.shape[:-1] + (total,), np.float32)
        gen[..., : min(total, out.shape[-1])] = out[..., :total]
        a, b = lay.gap_span
        cross = min(int(0.25 * fs), (b - a) // 2)
        st = fill_gap(model.clip[..., :total], gen, (a, b), cross, 0) * np.float32(model.gain)
        side = {"take": [a, b], "seams": [a, b] if b < total else [a], "crossfade": cross}
        m = take_measures(lay, model.clip, st, side, fs)
        level = 20 * np.log10(np.sqrt(np.mean(st[..., a:b] ** 2)) / np.sqrt(np.mean(st[..., :a] ** 2)))
        print(f"seed {seed}: {m.words()}; motion {m.motion_ratio:.2f}, level {level:+.1f} dB, "
              f"max xcorr {m.max_xcorr:.2f}, longest copy {m.longest_copy_s:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
