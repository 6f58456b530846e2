"""`songwriter-cli study ...`: build a listening study, inspect it, analyse its results.

Rating itself happens in the app (Study > Take Study, or `python -m songwriter_app.study take
STUDY_DIR`), which plays the stimuli and saves every answer as it is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.errors import EngineError


def _strengths(text: str) -> list[int | None]:
    out: list[int | None] = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part in ("free", "none", "u", "unconditional"):
            out.append(None)
        else:
            try:
                out.append(int(part))
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"strength {part!r}: use 'free' or a scale number (0 = most different)"
                ) from None
    if not out:
        raise argparse.ArgumentTypeError("give at least one strength")
    return out


def _load_json(path: str, what: str) -> Any:
    from engine.study import StudyError

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StudyError(f"Cannot read the {what} file {path}: {exc}.") from exc


def cmd_build(args: argparse.Namespace) -> int:
    from engine.cli import ProgressBar
    from engine.study import (
        GenerateSpec,
        ProjectSelection,
        StudyError,
        StudySpec,
        find_variation_files,
    )
    from engine.study.build import BuildFinished, BuildProgress, iter_build_study

    if not args.project and not args.variation:
        raise StudyError("Give at least one --project or --variation file.")
    projects = []
    for i, p in enumerate(args.project or []):
        label = args.label[i] if args.label and i < len(args.label) else None
        gens = [
            GenerateSpec(count=args.generate, seed=args.seed + 1000 * j, from_scale=k,
                         seconds=args.seconds)
            for j, k in enumerate(args.strengths)
        ] if args.generate else []
        projects.append(ProjectSelection(
            path=Path(p), label=label,
            variation_files=find_variation_files(p) if args.use_variations else [],
            generate=gens, real_training=args.real_training, real_other=args.real_other,
            real_clip=args.real_clip,
        ))
    questions = _load_json(args.questions, "question set") if args.questions else None
    finals = _load_json(args.final_questions, "final question set") if args.final_questions else None
    if isinstance(questions, dict):  # a file holding both lists
        finals = questions.get("final_questions", finals)
        questions = questions.get("questions")
    spec = StudySpec(
        title=args.title, projects=projects, variation_files=[Path(v) for v in args.variation or []],
        stimuli_per_rater=args.per_rater, target_lufs=args.lufs, trim_s=args.trim,
        excerpt_seconds=args.excerpt_seconds, seed=args.seed, order_seed=args.order_seed,
        require_play=args.require_play, real_check_threshold=args.threshold,
        questions=questions, final_questions=finals, device=args.device,
    )
    bar = ProgressBar(sys.stderr)
    for ev in iter_build_study(spec, args.out):
        if isinstance(ev, BuildProgress):
            bar.update(f"{ev.done}/{ev.total} {ev.message}", ev.done / max(1, ev.total))
        elif isinstance(ev, BuildFinished):
            st = ev.study
            n_real = sum(s.kind == "real" for s in st.stimuli)
            per = st.settings.get("stimuli_per_rater") or len(st.stimuli)
            bar.line(
                f"Built {len(st.stimuli)} stimuli ({len(st.stimuli) - n_real} generated, {n_real} "
                f"real) at {st.settings['sample_rate']} Hz, {st.settings['common_lufs']} LUFS; "
                f"{per} per rater. Study: {st.root}"
            )
            for w in ev.warnings:
                bar.line(f"warning: {w}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from engine.study import Study

    st = Study.load(args.study)
    n_real = sum(s.kind == "real" for s in st.stimuli)
    print(f"Study     {st.title}  ({st.root})")
    print(f"Stimuli   {len(st.stimuli)} ({len(st.stimuli) - n_real} generated, {n_real} real), "
          f"{st.settings.get('stimuli_per_rater') or len(st.stimuli)} per rater, play "
          f"requirement: {st.require_play}")
    print(f"Questions {', '.join(q['id'] for q in st.questions)}; final: "
          f"{', '.join(q['id'] for q in st.final_questions) or '-'}")
    if args.truth:
        for s in st.stimuli:
            print(f"  {s.code}  {s.seconds:5.2f} s  {s.kind:<9} {s.condition}")
    files = st.session_files()
    print(f"Sessions  {len(files)}")
    for s in st.load_sessions():
        state = "finished" if s.completed else f"{s.n_answered}/{s.n} answered"
        print(f"  {s.rater:<24} {state}")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from engine.study import Study, write_results_csv, write_results_json
    from engine.study.stats import analyse, format_summary

    st = Study.load(args.study)
    sessions = st.load_sessions(args.sessions or [])
    summary = analyse(st, sessions, threshold=args.threshold, exclude_flagged=args.exclude_flagged)
    print(f"{st.title}: {len(sessions)} session(s), {summary.n_rows} answered rating(s)")
    print(format_summary(summary, st.questions))
    if args.csv:
        print(f"CSV  {write_results_csv(args.csv, st, sessions)}")
    if args.json:
        print(f"JSON {write_results_json(args.json, st, sessions, summary)}")
    return 0


def cmd_take(args: argparse.Namespace) -> int:
    raise EngineError(
        "Rating happens in the app, which plays the samples: open Study > Take Study, or run "
        f"python -m songwriter_app.study take {args.study}"
    )


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("study", help="blind listening studies: build, info, results",
                              description="Blind listening studies of generated variations "
                              "against real excerpts.")
    sub = p.add_subparsers(dest="study_command", required=True, metavar="STUDY_COMMAND")

    b = sub.add_parser("build", help="prepare a study folder from trained projects",
                       description="Collect generated variations and real excerpts, resample, "
                       "loudness-match, trim, blind and write a self-contained study folder.")
    b.add_argument("out", help="new study folder")
    b.add_argument("--project", action="append", help="trained project folder (repeatable)")
    b.add_argument("--label", action="append", help="name of the matching --project in results")
    b.add_argument("--generate", type=int, default=0,
                   help="new variations per project and strength (default 0)")
    b.add_argument("--strengths", type=_strengths, default=[None],
                   help="comma list of strengths: 'free' and/or scale numbers (default free)")
    b.add_argument("--seconds", type=float, default=None,
                   help="length of new variations before trimming (default: the clip's length)")
    b.add_argument("--use-variations", action="store_true",
                   help="include the variation files stored in each project's variations/")
    b.add_argument("--variation", action="append",
                   help="a generated wav (with its JSON sidecar) to include (repeatable)")
    b.add_argument("--real-training", type=int, default=1,
                   help="excerpts of each project's training section (default 1)")
    b.add_argument("--real-other", type=int, default=0,
                   help="excerpts of other sections of each source file (default 0)")
    b.add_argument("--real-clip", type=int, default=0,
                   help="excerpts of each project's clip.wav (default 0)")
    b.add_argument("--excerpt-seconds", type=float, default=None,
                   help="length of real excerpts (default: like the generated stimuli)")
    b.add_argument("--per-rater", type=int, default=None,
                   help="stimuli each rater hears (default all)")
    b.add_argument("--lufs", type=float, default=-23.0, help="common loudness (default -23)")
    b.add_argument("--trim", type=float, default=0.2,
                   help="seconds cut from both ends of generated audio (default 0.2)")
    b.add_argument("--require-play", choices=["none", "any", "full"], default="full",
                   help="before answering, require: nothing, one play, one full play (default)")
    b.add_argument("--threshold", type=float, default=0.5,
                   help="flag raters judging fewer real excerpts real than this (default 0.5)")
    b.add_argument("--title", default="Listening study")
    b.add_argument("--questions", help="JSON file with a question list (or "
                   "{\"questions\": [...], \"final_questions\": [...]})")
    b.add_argument("--final-questions", help="JSON file with the final question list")
    b.add_argument("--seed", type=int, default=0, help="seed for codes, excerpts and renders")
    b.add_argument("--order-seed", type=int, default=None, help="base seed of the rater orders")
    b.add_argument("--device", default="cpu", help="device for rendering (default cpu)")
    b.set_defaults(func=cmd_build)

    i = sub.add_parser("info", help="describe a study and its sessions")
    i.add_argument("study")
    i.add_argument("--truth", action="store_true", help="list the stimuli with their hidden truth")
    i.set_defaults(func=cmd_info)

    r = sub.add_parser("results", help="analyse the sessions; export CSV and JSON")
    r.add_argument("study")
    r.add_argument("--sessions", nargs="+", help="more session files (e.g. from other machines)")
    r.add_argument("--csv", help="write one row per rater and stimulus here")
    r.add_argument("--json", help="write the study definition, sessions and summary here")
    r.add_argument("--threshold", type=float, default=None,
                   help="flag raters below this share of real excerpts judged real")
    r.add_argument("--exclude-flagged", action="store_true",
                   help="leave flagged raters out of the condition summaries")
    r.set_defaults(func=cmd_results)

    t = sub.add_parser("take", help="rate a study (opens the app)")
    t.add_argument("study")
    t.set_defaults(func=cmd_take)
