"""A queued training job: what to train, where it goes, and how far it got.

Plain data (no torch): the queue file stores a list of these as JSON, and every front end
(the CLI, the app's Queue panel, the Ray driver) reads and writes them through
engine.queue.store.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import DEFAULT_CPU_PRESET

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
FINAL_STATES = (DONE, FAILED, CANCELLED)


def new_job_id() -> str:
    return uuid.uuid4().hex[:8]


@dataclass
class Job:
    """One training run in the queue. Paths are absolute; progress fields are what the runner
    last wrote (throttled), for display."""

    id: str
    clip: str  # the audio file to train on
    project: str  # destination project folder (created by the runner)
    preset: str = DEFAULT_CPU_PRESET  # a name from engine.config.PRESETS
    overrides: dict[str, Any] = field(default_factory=dict)  # TrainConfig fields to override
    start: float = 0.0  # section start in seconds
    duration: float | None = None  # section length; None = as long as the preset allows
    seed: int = 0
    # several sections, a bridge or an ending: engine.project.layout.LayoutRequest.to_dict()
    # (the manifest's "layout" form); None for one section of `clip` (start, duration). A
    # layout job's clip/start/duration repeat its first section, for display and older readers.
    layout: dict[str, Any] | None = None
    state: str = QUEUED  # queued / running / done / failed / cancelled
    error: str = ""  # why it failed, in the engine's words
    scales_done: int = 0  # finished, saved scales
    n_scales: int = 0  # 0 until the project is prepared
    scale: int = 0  # the scale in progress (0-based)
    iteration: int = 0  # within that scale
    iterations: int = 0
    eta_seconds: float | None = None  # the trainer's estimate of the time left
    cancel_requested: bool = False  # set by `cancel`; the runner polls it between iterations
    claimed: bool = False  # the runner made (or found empty) the project folder: it may clear it
    attempts: int = 0  # runs started (a resume after a crash or a stop counts)
    worker: str = ""  # where it runs or ran: "local" or "host:pid" of a Ray worker
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None

    @property
    def label(self) -> str:
        """'song.wav 12.0-22.0 s' (or '12.0 s-' when the preset decides the length); a layout
        job: 'bridge: a.wav 1.0-3.0 s + b.wav 4.0-6.0 s, gap 4 s'."""
        if self.layout:
            req = self.layout_request()
            if req is not None:
                return req.describe()
        end = f"{self.start + self.duration:.1f} s" if self.duration else "end"
        return f"{Path(self.clip).name} {self.start:.1f}-{end}"

    def layout_request(self) -> Any:
        """The job's LayoutRequest, or None (a one-section job, or a layout that is not one)."""
        if not self.layout:
            return None
        from engine.errors import ConfigError
        from engine.project.layout import LayoutRequest

        try:
            return LayoutRequest.from_dict(self.layout)
        except ConfigError:
            return None

    @property
    def fraction(self) -> float:
        """Share of the run done, by scales and iterations (0 when unknown)."""
        if self.state == DONE:
            return 1.0
        if not self.n_scales:
            return 0.0
        within = self.iteration / self.iterations if self.iterations and \
            self.scale == self.scales_done else 0.0
        return min(1.0, (self.scales_done + within) / self.n_scales)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}  # newer fields are ignored
        job = cls(**kwargs)
        if job.state not in STATES:
            raise ValueError(f"unknown job state {job.state!r}")
        job.overrides = dict(job.overrides or {})
        job.layout = dict(job.layout) if isinstance(job.layout, dict) else None
        return job


def section_project_name(clip: str | Path, start: float, when: float | None = None,
                         mode: str | None = None) -> str:
    """<clip-stem>-<YYYYmmdd-HHMMSS>[-at<start>s][-<mode>]: a folder name for a queued section
    (mode: a layout job's, e.g. "bridge")."""
    stem = re.sub(r"[^\w\-.]+", "-", Path(clip).stem).strip("-.") or "clip"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    at = f"-at{start:g}s" if start else ""
    return f"{stem[:60]}-{stamp}{at}" + (f"-{mode}" if mode else "")


def section_jobs(
    clips: list[str | Path], *, projects_dir: str | Path, preset: str = DEFAULT_CPU_PRESET,
    overrides: dict[str, Any] | None = None, sections: list[tuple[float, float | None]] | None = None,
    seed: int = 0, project: str | Path | None = None,
) -> list[Job]:
    """One job per (clip, section): projects named <clip>-<time>[-at<start>s] under
    `projects_dir`, or `project` itself when there is exactly one job. The preset and its
    overrides are checked now (ConfigError), not when the job runs."""
    from engine.config import get_preset

    overrides = dict(overrides or {})
    get_preset(preset, **overrides)
    sections = sections or [(0.0, None)]
    now = time.time()
    jobs: list[Job] = []
    used: set[str] = set()
    for clip in clips:
        for start, duration in sections:
            if project is not None:
                dest = Path(project)
            else:
                base = Path(projects_dir) / section_project_name(clip, start, now)
                dest, n = base, 2
                while dest.exists() or str(dest) in used:
                    dest, n = base.with_name(f"{base.name}-{n}"), n + 1
            used.add(str(dest))
            jobs.append(Job(id=new_job_id(), clip=str(Path(clip).absolute()),
                            project=str(dest.absolute()), preset=preset, overrides=overrides,
                            start=float(start), duration=duration, seed=int(seed)))
    if project is not None and len(jobs) > 1:
        from engine.errors import ConfigError

        raise ConfigError("--project names one folder; with several clips or sections let the "
                          "queue name them (--projects-dir).")
    return jobs


def layout_jobs(
    requests: list[Any], *, projects_dir: str | Path, preset: str = DEFAULT_CPU_PRESET,
    overrides: dict[str, Any] | None = None, seed: int = 0, project: str | Path | None = None,
) -> list[Job]:
    """One job per LayoutRequest (several sections, a bridge or an ending), its project named
    after the first section and the mode under `projects_dir`, or `project` itself for one job.
    Each request and the preset are checked now (ConfigError); reading the audio waits for the
    runner, which refuses a section outside its file with the engine's own message."""
    from engine.config import get_preset
    from engine.errors import ConfigError

    overrides = dict(overrides or {})
    get_preset(preset, **overrides)
    if not requests:
        raise ConfigError("Give at least one layout to queue.")
    if project is not None and len(requests) > 1:
        raise ConfigError("--project names one folder; with several clips let the queue name "
                          "them (--projects-dir).")
    now = time.time()
    jobs: list[Job] = []
    used: set[str] = set()
    for req in requests:
        req.check()
        first = req.sections[0]
        if project is not None:
            dest = Path(project)
        else:
            base = Path(projects_dir) / section_project_name(first.path, first.start, now,
                                                             req.mode)
            dest, n = base, 2
            while dest.exists() or str(dest) in used:
                dest, n = base.with_name(f"{base.name}-{n}"), n + 1
        used.add(str(dest))
        d = req.to_dict()
        for s in d["sections"]:
            s["path"] = str(Path(s["path"]).absolute())
        jobs.append(Job(id=new_job_id(), clip=d["sections"][0]["path"],
                        project=str(dest.absolute()), preset=preset, overrides=overrides,
                        start=float(first.start), duration=float(first.duration),
                        seed=int(seed), layout=d))
    return jobs
