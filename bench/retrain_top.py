"""Retrain only the top scales of trained projects under other settings, and measure the treble.

    python bench/retrain_top.py OUT.json PROJECT [PROJECT ...] --from-scale 8 \
        --variant cubic: --variant band-limited:band_limited_above=16000 --seeds 0 1

For each project, seed and variant (interleaved in that order, so a drift of the machine's
speed hits every variant alike): a copy of the project keeps scales 0..from-scale-1 as they
were trained, takes the variant's settings and the seed, and trains the scales above again
(the training loop seeds each scale on its own, so the coarse scales are the same for every
variant and only what the top scales learn differs). Then 3 free takes (seeds 100-102, the
whole pyramid from noise) are measured:

  timbre_fd / ltas_db       songwriter-cli evaluate's measures over the full band, and in
                            band at 16 kHz (`--rate 16000`: what quick can be compared on)
  treble_db                 energy above 16.5 kHz against the whole, the takes' against the
                            original's (where cubic up-sampling leaves its images)
  hf_motion_db              how much the 8-16 kHz band's level moves from frame to frame
                            (10 ms frames, std of the dB level): drums and cymbals move it, a
                            steady hiss does not
  diversity_std_ratio, rec_snr_db, rec_lsd_db, rec_mrstft
                            the takes' diversity and the reconstruction's measures (evaluate's)
  top_seconds               training time of the retrained scales

Writes OUT.json (bench/results/) with every run and a summary per variant (mean, min, max).
Runs split over processes (say one seed each, one thread each) merge into one report:

    python bench/retrain_top.py --merge OUT.json PART.json PART.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.audio.dsp import power_spectrogram  # noqa: E402
from engine.audio.io import to_mono  # noqa: E402
from engine.cli.evaluate import evaluate_project  # noqa: E402
from engine.config import TrainConfig  # noqa: E402
from engine.fileutil import atomic_write_json, json_safe  # noqa: E402
from engine.generation.render import generate, load_model  # noqa: E402
from engine.project.checkpoint import read_manifest, write_manifest  # noqa: E402
from engine.training.loop import iter_train  # noqa: E402

TAKE_SEEDS = (100, 101, 102)


def parse_variant(text: str) -> tuple[str, dict[str, Any]]:
    """'name:key=value,key=value' -> (name, overrides); values are read as JSON when they can be."""
    name, _, rest = text.partition(":")
    overrides: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return name, overrides


def truncated_copy(src: Path, dst: Path, keep: int, overrides: dict[str, Any], seed: int) -> None:
    """A copy of project `src` with only scales 0..keep-1 trained, the settings changed."""
    if dst.exists():
        shutil.rmtree(dst)
    dst.mkdir(parents=True)
    for name in ("clip.wav", "z_rec.safetensors"):
        shutil.copy2(src / name, dst / name)
    (dst / "scales").mkdir()
    for s in range(keep):
        shutil.copy2(src / "scales" / f"{s:03d}.safetensors", dst / "scales" / f"{s:03d}.safetensors")
    m = read_manifest(src)
    m.config = TrainConfig.from_dict({**m.config.to_dict(), **overrides})
    m.scales_done, m.seed = keep, seed
    m.iterations_done, m.seconds_per_scale = m.iterations_done[:keep], m.seconds_per_scale[:keep]
    write_manifest(dst, m)


def band_db(spec: np.ndarray, freqs: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Frame levels in dB of the band lo..hi Hz of a power spectrogram [freqs, frames]."""
    band = spec[(freqs >= lo) & (freqs < hi)].sum(0)
    return 10 * np.log10(band + 1e-12)


def treble(x: np.ndarray, fs: int) -> dict[str, float]:
    """treble_db and hf_motion_db of a mono signal (see the module docstring)."""
    hop = fs // 100
    spec = power_spectrogram(torch.tensor(x, dtype=torch.float32), n_fft=2048, hop=hop).numpy()
    freqs = np.linspace(0, fs / 2, spec.shape[0])
    total = spec.sum()
    top = spec[freqs >= 16500].sum()
    return {"treble_db": float(10 * np.log10(top / total + 1e-20)),
            "hf_motion_db": float(np.std(band_db(spec, freqs, 8000, 16000)))}


def measure(project: Path) -> dict[str, Any]:
    """Render the free takes once; evaluate them over the full band and in band, and their treble."""
    model = load_model(project, "cpu")
    fs = model.fs
    seconds = float(model.manifest.source.get("duration") or 10.0)
    takes = [generate(model, seconds=seconds, seed=s) for s in TAKE_SEEDS]
    with tempfile.TemporaryDirectory(prefix="retrain-top-takes-") as tmp:
        files = []
        for seed, take in zip(TAKE_SEEDS, takes, strict=True):
            files.append(str(Path(tmp) / f"seed{seed}.wav"))
            sf.write(files[-1], np.asarray(take).T, fs, subtype="FLOAT")
        report = evaluate_project(project, files=files, baselines=False, device="cpu").to_dict()
        full = report["variation_mean"]
        rec, div = report["reconstruction"] or {}, report["diversity"] or {}
        band = evaluate_project(project, files=files, baselines=False, device="cpu",
                                rate=min(16000, fs)).to_dict()["variation_mean"]
    tr = [treble(to_mono(t), fs) for t in takes]
    return {
        "timbre_fd": full["timbre_fd"], "ltas_db": full["ltas_db"],
        "timbre_fd_16k": band["timbre_fd"], "ltas_db_16k": band["ltas_db"],
        "max_xcorr": full["max_xcorr"], "copy_ratio": full["copy_ratio"],
        "diversity_std_ratio": div.get("std_ratio"), "rec_snr_db": rec.get("snr_db"),
        "rec_lsd_db": rec.get("lsd_db"), "rec_mrstft": rec.get("mrstft"),
        "treble_db": float(np.mean([t["treble_db"] for t in tr])),
        "hf_motion_db": float(np.mean([t["hf_motion_db"] for t in tr])),
    }


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--merge"]:
        if len(argv) < 4:
            raise SystemExit("usage: retrain_top.py --merge OUT.json IN.json IN.json [...]")
        return merge(Path(argv[1]), [Path(a) for a in argv[2:]])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("projects", type=Path, nargs="+")
    ap.add_argument("--from-scale", type=int, required=True)
    ap.add_argument("--variant", action="append", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--work", type=Path, default=None)
    args = ap.parse_args(argv)
    variants = [parse_variant(v) for v in args.variant]
    work = args.work or Path(tempfile.mkdtemp(prefix="retrain-top-"))
    report: dict[str, Any] = {"kind": "retrain-top", "from_scale": args.from_scale,
                              "variants": dict(variants), "seeds": args.seeds,
                              "threads": torch.get_num_threads(), "originals": {}, "runs": []}
    for project in args.projects:
        done = read_manifest(project)
        if not 0 < args.from_scale < done.scales_done:
            ap.error(f"{project} has {done.scales_done} trained scales; --from-scale must be "
                     "between 1 and one less than that")
        fs = done.config.fs
        real, _sr = sf.read(str(project / "clip.wav"), dtype="float32", always_2d=True)
        report["originals"][project.name] = treble(to_mono(real.T), fs)
        for seed in args.seeds:
            for name, overrides in variants:
                dst = work / f"{project.name}-{name}-seed{seed}"
                truncated_copy(project, dst, args.from_scale, overrides, seed)
                t0 = time.monotonic()
                for _ev in iter_train(None, dst, resume=True, device="cpu"):
                    pass
                top = time.monotonic() - t0
                record(report, args.out, {"project": project.name, "variant": name, "seed": seed,
                                          "dir": str(dst), "top_seconds": top, **measure(dst)})
    return finish(report, args.out)


def record(report: dict[str, Any], out: Path, row: dict[str, Any]) -> None:
    """Add a run to the report, print it, and write the report so far (a long run that stops
    keeps what it measured)."""
    report["runs"].append(row)
    print(json.dumps(row), flush=True)
    atomic_write_json(out, json_safe(report))


def finish(report: dict[str, Any], out: Path) -> int:
    """Write the report with its summary and print the summary."""
    report["summary"] = summarise(report)
    atomic_write_json(out, json_safe(report))
    print(json.dumps(report["summary"], indent=1))
    return 0


def summarise(report: dict[str, Any]) -> dict[str, Any]:
    """Per variant: the mean, min and max over its runs of every measure."""
    summary: dict[str, Any] = {}
    for name in report["variants"]:
        rows = [r for r in report["runs"] if r["variant"] == name]
        summary[name] = {k: {"mean": float(np.mean([r[k] for r in rows])),
                             "min": float(np.min([r[k] for r in rows])),
                             "max": float(np.max([r[k] for r in rows])), "runs": len(rows)}
                         for k in ("timbre_fd", "timbre_fd_16k", "ltas_db", "ltas_db_16k",
                                   "treble_db", "hf_motion_db", "diversity_std_ratio",
                                   "rec_snr_db", "rec_lsd_db", "rec_mrstft", "top_seconds")
                         if rows and all(r.get(k) is not None for r in rows)}
    return summary


def merge(out: Path, parts: list[Path]) -> int:
    """One report from several of this script's (runs split over processes: the same projects
    and scale, other seeds or variants), with the summary over all their runs."""
    reports = [json.loads(p.read_text(encoding="utf-8")) for p in parts]
    first = reports[0]
    variants: dict[str, Any] = {}
    for r in reports:
        for name, overrides in r["variants"].items():
            if variants.setdefault(name, overrides) != overrides:
                raise SystemExit(f"variant {name} has other settings in another report")
    if any(r["from_scale"] != first["from_scale"] for r in reports):
        raise SystemExit("the reports to merge must share --from-scale")
    merged = {**first, "variants": variants,
              "seeds": sorted({s for r in reports for s in r["seeds"]}),
              "threads": sorted({r["threads"] for r in reports}),
              "merged_from": [p.name for p in parts],
              "runs": [row for r in reports for row in r["runs"]]}
    merged["summary"] = summarise(merged)
    atomic_write_json(out, json_safe(merged))
    print(json.dumps(merged["summary"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
