"""What trained projects' free takes sound like in numbers, for a listener without a sound device:
band shares and level movement of takes 100-102 against the section they learned.

    python bench/take_levels.py OUT.json PROJECT [PROJECT ...] [--mel DIR]

Per project (the mean over its three takes) and for the first project's section, every take
resampled to the section's rate first (so projects at other working rates, `quick8k` beside
`quick`, are measured and drawn on the same bands and seconds):

  band_db       the share of the energy in 0-0.5, 0.5-1, 1-4 and 4-8 kHz, in dB of the whole
                (a take with too little treble shows a low last band)
  spread_db     the standard deviation of the 10 ms frame level in dB (notes, stops and
                silences move it; a steady texture does not)
  range_db      the 5-95 % range of the same frame levels

--mel DIR also writes one picture for the eye: the section's log-mel on top and each project's
first take below it, on one colour scale (the section's loudest 80 dB), as DIR/takes-mel.png.
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
from engine.audio.io import resample, to_mono  # noqa: E402
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


def mel_picture(png: Path, rows: list[tuple[str, np.ndarray, int]], fs: int) -> None:
    """Log-mel images of mono signals (name, signal, its rate), one above the other, each at
    `fs` on one time axis, on the first one's colour scale."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from pyqtgraph.exporters import ImageExporter
    from PySide6.QtWidgets import QApplication

    from engine.audio.features import log_mel, mel_frame_seconds
    from songwriter_app.views.plots import mel_levels

    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(background="w", foreground="k")
    view = pg.GraphicsLayoutWidget()
    view.resize(1100, 220 * len(rows))
    mels = [log_mel(resample(x, rate, fs), fs) for _, x, rate in rows]
    colours = mel_levels(mels[0], 80.0)  # the app's colour scale, the section's loudest 80 dB
    step = mel_frame_seconds(fs)
    first = None
    for i, ((name, _, _), mel) in enumerate(zip(rows, mels, strict=True)):
        plot = view.addPlot(row=i, col=0, title=name)
        if first is None:
            first = plot
        else:
            plot.setXLink(first)
        # rows are mel bands, columns frames, whatever axis order pyqtgraph was set to (the
        # app's plot module sets row-major for the whole process when it is imported)
        img = pg.ImageItem(np.ascontiguousarray(mel), axisOrder="row-major", levels=colours)
        img.setColorMap(pg.colormap.get("inferno"))
        img.setRect(0.0, 0.0, mel.shape[1] * step, float(mel.shape[0]))
        plot.addItem(img)
        plot.setLabel("bottom", "seconds")
        plot.setLabel("left", "mel band")
    view.show()  # lays the plots out at the widget's size
    app.processEvents()
    exporter = ImageExporter(view.scene())
    exporter.parameters()["width"] = 1100
    png.parent.mkdir(parents=True, exist_ok=True)
    exporter.export(str(png))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("projects", type=Path, nargs="+")
    ap.add_argument("--mel", type=Path, default=None, help="also write DIR/takes-mel.png")
    args = ap.parse_args(argv)
    clip, fs = sf.read(str(args.projects[0] / "clip.wav"), dtype="float32", always_2d=True)
    report: dict[str, Any] = {"kind": "take-levels", "bands_hz": BANDS, "take_seeds": TAKE_SEEDS,
                              "section": levels(to_mono(clip.T), fs), "projects": {}}
    pictures = [("the section", to_mono(clip.T), fs)]
    for project in args.projects:
        model = load_model(project, "cpu")
        seconds = float(model.manifest.source.get("duration") or 10.0)
        audio = [resample(to_mono(np.asarray(generate(model, seconds=seconds, seed=s))), model.fs, fs)
                 for s in TAKE_SEEDS]
        pictures.append((f"{project.name}, take {TAKE_SEEDS[0]}", audio[0], fs))
        takes = [levels(x, fs) for x in audio]
        report["projects"][project.name] = {**mean_levels(takes),
                                            "spread_per_take_db": [t["spread_db"] for t in takes]}
        print(project.name, json.dumps(report["projects"][project.name]), flush=True)
    atomic_write_json(args.out, json_safe(report))
    if args.mel:
        mel_picture(args.mel / "takes-mel.png", pictures, fs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
