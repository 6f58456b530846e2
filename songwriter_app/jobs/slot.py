"""`JobSlot`: at most one job of a kind. Starting a job cancels the slot's previous job and
cuts it off first, so its late results never reach a handler: a handler only ever sees
results of the job the slot holds now (no "is this still for the open project?" checks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from songwriter_app.jobs.errors import JobError
from songwriter_app.jobs.runner import JobRunner
from songwriter_app.jobs.worker import GeneratorWorker

Callback = Callable[[Any], None]


class _Relay(QObject):
    """Lives on the GUI thread: the worker's signals arrive here queued, and go on to the
    callbacks only while the relay is live. Cutting it off also drops calls already queued."""

    def __init__(self, slot: JobSlot, on_item: Callback | None, on_result: Callback | None,
                 on_error: Callable[[JobError], None] | None,
                 on_done: Callable[[], None] | None) -> None:
        super().__init__()  # owned by Python (the slot holds it), never by a Qt parent
        self.slot = slot
        self.live = True
        self.finished = False  # its job's `done` arrived: nothing more will come
        self.callbacks = (on_item, on_result, on_error, on_done)

    def receivers_pending(self) -> bool:
        return not self.finished

    @Slot(object)
    def item(self, value: Any) -> None:
        if self.live and self.callbacks[0] is not None:
            self.callbacks[0](value)

    @Slot(object)
    def result(self, value: Any) -> None:
        if self.live and self.callbacks[1] is not None:
            self.callbacks[1](value)

    @Slot(object)
    def error(self, err: JobError) -> None:
        if self.live and self.callbacks[2] is not None:
            self.callbacks[2](err)

    @Slot()
    def done(self) -> None:
        self.finished = True
        if self.live:
            self.live = False
            self.slot._finished(self)
            if self.callbacks[3] is not None:
                self.callbacks[3]()


class JobSlot(QObject):
    busy_changed = Signal(bool)

    def __init__(self, runner: JobRunner, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.name = name
        self.worker: GeneratorWorker | None = None
        self._relay: _Relay | None = None
        # relays of jobs that were cut off or have finished: kept (Python owns them) until
        # their job's last queued signal has been delivered, then let go
        self._spent: list[_Relay] = []

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(
        self, fn: Callable[..., Any], *args: Any,
        on_item: Callback | None = None,
        on_result: Callback | None = None,
        on_error: Callable[[JobError], None] | None = None,
        on_done: Callable[[], None] | None = None,
        **worker_kwargs: Any,
    ) -> GeneratorWorker | None:
        """Run fn(*args) as this slot's job (replacing any job it holds). Callbacks run on the
        GUI thread, in order: items, then the result or the error, then done."""
        self.cancel()
        worker = GeneratorWorker(fn, *args, name=f"{self.name}:{getattr(fn, '__name__', 'job')}",
                                 **worker_kwargs)
        relay = _Relay(self, on_item, on_result, on_error, on_done)
        worker.yielded.connect(relay.item)
        worker.returned.connect(relay.result)
        worker.errored.connect(relay.error)
        worker.done.connect(relay.done)
        if not self.runner.start(worker):
            relay.live = False
            return None
        self._spent = [r for r in self._spent if r.receivers_pending()]
        self.worker, self._relay = worker, relay
        self.busy_changed.emit(True)
        return worker

    def cancel(self) -> None:
        """Cancel the held job and cut it off: nothing it sends arrives any more."""
        w, relay = self.worker, self._relay
        if w is None:
            return
        self.worker = self._relay = None
        if relay is not None:
            relay.live = False
            self._spent.append(relay)
        w.cancel()
        self.busy_changed.emit(False)

    def request_cancel(self) -> None:
        """Ask the held job to stop but keep listening (for its 'cancelled' result)."""
        if self.worker is not None:
            self.worker.cancel()

    def _finished(self, relay: _Relay) -> None:
        relay.finished = True
        if relay is self._relay:
            self.worker = self._relay = None
            self._spent.append(relay)
            self.busy_changed.emit(False)
