"""New Study dialog: pick projects and stimuli, set the options, build the study folder.

Building runs engine.study.build.iter_build_study in a worker thread (rendering new variations can
take a while); afterwards the author can preview every stimulus (with its hidden truth, which
raters never see) and open rater mode or the results.

One module (about 450 lines) on purpose: it is one dialog whose parts (the project rows, the
options, the build job and the preview) share the dialog's state and are only ever used
together; the engine side (the spec, the stimuli, the build) already lives in engine.study, and
the widgets shared with the rater are in songwriter_app.study.widgets, and the question
editor is questions_dialog.py.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import EngineError
from engine.project.checkpoint import read_manifest
from engine.study import (
    GenerateSpec,
    ProjectSelection,
    Study,
    StudyError,
    StudySpec,
    default_final_questions,
    default_questions,
    find_variation_files,
    validate_questions,
)
from engine.study.build import BuildFinished, BuildProgress, iter_build_study
from songwriter_app.jobs import JobRunner, JobSlot
from songwriter_app.playback import make_player
from songwriter_app.study.questions_dialog import QuestionsDialog

log = logging.getLogger(__name__)

REQUIRE_CHOICES = [
    ("Play to the end once", "full"),
    ("Start playing once", "any"),
    ("No requirement", "none"),
]
COLUMNS = ["Project", "Existing variations", "New per strength", "Strengths", "First seed",
           "Training-section excerpts", "Other-section excerpts", "clip.wav excerpts"]


def parse_strengths(text: str) -> list[int | None]:
    out: list[int | None] = []
    for part in text.replace(";", ",").split(","):
        part = part.strip().lower()
        if not part:
            continue
        if part in ("free", "none"):
            out.append(None)
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise StudyError(f"Strength {part!r}: write 'free' or a scale number (0 = most "
                             "different).") from None
    return out or [None]


class StudyBuilderDialog(QDialog):
    """Build a study from trained projects. Emits `study_built(Study)` when done."""

    study_built = Signal(object)
    take_requested = Signal(object)  # Study
    results_requested = Signal(object)  # Study

    def __init__(self, parent: QWidget | None = None, *, projects: list[Path] | None = None,
                 player: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New listening study")
        self.resize(1120, 860)
        self.questions = default_questions()
        self.finals = default_final_questions()
        self._project_paths: list[Path] = []
        self._runner = JobRunner(self)
        self._build = JobSlot(self._runner, "study-build", self)
        self.study: Study | None = None
        self._player = player

        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.title = QLineEdit("Listening study")
        form.addRow("Title", self.title)
        out_row = QHBoxLayout()
        self.out = QLineEdit()
        self.out.setPlaceholderText("a new, empty folder for the study")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse_out)
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        form.addRow("Study folder", out_row)
        lay.addLayout(form)

        box = QGroupBox("Projects and stimuli")
        bl = QVBoxLayout(box)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(110)
        self.table.setMaximumHeight(190)
        bl.addWidget(self.table)
        row = QHBoxLayout()
        add = QPushButton("Add project...")
        add.clicked.connect(self._browse_project)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_selected)
        row.addWidget(add)
        row.addWidget(remove)
        hint = QLabel("Strengths: 'free' (new structure) or scale numbers, 0 = most different; "
                      "e.g. \"free, 1, 2\". Real excerpts are resampled to the model's rate.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #666;")
        row.addWidget(hint, 1)
        bl.addLayout(row)
        lay.addWidget(box)

        opts = QGroupBox("Options")
        of = QFormLayout(opts)
        of.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.FieldsStayAtSizeHint)
        self.per_rater = QSpinBox()
        self.per_rater.setRange(0, 500)
        self.per_rater.setSpecialValueText("all")
        self.per_rater.setMinimumWidth(120)
        of.addRow("Stimuli per rater", self.per_rater)
        self.require = QComboBox()
        for text, key in REQUIRE_CHOICES:
            self.require.addItem(text, key)
        of.addRow("Before answering", self.require)
        self.lufs = QDoubleSpinBox()
        self.lufs.setRange(-40, -10)
        self.lufs.setValue(-23.0)
        self.lufs.setSuffix(" LUFS")
        of.addRow("Common loudness", self.lufs)
        self.excerpt = QDoubleSpinBox()
        self.excerpt.setRange(0, 60)
        self.excerpt.setSpecialValueText("like the generated ones")
        self.excerpt.setSuffix(" s")
        of.addRow("Real excerpt length", self.excerpt)
        self.threshold = QSpinBox()
        self.threshold.setRange(0, 100)
        self.threshold.setValue(50)
        self.threshold.setSuffix(" %")
        of.addRow("Flag raters judging fewer real excerpts real than", self.threshold)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        of.addRow("Seed (codes, excerpts, rater orders)", self.seed)
        qrow = QHBoxLayout()
        qrow.setContentsMargins(0, 0, 0, 0)
        self.questions_label = QLabel("")
        qbtn = QPushButton("Edit questions...")
        qbtn.clicked.connect(self._edit_questions)
        qrow.addWidget(self.questions_label, 1)
        qrow.addWidget(qbtn)
        qholder = QWidget()
        qholder.setLayout(qrow)
        qholder.setMinimumWidth(560)
        of.addRow("Questions", qholder)
        lay.addWidget(opts)
        self._update_questions_label()

        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)

        self.preview_box = QGroupBox("Built stimuli (hidden from raters)")
        pl = QVBoxLayout(self.preview_box)
        self.preview = QTableWidget(0, 4)
        self.preview.setHorizontalHeaderLabels(["Code", "Truth", "Condition", "Seconds"])
        self.preview.verticalHeader().setVisible(False)
        self.preview.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.preview.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        pl.addWidget(self.preview)
        prow = QHBoxLayout()
        self.play_button = QPushButton("Play selected")
        self.play_button.clicked.connect(self._play_selected)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self._stop_preview)
        self.take_button = QPushButton("Take study (rater mode)...")
        self.take_button.clicked.connect(lambda: self.take_requested.emit(self.study))
        self.results_button = QPushButton("Results...")
        self.results_button.clicked.connect(lambda: self.results_requested.emit(self.study))
        for b in (self.play_button, self.stop_button):
            prow.addWidget(b)
        prow.addStretch(1)
        prow.addWidget(self.take_button)
        prow.addWidget(self.results_button)
        pl.addLayout(prow)
        self.preview_box.setVisible(False)
        lay.addWidget(self.preview_box, 1)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.build_button = QPushButton("Build study")
        self.build_button.setDefault(True)
        self.build_button.clicked.connect(self.start_build)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self._cancel_or_close)
        buttons.addWidget(self.build_button)
        buttons.addWidget(self.cancel_button)
        lay.addLayout(buttons)
        for p in projects or []:
            self.add_project(p)

    # --- projects
    def _browse_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a trained project folder")
        if folder:
            try:
                self.add_project(Path(folder))
            except EngineError as exc:
                self.status.setText(str(exc))

    def add_project(self, path: Path) -> None:
        """Add a row for a trained project (raises ProjectError for a folder that is not one)."""
        path = Path(path)
        m = read_manifest(path)
        if m.scales_done < 1:
            raise StudyError(f"The project {path.name} has no trained scale yet.")
        if any(p.resolve() == path.resolve() for p in self._project_paths):
            return
        self._project_paths.append(path)
        r = self.table.rowCount()
        self.table.insertRow(r)
        item = QTableWidgetItem(path.resolve().name)
        item.setToolTip(f"{path.resolve()}\npreset {m.config.name}, {m.scales_done} of "
                        f"{m.n_scales} scales, {m.config.iters_per_scale} iterations per scale")
        self.table.setItem(r, 0, item)
        n_var = len(find_variation_files(path))
        # a bridge or ending project: its variations are takes, heard in context (the stitched
        # A + take + B); new ones are takes too, so strengths do not apply
        takes = m.layout is not None and m.layout.gap_span is not None
        item.setData(Qt.ItemDataRole.UserRole, m.layout.mode if takes else None)
        use = QCheckBox(f"use {n_var} take(s)" if takes else f"use {n_var}")
        if takes:
            use.setToolTip("Each take is played in context: A, the take, then B (the stitched "
                           "file), as a listener would hear it in the song.")
        use.setEnabled(n_var > 0)
        use.setChecked(n_var > 0)
        self.table.setCellWidget(r, 1, use)
        gen = QSpinBox()
        gen.setRange(0, 100)
        gen.setValue(0 if n_var else 4)
        self.table.setCellWidget(r, 2, gen)
        strengths = QLineEdit(f"{m.layout.mode} takes" if takes else "free")
        if takes:
            strengths.setEnabled(False)
            strengths.setToolTip(f"A {m.layout.mode} project renders takes that fill its "
                                 f"{m.layout.gap_seconds:g} s gap, heard in context.")
        self.table.setCellWidget(r, 3, strengths)
        seed = QSpinBox()
        seed.setRange(0, 2**31 - 1)
        seed.setValue(1000 * r)
        self.table.setCellWidget(r, 4, seed)
        for col, val in ((5, 1), (6, 0), (7, 0)):
            sb = QSpinBox()
            sb.setRange(0, 50)
            sb.setValue(val)
            self.table.setCellWidget(r, col, sb)

    def _remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for r in rows:
            self.table.removeRow(r)
            del self._project_paths[r]

    def _browse_out(self) -> None:
        folder, _ = QFileDialog.getSaveFileName(self, "New study folder", "study",
                                                "Study folder (*)")
        if folder:
            self.out.setText(folder)

    def _edit_questions(self) -> None:
        dlg = QuestionsDialog(self.questions, self.finals, self)
        if dlg.exec() == QDialog.DialogCode.Accepted:
            self.questions, self.finals = dlg.questions, dlg.finals
            self._update_questions_label()

    def _update_questions_label(self) -> None:
        custom = (self.questions != validate_questions(default_questions())
                  or self.finals != validate_questions(default_final_questions(), final=True))
        self.questions_label.setText(
            f"{len(self.questions)} per sample, {len(self.finals)} final"
            + (" (edited)" if custom else " (the original study's questionnaire)"))

    # --- spec
    def spec(self) -> StudySpec:
        projects = []
        for r, path in enumerate(self._project_paths):
            def cell(c: int, r: int = r) -> Any:
                return self.table.cellWidget(r, c)

            label = (self.table.item(r, 0).text().strip() if self.table.item(r, 0) else "") or None
            count = cell(2).value()
            seed = cell(4).value()
            takes = self.table.item(r, 0) is not None and \
                self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) is not None
            if takes:  # takes only: one run of seeds, no strengths
                gens = [GenerateSpec(count=count, seed=seed)] if count else []
            else:
                gens = [GenerateSpec(count=count, seed=seed + 100 * j, from_scale=k)
                        for j, k in enumerate(parse_strengths(cell(3).text()))] if count else []
            projects.append(ProjectSelection(
                path=path, label=label,
                variation_files=find_variation_files(path) if cell(1).isChecked() else [],
                generate=gens, real_training=cell(5).value(), real_other=cell(6).value(),
                real_clip=cell(7).value(),
            ))
        return StudySpec(
            title=self.title.text().strip() or "Listening study",
            projects=projects,
            stimuli_per_rater=self.per_rater.value() or None,
            target_lufs=self.lufs.value(),
            excerpt_seconds=self.excerpt.value() or None,
            seed=self.seed.value(),
            require_play=self.require.currentData(),
            real_check_threshold=self.threshold.value() / 100.0,
            questions=self.questions,
            final_questions=self.finals,
        )

    # --- building
    def start_build(self) -> None:
        if self._build.busy:
            return
        try:
            if not self._project_paths:
                raise StudyError("Add at least one trained project.")
            if not self.out.text().strip():
                raise StudyError("Choose a folder for the study.")
            spec = self.spec()
        except EngineError as exc:
            self.status.setText(str(exc))
            return
        self.status.setText("Building...")
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.build_button.setEnabled(False)
        self.cancel_button.setText("Cancel")
        self._build.start(iter_build_study, spec, Path(self.out.text().strip()), pass_cancel=True,
                          on_item=self._on_event, on_error=lambda e: self._errored(e.message),
                          on_done=self._build_finished)

    def _on_event(self, ev: object) -> None:
        if isinstance(ev, BuildProgress):
            self._progressed(ev.done, ev.total, ev.message)
        elif isinstance(ev, BuildFinished):
            self._built(ev.study, ev.warnings)

    def _progressed(self, done: int, total: int, message: str) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.status.setText(message)

    def _built(self, study: Study, warnings: tuple[str, ...]) -> None:
        self.study = study
        n_real = sum(s.kind == "real" for s in study.stimuli)
        text = (f"Built {len(study.stimuli)} stimuli ({len(study.stimuli) - n_real} generated, "
                f"{n_real} real) in {study.root}.")
        if warnings:
            text += "\n" + "\n".join(f"Note: {w}" for w in warnings)
        self.status.setText(text)
        self.preview.setRowCount(len(study.stimuli))
        for i, s in enumerate(study.stimuli):
            for j, v in enumerate([s.code, s.kind, s.condition, f"{s.seconds:.2f}"]):
                self.preview.setItem(i, j, QTableWidgetItem(v))
        self.preview_box.setVisible(True)
        self.study_built.emit(study)

    def _errored(self, message: str) -> None:
        self.status.setText(message)

    def _build_finished(self) -> None:
        self.progress.setVisible(False)
        self.build_button.setEnabled(self.study is None)
        self.cancel_button.setText("Close")

    def is_building(self) -> bool:
        return self._build.busy

    def _cancel_or_close(self) -> None:
        if self._build.busy:
            self._build.request_cancel()
            self.status.setText("Cancelling...")
        else:
            self.close()

    # --- preview
    def _play_selected(self) -> None:
        if self.study is None:
            return
        rows = {i.row() for i in self.preview.selectedIndexes()}
        if not rows:
            return
        code = self.study.stimuli[min(rows)].code
        if self._player is None:
            self._player = make_player()
        if not self._player.available:
            self.status.setText(self._player.reason)
            return
        audio, sr = self.study.load_audio(code)
        self._player.load(audio, sr)
        self._player.play(0.0)
        QTimer.singleShot(int(1000 * self._player.duration) + 200, self._player.poll)

    def _stop_preview(self) -> None:
        if self._player is not None:
            self._player.stop()

    def done(self, result: int) -> None:
        """Closing cancels a running build and waits for it (never terminates the thread)."""
        self._runner.close(30.0)
        self._stop_preview()
        super().done(result)


__all__ = ["StudyBuilderDialog", "QuestionsDialog", "parse_strengths"]
