"""What a queue runner yields (the local runner and the Ray driver alike): small records that
the CLI prints and the app's Queue panel shows. Jobs are snapshots (copies)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.queue.model import Job


@dataclass(frozen=True)
class QueueStarted:
    path: str  # the queue file
    backend: str  # "local (cpu)", "ray 127.0.0.1:6379 (2 GPUs)"...
    waiting: int  # jobs to run (queued, and interrupted ones that resume)


@dataclass(frozen=True)
class JobStarted:
    job: Job
    resume_from: int  # 0, or the first scale still to train
    n_scales: int


@dataclass(frozen=True)
class JobProgress:
    job_id: str
    scale: int  # 0-based
    n_scales: int
    iteration: int
    iterations: int
    eta_seconds: float
    worker: str  # "local", or "host:pid" of the Ray worker


@dataclass(frozen=True)
class JobScaleDone:
    job_id: str
    scale: int
    n_scales: int
    worker: str


@dataclass(frozen=True)
class JobEnded:
    job_id: str
    state: str  # done / failed / cancelled, or queued when the runner was stopped
    error: str
    project: str
    scales_done: int
    n_scales: int


@dataclass(frozen=True)
class QueueFinished:
    counts: dict[str, int]  # jobs per state when the runner stopped
    stopped: bool  # True when stopped before the queue was empty


QueueEvent = QueueStarted | JobStarted | JobProgress | JobScaleDone | JobEnded | QueueFinished
