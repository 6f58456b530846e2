"""The training queue: jobs persisted in one JSON file, run one after another on this computer
(engine.queue.runner) or as tasks on a Ray cluster (engine.queue.cluster, the optional
`cluster` extra; Ray is imported only there, and only when a cluster run starts).

The queue sits above training (it runs `iter_train`) and beside the study; the CLI and the
app's Queue panel are its front ends."""

from __future__ import annotations

from engine.queue.events import (
    JobEnded,
    JobProgress,
    JobScaleDone,
    JobStarted,
    QueueEvent,
    QueueFinished,
    QueueStarted,
)
from engine.queue.model import CANCELLED, DONE, FAILED, QUEUED, RUNNING, STATES, Job, new_job_id
from engine.queue.store import (
    QueueBusyError,
    QueueError,
    QueueFile,
    default_projects_dir,
    default_queue_path,
)

__all__ = [
    "CANCELLED", "DONE", "FAILED", "QUEUED", "RUNNING", "STATES", "Job", "JobEnded",
    "JobProgress", "JobScaleDone", "JobStarted", "QueueBusyError", "QueueError", "QueueEvent",
    "QueueFile", "QueueFinished", "QueueStarted", "default_projects_dir", "default_queue_path",
    "new_job_id",
]
