"""The opened clip: waveform over mel spectrogram on one time axis, playhead, training section.

A stereo clip shows two waveform lanes, L over R or mid over side (a toggle the view
remembers in the settings); the mel is the mid's. While a bridge take plays in context, a
gap marker between A and B carries the playhead across the gap (`show_gap`,
`set_gap_playhead`, `hide_gap`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from songwriter_app.views.plots import ChannelToggle, MelPlot, WaveformPlot, is_stereo

if TYPE_CHECKING:
    from songwriter_app.settings import AppSettings

REGION_BRUSH = pg.mkBrush(90, 200, 120, 45)
REGION_PEN = pg.mkPen("#5ad27a", width=2)
REGION_B_BRUSH = pg.mkBrush(90, 150, 230, 45)
REGION_B_PEN = pg.mkPen("#5a9be6", width=2)
GAP_BRUSH = pg.mkBrush(255, 204, 51, 40)
GAP_PEN = pg.mkPen("#ffcc33", width=1, style=Qt.PenStyle.DashLine)
MIN_GAP_WIDTH = 0.1  # seconds: a narrower space between A and B shows the gap's own length


class ClipView(QWidget):
    """Shows a clip; a draggable region chooses the training section."""

    region_changed = Signal(float, float)  # start, duration (seconds)
    region_b_changed = Signal(float, float)  # section B of a bridge: start, duration (seconds)
    position_clicked = Signal(float)  # seconds in the file

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("No clip opened")
        self.title.setObjectName("clipTitle")
        self.channels = ChannelToggle()
        self.channels.setObjectName("clipChannels")
        self.channels.setVisible(False)  # shown for a stereo clip
        self.channels.mode_changed.connect(self.set_channel_mode)
        self._settings: AppSettings | None = None
        self.wave = WaveformPlot()
        self.mel = MelPlot()
        self.mel.setXLink(self.wave)
        self.wave.getPlotItem().hideAxis("bottom")
        self.wave.setMinimumHeight(90)
        self.mel.setMinimumHeight(110)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.title, 1)
        head.addWidget(self.channels)
        lay.addLayout(head)
        lay.addWidget(self.wave, 2)
        lay.addWidget(self.mel, 3)
        self._layout = lay

        self.region = pg.LinearRegionItem(values=(0.0, 1.0), brush=REGION_BRUSH, pen=REGION_PEN,
                                          swapMode="block")
        self.region.setZValue(10)
        self.wave.addItem(self.region)
        self.mirror = pg.LinearRegionItem(values=(0.0, 1.0), brush=REGION_BRUSH, pen=REGION_PEN,
                                          movable=False)
        self.mel.addItem(self.mirror)
        self.region.sigRegionChanged.connect(self._on_region_moving)
        self.region.sigRegionChangeFinished.connect(self._on_region_finished)
        self.wave.clicked.connect(self.position_clicked)
        self.mel.clicked.connect(self.position_clicked)
        # section B (bridges): a second region, blue, shown only in the Bridge / Ending tab
        self.region_b = pg.LinearRegionItem(values=(1.0, 2.0), brush=REGION_B_BRUSH,
                                            pen=REGION_B_PEN, swapMode="block")
        self.region_b.setZValue(11)
        self.mirror_b = pg.LinearRegionItem(values=(1.0, 2.0), brush=REGION_B_BRUSH,
                                            pen=REGION_B_PEN, movable=False)
        for item, plot in ((self.region_b, self.wave), (self.mirror_b, self.mel)):
            item.setVisible(False)
            plot.addItem(item)
        self.region_b.sigRegionChanged.connect(self._on_region_b_moving)
        self.duration = 0.0
        self.max_seconds = 30.0
        self._adjusting = False
        # before a clip is open: no section to drag, a time axis from 0, and what to do
        self.hint = pg.TextItem("Open a song: File > Open Clip…, or drop an audio file here",
                                color=(200, 200, 200), anchor=(0.5, 0.5))
        self.wave.addItem(self.hint)
        self.hint.setPos(5.0, 0.0)
        for item in (self.region, self.mirror):
            item.setVisible(False)
        self.wave.setXRange(0.0, 10.0, padding=0.0)
        self.wave.setYRange(-1.0, 1.0, padding=0.0)
        # a bridge take playing in context: the gap between A and B, crossed by the playhead
        self.gap_marker = pg.LinearRegionItem(values=(0.0, 1.0), brush=GAP_BRUSH, pen=GAP_PEN,
                                              movable=False)
        self.gap_mirror = pg.LinearRegionItem(values=(0.0, 1.0), brush=GAP_BRUSH, pen=GAP_PEN,
                                              movable=False)
        self.gap_label = pg.TextItem("", color="#ffcc33", anchor=(0.5, 0.0),
                                     fill=pg.mkBrush(30, 31, 34, 210))
        for item, plot in ((self.gap_marker, self.wave), (self.gap_mirror, self.mel),
                           (self.gap_label, self.wave)):
            item.setVisible(False)
            item.setZValue(12)
            plot.addItem(item, ignoreBounds=True)
        self.gap_span: tuple[float, float, float] | None = None  # start, end, gap seconds

    # ---- settings -----------------------------------------------------------------------

    def use_settings(self, settings: AppSettings) -> None:
        """Remember the L/R or Mid/Side choice in `settings` (and apply the saved one)."""
        from songwriter_app.settings import CLIP_VIEW_CHANNELS

        self._settings = None
        self.channels.set_mode(settings.get(CLIP_VIEW_CHANNELS, "lr"))
        self._settings = settings

    def set_channel_mode(self, mode: str) -> None:
        """"lr" (left over right) or "ms" (mid over side) for a stereo clip."""
        if self.channels.mode() != mode:
            self.channels.set_mode(mode)  # comes back here through mode_changed
            return
        self.wave.set_mode(mode)
        if self.wave.stereo:
            self.wave.set_lane_limit(self.wave.peak() * 1.05)
        if self._settings is not None:
            from songwriter_app.settings import CLIP_VIEW_CHANNELS

            self._settings.set(CLIP_VIEW_CHANNELS, mode)

    @property
    def channel_mode(self) -> str:
        return self.channels.mode()

    # ---- content ------------------------------------------------------------------------

    def set_clip(self, title: str, audio: np.ndarray, sr: int, mel: np.ndarray,
                 frame_seconds: float, mel_sr: int) -> None:
        """Show `audio`, [T] or [C, T] (stereo: two lanes), with the mel of its mid."""
        self.title.setText(title)
        self.hint.setVisible(False)
        self.hide_gap()
        for item in (self.region, self.mirror):
            item.setVisible(True)
        stereo = is_stereo(audio)
        self.channels.setVisible(stereo)
        self._layout.setStretchFactor(self.wave, 3 if stereo else 2)
        self.wave.set_mode(self.channels.mode())
        self.wave.set_audio(audio, sr)
        self.mel.set_mel(mel, frame_seconds, mel_sr)
        self.mel.setLabel("left", "Hz (mid)" if stereo else "Hz")
        self.duration = audio.shape[-1] / sr
        self.region.setBounds((0.0, self.duration))
        self.region_b.setBounds((0.0, self.duration))
        self.wave.setXRange(0.0, self.duration, padding=0.01)
        self.set_playhead(0.0)

    def set_playhead(self, seconds: float) -> None:
        self.wave.set_playhead(seconds)
        self.mel.set_playhead(seconds)

    # ---- the gap of a bridge or an ending, while its take plays ------------------------------

    def show_gap(self, after: float, before: float | None, gap_seconds: float) -> None:
        """Mark the gap a take fills: from `after` (A's end, seconds in the file) to `before`
        (B's start; None for an ending). When B starts right after A (or there is no B) the
        marker is `gap_seconds` wide. The playhead crosses it with `set_gap_playhead`."""
        end = before if before is not None and before - after >= MIN_GAP_WIDTH else \
            after + max(gap_seconds, MIN_GAP_WIDTH)
        self.gap_span = (after, end, gap_seconds)
        for item in (self.gap_marker, self.gap_mirror):
            item.setRegion((after, end))
            item.setVisible(True)
        if end > self.duration:  # an ending past the file's end: let the view reach it
            for plot in (self.wave, self.mel):
                plot.setLimits(xMax=end + 0.05 * max(self.duration, 1.0))
        self._label_gap(None)
        self.gap_label.setVisible(True)

    def set_gap_playhead(self, fraction: float) -> None:
        """The playhead `fraction` (0..1) of the way through the gap marker."""
        if self.gap_span is None:
            return
        after, end, _gap = self.gap_span
        fraction = min(max(fraction, 0.0), 1.0)
        self.set_playhead(after + fraction * (end - after))
        self._label_gap(fraction)

    def hide_gap(self) -> None:
        if self.gap_span is None:
            return
        end = self.gap_span[1]
        self.gap_span = None
        for item in (self.gap_marker, self.gap_mirror, self.gap_label):
            item.setVisible(False)
        if end > self.duration and self.duration > 0:
            for plot in (self.wave, self.mel):
                plot.setLimits(xMax=1.05 * self.duration)

    @property
    def gap_shown(self) -> bool:
        return self.gap_span is not None

    def _label_gap(self, fraction: float | None) -> None:
        assert self.gap_span is not None
        after, end, gap = self.gap_span
        text = f"gap {gap:.1f} s (the take)"
        if fraction is not None:
            text = f"gap {fraction * gap:.1f} / {gap:.1f} s"
        self.gap_label.setText(text)
        top = self.wave.getViewBox().viewRange()[1][1]
        self.gap_label.setPos(0.5 * (after + end), top)

    # ---- the training section -----------------------------------------------------------

    def set_max_seconds(self, seconds: float) -> None:
        self.max_seconds = seconds
        start, dur = self.section()
        self.set_section(start, dur)

    def section(self) -> tuple[float, float]:
        lo, hi = self.region.getRegion()
        return float(lo), float(hi - lo)

    def set_section(self, start: float, duration: float) -> None:
        """Place the region, held inside the clip and to max_seconds."""
        if self.duration <= 0:
            return
        duration = min(max(duration, 0.05), self.max_seconds, self.duration)
        start = min(max(start, 0.0), max(self.duration - duration, 0.0))
        self._adjusting = True
        try:
            self.region.setRegion((start, start + duration))
            self.mirror.setRegion((start, start + duration))
        finally:
            self._adjusting = False
        self.region_changed.emit(start, duration)

    def set_section_locked(self, locked: bool) -> None:
        self.region.setMovable(not locked)
        self.region_b.setMovable(not locked)

    # ---- section B (bridge) -------------------------------------------------------------

    def show_section_b(self, on: bool) -> None:
        """Show (or hide) the second region: section B of a bridge."""
        self.region_b.setVisible(on)
        self.mirror_b.setVisible(on)

    @property
    def section_b_shown(self) -> bool:
        return self.region_b.isVisible()

    def section_b(self) -> tuple[float, float]:
        lo, hi = self.region_b.getRegion()
        return float(lo), float(hi - lo)

    def set_section_b(self, start: float, duration: float) -> None:
        """Place section B, held inside the clip."""
        if self.duration <= 0:
            return
        duration = min(max(duration, 0.05), self.duration)
        start = min(max(start, 0.0), max(self.duration - duration, 0.0))
        self._adjusting = True
        try:
            self.region_b.setRegion((start, start + duration))
            self.mirror_b.setRegion((start, start + duration))
        finally:
            self._adjusting = False
        self.region_b_changed.emit(start, duration)

    def _on_region_b_moving(self) -> None:
        if self._adjusting:
            return
        lo, hi = self.region_b.getRegion()
        self.mirror_b.setRegion((lo, hi))
        self.region_b_changed.emit(float(lo), float(hi - lo))

    def _on_region_moving(self) -> None:
        if self._adjusting:
            return
        lo, hi = self.region.getRegion()
        if hi - lo > self.max_seconds + 1e-6:
            # held to the preset's maximum: the edge being dragged stops there
            old_lo, _ = self.mirror.getRegion()
            if abs(lo - old_lo) > 1e-9:
                lo = hi - self.max_seconds
            else:
                hi = lo + self.max_seconds
            self._adjusting = True
            try:
                self.region.setRegion((lo, hi))
            finally:
                self._adjusting = False
        self.mirror.setRegion((lo, hi))
        self.region_changed.emit(float(lo), float(hi - lo))

    def _on_region_finished(self) -> None:
        lo, hi = self.region.getRegion()
        self.region_changed.emit(float(lo), float(hi - lo))
