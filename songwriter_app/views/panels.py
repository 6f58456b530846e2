"""The training panel and the variations panel: controls, and intent methods that the
controllers call (show_state, add_preview, set_records ...) instead of reaching into the
children. User actions leave as signals (train_requested, generate_requested ...)."""

from __future__ import annotations

import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from songwriter_app.views.compare_view import CompareView
from songwriter_app.views.lists import MAX_STARS, PreviewList, VariationList
from songwriter_app.views.loss_plot import LossPlot


class TrainingPanel(QWidget):
    preset_changed = Signal()
    preset_chosen = Signal(str)  # the user picked a preset (not a programmatic change)
    train_requested = Signal()
    cancel_requested = Signal()
    resume_requested = Signal()
    measure_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preset = QComboBox()
        self.preset.setObjectName("presetCombo")
        self.cost = QLabel("Not measured on this computer yet.")
        self.cost.setWordWrap(True)
        self.cost.setObjectName("costLabel")
        self.measure_btn = QToolButton()
        self.measure_btn.setText("Measure")
        self.measure_btn.setToolTip("Time a few training steps of every preset's networks on "
                                    "this device to estimate how long training takes.")
        self.device = QLabel("")
        self.device.setObjectName("deviceLabel")
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color: #999;")
        self.section = QLabel("Section: –")
        self.section.setObjectName("sectionLabel")

        self.train_btn = QPushButton("Train")
        self.train_btn.setObjectName("trainButton")
        self.train_btn.setToolTip("Train a new model on the chosen section (a new project).")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setObjectName("cancelButton")
        self.cancel_btn.setToolTip("Stop after the current iteration; finished scales are kept "
                                   "and training can be resumed.")
        self.resume_btn = QPushButton("Resume")
        self.resume_btn.setObjectName("resumeButton")
        self.resume_btn.setToolTip("Continue the open project from its next unfinished scale.")
        self.cancel_btn.setEnabled(False)
        self.resume_btn.setEnabled(False)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(False)
        self.status = QLabel("Not trained yet.")
        self.status.setObjectName("trainStatus")
        self.loss_plot = LossPlot()
        self.previews = PreviewList()

        settings = QGroupBox("Training")
        form = QFormLayout(settings)
        form.addRow("Preset", self.preset)
        form.addRow("", self.summary)
        cost_row = QHBoxLayout()
        cost_row.addWidget(self.cost, 1)
        cost_row.addWidget(self.measure_btn, 0, Qt.AlignmentFlag.AlignTop)
        form.addRow("Cost", cost_row)
        form.addRow("Device", self.device)
        form.addRow("Section", self.section)
        buttons = QHBoxLayout()
        for b in (self.train_btn, self.cancel_btn, self.resume_btn):
            buttons.addWidget(b)
        form.addRow(buttons)
        form.addRow(self.progress)
        form.addRow(self.status)
        settings.setMinimumWidth(300)
        settings.setMaximumWidth(430)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.loss_plot)
        split.addWidget(self.previews)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(settings)
        lay.addWidget(split, 1)

        self.preset.currentIndexChanged.connect(lambda _i: self.preset_changed.emit())
        self.preset.activated.connect(lambda _i: self.preset_chosen.emit(self.preset_name()))
        self.train_btn.clicked.connect(self.train_requested)
        self.cancel_btn.clicked.connect(self.cancel_requested)
        self.resume_btn.clicked.connect(self.resume_requested)
        self.measure_btn.clicked.connect(self.measure_requested)

    # ---- presets ----

    def set_presets(self, names: list[str], summaries: dict[str, str], default: str) -> None:
        self.preset.blockSignals(True)
        self.preset.clear()
        for name in names:
            self.preset.addItem(name, name)
            self.preset.setItemData(self.preset.count() - 1, summaries.get(name, ""),
                                    Qt.ItemDataRole.ToolTipRole)
        self.preset.blockSignals(False)
        self.set_preset(default if default in names else names[0])

    def preset_name(self) -> str:
        return str(self.preset.currentData())

    def preset_names(self) -> list[str]:
        return [str(self.preset.itemData(i)) for i in range(self.preset.count())]

    def set_preset(self, name: str) -> None:
        idx = self.preset.findData(name)
        if idx >= 0:
            self.preset.setCurrentIndex(idx)

    def show_preset_cost(self, name: str, cost: str) -> None:
        idx = self.preset.findData(name)
        if idx >= 0:
            self.preset.setItemText(idx, f"{name} — {cost}")

    def show_summary(self, text: str, details: str) -> None:
        """The preset's plain summary under the menu, with `details` (its measured costs and
        comparisons) as the summary's tooltip."""
        self.summary.setText(text)
        self.summary.setToolTip(details)

    def show_cost(self, text: str | None, *, measuring: bool | None) -> None:
        if text is not None:
            self.cost.setText(text)
        if measuring is not None:
            self.measure_btn.setEnabled(not measuring)

    def set_device(self, name: str) -> None:
        self.device.setText(name)

    def show_section(self, start: float, duration: float, preset: str, longest: float) -> None:
        self.section.setText(f"{start:.2f} – {start + duration:.2f} s ({duration:.2f} s; {preset} "
                             f"trains on at most {longest:g} s)")

    # ---- a run ----

    def set_busy(self, *, can_train: bool, training: bool, can_resume: bool) -> None:
        self.train_btn.setEnabled(can_train and not training)
        self.cancel_btn.setEnabled(training)
        self.resume_btn.setEnabled(can_resume and not training)
        self.preset.setEnabled(not training)

    def show_state(self, text: str, fraction: float | None) -> None:
        """A status line, and the progress bar at `fraction` (None: leave it)."""
        self.status.setText(text)
        if fraction is not None:
            self.progress.setValue(int(1000 * min(max(fraction, 0.0), 1.0)))

    def show_untrained(self) -> None:
        self.show_state("Not trained yet.", 0.0)

    def clear_run(self) -> None:
        self.previews.clear()
        self.loss_plot.clear_run()

    def start_run(self, rates: list[int] | tuple[int, ...], iterations: int) -> None:
        self.loss_plot.mark_scales(rates, iterations)

    def add_loss_point(self, scale: int, iteration: int, iterations: int,
                       losses: dict[str, float]) -> None:
        self.loss_plot.add_progress(scale, iteration, iterations, losses)

    def refresh_plot(self) -> None:
        self.loss_plot.refresh()

    def show_loss_history(self, rates: list[int], points: list[dict]) -> None:
        """The loss curves of an earlier run (losses.jsonl), unless some are shown already."""
        if not points or self.loss_plot.n_points:
            return
        self.loss_plot.mark_scales(rates[: points[-1]["scale"] + 1], points[0]["iterations"])
        for p in points:
            self.loss_plot.add_progress(p["scale"], p["iteration"], p["iterations"], p["losses"])
        self.loss_plot.refresh()

    def add_preview(self, scale: int, n_scales: int, rate: int, seconds: float) -> None:
        self.previews.add_scale(scale, n_scales, rate, seconds)


class StarRating(QWidget):
    """Five clickable stars; clicking the lit last star again clears the rating."""

    rated = Signal(int)  # 0..MAX_STARS (0 = "clear")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        self.buttons: list[QToolButton] = []
        for i in range(1, MAX_STARS + 1):
            b = QToolButton()
            b.setText("☆")
            b.setAutoRaise(True)
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.setToolTip(f"{i} star{'s' if i > 1 else ''} (key {i})")
            b.setStyleSheet("QToolButton { font-size: 16px; color: #ffcc33; }")
            b.clicked.connect(lambda _=False, n=i: self._click(n))
            lay.addWidget(b)
            self.buttons.append(b)
        self.value: int | None = None

    def set_value(self, value: int | None) -> None:
        self.value = value
        for i, b in enumerate(self.buttons, start=1):
            b.setText("★" if value is not None and i <= value else "☆")

    def _click(self, n: int) -> None:
        self.rated.emit(0 if self.value == n else n)


class VariationsPanel(QWidget):
    generate_requested = Signal()
    stop_requested = Signal()
    strength_changed = Signal()
    play_requested = Signal(bool)  # True: in the variations tab (plays the A/B side)
    loop_toggled = Signal(bool)
    ab_requested = Signal()
    delete_requested = Signal()
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # --- generate ---
        self.count = QSpinBox()
        self.count.setRange(1, 100)
        self.count.setValue(4)
        self.count.setObjectName("countSpin")
        self.length = QDoubleSpinBox()
        self.length.setRange(0.5, 600.0)
        self.length.setDecimals(1)
        self.length.setSingleStep(0.5)
        self.length.setSuffix(" s")
        self.length.setValue(8.0)
        self.length.setObjectName("lengthSpin")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2_000_000_000)
        self.seed.setObjectName("seedSpin")
        self.seed.setToolTip("Variation i uses seed + i; the same seed and settings give the same "
                             "audio again.")
        self.dice = QToolButton()
        self.dice.setText("Random")
        self.dice.setToolTip("A random seed")
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setObjectName("strengthSlider")
        self.strength.setRange(0, 0)
        self.strength.setPageStep(1)
        self.strength.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.free = QCheckBox("free (new structure, any length)")
        self.free.setObjectName("freeCheck")
        self.strength_label = QLabel("")
        self.strength_label.setObjectName("strengthLabel")
        self.strength_label.setStyleSheet("font-weight: bold;")
        self.generate_btn = QPushButton("Generate")
        self.generate_btn.setObjectName("generateButton")
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.setEnabled(False)
        self.length_note = QLabel("")
        self.length_note.setStyleSheet("color: #999;")

        gen = QGroupBox("Generate variations")
        grid = QGridLayout(gen)
        grid.addWidget(QLabel("How many"), 0, 0)
        grid.addWidget(self.count, 0, 1)
        grid.addWidget(QLabel("Length"), 0, 2)
        grid.addWidget(self.length, 0, 3)
        grid.addWidget(QLabel("Seed"), 0, 4)
        seed_box = QHBoxLayout()
        seed_box.addWidget(self.seed, 1)
        seed_box.addWidget(self.dice)
        grid.addLayout(seed_box, 0, 5)
        far, close = QLabel("far from\nthe original"), QLabel("close to\nthe original")
        for lab in (far, close):
            lab.setStyleSheet("color: #999;")
        strength_row = QHBoxLayout()
        strength_row.addWidget(far)
        strength_row.addWidget(self.strength, 1)
        strength_row.addWidget(close)
        grid.addWidget(QLabel("Strength"), 1, 0)
        grid.addLayout(strength_row, 1, 1, 1, 5)
        grid.addWidget(self.free, 2, 1, 1, 3)
        grid.addWidget(self.strength_label, 2, 4, 1, 2)
        grid.addWidget(self.length_note, 3, 1, 1, 5)
        self.length_note.setWordWrap(True)
        btns = QHBoxLayout()
        btns.addStretch(1)
        btns.addWidget(self.generate_btn)
        btns.addWidget(self.stop_btn)
        grid.addLayout(btns, 4, 0, 1, 6)
        grid.setColumnStretch(5, 1)

        # --- audition ---
        self.list = VariationList()
        self.list.setObjectName("variationList")
        self.play_btn = QPushButton("▶ Play")
        self.play_btn.setObjectName("playButton")
        self.play_btn.setToolTip("Play / stop (Space)")
        self.loop_btn = QPushButton("⟲ Loop")
        self.loop_btn.setCheckable(True)
        self.loop_btn.setToolTip("Loop (L)")
        self.ab_btn = QPushButton("A/B: variation")
        self.ab_btn.setObjectName("abButton")
        self.ab_btn.setToolTip("Switch between the original and the selected variation at the same "
                               "position (B)")
        self.rating = StarRating()
        self.delete_btn = QPushButton("Delete")
        self.delete_btn.setToolTip("Delete the selected variations (Delete)")
        self.export_btn = QPushButton("Export…")
        self.export_btn.setObjectName("exportButton")
        self.metric = QComboBox()
        self.metric.setToolTip("Which verdict number to show in the Metric column (click a column "
                               "header to sort)")
        self.metric.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.metric.addItem("(no metrics yet)", None)

        transport = QHBoxLayout()
        for w in (self.play_btn, self.loop_btn, self.ab_btn):
            transport.addWidget(w)
        transport.addStretch(1)
        transport.addWidget(QLabel("Rating"))
        transport.addWidget(self.rating)
        manage = QHBoxLayout()
        manage.addWidget(QLabel("Metric"))
        manage.addWidget(self.metric)
        manage.addStretch(1)
        manage.addWidget(self.delete_btn)
        manage.addWidget(self.export_btn)

        left = QWidget()
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(gen)
        left_lay.addWidget(self.list, 1)
        left_lay.addLayout(transport)
        left_lay.addLayout(manage)
        left.setMinimumWidth(480)

        self.compare = CompareView()
        self.compare.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.compare)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([560, 700])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)

        self._free_forced = False  # "free" was ticked because the model had too few scales
        self.free.clicked.connect(lambda _on: setattr(self, "_free_forced", False))
        self.generate_btn.clicked.connect(self.generate_requested)
        self.stop_btn.clicked.connect(self.stop_requested)
        self.dice.clicked.connect(lambda: self.seed.setValue(random.randrange(0, 1_000_000)))
        self.strength.valueChanged.connect(lambda _v: self.strength_changed.emit())
        self.free.toggled.connect(lambda _on: self.strength_changed.emit())
        self.play_btn.clicked.connect(lambda: self.play_requested.emit(True))
        self.loop_btn.toggled.connect(self.loop_toggled)
        self.ab_btn.clicked.connect(self.ab_requested)
        self.delete_btn.clicked.connect(self.delete_requested)
        self.export_btn.clicked.connect(self.export_requested)
        self.metric.currentIndexChanged.connect(lambda _i: self.list.set_metric(
            self.metric.currentData()))

    # ---- generating ----

    def request(self) -> tuple[int, int, float, int | None]:
        """(first seed, how many, seconds, from_scale or None for free material)."""
        from_scale = None if self.free.isChecked() else int(self.strength.value())
        return int(self.seed.value()), int(self.count.value()), float(self.length.value()), \
            from_scale

    def advance_seed(self, n: int) -> None:
        """Ready for new ones: the next seed after those just used."""
        self.seed.setValue(self.seed.value() + n)

    def set_scales(self, scales_done: int, section_seconds: float) -> None:
        """A project with `scales_done` trained scales is open: the strength range and length."""
        self.strength.blockSignals(True)
        self.strength.setRange(0, max(0, scales_done - 2))
        if self.strength.value() > scales_done - 2 or self.strength.value() == 0:
            self.strength.setValue(max(0, (scales_done - 2) // 2))
        self.strength.blockSignals(False)
        can_condition = scales_done >= 2
        if not can_condition and not self.free.isChecked():
            self.free.setChecked(True)  # too few scales to keep any: only free material
            self._free_forced = True
        elif can_condition and self._free_forced:
            self.free.setChecked(False)  # the user did not choose free: back to variations
            self._free_forced = False
        self.free.setEnabled(can_condition)
        self.length.setValue(round(min(section_seconds, self.length.maximum()), 1))

    def show_strength(self, label: str, section_seconds: float, *, free: bool) -> None:
        self.strength.setEnabled(not free and self.free.isEnabled())
        self.strength_label.setText(label)
        self.length_note.setText("Free variations can be any length." if free else
                                 "Keeps the original's structure: at most the section's "
                                 f"{section_seconds:.1f} s.")

    def set_busy(self, *, can_generate: bool, generating: bool, can_export: bool) -> None:
        self.generate_btn.setEnabled(can_generate and not generating)
        self.stop_btn.setEnabled(generating)
        self.export_btn.setEnabled(can_export)
        self.delete_btn.setEnabled(self.list.current_record() is not None and not generating)

    # ---- the list and the compare view ----

    def set_records(self, records: list, scales_done: int) -> None:
        self.list.set_records(records, scales_done)
        self.refresh_metric_choices()

    def refresh_metric_choices(self) -> None:
        """The metric menu lists the numbers the verdicts have, in words with units."""
        from engine.analysis.words import PREFERRED_METRICS, metric_label

        keys = self.list.metric_keys()
        have = [self.metric.itemData(i) for i in range(self.metric.count())]
        if [k for k in have if k] == keys and keys:
            return
        current = self.metric.currentData()
        self.metric.blockSignals(True)
        self.metric.clear()
        if not keys:
            self.metric.addItem("(no measures yet)", None)
        for k in keys:
            self.metric.addItem(metric_label(k), k)
        preferred = [k for k in PREFERRED_METRICS if k in keys]
        idx = self.metric.findData(current or (preferred[0] if preferred else None))
        self.metric.setCurrentIndex(max(idx, 0))
        self.metric.blockSignals(False)
        self.list.set_metric(self.metric.currentData())

    def clear_compare(self) -> None:
        self.compare.set_variation("No variation selected", None, None)

    # ---- transport ----

    def set_playing(self, playing: bool) -> None:
        text = "■ Stop" if playing else "▶ Play"
        if self.play_btn.text() != text:
            self.play_btn.setText(text)

    def set_ab(self, side: str) -> None:
        self.ab_btn.setText(f"A/B: hearing {'original' if side == 'original' else 'variation'}")

    def set_loop(self, on: bool) -> None:
        self.loop_btn.blockSignals(True)
        self.loop_btn.setChecked(on)
        self.loop_btn.blockSignals(False)
