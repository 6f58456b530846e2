"""Train one bridge or ending model with a full preset on a real recording and measure its takes
beside the real transition of the recording and the naive splice (issue 12's evidence).

The sections follow the grid of README "Bridges and endings": a bridge takes A = START to
START+4.5 s and B = 4.5 s starting right after the real gap, so the recording holds the real
transition to compare with; an ending takes A = START to START+9 s and a gap after it.

    python bench/bridge_grid.py bench/clips/war-of-freedom-60s.wav --name war-of-freedom \
        --mode bridge --gap 8 --workdir /tmp/grid

writes bench/results/bridges/<mode>-<preset>-<name>-gap<G>s.json (training time, per take:
seam percentiles, naive splice, motion, level, timbre, copy; the real transition's seam
percentiles and motion) and a sox spectrogram of take 0 stitched above the real recording
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
    p.add_argument("--fade-out", type=float, default=2.0, help="an ending's fade-out (s)")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/bridge-grid"))
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "bridges")
    args = p.parse_args()

    from engine.analysis.features import logmel_db
    from engine.analysis.seams import (
        FLOOR_DB,
        frame_loudness,
        seam_zone,
        take_measures,
        transition_measure,
    )
    from engine.audio.io import load_clip, save_audio, to_mono
    from engine.fileutil import atomic_write_json, json_safe
    from engine.generation.render import load_model
    from engine.generation.takes import render_take
    from engine.project import RenderRecipe
    from engine.project.checkpoint import read_manifest

    its = f"-{args.iters}it" if args.iters else ""
    stem = f"{args.mode}-{args.preset}{its}-{args.name}-gap{args.gap:g}s"
    project = args.workdir / stem
    a0 = args.start
    if args.mode == "bridge":
        a1 = a0 + SECTION_S
        sections = [f"{a0:g}-{a1:g}", f"{a1 + args.gap:g}-{a1 + args.gap + SECTION_S:g}"]
        real_len = 2 * SECTION_S + args.gap
    else:
        a1 = a0 + ENDING_A_S
        sections = [f"{a0:g}-{a1:g}"]
        real_len = ENDING_A_S + args.gap
    train_s = None
    if not (project / "manifest.json").exists() or not read_manifest(project).complete:
        train_s = _train(args, project, sections)

    model = load_model(project, "cpu")
    layout, fs = model.manifest.layout, model.fs
    clip = to_mono(np.asarray(model.clip, dtype=np.float32))
    real = to_mono(load_clip(args.clip, fs, start=a0, duration=real_len).signal)
    a, b = layout.gap_span
    real = real[: clip.shape[-1]]
    sections_audio = [clip[lo:hi] for lo, hi in layout.real_spans()]
    floor = max(float(logmel_db(r, fs).max()) for r in sections_audio) - FLOOR_DB
    spread = float(np.mean([frame_loudness(r, fs, floor).std() for r in sections_audio]))
    gain = np.sqrt(np.mean(np.concatenate(sections_audio) ** 2)) / np.sqrt(np.mean(real ** 2))

    takes = []
    for seed in range(args.count):
        fade = args.fade_out if args.mode == "ending" else 0.0
        recipe = RenderRecipe.take(args.mode, seed, layout.gap_seconds, fade_out=fade,
                                   n_scales=model.n_scales)
        take = render_take(model, recipe)
        side = take.sidecar()
        m = take_measures(layout, model.clip, take.stitched, side, fs)
        stitched = to_mono(take.stitched)
        still = b - take.fade_out if take.fade_out <= (b - a) // 2 else b  # as take_measures
        row = {"seed": seed, "words": m.words(), **m.to_numbers(),
               "level_vs_a_db": _level_db(stitched[a:still], stitched[:a])}
        takes.append(row)
        if seed == 0:
            cross = take.crossfade
            wav = args.workdir / f"{stem}-take0-and-real.wav"
            save_audio(wav, np.concatenate([stitched / max(np.abs(stitched).max(), 1e-9),
                                            np.zeros(fs // 2, np.float32),
                                            real / max(np.abs(real).max(), 1e-9)]), fs)
            args.out.mkdir(parents=True, exist_ok=True)
            _spectrogram(wav, args.out / f"{stem}-seed0.png",
                         f"{stem}: take 0 stitched, then 0.5 s silence, then the real recording")
    real_seams = []
    for pos in take.seams:
        zone = seam_zone(pos, (a, b), cross)
        jump, pct = transition_measure(real, fs, layout, model.clip, zone)
        real_seams.append({"position_s": pos / fs, "jump_db": jump, "percentile": pct})
    real_motion = float(frame_loudness(real[a:b] * gain, fs, floor).std()) / max(spread, 1e-12)
    report = {
        "clip": str(args.clip), "name": args.name, "mode": args.mode, "gap_s": args.gap,
        "preset": args.preset, "iters": args.iters or "preset", "sections": sections, "train_seed": args.seed,
        "fade_out_s": args.fade_out if args.mode == "ending" else 0.0,
        "scales": f"{model.n_scales} of {model.manifest.n_scales} trained",
        "sample_rate": fs, "train_seconds": train_s,
        "threads": os.environ.get("OMP_NUM_THREADS", "default"),
        "machine": "2-core development VM, CPU",
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "real_transition": {"seams": real_seams, "motion_ratio": real_motion,
                            "level_vs_a_db": _level_db(real[a:b], real[:a])},
        "takes": takes,
    }
    out = args.out / f"{stem}.json"
    atomic_write_json(out, json_safe(report))
    print(json.dumps({k: report[k] for k in ("name", "mode", "gap_s", "train_seconds",
                                             "real_transition")}, indent=1))
    for t in takes:
        print(t["seed"], t["words"], f"level {t['level_vs_a_db']:.1f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
