"""Playback: the clip, the original section, the selected variation and the previews through
one player; A/B between original and variation at the same position; loop; playheads.

Audio is mono [T] or stereo [2, T]; the player outputs stereo either way. While a bridge or
ending take plays (play_buffer, in context or alone), the clip view marks the gap between A
and B and its playhead crosses the marker while the gap plays (the take's follower draws A and
B; `gap_plan` says where the gap is)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from engine.fileutil import same_file
from songwriter_app.controllers.project import ProjectController
from songwriter_app.controllers.training import TrainingController
from songwriter_app.controllers.variations import VariationsController
from songwriter_app.playback import NullPlayer, Player
from songwriter_app.state import PlaySource, VariationAudio
from songwriter_app.views.clip_view import ClipView
from songwriter_app.views.panels import VariationsPanel

log = logging.getLogger(__name__)

PLAYHEAD_MS = 30


@dataclass(frozen=True)
class GapPlan:
    """Where a take's gap is in the buffer that plays, and where it goes on the clip view."""

    start: float  # seconds into the buffer
    end: float
    after: float  # A's end, seconds into the source file
    before: float | None  # B's start (None: an ending)
    seconds: float  # the gap's length


def gap_plan(layout: Any, seams: dict[str, Any] | None, n_samples: int, sr: int) -> GapPlan | None:
    """The gap of a bridge or ending take in a buffer of `n_samples`: the stitched take (A, the
    gap, B) or the take alone (just the gap). None when there is no gap to show."""
    if layout is None or getattr(layout, "gap_span", None) is None or not seams:
        return None
    take = seams.get("take")
    if not take or sr <= 0:
        return None
    a, b = int(take[0]), int(take[1])
    if b <= a:
        return None
    if n_samples == b - a:  # the take alone
        start, end = 0.0, (b - a) / sr
    elif n_samples >= b:  # in context
        start, end = a / sr, b / sr
    else:
        return None
    sec_a, sec_b = layout.section_a, layout.section_b
    return GapPlan(start, end, sec_a.start + sec_a.duration,
                   sec_b.start if sec_b is not None else None, (b - a) / sr)


class PlaybackController(QObject):
    playing_changed = Signal(bool)
    ab_changed = Signal(str)  # "variation" or "original": what A/B plays
    loop_changed = Signal(bool)
    availability_changed = Signal(bool, str)  # available, reason
    status = Signal(str, int)

    def __init__(self, player: Player, clip_view: ClipView, panel: VariationsPanel,
                 projects: ProjectController, variations: VariationsController,
                 training: TrainingController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.player = player
        self.clip_view, self.panel = clip_view, panel
        self.projects, self.variations, self.training = projects, variations, training
        self.source = PlaySource.clip()
        self.ab_side = "variation"  # what A/B plays: "variation" or "original"
        self.on_tick: Callable[[], None] | None = None  # the window's throttled redraws
        # set by play_buffer: who draws the playheads of what plays (a bridge take in context)
        self.follower: Callable[[float], None] | None = None
        self.gap: GapPlan | None = None  # the gap of the take play_buffer plays, if any
        self._last_drawn = -1.0
        self._timer = QTimer(self)
        self._timer.setInterval(PLAYHEAD_MS)
        self._timer.timeout.connect(self._tick)

        clip_view.position_clicked.connect(self.seek_clip)
        for sig in panel.compare.clicked_signals:
            sig.connect(self.seek_compare)
        panel.play_requested.connect(self.toggle_play)
        panel.loop_toggled.connect(self.set_loop)
        panel.ab_requested.connect(self.switch_ab)
        panel.list.activated_play.connect(self.play_ab)
        training.panel.previews.play_requested.connect(self.play_preview)
        projects.clip_opened.connect(lambda _clip: self.load(PlaySource.clip()))
        variations.shown.connect(self._on_variation_shown)
        training.started.connect(self.stop)
        training.started.connect(self._timer.start)

    # ---- sources ----

    def _audio_for(self, source: PlaySource) -> tuple[np.ndarray, int] | None:
        if source.kind == "clip" and self.projects.clip is not None:
            return self.projects.clip.audio, self.projects.clip.sample_rate
        if source.kind == "original" and self.projects.original is not None:
            return self.projects.original.audio, self.projects.original.sample_rate
        if source.kind == "variation" and source.variation_id is not None:
            data = self.variations.audio_of(source.variation_id)
            return (data.audio, data.sample_rate) if data is not None else None
        if source.kind == "preview" and source.scale is not None:
            p = self.training.previews.get(source.scale)
            if p is None:
                return None
            return (p.sample if source.take == "sample" else p.reconstruction), p.sample_rate
        return None

    def _ab_source(self) -> PlaySource:
        rec = self.panel.list.current_record()
        if self.ab_side == "variation" and rec is not None:
            return PlaySource.variation(rec.id)
        return PlaySource.original()

    def load(self, source: PlaySource, *, keep_position: bool = False) -> bool:
        got = self._audio_for(source)
        if got is None:
            return False
        try:
            self.player.load(got[0], got[1], keep_position=keep_position)
        except Exception as exc:
            self._failed(exc)
            return False
        self.source = source
        self.follower = None
        self._set_gap(None)
        return True

    def play_buffer(self, audio: np.ndarray, sr: int, variation_id: str,
                    follower: Callable[[float], None]) -> bool:
        """Play audio made from a stored variation (a bridge take in context, or the take
        alone) from its start; `follower(seconds)` draws the playheads while it plays."""
        try:
            self.player.load(audio, sr)
        except Exception as exc:
            self._failed(exc)
            return False
        self.source = PlaySource.variation(variation_id)
        self.follower = follower
        self._set_gap(self._gap_of(variation_id, int(np.shape(audio)[-1]), sr))
        self.play(0.0)
        return True

    def _gap_of(self, variation_id: str, n_samples: int, sr: int) -> GapPlan | None:
        """The gap of a stored take, when the clip view shows the file its sections are from."""
        project, clip = self.projects.project, self.projects.clip
        layout = getattr(getattr(project, "manifest", None), "layout", None)
        if project is None or clip is None or layout is None or layout.gap_span is None:
            return None
        try:
            rec = project.store.get(variation_id)
            same = same_file(layout.section_a.path, clip.path)
        except Exception as exc:  # EngineError (gone), OSError (path)
            log.debug("no gap to show for %s: %s", variation_id, exc)
            return None
        return gap_plan(layout, rec.seams, n_samples, sr) if same else None

    def _set_gap(self, plan: GapPlan | None) -> None:
        self.gap = plan
        if plan is None:
            self.clip_view.hide_gap()
        else:
            self.clip_view.show_gap(plan.after, plan.before, plan.seconds)

    def _follow_gap(self, pos: float) -> None:
        """The clip view's playhead through the gap marker while the gap plays."""
        g = self.gap
        if g is not None and g.start <= pos < g.end:
            self.clip_view.set_gap_playhead((pos - g.start) / max(g.end - g.start, 1e-9))

    def _on_variation_shown(self, data: VariationAudio) -> None:
        """The selected variation changed: a playing A/B goes on with it at the same place."""
        if not self.source.in_section:
            return
        keep = self.player.is_playing
        if self.ab_side == "variation":
            self.load(PlaySource.variation(data.id), keep_position=keep)
        if keep and not self.player.is_playing:
            self.player.play()

    def _failed(self, exc: Exception) -> None:
        log.warning("playback failed: %s", exc)
        reason = f"Playback is off: the audio device failed ({exc})."
        self.player = NullPlayer(reason)
        self.availability_changed.emit(False, reason)

    # ---- transport ----

    def toggle_play(self, in_variations: bool = False) -> None:
        if self.player.is_playing:
            self.stop()
            return
        if in_variations and self.projects.project is not None:
            self.play_ab()
        else:
            if self.source.kind != "clip":
                self.load(PlaySource.clip())
            self.play()

    def play_ab(self) -> None:
        """Play the A/B side (variation or original) from the current position."""
        source = self._ab_source()
        if self.source != source and not self.load(source, keep_position=True):
            return
        self.play()

    def play(self, start: float | None = None) -> None:
        if not self.player.available:
            self.status.emit(self.player.reason, 8000)
        try:
            self.player.play(start)
        except Exception as exc:
            self._failed(exc)
            return
        self.playing_changed.emit(True)
        self._timer.start()

    def stop(self) -> None:
        try:
            self.player.stop()
        except Exception as exc:
            self._failed(exc)
        self.playing_changed.emit(False)

    def switch_ab(self) -> None:
        """B: switch between the original and the selected variation at the same position."""
        if self.projects.project is None or self.projects.original is None:
            return
        self.ab_side = "original" if self.ab_side == "variation" else "variation"
        if self.ab_side == "variation" and self.panel.list.current_record() is None:
            self.ab_side = "original"
        playing = self.player.is_playing
        loaded = self.load(self._ab_source(), keep_position=True)
        if loaded and playing and not self.player.is_playing:
            self.player.play()
        self.ab_changed.emit(self.ab_side)
        self.status.emit(f"A/B: hearing the {self.ab_side}", 8000)

    def set_loop(self, on: bool) -> None:
        self.player.loop = on
        self.loop_changed.emit(on)
        self.status.emit("Loop on" if on else "Loop off", 2000)

    def toggle_loop(self) -> None:
        self.set_loop(not self.player.loop)

    def play_preview(self, scale: int, take: str) -> None:
        if self.load(PlaySource.preview(scale, "sample" if take == "sample" else
                                        "reconstruction")):
            self.play(0.0)

    def seek_clip(self, seconds: float) -> None:
        if self.source.kind != "clip":
            self.load(PlaySource.clip())
        self.player.seek(seconds)
        self.clip_view.set_playhead(self.player.position)
        if not self.player.is_playing:
            self.status.emit(f"Play position {seconds:.2f} s (Space plays)", 2000)

    def seek_compare(self, seconds: float) -> None:
        source = self._ab_source()
        if self.source != source:
            self.load(source)
        self.player.seek(seconds)
        self.panel.compare.set_playhead(self.player.position)

    # ---- the playhead ----

    def _tick(self) -> None:
        try:
            self.player.poll()
        except Exception as exc:
            self._failed(exc)
        pos = self.player.position
        if pos != self._last_drawn:
            if self.follower is not None:
                self.follower(pos)
                self._follow_gap(pos)
            elif self.source.kind == "clip":
                self.clip_view.set_playhead(pos)
            elif self.source.in_section:
                self.panel.compare.set_playhead(pos)
                project = self.projects.project
                if project is not None and self.projects.clip is not None:
                    self.clip_view.set_playhead(project.section.start + pos)
        self._last_drawn = pos
        if self.on_tick is not None:
            self.on_tick()
        if not self.player.is_playing:
            self.playing_changed.emit(False)
            if not self.training.busy:
                self._timer.stop()

    def close(self) -> None:
        self._timer.stop()
        try:
            self.player.close()
        except Exception as exc:
            log.debug("closing the player: %s", exc)
