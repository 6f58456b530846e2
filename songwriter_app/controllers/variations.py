"""Variations of the open project: generate by recipe, list with verdicts, select and compare,
rate, delete, and drag out into a DAW."""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.errors import EngineError
from engine.project import Project, RenderRecipe
from engine.project.variations import VariationRecord
from songwriter_app.controllers.project import ProjectController, mel_of
from songwriter_app.dialogs import messages
from songwriter_app.jobs import JobRunner, JobSlot
from songwriter_app.jobs.errors import JobError
from songwriter_app.state import SectionAudio, VariationAudio
from songwriter_app.views.panels import VariationsPanel

log = logging.getLogger(__name__)

AUDIO_CACHE = 24  # variations kept decoded (audio + mel) for quick switching


def mid_mel(audio: np.ndarray, sr: int) -> np.ndarray:
    """The mel the compare view shows: of the mid for stereo [2, T] audio (engine.audio.features
    takes mono)."""
    from engine.audio.io import to_mono

    return mel_of(to_mono(np.asarray(audio, dtype=np.float32)), sr)


def analyse_variation(project: Project, vid: str) -> VariationAudio:
    audio, sr = project.store.load_audio(vid)
    return VariationAudio(vid, audio, sr, mid_mel(audio, sr))


def prepare_daw_files(project: Project, records: list[VariationRecord]) -> dict[str, Path]:
    """DAW-ready copies (engine.export.daw_ready_file) of the given variations, for dragging."""
    from engine.export import daw_ready_file

    files: dict[str, Path] = {}
    for rec in records:
        with contextlib.suppress(EngineError, OSError):
            files[rec.id] = daw_ready_file(project, rec)
    return files


def _with_mel(ev: Any) -> Any:
    """In the worker thread: a ready variation's mel, for the compare view."""
    from engine.generation import VariationReady

    if isinstance(ev, VariationReady):
        return ev, VariationAudio(ev.record.id, ev.audio, ev.sample_rate,
                                  mid_mel(ev.audio, ev.sample_rate))
    return ev, None


class VariationsController(QObject):
    busy_changed = Signal(bool)
    selection_changed = Signal(object)  # VariationRecord | None
    shown = Signal(object)  # VariationAudio of the selected variation, ready to play
    status = Signal(str, int)
    failed = Signal(str, str, str)

    def __init__(self, panel: VariationsPanel, projects: ProjectController, runner: JobRunner,
                 *, device: str | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.panel, self.projects, self.device = panel, projects, device
        self.cache: OrderedDict[str, VariationAudio] = OrderedDict()
        self.daw_files: dict[str, Path] = {}
        self._daw_pending: set[str] = set()
        self._generated = 0
        self._generate = JobSlot(runner, "generate", self)
        self._verdicts = JobSlot(runner, "verdicts", self)
        self._analyse = JobSlot(runner, "analyse", self)
        self._daw = JobSlot(runner, "daw-copies", self)
        self._generate.busy_changed.connect(self.busy_changed)

        panel.generate_requested.connect(self.generate)
        panel.stop_requested.connect(self.stop)
        panel.strength_changed.connect(self._update_strength)
        panel.list.selected.connect(self._on_selected)
        panel.list.rate_requested.connect(self.rate)
        panel.rating.rated.connect(self._on_star_clicked)
        panel.delete_requested.connect(self.delete_selected)
        panel.list.drag_files = self.drag_files
        projects.project_changed.connect(self._on_project_changed)
        projects.project_refreshed.connect(self._on_project_refreshed)
        projects.original_loaded.connect(self._on_original)

    @property
    def project(self) -> Project | None:
        return self.projects.project

    @property
    def busy(self) -> bool:
        return self._generate.busy

    # ---- the open project ----

    def _on_project_changed(self, project: Project | None) -> None:
        for slot in (self._generate, self._verdicts, self._analyse, self._daw):
            slot.cancel()
        self.cache.clear()
        self.daw_files.clear()
        self._daw_pending.clear()
        self.panel.clear_compare()
        if project is None:
            self.panel.set_records([], 0)
            return
        self._on_project_refreshed(project)

    def _on_project_refreshed(self, project: Project) -> None:
        records = project.store.list()
        self.panel.set_records(records, project.scales_done)
        section = project.section.duration
        self.panel.set_scales(project.scales_done, section)
        self._update_strength()
        missing = [r.id for r in records if r.verdict is None]
        if missing and project.trained and not self._verdicts.busy and not self.busy:
            from engine.analysis import quick_verdict
            from engine.generation import fill_verdicts

            self._verdicts.start(fill_verdicts, project, quick_verdict, missing, pass_cancel=True,
                                 on_item=self._on_generation_event,
                                 on_error=self._on_quiet_error)

    def _on_original(self, section: SectionAudio) -> None:
        self.panel.compare.set_original(section.audio, section.sample_rate, section.mel,
                                        section.frame_seconds)
        rec = self.panel.list.current_record()
        if rec is not None:
            self._on_selected(rec)

    # ---- generate ----

    def recipes(self) -> list[RenderRecipe]:
        """What Generate would render now, from the panel's settings."""
        project = self.project
        if project is None:
            return []
        seed, count, seconds, from_scale = self.panel.request()
        if project.scales_done < 2:
            from_scale = None
        return [RenderRecipe.of(s, seconds, from_scale, project.scales_done)
                for s in range(seed, seed + count)]

    def generate(self) -> bool:
        from engine.analysis import quick_verdict
        from engine.generation import generate_into_project

        project = self.project
        if project is None or not project.trained or self.busy:
            return False
        recipes = self.recipes()
        self._verdicts.cancel()  # generation gives its own verdicts; the rest come after
        self._generated = 0
        worker = self._generate.start(
            generate_into_project, project, recipes, device=self.device, verdict=quick_verdict,
            pass_cancel=True,
            prepare=_with_mel, on_item=self._on_generation_item, on_error=self._on_error)
        if worker is None:
            return False
        self.panel.advance_seed(len(recipes))
        self.status.emit(f"Generating {len(recipes)} variation(s): {recipes[0].label}…", 0)
        return True

    def stop(self) -> None:
        self._generate.request_cancel()

    def _on_generation_item(self, item: tuple[Any, VariationAudio | None]) -> None:
        ev, audio = item
        if audio is not None:
            self._cache_put(audio)
        self._on_generation_event(ev)

    def _on_generation_event(self, ev: Any) -> None:
        from engine.generation import GenerationDone, VariationReady, VerdictReady

        if isinstance(ev, VariationReady):
            first = self._generated == 0
            self._generated += 1
            self.panel.list.add_record(ev.record, select=first)
            if ev.existed:
                self.status.emit(f"Seed {ev.record.seed} with these settings is already in the "
                                 f"list (#{int(ev.record.id[1:])}).", 8000)
        elif isinstance(ev, VerdictReady):
            self.panel.list.update_record(ev.record)
            self.panel.refresh_metric_choices()
        elif isinstance(ev, GenerationDone) and self._generate.busy:
            self.status.emit(f"{ev.made} new variation(s) made. Space plays, B switches to the "
                             "original, 0-5 rates.", 8000)
        self.busy_changed.emit(self.busy)

    def _update_strength(self) -> None:
        project = self.project
        if project is None:
            return
        seed, _count, seconds, from_scale = self.panel.request()
        recipe = RenderRecipe.of(seed, seconds, from_scale if project.scales_done >= 2 else None,
                                 project.scales_done)
        self.panel.show_strength(recipe.label, project.section.duration,
                                 free=recipe.mode == "free")

    # ---- select, compare, rate, delete ----

    def _cache_put(self, data: VariationAudio) -> None:
        self.cache[data.id] = data
        self.cache.move_to_end(data.id)
        while len(self.cache) > AUDIO_CACHE:
            self.cache.popitem(last=False)

    def _on_selected(self, rec: VariationRecord | None) -> None:
        self.panel.rating.set_value(None if rec is None else rec.rating)
        self.selection_changed.emit(rec)
        if rec is None or self.project is None:
            self.panel.clear_compare()
            return
        self._prepare_daw_files([rec])
        data = self.cache.get(rec.id)
        if data is None:
            self._analyse.start(analyse_variation, self.project, rec.id,
                                on_result=self._on_analysed, on_error=self._on_error)
            return
        self._show(rec, data)

    def _on_analysed(self, data: VariationAudio) -> None:
        self._cache_put(data)
        rec = self.panel.list.current_record()
        if rec is not None and rec.id == data.id:
            self._show(rec, data)

    def _show(self, rec: VariationRecord, data: VariationAudio) -> None:
        if self.projects.original is not None:
            self.panel.compare.set_variation(
                f"Original section (top of each pair) vs #{int(rec.id[1:])}: seed {rec.seed}, "
                f"{rec.strength}, {rec.seconds:.1f} s", data.audio, data.mel)
        self.shown.emit(data)

    def audio_of(self, vid: str) -> VariationAudio | None:
        """A variation's audio (cached, or read now: a short file read on the GUI thread)."""
        data = self.cache.get(vid)
        if data is None and self.project is not None:
            try:
                audio, sr = self.project.store.load_audio(vid)
            except EngineError:
                return None
            return VariationAudio(vid, audio, sr, np.zeros((0, 0), np.float32))  # no mel
        return data

    def _on_star_clicked(self, stars: int) -> None:
        rec = self.panel.list.current_record()
        if rec is not None:
            self.rate(rec.id, stars if stars > 0 else None)

    def rate(self, vid: str, rating: int | None) -> None:
        if self.project is None:
            return
        try:
            rec = self.project.store.rate(vid, rating)
        except EngineError as exc:
            self.failed.emit("Cannot save the rating", str(exc), "engine")
            return
        self.panel.list.update_record(rec)
        self.panel.rating.set_value(rec.rating)
        self.status.emit(f"Rated #{int(vid[1:])}: "
                         f"{rec.rating if rec.rating is not None else 'cleared'}", 8000)

    def delete_selected(self) -> bool:
        lst = self.panel.list
        recs = lst.selected_records() or ([lst.current_record()] if lst.current_record() else [])
        if not recs or self.project is None or self.busy:
            return False
        text = (f"Delete variation #{int(recs[0].id[1:])} (seed {recs[0].seed})?" if len(recs) == 1
                else f"Delete {len(recs)} variations?")
        if not messages.confirm(self.panel, "Delete", text + " The audio file is removed."):
            return False
        for r in recs:
            try:
                self.project.store.delete(r.id)
            except EngineError as exc:
                self.failed.emit("Cannot delete", str(exc), "engine")
                break
            lst.remove_record(r.id)
            self.cache.pop(r.id, None)
        self.status.emit(f"Deleted {len(recs)} variation(s).", 8000)
        self.busy_changed.emit(self.busy)
        return True

    # ---- dragging variations into a DAW ----

    def drag_files(self, records: list[VariationRecord]) -> list[Path]:
        """The file that stands for each dragged variation: its DAW-ready copy when made, else
        the stored file (float wav at the working rate, untrimmed), and the copy is made now
        for the next drag."""
        if self.project is None:
            return []
        paths = []
        for rec in records:
            ready = self.daw_files.get(rec.id)
            paths.append(ready if ready is not None and ready.is_file()
                         else self.project.store.path(rec))
        self._prepare_daw_files(records)
        return paths

    def _prepare_daw_files(self, records: list[VariationRecord]) -> None:
        todo = [r for r in records if r.id not in self.daw_files and r.id not in self._daw_pending]
        if not todo or self.project is None or self._daw.busy:
            return
        self._daw_pending.update(r.id for r in todo)

        def made(files: dict[str, Path], asked: list[str] = None) -> None:
            if asked is None:
                asked = [r.id for r in todo]
            self._daw_pending.difference_update(asked)
            self.daw_files.update(files)

        self._daw.start(prepare_daw_files, self.project, todo, on_result=made,
                        on_error=self._on_quiet_error,
                        on_done=lambda: self._daw_pending.clear())

    # ---- errors ----

    def _on_error(self, err: JobError) -> None:
        self.failed.emit(err.title, err.message, err.kind)
        self.busy_changed.emit(self.busy)

    def _on_quiet_error(self, err: JobError) -> None:
        self.status.emit(f"{err.title}: {err.message}", 8000)
