"""Long work off the GUI thread: one generic worker, a runner that owns the threads, and a
job slot per kind of job (a new start cancels and disconnects the old job, so a stale
result can never arrive)."""

from __future__ import annotations

from songwriter_app.jobs.errors import describe_error
from songwriter_app.jobs.runner import JobRunner, lower_thread_priority
from songwriter_app.jobs.slot import JobSlot
from songwriter_app.jobs.worker import GeneratorWorker

__all__ = ["GeneratorWorker", "JobRunner", "JobSlot", "describe_error", "lower_thread_priority"]
