"""Training memory of the top scale, measured on the CPU and extrapolated to whole presets.

Without a GPU the peak GPU memory of standard and hifi cannot be read off; what can be
measured is the memory one training step (D step with the gradient penalty, then G step)
holds at its peak, which is what decides whether a GPU fits the run. Each size runs in a fresh
process; its peak RSS above the RSS just before the step (on Linux the peak is reset there, so
imports and set-up do not count) is the step's working memory. Working
memory grows linearly with the scale's length, so a line through a few short lengths predicts
the top scales of standard and hifi for 25 s and 60 s clips. A GPU adds cuDNN workspaces and
the caching allocator's slack: treat the figures as a floor and confirm them with
`bash bench/gpu.sh speed` (torch.cuda.max_memory_allocated) when a GPU is at hand.

    python bench/bench_memory.py                # 96 channels, lengths 20k..160k samples
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"

CHILD = r"""
import json, resource, sys, torch
from engine.config import get_preset
from engine.training.loop import lone_scale_step
n, ch, preset, amp = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "1"
torch.set_num_threads(2)
step = lone_scale_step(get_preset(preset, amp=amp), 0.1 * torch.randn(1, 1, n), channels=ch)
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
try:  # Linux: reset the peak (VmHWM) to now, so that imports and set-up do not count
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before, read_peak = status("VmRSS"), lambda: status("VmHWM")
except OSError:  # elsewhere: the lifetime peak, which may hide a small step
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    read_peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
step.step(0)
step.step(1)
peak = read_peak()
print(json.dumps({"samples": n, "before": before, "peak": peak}))
"""


def measure(n: int, channels: int, preset: str, amp: bool) -> dict:
    r = subprocess.run([sys.executable, "-c", CHILD, str(n), str(channels), preset, str(int(amp))],
                       capture_output=True, text=True, check=True, cwd=Path(__file__).parents[1])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--channels", type=int, default=96)
    ap.add_argument("--lengths", default="20000,40000,80000,160000")
    ap.add_argument("--preset", default="standard", help="whose layers and kernel to use")
    ap.add_argument("--amp", action="store_true", help="bf16 autocast (where native)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    rows = []
    for n in (int(x) for x in args.lengths.split(",")):
        m = measure(n, args.channels, args.preset, args.amp)
        m["step_bytes"] = m["peak"] - m["before"]
        rows.append(m)
        print(f"{n:8d} samples x {args.channels} ch: step working memory "
              f"{m['step_bytes'] / 2**30:6.2f} GiB", file=sys.stderr)
    x = np.array([r["samples"] for r in rows], dtype=float)
    y = np.array([r["step_bytes"] for r in rows], dtype=float)
    slope, intercept = np.polyfit(x, y, 1)
    targets = {
        "standard 25 s (16 kHz top scale)": 16000 * 25,
        "standard 60 s": 16000 * 60,
        "hifi 25 s (44.1 kHz top scale)": 44100 * 25,
        "hifi 60 s": 44100 * 60,
    }
    predicted = {k: float(slope * n + intercept) for k, n in targets.items()}
    for k, v in predicted.items():
        print(f"predicted top-scale step memory, {k}: {v / 2**30:.1f} GiB", file=sys.stderr)
    result = {
        "what": "peak RSS of one training step above the RSS before it, per scale length (CPU)",
        "channels": args.channels, "preset": args.preset, "amp": args.amp,
        "machine": platform.machine(), "python": platform.python_version(),
        "rows": rows, "bytes_per_sample": float(slope), "intercept_bytes": float(intercept),
        "predicted_top_scale_bytes": predicted,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    amp = "-amp" if args.amp else ""
    out = Path(args.out) if args.out else RESULTS / f"memory-{args.preset}-cpu{amp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
