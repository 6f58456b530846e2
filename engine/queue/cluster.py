"""Run the queue on a Ray cluster: each job is a Ray task on whichever machine has room.

    songwriter-cli queue run --cluster 10.0.0.5:6379     # or "auto", or "local"

Ray is the optional `cluster` extra and is imported here only, inside the functions, when a
cluster run starts (this module imports without it).

How a job travels (no shared file system is assumed):

- The driver (this process) prepares the project in its destination folder (the clip is read
  here, so an unreadable clip fails at once, alone) and puts the prepared files in a hub
  actor; the task fetches them into a temporary folder on its worker and trains with
  `iter_train(resume=True)`: the weights equal a local run with the same seed.
- After every finished scale the task sends the changed files (bytes + sha256) to the hub; the
  driver verifies them and writes them atomically into the destination (manifest last, the
  project's commit point), so the user's folder always holds a resumable project.
- A worker that dies (killed, out of memory, its machine gone) makes Ray retry the task
  (`max_retries`); the retry takes the hub's latest checkpoint and resumes from the last
  finished scale. When the driver itself dies its tasks die with it (Ray's fate sharing) and
  the job is resumed from the destination folder by the next run.
- Progress streams back through the hub; a cancel (the queue file's flag, or Ctrl-C) is a flag
  in the hub that the task polls between iterations, and `ray.cancel` after a grace period.
- Each task asks for one GPU when the cluster has GPUs, else `cpus_per_task` CPU cores.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from engine.errors import ConfigError, EngineError, ProjectError
from engine.fileutil import atomic_write_bytes
from engine.jobs import CancelToken, Throttle
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
from engine.queue.runner import PROGRESS_WRITE_S, _end, describe, ensure_project
from engine.queue.store import QueueFile

log = logging.getLogger(__name__)

RAY_MISSING = ("Running the queue on a cluster needs Ray, which is not installed: install the "
               "'cluster' extra (pip install 'songwriter-assistant[cluster]', or "
               "uv sync --extra cluster).")
MANIFEST = "manifest.json"
POLL_S = 0.25  # how often the driver looks at results, progress and cancel flags
CANCEL_GRACE_S = 30.0  # after a cancel flag, ray.cancel() a task that has not stopped by then

ProjectFiles = dict[str, tuple[str, bytes]]  # relative path -> (sha256, content)


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(RAY_MISSING) from exc
    return ray


# ---- a project folder as data ------------------------------------------------------------


def read_project_files(root: str | os.PathLike[str], have: dict[str, str] | None = None
                       ) -> ProjectFiles:
    """Every file of the project (temporary files of atomic writes excluded), or only those whose
    sha256 differs from `have`."""
    root = Path(root)
    out: ProjectFiles = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        data = path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        rel = path.relative_to(root).as_posix()
        if have is None or have.get(rel) != sha:
            out[rel] = (sha, data)
    return out


def write_project_files(root: str | os.PathLike[str], files: ProjectFiles) -> None:
    """Check every file's sha256 and path first, then write each atomically, manifest.json last
    (a reader sees the old project or the new one)."""
    root = Path(root)
    for rel, (sha, data) in files.items():
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or ".." in parts:
            raise ProjectError(f"A project file from the cluster has an unsafe name: {rel!r}.")
        if hashlib.sha256(data).hexdigest() != sha:
            raise ProjectError(f"The project file {rel} arrived damaged from the cluster "
                               "(its checksum does not match); the job can be retried.")
    for rel in sorted(files, key=lambda r: r == MANIFEST):
        atomic_write_bytes(root / rel, files[rel][1])


# ---- the hub actor and the task (they run in Ray workers) ----------------------------------


class QueueHub:
    """A Ray actor (no CPU of its own) between the driver and the tasks: progress, each job's
    latest checkpoint (its project files) and the cancel flags."""

    def __init__(self) -> None:
        self._files: dict[str, ProjectFiles] = {}
        self._version: dict[str, int] = {}
        self._progress: dict[str, dict[str, Any]] = {}
        self._cancel: set[str] = set()

    def put_files(self, job_id: str, files: ProjectFiles) -> int:
        self._files.setdefault(job_id, {}).update(files)
        self._version[job_id] = self._version.get(job_id, 0) + 1
        return self._version[job_id]

    def files(self, job_id: str, have: dict[str, str] | None = None) -> ProjectFiles:
        files = self._files.get(job_id, {})
        return {k: v for k, v in files.items() if have is None or have.get(k) != v[0]}

    def report(self, job_id: str, info: dict[str, Any]) -> None:
        self._progress[job_id] = info

    def poll(self) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
        return dict(self._progress), dict(self._version)

    def cancel(self, job_id: str) -> None:
        self._cancel.add(job_id)

    def is_cancelled(self, job_id: str) -> bool:
        return job_id in self._cancel

    def forget(self, job_id: str) -> None:
        for d in (self._files, self._version, self._progress):
            d.pop(job_id, None)
        self._cancel.discard(job_id)


class _HubCancelToken(CancelToken):
    def __init__(self, hub: Any, job_id: str) -> None:
        super().__init__()
        self.hub, self.job_id = hub, job_id
        self._poll = Throttle(0.5)

    @property
    def cancelled(self) -> bool:
        if not self._event.is_set() and self._poll.ready():
            ray = import_ray()
            if ray.get(self.hub.is_cancelled.remote(self.job_id)):
                self.cancel()
        return self._event.is_set()


def train_job(job_id: str, hub: Any, device: str) -> dict[str, Any]:
    """The Ray task: fetch the job's latest checkpoint, train on (resume), send each finished
    scale back, return the whole project."""
    from engine.training.loop import (
        ScaleFinished,
        TrainCancelled,
        TrainFinished,
        TrainProgress,
        TrainStarted,
        iter_train,
    )

    ray = import_ray()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    files = ray.get(hub.files.remote(job_id))
    seq = 0

    def report(**info: Any) -> None:
        nonlocal seq
        seq += 1
        hub.report.remote(job_id, {"seq": seq, "worker": worker, **info})

    with tempfile.TemporaryDirectory(prefix=f"songwriter-job-{job_id}-") as tmp:
        root = Path(tmp) / "project"
        root.mkdir()
        write_project_files(root, files)
        have = {rel: sha for rel, (sha, _) in files.items()}
        token = _HubCancelToken(hub, job_id)
        throttle = Throttle(0.5)
        state = CANCELLED
        for ev in iter_train(None, root, None, device=device, resume=True, cancel=token):
            if isinstance(ev, TrainStarted):
                report(scale=ev.first_scale, n_scales=ev.n_scales, iteration=0, iterations=0,
                       eta=float("nan"))
            elif isinstance(ev, TrainProgress):
                if throttle.ready() or ev.iteration == ev.iterations:
                    report(scale=ev.scale, n_scales=ev.n_scales, iteration=ev.iteration,
                           iterations=ev.iterations, eta=ev.eta_seconds)
            elif isinstance(ev, ScaleFinished):
                changed = read_project_files(root, have)
                have.update({rel: sha for rel, (sha, _) in changed.items()})
                ray.get(hub.put_files.remote(job_id, changed))  # stored before training goes on
            elif isinstance(ev, TrainFinished):
                state = DONE
            elif isinstance(ev, TrainCancelled):
                state = CANCELLED
        return {"state": state, "worker": worker, "files": read_project_files(root)}


# ---- the driver ------------------------------------------------------------------------------


@dataclass
class _Flight:
    ref: Any
    job: Job
    n_scales: int
    scales_done: int
    seq: int = 0
    version: int = 0
    have: dict[str, str] = field(default_factory=dict)
    cancel_at: float | None = None
    requested: bool = False  # the job was cancelled (not the whole run stopped)
    forced: bool = False
    worker: str = ""


def connect(address: str, local_cpus: int | None = None) -> bool:
    """ray.init for `address` ("local" starts a cluster here); True when this call started Ray
    (the caller shuts it down). An already initialised Ray is used as it is."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    try:
        if address == "local":
            ray.init(num_cpus=local_cpus, **kw)
        else:
            ray.init(address=address, **kw)
    # Ray raises a bare Exception when its node does not come up in time (a busy machine: "The
    # current node timed out during startup"), besides its connection and value errors
    except Exception as exc:
        ray.shutdown()  # whatever part of the node or the connection did start
        if address == "local":
            raise EngineError(f"Could not start a Ray cluster on this computer: {exc} If the "
                              "computer is busy, close other programs and try again, or run the "
                              "queue without a cluster.") from exc
        raise EngineError(f"Could not connect to the Ray cluster at {address}: {exc}") from exc
    return True


def iter_run_cluster(
    queue: QueueFile, address: str = "local", *, stop: CancelToken | None = None,
    cpus_per_task: int = 1, max_retries: int = 3, local_cpus: int | None = None,
    cancel_grace_s: float = CANCEL_GRACE_S,
) -> Iterator[QueueEvent]:
    """Run the queue's jobs as Ray tasks, as many at a time as the cluster has GPUs (or CPU
    cores / cpus_per_task), until the queue is empty or `stop` is set."""
    stop = stop or CancelToken()
    started_here = connect(address, local_cpus)
    try:
        with queue.runner_lock(backend=f"ray {address}"):
            yield from _drive(queue, address, stop, cpus_per_task, max_retries, cancel_grace_s)
    finally:
        if started_here:
            import_ray().shutdown()


def _drive(queue: QueueFile, address: str, stop: CancelToken, cpus_per_task: int,
           max_retries: int, cancel_grace_s: float) -> Iterator[QueueEvent]:
    from engine.project.checkpoint import read_manifest

    ray = import_ray()
    res = ray.cluster_resources()
    gpus = int(res.get("GPU", 0))
    cpus = int(res.get("CPU", 0))
    if gpus:
        opts: dict[str, Any] = {"num_gpus": 1, "num_cpus": 1}
        device, slots = "cuda", gpus
        each = "1 GPU"
    else:
        opts = {"num_cpus": max(1, cpus_per_task)}
        device, slots = "cpu", max(1, cpus // max(1, cpus_per_task))
        each = f"{max(1, cpus_per_task)} CPU core(s)"
    hub = ray.remote(num_cpus=0)(QueueHub).remote()
    task = ray.remote(train_job).options(max_retries=max_retries, retry_exceptions=False, **opts)
    waiting = sum(1 for j in queue.read() if j.state in (QUEUED, "running"))
    yield QueueStarted(str(queue.path), f"Ray cluster {address} ({cpus} CPUs, {gpus} GPUs; "
                       f"each job asks for {each})", waiting)
    inflight: dict[str, _Flight] = {}
    write = Throttle(PROGRESS_WRITE_S)
    stopping = False
    while True:
        if stop.cancelled and not stopping:
            stopping = True
            for f in inflight.values():
                hub.cancel.remote(f.job.id)
                f.cancel_at = time.monotonic()
        while not stopping and len(inflight) < slots:
            job = queue.claim_next(worker="ray", exclude=set(inflight))
            if job is None:
                break
            try:
                n_scales = ensure_project(queue, job)
                files = read_project_files(job.project)
                ray.get(hub.put_files.remote(job.id, files))
                done = read_manifest(job.project).scales_done
            except Exception as exc:
                if not isinstance(exc, EngineError):
                    log.exception("preparing queue job %s failed", job.id)
                yield _end(queue, job, FAILED, describe(exc), 0, 0)
                continue
            f = _Flight(task.remote(job.id, hub, device), job, n_scales, done,
                        have={rel: sha for rel, (sha, _) in files.items()}, version=1)
            inflight[job.id] = f
            queue.update(job.id, n_scales=n_scales, scales_done=done, scale=done, iteration=0)
            yield JobStarted(job, done, n_scales)
        if not inflight:
            break
        refs = [f.ref for f in inflight.values()]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=POLL_S)
        yield from _follow(queue, hub, inflight, write)
        now = time.monotonic()
        flags = {j.id: j.cancel_requested for j in queue.read()}
        for f in inflight.values():
            if flags.get(f.job.id) and f.cancel_at is None:
                hub.cancel.remote(f.job.id)
                f.cancel_at, f.requested = now, True
            if f.cancel_at is not None and not f.forced and now - f.cancel_at > cancel_grace_s:
                ray.cancel(f.ref)
                f.forced = True
        for ref in ready:
            f = next(f for f in inflight.values() if f.ref == ref)
            del inflight[f.job.id]
            yield _finish(queue, hub, f, stopping, max_retries)
    yield QueueFinished(queue.counts(), stopped=stop.cancelled)


def _follow(queue: QueueFile, hub: Any, inflight: dict[str, _Flight], write: Throttle
            ) -> Iterator[QueueEvent]:
    """Progress events, and each newly checkpointed scale written into its destination."""
    from engine.project.checkpoint import read_manifest

    ray = import_ray()
    progress, versions = ray.get(hub.poll.remote())
    due = write.ready()
    for job_id, f in inflight.items():
        if versions.get(job_id, 0) > f.version:
            files = ray.get(hub.files.remote(job_id, f.have))
            write_project_files(f.job.project, files)
            f.have.update({rel: sha for rel, (sha, _) in files.items()})
            f.version = versions[job_id]
            done = read_manifest(f.job.project).scales_done
            queue.update(job_id, scales_done=done, scale=done, iteration=0)
            for s in range(f.scales_done, done):
                yield JobScaleDone(job_id, s, f.n_scales, f.worker)
            f.scales_done = done
        p = progress.get(job_id)
        if p is not None and (p["seq"] != f.seq or p["worker"] != f.worker):
            moved = p["worker"] != f.worker  # a retry on another worker: written at once
            f.seq, f.worker = p["seq"], p["worker"]
            if due or moved:
                queue.update(job_id, scale=p["scale"], iteration=p["iteration"],
                             iterations=p["iterations"], eta_seconds=p["eta"], worker=p["worker"])
            yield JobProgress(job_id, p["scale"], p["n_scales"], p["iteration"], p["iterations"],
                              p["eta"], p["worker"])


def _finish(queue: QueueFile, hub: Any, f: _Flight, stopping: bool, max_retries: int) -> JobEnded:
    from engine.project.checkpoint import read_manifest

    ray = import_ray()
    from ray.exceptions import RayTaskError, TaskCancelledError

    cancelled_state = CANCELLED if f.requested or not stopping else QUEUED
    error = ""
    try:
        result = ray.get(f.ref)
    except TaskCancelledError:
        state = cancelled_state
    except RayTaskError as exc:
        cause = getattr(exc, "cause", None) or exc
        state, error = FAILED, describe(cause)
    except Exception as exc:  # the worker died more often than max_retries allows, and the like
        state = FAILED
        error = (f"The cluster could not run the job (after {max_retries} retries): "
                 f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    else:
        try:
            write_project_files(f.job.project, result["files"])
            state = DONE if result["state"] == DONE else cancelled_state
        except EngineError as exc:
            state, error = FAILED, str(exc)
    hub.forget.remote(f.job.id)
    try:
        m = read_manifest(f.job.project)
        scales_done, n_scales = m.scales_done, m.n_scales
    except EngineError:
        scales_done, n_scales = f.scales_done, f.n_scales
    return _end(queue, f.job, state, error, scales_done, n_scales)
