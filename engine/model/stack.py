"""The stack of frozen generators run coarse to fine (`Pyramid`), shared by training (the
previous scales' input) and generation, and the per-scale previews rendered from it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from engine.audio.channels import network_to_audio
from engine.audio.io import resample
from engine.model.networks import ScaleGenerator
from engine.model.pyramid import scale_upsampler

if TYPE_CHECKING:
    from engine.project.checkpoint import Manifest


def lengths_for(rates: list[int], seconds: float) -> list[int]:
    return [max(1, int(round(r * seconds))) for r in rates]


def seeded_noise(n: int, generator: torch.Generator, device: torch.device, channels: int = 1
                 ) -> torch.Tensor:
    """N(0,1) noise [1, channels, n] drawn on the CPU so a seed gives the same audio on every
    device (independent per channel: the networks mix them)."""
    return torch.randn((1, channels, n), generator=generator).to(device)


class Pyramid:
    """Frozen generators of scales 0..k-1 with their rates and noise amplitudes; signals are
    [1, A, T], A the audio channels the networks were built for (in their basis)."""

    def __init__(
        self, generators: list[ScaleGenerator], rates: list[int], amps: list[float],
        device: torch.device, audio_channels: int = 1, band_limited_above: int = 0,
    ) -> None:
        self.generators = [g.to(device).eval().requires_grad_(False) for g in generators]
        self.rates = rates
        self.amps = amps
        self.device = device
        self.audio_channels = audio_channels
        # the up-sampler into each scale (TrainConfig.band_limited_above)
        self.upsample = scale_upsampler(band_limited_above)

    def __len__(self) -> int:
        return len(self.generators)

    def append(self, g: ScaleGenerator) -> None:
        self.generators.append(g.to(self.device).eval().requires_grad_(False))

    @torch.no_grad()
    def run(
        self, lengths: list[int], noise: list[torch.Tensor | None], *, upto: int | None = None,
        start: int = 0, start_signal: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run scales start..upto-1; returns the output of scale upto-1, [1, A, lengths[upto-1]].

        `noise[s]` is the unscaled N(0,1) noise of scale s (None = zeros). With
        `start_signal` (the real or given signal at scale `start`), that scale is not
        generated: it is taken as given and only the scales above it run.
        """
        upto = len(self.generators) if upto is None else upto
        x: torch.Tensor | None = None
        first = start
        if start_signal is not None:
            x = start_signal.to(self.device).reshape(1, self.audio_channels, -1)
            first = start + 1
        for s in range(first, upto):
            n = lengths[s]
            prev = (
                torch.zeros((1, self.audio_channels, n), device=self.device)
                if x is None
                else self.upsample(x, self.rates[s - 1], self.rates[s], n)
            )
            z = noise[s]
            z = torch.zeros_like(prev) if z is None else z.to(self.device) * self.amps[s]
            x = self.generators[s](z, prev)
        assert x is not None, "empty pyramid"
        return x

    def random_noise(
        self, lengths: list[int], generator: torch.Generator, *, upto: int | None = None
    ) -> list[torch.Tensor | None]:
        upto = len(self.generators) if upto is None else upto
        return [seeded_noise(lengths[s], generator, self.device, self.audio_channels)
                for s in range(upto)]

    def prev_input(self, scale: int, lengths: list[int], noise: list[torch.Tensor | None]) -> torch.Tensor:
        """The upsampled output of scales 0..scale-1 at scale `scale`'s rate."""
        out = self.run(lengths, noise, upto=scale)
        return self.upsample(out, self.rates[scale - 1], self.rates[scale], lengths[scale])


def render_scale_previews(
    pyramid: Pyramid, lengths: list[int], z_rec: torch.Tensor, manifest: Manifest, scale: int,
    clip_seconds: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The coarse-to-fine previews of a finished scale: a seeded random sample (at most
    preview_seconds) and the reconstruction, both from scales 0..scale, at the working rate and
    the original level ([T], or [2, T] L/R for a stereo project). The same seed every time, so a
    re-rendered preview matches training's."""
    cfg = manifest.config
    rate = manifest.rates[scale]
    seconds = min(cfg.preview_seconds, clip_seconds)
    g = torch.Generator().manual_seed(manifest.seed + 101 * scale)
    plen = lengths_for(manifest.rates, seconds)
    sample = pyramid.run(plen, pyramid.random_noise(plen, g, upto=scale + 1), upto=scale + 1)
    rec = pyramid.run(lengths, [z_rec] + [None] * scale, upto=scale + 1)

    def to_fs(x: torch.Tensor) -> np.ndarray:
        y = network_to_audio(x, cfg.stereo)
        y = np.asarray(resample(y, rate, cfg.fs), dtype=np.float32)
        return (y * manifest.gain).astype(np.float32)

    return to_fs(sample), to_fs(rec)
