"""The Bridge / Ending panel: choose the mode and the gap, train a model with the gap masked,
render takes, list them, play a take in context (A -> take -> B) or alone, export.

Section A is the clip view's green region, section B its blue one (shown while this panel is),
or a range of another audio file ("B from another file…": the file named, start and length in
spin boxes).
User actions leave as signals; the controller (songwriter_app.controllers.bridge) calls the
intent methods (set_project_state, set_takes, show_take, set_playhead ...)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from songwriter_app.views.plots import WaveformPlot

MODES = (("bridge", "Bridge: fill a gap between A and B"),
         ("ending", "Ending: continue after A"),
         ("variation", "Several sections: variations that draw on A and B"))
SEAM_PEN = pg.mkPen("#ffb74d", width=2, style=Qt.PenStyle.DashLine)
GAP_BRUSH = pg.mkBrush(255, 183, 77, 35)


class BridgePanel(QWidget):
    train_requested = Signal()
    render_requested = Signal()
    stop_requested = Signal()
    play_context_requested = Signal()
    play_alone_requested = Signal()
    ab_requested = Signal()
    export_requested = Signal()
    save_take_requested = Signal()
    queue_requested = Signal()
    b_file_requested = Signal()  # choose a file for section B
    b_clip_requested = Signal()  # section B back on the open clip (the blue region)
    b_range_changed = Signal()  # B's start or length (in its own file) changed
    mode_changed = Signal(str)
    take_selected = Signal(object)  # the selected record id (str) or None
    visibility_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = QComboBox()
        self.mode.setObjectName("bridgeMode")
        for key, text in MODES:
            self.mode.addItem(text, key)
        self.gap = QDoubleSpinBox()
        self.gap.setObjectName("gapSpin")
        self.gap.setRange(1.0, 8.0)
        self.gap.setSingleStep(0.5)
        self.gap.setDecimals(1)
        self.gap.setSuffix(" s")
        self.gap.setValue(4.0)
        self.gap.setToolTip("The gap to fill. Train: the gap the new model learns around. "
                            "Render takes: the length of each take; a trained model fills any "
                            "gap without training again.")
        self.fade_out = QDoubleSpinBox()
        self.fade_out.setObjectName("fadeOutSpin")
        self.fade_out.setRange(0.0, 8.0)
        self.fade_out.setSingleStep(0.5)
        self.fade_out.setSuffix(" s")
        self.fade_out.setToolTip("Endings: fade out over the last seconds (0 = no fade).")
        self.count = QSpinBox()
        self.count.setRange(1, 20)
        self.count.setValue(3)
        self.count.setObjectName("takeCount")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2_000_000_000)
        self.seed.setObjectName("takeSeed")
        self.seed.setToolTip("Take i uses seed + i; the same seed gives the same take again.")
        self.sections = QLabel("")
        self.sections.setObjectName("bridgeSections")
        self.sections.setWordWrap(True)
        self.hint = QLabel("")
        self.hint.setObjectName("gapHint")
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: #999;")
        self.state = QLabel("")
        self.state.setObjectName("bridgeState")
        self.state.setWordWrap(True)
        self.train_btn = QPushButton("Train bridge model")
        self.train_btn.setObjectName("trainBridgeButton")
        self.queue_btn = QPushButton("Add to Queue")
        self.queue_btn.setObjectName("queueBridgeButton")
        self.queue_btn.setToolTip("Queue this training (the sections, the gap, the preset of the "
                                  "Train tab) to run later with the training queue.")
        # section B from another audio file
        self.b_source = QLabel("B: the blue region of the open clip")
        self.b_source.setObjectName("bSourceLabel")
        self.b_source.setWordWrap(True)
        self.b_file_btn = QPushButton("B from another file…")
        self.b_file_btn.setObjectName("bFileButton")
        self.b_file_btn.setToolTip("Take section B from a second audio file (e.g. the chorus "
                                   "of another take); A stays the green region.")
        self.b_clip_btn = QPushButton("B from this clip")
        self.b_clip_btn.setObjectName("bClipButton")
        self.b_clip_btn.setToolTip("Section B back to the blue region of the open clip.")
        self.b_start = QDoubleSpinBox()
        self.b_start.setObjectName("bStartSpin")
        self.b_length = QDoubleSpinBox()
        self.b_length.setObjectName("bLengthSpin")
        for sb in (self.b_start, self.b_length):
            sb.setDecimals(2)
            sb.setSingleStep(0.5)
            sb.setSuffix(" s")
            sb.setRange(0.0, 0.0)
            sb.setKeyboardTracking(False)
        self._b_file: str | None = None  # the file B comes from (None: the open clip)
        self.b_start.setToolTip("Where section B starts in its file.")
        self.b_length.setToolTip("How long section B is.")
        self.render_btn = QPushButton("Render takes")
        self.render_btn.setObjectName("renderTakesButton")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)

        setup = QGroupBox("Sections and gap")
        grid = QGridLayout(setup)
        grid.addWidget(QLabel("Mode"), 0, 0)
        grid.addWidget(self.mode, 0, 1, 1, 3)
        grid.addWidget(QLabel("Gap"), 1, 0)
        grid.addWidget(self.gap, 1, 1)
        grid.addWidget(QLabel("Fade-out"), 1, 2)
        grid.addWidget(self.fade_out, 1, 3)
        grid.addWidget(self.b_file_btn, 2, 0, 1, 2)
        grid.addWidget(self.b_clip_btn, 2, 2, 1, 2)
        grid.addWidget(self.b_source, 3, 0, 1, 4)
        grid.addWidget(QLabel("B start"), 4, 0)
        grid.addWidget(self.b_start, 4, 1)
        grid.addWidget(QLabel("B length"), 4, 2)
        grid.addWidget(self.b_length, 4, 3)
        grid.addWidget(self.sections, 5, 0, 1, 4)
        grid.addWidget(self.hint, 6, 0, 1, 4)
        grid.addWidget(self.train_btn, 7, 0, 1, 2)
        grid.addWidget(self.queue_btn, 7, 2, 1, 2)
        grid.addWidget(self.state, 8, 0, 1, 4)
        grid.setRowStretch(9, 1)  # spare height below the rows, not between them

        takes = QGroupBox("Takes")
        tl = QVBoxLayout(takes)
        row = QHBoxLayout()
        row.addWidget(QLabel("How many"))
        row.addWidget(self.count)
        row.addWidget(QLabel("Seed"))
        row.addWidget(self.seed, 1)
        row.addWidget(self.render_btn)
        row.addWidget(self.stop_btn)
        tl.addLayout(row)
        self.list = QListWidget()
        self.list.setObjectName("takeList")
        # a take's line (seed, verdict) wraps to the list's width instead of running off it
        self.list.setWordWrap(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        tl.addWidget(self.list, 1)
        self.verdict = QLabel("")
        self.verdict.setObjectName("takeVerdict")
        self.verdict.setWordWrap(True)
        tl.addWidget(self.verdict)
        play = QHBoxLayout()
        self.play_context_btn = QPushButton("Play in context")
        self.play_context_btn.setObjectName("playContextButton")
        self.play_context_btn.setToolTip("A, then the take, then B, with the playhead running "
                                         "through (the stitched whole as exported).")
        self.play_alone_btn = QPushButton("Play take alone")
        self.play_alone_btn.setObjectName("playAloneButton")
        self.ab_btn = QPushButton("A/B takes")
        self.ab_btn.setObjectName("abTakesButton")
        self.ab_btn.setToolTip("Switch to the take selected before this one, at the same place.")
        self.export_btn = QPushButton("Export stitched…")
        self.export_btn.setToolTip("The stitched whole through the export dialog (the sidecar "
                                   "holds the recipe and the seams).")
        self.save_take_btn = QPushButton("Export take alone…")
        self.save_take_btn.setObjectName("exportTakeAloneButton")
        self.save_take_btn.setToolTip("The take alone (between its seams) through the export "
                                      "dialog: format, bit depth, sidecar with the recipe.")
        for b in (self.play_context_btn, self.play_alone_btn, self.ab_btn, self.export_btn,
                  self.save_take_btn):
            play.addWidget(b)
        tl.addLayout(play)
        self.wave = WaveformPlot()
        self.wave.setObjectName("takeWave")
        self.wave.setMinimumHeight(90)
        self.gap_region = pg.LinearRegionItem(values=(0, 0), brush=GAP_BRUSH, movable=False)
        self.gap_region.setVisible(False)
        self.wave.addItem(self.gap_region)
        self.seam_lines: list[pg.InfiniteLine] = []
        tl.addWidget(self.wave, 1)

        lay = QHBoxLayout(self)
        lay.addWidget(setup, 2)
        lay.addWidget(takes, 3)

        self.mode.currentIndexChanged.connect(self._on_mode)
        self.train_btn.clicked.connect(self.train_requested)
        self.queue_btn.clicked.connect(self.queue_requested)
        self.b_file_btn.clicked.connect(self.b_file_requested)
        self.b_clip_btn.clicked.connect(self.b_clip_requested)
        self.b_start.valueChanged.connect(lambda _v: self.b_range_changed.emit())
        self.b_length.valueChanged.connect(lambda _v: self.b_range_changed.emit())
        self.render_btn.clicked.connect(self.render_requested)
        self.stop_btn.clicked.connect(self.stop_requested)
        self.play_context_btn.clicked.connect(self.play_context_requested)
        self.play_alone_btn.clicked.connect(self.play_alone_requested)
        self.ab_btn.clicked.connect(self.ab_requested)
        self.export_btn.clicked.connect(self.export_requested)
        self.save_take_btn.clicked.connect(self.save_take_requested)
        self.list.currentItemChanged.connect(self._on_current)
        self._on_mode()
        self.set_project_state(can_train=False, can_render=False, rendering=False)

    # ---- visibility (the clip view shows region B only while this panel is shown) ----

    def showEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        self.visibility_changed.emit(True)

    def hideEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().hideEvent(event)
        self.visibility_changed.emit(False)

    # ---- what the user asks for ----

    def current_mode(self) -> str:
        return str(self.mode.currentData())

    def set_mode(self, mode: str) -> None:
        i = self.mode.findData(mode)
        if i >= 0:
            self.mode.setCurrentIndex(i)

    def _on_mode(self) -> None:
        mode = self.current_mode()
        self.fade_out.setEnabled(mode == "ending")
        self.gap.setEnabled(mode != "variation")
        self._enable_b()
        self.train_btn.setText({"bridge": "Train bridge model", "ending": "Train ending model"}
                               .get(mode, "Train on A and B"))
        self.mode_changed.emit(mode)

    # ---- section B from another file ----

    def set_b_file(self, name: str | None, duration: float | None = None, *,
                   start: float = 0.0, length: float = 0.0, note: str = "") -> None:
        """Show where B comes from: `name` (a file, `duration` s long when known) with start
        and length in the spin boxes, or None for the open clip's blue region."""
        self._b_file = name
        for sb in (self.b_start, self.b_length):
            sb.blockSignals(True)
        if name is None:
            self.b_source.setText("B: the blue region of the open clip")
            self.b_start.setRange(0.0, 0.0)
            self.b_length.setRange(0.0, 0.0)
        else:
            top = duration if duration is not None else max(start + length, 0.0) + 3600.0
            self.b_start.setRange(0.0, max(top - 0.5, 0.0))
            self.b_length.setRange(0.5 if top >= 0.5 else 0.0, max(top, 0.5))
            self.b_start.setValue(start)
            self.b_length.setValue(length)
            long = f", {duration:.2f} s long" if duration is not None else ""
            self.b_source.setText(f"B from: {name}{long}" + (f" ({note})" if note else ""))
            self.b_source.setToolTip(name)
        for sb in (self.b_start, self.b_length):
            sb.blockSignals(False)
        self._enable_b()

    def b_range(self) -> tuple[float, float]:
        """B's start and length in its own file (seconds)."""
        return float(self.b_start.value()), float(self.b_length.value())

    def _enable_b(self) -> None:
        with_b = self.current_mode() != "ending"
        has_file = self._b_file is not None
        self.b_file_btn.setEnabled(with_b)
        self.b_clip_btn.setEnabled(with_b and has_file)
        self.b_start.setEnabled(with_b and has_file)
        self.b_length.setEnabled(with_b and has_file)
        self.b_source.setEnabled(with_b)

    def take_request(self) -> tuple[int, int, float]:
        """seed, count, fade-out seconds."""
        return self.seed.value(), self.count.value(), float(self.fade_out.value())

    def advance_seed(self, n: int) -> None:
        self.seed.setValue(self.seed.value() + n)

    # ---- what the controller shows ----

    def set_sections_text(self, text: str) -> None:
        self.sections.setText(text)

    def set_hint(self, text: str) -> None:
        self.hint.setText(text)

    def set_state(self, text: str) -> None:
        self.state.setText(text)

    def set_project_state(self, *, can_train: bool, can_render: bool, rendering: bool,
                          can_queue: bool | None = None) -> None:
        self.train_btn.setEnabled(can_train)
        self.queue_btn.setEnabled(can_train if can_queue is None else can_queue)
        self.render_btn.setEnabled(can_render and not rendering)
        self.stop_btn.setEnabled(rendering)
        has = self.list.currentItem() is not None
        for b in (self.play_context_btn, self.play_alone_btn, self.export_btn, self.save_take_btn):
            b.setEnabled(has)

    def set_takes(self, items: list[tuple[str, str, str]]) -> None:
        """(record id, label, tooltip) per take, oldest first."""
        current = self.current_take_id()
        self.list.blockSignals(True)
        self.list.clear()
        for vid, label, tip in items:
            it = QListWidgetItem(label)
            it.setData(Qt.ItemDataRole.UserRole, vid)
            it.setToolTip(tip)
            self.list.addItem(it)
        self.list.blockSignals(False)
        if current is not None:
            self.select_take(current)

    def add_take(self, vid: str, label: str, tip: str, *, select: bool) -> None:
        it = QListWidgetItem(label)
        it.setData(Qt.ItemDataRole.UserRole, vid)
        it.setToolTip(tip)
        self.list.addItem(it)
        if select:
            self.list.setCurrentItem(it)

    def update_take(self, vid: str, label: str, tip: str) -> None:
        for i in range(self.list.count()):
            it = self.list.item(i)
            if it.data(Qt.ItemDataRole.UserRole) == vid:
                it.setText(label)
                it.setToolTip(tip)
                if it is self.list.currentItem():
                    self.verdict.setText(tip)

    def select_take(self, vid: str) -> None:
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == vid:
                self.list.setCurrentRow(i)
                return

    def current_take_id(self) -> str | None:
        it = self.list.currentItem()
        return None if it is None else str(it.data(Qt.ItemDataRole.UserRole))

    def _on_current(self, item: QListWidgetItem | None, _prev: object) -> None:
        self.verdict.setText("" if item is None else item.toolTip())
        has = item is not None
        for b in (self.play_context_btn, self.play_alone_btn, self.export_btn, self.save_take_btn):
            b.setEnabled(has)
        self.take_selected.emit(None if item is None else str(item.data(Qt.ItemDataRole.UserRole)))

    def show_take(self, audio: np.ndarray | None, sr: int, seams_s: list[float],
                  gap_s: tuple[float, float] | None) -> None:
        """The stitched take as a waveform, the gap shaded and the seams marked."""
        self.wave.set_audio(audio, sr)
        for line in self.seam_lines:
            self.wave.removeItem(line)
        self.seam_lines = []
        if audio is None:
            self.gap_region.setVisible(False)
            return
        for s in seams_s:
            line = pg.InfiniteLine(pos=s, angle=90, pen=SEAM_PEN, movable=False)
            self.wave.addItem(line)
            self.seam_lines.append(line)
        if gap_s is not None:
            self.gap_region.setRegion(gap_s)
            self.gap_region.setVisible(True)
        self.wave.setXRange(0.0, audio.shape[-1] / sr, padding=0.01)

    def set_playhead(self, seconds: float) -> None:
        self.wave.set_playhead(seconds)
