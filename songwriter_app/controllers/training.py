"""Training: presets and their cost on this computer, train / cancel / resume in the
background, live progress, loss curves and coarse-to-fine previews."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.config import PRESETS, TrainConfig, default_preset_for, get_preset
from engine.errors import EngineError
from engine.project import Project
from engine.training.cost import clock_time, probe_is_current
from songwriter_app.controllers.project import ProjectController
from songwriter_app.jobs import JobRunner, JobSlot
from songwriter_app.jobs.errors import JobError
from songwriter_app.settings import AppSettings, new_project_dir
from songwriter_app.stall_monitor import StallMonitor
from songwriter_app.state import PreviewAudio
from songwriter_app.views.clip_view import ClipView
from songwriter_app.views.panels import TrainingPanel

log = logging.getLogger(__name__)

LOSS_REFRESH_S = 0.25  # redraw the loss plot at most 4 times a second
# The presets a user chooses from; `tiny` (tests) is listed only when a developer asks for it
# (SONGWRITER_TEST_PRESETS=1), and comparison presets (quick8k) never.
USER_PRESETS = ("quick", "thorough", "studio", "standard", "hifi")
TEST_PRESETS_ENV = "SONGWRITER_TEST_PRESETS"


def listed_presets() -> list[str]:
    names = [n for n in USER_PRESETS if n in PRESETS]
    if os.environ.get(TEST_PRESETS_ENV, "").strip() not in ("", "0"):
        names.insert(0, "tiny")
    return names


def _is_cpu(device_label: str) -> bool:
    """engine.device.device_label names a CPU "CPU (N threads)", a GPU by its model."""
    return "cpu" in device_label.lower()


def default_preset(device_label: str) -> str:
    """The best preset for the device: standard on a CUDA GPU, thorough on a CPU."""
    return default_preset_for("cpu" if _is_cpu(device_label) else "cuda")


def chosen_preset_key(device_label: str) -> str:
    """Where the preset the user last picked is kept: one choice for CPUs, one for GPUs."""
    return f"train/preset/{'cpu' if _is_cpu(device_label) else 'gpu'}"


def run_training(project_dir: Path, clip_path: Path | None, preset: TrainConfig | None, *,
                 start: float, duration: float | None, device: str | None, resume: bool,
                 cancel: Any = None, layout: Any = None) -> Any:
    from engine.training.loop import iter_train

    return iter_train(None if resume else clip_path, project_dir, None if resume else preset,
                      start=start, duration=duration, device=device, resume=resume,
                      cancel=cancel, layout=None if resume else layout)


def _copy_event(ev: Any) -> Any:
    """Numpy copies of a finished scale's previews: nothing shared crosses threads."""
    from dataclasses import replace

    from engine.training.loop import ScaleFinished

    if isinstance(ev, ScaleFinished):
        return replace(ev, preview=np.array(ev.preview, dtype=np.float32, copy=True),
                       reconstruction=np.array(ev.reconstruction, dtype=np.float32, copy=True))
    return ev


def _is_progress(ev: Any) -> bool:
    from engine.training.loop import TrainProgress

    return isinstance(ev, TrainProgress) and ev.iteration != ev.iterations


def run_probe(device: str | None, cancel: Any = None) -> dict[str, Any] | None:
    from engine.device import resolve_device
    from engine.training.cost import probe

    try:
        return probe(resolve_device(device), cancel)
    except InterruptedError:
        return None  # cancelled (training started)


class TrainingController(QObject):
    started = Signal()
    progressed = Signal(object)  # TrainProgress (throttled; the last of each scale always)
    scale_finished = Signal(object)  # ScaleFinished, with its own numpy copies
    ended = Signal(str)  # "finished", "cancelled" or "failed"
    busy_changed = Signal(bool)
    status = Signal(str, int)  # a line for the status bar, ms to show it (0 = until replaced)
    failed = Signal(str, str, str)

    def __init__(self, panel: TrainingPanel, clip_view: ClipView, projects: ProjectController,
                 runner: JobRunner, settings: AppSettings, *, projects_dir: Path,
                 device: str | None, device_name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel, self.clip_view, self.projects = panel, clip_view, projects
        self.settings, self.projects_dir = settings, projects_dir
        self.device, self.device_name = device, device_name
        self.preset_overrides: dict[str, dict[str, Any]] = {}  # tests: {"tiny": {...}}
        self.previews: dict[int, PreviewAudio] = {}
        self.probe_result: dict[str, Any] | None = None
        self.stall = StallMonitor(self)
        self.last_stall_ms: float | None = None
        self._bench: dict[str, Any] | None = None
        self._t0 = 0.0
        self._last_plot_refresh = 0.0
        # why training here must wait (the window sets it: the local training queue is running),
        # or None
        self.blocked_by: Callable[[], str | None] = lambda: None
        self._train = JobSlot(runner, "train", self)
        self._probe = JobSlot(runner, "probe", self)
        self._warm = JobSlot(runner, "warm-up", self)
        self._train.busy_changed.connect(self.busy_changed)
        self.warmed_up = False
        self.auto_probe = False

        names = listed_presets()
        chosen = settings.get(chosen_preset_key(device_name), "")
        panel.set_presets(names, {n: PRESETS[n].help_text("\n\n") for n in names},
                          chosen if chosen in names else default_preset(device_name))
        panel.preset_chosen.connect(
            lambda name: settings.set(chosen_preset_key(device_name), name))
        panel.set_device(device_name)
        panel.preset_changed.connect(self._on_preset_changed)
        panel.train_requested.connect(self.start_training)
        panel.cancel_requested.connect(self.cancel_training)
        panel.resume_requested.connect(self.resume_training)
        panel.measure_requested.connect(lambda: self.start_probe(force=True))
        clip_view.region_changed.connect(lambda *_: self._on_section_changed())
        projects.project_changed.connect(self._on_project_changed)
        projects.project_refreshed.connect(self._show_project_state)
        projects.previews_loaded.connect(self._on_saved_previews)
        projects.section_known.connect(self._on_section_known)
        self._on_preset_changed()

    # ---- state ----

    @property
    def busy(self) -> bool:
        return self._train.busy

    @property
    def job(self) -> Any:
        """The running training job's worker (None when idle)."""
        return self._train.worker

    def current_config(self) -> TrainConfig:
        name = self.panel.preset_name()
        return get_preset(name, **self.preset_overrides.get(name, {}))

    def _on_preset_changed(self) -> None:
        cfg = self.current_config()
        self.panel.show_summary(cfg.summary, cfg.details)
        self.clip_view.set_max_seconds(cfg.max_seconds)
        self._on_section_changed()

    def _on_section_changed(self) -> None:
        start, dur = self.clip_view.section()
        cfg = self.current_config()
        self.panel.show_section(start, dur, cfg.name, cfg.max_seconds)
        self._update_cost()

    def _on_section_known(self, start: float, duration: float, max_seconds: float) -> None:
        self.clip_view.set_max_seconds(max_seconds)
        self.clip_view.set_section(start, duration)

    def _on_project_changed(self, project: Project | None) -> None:
        if self.busy:
            return  # training adopted the project it writes into; keep its live previews
        self.previews.clear()
        self.panel.clear_run()
        if project is None:
            self.panel.show_untrained()
            return
        self.panel.set_preset(project.config.name)
        self._show_project_state(project)
        if project.trained:
            self.projects.load_previews()

    def _show_project_state(self, project: Project) -> None:
        m = project.manifest
        if m.complete:
            self.panel.show_state(
                f"Trained: {m.n_scales} scales, {m.config.name} preset, "
                f"{clock_time(sum(m.seconds_per_scale))} on {m.device_name or m.device}.", 1.0)
        else:
            self.panel.show_state(f"{m.scales_done} of {m.n_scales} scales trained. Resume "
                                  "continues.", m.scales_done / max(1, m.n_scales))

    def _on_saved_previews(self, previews: list[PreviewAudio], losses: list[dict]) -> None:
        """A reopened project's previews and curves (not while a run adds its own)."""
        if self.busy or self.previews:
            return
        for p in previews:
            self._add_preview(p)
        self.panel.show_loss_history(self.projects.project.manifest.rates if self.projects.project
                                     else [], losses)

    def _add_preview(self, p: PreviewAudio) -> None:
        self.previews[p.scale] = p
        self.panel.add_preview(p.scale, p.n_scales, p.rate, p.seconds)

    # ---- warm-up and cost ----

    def start_warm_up(self) -> None:
        from songwriter_app.warmup import warm_up_engine

        self._warm.start(warm_up_engine, self.device, pass_cancel=True,
                         on_result=self._on_warmed_up, on_error=self._on_warm_up_error)

    def _on_warmed_up(self, seconds: float) -> None:
        self.warmed_up = True
        log.info("engine warm-up took %.1f s", seconds)
        if self.auto_probe:
            self.start_probe()

    def _on_warm_up_error(self, err: JobError) -> None:
        log.warning("engine warm-up failed: %s", err.message)
        if err.kind == "device":
            self.status.emit(f"{err.title}: {err.message}", 8000)
        if self.auto_probe:
            self.start_probe()

    def start_probe(self, force: bool = False) -> None:
        if self._probe.busy or self.busy:
            return
        key = f"probe/{self.device_name}"
        cached = "" if force else self.settings.get(key, "")
        if cached:
            with contextlib.suppress(ValueError):
                self.probe_result = json.loads(cached)
                if probe_is_current(self.probe_result):
                    self._update_cost()
                    return
        from engine.training.cost import bench_fits, shapes_needed, stored_bench_dir

        bench_dir = stored_bench_dir()
        self._bench = bench_fits(bench_dir, self.device_name) if bench_dir else None
        if self._bench is not None and not force and set(shapes_needed()) <= set(
                self._bench["fits"]):
            self.probe_result = self._bench
            self._update_cost()
            return
        self.panel.show_cost("Measuring what each preset costs on this computer (a few "
                             "seconds)…", measuring=True)
        self._probe.start(run_probe, self.device, pass_cancel=True, on_result=self._on_probe,
                          on_error=lambda e: self.status.emit(f"{e.title}: {e.message}", 8000),
                          on_done=self._on_probe_done)

    @property
    def probing(self) -> bool:
        return self._probe.busy

    def stop_probe(self) -> None:
        self._probe.request_cancel()

    def _on_probe_done(self) -> None:
        self.panel.show_cost(None, measuring=False)
        if self.probe_result is None:
            self.panel.show_cost("Not measured (the measurement was stopped).", measuring=False)

    def _on_probe(self, result: dict[str, Any] | None) -> None:
        if result is None:
            return
        if self._bench is not None:  # stored bench figures win for the shapes they cover
            result = {**result, "fits": {**result["fits"], **self._bench["fits"]},
                      "source": "probe + " + str(self._bench.get("source", "bench"))}
        self.probe_result = result
        self.settings.set(f"probe/{self.device_name}", json.dumps(result))
        self._update_cost()

    def _update_cost(self) -> None:
        from engine.training.cost import estimate_seconds, format_duration

        if self.probe_result is None:
            return
        fits = self.probe_result.get("fits", {})
        _, dur = self.clip_view.section()
        dur = dur or 10.0
        for name in self.panel.preset_names():
            cfg = get_preset(name, **self.preset_overrides.get(name, {}))
            self.panel.show_preset_cost(name, format_duration(estimate_seconds(cfg, dur, fits)))
        cfg = self.current_config()
        est = estimate_seconds(cfg, dur, fits)
        where = self.probe_result.get("device_name", self.device_name)
        source = str(self.probe_result.get("source", ""))
        how = ("from stored bench figures" if source.startswith("bench")
               else "measured here and bench figures" if "bench" in source else "measured here")
        self.panel.show_cost(f"{format_duration(est)} on {where} for this "
                             f"{min(dur, cfg.max_seconds):.1f} s section ({how}; slower while "
                             "other programs run).", measuring=None)

    # ---- training ----

    def start_training(self, layout: Any = None) -> bool:
        """Train a new project on the clip's section, or (with `layout`, an
        engine.project.layout.LayoutRequest) on sections with a gap: a bridge or an ending."""
        clip = self.projects.clip
        if self.busy or clip is None:
            return False
        project = self.projects.project
        if project is not None and clip.path == project.root / "clip.wav":
            self.failed.emit("The source file is missing", "This project's source file is gone; "
                             "open the song file again to train a new model on it.", "engine")
            return False
        start, dur = self.clip_view.section()
        root = new_project_dir(self.projects_dir, clip.path)
        self.previews.clear()
        self.panel.clear_run()
        return self._run(root, clip.path, self.current_config(), start, dur, resume=False,
                         layout=layout)

    def resume_training(self) -> bool:
        project = self.projects.project
        if self.busy or project is None:
            return False
        return self._run(project.root, None, None, 0.0, None, resume=True)

    def cancel_training(self) -> None:
        if self.busy:
            self._train.request_cancel()
            self.panel.show_state("Cancelling after this iteration…", None)

    def _run(self, root: Path, clip_path: Path | None, preset: TrainConfig | None, start: float,
             duration: float | None, *, resume: bool, layout: Any = None) -> bool:
        reason = self.blocked_by()
        if reason:
            self.panel.show_state(reason, None)
            self.status.emit(reason, 8000)
            return False
        self.stop_probe()
        self.projects.cancel_preview_loading()
        self.panel.show_state("Preparing…", 0.0)
        worker = self._train.start(
            run_training, root, clip_path, preset, start=start, duration=duration,
            device=self.device, resume=resume, layout=layout, pass_cancel=True,
            droppable=_is_progress,
            prepare=_copy_event, on_item=self._on_event, on_error=self._on_error,
            on_done=self._on_done)
        if worker is None:
            return False
        self.projects.locked_reason = "Cancel the training before opening something else."
        self._t0 = time.monotonic()
        self.stall.start()
        self.started.emit()
        return True

    def _on_event(self, ev: Any) -> None:
        from engine.training.loop import (
            ScaleFinished,
            TrainCancelled,
            TrainFinished,
            TrainProgress,
            TrainStarted,
        )

        if isinstance(ev, TrainProgress):
            self._on_progress(ev)
            self.progressed.emit(ev)
        elif isinstance(ev, TrainStarted):
            self.projects.adopt(Path(ev.project_dir))
            self.settings.add_recent_project(Path(ev.project_dir))
            self.panel.set_device(ev.device_name)
            self.panel.start_run(ev.rates, ev.config.iters_per_scale)
            where = "from scale " + str(ev.first_scale + 1) if ev.first_scale else "from the start"
            self.panel.show_state(f"Training {ev.config.name} on {ev.device_name} "
                                  f"({ev.n_scales} scales, {where})…", None)
            self.status.emit(f"Training into {ev.project_dir}", 8000)
        elif isinstance(ev, ScaleFinished):
            self._add_preview(PreviewAudio(ev.scale, ev.n_scales, ev.rate, ev.preview,
                                           ev.reconstruction, ev.sample_rate, ev.seconds))
            self.status.emit(f"Scale {ev.scale + 1} of {ev.n_scales} done ({ev.rate} Hz): listen "
                             "to its preview in the list.", 8000)
            self.scale_finished.emit(ev)
        elif isinstance(ev, TrainFinished):
            worst = self._finish_stall_measure()
            self.status.emit(f"Training finished in {clock_time(time.monotonic() - self._t0)} "
                             f"(window stayed responsive: worst stall {worst:.0f} ms). Generate "
                             "variations now.", 0)
            self.projects.refresh()
            self.ended.emit("finished")
        elif isinstance(ev, TrainCancelled):
            self._finish_stall_measure()
            self.status.emit(f"Training cancelled after {ev.scales_done} of {ev.n_scales} "
                             "scales; the project is kept. Press Resume to continue.", 0)
            self.projects.refresh()
            self.ended.emit("cancelled")

    def _on_progress(self, ev: Any) -> None:
        total = ev.elapsed + ev.eta_seconds if math.isfinite(ev.eta_seconds) else math.nan
        if math.isfinite(total) and total > 0:
            frac = ev.elapsed / total
        else:
            frac = (ev.scale + ev.iteration / ev.iterations) / ev.n_scales
        self.panel.show_state(f"Scale {ev.scale + 1} of {ev.n_scales} · {ev.rate} Hz · "
                              f"iteration {ev.iteration}/{ev.iterations} · "
                              f"{clock_time(ev.eta_seconds)} left", min(max(frac, 0.0), 1.0))
        self.panel.add_loss_point(ev.scale, ev.iteration, ev.iterations, ev.losses)

    def refresh_plot(self) -> str | None:
        """Throttled loss-plot redraw while training; returns a stall line for the status bar."""
        now = time.monotonic()
        if not self.busy or now - self._last_plot_refresh < LOSS_REFRESH_S:
            return None
        self._last_plot_refresh = now
        self.panel.refresh_plot()
        return f"UI stall: worst {self.stall.worst_ms:.0f} ms" if self.stall.running else None

    def _finish_stall_measure(self) -> float:
        self.stall.stop()
        worst = self.last_stall_ms = self.stall.worst_ms
        log.info("training: worst event-loop stall %.1f ms, mean lateness %.1f ms over %d ticks; "
                 "stalls > %.0f ms at (s, ms): %s", worst, self.stall.mean_ms, self.stall.ticks,
                 self.stall.report_ms, [(round(t, 2), round(ms)) for t, ms in self.stall.stalls])
        return worst

    def _on_error(self, err: JobError) -> None:
        self._finish_stall_measure()
        self.panel.show_state("Training stopped: " + err.message, None)
        project = self.projects.project
        if project is not None and Project.is_project(project.root):
            with contextlib.suppress(EngineError):
                self.projects.refresh()
        self.failed.emit(err.title, err.message, err.kind)
        self.ended.emit("failed")

    def _on_done(self) -> None:
        self.projects.locked_reason = ""
        self.panel.refresh_plot()
