"""Summarise bench/bridge_grid.py results as a markdown table (one row per model and gap).

    python bench/bridge_table.py [bench/results/bridges/*.json]

Columns: the song, what the model trained (mode, gap, training minutes), the gap rendered, the
takes' seam percentiles (range over seeds; bridge: seam 1 / seam 2), the naive splice's, the
recording's own at the same places, the takes' loudness motion against the recording's, the
takes' level against A, the timbre distance of the filled part to A (and B) with A to B, and the
longest copied run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "bridges"


def _span(values: list[float], fmt: str = "{:.0f}", sep: str = "-") -> str:
    lo, hi = min(values), max(values)
    a, b = fmt.format(lo), fmt.format(hi)
    return a if a == b else f"{a}{sep}{b}"


def rows(report: dict[str, Any]) -> list[str]:
    out = []
    minutes = report.get("train_seconds")
    trained = f"{report['mode']} {report['gap_s']:g} s"
    if report.get("sections") and report["mode"] == "bridge":
        trained += f" (B {report['sections'][1]})"
    trained += f", {minutes / 60:.0f} min" if minutes else ""
    for r in report.get("renders", []):
        takes = r["takes"]
        n = sum(1 for k in takes[0] if k.startswith("seam") and k.endswith("_percentile")
                and "naive" not in k)
        seams = " / ".join(_span([t[f"seam{i}_percentile"] for t in takes])
                           for i in range(1, n + 1))
        real = " / ".join(f"{s['percentile']:.0f}" for s in r["real_transition"]["seams"])
        naive = f"{takes[0]['seam1_naive_percentile']:.0f}"
        motion = f"{_span([t['motion_ratio'] for t in takes], '{:.2f}')} / " \
                 f"{r['real_transition']['motion_ratio']:.2f}"
        level = _span([t["level_vs_a_db"] for t in takes], "{:+.1f}", " to ") + " dB"
        fd = _span([t["timbre_fd_a"] for t in takes])
        if "timbre_fd_b" in takes[0]:
            fd += f" / {_span([t['timbre_fd_b'] for t in takes])} (A-B {takes[0]['timbre_fd_a_vs_b']:.0f})"
        copy = _span([t["longest_copy_s"] for t in takes], "{:.1f}") + " s"
        out.append(f"| {report['name']} | {trained} | {r['gap_s']:g} s | {seams} | {naive} | "
                   f"{real} | {motion} | {level} | {fd} | {copy} |")
    return out


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or sorted(RESULTS.glob("*.json"))
    print("| song | model | gap rendered | take seams (p) | naive (p) | recording (p) | "
          "motion take / recording | take level vs A | timbre FD to A / B | longest copy |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for f in files:
        report = json.loads(f.read_text())
        if "renders" in report:  # older files (one gap, no recording) are left out
            for line in rows(report):
                print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
