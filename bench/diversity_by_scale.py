"""At which scale do trained projects' takes become (un)varied? Diversity of free takes stopped
at each scale, measured in one common band.

    python bench/diversity_by_scale.py OUT.json PROJECT [PROJECT ...] [--rate 8000] [--takes 4]

For each project and each of its scales k, the same free takes as `generate` (seeds 1000..,
the length of the section) are rendered through scales 0..k only: the same noise, so the take at
the top scale is the full take and the rows below it are its coarser stages. Every take is
resampled to `--rate` and measured against the first project's section at that rate with the
variation bench's diversity (`engine.analysis.measures.diversity`: std ratio, pairwise log-mel
dB). Two projects of one section at different working rates or settings (`quick8k` beside
`quick`) can then be compared scale by scale: where their diversity parts, the scale that parts
it is named.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.analysis.measures import diversity  # noqa: E402
from engine.analysis.reference import prepare_reference  # noqa: E402
from engine.audio.channels import network_to_audio  # noqa: E402
from engine.audio.io import resample, to_mono  # noqa: E402
from engine.fileutil import atomic_write_json, json_safe  # noqa: E402
from engine.generation.render import TrainedModel, load_model  # noqa: E402
from engine.model.stack import lengths_for  # noqa: E402

FIRST_SEED = 1000  # run_bench.py's free variations


def take_upto(model: TrainedModel, scale: int, seed: int, seconds: float) -> np.ndarray:
    """A free take of `seed` through scales 0..scale: mono at that scale's rate, without the
    project's gain (diversity matches every take's level to the section's)."""
    pyr = model.pyramid
    lengths = lengths_for(pyr.rates, seconds)
    g = torch.Generator().manual_seed(int(seed))
    out = pyr.run(lengths, pyr.random_noise(lengths, g, upto=scale + 1), upto=scale + 1)
    return to_mono(network_to_audio(out, model.manifest.config.stereo))


def by_scale(models: list[TrainedModel], rate: int, takes: int) -> dict[str, Any]:
    first = models[0]
    seconds = first.clip_seconds
    ref = prepare_reference(resample(to_mono(first.clip), first.fs, rate), rate)
    report: dict[str, Any] = {"kind": "diversity-by-scale", "rate": rate, "seconds": seconds,
                              "take_seeds": list(range(FIRST_SEED, FIRST_SEED + takes)),
                              "projects": {}}
    for model in models:
        rows = []
        for k, scale_rate in enumerate(model.pyramid.rates):
            audio = [resample(take_upto(model, k, s, seconds), scale_rate, rate)
                     for s in report["take_seeds"]]
            d = diversity(ref, audio)
            rows.append({"scale": k, "rate": scale_rate, "std_ratio": d.std_ratio,
                         "pairwise_db": d.pairwise_db})
            print(f"{model.project_dir.name} scale {k} ({scale_rate} Hz): std ratio "
                  f"{d.std_ratio:.3f}, pairwise {d.pairwise_db:.2f} dB", flush=True)
        report["projects"][model.project_dir.name] = rows
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("projects", type=Path, nargs="+")
    ap.add_argument("--rate", type=int, default=8000, help="the common band's sample rate")
    ap.add_argument("--takes", type=int, default=4)
    args = ap.parse_args(argv)
    models = [load_model(p, "cpu") for p in args.projects]
    atomic_write_json(args.out, json_safe(by_scale(models, args.rate, args.takes)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
