"""The local runner: one job at a time on this computer's device, in queue order.

    for ev in iter_run(QueueFile(path), device="auto", stop=token): ...

- A job found "running" with no live runner (a crash or a kill -9 of the last runner) goes
  first and resumes from its last finished scale; a finished project is never trained again.
- A failed job records its error and the queue goes on with the next one.
- `cancel` (from any process: a flag in the queue file, polled between iterations) stops the
  running job and keeps every finished scale; `retry` continues it later.
- Setting `stop` ends the run after the current iteration; the job goes back to "queued" and
  resumes next time (the app's Stop and its window closing do this).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from engine.errors import EngineError, ProjectError
from engine.jobs import CancelToken, Throttle
from engine.project.checkpoint import is_project, read_manifest
from engine.queue.events import (
    JobEnded,
    JobProgress,
    JobScaleDone,
    JobStarted,
    QueueEvent,
    QueueFinished,
    QueueStarted,
)
from engine.queue.model import CANCELLED, DONE, FAILED, QUEUED, Job
from engine.queue.store import QueueFile

log = logging.getLogger(__name__)

PROGRESS_WRITE_S = 2.0  # write a running job's progress to the queue file at most this often
CANCEL_POLL_S = 0.5  # read the queue file's cancel flag at most this often


class JobCancelToken(CancelToken):
    """Cancelled by the runner's `stop` token, or by the job's cancel flag in the queue file
    (set by any process; read at most every CANCEL_POLL_S seconds)."""

    def __init__(self, queue: QueueFile, job_id: str, stop: CancelToken | None) -> None:
        super().__init__()
        self.queue, self.job_id, self.stop = queue, job_id, stop
        self.requested = False  # the job itself was cancelled (not the whole runner stopped)
        self._poll = Throttle(CANCEL_POLL_S)

    @property
    def cancelled(self) -> bool:
        if self._event.is_set():
            return True
        if self.stop is not None and self.stop.cancelled:
            self.cancel()
        elif self._poll.ready():
            try:
                job = next((j for j in self.queue.read() if j.id == self.job_id), None)
            except EngineError:
                job = None  # an unreadable queue file must not stop training
            if job is not None and job.cancel_requested:
                self.requested = True
                self.cancel()
        return self._event.is_set()


def describe(exc: BaseException) -> str:
    """An error as the job's error text: the engine's own sentence, else the type and message."""
    if isinstance(exc, EngineError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def ensure_project(queue: QueueFile, job: Job, device: object | None = None) -> int:
    """Make sure the job's project folder holds a prepared project (clip, scales chosen, fixed
    noise, manifest; for a layout job its sections joined, junctions and gap masked) and
    return its number of scales. A folder the queue made itself and a
    crash left half-prepared is cleared and prepared again; any other non-empty folder is
    refused (the user's files are never touched)."""
    from engine.config import get_preset
    from engine.project.layout import LayoutRequest
    from engine.training.loop import prepare_project

    root = Path(job.project)
    if is_project(root):
        return read_manifest(root).n_scales
    if root.exists() and not root.is_dir():
        raise ProjectError(f"{root} exists and is not a folder; choose another project folder.")
    if root.exists() and any(root.iterdir()):
        if not job.claimed:
            raise ProjectError(f"{root} exists and is not an empty folder; choose another "
                               "project folder.")
        for child in root.iterdir():  # what an interrupted preparation of this job left
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    if not job.claimed:
        queue.update(job.id, claimed=True)
        job.claimed = True
    cfg = get_preset(job.preset, **job.overrides)
    layout = LayoutRequest.from_dict(job.layout) if job.layout else None
    manifest = prepare_project(job.clip, root, cfg, start=job.start, duration=job.duration,
                               seed=job.seed, device=device,  # type: ignore[arg-type]
                               layout=layout)
    return manifest.n_scales


def iter_run(
    queue: QueueFile, *, device: str | None = None, stop: CancelToken | None = None,
) -> Iterator[QueueEvent]:
    """Run the queue on this computer until it is empty or `stop` is set."""
    from engine.device import device_label, resolve_device

    stop = stop or CancelToken()
    dev = resolve_device(device)
    with queue.runner_lock(backend=f"local {dev}"):
        waiting = sum(1 for j in queue.read() if j.state in (QUEUED, "running"))
        yield QueueStarted(str(queue.path), f"local: {device_label(dev)}", waiting)
        while not stop.cancelled:
            job = queue.claim_next(worker="local")
            if job is None:
                break
            yield from _run_one(queue, job, dev, stop)
        yield QueueFinished(queue.counts(), stopped=stop.cancelled)


def _run_one(queue: QueueFile, job: Job, dev: object, stop: CancelToken) -> Iterator[QueueEvent]:
    from engine.training.loop import (
        ScaleFinished,
        TrainCancelled,
        TrainFinished,
        TrainProgress,
        TrainStarted,
        iter_train,
    )

    token = JobCancelToken(queue, job.id, stop)
    scales_done = n_scales = 0
    try:
        n_scales = ensure_project(queue, job, dev)
        write = Throttle(PROGRESS_WRITE_S)
        for ev in iter_train(None, job.project, None, device=dev, resume=True,  # type: ignore[arg-type]
                             cancel=token):
            if isinstance(ev, TrainStarted):
                scales_done, n_scales = ev.first_scale, ev.n_scales
                queue.update(job.id, scales_done=scales_done, n_scales=n_scales,
                             scale=scales_done, iteration=0, iterations=0)
                yield JobStarted(job, scales_done, n_scales)
            elif isinstance(ev, TrainProgress):
                if write.ready():
                    queue.update(job.id, scale=ev.scale, iteration=ev.iteration,
                                 iterations=ev.iterations, eta_seconds=ev.eta_seconds)
                yield JobProgress(job.id, ev.scale, ev.n_scales, ev.iteration, ev.iterations,
                                  ev.eta_seconds, "local")
            elif isinstance(ev, ScaleFinished):
                scales_done = ev.scale + 1
                queue.update(job.id, scales_done=scales_done, scale=scales_done, iteration=0)
                yield JobScaleDone(job.id, ev.scale, ev.n_scales, "local")
            elif isinstance(ev, TrainFinished):
                scales_done = ev.n_scales
                yield _end(queue, job, DONE, "", scales_done, n_scales)
                return
            elif isinstance(ev, TrainCancelled):
                scales_done = ev.scales_done
                state = CANCELLED if token.requested or not stop.cancelled else QUEUED
                yield _end(queue, job, state, "", scales_done, n_scales)
                return
    except Exception as exc:  # a bad job fails alone; the queue goes on
        if not isinstance(exc, EngineError):
            log.exception("queue job %s failed", job.id)
        yield _end(queue, job, FAILED, describe(exc), scales_done, n_scales)


def _end(queue: QueueFile, job: Job, state: str, error: str, scales_done: int,
         n_scales: int) -> JobEnded:
    fields: dict[str, object] = {"state": state, "error": error, "scales_done": scales_done,
                                 "cancel_requested": False, "eta_seconds": None}
    if state != QUEUED:
        fields["finished"] = time.time()
    if state == DONE:
        fields.update(scale=n_scales, iteration=0, iterations=0)
    queue.update(job.id, **fields)
    log.info("queue job %s %s%s (pid %d)", job.id, state, f": {error}" if error else "", os.getpid())
    return JobEnded(job.id, state, error, job.project, scales_done, n_scales)
