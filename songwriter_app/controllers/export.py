"""Export: the dialog, the plan (asking before anything is replaced), the writing job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from engine.errors import EngineError
from engine.project.variations import VariationRecord
from songwriter_app.controllers.project import ProjectController
from songwriter_app.dialogs import messages
from songwriter_app.dialogs.export_dialog import ExportDialog
from songwriter_app.jobs import JobRunner, JobSlot
from songwriter_app.jobs.errors import JobError
from songwriter_app.settings import AppSettings


def default_export_dir() -> Path:
    from platformdirs import user_music_dir

    return Path(user_music_dir()) / "Songwriter Assistant"


def run_export(project: Any, plan: Any, policy: str, cancel: Any = None) -> Any:
    from engine.export import export_variations

    return export_variations(project, plan, on_conflict=policy, cancel=cancel)


class ExportController(QObject):
    busy_changed = Signal(bool)
    status = Signal(str, int)
    failed = Signal(str, str, str)

    def __init__(self, parent_widget: QWidget, projects: ProjectController, runner: JobRunner,
                 settings: AppSettings, selected: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.parent_widget, self.projects, self.settings = parent_widget, projects, settings
        self.selected = selected  # () -> list[VariationRecord]: the list's selection
        self.last_results: list[Any] = []
        self._slot = JobSlot(runner, "export", self)
        self._slot.busy_changed.connect(self.busy_changed)
        self._total = 0

    @property
    def busy(self) -> bool:
        return self._slot.busy

    def export_dialog(self, *, take_alone: bool = False) -> None:
        """The export dialog; `take_alone`: bridge and ending takes alone (the span between the
        seams), offered only among the takes."""
        project = self.projects.project
        if project is None or self.busy:
            return
        records = project.store.list()
        selected = self.selected()
        if take_alone:
            records = [r for r in records if r.is_take]
            selected = [r for r in selected if r.is_take]
        if not records:
            self.status.emit("There are no takes to export yet." if take_alone else
                             "There are no variations to export yet.", 8000)
            return
        from engine.audio.io import integrated_loudness

        original = self.projects.original
        target = (integrated_loudness(original.audio, original.sample_rate)
                  if original is not None else None)
        dlg = ExportDialog(
            self.parent_widget, selected=selected, all_records=records,
            working_rate=project.working_rate, original_rate=project.section.sample_rate,
            clip_name=project.section.stem, preset=project.config.name,
            folder=Path(self.settings.get("dirs/export", "") or default_export_dir()),
            target_lufs=target, n_scales=project.scales_done, take_alone=take_alone,
        )
        if dlg.exec() != ExportDialog.DialogCode.Accepted or dlg.options is None:
            return
        self.start(dlg.records(), dlg.options)

    def start(self, records: list[VariationRecord], options: Any) -> bool:
        from engine.export import plan_export

        project = self.projects.project
        if project is None or self.busy:
            return False
        try:
            plan = plan_export(project, records, options)
        except EngineError as exc:
            self.failed.emit("Cannot export", str(exc), "engine")
            return False
        policy = "error"
        if plan.conflicts:
            answer = messages.ask_conflict(self.parent_widget, len(plan.conflicts),
                                           str(options.folder))
            if answer == "cancel":
                self.status.emit("Export cancelled; nothing was replaced.", 8000)
                return False
            policy = answer
        self.settings.set("dirs/export", str(options.folder))
        self.last_results = []
        self._total = len(plan.items)
        return self._slot.start(run_export, project, plan, policy, pass_cancel=True,
                                on_item=self._on_result, on_error=self._on_error,
                                on_done=self._on_done) is not None

    def _on_result(self, res: Any) -> None:
        self.last_results.append(res)
        name = res.path.name if res.path is not None else "(skipped)"
        self.status.emit(f"Exported {len(self.last_results)} of {self._total}: {name}", 0)

    def _on_done(self) -> None:
        written = [r for r in self.last_results if r.path is not None]
        folder = written[0].path.parent if written else ""
        skipped = len(self.last_results) - len(written)
        extra = f", {skipped} skipped" if skipped else ""
        if self.last_results or not written:
            self.status.emit(f"Exported {len(written)} file(s){extra} to {folder}", 0)

    def _on_error(self, err: JobError) -> None:
        self.failed.emit(err.title, err.message, err.kind)
