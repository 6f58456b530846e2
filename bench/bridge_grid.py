"""Train one bridge or ending model with a full preset on a real recording and measure its takes
beside the real transition of the recording and the naive splice (issue 12's evidence).

The sections follow the grid of README "Bridges and endings": a bridge takes A = START to
START+4.5 s and B = 4.5 s starting right after the real gap, so the recording holds the real
transition to compare with; an ending takes A = START to START+9 s and a gap after it.

    python bench/bridge_grid.py bench/clips/war-of-freedom-60s.wav --name war-of-freedom \
        --mode bridge --gap 8 --workdir /tmp/grid

writes bench/results/bridges/<mode>-<preset>-<name>-gap<G>s.json (training time; for each gap
rendered (--render-gaps, default the trained one), per take: seam percentiles, naive splice,
motion, level, timbre, copy; and the recording's own seam percentiles and motion at the same
places) and a sox spectrogram per gap of take 0 stitched, then the recording from A's start
(when sox is installed). A trained project in the work folder is reused, not retrained.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECTION_S = 4.5  # each bridge section
ENDING_A_S = 9.0  # an ending's section


def _train(args: argparse.Namespace, project: Path, sections: list[str]) -> float:
    cmd = [sys.executable, "-m", "engine.cli", "train", str(args.clip), "--project", str(project),
           "--preset", args.preset, "--mode", args.mode, "--gap", f"{args.gap:g}",
           "--seed", str(args.seed)]
    for s in sections:
        cmd += ["--section", s]
    if args.iters:
        cmd += ["--iters", str(args.iters), "--set", f"iters_window={args.iters}"]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, cwd=ROOT)
    return time.monotonic() - t0


def _level_db(x: np.ndarray, ref: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x ** 2)) / max(np.sqrt(np.mean(ref ** 2)), 1e-12)))


def _spectrogram(wav: Path, png: Path, title: str) -> None:
    if shutil.which("sox") is None:
        return
    subprocess.run(["sox", str(wav), "-n", "spectrogram", "-x", "1200", "-y", "257", "-t", title,
                    "-o", str(png)], check=True)


def _measure_gap(args: argparse.Namespace, model: Any, stem: str, gap: float) -> dict[str, Any]:
    """Takes (seeds 0..count-1) filling `gap` seconds, their measures, and the recording's own
    audio at the same places (A's start, A + gap + as much as the stitched take holds)."""
    from engine.analysis.seams import take_measures
    from engine.audio.io import load_clip, save_audio, to_mono
    from engine.generation.takes import render_take
    from engine.project import RenderRecipe

    fs = model.fs
    trained = model.manifest.layout
    fade = min(args.fade_out, gap / 2) if args.mode == "ending" else 0.0  # half the take stays
    takes = []
    for seed in range(args.count):
        recipe = RenderRecipe.take(args.mode, seed, gap, fade_out=fade, n_scales=model.n_scales)
        take = render_take(model, recipe)
        a, b = take.gap
        m = take_measures(trained, model.clip, take.stitched, take.sidecar(), fs)
        stitched = to_mono(take.stitched)
        still = b - take.fade_out if take.fade_out <= (b - a) // 2 else b  # as take_measures
        takes.append({"seed": seed, "words": m.words(), **m.to_numbers(),
                      "level_vs_a_db": _level_db(stitched[a:still], stitched[:a])})
        if seed == 0:
            first = take
    # the recording from A's start, measured as if it were a take with the same seams
    real = to_mono(load_clip(args.clip, fs, start=first.layout.section_a.start,
                             duration=first.layout.total / fs).signal)[: first.layout.total]
    side = {**first.sidecar(), "fade_out": 0}
    r = take_measures(trained, model.clip, real, side, fs)
    name = f"{stem}-render{gap:g}s"
    wav = args.workdir / f"{name}-take0-and-real.wav"
    whole = to_mono(first.stitched)
    save_audio(wav, np.concatenate([whole / max(np.abs(whole).max(), 1e-9),
                                    np.zeros(fs // 2, np.float32),
                                    real / max(np.abs(real).max(), 1e-9)]), fs)
    args.out.mkdir(parents=True, exist_ok=True)
    _spectrogram(wav, args.out / f"{name}-seed0.png",
                 f"{name}: take 0 stitched, 0.5 s silence, the recording from A's start")
    a, b = first.gap
    real_seams = [{"position_s": s.position_s, "jump_db": s.jump_db, "percentile": s.percentile}
                  for s in r.seams]
    return {"gap_s": gap, "real_transition": {"seams": real_seams, "motion_ratio": r.motion_ratio,
                                              "level_vs_a_db": _level_db(real[a:b], real[:a])},
            "takes": takes}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clip", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--mode", choices=("bridge", "ending"), required=True)
    p.add_argument("--gap", type=float, required=True)
    p.add_argument("--start", type=float, default=2.0, help="where A starts in the file (s)")
    p.add_argument("--preset", default="quick")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--iters", type=int, default=0,
                   help="cut every scale to this many iterations (a smoke run; 0: the preset's)")
    p.add_argument("--count", type=int, default=3, help="takes (seeds 0..count-1)")
    p.add_argument("--fade-out", type=float, default=2.0,
                   help="an ending's fade-out (s; at most half the gap rendered)")
    p.add_argument("--b-start", type=float, default=None,
                   help="bridge: where B starts in the file (default: right after the real gap)")
    p.add_argument("--render-gaps", default="",
                   help="comma-separated gaps (s) to render from the trained model (default: "
                   "its own gap); the recording is compared from A's start at each")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/bridge-grid"))
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bridges")
    args = p.parse_args()

    from engine.fileutil import atomic_write_json, json_safe
    from engine.generation.render import load_model
    from engine.project.checkpoint import read_manifest

    its = f"-{args.iters}it" if args.iters else ""
    stem = f"{args.mode}-{args.preset}{its}-{args.name}-gap{args.gap:g}s"
    project = args.workdir / stem
    a0 = args.start
    if args.mode == "bridge":
        a1 = a0 + SECTION_S
        b0 = a1 + args.gap if args.b_start is None else args.b_start
        sections = [f"{a0:g}-{a1:g}", f"{b0:g}-{b0 + SECTION_S:g}"]
        if args.b_start is not None:
            stem += f"-b{b0:g}"
            project = args.workdir / stem
    else:
        a1 = a0 + ENDING_A_S
        sections = [f"{a0:g}-{a1:g}"]
    train_s = None
    if not (project / "manifest.json").exists() or not read_manifest(project).complete:
        train_s = _train(args, project, sections)

    model = load_model(project, "cpu")
    layout = model.manifest.layout
    gaps = [float(g) for g in args.render_gaps.split(",")] if args.render_gaps else [args.gap]
    renders = [_measure_gap(args, model, stem, g) for g in gaps]
    out_json = args.out / f"{stem}.json"
    if train_s is None and out_json.is_file():  # measured again: keep the training time
        train_s = json.loads(out_json.read_text()).get("train_seconds")
    report = {
        "clip": str(args.clip), "name": args.name, "mode": args.mode, "gap_s": args.gap,
        "preset": args.preset, "iters": args.iters or "preset", "sections": sections,
        "train_seed": args.seed, "fade_out_s": args.fade_out if args.mode == "ending" else 0.0,
        "scales": f"{model.n_scales} of {model.manifest.n_scales} trained",
        "rates": list(model.manifest.rates), "sample_rate": model.fs, "train_seconds": train_s,
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
        "machine": "2-core development VM, CPU",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "layout": layout.to_dict(),
        "renders": renders,
    }
    out = args.out / f"{stem}.json"
    atomic_write_json(out, json_safe(report))
    print(f"{stem}: trained in {train_s} s; {report['scales']}")
    for r in renders:
        real = ", ".join(f"p{x['percentile']:.0f}" for x in r["real_transition"]["seams"])
        print(f"gap {r['gap_s']:g} s: real transition {real}, motion "
              f"{r['real_transition']['motion_ratio']:.2f}")
        for t in r["takes"]:
            print(f"  seed {t['seed']}: {t['words']}; motion {t['motion_ratio']:.2f}, "
                  f"level {t['level_vs_a_db']:.1f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
