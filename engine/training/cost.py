"""What a preset costs on this machine: a short measured probe and a simple cost model.

The probe runs the real trainer for a few iterations on one scale of a synthetic
clip, for each network shape the presets use, at two signal lengths, on the
chosen device: t(L) = a + b * L seconds per iteration. A preset's estimate is then the sum over
its scales (rates <= working rate, the section's length at each rate) of
iterations * t(L), plus the coarser generators each step runs when the preset
redraws its previous-scale inputs. At a scale that trains on windows (TrainConfig.window),
L is what one step pushes through the networks (the windows with their context,
TrainConfig.step_sizes), not the scale's length, and the iterations are the preset's
schedule for such scales (TrainConfig.schedule). It is an estimate (the energy test may drop
coarse scales; other programs share the machine) and the GUI says "about".

Results are cached per device and torch version in the app settings (JSON).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.config import PRESETS, TrainConfig

# Bumped when the trainer gets faster or slower for the same shapes on the same device; stored
# probes and bench figures of another epoch are not used (2: the fast CPU convolution backward,
# engine.model.conv, 1.27x on quick; 3: no unused critic weight gradients and fused Adam,
# bench/bench_conv.py --baseline all-grads; 4: long signals convolved in pieces, 1.23x on
# thorough, bench/bench_conv.py --baseline unsplit).
SPEED_EPOCH = 4
PROBE_ITERATIONS = 3  # timed iterations per measurement, after one uncounted first iteration
HEAVY_CHANNELS = 32  # above this a CPU measures one length only
GEN_FORWARD_SHARE = 0.08  # a no-grad generator pass as a share of one training step
# the gradient penalty's share of one training step (its second critic forward and double
# backward): gp_every=4 made quick's steps 1.29-1.36x faster on a 2-core CPU
# (bench/results/ab-quick-cpu-gp4-*.json), 1 - 0.3 x 3/4 = 1/1.29
GP_SHARE = 0.3
# the reconstruction path's share (G's forward on the reconstruction input, the spectral loss and
# their backward): 20 % of thorough's windowed step, timed phase by phase (bench/README.md)
REC_SHARE = 0.2


def step_factor(cfg: TrainConfig, windows: int = 0) -> float:
    """A step's average cost under cfg's penalty schedule and the windows its penalty and
    reconstruction see, as a share of a step that takes the penalty every iteration and both on
    all of its windows (what the probe measures); `windows`: the step's windows (0 at a scale
    trained whole). The work grows with the windows: gp_windows=1 of thorough's 2 made its
    windowed steps 1.13-1.16x faster on a 2-core CPU, 1 - 0.3 x 1/2 = 1/1.18, rec_windows=1
    1.08-1.13x, 1 - 0.2 x 1/2 = 1/1.11 (bench/results/ab-thorough-cpu-thorough-*win1-*.json)."""
    def seen(n: int) -> float:
        return min(n or windows, windows) / windows if windows else 1.0

    return (1.0 - GP_SHARE * (1.0 - seen(cfg.gp_windows) / cfg.gp_every)
            - REC_SHARE * (1.0 - seen(cfg.rec_windows)))


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
                cancel: Any = None, iterations: int = PROBE_ITERATIONS) -> float:
    """Seconds per iteration of the real trainer on one scale of `length` samples.

    Runs engine.training.loop.iter_train on a synthetic clip in a temporary folder with the
    preset's network shape (every scale gets `channels`), one scale, a few iterations; the
    first iteration (allocations, first-call costs) is not counted.
    """
    import soundfile as sf

    from engine.config import TrainConfig
    from engine.training.loop import TrainProgress, iter_train

    fs = 8000
    folder = Path(tempfile.mkdtemp(prefix="songwriter-probe-"))
    try:
        n = max(length, fs) + fs // 2
        t = np.arange(n) / fs
        rng = np.random.default_rng(0)
        x = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(n)
        sf.write(str(folder / "probe.wav"), x.astype(np.float32), fs)
        cfg = TrainConfig(
            name="probe", fs=fs, max_seconds=length / fs, candidate_rates=(fs,),
            n_layers=n_layers, kernel_size=kernel, channels_first=channels, channels=channels,
            iters_per_scale=iterations + 1, progress_every=1, preview_seconds=0.05,
        )
        events = [ev for ev in iter_train(folder / "probe.wav", folder / "p", cfg,
                                          duration=length / fs, device=device, cancel=cancel)
                  if isinstance(ev, TrainProgress)]
        if cancel is not None and getattr(cancel, "cancelled", False):
            raise InterruptedError
        first, last = events[0], events[-1]
        if last.iteration <= first.iteration:
            return last.seconds_per_iteration
        return (last.elapsed - first.elapsed) / (last.iteration - first.iteration)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def probe(device: Any, cancel: Any = None, presets: dict[str, TrainConfig] | None = None
          ) -> dict[str, Any]:
    """Measure every network shape the presets use; returns a JSON-able dict of fits.

    Light shapes: two lengths, each measured twice with the other in between, the faster
    time kept (other programs only ever slow a measurement down). Heavy shapes on a CPU
    (days of training anyway): one length, a = 0.
    """
    import torch

    from engine.device import device_label

    fits: dict[str, dict[str, float]] = {}
    for key, (c, layers, kernel) in shapes_needed(presets).items():
        rf = 1 + (kernel - 1) * (2**layers - 1)
        l1 = rf + 64 + 256
        if device.type == "cpu" and c > HEAVY_CHANNELS:
            t1 = _time_steps(c, layers, kernel, l1, device, cancel, iterations=1)
            fits[key] = {"a": 0.0, "b": t1 / l1}
            continue
        l2 = 4 * l1
        t1 = t2 = math.inf
        for _ in range(2):
            t1 = min(t1, _time_steps(c, layers, kernel, l1, device, cancel))
            t2 = min(t2, _time_steps(c, layers, kernel, l2, device, cancel))
        b = max((t2 - t1) / (l2 - l1), 0.0)
        a = max(t1 - b * l1, 0.0)
        fits[key] = {"a": a, "b": b}
    return {
        "device": str(device),
        "device_name": device_label(device),
        "torch": torch.__version__,
        "speed_epoch": SPEED_EPOCH,
        "measured": time.time(),
        "fits": fits,
    }


def probe_is_current(result: dict[str, Any]) -> bool:
    """Whether a stored probe still describes this trainer: the same torch and speed epoch."""
    import torch

    return result.get("torch") == torch.__version__ and result.get("speed_epoch") == SPEED_EPOCH


def estimate_seconds(cfg: TrainConfig, section_seconds: float, fits: dict[str, Any]) -> float:
    """Estimated training time of `cfg` on a section, from probe fits (nan if a fit is missing)."""
    from engine.model.pyramid import MIN_D_POSITIONS, candidate_rates

    seconds = min(section_seconds, cfg.max_seconds)
    need = cfg.receptive_field + MIN_D_POSITIONS
    rates = [r for r in candidate_rates(cfg) if round(r * seconds) >= need]
    total = 0.0
    step_costs: list[float] = []
    lengths = [int(round(rate * seconds)) for rate in rates]
    schedule, sizes = cfg.schedule(lengths), cfg.step_sizes(lengths)
    windows = cfg.windows(lengths)
    for s, length in enumerate(lengths):
        c = cfg.channels_first if s == 0 else cfg.channels
        fit = fits.get(shape_key(c, cfg))
        if fit is None:
            return math.nan
        step = Fit(float(fit["a"]), float(fit["b"])).seconds(sizes[s])
        step *= step_factor(cfg, windows[s])
        redraw = 0.0
        if cfg.bank_size == 0:  # every step runs the coarser generators again
            redraw = GEN_FORWARD_SHARE * sum(step_costs)
        elif cfg.bank_refresh:
            redraw = GEN_FORWARD_SHARE * sum(step_costs) / cfg.bank_refresh
        total += schedule[s] * (step + redraw)
        # a redraw runs the coarser generators on their whole scales, windows or not
        step_costs.append(Fit(float(fit["a"]), float(fit["b"])).seconds(length))
    return total


BENCH_DIR_ENV = "SONGWRITER_BENCH_DIR"


def stored_bench_dir() -> Path | None:
    """A folder of stored bench figures to use before measuring, if the user named one.

    Optional: `bash dev.sh app` points it at a checkout's bench/results; an installed app has
    none and measures with the probe instead. Never a path relative to the repository.
    """
    value = os.environ.get(BENCH_DIR_ENV, "").strip()
    return Path(value) if value else None


def bench_fits(bench_dir: Path, device_name: str) -> dict[str, Any] | None:
    """Fits from stored bench figures (bench/results/*.json) measured on this device, if any.

    Uses every training run in those files whose device_name and speed epoch match: each finished scale
    gives (network shape, samples, seconds per iteration); a + b * samples is fitted per shape
    by least squares (through the origin when a shape has one length only).
    """
    if not bench_dir.is_dir():
        return None
    points: dict[str, list[tuple[float, float]]] = {}
    sources = []
    for path in sorted(bench_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("device_name") != device_name:
            continue
        if data.get("speed_epoch", 1) != SPEED_EPOCH or data.get("conv_backward") == "aten":
            continue  # measured with an older trainer, or with the old one for a comparison
        if "fits" in data:  # a stored probe
            return data
        try:
            cfg = TrainConfig.from_dict(data["config"])
            seconds = float(data["seconds"])
            runs = data["runs"]
        except (KeyError, TypeError, ValueError):
            continue
        used = False
        for run in runs:
            scales = ((run or {}).get("train") or {}).get("scales") or []
            try:
                # what one step pushed through the networks: the windows when the scale trained
                # on windows, else the whole scale
                lengths = [int(round(float(sc["rate"]) * seconds)) for sc in scales]
                sizes, windows = cfg.step_sizes(lengths), cfg.windows(lengths)
            except (KeyError, TypeError, ValueError):
                continue
            for i, (sc, size, n) in enumerate(zip(scales, sizes, windows, strict=True)):
                try:
                    # as a step that takes the penalty every iteration and it and the
                    # reconstruction on every window (the probe's)
                    spi = float(sc.get("seconds_per_iteration_in_loop")
                                or sc["seconds_per_iteration"]) / step_factor(cfg, n)
                except (KeyError, TypeError, ValueError):
                    continue
                channels = cfg.channels_first if int(sc.get("scale", i)) == 0 else cfg.channels
                points.setdefault(shape_key(channels, cfg), []).append((float(size), spi))
                used = True
        if used:
            sources.append(path.name)
    if not points:
        return None
    fits = {}
    for key, pts in points.items():
        xs = np.array([p[0] for p in pts])
        ys = np.array([p[1] for p in pts])
        if np.ptp(xs) > 0:
            b, a = np.polyfit(xs, ys, 1)
            if a < 0 or b < 0:
                a, b = 0.0, float(np.sum(xs * ys) / np.sum(xs * xs))
        else:
            a, b = 0.0, float(np.mean(ys / xs))
        fits[key] = {"a": float(a), "b": float(b)}
    return {"device_name": device_name, "fits": fits, "source": "bench: " + ", ".join(sources)}


def clock_time(seconds: float) -> str:
    """A running time as a clock: "4:05", "1:02:03"; "--:--" when unknown."""
    if not math.isfinite(seconds):
        return "--:--"
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


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
