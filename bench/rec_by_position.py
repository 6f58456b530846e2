"""Where in the clip a project's reconstruction falls short: the reconstruction distance per block.

    python bench/rec_by_position.py OUT.json PROJECT [PROJECT ...] [--block 0.5]

For each trained project, the fixed reconstruction path (songwriter-cli evaluate's
reconstruction, the loudness divided out) is compared with the clip block by block (`--block`
seconds, the last partial block dropped) with the evaluate measures' multi-resolution STFT
distance (lower is better). Window training draws its windows at random positions; when the
clip's ends are in fewer windows than its middle, their blocks show it. Writes OUT.json
(bench/results/): per project the blocks' distances, the first, the last, and the mean of the
middle ones (all but one block at each end), and the whole clip's distance.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.analysis.reconstruction import reconstruction_metrics  # noqa: E402
from engine.audio.io import to_mono  # noqa: E402
from engine.fileutil import atomic_write_json, json_safe  # noqa: E402
from engine.generation.render import load_model, reconstruct  # noqa: E402


def blocks(project: Path, block_s: float) -> dict[str, object]:
    """The reconstruction's distance to the clip per block of `block_s` seconds."""
    model = load_model(project, device="cpu")
    fs = model.fs
    rec, clip = to_mono(reconstruct(model) / model.gain), to_mono(model.clip)
    n = min(rec.size, clip.size)
    rec, clip = rec[:n], clip[:n]
    size = int(round(block_s * fs))
    dist = [reconstruction_metrics(clip[i : i + size], rec[i : i + size], fs).mrstft
            for i in range(0, n - size + 1, size)]
    return {"project": project.name, "fs": fs, "block_seconds": block_s, "blocks": dist,
            "first": dist[0], "last": dist[-1],
            "middle_mean": float(np.mean(dist[1:-1])) if len(dist) > 2 else None,
            "whole": reconstruction_metrics(clip, rec, fs).mrstft}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("projects", type=Path, nargs="+")
    ap.add_argument("--block", type=float, default=0.5, help="block length in seconds")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    for project in args.projects:
        row = blocks(project, args.block)
        rows.append(row)
        middle = "-" if row["middle_mean"] is None else f"{row['middle_mean']:.3f}"
        print(f"{row['project']}: first {row['first']:.3f}  middle {middle}  "
              f"last {row['last']:.3f}  whole {row['whole']:.3f}  blocks "
              + " ".join(f"{v:.2f}" for v in row["blocks"]), flush=True)
    atomic_write_json(args.out, json_safe({"kind": "rec-by-position", "runs": rows}))
    print(json.dumps({"wrote": str(args.out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
