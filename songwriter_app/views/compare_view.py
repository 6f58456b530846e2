"""Original and selected variation stacked: waveforms, then mel spectrograms.

All four plots share one time axis (setXLink: zoom and scroll together) and the
two spectrograms share colour levels (taken from the original), as in Sonic
Visualiser's aligned panes.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from songwriter_app.views.plots import WAVE_PEN_B, MelPlot, WaveformPlot, mel_levels


class CompareView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = QLabel("Original (top of each pair) and the selected variation")
        self.wave_a = WaveformPlot(y_label="original")
        self.wave_b = WaveformPlot(pen=WAVE_PEN_B, y_label="variation")
        self.mel_a = MelPlot()
        self.mel_b = MelPlot()
        self.mel_a.setLabel("left", "original")
        self.mel_b.setLabel("left", "variation")
        # shown instead of the variation's two plots while no variation is selected
        self.placeholder = QLabel("Select a variation in the list to compare it with the "
                                  "original here.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color: #999;")
        self.plots = [self.wave_a, self.wave_b, self.mel_a, self.mel_b]
        for p in self.plots[1:]:
            p.setXLink(self.wave_a)
        for p in self.plots[:-1]:
            p.getPlotItem().hideAxis("bottom")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.caption)
        lay.addWidget(self.wave_a, 2)
        lay.addWidget(self.wave_b, 2)
        lay.addWidget(self.mel_a, 3)
        lay.addWidget(self.mel_b, 3)
        lay.addWidget(self.placeholder, 5)
        self._show_variation_plots(False)
        self.levels: tuple[float, float] | None = None
        self.sr = 0
        self.frame_seconds = 0.0

    @property
    def clicked_signals(self) -> list:
        return [p.clicked for p in self.plots]

    def set_original(self, audio: np.ndarray, sr: int, mel: np.ndarray, frame_seconds: float) -> None:
        self.sr, self.frame_seconds = sr, frame_seconds
        self.levels = mel_levels(mel)
        self.wave_a.set_audio(audio, sr)
        self.mel_a.set_mel(mel, frame_seconds, sr, levels=self.levels)
        self._fit()

    def set_variation(self, title: str, audio: np.ndarray | None, mel: np.ndarray | None) -> None:
        self.caption.setText(title)
        if audio is None or mel is None:
            self.wave_b.set_audio(None, max(self.sr, 1))
            self.mel_b.set_mel(None, self.frame_seconds, max(self.sr, 1))
            self._show_variation_plots(False)
            return
        self._show_variation_plots(True)
        self.wave_b.set_audio(audio, self.sr)
        self.mel_b.set_mel(mel, self.frame_seconds, self.sr, levels=self.levels)
        # same amplitude scale for both waveforms
        lim = max(float(np.max(np.abs(audio))) if audio.size else 0.0,
                  self.wave_a.getViewBox().viewRange()[1][1] / 1.05, 1e-3) * 1.05
        self.wave_a.setYRange(-lim, lim, padding=0)
        self.wave_b.setYRange(-lim, lim, padding=0)
        self._fit()

    def _show_variation_plots(self, on: bool) -> None:
        self.wave_b.setVisible(on)
        self.mel_b.setVisible(on)
        self.placeholder.setVisible(not on)
        # the lowest visible plot carries the time axis
        self.mel_a.getPlotItem().showAxis("bottom", not on)

    @property
    def showing_variation(self) -> bool:
        return not self.placeholder.isVisibleTo(self)

    def _fit(self) -> None:
        longest = max(self.wave_a.duration, self.wave_b.duration)
        if longest > 0:
            for p in self.plots:
                p.setLimits(xMin=-0.05 * longest, xMax=1.05 * longest)
            self.wave_a.setXRange(0.0, longest, padding=0.01)

    def set_playhead(self, seconds: float) -> None:
        for p in self.plots:
            p.set_playhead(seconds)
