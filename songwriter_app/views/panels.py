"""The training panel and the variations panel: controls only; the main window does the work."""

from __future__ import annotations

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

from engine.config import PRESETS
from songwriter_app.views.compare_view import CompareView
from songwriter_app.views.lists import MAX_STARS, PreviewList, VariationList
from songwriter_app.views.loss_plot import LossPlot


class TrainingPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.preset = QComboBox()
        self.preset.setObjectName("presetCombo")
        for name, cfg in PRESETS.items():
            self.preset.addItem(name, name)
            self.preset.setItemData(self.preset.count() - 1, cfg.summary, Qt.ItemDataRole.ToolTipRole)
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

    def preset_name(self) -> str:
        return str(self.preset.currentData())

    def set_preset(self, name: str) -> None:
        idx = self.preset.findData(name)
        if idx >= 0:
            self.preset.setCurrentIndex(idx)


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
