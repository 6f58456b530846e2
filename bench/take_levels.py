"""What trained projects' free takes sound like in numbers, for a listener without a sound device:
band shares and level movement of takes 100-102 against the section they learned.

    python bench/take_levels.py OUT.json PROJECT [PROJECT ...]

Per project (the mean over its three takes) and for the first project's section:

  band_db       the share of the energy in 0-0.5, 0.5-1, 1-4 and 4-8 kHz, in dB of the whole
                (a take with too little treble shows a low last band)
  spread_db     the standard deviation of the 10 ms frame level in dB (notes, stops and
                silences move it; a steady texture does not)
  range_db      the 5-95 % range of the same frame levels
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from retrain_top import TAKE_SEEDS  # noqa: E402

from engine.audio.dsp import power_spectrogram  # noqa: E402
from engine.audio.io import to_mono  # noqa: E402
from engine.fileutil import atomic_write_json, json_safe  # noqa: E402
from engine.generation.render import generate, load_model  # noqa: E402

BANDS = ((0, 500), (500, 1000), (1000, 4000), (4000, 8000))


def levels(x: np.ndarray, fs: int) -> dict[str, Any]:
    spec = power_spectrogram(torch.tensor(x, dtype=torch.float32), n_fft=1024, hop=fs // 100).numpy()
    freqs = np.linspace(0, fs / 2, spec.shape[0])
    total = spec.sum()
    frame = 10 * np.log10(spec.sum(0) + 1e-12)
    return {"band_db": [float(10 * np.log10(spec[(freqs >= lo) & (freqs < hi)].sum() / total + 1e-12))
                        for lo, hi in BANDS],
            "spread_db": float(np.std(frame)),
            "range_db": float(np.percentile(frame, 95) - np.percentile(frame, 5))}


def mean_levels(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"band_db": np.mean([r["band_db"] for r in rows], axis=0).tolist(),
            "spread_db": float(np.mean([r["spread_db"] for r in rows])),
            "range_db": float(np.mean([r["range_db"] for r in rows]))}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("projects", type=Path, nargs="+")
    args = ap.parse_args(argv)
    clip, fs = sf.read(str(args.projects[0] / "clip.wav"), dtype="float32", always_2d=True)
    report: dict[str, Any] = {"kind": "take-levels", "bands_hz": BANDS, "take_seeds": TAKE_SEEDS,
                              "section": levels(to_mono(clip.T), fs), "projects": {}}
    for project in args.projects:
        model = load_model(project, "cpu")
        seconds = float(model.manifest.source.get("duration") or 10.0)
        takes = [levels(to_mono(np.asarray(generate(model, seconds=seconds, seed=s))), model.fs)
                 for s in TAKE_SEEDS]
        report["projects"][project.name] = {**mean_levels(takes),
                                            "spread_per_take_db": [t["spread_db"] for t in takes]}
        print(project.name, json.dumps(report["projects"][project.name]), flush=True)
    atomic_write_json(args.out, json_safe(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
