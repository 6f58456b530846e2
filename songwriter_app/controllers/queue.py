"""The training queue in the app: add the current section (or files) with the chosen preset,
run the queue in the background (here, or on a Ray cluster), show each job's progress, act on
jobs, open finished projects.

The queue is the engine's queue file (engine.queue), shared with `songwriter-cli queue`: the
panel re-reads it every second, so jobs added or cancelled from a terminal show up too. The
queue runs as one job of the app's job machinery (a worker thread iterating the engine's
runner generator). Closing the window stops it after the current iteration; the job resumes
from its last finished scale when the queue starts again, which it does by itself when the app
reopens after being closed (or killed) with the queue running.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from engine.errors import EngineError
from engine.queue import (
    DONE,
    RUNNING,
    Job,
    JobEnded,
    JobProgress,
    JobStarted,
    QueueFile,
    QueueFinished,
)
from engine.queue.model import layout_jobs, section_jobs
from engine.training.cost import clock_time
from songwriter_app.controllers.project import ProjectController
from songwriter_app.controllers.training import TrainingController
from songwriter_app.jobs import JobRunner, JobSlot
from songwriter_app.jobs.errors import JobError
from songwriter_app.settings import AppSettings
from songwriter_app.views.clip_view import ClipView
from songwriter_app.views.queue_panel import QueuePanel, QueueRow

log = logging.getLogger(__name__)

REFRESH_MS = 1000  # re-read the queue file (progress, and changes made from a terminal)
RUNNING_KEY = "queue/running"  # "1" while the queue runs; left "1" when the app closes so
CLUSTER_KEY = "queue/cluster"  # the Ray address the queue runs on ("" = this computer)


def run_queue(queue_path: Path, device: str | None, cluster: str = "",
              cancel: Any = None) -> Any:
    """The worker's job: the engine's runner generator (local or Ray)."""
    queue = QueueFile(queue_path)
    if cluster:
        from engine.queue.cluster import iter_run_cluster

        return iter_run_cluster(queue, cluster, stop=cancel)
    from engine.queue.runner import iter_run

    return iter_run(queue, device=device, stop=cancel)


def _is_progress(ev: Any) -> bool:
    return isinstance(ev, JobProgress)


class QueueController(QObject):
    status = Signal(str, int)  # a line for the status bar, ms to show it
    failed = Signal(str, str, str)  # title, message, kind
    busy_changed = Signal(bool)
    job_ended = Signal(str, str)  # job id, state

    def __init__(self, panel: QueuePanel, clip_view: ClipView, projects: ProjectController,
                 training: TrainingController, runner: JobRunner, settings: AppSettings, *,
                 queue_path: Path, projects_dir: Path, device: str | None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel, self.clip_view, self.projects, self.training = panel, clip_view, projects, \
            training
        self.runner, self.settings = runner, settings
        self.queue = QueueFile(queue_path)
        self.projects_dir, self.device = projects_dir, device
        self.live: dict[str, JobProgress] = {}  # the running jobs' latest progress
        self._slot = JobSlot(runner, "queue", self)
        self._slot.busy_changed.connect(self._on_busy)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()

        panel.add_section_requested.connect(self.add_current_section)
        panel.add_files_requested.connect(lambda: self.add_files())
        panel.start_requested.connect(self.start)
        panel.stop_requested.connect(self.stop)
        panel.cancel_requested.connect(lambda i: self._op("cancel", i))
        panel.retry_requested.connect(lambda i: self._op("retry", i))
        panel.remove_requested.connect(lambda i: self._op("remove", i))
        panel.move_requested.connect(self.move)
        panel.open_requested.connect(self.open_job)
        projects.clip_opened.connect(lambda *_: self._update_can_add())
        training.busy_changed.connect(lambda *_: self._update_can_add())
        self._update_can_add()
        self.refresh()

    # ---- state ---------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._slot.busy

    @property
    def cluster(self) -> str:
        return self.settings.get(CLUSTER_KEY, "")

    def set_cluster(self, address: str) -> None:
        self.settings.set(CLUSTER_KEY, address.strip())
        where = f"the Ray cluster at {address.strip()}" if address.strip() else "this computer"
        self.status.emit(f"The queue runs on {where} from its next start.", 8000)

    def resume_if_it_was_running(self) -> bool:
        """Start the queue when the app was closed (or killed) while it ran."""
        if self.settings.get(RUNNING_KEY, "0") != "1" or self.busy:
            return False
        self.status.emit("Continuing the queue that was running when the app closed.", 8000)
        return self.start()

    def jobs(self) -> list[Job]:
        try:
            return self.queue.read()
        except EngineError as exc:
            self.panel.show_status(str(exc))
            return []

    def refresh(self) -> None:
        jobs = self.jobs()
        other_runner = not self.busy and any(j.state == RUNNING for j in jobs) and \
            self.queue.runner_alive()
        rows = [self._row(j, other_runner) for j in jobs]
        self.panel.set_rows(rows)
        counts: dict[str, int] = {}
        for j in jobs:
            counts[j.state] = counts.get(j.state, 0) + 1
        if not jobs:
            text = "The queue is empty. Add the current section or files."
        else:
            text = ", ".join(f"{n} {s}" for s, n in counts.items())
            where = f" on {self.cluster}" if self.cluster else ""
            text += (f" · running{where}" if self.busy else
                     " · run by another process" if other_runner else " · stopped")
        self.panel.show_status(f"{text} · {self.queue.path}")

    def _row(self, job: Job, other_runner: bool) -> QueueRow:
        state = job.state
        live = self.live.get(job.id) if self.busy else None
        if state == RUNNING and not self.busy and not other_runner:
            state = "interrupted"  # resumes when the queue starts
        if state == RUNNING and job.cancel_requested:
            state = "cancelling"
        scale, it, its = job.scale, job.iteration, job.iterations
        eta = job.eta_seconds
        if live is not None:
            scale, it, its, eta = live.scale, live.iteration, live.iterations, live.eta_seconds
        if job.state == DONE:
            progress = f"{job.n_scales} scales"
        elif job.state == RUNNING and its:
            n = job.n_scales or (live.n_scales if live is not None else 0)
            progress = f"scale {scale + 1} of {n} · it {it}/{its}"
        elif job.n_scales:
            progress = f"{job.scales_done} of {job.n_scales} scales"
        else:
            progress = ""
        frac = job.fraction
        if live is not None and live.n_scales:
            frac = min(1.0, (job.scales_done + (it / its if its else 0.0)) / live.n_scales)
        eta_text = clock_time(eta) if job.state == RUNNING and eta is not None and \
            math.isfinite(eta) else ""
        return QueueRow(job.id, job.label, job.preset, state, progress, frac, eta_text,
                        job.project, job.error)

    def _update_can_add(self) -> None:
        self.panel.set_can_add_section(self.projects.clip is not None)

    # ---- adding --------------------------------------------------------------------------------

    def _preset(self) -> tuple[str, dict[str, Any]]:
        cfg = self.training.current_config()
        return cfg.name, dict(self.training.preset_overrides.get(cfg.name, {}))

    def add_current_section(self) -> list[Job]:
        clip = self.projects.clip
        if clip is None:
            self.status.emit("Open a clip first, then add its section to the queue.", 8000)
            return []
        start, duration = self.clip_view.section()
        return self._add([clip.path], [(start, duration or None)])

    def add_files(self, paths: list[Path] | None = None) -> list[Job]:
        if paths is None:
            from PySide6.QtWidgets import QFileDialog

            from engine.audio.io import SUPPORTED_EXTENSIONS

            start = self.settings.get("dirs/clips", str(Path.home()))
            names, _ = QFileDialog.getOpenFileNames(
                self.panel, "Add files to the training queue", start,
                "Audio (" + " ".join(f"*{e}" for e in SUPPORTED_EXTENSIONS) + ")")
            paths = [Path(n) for n in names]
        if not paths:
            return []
        return self._add(paths, None)

    def add_layout(self, request: Any) -> list[Job]:
        """Queue a layout (several sections, a bridge or an ending: a LayoutRequest, e.g. the
        Bridge tab's) with the Train tab's preset. A bad request changes nothing and says why."""
        name, overrides = self._preset()
        try:
            jobs = layout_jobs([request], projects_dir=self.projects_dir, preset=name,
                               overrides=overrides)
            self.queue.add(*jobs)
        except EngineError as exc:
            self.failed.emit("Cannot add to the queue", str(exc), "engine")
            return []
        self.refresh()
        self.status.emit(f"Queued {jobs[0].label} ({name}).", 8000)
        return jobs

    def _add(self, clips: list[Path], sections: list[tuple[float, float | None]] | None
             ) -> list[Job]:
        name, overrides = self._preset()
        try:
            jobs = section_jobs(clips, projects_dir=self.projects_dir, preset=name,
                                overrides=overrides, sections=sections)
            self.queue.add(*jobs)
        except EngineError as exc:
            self.failed.emit("Cannot add to the queue", str(exc), "engine")
            return []
        self.refresh()
        what = jobs[0].label if len(jobs) == 1 else f"{len(jobs)} files"
        self.status.emit(f"Queued {what} ({name}).", 8000)
        return jobs

    # ---- running -------------------------------------------------------------------------------

    def start(self) -> bool:
        if self.busy:
            return False
        if self.training.busy:
            self.status.emit("Training is running in the Train tab; start the queue when it has "
                             "finished.", 8000)
            return False
        self.live.clear()
        worker = self._slot.start(
            run_queue, self.queue.path, self.device, self.cluster, pass_cancel=True,
            droppable=_is_progress, min_interval=0.25, on_item=self._on_event,
            on_error=self._on_error, on_done=self._on_done)
        if worker is None:
            return False
        self.settings.set(RUNNING_KEY, "1")
        return True

    def stop(self) -> None:
        """Stop after the current iteration; the running job goes back to the queue."""
        if self.busy:
            self.settings.set(RUNNING_KEY, "0")
            self._slot.request_cancel()
            self.panel.show_status("Stopping the queue after this iteration…")

    def _on_busy(self, busy: bool) -> None:
        self.panel.set_running(busy)
        self.busy_changed.emit(busy)

    def _on_event(self, ev: Any) -> None:
        if isinstance(ev, JobProgress):
            self.live[ev.job_id] = ev
        elif isinstance(ev, JobStarted):
            how = f"resuming at scale {ev.resume_from + 1}" if ev.resume_from else "starting"
            self.status.emit(f"Queue: {ev.job.label} ({ev.job.preset}) {how}.", 8000)
        elif isinstance(ev, JobEnded):
            self.live.pop(ev.job_id, None)
            if ev.state == "failed":
                self.status.emit(f"Queue: a job failed: {ev.error}", 0)
            elif ev.state == DONE:
                self.settings.add_recent_project(Path(ev.project))  # File > Recent Projects
                self.status.emit(f"Queue: finished {Path(ev.project).name}.", 8000)
            self.job_ended.emit(ev.job_id, ev.state)
        elif isinstance(ev, QueueFinished) and not ev.stopped:
            self.status.emit("The queue is done.", 8000)
        self.refresh()

    def _on_error(self, err: JobError) -> None:
        self.failed.emit("The queue stopped", err.message, err.kind)

    def _on_done(self) -> None:
        self.live.clear()
        if not self.runner.closed:  # the window closing keeps the flag: reopening continues
            self.settings.set(RUNNING_KEY, "0")
        self.refresh()

    # ---- acting on jobs ------------------------------------------------------------------------

    def _op(self, verb: str, job_id: str) -> None:
        try:
            job = getattr(self.queue, verb)(job_id)
        except EngineError as exc:
            self.status.emit(str(exc), 8000)
            return
        note = {"cancel": "cancelling" if job.state == RUNNING else "cancelled",
                "retry": "queued again", "remove": "removed (its project folder stays)"}[verb]
        self.status.emit(f"{job.label}: {note}.", 8000)
        self.refresh()

    def move(self, job_id: str, step: int) -> None:
        ids = [j.id for j in self.jobs()]
        if job_id not in ids:
            return
        self.queue.move(job_id, ids.index(job_id) + step)
        self.refresh()
        self.panel.select_job(job_id)

    def open_job(self, job_id: str) -> bool:
        try:
            job = self.queue.get(job_id)
        except EngineError as exc:
            self.status.emit(str(exc), 8000)
            return False
        if job.state != DONE:
            self.status.emit(f"{job.label} is {job.state}; open it when it is done.", 8000)
            return False
        return self.projects.open_path(Path(job.project))

    def ask_cluster(self, parent: Any) -> None:
        from PySide6.QtWidgets import QInputDialog

        text, ok = QInputDialog.getText(
            parent, "Run the queue on a Ray cluster",
            "Ray cluster address (e.g. 10.0.0.5:6379, or auto; 'local' starts one here).\n"
            "Leave empty to run the queue on this computer:", text=self.cluster)
        if ok:
            self.set_cluster(text)
