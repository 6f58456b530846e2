"""`GeneratorWorker`: runs one engine job (a generator or a plain function) in a QThread.

The job is `fn(*args, cancel=token, **kwargs)` (the token only when `pass_cancel`). When it
returns a generator, every item is emitted as `yielded` (throttled for items marked
droppable: only the newest of a burst goes out, at most every `min_interval` seconds, and
never after a later item); its return value, or a plain function's result, is emitted as
`returned`. Exceptions become `errored(JobError)`. `done` always comes last. Cancel sets
the token; a thread is never terminated.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from engine.errors import EngineError
from engine.jobs import CancelToken
from songwriter_app.jobs.errors import describe_error

log = logging.getLogger(__name__)


class GeneratorWorker(QObject):
    yielded = Signal(object)  # one item of the job's generator (after `prepare`)
    returned = Signal(object)  # the generator's return value, or the function's result
    errored = Signal(object)  # JobError
    done = Signal()  # always last

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "",
                 pass_cancel: bool = False, droppable: Callable[[Any], bool] | None = None,
                 min_interval: float = 0.1, prepare: Callable[[Any], Any] | None = None,
                 nice: bool = True, **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.name = name or getattr(fn, "__name__", "job")
        self.pass_cancel = pass_cancel
        self.droppable = droppable
        self.min_interval = min_interval
        self.prepare = prepare
        self.nice = nice
        self.cancel_token = CancelToken()

    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_token.cancelled

    @Slot()
    def run(self) -> None:
        from songwriter_app.jobs.runner import lower_thread_priority

        if self.nice:
            lower_thread_priority()  # every job yields to the GUI thread and the display server
        try:
            kwargs = dict(self.kwargs)
            if self.pass_cancel:
                kwargs["cancel"] = self.cancel_token
            result = self.fn(*self.args, **kwargs)
            if inspect.isgenerator(result):
                result = self._iterate(result)
            self.returned.emit(result)
        except Exception as exc:
            if isinstance(exc, EngineError):
                log.info("%s: %s", self.name, exc)
            else:
                log.exception("%s failed", self.name)
            self.errored.emit(describe_error(exc))
        finally:
            self.done.emit()
            thread = self.thread()
            if thread is not None:
                thread.quit()  # thread-safe; the QThread's loop ends once run() returns

    def _emit(self, item: Any) -> None:
        self.yielded.emit(self.prepare(item) if self.prepare is not None else item)

    def _iterate(self, gen: Any) -> Any:
        last_sent = -float("inf")
        pending: Any = None
        has_pending = False
        try:
            while True:
                item = next(gen)
                if self.droppable is not None and self.droppable(item):
                    now = time.monotonic()
                    if now - last_sent >= self.min_interval:
                        self._emit(item)
                        last_sent, has_pending = now, False
                    else:
                        pending, has_pending = item, True
                    continue
                if has_pending:
                    self._emit(pending)
                    has_pending = False
                self._emit(item)
        except StopIteration as stop:
            if has_pending:
                self._emit(pending)
            return stop.value
