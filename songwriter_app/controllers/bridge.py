"""Bridges and endings in the app: sections A (green region) and B (blue region, or a range of
another audio file, read off the GUI thread to check it) on the clip view and a gap train a
model with the gap masked (or go to the training queue) (through the training controller, so its
progress shows in the Train tab); takes render into the project's store (the same list the
Variations tab shows, so A/B, rating and export work on them too) with their seams and seam
verdicts; a take plays in context (A -> take -> B, the playheads running through the take's
waveform and the clip) or alone.

One controller for the tab: every part (sections, the B file, training, takes, playback) shares
the tab's state and slots. Its plain functions are in bridge_functions.py; the next to move out
is the section-B file handling (choose_b_file .. _show_sections), into a small controller.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from engine.errors import EngineError
from engine.fileutil import same_file
from engine.project import Project, RenderRecipe
from engine.project.variations import VariationRecord
from songwriter_app.controllers import bridge_functions as parts
from songwriter_app.controllers.export import ExportController
from songwriter_app.controllers.playback import PlaybackController
from songwriter_app.controllers.project import ProjectController
from songwriter_app.controllers.training import TrainingController
from songwriter_app.jobs import JobRunner, JobSlot
from songwriter_app.jobs.errors import JobError
from songwriter_app.settings import AppSettings
from songwriter_app.views.bridge_panel import BridgePanel
from songwriter_app.views.clip_view import ClipView


class BridgeController(QObject):
    busy_changed = Signal(bool)
    status = Signal(str, int)
    failed = Signal(str, str, str)

    def __init__(self, window: QWidget, panel: BridgePanel, clip_view: ClipView,
                 projects: ProjectController, training: TrainingController,
                 playback: PlaybackController, runner: JobRunner, settings: AppSettings, *,
                 device: str | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window, self.panel, self.clip_view = window, panel, clip_view
        self.projects, self.training, self.playback = projects, training, playback
        self.device = device
        self.settings = settings
        self.queue: Any = None  # the window's QueueController (install_bridge sets it)
        # section B from another file: its path, and what reading it found (None until read,
        # or when it cannot be read now: a reopened project whose B file is gone)
        self.b_path: Path | None = None
        self.b_info: Any = None  # engine.project.layout.SectionFile
        self._probe = JobSlot(runner, "b-file", self)
        self._render = JobSlot(runner, "takes", self)
        self._render.busy_changed.connect(self.busy_changed)
        self._render.busy_changed.connect(lambda _b: self.update_state())
        self.export = ExportController(window, projects, runner, settings, self.selected_records,
                                       self)
        self.export.status.connect(self.status)
        self.export.failed.connect(self.failed)
        self.audio: tuple[np.ndarray, int, VariationRecord] | None = None
        self.previous: tuple[np.ndarray, int, VariationRecord] | None = None  # for A/B
        self.playing_context = True

        panel.train_requested.connect(self.train)
        panel.queue_requested.connect(self.add_to_queue)
        panel.b_file_requested.connect(lambda: self.choose_b_file())
        panel.b_clip_requested.connect(self.use_clip_for_b)
        panel.b_range_changed.connect(self._show_sections)
        panel.render_requested.connect(self.render)
        panel.stop_requested.connect(self._render.request_cancel)
        panel.play_context_requested.connect(lambda: self.play(context=True))
        panel.play_alone_requested.connect(lambda: self.play(context=False))
        panel.ab_requested.connect(self.switch_take)
        panel.export_requested.connect(self.export.export_dialog)
        panel.save_take_requested.connect(lambda: self.export.export_dialog(take_alone=True))
        panel.take_selected.connect(self._on_selected)
        panel.visibility_changed.connect(self._on_visible)
        panel.mode_changed.connect(lambda _m: self._show_sections())
        panel.gap.valueChanged.connect(lambda _v: self._show_sections())
        clip_view.region_changed.connect(lambda *_: self._show_sections())
        clip_view.region_b_changed.connect(lambda *_: self._show_sections())
        # after the window has shown the clip (its handler is connected later)
        projects.clip_opened.connect(
            lambda clip: QTimer.singleShot(0, lambda: self._on_clip_opened(clip)))
        projects.project_changed.connect(self._on_project_changed)
        projects.project_refreshed.connect(self._on_project_refreshed)
        training.busy_changed.connect(lambda _b: self.update_state())
        training.ended.connect(self._on_training_ended)

    # ---- state ----

    @property
    def project(self) -> Project | None:
        return self.projects.project

    @property
    def busy(self) -> bool:
        return self._render.busy

    def _gap_project(self) -> Project | None:
        p = self.project
        if p is None or p.manifest.layout is None or p.manifest.layout.gap_span is None:
            return None
        return p

    def update_state(self) -> None:
        p = self._gap_project()
        self.panel.set_project_state(
            can_train=self.projects.clip is not None and not self.training.busy,
            can_render=p is not None and p.trained and not self.training.busy,
            rendering=self.busy,
            can_queue=self.projects.clip is not None and self.queue is not None)

    def _on_training_ended(self, how: str) -> None:
        """A bridge or ending model finished: come back to this tab (after the window's own
        reaction, which shows the Variations tab)."""
        if how != "finished" or self._gap_project() is None:
            return
        tabs = getattr(self.window, "tabs", None)
        if tabs is not None:
            QTimer.singleShot(0, lambda: tabs.setCurrentWidget(self.panel))

    def _b_on_clip(self) -> bool:
        """Section B is the clip view's blue region (not another file, not an ending)."""
        return self.panel.current_mode() != "ending" and self.b_path is None

    def _on_visible(self, shown: bool) -> None:
        self.clip_view.show_section_b(shown and self._b_on_clip())
        if shown:
            self._show_sections()

    def _on_clip_opened(self, _clip: Any) -> None:
        # a fresh clip: B (as long as A, at most a third of the clip) after A and the gap; A
        # stays where the window put it (the user drags both)
        if self.project is None and self.clip_view.duration > 0:
            start, dur = self.clip_view.section()
            total = self.clip_view.duration
            length = max(min(dur, total / 3), 0.5)
            self.clip_view.set_section_b(min(start + dur + self.panel.gap.value(),
                                             max(total - length, 0.0)), length)
        self._place_project_sections()
        self.update_state()

    def _on_project_changed(self, project: Project | None) -> None:
        self._render.cancel()
        self.audio = None
        self.panel.show_take(None, 1, [], None)
        self._on_project_refreshed(project, opened=True)

    def _on_project_refreshed(self, project: Project | None, opened: bool = False) -> None:
        p = self._gap_project()
        if p is not None:
            lay = p.manifest.layout
            if opened:  # a refresh (new takes) keeps the gap the user set for the next takes
                self.panel.set_mode(lay.mode)
                self.panel.gap.setValue(min(max(lay.gap_seconds, self.panel.gap.minimum()),
                                            self.panel.gap.maximum()))
            self.panel.set_state(f"This project is a {lay.mode} model trained with a "
                                 f"{lay.gap_seconds:g} s gap. Render takes fills the gap set "
                                 "above: try other lengths without training again.")
            self._place_project_sections()
        else:
            self.panel.set_state("" if project is None else
                                 "The open project has no gap: train a bridge or ending model.")
        records = [r for r in p.store.list() if r.is_take] if p is not None else []
        self.panel.set_takes([(r.id, *parts.take_label(r)) for r in records])
        self._show_sections()
        self.update_state()

    def _place_project_sections(self) -> None:
        """A bridge project remembers its sections: put A and B back on the clip view when the
        clip shown is their source file; a B from another file comes back as that file, its
        start and length (the file read again, off the GUI thread, to check it is still
        there)."""
        p, clip = self._gap_project(), self.projects.clip
        if p is None or clip is None:
            return
        lay = p.manifest.layout
        a, b = lay.section_a, lay.section_b
        if same_file(a.path, clip.path):
            self.clip_view.set_section(a.start, a.duration)
        if b is None:
            return
        if same_file(b.path, clip.path):
            self._set_b_file(None)
            self.clip_view.set_section_b(b.start, b.duration)
        elif self.b_path is None or not same_file(self.b_path, b.path) or \
                self.panel.b_range() != (b.start, b.duration):
            self.b_path, self.b_info = Path(b.path), None
            self.panel.set_b_file(Path(b.path).name, None, start=b.start, length=b.duration,
                                  note="checking the file…")
            self._probe.start(parts.probe_b_file, b.path, on_result=lambda info: self._on_b_read(
                info, keep=True), on_error=self._on_b_unreadable)
        self._show_sections()

    # ---- section B from another file ----

    def choose_b_file(self, path: Path | None = None) -> bool:
        """Ask for a file (or take `path`) and read it off the GUI thread; B comes from it once
        it proves readable and long enough (an error dialog otherwise, nothing changed)."""
        if path is None:
            from engine.audio.io import SUPPORTED_EXTENSIONS

            start = self.settings.get("dirs/clips", str(Path.home()))
            name, _ = QFileDialog.getOpenFileName(
                self.window, "Section B from another audio file", start,
                "Audio (" + " ".join(f"*{e}" for e in SUPPORTED_EXTENSIONS) + ")")
            if not name:
                return False
            path = Path(name)
        self.status.emit(f"Reading {Path(path).name} for section B…", 0)
        return self._probe.start(parts.probe_b_file, str(path), on_result=self._on_b_read,
                                 on_error=self._on_b_error) is not None

    def _on_b_read(self, info: Any, keep: bool = False) -> None:
        if keep:  # a reopened project: its own start and length, now checked against the file
            start, length = self.panel.b_range()
        else:
            _a0, ad = self.clip_view.section()
            start, length = 0.0, round(min(max(ad, 0.5), info.duration), 2)
        self.b_path, self.b_info = Path(info.path), info
        note = ""
        try:
            info.check_section(start, start + length)
        except EngineError as exc:
            note = str(exc)
        self.panel.set_b_file(info.name, info.duration, start=start, length=length, note=note)
        self.clip_view.show_section_b(False)
        self.status.emit(f"Section B comes from {info.name} ({info.duration:.2f} s): set its "
                         "start and length.", 8000)
        self._show_sections()

    def _on_b_error(self, err: JobError) -> None:
        self.status.emit("", 1)
        self.failed.emit("Cannot use this file for section B", err.message, err.kind)

    def _on_b_unreadable(self, err: JobError) -> None:
        """A reopened project's B file cannot be read now: say so beside it (no dialog)."""
        if self.b_path is not None:
            start, length = self.panel.b_range()
            self.panel.set_b_file(self.b_path.name, None, start=start, length=length,
                                  note=f"cannot be read now: {err.message}")

    def use_clip_for_b(self) -> None:
        """Section B back to the blue region of the open clip."""
        self._set_b_file(None)
        self._on_visible(self.panel.isVisible())
        self._show_sections()

    def _set_b_file(self, info: Any) -> None:
        self._probe.cancel()
        self.b_path = None if info is None else Path(info.path)
        self.b_info = info
        if info is None:
            self.panel.set_b_file(None)

    def _show_sections(self) -> None:
        mode = self.panel.current_mode()
        if self.panel.isVisible():
            self.clip_view.show_section_b(self._b_on_clip())
        a0, ad = self.clip_view.section()
        text = f"A (green): {a0:.2f}–{a0 + ad:.2f} s"
        if mode != "ending" and self.b_path is not None:
            b0, bd = self.panel.b_range()
            text += f"   B: {self.b_path.name} {b0:.2f}–{b0 + bd:.2f} s"
            if self.b_info is not None:
                try:
                    self.b_info.check_section(b0, b0 + bd)
                except EngineError as exc:
                    text += f"\n⚠ {exc}"
        elif mode != "ending":
            b0, bd = self.clip_view.section_b()
            text += f"   B (blue): {b0:.2f}–{b0 + bd:.2f} s"
        gap = self.panel.gap.value()
        if mode == "variation":
            self.panel.set_sections_text(text + "   (joined, the cut masked)")
            self.panel.set_hint("One model learns both sections; the Variations tab then renders "
                                "variations and free material that draw on both.")
            return
        text += f"   gap: {gap:g} s" + (" between A and B" if mode == "bridge" else " after A")
        self.panel.set_sections_text(text)
        config = self.training.current_config()
        self.panel.set_hint(parts.gap_advice(self._gap_project(), gap, config))

    # ---- train ----

    def layout_request(self) -> Any:
        """The LayoutRequest the panel and the regions ask for (ConfigError when it is bad)."""
        from engine.project.layout import LayoutRequest, SectionRequest

        clip = self.projects.clip
        if clip is None:
            raise EngineError("Open a song file first.")
        mode = self.panel.current_mode()
        a0, ad = self.clip_view.section()
        sections = [SectionRequest(str(clip.path), round(a0, 3), round(a0 + ad, 3))]
        if mode != "ending" and self.b_path is not None:
            if self._probe.busy and self.b_info is None:  # a reopened project's B, being read
                raise EngineError(f"Still reading {self.b_path.name} for section B; try again "
                                  "in a moment.")
            b0, bd = self.panel.b_range()
            if self.b_info is not None:
                self.b_info.check_section(round(b0, 3), round(b0 + bd, 3))
            sections.append(SectionRequest(str(self.b_path), round(b0, 3), round(b0 + bd, 3)))
        elif mode != "ending":
            b0, bd = self.clip_view.section_b()
            sections.append(SectionRequest(str(clip.path), round(b0, 3), round(b0 + bd, 3)))
        gap = 0.0 if mode == "variation" else float(self.panel.gap.value())
        req = LayoutRequest(mode, tuple(sections), gap)
        req.check()
        return req

    def train(self) -> bool:
        if self.training.busy:
            return False
        try:
            req = self.layout_request()
        except EngineError as exc:
            self.failed.emit("Cannot train this", str(exc), "engine")
            return False
        return self.training.start_training(layout=req)

    def add_to_queue(self) -> bool:
        """Queue the training this tab sets up (sections, gap, mode; the Train tab's preset)."""
        if self.queue is None:
            return False
        try:
            req = self.layout_request()
        except EngineError as exc:
            self.failed.emit("Cannot queue this", str(exc), "engine")
            return False
        jobs = self.queue.add_layout(req)
        dock = getattr(self.window, "queue_dock", None)
        if jobs and dock is not None:
            dock.show()
        return bool(jobs)

    # ---- render ----

    def recipes(self) -> list[RenderRecipe]:
        p = self._gap_project()
        if p is None:
            return []
        lay = p.manifest.layout
        seed, count, fade = self.panel.take_request()
        return [RenderRecipe.take(lay.mode, s, float(self.panel.gap.value()),
                                  fade_out=fade if lay.mode == "ending" else 0.0,
                                  n_scales=p.scales_done) for s in range(seed, seed + count)]

    def render(self) -> bool:
        p = self._gap_project()
        if p is None or not p.trained or self.busy:
            return False
        recipes = self.recipes()
        worker = self._render.start(parts.run_takes, p, recipes, device=self.device,
                                    pass_cancel=True, on_item=self._on_event,
                                    on_error=self._on_error)
        if worker is None:
            return False
        self.panel.advance_seed(len(recipes))
        self.status.emit(f"Rendering {len(recipes)} {recipes[0].mode} take(s)…", 0)
        return True

    def _on_event(self, ev: Any) -> None:
        from engine.generation import GenerationDone, VariationReady, VerdictReady

        if isinstance(ev, VariationReady):
            label, tip = parts.take_label(ev.record)
            if ev.existed:
                self.panel.select_take(ev.record.id)
            else:
                self.panel.add_take(ev.record.id, label, tip, select=self.panel.list.count() == 0
                                    or self.panel.current_take_id() is None)
        elif isinstance(ev, VerdictReady):
            self.panel.update_take(ev.record.id, *parts.take_label(ev.record))
        elif isinstance(ev, GenerationDone):
            self.status.emit(f"{ev.made} new take(s). Play in context hears A, the take, then B.",
                             8000)
            self.projects.refresh()  # the Variations list shows the takes too

    def _on_error(self, err: JobError) -> None:
        self.failed.emit(err.title, err.message, err.kind)

    # ---- a take ----

    def selected_records(self) -> list[VariationRecord]:
        p, vid = self.project, self.panel.current_take_id()
        if p is None or vid is None:
            return []
        try:
            return [p.store.get(vid)]
        except EngineError:
            return []

    def _on_selected(self, vid: str | None) -> None:
        p = self.project
        if p is None or vid is None:
            self.audio = None
            self.panel.show_take(None, 1, [], None)
            return
        try:
            rec = p.store.get(vid)
            audio, sr = p.store.load_audio(rec)
        except EngineError as exc:
            self.failed.emit("Cannot open the take", str(exc), "engine")
            return
        if self.audio is not None and self.audio[2].id != rec.id:
            self.previous = self.audio
        self.audio = (audio, sr, rec)
        seams = rec.seams or {}
        take = seams.get("take")
        self.panel.show_take(audio, sr, list(seams.get("seams_s", [])),
                             (take[0] / sr, take[1] / sr) if take else None)

    def _clip_position(self, pos: float, rec: VariationRecord, sr: int) -> float | None:
        """Where in the source file a position in the stitched take is (None inside the gap)."""
        p = self._gap_project()
        if p is None or not rec.seams:
            return None
        lay = p.manifest.layout
        clip = self.projects.clip
        a, b = rec.seams["take"]
        if clip is None:
            return None
        if pos < a / sr and same_file(lay.section_a.path, clip.path):
            return lay.section_a.start + pos
        if pos >= b / sr and lay.section_b is not None and \
                same_file(lay.section_b.path, clip.path):  # not a B from another file
            return lay.section_b.start + pos - b / sr
        return None

    def play(self, *, context: bool) -> bool:
        if self.audio is None:
            return False
        audio, sr, rec = self.audio
        take = (rec.seams or {}).get("take") or [0, audio.shape[-1]]
        offset = 0.0 if context else take[0] / sr
        data = audio if context else audio[take[0] : take[1]]

        def follow(pos: float) -> None:
            self.panel.set_playhead(offset + pos)
            if context:
                where = self._clip_position(pos, rec, sr)
                if where is not None:
                    self.clip_view.set_playhead(where)

        self.playing_context = context
        ok = self.playback.play_buffer(data, sr, rec.id, follow)
        if ok:
            what = "A → take → B" if context and rec.recipe and rec.recipe.mode == "bridge" \
                else "in context" if context else "the take alone"
            self.status.emit(f"Playing {what} (seed {rec.seed}).", 4000)
        return ok

    def switch_take(self) -> bool:
        """A/B between takes: the take selected before this one, at the same place, playing on
        if it was (in context or alone, as before)."""
        if self.previous is None or self.audio is None:
            self.status.emit("Select two takes in turn to A/B them.", 4000)
            return False
        player = self.playback.player
        pos, playing = player.position, player.is_playing
        self.panel.select_take(self.previous[2].id)  # swaps audio and previous
        if not self.play(context=self.playing_context):
            return False
        player = self.playback.player
        player.seek(pos)
        if not playing:
            self.playback.stop()
        self.status.emit(f"A/B: take seed {self.audio[2].seed} at {pos:.2f} s", 4000)
        return True


__all__ = ["BridgeController", "install_bridge"]


def install_bridge(window: Any) -> BridgeController:
    """Add the Bridge / Ending tab to a MainWindow and wire its controller (status line, error
    dialogs, the window's enabled state): the window's only bridge-specific line calls this."""
    panel = BridgePanel()
    panel.setObjectName("bridgePanel")
    index = window.tabs.addTab(panel, "3 · Bridge / Ending")
    window.tabs.setTabToolTip(index, "Fill a gap between two sections (a bridge) or continue "
                                     "after one (an ending); takes play in context.")
    window.bridge_panel = panel
    c = BridgeController(window, panel, window.clip_view, window.projects, window.training,
                         window.playback, window.jobs, window.settings, device=window.device,
                         parent=window)
    c.queue = getattr(window, "queue", None)  # the window's training queue, when it has one
    c.status.connect(window.say)
    c.failed.connect(window._show_error)
    c.update_state()
    return c
