"""The opened clip: waveform over mel spectrogram on one time axis, playhead, training section."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from songwriter_app.views.plots import MelPlot, WaveformPlot

REGION_BRUSH = pg.mkBrush(90, 200, 120, 45)
REGION_PEN = pg.mkPen("#5ad27a", width=2)
REGION_B_BRUSH = pg.mkBrush(90, 150, 230, 45)
REGION_B_PEN = pg.mkPen("#5a9be6", width=2)


class ClipView(QWidget):
    """Shows a clip; a draggable region chooses the training section."""

    region_changed = Signal(float, float)  # start, duration (seconds)
    region_b_changed = Signal(float, float)  # section B of a bridge: start, duration (seconds)
    position_clicked = Signal(float)  # seconds in the file

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("No clip opened")
        self.title.setObjectName("clipTitle")
        self.wave = WaveformPlot()
        self.mel = MelPlot()
        self.mel.setXLink(self.wave)
        self.wave.getPlotItem().hideAxis("bottom")
        self.wave.setMinimumHeight(90)
        self.mel.setMinimumHeight(110)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.title)
        lay.addWidget(self.wave, 2)
        lay.addWidget(self.mel, 3)

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

    # ---- content ------------------------------------------------------------------------

    def set_clip(self, title: str, audio: np.ndarray, sr: int, mel: np.ndarray,
                 frame_seconds: float, mel_sr: int) -> None:
        self.title.setText(title)
        self.hint.setVisible(False)
        for item in (self.region, self.mirror):
            item.setVisible(True)
        self.wave.set_audio(audio, sr)
        self.mel.set_mel(mel, frame_seconds, mel_sr)
        self.duration = audio.shape[-1] / sr
        self.region.setBounds((0.0, self.duration))
        self.region_b.setBounds((0.0, self.duration))
        self.wave.setXRange(0.0, self.duration, padding=0.01)
        self.set_playhead(0.0)

    def set_playhead(self, seconds: float) -> None:
        self.wave.set_playhead(seconds)
        self.mel.set_playhead(seconds)

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
