"""The queue file: a JSON list of jobs, shared by every process that looks at the queue.

- Writes are atomic (temporary file, fsync, rename: engine.fileutil), so a crash or a
  `kill -9` at any moment leaves the old queue or the new one, never half of one.
- Every change is a read-modify-write under an exclusive lock on `<queue>.lock`, so the CLI
  can add or cancel a job while a runner (another process) updates progress.
- A runner holds `<queue>.runner` locked for as long as it runs (`runner_lock()`): a second
  runner on the same queue is refused, and a job marked "running" whose runner is gone
  (crash, kill -9, power cut: the OS drops the lock with the process) is known to be
  interrupted; the next runner resumes it from its last finished scale.

Readers need no lock: they see one complete version of the file.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.fileutil import atomic_write_json, json_safe
from engine.queue.model import CANCELLED, DONE, FAILED, QUEUED, RUNNING, Job

FORMAT = "songwriter-queue"
FORMAT_VERSION = 1
QUEUE_ENV = "SONGWRITER_QUEUE"
PROJECTS_ENV = "SONGWRITER_PROJECTS_DIR"
APP_NAME = "SongwriterAssistant"

try:  # POSIX
    import fcntl

    def _lock(fd: int, blocking: bool) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)

except ImportError:  # Windows
    import msvcrt

    def _lock(fd: int, blocking: bool) -> bool:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                return True
            except OSError:
                if not blocking:
                    return False
                time.sleep(0.05)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


class QueueError(EngineError):
    """A queue operation that cannot be done (unknown job, a job in the wrong state...)."""


class QueueBusyError(QueueError):
    """Another runner is running this queue."""


def default_projects_dir() -> Path:
    """$SONGWRITER_PROJECTS_DIR, else <user data dir>/projects (the app's rule too)."""
    env = os.environ.get(PROJECTS_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "projects"


def default_queue_path(projects_dir: str | os.PathLike[str] | None = None) -> Path:
    """$SONGWRITER_QUEUE, else queue.json beside the projects folder (so the app and the CLI
    share one queue: <user data dir>/queue.json by default)."""
    env = os.environ.get(QUEUE_ENV)
    if env:
        return Path(env).expanduser()
    root = Path(projects_dir) if projects_dir is not None else default_projects_dir()
    return root.parent / "queue.json"


class QueueFile:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.runner_path = self.path.with_name(self.path.name + ".runner")

    # ---- reading and writing -----------------------------------------------------------------

    def read(self) -> list[Job]:
        """The jobs in queue order ([] when there is no queue file yet)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise QueueError(f"Cannot read the queue file {self.path}: {exc.strerror or exc}.") \
                from exc
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QueueError(f"The queue file {self.path} is damaged: {exc}.") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise QueueError(f"{self.path} is not a Songwriter Assistant queue file.")
        version = data.get("version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise QueueError(f"The queue file {self.path} was written by a newer version of "
                             f"Songwriter Assistant (format {version!r}); please update.")
        try:
            return [Job.from_dict(d) for d in data.get("jobs", [])]
        except (TypeError, ValueError) as exc:
            raise QueueError(f"The queue file {self.path} is damaged: {exc}.") from exc

    def _write(self, jobs: list[Job]) -> None:
        atomic_write_json(self.path, json_safe({
            "format": FORMAT, "version": FORMAT_VERSION, "updated": time.time(),
            "jobs": [j.to_dict() for j in jobs],
        }))

    @contextlib.contextmanager
    def edit(self) -> Iterator[list[Job]]:
        """Read-modify-write under the queue's lock; the list (and its jobs) may be changed in
        place. Nothing is written when the block raises or changes nothing."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(fd, blocking=True)
            jobs = self.read()
            before = [j.to_dict() for j in jobs]
            yield jobs
            if [j.to_dict() for j in jobs] != before or not self.path.exists():
                self._write(jobs)
        finally:
            with contextlib.suppress(OSError):
                _unlock(fd)
            os.close(fd)

    # ---- the runner lock ---------------------------------------------------------------------

    @contextlib.contextmanager
    def runner_lock(self, backend: str = "local") -> Iterator[None]:
        """Held while a runner runs this queue; QueueBusyError when another one does."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.runner_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if not _lock(fd, blocking=False):
                who = self._runner_info(fd)
                raise QueueBusyError(f"Another runner is already running the queue {self.path}"
                                     f"{who}; stop it first, or use another --queue file.")
            info = {"pid": os.getpid(), "host": socket.gethostname(), "backend": backend,
                    "since": time.time()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                    _unlock(fd)
        finally:
            os.close(fd)

    def _runner_info(self, fd: int) -> str:
        with contextlib.suppress(OSError, ValueError, KeyError):
            info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
            return f" ({info['backend']}, process {info['pid']} on {info['host']})"
        return ""

    def runner_alive(self) -> bool:
        """True while some process holds the runner lock."""
        if not self.runner_path.exists():
            return False
        fd = os.open(self.runner_path, os.O_RDWR)
        try:
            if _lock(fd, blocking=False):
                _unlock(fd)
                return False
            return True
        finally:
            os.close(fd)

    # ---- operations --------------------------------------------------------------------------

    @staticmethod
    def _find(jobs: list[Job], ref: str) -> Job:
        """A job by id, 1-based position, or unique id prefix, in that order.

        A number that is a position in the queue is that position, even when an id also
        starts with it: `queue remove 2` after `queue list` must not remove another job whose
        id happens to start with "2" (ids are hex). Give more of an id to mean the id."""
        ref = str(ref).strip()
        exact = [j for j in jobs if j.id == ref]
        if exact:
            return exact[0]
        if ref.isdigit() and ref == str(int(ref)) and 1 <= int(ref) <= len(jobs):
            return jobs[int(ref) - 1]
        matches = [j for j in jobs if ref and j.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise QueueError(f"{ref!r} matches several jobs; give more of the id.")
        raise QueueError(f"No job {ref!r} in the queue.")

    def get(self, ref: str) -> Job:
        return self._find(self.read(), ref)

    def add(self, *jobs: Job) -> list[Job]:
        with self.edit() as q:
            taken = {j.project for j in q if j.state not in (DONE, FAILED, CANCELLED)}
            for job in jobs:
                if job.project in taken:
                    raise QueueError(f"Another job in the queue already trains into "
                                     f"{job.project}; choose another project folder.")
                taken.add(job.project)
            q.extend(jobs)
        return list(jobs)

    def remove(self, ref: str) -> Job:
        """Drop a job from the queue (its project folder, if any, stays on disk)."""
        with self.edit() as q:
            job = self._find(q, ref)
            if job.state == RUNNING:
                raise QueueError(f"Job {job.id} is running; cancel it first.")
            q.remove(job)
        return job

    def move(self, ref: str, to: int) -> Job:
        """Put a job at 0-based position `to` (clamped) in the queue order."""
        with self.edit() as q:
            job = self._find(q, ref)
            q.remove(job)
            q.insert(max(0, min(int(to), len(q))), job)
        return job

    def cancel(self, ref: str) -> Job:
        """A waiting or interrupted job becomes cancelled at once; a running one is asked to stop
        (its runner polls the flag between iterations). Finished scales are kept."""
        with self.edit() as q:
            job = self._find(q, ref)
            if job.state == QUEUED or (job.state == RUNNING and not self.runner_alive()):
                # waiting, or interrupted (its runner is gone): cancelled at once
                job.state, job.finished, job.cancel_requested = CANCELLED, time.time(), False
            elif job.state == RUNNING:
                job.cancel_requested = True
            else:
                raise QueueError(f"Job {job.id} is {job.state}; there is nothing to cancel.")
        return job

    def retry(self, ref: str) -> Job:
        """Queue a failed or cancelled job again; it resumes from its last finished scale."""
        with self.edit() as q:
            job = self._find(q, ref)
            if job.state not in (FAILED, CANCELLED):
                raise QueueError(f"Job {job.id} is {job.state}; only a failed or cancelled job "
                                 "can be retried.")
            job.state, job.error, job.cancel_requested, job.finished = QUEUED, "", False, None
        return job

    def update(self, job_id: str, **fields: Any) -> Job | None:
        """Set fields of one job (None when it has been removed meanwhile)."""
        with self.edit() as q:
            for job in q:
                if job.id == job_id:
                    for k, v in fields.items():
                        setattr(job, k, v)
                    return job
        return None

    def claim_next(self, worker: str, exclude: set[str] | frozenset[str] = frozenset()) -> Job | None:
        """Mark the next job running and return it: first a job left "running" by a runner
        that is gone (it resumes), then the first queued job. Call with the runner lock held."""
        with self.edit() as q:
            for job in [j for j in q if j.state == RUNNING and j.id not in exclude] + \
                    [j for j in q if j.state == QUEUED]:
                if job.cancel_requested:  # cancelled while its runner was gone
                    job.state, job.cancel_requested, job.finished = CANCELLED, False, time.time()
                    continue
                job.state, job.error, job.worker = RUNNING, "", worker
                job.attempts += 1
                job.started = job.started or time.time()
                return Job.from_dict(job.to_dict())
        return None

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for j in self.read():
            out[j.state] = out.get(j.state, 0) + 1
        return out
