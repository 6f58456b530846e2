"""Where in the spectrum the takes vary: the variation bench's diversity std ratio (the takes'
spread per log-mel band and frame over the section's spread in time) averaged over the bands
centred in 0-0.5, 0.5-1, 1-4 and 4-8 kHz (take_levels.py's bands), per run of run_bench.py's
quality files, full band and in band.

    python bench/diversity_bands.py OUT.json QUALITY.json [QUALITY.json ...]

A steadier top octave and less varied notes both lower the one std ratio `--compare` shows;
these rows say which band moved.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from take_levels import BANDS  # noqa: E402

from engine.analysis.features import mel_centres  # noqa: E402
from engine.fileutil import atomic_write_json  # noqa: E402


def band_means(std_map: list[float], sr: int) -> list[float | None]:
    """The mean of `std_map` over the mel bands centred in each of BANDS (None: no band there)."""
    ratio, centre = np.asarray(std_map, dtype=float), mel_centres(sr, len(std_map))
    out: list[float | None] = []
    for lo, hi in BANDS:
        inside = (centre >= lo) & (centre < hi)
        out.append(round(float(ratio[inside].mean()), 4) if inside.any() else None)
    return out


def evaluations(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A run's evaluations by name: 'full' and 'at RATE' for each in-band one."""
    found = {"full": run.get("evaluation") or {}}
    for rate, ev in (run.get("evaluation_in_band") or {}).items():
        found[f"at {rate}"] = ev
    return found


def rows(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text())
    out = []
    for run in data.get("runs") or []:
        for name, ev in evaluations(run).items():
            div = ev.get("diversity") or {}
            if not div.get("std_map"):
                continue
            out.append({"file": path.name, "clip": Path(run["clip"]).name, "seed": run.get("seed"),
                        "evaluation": name, "std_ratio": div.get("std_ratio"),
                        "by_band": band_means(div["std_map"], int(ev["sample_rate"]))})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("quality", type=Path, nargs="+")
    args = ap.parse_args(argv)
    found = [row for path in args.quality for row in rows(path)]
    atomic_write_json(args.out, {"kind": "diversity-bands", "bands_hz": BANDS, "rows": found})
    print(f"{'file':56s} {'seed':>4s} {'eval':8s} {'all':>6s} " + " ".join(f"{lo}-{hi}".rjust(9) for lo, hi in BANDS))
    for r in found:
        cells = " ".join("        -" if v is None else f"{v:9.3f}" for v in r["by_band"])
        print(f"{r['file'][:56]:56s} {r['seed']!s:>4s} {r['evaluation']:8s} {r['std_ratio']:6.3f} {cells}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
