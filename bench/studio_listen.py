"""What a trained stereo project makes, for a person to check without a sound device: render
variations into the project (as the app does), export them as a DAW would get them, and write
the numbers and pictures a listener would want.

    python bench/studio_listen.py PROJECT OUT_DIR [--count 3] [--from-scale K]

Writes into OUT_DIR:
  evaluate.json       songwriter-cli evaluate's numbers for --count variations (timbre, copy,
                      diversity, and the stereo image against the original and the baselines)
  export/*.wav        two variations (one free, one from --from-scale) exported with the app's
                      defaults: 24-bit wav at the source file's rate, trimmed, loudness-matched
  soxi.txt            `sox --i` of each exported file and of the original section
  stats.txt           `sox ... stats` per channel (levels, RMS, peak, DC) of the same files
  *.png               sox spectrograms (the left and right channel of each file)
Prints a summary.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.cli.evaluate import evaluate_project  # noqa: E402
from engine.export import ExportOptions, export_variations, plan_export  # noqa: E402
from engine.fileutil import atomic_write_json, json_safe  # noqa: E402
from engine.generation.into_project import VariationReady, generate_into_project  # noqa: E402
from engine.project import Project, RenderRecipe  # noqa: E402


def sox(*args: str) -> str:
    done = subprocess.run(["sox", *args], capture_output=True, text=True, timeout=300)
    return done.stdout + done.stderr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("project", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--from-scale", type=int, default=None,
                    help="the variations' scale (default: the middle of the pyramid)")
    ap.add_argument("--seed", type=int, default=100)
    args = ap.parse_args(argv)
    out = args.out
    (out / "export").mkdir(parents=True, exist_ok=True)
    project = Project.open(args.project)
    n = project.manifest.n_scales
    k = args.from_scale if args.from_scale is not None else n // 2
    seconds = float(project.manifest.source.get("duration") or 10.0)
    report = evaluate_project(args.project, count=args.count, seed=args.seed, from_scale=k,
                              device="cpu")
    free = evaluate_project(args.project, count=args.count, seed=args.seed, device="cpu",
                            baselines=False)
    atomic_write_json(out / "evaluate.json", json_safe({"from_scale": k, "variations": report.to_dict(),
                                                        "free": free.to_dict()}))
    recipes = [RenderRecipe.of(args.seed, seconds, None, n), RenderRecipe.of(args.seed, seconds, k, n)]
    records = [ev.record for ev in generate_into_project(project, recipes, device="cpu")
               if isinstance(ev, VariationReady)]
    options = ExportOptions(folder=out / "export", rate="original", sidecar=True, include_original=True)
    results = list(export_variations(project, plan_export(project, records, options),
                                     on_conflict="overwrite"))
    files = [r.path for r in results if r.path is not None]
    with open(out / "soxi.txt", "w") as fh, open(out / "stats.txt", "w") as st:
        for f in files:
            fh.write(sox("--i", str(f)) + "\n")
            st.write(f"== {f.name}\n" + sox(str(f), "-n", "stats") + "\n")
            for ch, name in ((1, "L"), (2, "R")):
                png = out / f"{f.stem}-{name}.png"
                sox(str(f), "-n", "remix", str(ch), "spectrogram", "-x", "1000", "-y", "257",
                    "-z", "90", "-t", f"{f.stem} {name}", "-o", str(png))
    stereo = report.notes.get("stereo", {})
    print(json.dumps({
        "project": str(args.project), "from_scale": k, "files": [f.name for f in files],
        "timbre_fd_k": report.to_dict()["variation_mean"].get("timbre_fd"),
        "timbre_fd_free": free.to_dict()["variation_mean"].get("timbre_fd"),
        "timbre_fd_real_vs_real": report.to_dict()["baselines"].get("real_vs_real", {}).get("timbre_fd"),
        "stereo_original": stereo.get("original", {}).get("correlation"),
        "stereo_words": {name: v.get("words") for name, v in stereo.get("variations", {}).items()},
        "free_stereo_words": {name: v.get("words")
                              for name, v in free.notes.get("stereo", {}).get("variations", {}).items()},
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
