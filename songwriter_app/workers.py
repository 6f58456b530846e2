"""Long jobs off the GUI thread: one QObject worker moved to a QThread per job.

Workers iterate engine generators and emit past-tense signals with plain data
(frozen engine events, numpy copies, dicts). Cancel means setting a token; a
worker never gets terminated. `JobRunner` owns the threads, keeps Python
references alive until each thread has finished, and joins them on quit.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QThread, Signal, Slot

from engine.errors import DeviceError, EngineError
from engine.trainer import CancelToken

log = logging.getLogger(__name__)

PROGRESS_MIN_INTERVAL = 0.1  # seconds between progress signals (the engine throttles to 20/s)
TRAINING_NICE = int(os.environ.get("SONGWRITER_TRAINING_NICE", "10"))  # 0 = leave it


def describe_error(exc: BaseException) -> tuple[str, str, str]:
    """(title, message, kind) for a dialog; kind is 'device', 'engine' or 'bug'."""
    if isinstance(exc, DeviceError):
        return "The compute device failed", str(exc), "device"
    if isinstance(exc, EngineError):
        return "Cannot do that", str(exc), "engine"
    if isinstance(exc, MemoryError):
        return ("Out of memory",
                "The computer ran out of memory. Choose a smaller preset or a shorter section.",
                "device")
    detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return "Something went wrong", f"An unexpected error happened: {detail}", "bug"


class Worker(QObject):
    """Base: `work()` runs in the thread; exceptions become `errored(title, message, kind)`."""

    errored = Signal(str, str, str)
    done = Signal()  # always last, after finished/cancelled/errored

    def __init__(self) -> None:
        super().__init__()
        self.cancel_token = CancelToken()
        self.name = type(self).__name__

    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def cancelled_requested(self) -> bool:
        return self.cancel_token.cancelled

    @Slot()
    def run(self) -> None:
        lower_thread_priority()  # every job yields to the GUI thread and the display server
        try:
            self.work()
        except Exception as exc:
            if not isinstance(exc, EngineError):
                log.exception("%s failed", self.name)
            else:
                log.info("%s: %s", self.name, exc)
            self.errored.emit(*describe_error(exc))
        finally:
            self.done.emit()
            thread = self.thread()
            if thread is not None:
                thread.quit()  # thread-safe; the QThread's loop ends once run() returns

    def work(self) -> None:
        raise NotImplementedError


class JobRunner(QObject):
    """Starts workers in their own QThreads and keeps them alive until they finish."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: dict[int, tuple[Worker, QThread]] = {}
        self.closed = False  # after shutdown: start() refuses new jobs

    def start(self, worker: Worker) -> QThread | None:
        if self.closed:
            log.info("not starting %s: the window is closing", worker.name)
            return None
        thread = QThread()
        thread.setObjectName(worker.name)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        key = id(worker)
        self._jobs[key] = (worker, thread)
        thread.finished.connect(self._on_thread_finished)
        thread.start()
        return thread

    @Slot()
    def _on_thread_finished(self) -> None:
        for key, (worker, thread) in list(self._jobs.items()):
            if thread.isFinished():
                del self._jobs[key]
                worker.deleteLater()
                thread.deleteLater()

    def running(self, kind: type[Worker] | None = None) -> list[Worker]:
        return [w for w, t in self._jobs.values()
                if t.isRunning() and (kind is None or isinstance(w, kind))]

    def cancel_all(self) -> None:
        for worker, _ in self._jobs.values():
            worker.cancel()

    def close(self, timeout_s: float = 120.0) -> bool:
        """Refuse new jobs, cancel the running ones and join their threads."""
        self.closed = True
        self.cancel_all()
        return self.wait_all(timeout_s)

    def wait_all(self, timeout_s: float = 120.0) -> bool:
        """Join every thread (after cancel_all). True when all ended in time."""
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
        log.debug("could not lower the training thread's priority: %s", exc)


# ---- training ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainRequest:
    project_dir: Path
    clip_path: Path | None = None  # None when resuming
    preset: Any = None  # a TrainConfig; None when resuming
    start: float = 0.0
    duration: float | None = None
    device: str | None = None
    seed: int = 0
    resume: bool = False


class TrainWorker(Worker):
    """Iterates engine.trainer.iter_train and forwards its events."""

    run_started = Signal(object)  # TrainStarted
    progressed = Signal(object)  # TrainProgress (throttled; the last of each scale always sent)
    scale_finished = Signal(object)  # ScaleFinished with its own numpy copies
    finished = Signal(object)  # TrainFinished
    cancelled = Signal(object)  # TrainCancelled

    def __init__(self, request: TrainRequest) -> None:
        super().__init__()
        self.request = request

    def work(self) -> None:
        from engine.trainer import (
            ScaleFinished,
            TrainCancelled,
            TrainFinished,
            TrainProgress,
            TrainStarted,
            iter_train,
        )

        r = self.request
        events = iter_train(
            None if r.resume else r.clip_path, r.project_dir, None if r.resume else r.preset,
            start=r.start, duration=r.duration, device=r.device, seed=r.seed, resume=r.resume,
            cancel=self.cancel_token,
        )
        last_sent = 0.0
        pending: Any = None
        for ev in events:
            if isinstance(ev, TrainProgress):
                now = time.monotonic()
                if now - last_sent >= PROGRESS_MIN_INTERVAL or ev.iteration == ev.iterations:
                    self.progressed.emit(ev)
                    last_sent, pending = now, None
                else:
                    pending = ev
                continue
            if pending is not None:
                self.progressed.emit(pending)
                pending = None
            if isinstance(ev, TrainStarted):
                self.run_started.emit(ev)
            elif isinstance(ev, ScaleFinished):
                self.scale_finished.emit(replace(
                    ev, preview=np.array(ev.preview, dtype=np.float32, copy=True),
                    reconstruction=np.array(ev.reconstruction, dtype=np.float32, copy=True),
                ))
            elif isinstance(ev, TrainFinished):
                self.finished.emit(ev)
            elif isinstance(ev, TrainCancelled):
                self.cancelled.emit(ev)


# ---- one-shot functions -------------------------------------------------------------------------


class CallWorker(Worker):
    """Runs fn(*args, cancel=token?) once; emits finished(result)."""

    finished = Signal(object)

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "", pass_cancel: bool = False,
                 **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.pass_cancel = pass_cancel
        if name:
            self.name = name

    def work(self) -> None:
        kwargs = dict(self.kwargs)
        if self.pass_cancel:
            kwargs["cancel"] = self.cancel_token
        self.finished.emit(self.fn(*self.args, **kwargs))


# ---- variations --------------------------------------------------------------------------------


class ModelCache:
    """The loaded model of one project, shared by the worker threads (one at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, int, float] | None = None
        self._model: Any = None

    def get(self, project_dir: Path, device: str | None = None) -> Any:
        from engine.checkpoint import read_manifest
        from engine.generate import load_model

        m = read_manifest(project_dir)
        key = (str(Path(project_dir).resolve()), m.scales_done, m.updated)
        with self._lock:
            if self._key != key:
                self._model = load_model(project_dir, device)
                self._key = key
            return self._model

    def clear(self) -> None:
        with self._lock:
            self._key, self._model = None, None


def _quick_verdict() -> Callable[..., tuple[str, dict[str, float]]] | None:
    try:
        from engine.analysis import quick_verdict
    except ImportError:
        return None
    return quick_verdict


def mel_of(audio: np.ndarray, sr: int) -> np.ndarray:
    from engine.features import log_mel

    return np.ascontiguousarray(log_mel(audio, sr), dtype=np.float32)


@dataclass(frozen=True)
class VariationRequest:
    project_dir: Path
    seeds: tuple[int, ...]
    seconds: float
    from_scale: int | None
    device: str | None = None


class VariationWorker(Worker):
    """Renders variations one by one, saves each in the store, then computes its verdict."""

    variation_ready = Signal(object)  # dict: record, audio (copy), mel, existed (bool)
    verdict_ready = Signal(object)  # dict: project, record (with verdict and metrics)
    finished = Signal(int)  # how many were made
    cancelled = Signal(int)

    def __init__(self, request: VariationRequest, store: Any, cache: ModelCache) -> None:
        super().__init__()
        self.request, self.store, self.cache = request, store, cache

    def work(self) -> None:
        from engine.generation import (
            GenerationDone,
            VariationReady,
            VerdictReady,
            generate_into_project,
        )
        from engine.project import Project, RenderRecipe

        r = self.request
        from engine.checkpoint import read_manifest

        project = Project(r.project_dir, read_manifest(r.project_dir), store=self.store)
        n = project.scales_done
        recipes = [RenderRecipe.of(seed, r.seconds, r.from_scale, n) for seed in r.seeds]
        for ev in generate_into_project(project, recipes, device=r.device,
                                        cancel=self.cancel_token):
            if isinstance(ev, VariationReady):
                self.variation_ready.emit({
                    "project": r.project_dir, "record": ev.record, "audio": ev.audio,
                    "mel": mel_of(ev.audio, ev.sample_rate), "existed": ev.existed,
                })
            elif isinstance(ev, VerdictReady):
                self.verdict_ready.emit({"project": r.project_dir, "record": ev.record})
            elif isinstance(ev, GenerationDone):
                (self.cancelled if ev.cancelled else self.finished).emit(ev.made)


class VerdictWorker(Worker):
    """Fills in missing verdicts of stored variations (e.g. made before metrics existed)."""

    verdict_ready = Signal(object)  # dict: project, record
    finished = Signal(int)

    def __init__(self, store: Any, ids: list[str]) -> None:
        super().__init__()
        self.store, self.ids = store, ids

    def work(self) -> None:
        from engine.export import original_section

        fn = _quick_verdict()
        done = 0
        if fn is not None and self.ids:
            clip, _sr = original_section(self.store.project_dir)
            for vid in self.ids:
                if self.cancel_token.cancelled:
                    break
                audio, sr = self.store.load_audio(vid)
                try:
                    text, numbers = fn(clip, audio, sr)
                except Exception:
                    log.exception("quick_verdict failed for %s", vid)
                    continue
                rec = self.store.set_verdict(vid, str(text), dict(numbers))
                self.verdict_ready.emit({"project": self.store.project_dir, "record": rec})
                done += 1
        self.finished.emit(done)


# ---- export -------------------------------------------------------------------------------------


class ExportWorker(Worker):
    progressed = Signal(int, int, str)  # done, total, file name
    finished = Signal(object)  # list[ExportResult]
    cancelled = Signal(object)

    def __init__(self, project_dir: Path, plan: Any, on_conflict: str) -> None:
        super().__init__()
        self.project_dir, self.plan, self.on_conflict = project_dir, plan, on_conflict

    def work(self) -> None:
        from engine.export import export_variations

        results = []
        total = len(self.plan.items)
        for res in export_variations(self.project_dir, self.plan, on_conflict=self.on_conflict,
                                     cancel=self.cancel_token):
            results.append(res)
            name = res.path.name if res.path is not None else "(skipped)"
            self.progressed.emit(len(results), total, name)
        if self.cancel_token.cancelled and len(results) < total:
            self.cancelled.emit(results)
        else:
            self.finished.emit(results)
