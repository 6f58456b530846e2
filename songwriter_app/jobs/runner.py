"""`JobRunner` owns the worker threads: it starts each worker in its own QThread, keeps
Python references alive until the thread has finished, and joins them on quit."""

from __future__ import annotations

import logging
import os
import threading
import time

from PySide6.QtCore import QObject, QThread, Slot

from songwriter_app.jobs.worker import GeneratorWorker

log = logging.getLogger(__name__)

TRAINING_NICE = int(os.environ.get("SONGWRITER_TRAINING_NICE", "10"))  # 0 = leave it


class JobRunner(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[int, tuple[GeneratorWorker, QThread]] = {}
        self.closed = False  # after close(): start() refuses new jobs

    def start(self, worker: GeneratorWorker) -> bool:
        if self.closed:
            log.info("not starting %s: the window is closing", worker.name)
            return False
        thread = QThread()
        thread.setObjectName(worker.name)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        self._jobs[id(worker)] = (worker, thread)
        thread.finished.connect(self._on_thread_finished)
        thread.start()
        return True

    @Slot()
    def _on_thread_finished(self) -> None:
        # Python owns the worker and the thread: dropping the last reference deletes them here,
        # on the GUI thread, once the thread has finished. No deleteLater(): a Python-owned
        # object deleted by Qt is deleted a second time when its wrapper goes.
        for key, (_worker, thread) in list(self._jobs.items()):
            if thread.isFinished():
                del self._jobs[key]

    def running(self) -> list[GeneratorWorker]:
        return [w for w, t in self._jobs.values() if t.isRunning()]

    def cancel_all(self) -> None:
        for worker, _ in self._jobs.values():
            worker.cancel()

    def close(self, timeout_s: float = 120.0) -> bool:
        """Refuse new jobs, cancel the running ones and join their threads."""
        self.closed = True
        self.cancel_all()
        return self.wait_all(timeout_s)

    def wait_all(self, timeout_s: float = 120.0) -> bool:
        """Join every thread. True when all ended in time."""
        deadline = time.monotonic() + timeout_s
        ok = True
        for _worker, thread in list(self._jobs.values()):
            left_ms = max(0, int((deadline - time.monotonic()) * 1000))
            if thread.isRunning() and not thread.wait(left_ms):
                log.error("thread %s did not stop in time", thread.objectName())
                ok = False
        self._on_thread_finished()
        return ok


def lower_thread_priority(nice: int = TRAINING_NICE) -> None:
    """Make the calling thread (and the compute threads it starts) yield to the GUI.

    On Linux a thread is a task with its own nice value, inherited by threads it creates
    (torch's OpenMP team for this thread). The GUI thread and the display server then get a
    core when they need one, which keeps the window responsive on a 2-core machine while
    costing training little (it still gets all idle CPU). No-op elsewhere.
    """
    if not nice or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, max(current, nice)))
    except OSError as exc:  # not permitted, or not Linux semantics
        log.debug("could not lower the thread's priority: %s", exc)
