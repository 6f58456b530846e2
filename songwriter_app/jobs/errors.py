"""One place that turns a job's exception into what a dialog or the status bar says."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

from engine.errors import DeviceError, EngineError


@dataclass(frozen=True)
class JobError:
    """What went wrong in a job, in words for the user; `exc` for logs and tests."""

    title: str
    message: str
    kind: str  # "device", "engine" (the user's input or request) or "bug"
    exc: BaseException | None = None


def describe_error(exc: BaseException) -> JobError:
    if isinstance(exc, DeviceError):
        return JobError("The compute device failed", str(exc), "device", exc)
    if isinstance(exc, EngineError):
        return JobError("Cannot do that", str(exc), "engine", exc)
    if isinstance(exc, MemoryError):
        return JobError("Out of memory",
                        "The computer ran out of memory. Choose a smaller preset or a shorter "
                        "section.", "device", exc)
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return JobError("Something went wrong", f"An unexpected error happened: {detail}", "bug", exc)
