"""Waveform and mel-spectrogram plots on a time axis in seconds, with a playhead.

Conventions (house style): row-major images, float32 (n_mels, frames) data with
fixed levels shared between compared views, setRect to real seconds, curves
with clipToView and peak downsampling.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QPointF, QRectF, Qt, Signal  # noqa: E402

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="#1e1f22",
                    foreground="#c8c8c8")

PLAYHEAD_PEN = pg.mkPen("#ffcc33", width=2)
WAVE_PEN = pg.mkPen("#5ab0ff", width=1)
WAVE_PEN_B = pg.mkPen("#ff8a65", width=1)
MEL_COLORMAP = "inferno"
DEFAULT_DB_RANGE = 80.0
MAX_WAVE_POINTS = 65536  # longer audio is drawn as a min/max envelope (painting stays cheap)


def mel_levels(mel: np.ndarray, db_range: float = DEFAULT_DB_RANGE) -> tuple[float, float]:
    """Colour levels (low, high) in dB: the loud end of `mel` and `db_range` below it."""
    if mel.size == 0:
        return (-db_range, 0.0)
    hi = float(np.percentile(mel, 99.5))
    return (hi - db_range, hi)


def _hz_to_mel_slaney(f: float) -> float:
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    if f < min_log_hz:
        return f / f_sp
    return min_log_mel + math.log(f / min_log_hz) / logstep


def mel_ticks(sr: int, n_mels: int) -> list[tuple[float, str]]:
    """Axis ticks in Hz for mel bands 0..n_mels (slaney scale, as engine.audio.features uses)."""
    top = _hz_to_mel_slaney(sr / 2)
    out: list[tuple[float, str]] = []
    min_gap = 0.09 * n_mels  # keep labels apart on a short plot
    for f in (16000, 8000, 4000, 2000, 1000, 500, 250, 100):
        if f < sr / 2:
            pos = n_mels * _hz_to_mel_slaney(f) / top
            if out and out[-1][0] - pos < min_gap:
                continue
            out.append((pos, f"{f // 1000}k" if f >= 1000 else str(f)))
    return out[::-1]


def envelope(y: np.ndarray, sr: int, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """(times, values): the samples themselves, or min/max pairs per bin for long signals."""
    n = y.shape[-1]
    if n <= max_points:
        return np.arange(n, dtype=np.float64) / sr, y
    bins = max_points // 2
    per = int(np.ceil(n / bins))
    padded = np.pad(y, (0, per * bins - n), mode="edge").reshape(bins, per)
    out = np.empty(2 * bins, dtype=np.float32)
    out[0::2] = padded.min(axis=1)
    out[1::2] = padded.max(axis=1)
    t = (np.arange(2 * bins, dtype=np.float64) // 2 * per + (np.arange(2 * bins) % 2) * per / 2)
    return t / sr, out


class TimePlot(pg.PlotWidget):
    """A PlotWidget with a time axis in seconds, a playhead and click-to-seek."""

    clicked = Signal(float)  # seconds

    def __init__(self, parent=None, *, y_label: str = "") -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.setMouseEnabled(x=True, y=False)
        self.getPlotItem().hideButtons()
        self.showGrid(x=True, y=False, alpha=0.15)
        self.setLabel("bottom", "time", units="s")
        if y_label:
            self.setLabel("left", y_label)
        self.getAxis("left").setWidth(52)
        self.getAxis("left").enableAutoSIPrefix(False)
        self.playhead = pg.InfiniteLine(pos=0.0, angle=90, movable=False, pen=PLAYHEAD_PEN)
        self.playhead.setZValue(100)
        self.addItem(self.playhead, ignoreBounds=True)
        self.scene().sigMouseClicked.connect(self._on_click)
        self.setMinimumHeight(70)

    def set_playhead(self, seconds: float) -> None:
        self.playhead.setPos(seconds)

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.isAccepted():
            return
        vb = self.getPlotItem().getViewBox()
        pos = event.scenePos()
        if not vb.sceneBoundingRect().contains(pos):
            return
        point: QPointF = vb.mapSceneToView(pos)
        self.clicked.emit(max(0.0, float(point.x())))


class WaveformPlot(TimePlot):
    def __init__(self, parent=None, *, pen=WAVE_PEN, y_label: str = "level") -> None:
        super().__init__(parent, y_label=y_label)
        self.curve = pg.PlotDataItem(pen=pen)
        self.curve.setClipToView(True)
        self.curve.setDownsampling(auto=True, method="peak")
        self.addItem(self.curve)
        self.setYRange(-1.0, 1.0, padding=0.02)
        self.duration = 0.0

    def set_audio(self, audio: np.ndarray | None, sr: int, *, offset: float = 0.0) -> None:
        if audio is None or audio.size == 0:
            self.curve.setData([], [])
            self.duration = 0.0
            return
        y = np.asarray(audio, dtype=np.float32)
        if y.ndim > 1:
            y = y.mean(axis=0)
        x, env = envelope(y, sr, MAX_WAVE_POINTS)
        self.curve.setData(offset + x, env)
        self.duration = y.shape[-1] / sr
        peak = float(np.max(np.abs(y))) if y.size else 1.0
        lim = max(peak, 1e-3) * 1.05
        self.setYRange(-lim, lim, padding=0.0)
        self.setLimits(xMin=offset - 0.05 * self.duration, xMax=offset + 1.05 * self.duration)


class MelPlot(TimePlot):
    def __init__(self, parent=None) -> None:
        super().__init__(parent, y_label="Hz")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.colormap.get(MEL_COLORMAP))
        self.addItem(self.image)
        self.levels: tuple[float, float] = (-DEFAULT_DB_RANGE, 0.0)
        self.duration = 0.0

    def set_mel(self, mel: np.ndarray | None, frame_seconds: float, sr: int, *,
                offset: float = 0.0, levels: tuple[float, float] | None = None) -> None:
        if mel is None or mel.size == 0:
            self.image.clear()
            self.duration = 0.0
            return
        data = np.ascontiguousarray(mel, dtype=np.float32)
        self.levels = levels or mel_levels(data)
        self.image.setImage(data, autoLevels=False, levels=self.levels)
        n_mels, frames = data.shape
        self.duration = frames * frame_seconds
        self.image.setRect(QRectF(offset, 0.0, self.duration, float(n_mels)))
        self.setYRange(0, n_mels, padding=0.0)
        self.getAxis("left").setTicks([mel_ticks(sr, n_mels), []])
        self.setLimits(xMin=offset - 0.05 * self.duration, xMax=offset + 1.05 * self.duration)

    def set_levels(self, levels: tuple[float, float]) -> None:
        self.levels = levels
        self.image.setLevels(levels)
