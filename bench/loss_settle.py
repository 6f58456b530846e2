"""When do a trained project's losses settle, scale by scale? (issue 11: "stop a scale when its
losses have settled")

Reads a project's losses.jsonl (the loss points the trainer logged, each a mean over
`loss_every` iterations) and writes, per scale: the first logged iteration after which the
reconstruction loss stays within `--tolerance` of its final value, and the critic's loss
(d/total: -D(real) + D(fake) + penalty) over the scale's thirds, which keeps falling while the
critic still separates the real signal from the generator's.

    python bench/loss_settle.py PROJECT --out bench/results/loss-settle-NAME.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.fileutil import atomic_write_json  # noqa: E402


def settle_report(losses_jsonl: Path, tolerance: float) -> list[dict]:
    points: dict[int, list[tuple[int, int, dict[str, float]]]] = defaultdict(list)
    for line in losses_jsonl.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            points[row["scale"]].append((row["iteration"], row["iterations"], row["losses"]))
    report = []
    for scale, pts in sorted(points.items()):
        # the trainer logs the same mean at every progress event until the next read-back
        dedup = [p for k, p in enumerate(pts) if k == 0 or p[2] != pts[k - 1][2]]
        its = [p[0] for p in dedup]
        rec = [p[2]["rec"] for p in dedup]
        critic = [p[2]["d/total"] for p in dedup]
        final = rec[-1]
        settled = next((its[k] for k in range(len(rec))
                        if all(abs(x - final) <= tolerance * abs(final) for x in rec[k:])), None)
        thirds = [critic[min(len(critic) - 1, round(f * (len(critic) - 1)))] for f in (0, 1 / 3, 2 / 3, 1)]
        report.append({
            "scale": scale, "iterations": pts[-1][1], "loss_points": len(dedup),
            "rec_first": rec[0], "rec_final": final, "rec_settled_at": settled,
            "critic_at_start_third_twothirds_end": thirds,
        })
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("project", type=Path)
    ap.add_argument("--tolerance", type=float, default=0.05)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    report = settle_report(args.project / "losses.jsonl", args.tolerance)
    atomic_write_json(args.out, {"project": args.project.name, "tolerance": args.tolerance,
                                 "scales": report})
    for r in report:
        c = r["critic_at_start_third_twothirds_end"]
        print(f"scale {r['scale']}: reconstruction within {args.tolerance:.0%} of its final value "
              f"from iteration {r['rec_settled_at']} of {r['iterations']}; critic "
              + " -> ".join(f"{x:.3f}" for x in c), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
