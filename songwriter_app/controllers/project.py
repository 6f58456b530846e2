"""The open clip and the open project: opening files and folders, the project's original
section, and the previews and loss curves of a reopened project."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from engine.audio.io import SUPPORTED_EXTENSIONS
from engine.errors import AudioError, EngineError
from engine.project import Project
from engine.project.section import SourceStatus
from songwriter_app.jobs import JobRunner, JobSlot
from songwriter_app.jobs.errors import JobError
from songwriter_app.state import ClipAudio, PreviewAudio, SectionAudio

log = logging.getLogger(__name__)


def mel_of(audio: np.ndarray, sr: int) -> np.ndarray:
    from engine.audio.features import log_mel

    return np.ascontiguousarray(log_mel(audio, sr), dtype=np.float32)


# ---- work done in worker threads (plain functions, numpy out) -------------------------------


def load_clip(path: Path) -> ClipAudio:
    """Read an audio file for the clip view: audio [C, T] and a mono mel for display."""
    from engine.audio.features import mel_frame_seconds
    from engine.audio.io import read_audio, to_mono

    audio, sr = read_audio(path)
    mono = to_mono(audio)
    if float(np.max(np.abs(mono))) < 1e-4:
        raise AudioError(f"{path.name} is silent; choose a file with sound.")
    return ClipAudio(Path(path), audio, sr, mono, mel_of(mono, sr), mel_frame_seconds(sr))


def load_section(project: Project) -> SectionAudio:
    """The training section at the working rate and original level, with its mel."""
    from engine.audio.features import mel_frame_seconds
    from engine.audio.io import to_mono

    audio, sr = project.original()
    return SectionAudio(project.root, audio, sr, mel_of(to_mono(audio), sr), mel_frame_seconds(sr))


def section_as_clip(project: Project) -> ClipAudio:
    """The project's own copy of the section, shown when the source file is gone."""
    from engine.audio.io import to_mono

    s = load_section(project)
    audio = s.audio if s.audio.ndim == 2 else s.audio[None, :]
    return ClipAudio(project.root / "clip.wav", audio, s.sample_rate, to_mono(s.audio), s.mel,
                     s.frame_seconds)


def load_saved_previews(project: Project) -> tuple[list[PreviewAudio], list[dict[str, Any]]]:
    """A reopened project's coarse-to-fine previews (kept in its folder, or rendered and kept
    for projects trained before previews were saved) and its loss points."""
    from engine.generation.render import project_previews
    from engine.project.checkpoint import load_losses

    n = project.n_scales
    previews = [PreviewAudio(s, n, p["rate"], p["sample"], p["reconstruction"], p["sr"],
                             p["seconds"])
                for s, p in sorted(project_previews(project.root, device=None).items())]
    return previews, load_losses(project.root)


# ---- the controller --------------------------------------------------------------------------


class ProjectController(QObject):
    """Owns `clip` (what the clip view shows), `project` (the open project, or None) and
    `original` (its training section). Views listen to the signals."""

    clip_opened = Signal(object)  # ClipAudio
    project_changed = Signal(object)  # Project | None: another project (or none) is open
    project_refreshed = Signal(object)  # Project: the same project, re-read (after training)
    original_loaded = Signal(object)  # SectionAudio of the open project
    previews_loaded = Signal(object, object)  # list[PreviewAudio], loss points
    section_known = Signal(float, float, float)  # start, duration, longest section of the preset
    status = Signal(str)  # a line for the status bar
    failed = Signal(str, str, str)  # title, message, kind: for an error dialog

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.clip: ClipAudio | None = None
        self.project: Project | None = None
        self.original: SectionAudio | None = None
        self.locked_reason = ""  # non-empty: opening something else is refused (training)
        self._clip_slot = JobSlot(runner, "clip", self)
        self._original_slot = JobSlot(runner, "original", self)
        self._previews_slot = JobSlot(runner, "previews", self)

    @property
    def loading(self) -> bool:
        return self._clip_slot.busy

    # ---- opening ----

    def open_path(self, path: Path) -> bool:
        """Open a clip or a project folder; a bad path is refused and nothing changes."""
        path = Path(path)
        if self.locked_reason:
            self.failed.emit("Training is running", self.locked_reason, "engine")
            return False
        if path.is_dir():
            if Project.is_project(path):
                return self.open_project(path)
            self.failed.emit("Not a project", f"{path} is a folder but not a Songwriter "
                             "Assistant project (it has no manifest.json).", "engine")
            return False
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            self.failed.emit("Cannot open this file", f"{path.name} is not a supported audio "
                             "file. Open a wav, flac, ogg, mp3 or aiff file.", "engine")
            return False
        if not path.is_file():
            self.failed.emit("File not found", f"{path} does not exist.", "engine")
            return False
        self.status.emit(f"Opening {path.name}…")
        self._clip_slot.start(load_clip, path, on_result=self._on_clip_loaded,
                              on_error=self._on_clip_error)
        return True

    def open_project(self, path: Path) -> bool:
        try:
            project = Project.open(path)
            _ = project.store  # a damaged variation index is reported now, not later
        except EngineError as exc:
            self.failed.emit("Cannot open this project", str(exc), "engine")
            return False
        self._set_project(project)
        source = project.section
        if source.status() in (SourceStatus.UNCHANGED, SourceStatus.UNKNOWN) and \
                source.path.suffix.lower() in SUPPORTED_EXTENSIONS:
            self._clip_slot.start(load_clip, source.path, on_result=self._on_project_clip,
                                  on_error=self._on_project_clip_error)
        else:
            why = "is gone" if source.status() is SourceStatus.MISSING else "has changed"
            self.status.emit(f"The project's source file {source.path} {why}; showing the "
                             "trained section.")
            self._show_section_as_clip(project)
        m = project.manifest
        state = ("trained" if m.complete
                 else f"{m.scales_done} of {m.n_scales} scales trained; Resume continues")
        self.status.emit(f"Opened project {project.name} ({m.config.name}, {state}).")
        return True

    def _on_clip_loaded(self, clip: ClipAudio) -> None:
        self._set_project(None)
        self._show_clip(clip)
        self.status.emit(f"Opened {clip.path.name}. Drag the green section, choose a preset and "
                         "press Train.")

    def _on_clip_error(self, err: JobError) -> None:
        self.failed.emit("Cannot open this file", err.message, err.kind)

    def _on_project_clip(self, clip: ClipAudio) -> None:
        self._show_clip(clip)
        self._announce_section()

    def _on_project_clip_error(self, err: JobError) -> None:
        self.status.emit(f"The project's source file cannot be read ({err.message}); showing "
                         "the section.")
        if self.project is not None:
            self._show_section_as_clip(self.project)

    def _show_section_as_clip(self, project: Project) -> None:
        def shown(clip: ClipAudio) -> None:
            self._show_clip(clip)
            self.section_known.emit(0.0, clip.seconds, project.config.max_seconds)

        self._clip_slot.start(section_as_clip, project, on_result=shown,
                              on_error=self._on_quiet_error)

    def _show_clip(self, clip: ClipAudio) -> None:
        self.clip = clip
        self.clip_opened.emit(clip)

    def _announce_section(self) -> None:
        if self.project is not None:
            sec = self.project.section
            self.section_known.emit(sec.start, sec.duration, self.project.config.max_seconds)

    # ---- the open project ----

    def adopt(self, root: Path) -> Project | None:
        """Make the project training writes into the open one (new, or the same, re-read)."""
        if self.project is not None and self.project.root == Path(root):
            return self.refresh()
        try:
            project = Project.open(root)
        except EngineError as exc:
            self.failed.emit("Cannot read the project", str(exc), "engine")
            return None
        self._set_project(project)
        return project

    def close_project(self) -> None:
        self._set_project(None)

    def refresh(self) -> Project | None:
        """Re-read the open project's manifest and variations (after training)."""
        if self.project is None:
            return None
        try:
            self.project.reload()
        except EngineError as exc:
            self.failed.emit("Cannot read the project", str(exc), "engine")
            return None
        self.project_refreshed.emit(self.project)
        if self.original is None and self.project.trained:
            self._load_original()
        return self.project

    def load_previews(self) -> None:
        """Load a reopened project's previews and loss curves (in the background)."""
        if self.project is not None and self.project.trained:
            self._previews_slot.start(load_saved_previews, self.project,
                                      on_result=lambda r: self.previews_loaded.emit(*r),
                                      on_error=self._on_quiet_error)

    def cancel_preview_loading(self) -> None:
        self._previews_slot.cancel()

    def _set_project(self, project: Project | None) -> None:
        self._original_slot.cancel()
        self._previews_slot.cancel()
        self.project = project
        self.original = None
        self.project_changed.emit(project)
        if project is not None and project.trained:
            self._load_original()

    def _load_original(self) -> None:
        assert self.project is not None
        self._original_slot.start(load_section, self.project, on_result=self._on_original,
                                  on_error=self._on_error)

    def _on_original(self, section: SectionAudio) -> None:
        self.original = section
        self.original_loaded.emit(section)

    def _on_error(self, err: JobError) -> None:
        self.failed.emit(err.title, err.message, err.kind)

    def _on_quiet_error(self, err: JobError) -> None:
        self.status.emit(f"{err.title}: {err.message}")
