"""The training step against an earlier form of it, interleaved: the same maths, other kernels.

For every scale of a preset's pyramid on a section of `--seconds` (the whole scale or its
training windows, as the trainer sees it), one ScaleStep as the trainer runs it ("fast") and one
as a baseline start from the same networks and alternate (A, B, A, B, ...) in this one process,
so the machine's drift hits both alike. Baselines (`--baseline`):

  aten        nn.Conv1d's own backward (oneDNN) instead of engine.model.conv's
  all-grads   engine.model.conv's backward computing every weight gradient (also the critic's
              in the gradient penalty's first pass and in G's step, which nothing uses) and
              Adam without its fused kernel: the trainer before those two levers
  unsplit     engine.model.conv's convolutions of long signals on the signals as they are,
              not on overlapping pieces run as one batch (conv.SPLIT_ABOVE = 0)

The estimate of a whole run is the sum over scales of iterations x the median seconds per
iteration. Writes JSON to bench/results/.

    python bench/bench_conv.py                               # quick, 10 s, against aten
    python bench/bench_conv.py --baseline all-grads          # against the trainer before
    python bench/bench_conv.py --preset studio               # 44.1 kHz stereo, 10 scales
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import torch
from torch import nn

from engine.config import get_preset
from engine.device import cpu_description, device_label
from engine.model import conv as conv_module
from engine.model.conv import Conv1d
from engine.model.pyramid import candidate_rates
from engine.training.step import ScaleStep, lone_scale_step

RESULTS = Path(__file__).resolve().parent / "results"


@contextlib.contextmanager
def aten_backward() -> Iterator[None]:
    """Conv1d as plain nn.Conv1d (aten's backward) inside the block."""
    fast = Conv1d._conv_forward
    Conv1d._conv_forward = nn.Conv1d._conv_forward  # type: ignore[method-assign]
    try:
        yield
    finally:
        Conv1d._conv_forward = fast  # type: ignore[method-assign]


@contextlib.contextmanager
def every_weight_grad() -> Iterator[None]:
    """engine.model.conv's backward computing each weight gradient its input requires."""
    wanted = conv_module._wanted
    conv_module._wanted = lambda ctx, i: bool(ctx.needs_input_grad[i])
    try:
        yield
    finally:
        conv_module._wanted = wanted


def as_before(step: ScaleStep) -> ScaleStep:
    """`step` as the trainer ran it before the all-grads levers: G's backward over every
    parameter (the critic's too) and Adam without its fused kernel."""
    step.g_params = list(step.g.parameters()) + list(step.d.parameters())
    cfg = step.cfg
    step.opt_g = torch.optim.Adam(step.g.parameters(), lr=cfg.lr, betas=cfg.betas)
    step.opt_d = torch.optim.Adam(step.d.parameters(), lr=cfg.lr, betas=cfg.betas)
    milestone = [max(1, int(step.iterations * cfg.lr_decay_at))]
    step.sched_g = torch.optim.lr_scheduler.MultiStepLR(step.opt_g, milestone, gamma=cfg.lr_decay)
    step.sched_d = torch.optim.lr_scheduler.MultiStepLR(step.opt_d, milestone, gamma=cfg.lr_decay)
    return step


def baseline_context(baseline: str) -> contextlib.AbstractContextManager:
    if baseline == "unsplit":  # convolutions on whole signals, not pieces
        return mock.patch.object(conv_module, "SPLIT_ABOVE", 0)
    return aten_backward() if baseline == "aten" else every_weight_grad()


def time_turn(step: ScaleStep, first: int, n: int, baseline: str | None) -> float:
    with baseline_context(baseline) if baseline else contextlib.nullcontext():
        t0 = time.perf_counter()
        for i in range(n):
            step.step(first + i)
        return (time.perf_counter() - t0) / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rates", default=None, help="comma-separated scale rates (default: all)")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--iters", type=int, default=3, help="iterations per turn")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--baseline", choices=("aten", "all-grads", "unsplit"), default="aten")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    base = args.baseline
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = get_preset(args.preset)
    rates = [int(r) for r in args.rates.split(",")] if args.rates else candidate_rates(cfg)
    scales = []
    total = {base: 0.0, "fast": 0.0}
    schedule = cfg.schedule([int(round(args.seconds * rate)) for rate in rates])
    for rate, iters in zip(rates, schedule, strict=True):
        n = int(round(args.seconds * rate))
        torch.manual_seed(0)
        real = 0.1 * torch.randn(1, 1 if cfg.stereo == "mono" else 2, n)  # a stereo preset's 2
        steps = {}
        for key in (base, "fast"):
            torch.manual_seed(0)  # the same networks for both
            steps[key] = lone_scale_step(cfg, real)
            if key == "all-grads":
                as_before(steps[key])
            time_turn(steps[key], 0, 2, base if key == base else None)  # warm-up
        times: dict[str, list[float]] = {base: [], "fast": []}
        it = 2
        for _ in range(args.rounds):
            for key in (base, "fast"):
                times[key].append(time_turn(steps[key], it, args.iters,
                                            base if key == base else None))
            it += args.iters
        med = {k: statistics.median(v) for k, v in times.items()}
        for k in total:
            total[k] += iters * med[k]
        scales.append({"rate": rate, "samples": n, "windowed": steps["fast"].windowed,
                       "iterations": iters, "seconds_per_iteration": times,
                       "median_seconds_per_iteration": med, "speedup": med[base] / med["fast"]})
        print(f"{rate:>6} Hz {n:>7} samples{' (windows)' if steps['fast'].windowed else '':10} "
              f"{base} {med[base] * 1000:4.0f} ms/it  fast {med['fast'] * 1000:4.0f} ms/it  "
              f"{med[base] / med['fast']:.2f}x", file=sys.stderr)
    result = {
        "preset": args.preset, "seconds": args.seconds, "baseline": base,
        "threads": torch.get_num_threads(),
        "device_name": device_label(torch.device("cpu")), "machine": platform.machine(),
        "processor": cpu_description(), "torch": torch.__version__, "rounds": args.rounds,
        "iterations_per_turn": args.iters, "scales": scales,
        "estimated_training_seconds": total, "speedup": total[base] / total["fast"],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    name = "conv-backward" if base == "aten" else "step-levers"
    out = (Path(args.out) if args.out
           else RESULTS / f"{name}-{args.preset}-cpu-{args.seconds:g}s.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"estimated training: {base} {total[base]:.0f} s, fast {total['fast']:.0f} s "
          f"({total[base] / total['fast']:.2f}x); wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
