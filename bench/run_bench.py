"""Quality and speed bench: train a preset on clips, render variations, measure everything.

One run = train a project on one clip with a fixed seed (engine.training.loop.iter_train),
render --count variations, evaluate them against the clip and its baselines
(engine.analysis via `songwriter-cli evaluate`'s code). Recorded per run: total and
per-scale training seconds, seconds per iteration per scale, peak memory (CUDA:
torch.cuda.max_memory_allocated; CPU: peak RSS), the device name and every metric.
--repeat R trains R times with seeds seed..seed+R-1 to measure run-to-run spread.
Results go to bench/results/quality-<preset>-<device>-<label>.json.

    # a speed lever must keep the metrics within the reference's run-to-run spread
    python bench/run_bench.py --preset quick --clip CLIP --repeat 3 --label ref
    python bench/run_bench.py --preset quick --clip CLIP --repeat 3 --set bank_size=0 \
        --label nobank
    python bench/run_bench.py --compare bench/results/quality-quick-cpu-ref.json \
        bench/results/quality-quick-cpu-nobank.json
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import math
import platform
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.config import TrainConfig, get_preset, parse_overrides
from engine.device import cpu_description, device_label, resolve_device
from engine.fileutil import atomic_write_json, json_safe
from engine.resources import DEMO_CLIP
from engine.training.cost import SPEED_EPOCH

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_conv import aten_backward  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"

# Metric -> direction that is better (-1 lower, +1 higher). Quality metrics decide the
# --compare exit status; timings and memory are printed for information.
QUALITY = {
    "timbre_fd": -1, "ltas_db": -1, "max_xcorr": -1, "local_xcorr": -1, "copy_ratio": -1,
    "longest_copy_s": -1, "diversity_std_ratio": +1, "diversity_pairwise_db": +1,
    "rec_snr_db": +1, "rec_lsd_db": -1, "rec_mrstft": -1,
}
COST = {"train_seconds": -1, "train_cpu_seconds": -1, "peak_memory_bytes": -1,
        "generate_seconds": -1}


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def train_one(
    clip: str, project: Path, cfg: Any, *, seed: int, device: torch.device, start: float,
    seconds: float | None,
) -> dict[str, Any]:
    """Train one project; returns timings per scale and the peak memory of the run."""
    from engine.training.loop import (
        ScaleFinished,
        TrainFinished,
        TrainProgress,
        TrainStarted,
        iter_train,
    )

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    scales: list[dict[str, Any]] = []
    rates: tuple[int, ...] = ()
    schedule: list[int] = []
    last_spi: dict[int, float] = {}
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    total = math.nan
    clip_seconds = 0.0
    for ev in iter_train(clip, project, cfg, start=start, duration=seconds, device=device,
                         seed=seed):
        if isinstance(ev, TrainStarted):
            rates, clip_seconds = ev.rates, ev.clip_seconds
            lengths = [int(round(r * clip_seconds)) for r in rates]
            schedule, sizes = cfg.schedule(lengths), cfg.step_sizes(lengths)
            print(f"  training {ev.n_scales} scales ({', '.join(map(str, rates))} Hz) on "
                  f"{ev.device_name}, {ev.clip_seconds:.1f} s clip", file=sys.stderr)
        elif isinstance(ev, TrainProgress):
            last_spi[ev.scale] = ev.seconds_per_iteration
        elif isinstance(ev, ScaleFinished):
            n = int(round(ev.rate * clip_seconds))
            iters = schedule[ev.scale]
            scales.append({
                "scale": ev.scale, "rate": ev.rate, "seconds": ev.seconds, "iterations": iters,
                "samples": n, "step_samples": sizes[ev.scale],
                "seconds_per_iteration": ev.seconds / iters,
                "seconds_per_iteration_in_loop": last_spi.get(ev.scale),
            })
            print(f"  scale {ev.scale + 1}/{ev.n_scales} {ev.rate} Hz: {ev.seconds:.1f} s "
                  f"({1000 * ev.seconds / iters:.1f} ms/it)", file=sys.stderr)
        elif isinstance(ev, TrainFinished):
            total = ev.elapsed
    wall = time.perf_counter() - t0
    # CPU seconds of this process (all its threads): on a shared machine wall time depends on
    # the neighbours, CPU time much less
    cpu = time.process_time() - cpu0
    peak_gpu = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {
        "rates": list(rates), "total_seconds": total, "wall_seconds": wall,
        "cpu_seconds": cpu, "threads": torch.get_num_threads(), "scales": scales,
        "peak_gpu_memory_bytes": peak_gpu, "peak_rss_bytes": peak_rss_bytes(),
    }


def flatten(run: dict[str, Any]) -> dict[str, float]:
    """The numbers of one run that --compare looks at."""
    ev = run["evaluation"]
    mean = ev["variation_mean"]
    out = {k: float(mean[k]) for k in QUALITY if k in mean}
    div, rec = ev.get("diversity"), ev.get("reconstruction")
    if div:
        out["diversity_std_ratio"] = float(div["std_ratio"])
        out["diversity_pairwise_db"] = float(div["pairwise_db"])
    if rec:
        out["rec_snr_db"] = float(rec["snr_db"])
        out["rec_lsd_db"] = float(rec["lsd_db"])
        out["rec_mrstft"] = float(rec["mrstft"])
    tr = run["train"]
    out["train_seconds"] = float(tr["total_seconds"])
    if "cpu_seconds" in tr:
        out["train_cpu_seconds"] = float(tr["cpu_seconds"])
    out["generate_seconds"] = float(run["generate_and_evaluate_seconds"])
    peak = tr["peak_gpu_memory_bytes"] if tr["peak_gpu_memory_bytes"] is not None else tr[
        "peak_rss_bytes"]
    out["peak_memory_bytes"] = float(peak)
    return out


def _stats(flat: list[dict[str, float]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for key in flat[0]:
        vals = [f[key] for f in flat if key in f and math.isfinite(f[key])]
        if not vals:
            continue
        arr = np.asarray(vals)
        out[key] = {
            "mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if arr.size > 1 else 0.0,
            "min": float(arr.min()), "max": float(arr.max()), "values": vals,
        }
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per clip (keyed by file name), per metric over the repeats: mean, std, min, max, values."""
    groups: dict[str, list[dict[str, float]]] = {}
    for r in runs:
        groups.setdefault(Path(r["clip"]).name, []).append(flatten(r))
    return {clip: _stats(flat) for clip, flat in groups.items()}


def safe_label(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", text).strip("_") or "run"


def bench(args: argparse.Namespace, preset: str) -> Path:
    from engine.cli.evaluate import evaluate_project

    overrides = parse_overrides(args.set)
    cfg = get_preset(preset, **overrides)
    dev = resolve_device(args.device)
    clips = args.clip or [str(DEMO_CLIP)]
    label = args.label or (",".join(f"{k}={v}" for k, v in overrides.items()) or "ref")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="bench-"))
    runs: list[dict[str, Any]] = []
    for clip in clips:
        for r in range(args.repeat):
            seed = args.seed + r
            project = work / f"{preset}-{safe_label(label)}-{Path(clip).stem}-seed{seed}"
            if project.exists():
                shutil.rmtree(project)
            print(f"[{preset}] {Path(clip).name} seed {seed} ({r + 1}/{args.repeat})",
                  file=sys.stderr)
            with aten_backward() if args.aten_conv else contextlib.nullcontext():
                train = train_one(clip, project, cfg, seed=seed, device=dev, start=args.start,
                                  seconds=args.seconds)
            t0 = time.perf_counter()
            report = evaluate_project(
                project, count=args.count, seconds=args.gen_seconds, seed=1000,
                baselines=not args.no_baselines, device=str(dev),
            )
            took = time.perf_counter() - t0
            print(report.format_table(), file=sys.stderr)
            in_band = {}
            for rate in args.eval_rate:
                # the same variations (same seeds), measured in a lower band only
                banded = evaluate_project(
                    project, count=args.count, seconds=args.gen_seconds, seed=1000,
                    baselines=not args.no_baselines, device=str(dev), rate=rate,
                )
                print(f"  in band, at {rate} Hz:\n{banded.format_table()}", file=sys.stderr)
                in_band[str(rate)] = banded.to_dict()
            runs.append({
                "clip": str(Path(clip).resolve()), "seed": seed, "train": train,
                "generate_and_evaluate_seconds": took, "evaluation": report.to_dict(),
                "evaluation_in_band": in_band,
            })
            if not args.keep_projects:
                shutil.rmtree(project, ignore_errors=True)
    if not args.work and not args.keep_projects:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "kind": "quality-and-speed",
        "preset": preset,
        "label": label,
        "overrides": overrides,
        "config": cfg.to_dict(),
        "clips": [str(Path(c).resolve()) for c in clips],
        "start": args.start,
        "seconds": args.seconds,
        "repeat": args.repeat,
        "seeds": [args.seed + r for r in range(args.repeat)],
        "count": args.count,
        "device": str(dev),
        "device_name": device_label(dev),
        "machine": platform.machine(),
        "processor": cpu_description(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "speed_epoch": SPEED_EPOCH,
        "conv_backward": "aten" if args.aten_conv else "fast",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "runs": runs,
        "summary": summarise(runs),
    }
    out = (
        Path(args.out) if args.out and len(args.preset) == 1
        else RESULTS / f"quality-{preset}-{dev.type}-{safe_label(label)}.json"
    )
    atomic_write_json(out, json_safe(result))
    print(f"wrote {out}", file=sys.stderr)
    for rate in args.eval_rate:
        # the same runs measured in band, in the same schema, so --compare reads it
        banded_runs = [{**r, "evaluation": r["evaluation_in_band"][str(rate)]} for r in runs]
        banded = {**result, "label": f"{label}-at{rate}", "eval_rate": rate,
                  "runs": banded_runs, "summary": summarise(banded_runs)}
        banded_out = out.with_name(f"{out.stem}-at{rate}{out.suffix}")
        atomic_write_json(banded_out, json_safe(banded))
        print(f"wrote {banded_out}", file=sys.stderr)
    return out


def take_values(result: dict[str, Any], clip: str, key: str) -> list[float]:
    """One metric's values over every take (variation) of every run on `clip`."""
    vals = []
    for run in result.get("runs", []):
        if Path(run.get("clip", "")).name != clip:
            continue
        for take in run.get("evaluation", {}).get("variations", {}).values():
            if key in take and math.isfinite(take[key]):
                vals.append(float(take[key]))
    return vals


def takes_p_value(a: list[float], b: list[float]) -> float | None:
    """Two-sided Mann-Whitney U p-value of two sets of takes (None under 3 takes a side or
    when every value is the same): do B's takes come from A's distribution?"""
    if len(a) < 3 or len(b) < 3 or len(set(a) | set(b)) < 2:
        return None
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(a, b, alternative="two-sided").pvalue)


def compare(a_path: str, b_path: str, *, stream: Any = sys.stdout) -> int:
    """Print, clip by clip and metric by metric, whether B's mean is within A's spread.

    A's band is mean +- max(2 std, half the min-max range, 1% of |mean|) over A's
    repeats. Returns 1 when a quality metric of B is outside the band on the worse side
    (timings and memory are shown but do not count), 0 otherwise.

    For the measures taken on each take (timbre, LTAS, cross-correlations, copies) a
    last column gives the Mann-Whitney p-value of B's takes against A's, all seeds
    pooled: a second view that does not rest on a band from three seed means (a small
    p says B's takes differ from A's; it does not change the verdict). The takes of one
    seed share a model, so they are not independent and this p is on the small side.
    """
    a = json.loads(Path(a_path).read_text())
    b = json.loads(Path(b_path).read_text())
    print(f"A: {a.get('preset')} '{a.get('label')}' on {a.get('device_name')}, "
          f"{a.get('repeat')} run(s) per clip\nB: {b.get('preset')} '{b.get('label')}' on "
          f"{b.get('device_name')}, {b.get('repeat')} run(s) per clip", file=stream)
    if a.get("repeat", 1) < 2:
        print("note: A has one run per clip, so no spread; use --repeat 3 or more.",
              file=stream)
    clips = [c for c in a["summary"] if c in b["summary"]]
    if not clips:
        print("A and B share no clip; nothing to compare.", file=stream)
        return 2
    worse = 0
    for clip in clips:
        sa, sb = a["summary"][clip], b["summary"][clip]
        print(f"\n{clip}", file=stream)
        print(f"{'metric':24s}{'A mean':>12s}{'A band':>26s}{'B mean':>12s}  verdict  "
              "takes p", file=stream)
        for key, better in list(QUALITY.items()) + list(COST.items()):
            if key not in sa or key not in sb:
                continue
            m, sd = sa[key]["mean"], sa[key]["std"]
            half = max(2.0 * sd, 0.5 * (sa[key]["max"] - sa[key]["min"]), 0.01 * abs(m), 1e-9)
            lo, hi = m - half, m + half
            v = sb[key]["mean"]
            if lo <= v <= hi:
                verdict = "within"
            else:
                good = (v < lo) if better < 0 else (v > hi)
                verdict = "better" if good else "WORSE"
                if not good and key in QUALITY:
                    worse += 1
            band = f"[{lo:.4g}, {hi:.4g}]"
            p = (takes_p_value(take_values(a, clip, key), take_values(b, clip, key))
                 if key in QUALITY else None)
            takes = "" if p is None else f"{p:.2g}"
            print(f"{key:24s}{m:12.4g}{band:>26s}{v:12.4g}  {verdict:9s}{takes}".rstrip(),
                  file=stream)
        if "train_seconds" in sa and "train_seconds" in sb and sb["train_seconds"]["mean"] > 0:
            ratio = sa["train_seconds"]["mean"] / sb["train_seconds"]["mean"]
            print(f"{'train time A/B':24s}{ratio:12.2f}x  (runs one after the other, not "
                  "interleaved: a rough figure on a machine whose speed drifts; bench_ab.py "
                  "gives the interleaved ratio)", file=stream)
    if len(clips) > 1:
        print(f"\n{len(clips)} clips compared.", file=stream)
    print("\n" + ("B stays within A's run-to-run spread on every quality metric."
                  if worse == 0 else f"{worse} quality metric(s) of B are worse than A's spread."),
          file=stream)
    return 0 if worse == 0 else 1


def merge(out: str, paths: list[str]) -> int:
    """One result file from several runs of the same config (e.g. one seed per process, run side
    by side): the runs concatenated and summarised again, so --compare sees their spread."""
    files = [json.loads(Path(p).read_text()) for p in paths]
    configs = [TrainConfig.from_dict(f.get("config") or {}) for f in files]
    if any(c != configs[0] for c in configs):
        print("These files trained different configs; not merged.", file=sys.stderr)
        return 2
    runs = [r for f in files for r in f["runs"]]
    per_clip = collections.Counter(r["clip"] for r in runs)
    merged = {
        **files[0], "label": Path(out).stem, "merged_from": [Path(p).name for p in paths],
        "clips": sorted({r["clip"] for r in runs}), "repeat": min(per_clip.values()),
        "seeds": sorted({r["seed"] for r in runs}), "runs": runs, "summary": summarise(runs),
    }
    atomic_write_json(Path(out), json_safe(merged))
    print(f"wrote {out}: {len(runs)} runs of {len(per_clip)} clip(s)", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preset", action="append", default=None,
                    help="preset to train (repeat for several; default quick)")
    ap.add_argument("--clip", action="append", default=None,
                    help="training clip (repeat for several; default: the demo clip)")
    ap.add_argument("--start", type=float, default=0.0, help="section start, seconds")
    ap.add_argument("--seconds", type=float, default=None,
                    help="section length, seconds (default: as long as the preset allows)")
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    ap.add_argument("--seed", type=int, default=0, help="training seed of the first repeat")
    ap.add_argument("--repeat", type=int, default=1, help="runs per clip, seeds seed..seed+R-1")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a config field, e.g. --set bank_size=0 --set amp=true "
                    "--set iters_per_scale=50")
    ap.add_argument("--count", type=int, default=4, help="variations rendered per run")
    ap.add_argument("--gen-seconds", type=float, default=None,
                    help="length of the variations (default: the clip's)")
    ap.add_argument("--no-baselines", action="store_true", help="skip the baselines")
    ap.add_argument("--eval-rate", type=int, action="append", default=[], metavar="HZ",
                    help="also measure every run in this band only (clip, variations and "
                    "baselines resampled to HZ), written to <out>-atHZ.json: e.g. 8000 to "
                    "compare a 16 kHz preset with an 8 kHz one in their common band")
    ap.add_argument("--aten-conv", action="store_true",
                    help="train with aten's convolution backward instead of engine.model.conv's "
                    "(the trainer before the fast CPU backward), for comparisons")
    ap.add_argument("--label", default="", help="name tag of the result file")
    ap.add_argument("--out", default=None, help="result path (default bench/results/...)")
    ap.add_argument("--work", default=None, help="folder for the projects (default: temporary)")
    ap.add_argument("--keep-projects", action="store_true", help="keep the trained projects")
    ap.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"), default=None,
                    help="print whether B's metrics stay within A's run-to-run spread")
    ap.add_argument("--merge", nargs="+", metavar=("OUT.json", "IN.json"), default=None,
                    help="write OUT.json with the runs of the IN files (the same config), e.g. "
                    "seeds trained in separate processes, for --compare (one IN file: its runs "
                    "under OUT's name)")
    args = ap.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if args.merge:
        if len(args.merge) < 2:
            ap.error("--merge needs OUT.json and at least one IN file")
        return merge(args.merge[0], args.merge[1:])
    if args.repeat < 1 or args.count < 1:
        ap.error("--repeat and --count must be at least 1")
    args.preset = args.preset or ["quick"]
    for preset in args.preset:
        bench(args, preset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
