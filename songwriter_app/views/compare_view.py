"""Original and selected variation stacked: waveforms, then mel spectrograms.

All four plots share one time axis (setXLink: zoom and scroll together) and the
two spectrograms share colour levels (taken from the original), as in Sonic
Visualiser's aligned panes.

Stereo audio shows two lanes per waveform, L over R or mid over side (a toggle the view
remembers in the settings); when one side is stereo and the other mono, the mono one is
drawn as both channels (so it lines up lane by lane: its side lane is flat) and its label
says mono. Both waveforms share one amplitude scale; the mels are of the mid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from songwriter_app.views.plots import (
    WAVE_PEN_B,
    ChannelToggle,
    MelPlot,
    WaveformPlot,
    is_stereo,
    mel_levels,
)

if TYPE_CHECKING:
    from songwriter_app.settings import AppSettings


SHORT = {"original": "orig.", "variation": "var."}  # axis labels that fit a lane pair


def _as_stereo(audio: np.ndarray) -> np.ndarray:
    """A mono [T] (or [1, T]) signal as [2, T] with both channels equal (a view, no copy)."""
    y = np.asarray(audio)
    y = y.reshape(-1) if y.ndim == 2 and y.shape[0] == 1 else y
    return np.broadcast_to(y, (2, y.shape[-1])) if y.ndim == 1 else y


class CompareView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._title = "Original (top of each pair) and the selected variation"
        self.caption = QLabel(self._title)
        self.channels = ChannelToggle()
        self.channels.setObjectName("compareChannels")
        self.channels.setVisible(False)  # shown when the original or the variation is stereo
        self.channels.mode_changed.connect(self.set_channel_mode)
        self._settings: AppSettings | None = None
        self._audio_a: np.ndarray | None = None
        self._audio_b: np.ndarray | None = None
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
        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.addWidget(self.caption, 1)
        head.addWidget(self.channels)
        lay.addLayout(head)
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

    # ---- settings ---------------------------------------------------------------------

    def use_settings(self, settings: AppSettings) -> None:
        """Remember the L/R or Mid/Side choice in `settings` (and apply the saved one)."""
        from songwriter_app.settings import COMPARE_VIEW_CHANNELS

        self._settings = None
        self.channels.set_mode(settings.get(COMPARE_VIEW_CHANNELS, "lr"))
        self._settings = settings

    def set_channel_mode(self, mode: str) -> None:
        """"lr" (left over right) or "ms" (mid over side) for stereo waveforms."""
        if self.channels.mode() != mode:
            self.channels.set_mode(mode)  # comes back here through mode_changed
            return
        for w in (self.wave_a, self.wave_b):
            w.set_mode(mode)
        self._share_amplitude()
        if self._settings is not None:
            from songwriter_app.settings import COMPARE_VIEW_CHANNELS

            self._settings.set(COMPARE_VIEW_CHANNELS, mode)

    @property
    def channel_mode(self) -> str:
        return self.channels.mode()

    # ---- content ----------------------------------------------------------------------

    def set_original(self, audio: np.ndarray, sr: int, mel: np.ndarray, frame_seconds: float) -> None:
        """The original section, [T] or [2, T], and its mel (of the mid)."""
        self.sr, self.frame_seconds = sr, frame_seconds
        self.levels = mel_levels(mel)
        self._audio_a = np.asarray(audio)
        self.mel_a.set_mel(mel, frame_seconds, sr, levels=self.levels)
        self._draw_waves()

    def set_variation(self, title: str, audio: np.ndarray | None, mel: np.ndarray | None) -> None:
        """The selected variation, [T] or [2, T], and its mel; None shows the placeholder."""
        self._title = title
        self.caption.setText(title)
        if audio is None or mel is None:
            self._audio_b = None
            self.wave_b.set_audio(None, max(self.sr, 1))
            self.mel_b.set_mel(None, self.frame_seconds, max(self.sr, 1))
            self._show_variation_plots(False)
            self._draw_waves()
            return
        self._show_variation_plots(True)
        self._audio_b = np.asarray(audio)
        self.mel_b.set_mel(mel, self.frame_seconds, self.sr, levels=self.levels)
        self._draw_waves()

    def _draw_waves(self) -> None:
        """Both waveforms in lanes that line up: stereo when either is stereo."""
        a, b = self._audio_a, self._audio_b
        stereo = is_stereo(a) or is_stereo(b)
        self.channels.setVisible(stereo)
        mode = self.channels.mode()
        monos = []
        for w, audio, name in ((self.wave_a, a, "original"), (self.wave_b, b, "variation")):
            w.set_mode(mode)
            if audio is None or audio.size == 0:
                w.set_audio(None, max(self.sr, 1))
                w.setLabel("left", name)
                continue
            mono_here = stereo and not is_stereo(audio)
            w.set_audio(_as_stereo(audio) if mono_here else audio, self.sr)
            w.setLabel("left", SHORT[name] + " (mono)" if mono_here else name)
            if mono_here:
                monos.append(name)
        self.caption.setText(self._title + "".join(
            f"  ·  the {name} is mono (drawn on both channels)" for name in monos))
        self._share_amplitude()
        self._fit()

    def _share_amplitude(self) -> None:
        """Same amplitude scale for both waveforms (the louder one fills its lanes)."""
        drawn = [w for w in (self.wave_a, self.wave_b) if w.lanes]
        if not drawn:
            return
        lim = max(w.peak() for w in drawn) * 1.05
        for w in drawn:
            w.set_lane_limit(lim)

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
