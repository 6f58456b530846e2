"""songwriter-cli queue: line up sections, run them unattended (here or on a Ray cluster),
and look after the queue (list, cancel, retry, remove, move)."""

from __future__ import annotations

import argparse
import json
import math
import re
import signal
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    from engine.cli import preset_option

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--queue", dest="queue_file", default=argparse.SUPPRESS, metavar="FILE",
                        help="the queue file (default: $SONGWRITER_QUEUE, else queue.json beside "
                        "the projects folder, the one the app uses)")
    q = sub.add_parser("queue", help="train many sections unattended: add, list, run, cancel...",
                       description="A training queue shared with the app. Jobs run one at a "
                       "time on this computer, or as tasks on a Ray cluster (--cluster).")
    q.add_argument("--queue", dest="queue_file", default=None, metavar="FILE",
                   help=argparse.SUPPRESS)
    qs = q.add_subparsers(dest="queue_command", required=True, metavar="ACTION")

    a = qs.add_parser("add", parents=[common], help="add clips (one job per clip and section)",
                      description="One job per clip and section; with --section START-END "
                      "(as in train) one job per clip trains on all the sections given "
                      "(several sections, a bridge or an ending).")
    a.add_argument("clips", nargs="*", metavar="CLIP",
                   help="audio files (may be left out when every --section names its FILE)")
    a.add_argument("--section", action="append", default=[], metavar="[FILE:]START-END",
                   help="as in train: a section to train on (repeat for several; FILE defaults "
                   "to each CLIP); all of them go into one job per clip. The older form "
                   "START[:DURATION] still queues one plain job per clip and section; default: "
                   "from 0 s, as long as the preset allows")
    a.add_argument("--gap", type=float, default=None, metavar="SECONDS",
                   help="as in train: the gap a bridge (between A and B) or an ending (after "
                   "the last section) learns to fill")
    a.add_argument("--mode", choices=["variation", "bridge", "ending"], default=None,
                   help="as in train (default: bridge for two sections and a gap, ending for "
                   "one and a gap, else variation)")
    preset_option(a)
    a.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a setting of the preset (as in train --set)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--project", default=None,
                   help="the project folder (one clip and section only)")
    a.add_argument("--projects-dir", default=None,
                   help="where new project folders go (default: the app's projects folder)")
    a.set_defaults(func=cmd_add)

    li = qs.add_parser("list", parents=[common], help="show the jobs and their progress")
    li.add_argument("--json", action="store_true")
    li.set_defaults(func=cmd_list)

    r = qs.add_parser("run", parents=[common], help="run the queue until it is empty",
                      description="Run the queued jobs in order. Ctrl-C stops after the "
                      "current iteration; the job resumes at the next run.")
    r.add_argument("--device", default="auto", help="cpu, cuda or auto (default); local runs")
    r.add_argument("--cluster", default=None, metavar="ADDRESS",
                   help="run each job as a task on a Ray cluster (ADDRESS as for ray.init, e.g. "
                   "auto or 10.0.0.5:6379), or 'local' to start one on this computer; needs the "
                   "'cluster' extra")
    r.add_argument("--cpus-per-task", type=int, default=1,
                   help="CPU cores per job on a cluster without GPUs (default 1)")
    r.add_argument("--max-retries", type=int, default=3,
                   help="times a job whose worker dies is retried (default 3)")
    r.add_argument("--local-cpus", type=int, default=None,
                   help="with --cluster local: CPU cores the local cluster may use")
    r.set_defaults(func=cmd_run)

    for name, helptext, fn in (
        ("cancel", "cancel jobs (a running job stops and keeps its finished scales)", cmd_cancel),
        ("retry", "queue failed or cancelled jobs again (they resume)", cmd_retry),
        ("remove", "remove jobs from the queue (their project folders stay)", cmd_remove),
    ):
        c = qs.add_parser(name, parents=[common], help=helptext)
        c.add_argument("jobs", nargs="+", metavar="JOB", help="the job's position in the list, or its id "
                       "(or the start of it; a number is a position when there is one)")
        c.set_defaults(func=fn)

    m = qs.add_parser("move", parents=[common], help="reorder: move a job in the queue")
    m.add_argument("job", metavar="JOB")
    where = m.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", type=int, metavar="POSITION", help="1-based position")
    where.add_argument("--up", action="store_true")
    where.add_argument("--down", action="store_true")
    where.add_argument("--top", action="store_true")
    where.add_argument("--bottom", action="store_true")
    m.set_defaults(func=cmd_move)


def _queue(args: argparse.Namespace) -> Any:
    from engine.queue import QueueFile, default_queue_path

    path = getattr(args, "queue_file", None)
    return QueueFile(Path(path) if path else default_queue_path())


_OLD_SECTION = re.compile(r"^\s*\d+(\.\d*)?\s*(:\s*\d+(\.\d*)?\s*)?$")


def _is_old_section(text: str) -> bool:
    """START or START:DURATION (the queue's first form), as opposed to [FILE:]START-END."""
    return bool(_OLD_SECTION.match(text))


def _layout_requests(args: argparse.Namespace) -> list[Any] | None:
    """One LayoutRequest per clip (or one when there is no clip and every section names its
    file), as train builds it; None for plain one-section jobs (no --section START-END, no
    --gap, no --mode)."""
    from engine.errors import ConfigError
    from engine.project.layout import LayoutRequest, SectionRequest

    new = [t for t in args.section if not _is_old_section(t)]
    if not new and args.gap is None and args.mode is None:
        return None
    if not new:
        raise ConfigError("--gap and --mode go with sections written START-END (or "
                          "FILE:START-END), as in train.")
    if len(new) != len(args.section):
        raise ConfigError("Write every --section the same way: START-END (or FILE:START-END) "
                          "for one job on all of them, or START[:DURATION] for one job each.")
    mode = args.mode or ("bridge" if args.gap and len(new) == 2 else
                         "ending" if args.gap else "variation")
    requests = []
    for clip in args.clips or [None]:
        try:
            sections = tuple(SectionRequest.parse(t, clip) for t in new)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (The older form START or START:DURATION queues one "
                              "plain job per section.)") from None
        req = LayoutRequest(mode, sections, float(args.gap or 0.0))
        req.check()
        requests.append(req)
    return requests


def _section(text: str) -> tuple[float, float | None]:
    from engine.errors import ConfigError

    start, _, dur = text.partition(":")
    try:
        return float(start), float(dur) if dur else None
    except ValueError:
        raise ConfigError(f"A section looks like START or START:DURATION in seconds, not "
                          f"{text!r}.") from None


def cmd_add(args: argparse.Namespace) -> int:
    from engine.config import parse_overrides
    from engine.errors import AudioError, ConfigError
    from engine.queue import default_projects_dir
    from engine.queue.model import layout_jobs, section_jobs

    requests = _layout_requests(args)
    files = [s.path for r in requests for s in r.sections] if requests else list(args.clips)
    if not files:
        raise ConfigError("Give the clips to queue (or sections written FILE:START-END).")
    for clip in dict.fromkeys(map(str, files)):
        if not Path(clip).is_file():
            raise AudioError(f"{clip} is not a file.")
    queue = _queue(args)
    projects_dir = Path(args.projects_dir) if args.projects_dir else default_projects_dir()
    if requests is not None:
        jobs = layout_jobs(requests, projects_dir=projects_dir, preset=args.preset,
                           overrides=parse_overrides(args.set), seed=args.seed,
                           project=args.project)
    else:
        jobs = section_jobs(
            args.clips, projects_dir=projects_dir, preset=args.preset,
            overrides=parse_overrides(args.set),
            sections=[_section(s) for s in args.section] or None, seed=args.seed,
            project=args.project)
    queue.add(*jobs)
    for job in jobs:
        print(f"{job.id}  queued  {job.label}  {job.preset}  -> {job.project}")
    return 0


def _eta(seconds: float | None) -> str:
    from engine.training.cost import clock_time

    if seconds is None or not math.isfinite(seconds):
        return ""
    return clock_time(seconds)


def _progress(job: Any, live: bool) -> str:
    if job.state == "done":
        return f"{job.n_scales}/{job.n_scales} scales"
    if not job.n_scales:
        return ""
    text = f"{job.scales_done}/{job.n_scales} scales"
    if job.state == "running" and live and job.iterations:
        text += f", scale {job.scale + 1} it {job.iteration}/{job.iterations}"
    return text


def cmd_list(args: argparse.Namespace) -> int:
    queue = _queue(args)
    jobs = queue.read()
    live = queue.runner_alive()
    if args.json:
        print(json.dumps({"queue": str(queue.path), "runner_alive": live,
                          "jobs": [j.to_dict() for j in jobs]}, indent=2))
        return 0
    print(f"Queue {queue.path}: {len(jobs)} job(s); "
          f"{'a runner is running it' if live else 'no runner running'}.")
    for pos, j in enumerate(jobs, 1):
        state = j.state
        if state == "running" and not live:
            state = "interrupted"  # its runner is gone: the next run resumes it
        if j.cancel_requested and j.state == "running":
            state = "cancelling"
        eta = _eta(j.eta_seconds) if j.state == "running" and live else ""
        print(f"{pos:3d}  {j.id}  {state:11s} {_progress(j, live):32s} "
              f"{('left ~' + eta) if eta else '':14s} {j.preset:8s} {j.label}")
        print(f"     -> {j.project}")
        if j.error:
            print(f"     error: {j.error}")
    return 0


def _each(args: argparse.Namespace, verb: str) -> int:
    queue = _queue(args)
    op = getattr(queue, verb)
    for ref in args.jobs:
        job = op(ref)
        note = {"cancel": "cancel requested (it stops after this iteration)"
                if job.state == "running" else "cancelled",
                "retry": "queued again (it resumes from its last finished scale)",
                "remove": f"removed (its project folder {job.project} stays)"}[verb]
        print(f"{job.id}  {note}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    return _each(args, "cancel")


def cmd_retry(args: argparse.Namespace) -> int:
    return _each(args, "retry")


def cmd_remove(args: argparse.Namespace) -> int:
    return _each(args, "remove")


def cmd_move(args: argparse.Namespace) -> int:
    queue = _queue(args)
    jobs = queue.read()
    job = queue.get(args.job)
    here = [j.id for j in jobs].index(job.id)
    to = (args.to - 1 if args.to is not None else here - 1 if args.up else here + 1 if args.down
          else 0 if args.top else len(jobs) - 1)
    queue.move(job.id, to)
    print(f"{job.id}  now at position {[j.id for j in queue.read()].index(job.id) + 1}")
    return 0


class QueueDisplay:
    """Lines for starts and ends; one self-rewriting line with every running job's progress."""

    def __init__(self, queue: Any) -> None:
        from engine.cli import ProgressBar

        self.bar = ProgressBar(sys.stderr)
        self.queue = queue
        self.running: dict[str, Any] = {}  # job id -> latest JobProgress (or None)
        self.labels: dict[str, str] = {}

    def show(self, ev: Any) -> None:
        from engine.queue import (
            JobEnded,
            JobProgress,
            JobScaleDone,
            JobStarted,
            QueueFinished,
            QueueStarted,
        )

        if isinstance(ev, QueueStarted):
            self.bar.line(f"Running the queue {ev.path} on {ev.backend}: {ev.waiting} job(s) "
                          "to run. Ctrl-C stops; the next run resumes.")
        elif isinstance(ev, JobStarted):
            j = ev.job
            self.labels[j.id] = f"{j.id} {j.label} ({j.preset})"
            self.running[j.id] = None
            how = f"resuming at scale {ev.resume_from + 1}" if ev.resume_from else "starting"
            self.bar.line(f"{self.labels[j.id]}: {how} of {ev.n_scales} -> {j.project}")
        elif isinstance(ev, JobProgress):
            self.running[ev.job_id] = ev
            self._redraw()
        elif isinstance(ev, JobScaleDone):
            self.bar.line(f"{self.labels.get(ev.job_id, ev.job_id)}: scale {ev.scale + 1}/"
                          f"{ev.n_scales} finished and saved ({ev.worker})")
        elif isinstance(ev, JobEnded):
            self.running.pop(ev.job_id, None)
            what = {"done": "done", "failed": f"FAILED: {ev.error}",
                    "cancelled": f"cancelled after {ev.scales_done} of {ev.n_scales} scales "
                    "(retry resumes it)",
                    "queued": f"stopped after {ev.scales_done} of {ev.n_scales} scales "
                    "(the next run resumes it)"}.get(ev.state, ev.state)
            self.bar.line(f"{self.labels.get(ev.job_id, ev.job_id)}: {what}")
        elif isinstance(ev, QueueFinished):
            counts = ", ".join(f"{n} {s}" for s, n in sorted(ev.counts.items()))
            self.bar.line(("Stopped. " if ev.stopped else "The queue is empty. ") + counts)

    def _redraw(self) -> None:
        parts, fracs = [], []
        for job_id, p in self.running.items():
            if p is None:
                continue
            fracs.append((p.scale + p.iteration / max(1, p.iterations)) / max(1, p.n_scales))
            if not p.iterations:  # the task has just started (or resumed) on its worker
                parts.append(f"{job_id} scale {p.scale + 1}/{p.n_scales} starting on {p.worker}")
                continue
            parts.append(f"{job_id} scale {p.scale + 1}/{p.n_scales} it {p.iteration}/"
                         f"{p.iterations} left ~{_eta(p.eta_seconds) or '?'}")
        if parts:
            self.bar.update(" | ".join(parts), sum(fracs) / len(fracs))


def cmd_run(args: argparse.Namespace) -> int:
    from engine.jobs import CancelToken

    queue = _queue(args)
    stop = CancelToken()
    display = QueueDisplay(queue)

    def on_sigint(signum: int, frame: Any) -> None:
        if stop.cancelled:  # a second Ctrl-C: stop now (the job resumes next time)
            raise KeyboardInterrupt
        stop.cancel()
        display.bar.line("Stopping after this iteration (Ctrl-C again to stop at once)…")

    try:
        previous = signal.signal(signal.SIGINT, on_sigint)
    except ValueError:  # not the main thread: Ctrl-C is someone else's
        previous = None
    try:
        if args.cluster:
            from engine.queue.cluster import iter_run_cluster

            events = iter_run_cluster(queue, args.cluster, stop=stop,
                                      cpus_per_task=args.cpus_per_task,
                                      max_retries=args.max_retries, local_cpus=args.local_cpus)
        else:
            from engine.queue.runner import iter_run

            events = iter_run(queue, device=None if args.device == "auto" else args.device,
                              stop=stop)
        failed = False
        for ev in events:
            display.show(ev)
            failed = failed or getattr(ev, "state", "") == "failed"
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if stop.cancelled:
        return 130
    return 1 if failed else 0
