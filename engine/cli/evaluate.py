"""`songwriter-cli evaluate`: objective measures of variations next to their baselines.

With no FILES it renders --count variations from the project (seeds seed, seed+1, ...)
and evaluates them; with FILES it evaluates those (resampled to the working rate).
Prints a table (variations and baselines side by side), the diversity and the
reconstruction measures; --json writes every number.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import AudioError, ConfigError

# The untrained-generator baseline renders at most this long (a full-size pyramid on a
# CPU takes about a minute for 20 s); its statistics need no more.
UNTRAINED_MAX_SECONDS = 10.0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `evaluate` sub-command to songwriter-cli."""
    p = subparsers.add_parser(
        "evaluate",
        help="measure variations against the training clip and baselines",
        description="Objective quality measures (metrics.md): timbre Fréchet distance, "
        "long-term spectrum distance, cross-correlation and copy detection, for each "
        "variation and for baselines on the same clip (real vs real, cut-and-paste, shaped "
        "noise, untrained generator); diversity among the variations; reconstruction SNR, "
        "LSD and multi-resolution STFT distance.",
    )
    p.add_argument("--project", required=True, help="a trained project folder")
    p.add_argument("files", nargs="*", metavar="FILES",
                   help="audio files to evaluate (default: render --count variations)")
    p.add_argument("--count", type=int, default=4, help="variations to render (default 4)")
    p.add_argument("--seconds", type=float, default=None,
                   help="length of rendered variations (default: the clip's length)")
    p.add_argument("--seed", type=int, default=0, help="first seed; variation i uses seed+i")
    p.add_argument("--gap", type=float, default=None, metavar="SECONDS",
                   help="bridge/ending projects: the gap the takes fill (default: the trained gap)")
    p.add_argument("--from-scale", type=int, default=None,
                   help="render variations that keep the real signal up to this scale "
                   "(default: unconditional)")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT",
                   help="write all numbers to this JSON file")
    p.add_argument("--no-baselines", action="store_true", help="skip the baselines (faster)")
    p.add_argument("--rate", type=int, default=None, metavar="HZ",
                   help="measure in this band only: resample the clip, the variations and "
                   "every baseline to HZ first (e.g. 8000 to set a 16 kHz model beside an 8 kHz "
                   "one); default: the project's working rate")
    p.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    p.set_defaults(func=handler)


def _other_excerpt(model: Any) -> tuple[np.ndarray, str] | None:
    """Another part of the project's source file, as long as the clip if possible.

    Taken after the training section, else before it; None when the file is gone or
    has less than half the clip's length left outside the section.
    """
    from engine.audio.io import load_clip

    src = model.manifest.source
    path = src.get("path")
    if not path or not Path(path).is_file():
        return None
    start, dur = float(src.get("start", 0.0)), float(src.get("duration", 0.0))
    try:
        import soundfile as sf

        total = float(sf.info(path).duration)
    except Exception:  # an unreadable source only loses this optional baseline
        return None
    want = model.clip_seconds
    after, before = total - (start + dur), start
    if after >= want / 2:
        a, length = start + dur, min(want, after)
    elif before >= want / 2:
        length = min(want, before)
        a = start - length
    else:
        return None
    try:
        clip = load_clip(path, model.fs, start=a, duration=length)
    except AudioError:
        return None
    return clip.signal, f"{a:.1f}-{a + length:.1f} s of {Path(path).name}"


def evaluate_project(
    project: str | Path, *, files: list[str] | None = None, count: int = 4,
    seconds: float | None = None, seed: int = 0, from_scale: int | None = None,
    baselines: bool = True, device: str | None = "auto", rate: int | None = None,
) -> Any:
    """Render (or load) variations of a project and evaluate them; returns an EvaluationReport.

    `rate` below the working rate measures in that band only: the clip, the variations, the
    reconstruction and the baselines are all resampled to it first (in-band comparisons of
    models with different working rates).
    """
    from engine.analysis import evaluate, untrained_generator_output
    from engine.analysis.stereo import stereo_report
    from engine.audio.io import load_clip, resample, to_mono
    from engine.generation.render import generate, load_model, reconstruct

    model = load_model(project, device)
    fs = model.fs
    variations: dict[str, np.ndarray] = {}
    rendered: list[dict[str, Any]] = []
    stereo = model.manifest.audio_channels == 2
    if files:
        for f in files:
            clip = load_clip(f, fs, stereo="left-right" if stereo else "mono")
            name = Path(f).name
            if name in variations:
                name = f"{name} ({len(variations) + 1})"
            variations[name] = clip.signal
    else:
        if count < 1:
            raise ConfigError("The number of variations must be at least 1.")
        secs = model.clip_seconds if seconds is None else seconds
        if secs <= 0:
            raise ConfigError("The length must be more than 0 seconds.")
        for i in range(count):
            s = seed + i
            # generate() restores the original loudness; divide it out to compare with the clip
            audio = generate(model, seconds=secs, seed=s, from_scale=from_scale) / model.gain
            tag = "free" if from_scale is None else f"k{from_scale}"
            variations[f"seed {s} ({tag})"] = audio.astype(np.float32)
            rendered.append({"seed": s, "from_scale": from_scale, "seconds": secs})
    rec = reconstruct(model) / model.gain
    other = _other_excerpt(model) if baselines else None
    untrained = (
        untrained_generator_output(
            model.manifest, min(model.clip_seconds, UNTRAINED_MAX_SECONDS), seed=seed,
            device=model.pyramid.device,
        )
        if baselines and model.manifest.complete
        else None
    )
    stereo_numbers = stereo_report(model.clip, fs, variations) if stereo else None
    # the other measures are of the downmix (metrics.md); the image has its own report
    variations = {k: to_mono(v) for k, v in variations.items()}
    rec = to_mono(rec)
    clip_signal, other_signal = to_mono(model.clip), None if other is None else other[0]
    if rate is not None:
        if rate < 1000 or rate > fs:
            raise ConfigError(f"--rate must be between 1000 Hz and the working rate ({fs} Hz).")
        if rate != fs:
            def band(x: np.ndarray) -> np.ndarray:
                return np.asarray(resample(np.asarray(x, np.float32), fs, rate), np.float32)

            variations = {k: band(v) for k, v in variations.items()}
            clip_signal, rec = band(clip_signal), band(rec)
            other_signal = None if other_signal is None else band(other_signal)
            untrained = None if untrained is None else band(untrained)
            fs = rate
    report = evaluate(
        clip_signal, fs, variations, reconstruction=rec, other_excerpt=other_signal,
        untrained=untrained, seed=seed, with_baselines=baselines,
    )
    if stereo_numbers is not None:
        report.notes["stereo"] = stereo_numbers
    report.notes["project"] = str(Path(project).resolve())
    report.notes["preset"] = model.manifest.config.name
    report.notes["scales"] = f"{model.n_scales} of {model.manifest.n_scales} trained"
    if other is not None:
        report.notes["real_other"] = other[1]
    if rendered:
        report.notes["rendered"] = rendered
    if baselines and not model.manifest.complete:
        report.notes["untrained"] = "skipped: the project is not fully trained"
    return report


def evaluate_takes(project: str | Path, *, count: int = 4, seed: int = 0,
                   device: str | None = "auto", gap: float | None = None) -> dict[str, Any]:
    """Render `count` bridge or ending takes of a project trained with a gap (filling `gap`
    seconds; default the trained gap) and measure their seams (engine.analysis.seams), beside
    the naive splice."""
    from engine.analysis.seams import take_measures
    from engine.generation.render import load_model
    from engine.generation.takes import render_take, take_gap
    from engine.project import RenderRecipe

    model = load_model(project, None if device == "auto" else device)
    layout = model.manifest.layout
    gap = take_gap(layout, gap, None)
    takes = []
    for s in range(seed, seed + count):
        recipe = RenderRecipe.take(layout.mode, s, gap, n_scales=model.n_scales)
        take = render_take(model, recipe)
        m = take_measures(layout, model.clip, take.stitched, take.sidecar(), model.fs)
        takes.append({"seed": s, "words": m.words(), "seams": take.sidecar(), **m.to_numbers()})
    return {"project": str(Path(project).resolve()), "mode": layout.mode,
            "gap_s": gap, "trained_gap_s": layout.gap_seconds, "sample_rate": model.fs,
            "scales": f"{model.n_scales} of {model.manifest.n_scales} trained", "takes": takes}


def _format_takes(report: dict[str, Any]) -> str:
    rows = [f"{report['mode']} takes, gap {report['gap_s']:g} s ({report['scales']}); a seam's "
            "percentile is its log-mel jump among the real sections' own changes (50 = typical); "
            "motion is the take's loudness motion over the sections' (under 0.35: smeared)"]
    head = f"{'seed':>5} {'seam':>6} {'jump dB':>8} {'pctl':>5} {'z':>6} {'naive dB':>9} " \
           f"{'naive pctl':>10} {'FD to A':>8} {'FD to B':>8} {'A vs B':>7} {'copy s':>7} " \
           f"{'motion':>6}"
    rows.append(head)
    for t in report["takes"]:
        i = 1
        while f"seam{i}_jump_db" in t:
            rows.append(
                f"{t['seed']:>5} {t[f'seam{i}_position_s']:>6.2f} {t[f'seam{i}_jump_db']:>8.2f} "
                f"{t[f'seam{i}_percentile']:>5.0f} {t[f'seam{i}_z']:>6.2f} "
                f"{t[f'seam{i}_naive_jump_db']:>9.2f} {t[f'seam{i}_naive_percentile']:>10.0f} "
                f"{t['timbre_fd_a']:>8.2f} {t.get('timbre_fd_b', float('nan')):>8.2f} "
                f"{t.get('timbre_fd_a_vs_b', float('nan')):>7.2f} {t['longest_copy_s']:>7.2f} "
                f"{t.get('motion_ratio', float('nan')):>6.2f}")
            i += 1
        rows.append(f"      {t['words']}")
    return "\n".join(rows)


def handler(args: argparse.Namespace) -> int:
    from engine.fileutil import atomic_write_json, json_safe

    if args.count < 1:
        raise ConfigError("--count must be at least 1.")
    from engine.project.checkpoint import read_manifest

    layout = read_manifest(args.project).layout
    if layout is not None and layout.gap_span is not None:
        if args.files:
            raise ConfigError("Evaluating files against a bridge or ending project is not "
                              "supported yet; leave out FILES to render and measure takes.")
        t0 = time.monotonic()
        takes = evaluate_takes(args.project, count=args.count, seed=args.seed, device=args.device,
                               gap=args.gap)
        print(_format_takes(takes))
        if args.json_out:
            takes["elapsed_s"] = round(time.monotonic() - t0, 3)
            atomic_write_json(Path(args.json_out), json_safe(takes))
            print(f"Wrote {args.json_out}", file=sys.stderr)
        return 0
    if args.gap is not None:
        raise ConfigError("--gap is for bridge and ending projects; this one has no gap.")
    if args.seconds is not None and args.seconds <= 0:
        raise ConfigError("--seconds must be more than 0.")
    t0 = time.monotonic()
    report = evaluate_project(
        args.project, files=list(args.files), count=args.count, seconds=args.seconds,
        seed=args.seed, from_scale=args.from_scale, baselines=not args.no_baselines,
        device=args.device, rate=args.rate,
    )
    elapsed = time.monotonic() - t0
    print(
        f"Evaluated {len(report.variations)} variation(s) against the {report.clip_seconds:.1f} s "
        f"training clip at {report.sr} Hz ({report.notes.get('scales', '')}) in {elapsed:.1f} s."
    )
    print(report.format_table())
    if "stereo" in report.notes:
        from engine.analysis.stereo import format_stereo_report

        print("\nStereo image (per band: inter-channel correlation, side/mid energy; errors "
              "against the original's; metrics.md):")
        print(format_stereo_report(report.notes["stereo"]))
    if args.json_out:
        data = report.to_dict()
        data["elapsed_s"] = round(elapsed, 3)
        out = Path(args.json_out)
        atomic_write_json(out, json_safe(data))  # OutputError (one line, exit 2) on failure
        print(f"Wrote {out}", file=sys.stderr)
    return 0


__all__ = ["register", "handler", "evaluate_project", "evaluate_takes"]

