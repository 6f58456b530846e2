"""What a preset costs on this machine: a short measured probe and a simple cost model.

The probe times a few real training steps (the trainer's G and D updates, with
gradient penalty and spectral reconstruction loss) of one scale for each
network shape the presets use, at two signal lengths, on the chosen device:
t(L) = a + b * L seconds per iteration. A preset's estimate is then the sum over
its scales (rates <= working rate, the section's length at each rate) of
iterations * t(L), plus the coarser generators each step runs when the preset
redraws its previous-scale inputs. It is an estimate (the energy test may drop
coarse scales; other programs share the machine) and the GUI says "about".

Results are cached per device and torch version in the app settings (JSON).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.config import PRESETS, TrainConfig

PROBE_ITERATIONS = 3  # timed, after one warm-up step; the fastest counts (others share the CPU)
GEN_FORWARD_SHARE = 0.08  # a no-grad generator pass as a share of one training step


@dataclass(frozen=True)
class Fit:
    """Seconds per training iteration of one scale: a + b * samples."""

    a: float
    b: float

    def seconds(self, samples: int) -> float:
        return max(self.a + self.b * samples, 0.0)


def shape_key(channels: int, cfg: TrainConfig) -> str:
    return f"c{channels}-l{cfg.n_layers}-k{cfg.kernel_size}"


def shapes_needed(presets: dict[str, TrainConfig] | None = None) -> dict[str, tuple[int, int, int]]:
    out: dict[str, tuple[int, int, int]] = {}
    for cfg in (presets or PRESETS).values():
        for c in (cfg.channels_first, cfg.channels):
            out[shape_key(c, cfg)] = (c, cfg.n_layers, cfg.kernel_size)
    return out


def _time_steps(channels: int, n_layers: int, kernel: int, length: int, device: Any,
                cancel: Any = None) -> float:
    """Seconds per trainer-like step at `length` samples (fastest of PROBE_ITERATIONS)."""
    import torch

    from engine.losses import gradient_penalty, mss_loss
    from engine.models import ScaleDiscriminator, ScaleGenerator

    g = ScaleGenerator(channels=channels, n_layers=n_layers, kernel=kernel).to(device)
    d = ScaleDiscriminator(channels=channels, n_layers=n_layers, kernel=kernel).to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-4)
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    real = (0.5 * torch.randn((1, 1, length), generator=gen)).to(device)
    prev = torch.zeros_like(real)
    times = []
    for i in range(PROBE_ITERATIONS + 1):
        if cancel is not None and getattr(cancel, "cancelled", False):
            raise InterruptedError
        t0 = time.perf_counter()
        fake = g(torch.randn_like(real) * 0.1, prev)
        d_total = -d(real).mean() + d(fake.detach()).mean()
        d_total = d_total + gradient_penalty(d, real, fake.detach(), weight=0.01)
        opt_d.zero_grad(set_to_none=True)
        d_total.backward()
        opt_d.step()
        g_total = -d(fake).mean() + 1e-4 * mss_loss(real, g(torch.zeros_like(real), prev))
        opt_g.zero_grad(set_to_none=True)
        g_total.backward()
        opt_g.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i > 0:
            times.append(time.perf_counter() - t0)
    return min(times)


def probe(device: Any, cancel: Any = None, presets: dict[str, TrainConfig] | None = None
          ) -> dict[str, Any]:
    """Measure every network shape the presets use; returns a JSON-able dict of fits."""
    import torch

    from engine.device import device_label

    fits: dict[str, dict[str, float]] = {}
    _time_steps(4, 3, 9, 512, device, cancel)  # first-call costs (allocator, kernels, windows)
    for key, (c, layers, kernel) in shapes_needed(presets).items():
        rf = 1 + (kernel - 1) * (2**layers - 1)
        l1 = rf + 64 + 256
        l2 = 4 * l1
        t1 = _time_steps(c, layers, kernel, l1, device, cancel)
        t2 = _time_steps(c, layers, kernel, l2, device, cancel)
        b = max((t2 - t1) / (l2 - l1), 0.0)
        a = max(t1 - b * l1, 0.0)
        fits[key] = {"a": a, "b": b}
    return {
        "device": str(device),
        "device_name": device_label(device),
        "torch": torch.__version__,
        "measured": time.time(),
        "fits": fits,
    }


def estimate_seconds(cfg: TrainConfig, section_seconds: float, fits: dict[str, Any]) -> float:
    """Estimated training time of `cfg` on a section, from probe fits (nan if a fit is missing)."""
    from engine.pyramid import MIN_D_POSITIONS, candidate_rates

    seconds = min(section_seconds, cfg.max_seconds)
    need = cfg.receptive_field + MIN_D_POSITIONS
    rates = [r for r in candidate_rates(cfg) if round(r * seconds) >= need]
    total = 0.0
    step_costs: list[float] = []
    for s, rate in enumerate(rates):
        c = cfg.channels_first if s == 0 else cfg.channels
        fit = fits.get(shape_key(c, cfg))
        if fit is None:
            return math.nan
        step = Fit(float(fit["a"]), float(fit["b"])).seconds(int(round(rate * seconds)))
        redraw = 0.0
        if cfg.bank_size == 0:  # every step runs the coarser generators again
            redraw = GEN_FORWARD_SHARE * sum(step_costs)
        elif cfg.bank_refresh:
            redraw = GEN_FORWARD_SHARE * sum(step_costs) / cfg.bank_refresh
        total += cfg.iters_per_scale * (step + redraw)
        step_costs.append(step)
    return total


def bench_fits(bench_dir: Path, device_name: str) -> dict[str, Any] | None:
    """Stored figures from bench/results/*.json holding the same 'fits' structure, if any."""
    if not bench_dir.is_dir():
        return None
    for path in sorted(bench_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("device_name") == device_name and "fits" in data:
            return data
    return None


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "unknown"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    minutes = seconds / 60
    if minutes < 90:
        return f"about {round(minutes)} min"
    hours = minutes / 60
    if hours < 48:
        return f"about {hours:.1f} h"
    return f"about {hours / 24:.0f} days"
