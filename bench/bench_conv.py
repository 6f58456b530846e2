"""The convolution backward: aten's kernel against engine.model.conv's, interleaved.

For every scale of a preset's pyramid on a section of `--seconds` (the whole scale or its
training windows, as the trainer sees it), one ScaleStep with aten's nn.Conv1d backward and one
with engine.model.conv.Conv1d's start from the same networks and alternate (A, B, A, B, ...) in
this one process, so the machine's drift hits both alike. The estimate of a whole run is the
sum over scales of iterations x the median seconds per iteration. Writes JSON to bench/results/.

    python bench/bench_conv.py                       # quick, 10 s
    python bench/bench_conv.py --preset studio       # 44.1 kHz stereo, 10 scales
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

import torch
from torch import nn

from engine.config import get_preset
from engine.device import device_label
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


def time_turn(step: ScaleStep, first: int, n: int, aten: bool) -> float:
    with aten_backward() if aten else contextlib.nullcontext():
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
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = get_preset(args.preset)
    rates = [int(r) for r in args.rates.split(",")] if args.rates else candidate_rates(cfg)
    scales = []
    total = {"aten": 0.0, "fast": 0.0}
    for rate in rates:
        n = int(round(args.seconds * rate))
        torch.manual_seed(0)
        real = 0.1 * torch.randn(1, 1 if cfg.stereo == "mono" else 2, n)  # a stereo preset's 2
        steps = {}
        for key in ("aten", "fast"):
            torch.manual_seed(0)  # the same networks for both
            steps[key] = lone_scale_step(cfg, real)
            time_turn(steps[key], 0, 2, key == "aten")  # warm-up
        times: dict[str, list[float]] = {"aten": [], "fast": []}
        it = 2
        for _ in range(args.rounds):
            for key in ("aten", "fast"):
                times[key].append(time_turn(steps[key], it, args.iters, key == "aten"))
            it += args.iters
        med = {k: statistics.median(v) for k, v in times.items()}
        iters = cfg.iterations_at(n)
        for k in total:
            total[k] += iters * med[k]
        scales.append({"rate": rate, "samples": n, "windowed": steps["fast"].windowed,
                       "iterations": iters, "seconds_per_iteration": times,
                       "median_seconds_per_iteration": med, "speedup": med["aten"] / med["fast"]})
        print(f"{rate:>6} Hz {n:>7} samples{' (windows)' if steps['fast'].windowed else '':10} "
              f"aten {med['aten'] * 1000:4.0f} ms/it  fast {med['fast'] * 1000:4.0f} ms/it  "
              f"{med['aten'] / med['fast']:.2f}x", file=sys.stderr)
    result = {
        "preset": args.preset, "seconds": args.seconds, "threads": torch.get_num_threads(),
        "device_name": device_label(torch.device("cpu")), "machine": platform.machine(),
        "processor": platform.processor(), "torch": torch.__version__, "rounds": args.rounds,
        "iterations_per_turn": args.iters, "scales": scales,
        "estimated_training_seconds": total, "speedup": total["aten"] / total["fast"],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out = (Path(args.out) if args.out
           else RESULTS / f"conv-backward-{args.preset}-cpu-{args.seconds:g}s.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"estimated training: aten {total['aten']:.0f} s, fast {total['fast']:.0f} s "
          f"({total['aten'] / total['fast']:.2f}x); wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
