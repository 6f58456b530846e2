"""Quality per CPU minute: each quality metric against training minutes, from run_bench results.

Reads quality-*.json files written by run_bench.py (and window-*.json files written by
retrain_top.py: one row per variant and base project, timed by the retrained scales' wall
minutes) and writes, per file and clip, the mean training minutes and the mean of every quality
metric (with their spread over the repeats) to JSON, and a PNG of timbre FD (lower is better)
against training minutes: one colour per file (`--colour-by setup`: per preset and overrides),
one marker shape per clip, each run a point, the rows' means per clip joined by a dashed line.

    QT_QPA_PLATFORM=offscreen python bench/quality_per_minute.py \\
        bench/results/quality-quick-cpu-ref-whole-3s-40it.json \\
        bench/results/quality-quick-cpu-window8192x2-3s-40it.json \\
        --out bench/results/quality-per-minute-quick-3s-40it

The PNG is drawn with pyqtgraph (already a dependency of the app), offscreen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_bench import QUALITY, flatten  # noqa: E402

from engine.config import PRESETS, TrainConfig  # noqa: E402

COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]


def setup(name: str, overrides: dict[str, Any] | None) -> str:
    """What a row trained: a preset (or variant) and its overrides (`quick iters_window=700`)."""
    return " ".join([name, *(f"{k}={v}" for k, v in sorted((overrides or {}).items()))])


def named(config: dict[str, Any] | None) -> str | None:
    """The preset a file's config is, whatever overrides spelled it (`quick` with
    `iters_window=700` is `thorough`); None when it is none of them."""
    if not config:
        return None
    cfg = TrainConfig.from_dict(config)
    return next((name for name, p in PRESETS.items() if cfg.replace(name=name) == p), None)


def with_metrics(row: dict[str, Any], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """`row` with every quality metric the runs have, one value per run."""
    for key in QUALITY:
        vals = [r[key] for r in runs if key in r]
        if vals:
            row[key] = vals
    return row


def gather(paths: list[str], clock: str = "cpu") -> list[dict[str, Any]]:
    """Per file and clip: training minutes (CPU time of the process when the file has it and
    clock is "cpu", else wall time) and every quality metric, one value per run."""
    rows = []
    for path in paths:
        data = json.loads(Path(path).read_text())
        if data.get("kind") == "retrain-top":
            rows.extend(gather_retrained(path, data))
            continue
        by_clip: dict[str, list[dict[str, float]]] = {}
        for run in data["runs"]:
            by_clip.setdefault(Path(run["clip"]).name, []).append(flatten(run))
        for clip, flat in by_clip.items():
            row: dict[str, Any] = {"file": Path(path).name, "label": data.get("label"),
                                   "preset": data.get("preset"), "setup": named(data.get("config"))
                                   or setup(str(data.get("preset")), data.get("overrides")),
                                   "clip": clip,
                                   "device_name": data.get("device_name"), "runs": len(flat),
                                   "clock": clock if all("train_cpu_seconds" in f for f in flat)
                                   else "wall",
                                   "train_minutes": []}
            key = "train_cpu_seconds" if row["clock"] == "cpu" else "train_seconds"
            row["train_minutes"] = [f[key] / 60 for f in flat]
            rows.append(with_metrics(row, flat))
    return rows


def gather_retrained(path: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a bench/retrain_top.py file: per variant and base project, the wall minutes of the
    retrained scales (the coarser scales are the base project's, the same for every variant)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in data["runs"]:
        groups.setdefault((run["variant"], run["project"]), []).append(run)
    rows = []
    for (variant, project), runs in groups.items():
        row: dict[str, Any] = {
            "file": Path(path).name, "label": "", "preset": variant,
            "setup": setup(variant, data["variants"].get(variant)), "clip": project,
            "device_name": "cpu", "runs": len(runs), "clock": "wall",
            "train_minutes": [r["top_seconds"] / 60 for r in runs]}
        rows.append(with_metrics(row, runs))
    return rows


def plot(rows: list[dict[str, Any]], png: Path, metric: str = "timbre_fd", *, by: str = "file",
         log_y: bool = False, x_label: str | None = None,
         legend_offset: tuple[float, float] = (-10, 10)) -> None:
    """One colour per file (or per training setup, preset and overrides, with by="setup"), one
    marker per clip; log_y for a metric that spans decades across clips; legend_offset in pixels
    as pyqtgraph reads it (x from the left, or from the right when negative; y likewise)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from pyqtgraph.exporters import ImageExporter
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    w = pg.PlotWidget()
    w.resize(1100, 650)
    clocks = sorted({r["clock"] for r in rows})
    w.setLabel("bottom", x_label or f"training minutes per run ({' / '.join(clocks)} time, "
               "2-core VM CPU)")
    notes = [n for n in ({-1: "lower is better", 1: "higher is better"}.get(QUALITY.get(metric, 0)),
                         "log scale" if log_y else None) if n]
    w.setLabel("left", f"{metric} ({', '.join(notes)})" if notes else metric)
    w.getAxis("left").enableAutoSIPrefix(False)  # a ratio of 0.5 reads 0.5, not 500 x0.001
    w.setLogMode(y=log_y)
    w.setTitle(f"{metric} against training time")
    legend = w.addLegend(offset=legend_offset)
    groups = list(dict.fromkeys(r[by] for r in rows))
    symbols = ["o", "s", "t", "d", "+", "x"]
    clips = list(dict.fromkeys(r["clip"] for r in rows))
    shown = [r for r in rows if metric in r]
    for r in shown:
        colour = COLOURS[groups.index(r[by]) % len(COLOURS)]
        item = w.plot(r["train_minutes"], r[metric], pen=None,
                      symbol=symbols[clips.index(r["clip"]) % len(symbols)], symbolBrush=colour,
                      symbolSize=9, name=" ".join(filter(None, (r["setup"], r["label"], "/", r["clip"]))))
        del item
    for clip in clips:  # one line per clip through the rows' means, shortest training first
        pts = sorted((sum(r["train_minutes"]) / len(r["train_minutes"]),
                      sum(r[metric]) / len(r[metric])) for r in shown if r["clip"] == clip)
        if len(pts) > 1:
            w.plot([p[0] for p in pts], [p[1] for p in pts], pen=pg.mkPen((120, 120, 120), width=1,
                                                                         style=pg.QtCore.Qt.DashLine))
    del legend
    app.processEvents()
    exporter = ImageExporter(w.plotItem)
    exporter.parameters()["width"] = 1100
    exporter.export(str(png))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="quality-*.json files from run_bench.py")
    ap.add_argument("--out", required=True, help="output path without extension (.json and .png)")
    ap.add_argument("--metric", default="timbre_fd")
    ap.add_argument("--colour-by", choices=("file", "setup"), default="file",
                    help="one colour per result file (default) or per preset and overrides")
    ap.add_argument("--log-y", action="store_true", help="log scale for the metric")
    ap.add_argument("--legend-offset", type=float, nargs=2, metavar=("X", "Y"), default=(-10, 10),
                    help="where the legend goes, in pixels: x from the left edge (from the right "
                    "when negative), y from the top (from the bottom when negative); default: "
                    "the top right corner")
    ap.add_argument("--x-label", default=None, help="the time axis's label (default: training "
                    "minutes per run and the clock)")
    ap.add_argument("--clock", choices=("cpu", "wall"), default="cpu",
                    help="CPU time of the training process (default, where recorded) or wall time")
    args = ap.parse_args(argv)
    rows = gather(args.results, args.clock)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = []
    for r in rows:
        s = {k: r[k] for k in ("file", "label", "preset", "setup", "clip", "device_name", "runs",
                               "clock")}
        for key in ["train_minutes", *QUALITY]:
            if key in r:
                vals = r[key]
                s[key] = {"mean": sum(vals) / len(vals), "min": min(vals), "max": max(vals),
                          "values": vals}
        summary.append(s)
    out.with_suffix(".json").write_text(json.dumps({"metric_plotted": args.metric,
                                                    "rows": summary}, indent=2) + "\n")
    plot(rows, out.with_suffix(".png"), args.metric, by=args.colour_by, log_y=args.log_y,
         x_label=args.x_label, legend_offset=tuple(args.legend_offset))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.png')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
