"""songwriter-cli: train, generate and inspect from the terminal (the same API the app uses)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from engine import ENGINE_VERSION
from engine.errors import ConfigError, EngineError
from engine.training.cost import clock_time

# Sub-commands added by other modules: each registers itself on the sub-parser collection
# and sets `func` to a handler taking the parsed args and returning an exit code.
EXTRA_COMMANDS: list[str] = ["engine.cli.evaluate", "engine.cli.study", "engine.cli.estimate",
                             "engine.cli.queue"]


class ProgressBar:
    """One self-rewriting line on a terminal; plain lines every few seconds otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_plain = 0.0

    def update(self, text: str, fraction: float) -> None:
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns
            bar_w = 20
            filled = int(round(bar_w * min(max(fraction, 0.0), 1.0)))
            line = f"[{'#' * filled}{'.' * (bar_w - filled)}] {text}"
            self.stream.write("\r" + line[: width - 1].ljust(width - 1))
            self.stream.flush()
        elif time.monotonic() - self.last_plain > 5.0:
            self.last_plain = time.monotonic()
            self.stream.write(text + "\n")
            self.stream.flush()

    def line(self, text: str) -> None:
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
        self.stream.write(text + "\n")
        self.stream.flush()


def cmd_train(args: argparse.Namespace) -> int:
    from engine.config import get_preset, parse_overrides
    from engine.training.loop import (
        CancelToken,
        ScaleFinished,
        TrainCancelled,
        TrainFinished,
        TrainProgress,
        TrainStarted,
        iter_train,
    )

    if args.resume and args.set:
        raise EngineError("A project's settings are fixed when it is created; --set cannot "
                          "change them on --resume.")
    overrides = parse_overrides(args.set)
    if args.iters is not None:
        overrides["iters_per_scale"] = args.iters
    layout = None if args.resume else _layout_request(args)
    preset = args.preset
    if preset is None and not args.resume:
        from engine.config import default_preset_for
        from engine.device import resolve_device

        preset = default_preset_for(resolve_device(args.device).type)
    cfg = None if args.resume else get_preset(preset, **overrides)
    if not args.resume and args.clip is None and layout is None:
        raise EngineError("train needs a CLIP (or --resume with an existing --project).")
    bar = ProgressBar(sys.stderr)
    token = CancelToken()
    events = iter_train(
        args.clip, args.project, cfg, start=args.start, duration=args.duration,
        device=args.device, seed=args.seed, resume=args.resume, cancel=token, layout=layout,
    )
    try:
        for ev in events:
            if isinstance(ev, TrainStarted):
                rates = ", ".join(f"{r}" for r in ev.rates)
                what = "Resuming" if ev.first_scale else "Training"
                if layout is not None and not ev.first_scale:
                    from engine.project.checkpoint import read_manifest

                    placed = read_manifest(ev.project_dir).layout
                    if placed is not None:
                        bar.line(f"Layout ({placed.mode}):\n  " + placed.describe().replace("\n", "\n  "))
                bar.line(
                    f"{what} preset '{ev.config.name}' on {ev.device_name}: {ev.clip_seconds:.1f} s "
                    f"clip, {ev.n_scales} scales ({rates} Hz), {ev.config.iters_per_scale} "
                    f"iterations each; starting at scale {ev.first_scale + 1}."
                )
            elif isinstance(ev, TrainProgress):
                done = (ev.scale + ev.iteration / ev.iterations) / ev.n_scales
                losses = " ".join(
                    f"{k}={ev.losses[k]:+.3f}" for k in ("d/total", "g/adv", "rec", "gp") if k in ev.losses
                )
                bar.update(
                    f"scale {ev.scale + 1}/{ev.n_scales} ({ev.rate} Hz) it {ev.iteration}/"
                    f"{ev.iterations} {losses} {ev.seconds_per_iteration:.2f} s/it "
                    f"elapsed {clock_time(ev.elapsed)} left ~{clock_time(ev.eta_seconds)}",
                    done,
                )
            elif isinstance(ev, ScaleFinished):
                bar.line(
                    f"scale {ev.scale + 1}/{ev.n_scales} ({ev.rate} Hz) finished in "
                    f"{clock_time(ev.seconds)}; saved."
                )
            elif isinstance(ev, TrainFinished):
                bar.line(f"Done in {clock_time(ev.elapsed)}. Project: {ev.project_dir}")
            elif isinstance(ev, TrainCancelled):
                bar.line(
                    f"Cancelled after {ev.scales_done} of {ev.n_scales} scales; resume with "
                    f"songwriter-cli train --project {ev.project_dir} --resume"
                )
                return 130
    except KeyboardInterrupt:
        token.cancel()
        events.close()
        bar.line(
            f"Interrupted. Finished scales are saved; resume with "
            f"songwriter-cli train --project {args.project} --resume"
        )
        return 130
    return 0


def _layout_request(args: argparse.Namespace) -> Any:
    """The LayoutRequest the train options ask for, or None for a plain one-section project."""
    from engine.project.layout import LayoutRequest, SectionRequest

    sections = list(args.section or [])
    if not sections and args.mode is None and args.gap is None:
        return None
    if not sections:
        raise ConfigError("Give the sections with --section START-END (or FILE:START-END); a "
                          "bridge needs two, A and B.")
    if args.start or args.duration is not None:
        raise ConfigError("--start/--duration choose a single section; with --section give each "
                          "section's START-END instead.")
    mode = args.mode or ("bridge" if args.gap and len(sections) == 2 else
                         "ending" if args.gap else "variation")
    request = LayoutRequest(mode, tuple(SectionRequest.parse(t, args.clip) for t in sections),
                            float(args.gap or 0.0))
    request.check()
    return request


def cmd_generate(args: argparse.Namespace) -> int:
    from engine.fileutil import check_writable_dir
    from engine.generation.render import check_request, iter_variations, project_model
    from engine.project import Project

    if (args.out is None) == (not args.into_project):
        raise ConfigError("Say where the renders go: --out FOLDER, or --into-project.")
    project = Project.open(args.project)
    device = None if args.device == "auto" else args.device
    layout = project.manifest.layout
    if layout is not None and layout.gap_span is not None:
        return _generate_takes(project, args, device)
    if args.fade_out or args.crossfade is not None or args.gap is not None:
        raise ConfigError("--gap, --fade-out and --crossfade are for bridge and ending projects.")
    if args.seconds is None:
        args.seconds = 10.0
    model = project_model(project, device)
    from_scale = args.from_scale
    check_request(model, count=args.count, seconds=args.seconds, from_scale=from_scale)
    if args.into_project:
        return _generate_into_project(project, args, device)
    out = check_writable_dir(args.out)
    for v in iter_variations(
        model, count=args.count, seconds=args.seconds, seed=args.seed, from_scale=from_scale,
        trim=not args.no_trim, out_dir=out, subtype=args.bits,
    ):
        print(f"{v.path}  seed {v.seed}  {v.audio.shape[-1] / v.sample_rate:.2f} s")
    return 0


def _generate_takes(project: Any, args: argparse.Namespace, device: str | None) -> int:
    """Bridge or ending takes: the stitched whole and the take alone (wav + JSON sidecar each)
    in --out, or the stitched whole into the project's list (--into-project)."""
    from engine.analysis.seams import take_verdict
    from engine.audio.io import save_audio
    from engine.fileutil import atomic_write_json, check_writable_dir
    from engine.generation import VariationReady, VerdictReady, generate_into_project
    from engine.generation.render import project_model
    from engine.generation.takes import check_take, render_take, take_gap
    from engine.project import RenderRecipe

    layout = project.manifest.layout
    if args.from_scale is not None:
        raise ConfigError(f"This is a {layout.mode} project: its takes fill the gap; "
                          "--from-scale is for variations.")
    if args.count < 1:
        raise ConfigError("The number of takes must be at least 1.")
    gap = take_gap(layout, args.gap, args.seconds)
    if args.fade_out and layout.mode != "ending":
        raise ConfigError("--fade-out is for endings.")
    recipes = [RenderRecipe.take(layout.mode, s, gap, crossfade=args.crossfade,
                                 fade_out=args.fade_out or 0.0, n_scales=project.scales_done)
               for s in range(args.seed, args.seed + args.count)]
    model = project_model(project, device)
    for r in recipes:
        check_take(model, r)
    if args.into_project:
        for ev in generate_into_project(project, recipes, device=device, take_verdict=take_verdict):
            if isinstance(ev, VariationReady):
                r = ev.record
                note = "  (already there)" if ev.existed else ""
                print(f"{r.id}  {project.store.path(r)}  seed {r.seed}  {r.strength}  seams at "
                      f"{', '.join(f'{s:.3f}' for s in (r.seams or {}).get('seams_s', []))} s{note}")
            elif isinstance(ev, VerdictReady):
                print(f"{ev.record.id}  verdict: {ev.record.verdict}")
        return 0
    from engine import ENGINE_VERSION

    out = check_writable_dir(args.out)
    for r in recipes:
        take = render_take(model, r)
        whole = out / f"{layout.mode}_seed{r.seed}_stitched.wav"
        alone = out / f"{layout.mode}_seed{r.seed}_take.wav"
        save_audio(whole, take.stitched, take.sample_rate, subtype=args.bits)
        save_audio(alone, take.take, take.sample_rate, subtype=args.bits)
        for path, what in ((whole, "stitched"), (alone, "take")):
            atomic_write_json(path.with_suffix(".json"), {
                "variation": {"file": path.name, "what": what, "seed": r.seed,
                              "strength": r.label, "sample_rate": take.sample_rate,
                              "seconds": round(len(take.stitched if what == "stitched" else
                                                   take.take) / take.sample_rate, 6),
                              "recipe": r.to_dict(), "seams": take.sidecar(),
                              "layout": take.layout.to_dict()},
                "provenance": {"engine_version": ENGINE_VERSION, **project.provenance()},
            })
        seams = ", ".join(f"{s:.3f}" for s in take.sidecar()["seams_s"])
        print(f"{whole}  {alone}  seed {r.seed}  {len(take.stitched) / take.sample_rate:.2f} s, "
              f"seams at {seams} s")
    return 0


def _generate_into_project(project: Any, args: argparse.Namespace, device: str | None) -> int:
    """The app's use case: renders by recipe into the project's variation list, with verdicts."""
    from engine.analysis import quick_verdict
    from engine.generation import VariationReady, VerdictReady, generate_into_project
    from engine.project import RenderRecipe

    recipes = [RenderRecipe.of(s, args.seconds, args.from_scale, project.scales_done)
               for s in range(args.seed, args.seed + args.count)]
    for ev in generate_into_project(project, recipes, device=device, verdict=quick_verdict):
        if isinstance(ev, VariationReady):
            r = ev.record
            note = "  (already there)" if ev.existed else ""
            print(f"{r.id}  {project.store.path(r)}  seed {r.seed}  {r.strength}{note}")
        elif isinstance(ev, VerdictReady):
            print(f"{ev.record.id}  verdict: {ev.record.verdict}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from engine.project.checkpoint import read_manifest

    m = read_manifest(args.project)
    cfg = m.config
    info = {
        "project": str(Path(args.project).resolve()),
        "preset": cfg.name,
        "format_version": m.format_version,
        "engine_version": m.engine_version,
        "source": m.source,
        "working_rate": cfg.fs,
        "audio_channels": m.audio_channels,
        "stereo": cfg.stereo if m.audio_channels == 2 else "mono",
        "scales": [
            {
                "scale": i,
                "rate": r,
                "channels": m.channels_at(i),
                "noise_amp": m.noise_amps[i],
                "done": i < m.scales_done,
                "iterations": m.iterations_done[i] if i < len(m.iterations_done) else 0,
                "seconds": m.seconds_per_scale[i] if i < len(m.seconds_per_scale) else None,
            }
            for i, r in enumerate(m.rates)
        ],
        "scales_done": m.scales_done,
        "n_scales": m.n_scales,
        "time_spent_s": sum(m.seconds_per_scale),
        "device": m.device_name or m.device,
        **({"layout": m.layout.to_dict()} if m.layout is not None else {}),
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    src = m.source
    print(f"Project   {info['project']}")
    print(f"Source    {src.get('path')}  ({src.get('start', 0):.1f} s + {src.get('duration', 0):.1f} s)")
    audio = "mono" if m.audio_channels == 1 else f"stereo (trained as {cfg.stereo})"
    print(f"Preset    {cfg.name}: {cfg.fs} Hz {audio}, {cfg.channels_first}/{cfg.channels} network "
          f"channels, {cfg.iters_per_scale} iterations per scale")
    print(f"Device    {info['device']}")
    if m.layout is not None:
        first = m.rates[0]
        print(f"Layout    {m.layout.mode}, {m.layout.total / cfg.fs:.2f} s training clip")
        for line in m.layout.describe().splitlines():
            print(f"  {line}")
        if m.layout.holes:
            print(f"  (masked while training; the pyramid starts at {first} Hz, where the "
                  "critic still sees audio outside the gap)")
    print(f"Progress  {m.scales_done} of {m.n_scales} scales, "
          f"{sum(m.iterations_done)} iterations, {clock_time(info['time_spent_s'])} spent")
    for s in info["scales"]:
        state = f"done {clock_time(s['seconds'] or 0)}" if s["done"] else "to do"
        print(f"  scale {s['scale'] + 1:2d}  {s['rate']:6d} Hz  {s['channels']:3d} ch  "
              f"noise {s['noise_amp']:.4f}  {state}")
    if not m.complete:
        left = m.n_scales - m.scales_done
        print(f"Remaining {left} scale(s): songwriter-cli train --project {args.project} --resume")
    return 0


def preset_option(parser: argparse.ArgumentParser, *, by_device: bool = False) -> None:
    """The --preset option of train and queue add: every preset; the CPU default, or with
    by_device None (the training device's default, engine.config.default_preset_for)."""
    from engine.config import DEFAULT_CPU_PRESET, DEFAULT_GPU_PRESET, preset_names

    default = (f"{DEFAULT_CPU_PRESET} on a CPU, {DEFAULT_GPU_PRESET} on a CUDA GPU" if by_device
               else DEFAULT_CPU_PRESET)
    parser.add_argument("--preset", default=None if by_device else DEFAULT_CPU_PRESET,
                        help=f"{', '.join(preset_names())} (default {default})")


def build_parser() -> argparse.ArgumentParser:
    from engine.config import PRESETS

    p = argparse.ArgumentParser(
        prog="songwriter-cli",
        description="Train a multiscale single-sample GAN on one section of a song and render "
        "variations of it.",
    )
    p.add_argument("--version", action="version", version=f"songwriter-cli {ENGINE_VERSION}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    preset_help = "; ".join(f"{name}: {cfg.help_text()}" for name, cfg in PRESETS.items())
    t = sub.add_parser("train", help="train on a clip (or resume a project)",
                       description="Train on one clip. Presets -- " + preset_help)
    t.add_argument("clip", nargs="?", help="audio file (wav, flac, ogg, mp3, aiff)")
    t.add_argument("--project", required=True, help="project folder to create (or resume)")
    preset_option(t, by_device=True)
    t.add_argument("--start", type=float, default=0.0, help="section start in seconds")
    t.add_argument("--duration", type=float, default=None, help="section length in seconds (default: as long as the preset allows)")
    t.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--iters", type=int, default=None,
                   help="override iterations per scale (a scale that trains on windows uses "
                   "iters_window instead when that is set)")
    t.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override any setting of the preset, e.g. --set amp=true --set "
                   "compile=default, or --set window=0 for whole-scale (reference) training "
                   "(the fields: engine/config.py TrainConfig)")
    t.add_argument("--section", action="append", default=None, metavar="[FILE:]START-END",
                   help="a section to train on, in seconds (repeat for several; FILE defaults "
                   "to CLIP). Several sections train one model on all of them, junctions masked; "
                   "with --mode bridge the two sections are A and B")
    t.add_argument("--gap", type=float, default=None, metavar="SECONDS",
                   help="bridge: the gap between A and B to fill; ending: the continuation after "
                   "the last section (the gap is masked while training, as in CAW inpainting)")
    t.add_argument("--mode", choices=["variation", "bridge", "ending"], default=None,
                   help="what the sections are for (default: bridge for two sections and a gap, "
                   "ending for one and a gap, else variation)")
    t.add_argument("--resume", action="store_true", help="continue the project from its last finished scale")
    t.set_defaults(func=cmd_train)

    g = sub.add_parser("generate", help="render variations from a trained project")
    g.add_argument("--project", required=True)
    g.add_argument("--count", type=int, default=4)
    g.add_argument("--seconds", type=float, default=None,
                   help="length of each render (default 10; a bridge or ending: see --gap)")
    g.add_argument("--gap", type=float, default=None, metavar="SECONDS",
                   help="bridge/ending: the gap each take fills (default: the gap the model "
                   "trained with; any other from 0.5 s works without retraining)")
    g.add_argument("--seed", type=int, default=0, help="first seed; variation i uses seed+i")
    g.add_argument("--from-scale", type=int, default=None,
                   help="keep the real signal up to this scale (0 = coarsest = most different); "
                   "default: unconditional")
    g.add_argument("--out", default=None, help="output folder (wav + JSON sidecar per render)")
    g.add_argument("--into-project", action="store_true",
                   help="add the renders to the project's variation list instead (as the app "
                   "does: untrimmed float wavs, recipes, verdicts)")
    g.add_argument("--bits", default="float", choices=["16", "24", "float"], help="sample format (default float)")
    g.add_argument("--no-trim", action="store_true", help="keep the 200 ms edges")
    g.add_argument("--crossfade", type=float, default=None, metavar="SECONDS",
                   help="bridge/ending: half-Hann cross-fade at each seam (default 0.25 s, at "
                   "most half the gap)")
    g.add_argument("--fade-out", type=float, default=0.0, metavar="SECONDS",
                   help="ending: fade out over the last SECONDS")
    g.add_argument("--device", default="auto")
    g.set_defaults(func=cmd_generate)

    i = sub.add_parser("info", help="describe a project")
    i.add_argument("--project", required=True)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_info)

    import importlib

    for mod_name in EXTRA_COMMANDS:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as exc:
            if exc.name == mod_name:
                continue
            raise
        mod.register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return int(func(args) or 0)
    except EngineError as exc:
        print(f"songwriter-cli: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("songwriter-cli: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
