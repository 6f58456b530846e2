"""Export settings: which variations, where, which format, and how files are named."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import ConfigError
from engine.export import (
    DEFAULT_PATTERN,
    PATTERN_FIELDS,
    TAKE_SUFFIX,
    ExportOptions,
    render_name,
)
from engine.project.variations import VariationRecord


class ExportDialog(QDialog):
    def __init__(
        self, parent: QWidget | None, *, selected: list[VariationRecord],
        all_records: list[VariationRecord], working_rate: int, original_rate: int,
        clip_name: str, preset: str, folder: Path, target_lufs: float | None = None,
        n_scales: int = 0, take_alone: bool = False,
    ) -> None:
        super().__init__(parent)
        self.n_scales = n_scales  # of the project: gives old records' recipes their words
        # bridge / ending takes alone (the span between the seams), not the stitched whole
        self.take_alone = take_alone
        self.setWindowTitle("Export the take alone" if take_alone else "Export variations")
        self.selected, self.all_records = selected, all_records
        self.clip_name, self.preset_name = clip_name, preset

        self.scope_selected = QRadioButton(f"Selected ({len(selected)})")
        self.scope_all = QRadioButton(f"All ({len(all_records)})")
        group = QButtonGroup(self)
        group.addButton(self.scope_selected)
        group.addButton(self.scope_all)
        (self.scope_selected if selected else self.scope_all).setChecked(True)
        self.scope_selected.setEnabled(bool(selected))

        self.folder = QLineEdit(str(folder))
        self.folder.setObjectName("exportFolder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.fmt = QComboBox()
        self.fmt.addItem("WAV", "wav")
        self.fmt.addItem("FLAC", "flac")
        self.bits = QComboBox()
        self.bits.addItem("24-bit", "24")
        self.bits.addItem("16-bit", "16")
        self.bits.addItem("32-bit float", "float")
        self.rate = QComboBox()
        self.rate.addItem(f"working rate ({working_rate} Hz)", "working")
        self.rate.addItem(f"original file rate ({original_rate} Hz)", "original")
        self.rate.setToolTip("Resampling up to the file's rate adds no treble the model did not "
                             "make; it only makes the file fit a session at that rate.")
        self.trim = QDoubleSpinBox()
        self.trim.setRange(0, 2000)
        self.trim.setDecimals(0)
        self.trim.setSuffix(" ms")
        self.trim.setValue(200)
        self.trim.setToolTip("Cut from both edges (the model's padding artefacts), then fade.")
        if take_alone:  # a take's edges are its seams, not the model's padded edges
            self.trim.setValue(0)
            self.trim.setEnabled(False)
            self.trim.setToolTip("A take alone is cut at its seams: nothing is trimmed.")
        self.fade = QDoubleSpinBox()
        self.fade.setRange(0, 1000)
        self.fade.setDecimals(0)
        self.fade.setSuffix(" ms")
        self.fade.setValue(10)
        lufs = f" ({target_lufs:.1f} LUFS)" if target_lufs is not None else ""
        self.loudness = QCheckBox(f"Match the loudness of the original section{lufs}")
        self.loudness.setChecked(True)
        if take_alone:
            self.loudness.setToolTip("The take gets the gain its stitched whole gets, so it keeps "
                                     "its level against A and B.")
        self.sidecar = QCheckBox("Write a JSON sidecar beside each file (provenance, recipe, "
                                 "seams)")
        self.sidecar.setObjectName("exportSidecar")
        self.sidecar.setChecked(True)
        self.original = QCheckBox("Also export the original section as a reference track")
        self.original.setObjectName("exportOriginal")
        self.original.setToolTip("Cut from your source file at its own channels and level "
                                 "(not trimmed), at the sample rate chosen above, so it lines "
                                 "up with the variations in a DAW session.")
        self.pattern = QLineEdit(DEFAULT_PATTERN)
        self.pattern.setObjectName("exportPattern")
        self.pattern.setToolTip("Fields: " + ", ".join(
            "{" + k + "}: " + v for k, v in PATTERN_FIELDS.items()))
        self.example = QLabel("")
        self.example.setStyleSheet("color: #999;")
        self.error = QLabel("")
        self.error.setStyleSheet("color: #ff6e6e;")
        self.error.setWordWrap(True)
        note = QLabel("The sidecar holds the provenance (seed, strength, project, source, "
                      "settings). Existing files are never replaced without asking."
                      + (" Each take is written alone, named …_take-alone." if take_alone
                         else ""))
        note.setWordWrap(True)
        note.setStyleSheet("color: #999;")

        scope = QHBoxLayout()
        scope.addWidget(self.scope_selected)
        scope.addWidget(self.scope_all)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        form = QFormLayout()
        form.addRow("Export", scope)
        form.addRow("Folder", folder_row)
        form.addRow("Format", self.fmt)
        form.addRow("Samples", self.bits)
        form.addRow("Sample rate", self.rate)
        form.addRow("Trim edges", self.trim)
        form.addRow("Fades", self.fade)
        form.addRow("", self.loudness)
        form.addRow("", self.original)
        form.addRow("", self.sidecar)
        form.addRow("File names", self.pattern)
        form.addRow("", self.example)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Export")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(note)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)

        self.fmt.currentIndexChanged.connect(self._update)
        self.pattern.textChanged.connect(self._update)
        self.options: ExportOptions | None = None
        self._update()

    def records(self) -> list[VariationRecord]:
        return self.selected if self.scope_selected.isChecked() else self.all_records

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Export to folder", self.folder.text())
        if path:
            self.folder.setText(path)

    def _update(self) -> None:
        flac = self.fmt.currentData() == "flac"
        float_idx = self.bits.findData("float")
        item = self.bits.model().item(float_idx)
        item.setEnabled(not flac)
        if flac and self.bits.currentData() == "float":
            self.bits.setCurrentIndex(self.bits.findData("24"))
        recs = self.records()
        try:
            if recs:
                name = render_name(self.pattern.text(), recs[0],
                                   recipe=recs[0].recipe_for(self.n_scales), clip=self.clip_name,
                                   preset=self.preset_name, index=1)
                suffix = TAKE_SUFFIX if self.take_alone else ""
                self.example.setText(f"e.g. {name}{suffix}.{self.fmt.currentData()}")
            self.error.setText("")
        except ConfigError as exc:
            self.example.setText("")
            self.error.setText(str(exc))

    def build_options(self) -> ExportOptions:
        return ExportOptions(
            folder=Path(self.folder.text().strip()).expanduser(),
            fmt=str(self.fmt.currentData()),
            bit_depth=str(self.bits.currentData()),
            rate=str(self.rate.currentData()),
            trim_ms=float(self.trim.value()),
            fade_ms=float(self.fade.value()),
            match_loudness=self.loudness.isChecked(),
            pattern=self.pattern.text().strip(),
            include_original=self.original.isChecked(),
            sidecar=self.sidecar.isChecked(),
            part="take" if self.take_alone else "whole",
        )

    def _accept(self) -> None:
        if not self.folder.text().strip():
            self.error.setText("Choose a folder to export to.")
            return
        if not self.records() and not self.original.isChecked():
            self.error.setText("There is nothing to export.")
            return
        try:
            self.options = self.build_options()
        except ConfigError as exc:
            self.error.setText(str(exc))
            return
        self.accept()
