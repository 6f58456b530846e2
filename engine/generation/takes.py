"""Bridge and ending takes: fill a layout project's gap with new material (caw-method.md
section 8, rendering).

The pyramid runs on the reconstruction noise outside the gap (z* at the coarsest scale, zeros
above it) and on new seeded noise inside it, so the sections come back as the model learned
them and the gap gets a new take per seed. The gap of the result is copied into the real
signal and joined with half-Hann cross-fades just before and just after it; an ending may
fade out at its end. The stitched whole is A + take + B (bridge) or A + take (ending), with
the seams at the gap's edges.

A take may fill a gap of another length than the one the model trained with (the recipe's
seconds): nothing in the gap ever changed a weight and the sections are the same, so the
model does not depend on the gap's length, only on the scales it kept. The layout and the
coarsest scale's reconstruction noise are then moved to the new gap (Layout.with_gap), and
the stitched whole is as long as the sections plus that gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from engine.audio.channels import network_to_audio
from engine.audio.io import resample
from engine.errors import ConfigError
from engine.model.mask import spans_at
from engine.model.stack import lengths_for, seeded_noise
from engine.project.layout import Layout, fill_gap, layout_for_take, regap
from engine.project.recipe import RenderRecipe


@dataclass(frozen=True)
class Take:
    """A rendered bridge or ending: the stitched whole and the take alone, at the working rate."""

    recipe: RenderRecipe
    stitched: np.ndarray  # [T] (or [2, T] L/R) float32, original level: A + take (+ B)
    take: np.ndarray  # [gap] (or [2, gap]) float32: the filled gap alone
    sample_rate: int
    gap: tuple[int, int]  # the take's span in `stitched`, samples
    crossfade: int  # samples of cross-fade at each seam (before the gap start, after its end)
    fade_out: int  # samples of fade-out at the end (ending)
    layout: Layout  # the layout rendered (the project's, or moved to the take's gap)

    @property
    def seams(self) -> list[int]:
        """Sample positions in `stitched` where real audio meets the take."""
        a, b = self.gap
        return [a, b] if b < self.stitched.shape[-1] else [a]

    def sidecar(self) -> dict[str, Any]:
        """What the store keeps with the record (VariationRecord.seams)."""
        sr = self.sample_rate
        return {
            "sample_rate": sr,
            "take": list(self.gap),
            "seams": self.seams,
            "seams_s": [round(s / sr, 6) for s in self.seams],
            "crossfade": self.crossfade,
            "fade_out": self.fade_out,
            "length": int(self.stitched.shape[-1]),
        }


def check_take(model: Any, recipe: RenderRecipe) -> None:
    """ConfigError when this project cannot render this take."""
    layout = model.manifest.layout
    if layout is None or layout.gap_span is None:
        raise ConfigError("This project was not trained with a gap: train it as a bridge or an "
                          "ending (songwriter-cli train --mode bridge|ending --gap SECONDS).")
    if recipe.mode != layout.mode:
        raise ConfigError(f"This project was trained for a {layout.mode}, not a {recipe.mode}.")
    layout.with_gap(recipe.seconds)  # a gap it can fill


def take_gap(layout: Layout, gap: float | None, seconds: float | None) -> float:
    """The gap a take fills: --gap (or --seconds, its older spelling), else the trained gap."""
    if gap is not None and seconds is not None and abs(gap - seconds) > 1e-9:
        raise ConfigError("For a bridge or ending, --seconds is the gap: give --gap alone.")
    chosen = gap if gap is not None else seconds
    if chosen is None:
        return float(layout.gap_seconds)
    layout.with_gap(chosen)  # refused with a clear line when out of range
    return float(chosen)


def _moved_z_rec(model: Any, trained: Layout, layout: Layout, n0: int) -> torch.Tensor:
    """The coarsest scale's reconstruction noise with its gap moved to `layout`'s, n0 long."""
    rate = model.pyramid.rates[0]
    z = model.z_rec.cpu().numpy()
    (old,) = spans_at([trained.gap_span], trained.fs, rate, z.shape[-1])
    (new,) = spans_at([layout.gap_span], layout.fs, rate, n0)
    moved = regap(z, old, (old[0], old[0] + new[1] - new[0]))[..., :n0]
    out = np.zeros(moved.shape[:-1] + (n0,), dtype=moved.dtype)
    out[..., : moved.shape[-1]] = moved  # rounding at this rate may leave a sample to pad
    return torch.from_numpy(out)


def render_take(model: Any, recipe: RenderRecipe) -> Take:
    """Render one take of `recipe` (mode bridge or ending; its seconds: the gap to fill, the
    project's own or another, see the module's docstring) from a TrainedModel
    (engine.generation.render). Same recipe and model, same audio."""
    check_take(model, recipe)
    trained = model.manifest.layout
    fs = model.fs
    pyr = model.pyramid
    layout, real = layout_for_take(trained, model.clip, recipe.seconds)
    total = layout.total
    if layout is trained:  # the trained gap: the training clip's own lengths and z*
        lengths = [r.shape[-1] for r in model.reals]
        z0 = model.z_rec
    else:
        lengths = lengths_for(pyr.rates, total / fs)
        z0 = _moved_z_rec(model, trained, layout, lengths[0])
    g = torch.Generator().manual_seed(int(recipe.seed))
    noise: list[torch.Tensor | None] = []
    for s, (rate, n) in enumerate(zip(pyr.rates, lengths, strict=True)):
        fresh = seeded_noise(n, g, pyr.device, pyr.audio_channels)
        base = z0.to(pyr.device) if s == 0 else torch.zeros_like(fresh)
        z = base.clone()
        for lo, hi in spans_at([layout.gap_span], fs, rate, n):
            z[..., lo:hi] = fresh[..., lo:hi]
        noise.append(z)
    out = network_to_audio(pyr.run(lengths, noise), model.manifest.config.stereo)
    if pyr.rates[-1] != fs:
        out = np.asarray(resample(out, pyr.rates[-1], fs), dtype=np.float32)
    generated = np.zeros(out.shape[:-1] + (total,), dtype=np.float32)
    generated[..., : min(total, out.shape[-1])] = out[..., :total]
    a, b = layout.gap_span
    cross = int(round(recipe.crossfade * fs))
    cross = min(cross, (b - a) // 2)
    fade = min(int(round(recipe.fade_out * fs)), b - a) if recipe.mode == "ending" else 0
    stitched = fill_gap(real, generated, (a, b), cross, fade) * np.float32(model.gain)
    return Take(recipe, stitched.astype(np.float32), stitched[..., a:b].copy(), fs, (a, b), cross,
                fade, layout)
