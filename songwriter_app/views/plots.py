"""Waveform and mel-spectrogram plots on a time axis in seconds, with a playhead.

Conventions (house style): row-major images, float32 (n_mels, frames) data with
fixed levels shared between compared views, setRect to real seconds, curves
with clipToView and peak downsampling.

Audio may be mono [T] or stereo [2, T] (channels first, L then R). A stereo
waveform is drawn as two lanes in one plot (upper: L or M, lower: R or S, on one
amplitude scale), so regions, playheads and linked time axes work unchanged.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import QPointF, QRectF, Qt, Signal  # noqa: E402
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QWidget  # noqa: E402

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False, background="#1e1f22",
                    foreground="#c8c8c8")

PLAYHEAD_PEN = pg.mkPen("#ffcc33", width=2)
WAVE_PEN = pg.mkPen("#5ab0ff", width=1)
WAVE_PEN_B = pg.mkPen("#ff8a65", width=1)
MEL_COLORMAP = "inferno"
DEFAULT_DB_RANGE = 80.0
MAX_WAVE_POINTS = 65536  # longer audio is drawn as a min/max envelope (painting stays cheap)
LANE_LINE_PEN = pg.mkPen(110, 110, 120, 160, width=1)
CHANNEL_MODES = ("lr", "ms")  # how a stereo waveform is shown: left/right or mid/side
LANE_NAMES = {"lr": ("L", "R"), "ms": ("M", "S")}


def channel_lanes(audio: np.ndarray, mode: str = "lr") -> list[np.ndarray]:
    """What a waveform plot draws: [T] -> [x]; [2, T] -> [L, R], or [M, S] with M = (L+R)/2
    and S = (L-R)/2 for mode "ms"; [1, T] -> [x]; more channels -> [their mean]."""
    y = _channels_first(np.asarray(audio, dtype=np.float32))
    if y.ndim == 1:
        return [y]
    if y.shape[0] == 1:
        return [y[0]]
    if y.shape[0] != 2:
        return [y.mean(axis=0)]
    left, right = y[0], y[1]
    if mode == "ms":
        return [0.5 * (left + right), 0.5 * (left - right)]
    return [left, right]


def _channels_first(y: np.ndarray) -> np.ndarray:
    """[T] stays; [C, T] stays; [1, C, T] (a stereo section wrapped as one more axis) or any
    higher rank -> [-1, T]; a 0-d value -> [1]."""
    if y.ndim == 0:
        return y.reshape(1)
    return y.reshape(-1, y.shape[-1]) if y.ndim > 2 else y


def is_stereo(audio: np.ndarray | None) -> bool:
    """Two channels, [2, T] (or a [1, 2, T] wrapping of them)."""
    if audio is None:
        return False
    shape = np.shape(audio)
    return len(shape) >= 2 and int(np.prod(shape[:-1])) == 2


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


class ChannelToggle(QWidget):
    """Two exclusive buttons, L/R and M/S: how a view shows a stereo waveform."""

    mode_changed = Signal(str)  # "lr" or "ms"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        tips = {"lr": "Show the left and right channels (upper lane: left)",
                "ms": "Show mid (L+R)/2 and side (L-R)/2: a small side lane means a narrow, "
                      "mono-like image"}
        for mode, text in (("lr", "L / R"), ("ms", "Mid / Side")):
            b = QToolButton(self)
            b.setText(text)
            b.setCheckable(True)
            b.setToolTip(tips[mode])
            b.setAutoRaise(True)
            self.group.addButton(b)
            lay.addWidget(b)
            self.buttons[mode] = b
            b.toggled.connect(lambda on, m=mode: on and self.mode_changed.emit(m))
        self.buttons["lr"].setChecked(True)

    def mode(self) -> str:
        return "ms" if self.buttons["ms"].isChecked() else "lr"

    def set_mode(self, mode: str) -> None:
        """Check the button for `mode` (emits mode_changed when it changes)."""
        self.buttons["ms" if mode == "ms" else "lr"].setChecked(True)


class WaveformPlot(TimePlot):
    """A waveform; stereo audio is drawn as two lanes (L over R, or M over S)."""

    def __init__(self, parent=None, *, pen=WAVE_PEN, y_label: str = "level") -> None:
        super().__init__(parent, y_label=y_label)
        self.curve = pg.PlotDataItem(pen=pen)  # mono, or the upper lane (L or M)
        self.curve2 = pg.PlotDataItem(pen=pen)  # the lower lane (R or S)
        for c in (self.curve, self.curve2):
            c.setClipToView(True)
            c.setDownsampling(auto=True, method="peak")
            self.addItem(c)
        self.curve2.setVisible(False)
        self.lane_line = pg.InfiniteLine(pos=0.0, angle=0, movable=False, pen=LANE_LINE_PEN)
        self.lane_line.setVisible(False)
        self.addItem(self.lane_line, ignoreBounds=True)
        self.setYRange(-1.0, 1.0, padding=0.02)
        self.duration = 0.0
        self.mode = "lr"
        self.lanes = 0  # 0: empty, 1: mono, 2: stereo
        self.lane_limit = 1.0  # amplitude that fills half a lane's height
        self._audio: np.ndarray | None = None
        self._sr = 1
        self._offset = 0.0

    @property
    def stereo(self) -> bool:
        return self.lanes == 2

    def set_audio(self, audio: np.ndarray | None, sr: int, *, offset: float = 0.0) -> None:
        """Draw [T] or [C, T] audio (two lanes for stereo) and fit the amplitude."""
        if audio is None or np.size(audio) == 0:
            self._audio = None
            self.lanes = 0
            self.curve.setData([], [])
            self.curve2.setData([], [])
            self.curve2.setVisible(False)
            self.lane_line.setVisible(False)
            self.getAxis("left").setTicks(None)
            self.duration = 0.0
            return
        self._audio, self._sr, self._offset = np.asarray(audio), int(sr), offset
        self.duration = self._audio.shape[-1] / sr
        self._draw()
        self.set_lane_limit(self.peak() * 1.05)
        self.setLimits(xMin=offset - 0.05 * self.duration, xMax=offset + 1.05 * self.duration)

    def set_mode(self, mode: str) -> None:
        """"lr" or "ms": redraw a stereo waveform's lanes (mono is unchanged)."""
        mode = "ms" if mode == "ms" else "lr"
        if mode == self.mode:
            return
        self.mode = mode
        if self.stereo:
            self._draw()

    def peak(self) -> float:
        """The largest magnitude drawn (at least 1e-3)."""
        if self._audio is None:
            return 1e-3
        lanes = channel_lanes(self._audio, self.mode)
        return max(max(float(np.max(np.abs(y))) if y.size else 0.0 for y in lanes), 1e-3)

    def set_lane_limit(self, lim: float) -> None:
        """The amplitude scale: each lane spans -lim..lim (compared plots share one)."""
        self.lane_limit = lim = max(float(lim), 1e-3)
        if self.stereo:
            self.curve.setPos(0.0, lim)
            self.curve2.setPos(0.0, -lim)
            a, b = LANE_NAMES[self.mode]
            self.getAxis("left").setTicks([[(lim, a), (-lim, b)], []])
            self.setYRange(-2 * lim, 2 * lim, padding=0.0)
        else:
            self.curve.setPos(0.0, 0.0)
            self.getAxis("left").setTicks(None)
            self.setYRange(-lim, lim, padding=0.0)

    def _draw(self) -> None:
        assert self._audio is not None
        lanes = channel_lanes(self._audio, self.mode)
        self.lanes = len(lanes)
        for curve, y in zip((self.curve, self.curve2), lanes, strict=False):
            x, env = envelope(y, self._sr, MAX_WAVE_POINTS)
            curve.setData(self._offset + x, env)
        self.curve2.setVisible(self.stereo)
        self.lane_line.setVisible(self.stereo)
        if not self.stereo:
            self.curve2.setData([], [])
        self.set_lane_limit(self.lane_limit)


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
        data = np.asarray(mel, dtype=np.float32)
        if data.ndim == 3:  # a mel per channel [C, n_mels, frames]: show their mean power
            data = 10.0 * np.log10(np.mean(10.0 ** (data / 10.0), axis=0) + 1e-12)
        data = np.ascontiguousarray(data, dtype=np.float32)
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
