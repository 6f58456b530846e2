"""Seconds per training iteration at every scale of a preset, on the current device.

Runs a few real training iterations per scale (after a warm-up) with the
preset's own networks, lengths and speed levers, and extrapolates to the
preset's iteration count (plus each scale's setup: building the step, compiling
with --set compile=MODE, and the warm-up iterations). Untrained lower scales stand in for the frozen
pyramid: they cost the same as trained ones. Writes JSON to bench/results/.

    python bench/bench_speed.py --preset quick --clip engine/resources/demo-war-of-freedom-10s.wav
    python bench/bench_speed.py --preset standard --clip CLIP_25S.wav --device cuda --iters 20
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import torch

from engine.audio.io import load_clip
from engine.config import get_preset, parse_overrides
from engine.device import cpu_description, device_label, resolve_device, synchronize
from engine.model.networks import ScaleDiscriminator, ScaleGenerator
from engine.model.pyramid import choose_rates, energies, noise_amplitudes, scale_signals
from engine.model.stack import Pyramid
from engine.resources import DEMO_CLIP
from engine.training.loop import ScaleStep, configure_backends

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--clip", default=str(DEMO_CLIP))
    ap.add_argument("--seconds", type=float, default=None, help="section length (default: preset max)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--iters", type=int, default=5, help="timed iterations per scale")
    ap.add_argument("--warmup", type=int, default=2, help="untimed iterations per scale")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a config field, e.g. --set bank_size=0 --set amp=true")
    ap.add_argument("--label", default="", help="added to the result file name")
    ap.add_argument("--out", default=None, help="result JSON path (default bench/results/...)")
    args = ap.parse_args(argv)

    overrides = parse_overrides(args.set)
    cfg = get_preset(args.preset, **overrides)
    dev = resolve_device(args.device)
    configure_backends(cfg, dev)
    clip = load_clip(args.clip, cfg.fs, duration=args.seconds, max_seconds=cfg.max_seconds)
    rates = choose_rates(clip.signal, cfg)
    reals = scale_signals(clip.signal, cfg.fs, rates)
    amps = noise_amplitudes(energies(reals), cfg.noise_amp_factor)
    amps[1:2] = [0.1] * len(amps[1:2])
    lengths = [x.shape[-1] for x in reals]
    z_rec = torch.randn((1, 1, lengths[0])).to(dev)
    pyramid = Pyramid([], rates, amps, dev)
    rows = []
    torch.manual_seed(0)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    schedule = cfg.schedule(lengths)
    for s, rate in enumerate(rates):
        ch = cfg.channels_first if s == 0 else cfg.channels
        g = ScaleGenerator(channels=ch, n_layers=cfg.n_layers, kernel=cfg.kernel_size).to(dev)
        d = ScaleDiscriminator(channels=ch, n_layers=cfg.n_layers, kernel=cfg.kernel_size).to(dev)
        real = torch.from_numpy(reals[s]).to(dev).reshape(1, 1, -1)
        t_setup = time.perf_counter()
        step = ScaleStep(s, real, g, d, pyramid, lengths, z_rec, amps, cfg, dev, 0)
        for it in range(args.warmup):
            step.step(it)
        synchronize(dev)
        setup_s = time.perf_counter() - t_setup
        times = []
        t_all = time.perf_counter()
        for it in range(args.warmup, args.warmup + args.iters):
            t0 = time.perf_counter()
            terms = step.step(it)
            if (it + 1) % cfg.loss_every == 0:
                float(terms["g/total"].detach())
            times.append(time.perf_counter() - t0)
        synchronize(dev)
        if dev.type == "cuda":  # queued GPU work: only the total is meaningful
            times = [(time.perf_counter() - t_all) / args.iters] * args.iters
        # on a shared CPU the median resists a busy neighbour; the mean is kept too
        spi = statistics.median(times)
        # setup = building the step (and, with --set compile=..., compiling) plus the warm-up
        # iterations: a real run pays it once per scale
        iterations = schedule[s]
        projected = setup_s + spi * max(0, iterations - args.warmup)
        rows.append({
            "scale": s, "rate": rate, "samples": lengths[s], "channels": ch,
            "iterations": iterations, "windows": cfg.uses_windows(lengths[s]),
            "seconds_per_iteration": spi, "mean_seconds_per_iteration": statistics.fmean(times),
            "setup_seconds": setup_s,
            "projected_scale_seconds": projected,
        })
        print(f"scale {s + 1:2d}/{len(rates)} {rate:6d} Hz {lengths[s]:7d} samples {ch:3d} ch: "
              f"{spi * 1000:8.1f} ms/it, setup {setup_s:5.1f} s -> {projected / 60:6.1f} min",
              file=sys.stderr)
        pyramid.append(g)
    total = sum(r["projected_scale_seconds"] for r in rows)
    result = {
        "preset": cfg.name,
        "overrides": overrides,
        "config": cfg.to_dict(),
        "clip": str(args.clip),
        "clip_seconds": clip.seconds,
        "device": str(dev),
        "device_name": device_label(dev),
        "machine": platform.machine(),
        "processor": cpu_description(),
        "torch": torch.__version__,
        "timed_iterations_per_scale": args.iters,
        "scales": rows,
        "projected_total_seconds": total,
        "projected_total_minutes": total / 60,
        "peak_gpu_memory_bytes": torch.cuda.max_memory_allocated(dev) if dev.type == "cuda" else None,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    label = f"-{args.label}" if args.label else ""
    out = Path(args.out) if args.out else RESULTS / f"speed-{cfg.name}-{dev.type}{label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"projected {total / 60:.1f} min for {sum(r['iterations'] for r in rows)} iterations over {len(rates)} scales "
          f"on {device_label(dev)}; wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
