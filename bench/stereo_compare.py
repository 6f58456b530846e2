"""Which stereo representation to train (issue 13): the same sections trained as mono,
left/right through one network and mid/side through one network, and the stereo image of
what each model makes, set against the original's and the baselines.

    python bench/stereo_compare.py --clips bench/clips/*-25s.wav --seconds 3 --iters 40

For each clip, mode and seed it trains one project (the `--preset` with `stereo` set and
`iters_per_scale`/`iters_window` = --iters), renders free takes and variations from the middle
scale, and measures per band the inter-channel correlation and the side/mid ratio
(engine.analysis.stereo), the level change in mono, and the timbre distance (MFCC Fréchet
distance of the downmix, engine.analysis.measures). The image error of a take is the mean over
bands of |correlation - the original's| and of |side/mid dB - the original's|; the baselines
"mid to both" (no width) and "independent takes" (two unrelated takes as L and R) get the same
error. Writes bench/results/stereo-representation-<tag>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.analysis.measures import evaluate_variation  # noqa: E402
from engine.analysis.reference import prepare_reference  # noqa: E402
from engine.analysis.stereo import image_error, stereo_baselines, stereo_metrics  # noqa: E402
from engine.audio.io import load_clip  # noqa: E402
from engine.config import get_preset  # noqa: E402
from engine.generation.render import generate, load_model  # noqa: E402
from engine.training.loop import iter_train  # noqa: E402

MODES = ("mono", "left-right", "mid-side")


def as_stereo(x: np.ndarray) -> np.ndarray:
    return np.stack([x, x]) if x.ndim == 1 else x


def stereo_section(clip: str, cfg: Any, args: argparse.Namespace) -> np.ndarray:
    c = load_clip(clip, cfg.fs, start=args.start, duration=args.seconds, stereo="left-right")
    return c.signal * c.gain


def run(clip: str, mode: str, seed: int, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    cfg = get_preset(args.preset, stereo=mode, iters_per_scale=args.iters, iters_window=args.iters)
    root = work / f"{Path(clip).stem}-{mode}-{seed}"
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    for _ in iter_train(clip, root, cfg, start=args.start, duration=args.seconds, device="cpu",
                        seed=seed):
        pass
    took = time.perf_counter() - t0
    model = load_model(root, "cpu")
    fs = model.fs
    original = stereo_section(clip, cfg, args)  # the real stereo image, whatever the model kept
    ref_metrics = stereo_metrics(original, fs)
    ref = prepare_reference(original, fs)
    k = model.n_scales // 2
    takes: list[dict[str, Any]] = []
    audio: list[np.ndarray] = []
    for i in range(args.takes):
        for from_scale in (None, k):
            y = generate(model, seconds=args.seconds, seed=1000 * seed + i, from_scale=from_scale)
            audio.append(y)
            m = stereo_metrics(as_stereo(y), fs)
            takes.append({"from_scale": from_scale, "seed": 1000 * seed + i,
                          "timbre_fd": evaluate_variation(ref, y).timbre_fd,
                          **image_error(m, ref_metrics), "stereo": m.to_dict()})
    shutil.rmtree(root, ignore_errors=True)
    return {"clip": Path(clip).name, "mode": mode, "seed": seed, "train_seconds": took,
            "rates": model.manifest.rates, "audio_channels": model.manifest.audio_channels,
            "original": ref_metrics.to_dict(), "takes": takes,
            "free_takes": [a for a, t in zip(audio, takes, strict=True) if t["from_scale"] is None]}


def baselines(clip_runs: list[dict[str, Any]], fs: int, original: np.ndarray) -> dict[str, Any]:
    free = [t for r in clip_runs if r["mode"] == "mono" for t in r["free_takes"]]
    base = stereo_baselines(original, fs, free)
    ref = base["original"]
    return {name: {**image_error(m, ref), "stereo": m.to_dict()} for name, m in base.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", required=True)
    ap.add_argument("--preset", default="quick")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--start", type=float, default=5.0)
    ap.add_argument("--iters", type=int, default=40)
    ap.add_argument("--takes", type=int, default=3)
    ap.add_argument("--tag", default="quick-3s-40it")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads (default 1: on a shared 2-core machine two threads thrash)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = ROOT / "bench" / "results" / f"stereo-representation-{args.tag}.json"
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip in args.clips:
            clip_runs = []
            for seed in args.seeds:
                for mode in args.modes:
                    r = run(clip, mode, seed, args, Path(tmp))
                    clip_runs.append(r)
                    mean = {k: float(np.mean([t[k] for t in r["takes"]]))
                            for k in ("timbre_fd", "correlation_error", "side_mid_db_error")}
                    print(f"{r['clip']:32s} {mode:10s} seed {seed}: {r['train_seconds']:6.0f} s  "
                          f"FD {mean['timbre_fd']:7.1f}  corr err {mean['correlation_error']:.3f}  "
                          f"side/mid err {mean['side_mid_db_error']:5.1f} dB", flush=True)
            cfg = get_preset(args.preset)
            base = baselines(clip_runs, cfg.fs, stereo_section(clip, cfg, args))
            for name, b in base.items():
                print(f"{Path(clip).name:32s} baseline {name:18s} corr err {b['correlation_error']:.3f}  "
                      f"side/mid err {b['side_mid_db_error']:5.1f} dB", flush=True)
            for r in clip_runs:
                r.pop("free_takes")
            results.append({"clip": Path(clip).name, "runs": clip_runs, "baselines": base})
            out.write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
