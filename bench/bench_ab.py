"""Interleaved A/B of two trainer settings on one scale's training step.

On a shared or throttled machine the speed drifts over minutes, so two speed probes run one
after the other can disagree by 2x. This script builds one ScaleStep per setting on the same
signal and alternates them (A, B, A, B, ...), so drift hits both alike; the first step of each
(setup, compilation) is reported apart. Writes JSON to bench/results/.

    python bench/bench_ab.py --b amp=true --label amp                 # bf16 autocast
    python bench/bench_ab.py --b compile=default --label compile      # torch.compile (Inductor)
    python bench/bench_ab.py --device cuda --samples 400000 --channels 96 --b amp=true
    python bench/bench_ab.py --device cuda --preset standard --samples 8000 --b cuda_graph=true --agree 20

`--agree N` then trains fresh A and B steps from the same networks and the same random draws for
N iterations each and records how far B's losses and weights end from A's: zero for a setting
that changes no arithmetic (a CUDA graph replays the eager kernels), float-rounding sized for one
that does (bf16).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from engine.config import get_preset, parse_overrides
from engine.device import cpu_description, device_label, resolve_device, synchronize
from engine.training.loop import ScaleStep, configure_backends, lone_scale_step

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--a", action="append", default=[], metavar="FIELD=VALUE",
                    help="setting A (default: the preset as it is)")
    ap.add_argument("--b", action="append", default=[], metavar="FIELD=VALUE", required=True,
                    help="setting B")
    ap.add_argument("--samples", type=int, default=80000, help="scale length (default: quick's 8 kHz x 10 s)")
    ap.add_argument("--channels", type=int, default=None, help="default: the preset's")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--iters", type=int, default=3, help="iterations per turn")
    ap.add_argument("--label", default="ab")
    ap.add_argument("--out", default=None)
    ap.add_argument("--agree", type=int, default=0, metavar="N",
                    help="after the A/B, train fresh A and B on the same draws for N iterations "
                         "and record how far B's losses and weights end from A's")
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="after the A/B, profile N iterations of B (torch.profiler): device-busy "
                         "share, kernels per iteration, and the top ops, into the JSON and a .txt")
    args = ap.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    dev = resolve_device(args.device)
    cfgs = {k: get_preset(args.preset, **parse_overrides(v)) for k, v in (("A", args.a), ("B", args.b))}
    ch = args.channels or cfgs["A"].channels
    torch.manual_seed(0)
    real = (0.1 * torch.randn(1, 1, args.samples)).to(dev)
    steps: dict[str, ScaleStep] = {}
    first: dict[str, float] = {}
    for key, cfg in cfgs.items():
        t0 = time.perf_counter()
        steps[key] = fresh_step(cfg, real, ch, dev)
        steps[key].step(0)
        synchronize(dev)
        first[key] = time.perf_counter() - t0
    times: dict[str, list[float]] = {"A": [], "B": []}
    it = 1
    for _ in range(args.rounds):
        for key in ("A", "B"):
            configure_backends(cfgs[key], dev)
            t0 = time.perf_counter()
            for i in range(args.iters):
                steps[key].step(it + i)
            synchronize(dev)
            times[key].append((time.perf_counter() - t0) / args.iters)
        it += args.iters
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "preset": args.preset, "a": args.a, "b": args.b, "samples": args.samples, "channels": ch,
        "device": str(dev), "device_name": device_label(dev), "machine": platform.machine(),
        "processor": cpu_description(), "torch": torch.__version__, "rounds": args.rounds,
        "iterations_per_turn": args.iters,
        "first_step_seconds": first, "seconds_per_iteration": times,
        "median_seconds_per_iteration": med, "speedup_b_over_a": med["A"] / med["B"],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    graphs = {k: {"captures": st.graph.captures, "error": st.graph.error}
              for k, st in steps.items() if st.graph is not None}
    if graphs:  # cuda_graph on a GPU: whether the capture worked
        result["cuda_graph"] = graphs
    if args.agree > 0:
        result["agreement"] = agreement(cfgs, real, ch, args.agree, dev)
    out = Path(args.out) if args.out else RESULTS / f"ab-{args.preset}-{dev.type}-{args.label}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.profile > 0:
        result["profile_b"] = profile_steps(steps["B"], it, args.profile, dev, out.with_suffix(".txt"))
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{device_label(dev)}, {args.samples} samples x {ch} channels: A {med['A'] * 1000:.0f} ms/it, "
          f"B ({' '.join(args.b)}) {med['B'] * 1000:.0f} ms/it, B is {med['A'] / med['B']:.2f}x; "
          f"first step A {first['A']:.1f} s, B {first['B']:.1f} s; wrote {out}", file=sys.stderr)
    return 0


def fresh_step(cfg, real: torch.Tensor, channels: int, dev: torch.device) -> ScaleStep:
    """A training step with the networks every setting starts from (torch's seed 0)."""
    configure_backends(cfg, dev)
    torch.manual_seed(0)
    return lone_scale_step(cfg, real, channels=channels)


def agreement(cfgs: dict, real: torch.Tensor, channels: int, n: int, dev: torch.device) -> dict:
    """Train A and B from the same networks on the same random draws for n iterations each;
    the largest difference of B's losses from A's (relative to A's scale of each term) and of
    its generator's weights."""
    runs = {}
    for key, cfg in cfgs.items():
        step = fresh_step(cfg, real, channels, dev)
        torch.manual_seed(1)
        losses = [{k: float(v.detach()) for k, v in step.step(i).items()} for i in range(n)]
        runs[key] = (losses, [p.detach().clone() for p in step.g.parameters()])
    (la, wa), (lb, wb) = runs["A"], runs["B"]
    loss_diff = {k: max(abs(x[k] - y[k]) for x, y in zip(la, lb, strict=True))
                 / max(max(abs(x[k]) for x in la), 1e-12) for k in la[0]}
    weight_diff = max(float((p - q).abs().max() / p.abs().max().clamp_min(1e-12))
                      for p, q in zip(wa, wb, strict=True))
    out = {"iterations": n, "max_relative_loss_difference": loss_diff,
           "max_relative_weight_difference": weight_diff}
    print(f"agreement over {n} iterations: losses differ by at most "
          f"{max(loss_diff.values()):.2e} (relative), G's weights by {weight_diff:.2e}", file=sys.stderr)
    return out


def profile_steps(step: ScaleStep, it: int, n: int, dev: torch.device, table: Path) -> dict:
    """Profile n training steps: how much of the wall time the device spends in kernels (a
    step far below 100% is bound by the host: Python, dispatch and kernel launches), kernels
    and launches per iteration; the top ops by device (or CPU) time go to `table`."""
    from torch.profiler import ProfilerActivity, profile

    cuda = dev.type == "cuda"
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=acts) as prof:
        t0 = time.perf_counter()
        for i in range(n):
            step.step(it + i)
        synchronize(dev)
        wall = time.perf_counter() - t0
    events = prof.key_averages()
    # kernels are the rows that run on the device; the aten rows above them repeat their time
    on_device = [e for e in events if getattr(e, "device_type", None) is not None
                 and e.device_type.name == "CUDA" and getattr(e, "self_device_time_total", 0) > 0]
    device_us = sum(e.self_device_time_total for e in on_device)
    kernels = sum(e.count for e in on_device)
    launches = sum(e.count for e in events if "LaunchKernel" in e.key)
    ops = sum(e.count for e in events if e.key.startswith("aten::"))
    sort = "self_device_time_total" if cuda else "self_cpu_time_total"
    table.write_text(events.table(sort_by=sort, row_limit=30) + "\n")
    per_it = wall / n
    summary = {
        "iterations": n, "wall_seconds_per_iteration": per_it,
        "device_kernel_seconds_per_iteration": device_us / 1e6 / n,
        "device_busy_share": (device_us / 1e6 / n) / per_it if cuda else None,
        "aten_ops_per_iteration": ops / n, "kernels_per_iteration": kernels / n, "launch_calls_per_iteration": launches / n,
        "table": table.name,
    }
    print(f"profile of B: {per_it * 1000:.1f} ms/it wall (profiled), device kernels "
          f"{device_us / 1000 / n:.1f} ms/it, {launches / n:.0f} launches/it, {ops / n:.0f} aten ops/it; top ops in {table}",
          file=sys.stderr)
    return summary


if __name__ == "__main__":
    sys.exit(main())
