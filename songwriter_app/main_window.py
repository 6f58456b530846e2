"""The main window: composes the views and owns the controllers (clip, training, variations,
playback, export, projects)."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.audio_io import SUPPORTED_EXTENSIONS
from engine.checkpoint import Manifest, is_project, read_manifest
from engine.config import PRESETS, TrainConfig, get_preset
from engine.errors import AudioError, EngineError
from engine.variations import VariationRecord, VariationStore
from songwriter_app.dialogs import messages
from songwriter_app.dialogs.export_dialog import ExportDialog
from songwriter_app.playback import NullPlayer, Player, make_player
from songwriter_app.settings import AppSettings, default_projects_dir, new_project_dir
from songwriter_app.stall_monitor import StallMonitor
from songwriter_app.views.clip_view import ClipView
from songwriter_app.views.panels import TrainingPanel, VariationsPanel
from songwriter_app.workers import (
    CallWorker,
    ExportWorker,
    JobRunner,
    ModelCache,
    TrainRequest,
    TrainWorker,
    VariationRequest,
    VariationWorker,
    VerdictWorker,
    mel_of,
)

log = logging.getLogger(__name__)

APP_TITLE = "Songwriter Assistant"
PLAYHEAD_MS = 30
LOSS_REFRESH_S = 0.25  # redraw the loss plot at most 4 times a second
AUDIO_FILTER = "Audio (" + " ".join(f"*{e}" for e in SUPPORTED_EXTENSIONS) + ")"
MEL_CACHE = 24
PREFERRED_METRICS = ("longest_copy_s", "copy_ratio", "timbre_fd")  # shown first, if present


PLAYBACK_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_B, Qt.Key.Key_L)


class PlaybackKeysFilter(QObject):
    """Lets Space, B and L reach the window's playback shortcuts while a number field has the
    keyboard focus (a spin box would otherwise claim them as typed text, which it cannot use)."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.key() in PLAYBACK_KEYS
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
        ):
            event.ignore()  # not overridden: the shortcut fires
            return True
        return False


# ---- work done in worker threads (plain functions, numpy out) ----------------------------------


def load_clip_for_display(path: Path) -> dict[str, Any]:
    """Read an audio file for the clip view: audio [C, T], a mono mel for display."""
    from engine.audio_io import read_audio, to_mono
    from engine.features import mel_frame_seconds

    audio, sr = read_audio(path)
    mono = to_mono(audio)
    if float(np.max(np.abs(mono))) < 1e-4:
        raise AudioError(f"{path.name} is silent; choose a file with sound.")
    return {"path": path, "audio": audio, "sr": sr, "mono": mono, "mel": mel_of(mono, sr),
            "frame_seconds": mel_frame_seconds(sr)}


def load_project_original(project_dir: Path) -> dict[str, Any]:
    """The training section at the working rate and original level, with its mel."""
    from engine.export import original_section
    from engine.features import mel_frame_seconds

    audio, sr = original_section(project_dir)
    return {"project": project_dir, "audio": audio, "sr": sr, "mel": mel_of(audio, sr),
            "frame_seconds": mel_frame_seconds(sr)}


def load_saved_previews(project_dir: Path) -> dict[str, Any]:
    """The coarse-to-fine previews of a reopened project (kept in its folder, or rendered and
    kept for projects trained before previews were saved) and its loss curves."""
    from engine.checkpoint import load_losses
    from engine.generate import project_previews

    manifest = read_manifest(project_dir)
    return {"project": project_dir, "n_scales": manifest.n_scales, "rates": manifest.rates,
            "previews": project_previews(project_dir, device=None),
            "losses": load_losses(project_dir)}


def prepare_daw_files(project_dir: Path, records: list[VariationRecord]) -> dict[str, Any]:
    """DAW-ready copies (engine.export.daw_ready_file) of the given variations, for dragging."""
    from engine.export import daw_ready_file

    files: dict[str, Path] = {}
    for rec in records:
        with contextlib.suppress(EngineError, OSError):
            files[rec.id] = daw_ready_file(project_dir, rec)
    return {"project": project_dir, "files": files, "asked": [r.id for r in records]}


def analyse_variation(store: VariationStore, vid: str) -> dict[str, Any]:
    audio, sr = store.load_audio(vid)
    return {"id": vid, "audio": audio, "sr": sr, "mel": mel_of(audio, sr)}


def run_probe(device: str | None, cancel: Any = None) -> dict[str, Any] | None:
    from engine.device import resolve_device
    from songwriter_app.estimates import probe

    try:
        return probe(resolve_device(device), cancel)
    except InterruptedError:
        return None  # cancelled (training started)


# ---- the window ------------------------------------------------------------------------------------


class MainWindow(QMainWindow):
    def __init__(
        self,
        *,
        player: Player | None = None,
        settings: AppSettings | None = None,
        projects_dir: Path | None = None,
        device: str | None = None,
        auto_probe: bool = True,
        warm_up: bool = True,
        install_study: bool = True,
    ) -> None:
        super().__init__()
        self.setWindowTitle(APP_TITLE)
        self.resize(1280, 860)
        self.setAcceptDrops(True)
        self.settings = settings or AppSettings()
        self.projects_dir = Path(projects_dir) if projects_dir else default_projects_dir()
        self.device = device
        self.player: Player = player if player is not None else make_player()
        self.jobs = JobRunner(self)
        self.models = ModelCache()
        self.stall = StallMonitor(self)
        self.preset_overrides: dict[str, dict[str, Any]] = {}  # tests: {"tiny": {...}}

        # state
        self.clip: dict[str, Any] | None = None  # what load_clip_for_display returned
        self.project_dir: Path | None = None
        self.manifest: Manifest | None = None
        self.store: VariationStore | None = None
        self.original: dict[str, Any] | None = None  # load_project_original
        self.previews: dict[int, dict[str, Any]] = {}
        self.variation_cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.train_worker: TrainWorker | None = None
        self.variation_worker: VariationWorker | None = None
        self.export_worker: ExportWorker | None = None
        self.play_source = "clip"  # clip | original | variation | preview
        self.ab_side = "variation"  # what B-switching plays: "variation" or "original"
        self.probe_result: dict[str, Any] | None = None
        self.last_train_stall_ms: float | None = None
        self.last_export: list[Any] = []
        self._train_t0 = 0.0
        self._pending_clip: Path | None = None
        self.probe_worker: CallWorker | None = None
        self._bench: dict[str, Any] | None = None
        self._last_drawn_pos = -1.0
        self._last_plot_refresh = 0.0
        self._generated_this_run = 0
        self._daw_files: dict[str, Path] = {}  # variation id -> DAW-ready copy, for dragging
        self._daw_pending: set[str] = set()

        self._build_ui()
        self._build_actions()
        self._build_menus(install_study)
        self._playhead_timer = QTimer(self)
        self._playhead_timer.setInterval(PLAYHEAD_MS)
        self._playhead_timer.timeout.connect(self._tick)
        self._update_device_label()
        self._update_playback_label()
        self._on_preset_changed()
        self._update_enabled()
        self.warmed_up = False
        self._auto_probe = auto_probe
        if warm_up:
            QTimer.singleShot(0, self.start_warm_up)
        elif auto_probe:
            QTimer.singleShot(500, self.start_probe)

    def _start_call(self, fn: Any, *args: Any, name: str, on_result: Any, on_error: Any,
                    on_done: Any = None, pass_cancel: bool = False) -> CallWorker:
        """Run fn(*args) in a worker thread; its result goes to `on_result` on this thread."""
        w = CallWorker(fn, *args, name=name, pass_cancel=pass_cancel)
        w.finished.connect(on_result)
        w.errored.connect(on_error)
        if on_done is not None:
            w.done.connect(on_done)
        self.jobs.start(w)
        return w

    # ==== building ==============================================================================

    def _build_ui(self) -> None:
        self.clip_view = ClipView()
        self.clip_view.setObjectName("clipView")
        self.train_panel = TrainingPanel()
        self.var_panel = VariationsPanel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.train_panel, "1 · Train")
        self.tabs.addTab(self.var_panel, "2 · Variations")
        self.tabs.setTabToolTip(1, "Generate, audition, compare, rate and export variations.")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.clip_view)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([300, 520])
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(split)
        self.setCentralWidget(central)

        self.status_device = QLabel("")
        self.status_audio = QLabel("")
        self.status_stall = QLabel("")
        self.statusBar().addPermanentWidget(self.status_stall)
        self.statusBar().addPermanentWidget(self.status_audio)
        self.statusBar().addPermanentWidget(self.status_device)

        # clip view
        self.clip_view.region_changed.connect(self._on_region_changed)
        self.clip_view.position_clicked.connect(self._on_clip_clicked)
        # training panel
        tp = self.train_panel
        tp.preset.currentIndexChanged.connect(self._on_preset_changed)
        tp.train_btn.clicked.connect(self.start_training)
        tp.cancel_btn.clicked.connect(self.cancel_training)
        tp.resume_btn.clicked.connect(self.resume_training)
        tp.previews.play_requested.connect(self.play_preview)
        tp.measure_btn.clicked.connect(lambda: self.start_probe(force=True))
        # variations panel
        vp = self.var_panel
        vp.generate_btn.clicked.connect(self.generate_variations)
        vp.stop_btn.clicked.connect(self.stop_generating)
        vp.dice.clicked.connect(lambda: vp.seed.setValue(random.randrange(0, 1_000_000)))
        vp.strength.valueChanged.connect(self._update_strength_label)
        vp.free.toggled.connect(self._update_strength_label)
        vp.list.selected.connect(self._on_variation_selected)
        vp.list.rate_requested.connect(self.rate_variation)
        vp.list.activated_play.connect(self.play_ab)
        vp.rating.rated.connect(self._on_star_clicked)
        vp.play_btn.clicked.connect(self.toggle_play)
        vp.loop_btn.toggled.connect(self._set_loop)
        vp.ab_btn.clicked.connect(self.switch_ab)
        vp.delete_btn.clicked.connect(self.delete_selected)
        vp.export_btn.clicked.connect(self.export_dialog)
        vp.metric.currentIndexChanged.connect(
            lambda _i: vp.list.set_metric(vp.metric.currentData()))
        for sig in vp.compare.clicked_signals:
            sig.connect(self._on_compare_clicked)

    def _build_actions(self) -> None:
        def act(text: str, slot, shortcut: QKeySequence | str | None = None, *,
                checkable: bool = False) -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            a.setCheckable(checkable)
            a.triggered.connect(slot)
            self.addAction(a)
            return a

        self.act_open = act("&Open Clip…", self.open_clip_dialog, QKeySequence.StandardKey.Open)
        self.act_open_project = act("Open &Project…", self.open_project_dialog, "Ctrl+Shift+O")
        self.act_demo = act("Open the &Demo Clip", self.open_demo)
        self.act_export = act("&Export Variations…", self.export_dialog, "Ctrl+E")
        self.act_quit = act("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_play = act("Play / Stop", self.toggle_play, Qt.Key.Key_Space)
        self.act_loop = act("Loop", self._toggle_loop_action, Qt.Key.Key_L, checkable=True)
        self.act_ab = act("A/B: Original ↔ Variation", self.switch_ab, Qt.Key.Key_B)
        self.act_delete = act("Delete Variation", self.delete_selected, QKeySequence.StandardKey.Delete)
        self.act_delete.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.var_panel.list.addAction(self.act_delete)
        self.removeAction(self.act_delete)
        self.var_panel.list.drag_files = self._drag_files
        self._keys_filter = PlaybackKeysFilter(self)
        for box in self.findChildren(QAbstractSpinBox):
            box.installEventFilter(self._keys_filter)

    def _build_menus(self, install_study: bool) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.act_open)
        self.recent_clips_menu = QMenu("Recent &Clips", self)
        self.recent_clips_menu.aboutToShow.connect(self._fill_recent_clips)
        file_menu.addMenu(self.recent_clips_menu)
        file_menu.addAction(self.act_demo)
        file_menu.addSeparator()
        file_menu.addAction(self.act_open_project)
        self.recent_projects_menu = QMenu("Recent P&rojects", self)
        self.recent_projects_menu.aboutToShow.connect(self._fill_recent_projects)
        file_menu.addMenu(self.recent_projects_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.act_export)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        play_menu = bar.addMenu("&Playback")
        for a in (self.act_play, self.act_loop, self.act_ab):
            play_menu.addAction(a)
        if install_study:
            try:
                from songwriter_app.study import install_study_menu
            except ImportError:
                log.info("the Study menu is not available (songwriter_app.study missing)")
            else:
                try:
                    install_study_menu(self, bar)
                except Exception:
                    log.exception("installing the Study menu failed")
        help_menu = bar.addMenu("&Help")
        about = QAction("&About", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(1280, 860)

    # ==== status helpers =======================================================================

    def say(self, text: str, ms: int = 8000) -> None:
        log.info("%s", text)
        self.statusBar().showMessage(text, ms)

    def _update_device_label(self) -> None:
        try:
            from engine.device import device_label, resolve_device

            self.device_name = device_label(resolve_device(self.device))
        except EngineError as exc:
            self.device_name = f"unavailable ({exc})"
        self.status_device.setText(f"Device: {self.device_name}")
        self.train_panel.device.setText(self.device_name)

    def _update_playback_label(self) -> None:
        if self.player.available:
            self.status_audio.setText("Audio: on")
            self.status_audio.setToolTip("")
        else:
            self.status_audio.setText("Audio: OFF")
            self.status_audio.setStyleSheet("color: #ff8a65;")
            self.status_audio.setToolTip(self.player.reason)
            self.say(self.player.reason, 0)

    def _busy_training(self) -> bool:
        return self.train_worker is not None

    def _update_enabled(self) -> None:
        training = self._busy_training()
        generating = self.variation_worker is not None
        tp, vp = self.train_panel, self.var_panel
        tp.train_btn.setEnabled(self.clip is not None and not training)
        tp.cancel_btn.setEnabled(training)
        can_resume = (self.manifest is not None and not self.manifest.complete and not training)
        tp.resume_btn.setEnabled(can_resume)
        tp.preset.setEnabled(not training)
        self.clip_view.set_section_locked(training)
        trained = self.manifest is not None and self.manifest.scales_done >= 1
        ready = trained and self.store is not None
        vp.generate_btn.setEnabled(ready and not generating and not training)
        vp.stop_btn.setEnabled(generating)
        has_vars = self.store is not None and len(self.store) > 0
        vp.export_btn.setEnabled(has_vars and self.export_worker is None)
        self.act_export.setEnabled(has_vars and self.export_worker is None)
        vp.delete_btn.setEnabled(vp.list.current_record() is not None and not generating)
        self.tabs.setTabEnabled(1, trained)
        self.act_open.setEnabled(not training)
        self.act_open_project.setEnabled(not training)
        self.act_demo.setEnabled(not training)

    # ==== clips ===============================================================================

    def open_demo(self) -> None:
        from engine.resources import DEMO_CLIP

        self.open_path(DEMO_CLIP)

    def open_clip_dialog(self) -> None:
        start = self.settings.get("dirs/clips", str(Path.home()))
        path, _ = QFileDialog.getOpenFileName(self, "Open a song section", start,
                                              f"{AUDIO_FILTER};;All files (*)")
        if path:
            self.open_path(Path(path))

    def open_project_dialog(self) -> None:
        start = str(self.projects_dir if self.projects_dir.is_dir() else Path.home())
        path = QFileDialog.getExistingDirectory(self, "Open a project folder", start)
        if path:
            self.open_path(Path(path))

    def open_path(self, path: Path) -> bool:
        """Open a clip or a project folder; a bad path is refused and nothing changes."""
        path = Path(path)
        if self._busy_training():
            messages.show_error(self, "Training is running",
                                "Cancel the training before opening something else.")
            return False
        if path.is_dir():
            if is_project(path):
                return self.open_project(path)
            messages.show_error(self, "Not a project",
                                f"{path} is a folder but not a Songwriter Assistant project "
                                "(it has no manifest.json).")
            return False
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            messages.show_error(self, "Cannot open this file",
                                f"{path.name} is not a supported audio file. Open a wav, flac, "
                                "ogg, mp3 or aiff file.")
            return False
        if not path.is_file():
            messages.show_error(self, "File not found", f"{path} does not exist.")
            return False
        self._pending_clip = path
        self.stop_generating()
        self.say(f"Opening {path.name}…", 0)
        self._start_call(load_clip_for_display, path, name="ClipLoader",
                         on_result=self._on_clip_loaded, on_error=self._on_clip_error)
        return True

    @Slot(str, str, str)
    def _on_clip_error(self, title: str, message: str, kind: str) -> None:
        self._pending_clip = None
        self.statusBar().clearMessage()
        messages.show_error(self, "Cannot open this file", message, kind)

    @Slot(object)
    def _on_clip_loaded(self, data: dict[str, Any], *, keep_project: bool = False) -> None:
        if self._pending_clip is not None and Path(data["path"]) != self._pending_clip:
            return  # a newer open request won
        self._pending_clip = None
        self.stop()
        self.clip = data
        path = Path(data["path"])
        secs = data["audio"].shape[-1] / data["sr"]
        ch = data["audio"].shape[0]
        self.clip_view.set_clip(
            f"{path.name} · {secs:.1f} s · {data['sr']} Hz · {'stereo' if ch == 2 else f'{ch} ch'}",
            data["mono"], data["sr"], data["mel"], data["frame_seconds"], data["sr"],
        )
        self.settings.add_recent_clip(path)
        self.settings.set("dirs/clips", str(path.parent))
        if not keep_project:
            self._set_project(None)
            self.clip_view.set_section(0.0, self.current_config().max_seconds)
        self._load_player("clip")
        self.setWindowTitle(f"{path.name} — {APP_TITLE}")
        self.say(f"Opened {path.name}. Drag the green section, choose a preset and press Train.")
        self._update_enabled()

    # ==== projects ============================================================================

    def open_project(self, path: Path) -> bool:
        try:
            read_manifest(path)
            VariationStore(path)
        except EngineError as exc:
            messages.show_error(self, "Cannot open this project", str(exc))
            return False
        self.stop()
        self.stop_generating()
        self._set_project(path)
        m = self.manifest
        assert m is not None
        self.train_panel.set_preset(m.config.name)
        source = Path(str(m.source.get("path", "")))
        if source.is_file() and source.suffix.lower() in SUPPORTED_EXTENSIONS:
            self._pending_clip = source
            self._start_call(load_clip_for_display, source, name="ClipLoader",
                             on_result=self._on_project_clip_loaded,
                             on_error=self._on_project_clip_error)
        else:
            self.say(f"The project's source file {source} is gone; showing the trained section.")
            self._show_section_as_clip()
        self.settings.add_recent_project(path)
        state = ("trained" if m.complete
                 else f"{m.scales_done} of {m.n_scales} scales trained; Resume continues")
        self.say(f"Opened project {path.name} ({m.config.name}, {state}).")
        return True

    @Slot(object)
    def _on_project_clip_loaded(self, data: dict[str, Any]) -> None:
        self._on_clip_loaded(data, keep_project=True)
        self._show_project_section()

    @Slot(str, str, str)
    def _on_project_clip_error(self, title: str, message: str, kind: str) -> None:
        self._pending_clip = None
        self.say(f"The project's source file cannot be read ({message}); showing the section.")
        self._show_section_as_clip()

    def _show_section_as_clip(self) -> None:
        if self.project_dir is None:
            return
        self._start_call(load_project_original, self.project_dir, name="SectionLoader",
                         on_result=self._on_section_as_clip, on_error=self._on_worker_error)

    @Slot(object)
    def _on_section_as_clip(self, data: dict[str, Any]) -> None:
        clip = {"path": self.project_dir / "clip.wav", "audio": data["audio"][None, :],
                "sr": data["sr"], "mono": data["audio"], "mel": data["mel"],
                "frame_seconds": data["frame_seconds"]}
        self._pending_clip = None
        self._on_clip_loaded(clip, keep_project=True)
        self.clip_view.set_section(0.0, data["audio"].shape[-1] / data["sr"])

    def _show_project_section(self) -> None:
        if self.manifest is None:
            return
        src = self.manifest.source
        self.clip_view.set_max_seconds(self.manifest.config.max_seconds)
        self.clip_view.set_section(float(src.get("start", 0.0)),
                                   float(src.get("duration", self.manifest.config.max_seconds)))

    def _set_project(self, path: Path | None) -> None:
        """Make `path` the open project (None: no project) and refresh everything from disk."""
        self.models.clear()
        self.variation_cache.clear()
        self._daw_files.clear()
        self._daw_pending.clear()
        if path is None:
            self.project_dir = self.manifest = self.store = self.original = None
            self.previews.clear()
            self.train_panel.previews.clear()
            self.train_panel.loss_plot.clear_run()
            self.train_panel.status.setText("Not trained yet.")
            self.train_panel.progress.setValue(0)
            self.var_panel.list.set_records([])
            self.var_panel.compare.set_variation("No variation selected", None, None)
            self._update_enabled()
            return
        if path != self.project_dir:
            self.previews.clear()
            self.train_panel.previews.clear()
            self.train_panel.loss_plot.clear_run()
        self.project_dir = Path(path)
        self.refresh_project()

    def refresh_project(self) -> None:
        """Re-read manifest and variations of the open project (after training, on open)."""
        if self.project_dir is None:
            return
        try:
            self.manifest = read_manifest(self.project_dir)
            self.store = VariationStore(self.project_dir)
        except EngineError as exc:
            messages.show_error(self, "Cannot read the project", str(exc))
            return
        m = self.manifest
        tp = self.train_panel
        if m.complete:
            tp.status.setText(f"Trained: {m.n_scales} scales, {m.config.name} preset, "
                              f"{_fmt_time(sum(m.seconds_per_scale))} on {m.device_name or m.device}.")
            tp.progress.setValue(1000)
        else:
            tp.status.setText(f"{m.scales_done} of {m.n_scales} scales trained. Resume continues.")
            tp.progress.setValue(int(1000 * m.scales_done / max(1, m.n_scales)))
        self.var_panel.list.set_records(self.store.list())
        self._refresh_metric_choices()
        self._setup_strength()
        if self.original is None or self.original.get("project") != self.project_dir:
            self.original = None
            self._start_call(load_project_original, self.project_dir, name="OriginalLoader",
                             on_result=self._on_original_loaded, on_error=self._on_worker_error)
        missing = [r.id for r in self.store.list() if r.verdict is None]
        if missing and m.scales_done >= 1:
            vw = VerdictWorker(self.store, missing)
            vw.verdict_ready.connect(self._on_verdict)
            vw.errored.connect(self._on_quiet_error)
            self.jobs.start(vw)
        if m.scales_done >= 1 and not self.previews and not self._busy_training():
            self._start_call(load_saved_previews, self.project_dir, name="PreviewLoader",
                             on_result=self._on_saved_previews, on_error=self._on_quiet_error)
        self._update_enabled()

    @Slot(object)
    def _on_saved_previews(self, data: dict[str, Any]) -> None:
        """Fill the preview list of a reopened project (not while a run is adding its own)."""
        if data["project"] != self.project_dir or self.previews or self._busy_training():
            return
        for s, p in sorted(data["previews"].items()):
            self._add_preview(s, data["n_scales"], p["rate"], p["sample"], p["reconstruction"],
                              p["sr"], p["seconds"])
        plot = self.train_panel.loss_plot
        if data["losses"] and plot.n_points == 0:
            plot.mark_scales(data["rates"][: data["losses"][-1]["scale"] + 1],
                             data["losses"][0]["iterations"])
            for p in data["losses"]:
                plot.add_progress(p["scale"], p["iteration"], p["iterations"], p["losses"])
            plot.refresh()

    def _add_preview(self, scale: int, n_scales: int, rate: int, sample: np.ndarray,
                     reconstruction: np.ndarray, sr: int, seconds: float) -> None:
        self.previews[scale] = {"sample": sample, "reconstruction": reconstruction, "sr": sr,
                                "rate": rate}
        self.train_panel.previews.add_scale(scale, n_scales, rate, seconds)

    @Slot(object)
    def _on_original_loaded(self, data: dict[str, Any]) -> None:
        if data["project"] != self.project_dir:
            return
        self.original = data
        self.var_panel.compare.set_original(data["audio"], data["sr"], data["mel"],
                                            data["frame_seconds"])
        rec = self.var_panel.list.current_record()
        if rec is not None:
            self._on_variation_selected(rec)

    def _setup_strength(self) -> None:
        vp, m = self.var_panel, self.manifest
        if m is None:
            return
        n = m.scales_done
        section = float(m.source.get("duration") or m.config.max_seconds)
        vp.strength.blockSignals(True)
        vp.strength.setRange(0, max(0, n - 2))
        if vp.strength.value() > n - 2 or vp.strength.value() == 0:
            vp.strength.setValue(max(0, (n - 2) // 2))
        vp.strength.blockSignals(False)
        can_condition = n >= 2
        vp.strength.setEnabled(can_condition)
        if not can_condition:
            vp.free.setChecked(True)
        vp.free.setEnabled(can_condition)
        vp.length.setValue(round(min(section, vp.length.maximum()), 1))
        self._update_strength_label()

    def _update_strength_label(self) -> None:
        from engine.generate import strength_label

        vp, m = self.var_panel, self.manifest
        if m is None:
            return
        fs = self.current_from_scale()
        vp.strength.setEnabled(fs is not None)
        vp.strength_label.setText(strength_label(fs, m.scales_done))
        section = float(m.source.get("duration") or 0.0)
        if fs is None:
            vp.length_note.setText("Free variations can be any length.")
        else:
            vp.length_note.setText(f"Keeps the original's structure: at most the section's "
                                   f"{section:.1f} s.")

    def current_from_scale(self) -> int | None:
        vp = self.var_panel
        if vp.free.isChecked() or self.manifest is None or self.manifest.scales_done < 2:
            return None
        return int(vp.strength.value())

    # ==== presets, section, estimates ==========================================================

    def current_config(self) -> TrainConfig:
        name = self.train_panel.preset_name()
        return get_preset(name, **self.preset_overrides.get(name, {}))

    def _on_preset_changed(self) -> None:
        cfg = self.current_config()
        self.train_panel.summary.setText(cfg.summary)
        self.clip_view.set_max_seconds(cfg.max_seconds)
        self._update_section_label()
        self._update_cost()

    def _on_region_changed(self, start: float, duration: float) -> None:
        self._update_section_label()
        self._update_cost()

    def _update_section_label(self) -> None:
        start, dur = self.clip_view.section()
        cfg = self.current_config()
        self.train_panel.section.setText(
            f"{start:.2f} – {start + dur:.2f} s ({dur:.2f} s; {cfg.name} trains on at most "
            f"{cfg.max_seconds:g} s)")

    def start_warm_up(self) -> None:
        from songwriter_app.warmup import warm_up_engine

        self._start_call(warm_up_engine, self.device, name="WarmUp", pass_cancel=True,
                         on_result=self._on_warmed_up, on_error=self._on_warm_up_error)

    @Slot(object)
    def _on_warmed_up(self, seconds: float) -> None:
        self.warmed_up = True
        log.info("engine warm-up took %.1f s", seconds)
        if self._auto_probe:
            self.start_probe()

    @Slot(str, str, str)
    def _on_warm_up_error(self, title: str, message: str, kind: str) -> None:
        log.warning("engine warm-up failed: %s", message)
        if kind == "device":
            self.say(f"{title}: {message}")
        if self._auto_probe:
            self.start_probe()

    def start_probe(self, force: bool = False) -> None:
        if self.probe_worker is not None or self._busy_training():
            return
        key = f"probe/{self.device_name}"
        cached = "" if force else self.settings.get(key, "")
        if cached:
            try:
                self.probe_result = json.loads(cached)
                import torch

                if self.probe_result.get("torch") == torch.__version__:
                    self._update_cost()
                    return
            except ValueError:
                pass
        from songwriter_app.estimates import bench_fits, shapes_needed, stored_bench_dir

        bench_dir = stored_bench_dir()
        self._bench = bench_fits(bench_dir, self.device_name) if bench_dir else None
        if self._bench is not None and not force and set(shapes_needed()) <= set(
                self._bench["fits"]):
            self.probe_result = self._bench
            self._update_cost()
            return
        self.train_panel.cost.setText("Measuring what each preset costs on this computer "
                                      "(a few seconds)…")
        self.train_panel.measure_btn.setEnabled(False)
        self.probe_worker = self._start_call(
            run_probe, self.device, name="Probe", pass_cancel=True, on_result=self._on_probe,
            on_error=self._on_quiet_error, on_done=self._on_probe_done)

    @Slot()
    def _on_probe_done(self) -> None:
        self.probe_worker = None
        self.train_panel.measure_btn.setEnabled(True)
        if self.probe_result is None:
            self.train_panel.cost.setText("Not measured (the measurement was stopped).")

    @Slot(object)
    def _on_probe(self, result: dict[str, Any] | None) -> None:
        if result is None:
            return
        if self._bench is not None:  # stored bench figures win for the shapes they cover
            result = {**result, "fits": {**result["fits"], **self._bench["fits"]},
                      "source": "probe + " + str(self._bench.get("source", "bench"))}
        self.probe_result = result
        self.settings.set(f"probe/{self.device_name}", json.dumps(result))
        self._update_cost()

    def _update_cost(self) -> None:
        from songwriter_app.estimates import estimate_seconds, format_duration

        tp = self.train_panel
        if self.probe_result is None:
            return
        fits = self.probe_result.get("fits", {})
        _, dur = self.clip_view.section()
        dur = dur or 10.0
        for i in range(tp.preset.count()):
            name = tp.preset.itemData(i)
            cfg = get_preset(name, **self.preset_overrides.get(name, {}))
            est = estimate_seconds(cfg, dur, fits)
            tp.preset.setItemText(i, f"{name} — {format_duration(est)}")
        cfg = self.current_config()
        est = estimate_seconds(cfg, dur, fits)
        where = self.probe_result.get("device_name", self.device_name)
        source = str(self.probe_result.get("source", ""))
        how = ("from stored bench figures" if source.startswith("bench")
               else "measured here and bench figures" if "bench" in source else "measured here")
        tp.cost.setText(f"{format_duration(est)} on {where} for this "
                        f"{min(dur, cfg.max_seconds):.1f} s section ({how}; slower while "
                        "other programs run).")

    # ==== training ============================================================================

    def start_training(self) -> None:
        if self._busy_training() or self.clip is None:
            return
        cfg = self.current_config()
        start, dur = self.clip_view.section()
        clip_path = Path(self.clip["path"])
        if self.project_dir is not None and clip_path == self.project_dir / "clip.wav":
            messages.show_error(self, "The source file is missing",
                                "This project's source file is gone; open the song file again "
                                "to train a new model on it.")
            return
        project = new_project_dir(self.projects_dir, clip_path)
        self._run_training(TrainRequest(project_dir=project, clip_path=clip_path, preset=cfg,
                                        start=start, duration=dur, device=self.device))

    def resume_training(self) -> None:
        if self._busy_training() or self.project_dir is None:
            return
        self._run_training(TrainRequest(project_dir=self.project_dir, device=self.device,
                                        resume=True))

    def _run_training(self, request: TrainRequest) -> None:
        self.stop()
        self.stop_probe()
        tp = self.train_panel
        if not request.resume:
            tp.loss_plot.clear_run()
            tp.previews.clear()
            self.previews.clear()
        tp.status.setText("Preparing…")
        tp.progress.setValue(0)
        w = TrainWorker(request)
        w.run_started.connect(self._on_train_started)
        w.progressed.connect(self._on_train_progress)
        w.scale_finished.connect(self._on_scale_finished)
        w.finished.connect(self._on_train_finished)
        w.cancelled.connect(self._on_train_cancelled)
        w.errored.connect(self._on_train_error)
        w.done.connect(self._on_train_done)
        self.train_worker = w
        self._train_t0 = time.monotonic()
        self.stall.start()
        self._playhead_timer.start()
        self.jobs.start(w)
        self.tabs.setCurrentIndex(0)
        self._update_enabled()

    def cancel_training(self) -> None:
        if self.train_worker is not None:
            self.train_worker.cancel()
            self.train_panel.status.setText("Cancelling after this iteration…")

    def stop_probe(self) -> None:
        w = self.probe_worker
        if w is not None:
            with contextlib.suppress(RuntimeError):
                w.cancel()

    @Slot(object)
    def _on_train_started(self, ev: Any) -> None:
        root = Path(ev.project_dir)
        if root != self.project_dir:
            self.project_dir = root
            self.original = None
            self.models.clear()
        self.manifest = read_manifest(root)
        self.store = VariationStore(root)
        self.var_panel.list.set_records(self.store.list())
        self.settings.add_recent_project(root)
        self.train_panel.device.setText(ev.device_name)
        self.train_panel.loss_plot.mark_scales(ev.rates, ev.config.iters_per_scale)
        start = "from scale " + str(ev.first_scale + 1) if ev.first_scale else "from the start"
        self.train_panel.status.setText(f"Training {ev.config.name} on {ev.device_name} "
                                        f"({ev.n_scales} scales, {start})…")
        self.say(f"Training into {root}")

    @Slot(object)
    def _on_train_progress(self, ev: Any) -> None:
        tp = self.train_panel
        left = _fmt_time(ev.eta_seconds)
        tp.status.setText(f"Scale {ev.scale + 1} of {ev.n_scales} · {ev.rate} Hz · iteration "
                          f"{ev.iteration}/{ev.iterations} · {left} left")
        total = ev.elapsed + ev.eta_seconds if math.isfinite(ev.eta_seconds) else math.nan
        if math.isfinite(total) and total > 0:
            frac = ev.elapsed / total
        else:
            frac = (ev.scale + ev.iteration / ev.iterations) / ev.n_scales
        tp.progress.setValue(int(1000 * min(max(frac, 0.0), 1.0)))
        tp.loss_plot.add_progress(ev.scale, ev.iteration, ev.iterations, ev.losses)

    @Slot(object)
    def _on_scale_finished(self, ev: Any) -> None:
        self._add_preview(ev.scale, ev.n_scales, ev.rate, ev.preview, ev.reconstruction,
                          ev.sample_rate, ev.seconds)
        self.say(f"Scale {ev.scale + 1} of {ev.n_scales} done ({ev.rate} Hz): listen to its "
                 "preview in the list.")

    def _finish_stall_measure(self) -> float:
        self.stall.stop()
        worst = self.stall.worst_ms
        self.last_train_stall_ms = worst
        self.status_stall.setText(f"UI stall (last run): worst {worst:.0f} ms")
        log.info("training: worst event-loop stall %.1f ms, mean lateness %.1f ms over %d ticks; "
                 "stalls > %.0f ms at (s, ms): %s", worst, self.stall.mean_ms, self.stall.ticks,
                 self.stall.report_ms, [(round(t, 2), round(ms)) for t, ms in self.stall.stalls])
        return worst

    @Slot(object)
    def _on_train_finished(self, ev: Any) -> None:
        worst = self._finish_stall_measure()
        self.say(f"Training finished in {_fmt_time(time.monotonic() - self._train_t0)} "
                 f"(window stayed responsive: worst stall {worst:.0f} ms). Generate variations now.",
                 0)
        self.refresh_project()
        self.tabs.setCurrentIndex(1)

    @Slot(object)
    def _on_train_cancelled(self, ev: Any) -> None:
        self._finish_stall_measure()
        self.say(f"Training cancelled after {ev.scales_done} of {ev.n_scales} scales; the project "
                 "is kept. Press Resume to continue.", 0)
        self.refresh_project()

    @Slot(str, str, str)
    def _on_train_error(self, title: str, message: str, kind: str) -> None:
        self._finish_stall_measure()
        self.train_panel.status.setText("Training stopped: " + message)
        if self.project_dir is not None and is_project(self.project_dir):
            self.refresh_project()
        messages.show_error(self, title, message, kind)

    @Slot()
    def _on_train_done(self) -> None:
        self.train_worker = None
        self.train_panel.loss_plot.refresh()
        self._update_enabled()

    # ==== variations ==========================================================================

    def generate_variations(self) -> None:
        if self.project_dir is None or self.store is None or self.variation_worker is not None:
            return
        vp = self.var_panel
        seed, count = int(vp.seed.value()), int(vp.count.value())
        req = VariationRequest(project_dir=self.project_dir,
                               seeds=tuple(range(seed, seed + count)),
                               seconds=float(vp.length.value()),
                               from_scale=self.current_from_scale(), device=self.device)
        w = VariationWorker(req, self.store, self.models)
        w.variation_ready.connect(self._on_variation_ready)
        w.verdict_ready.connect(self._on_verdict)
        w.finished.connect(self._on_variations_finished)
        w.cancelled.connect(self._on_variations_finished)
        w.errored.connect(self._on_worker_error)
        w.done.connect(self._on_variations_done)
        self.variation_worker = w
        self._generated_this_run = 0
        self.stall.start()
        self.jobs.start(w)
        vp.seed.setValue(seed + count)
        self.say(f"Generating {count} variation(s): {vp.strength_label.text()}…", 0)
        self._update_enabled()

    def stop_generating(self) -> None:
        if self.variation_worker is not None:
            self.variation_worker.cancel()

    @Slot(object)
    def _on_variation_ready(self, data: dict[str, Any]) -> None:
        if data.get("project") != self.project_dir:
            return  # another project was opened meanwhile
        rec: VariationRecord = data["record"]
        self._cache_put(rec.id, {"id": rec.id, "audio": data["audio"],
                                 "sr": rec.sample_rate, "mel": data["mel"]})
        first = self._generated_this_run == 0
        self._generated_this_run += 1
        self.var_panel.list.add_record(rec, select=first)
        if data.get("existed"):
            self.say(f"Seed {rec.seed} with these settings is already in the list (#{rec.id}).")
        self._update_enabled()

    # ---- dragging variations into a DAW ----

    def _drag_files(self, records: list[VariationRecord]) -> list[Path]:
        """The file that stands for each dragged variation: its DAW-ready copy when made, else
        the stored file (float wav at the working rate, untrimmed), and the copy is made now for
        the next drag."""
        if self.store is None:
            return []
        paths = []
        for rec in records:
            ready = self._daw_files.get(rec.id)
            paths.append(ready if ready is not None and ready.is_file() else self.store.path(rec))
        self._prepare_daw_files(records)
        return paths

    def _prepare_daw_files(self, records: list[VariationRecord]) -> None:
        todo = [r for r in records if r.id not in self._daw_files and r.id not in self._daw_pending]
        if not todo or self.project_dir is None:
            return
        self._daw_pending.update(r.id for r in todo)
        self._start_call(prepare_daw_files, self.project_dir, todo, name="DawCopies",
                         on_result=self._on_daw_files, on_error=self._on_quiet_error)

    @Slot(object)
    def _on_daw_files(self, data: dict[str, Any]) -> None:
        if data["project"] != self.project_dir:
            return
        self._daw_pending.difference_update(data["asked"])
        self._daw_files.update(data["files"])

    @Slot(int)
    def _on_variations_finished(self, made: int) -> None:
        self.say(f"{made} new variation(s) made. Space plays, B switches to the original, "
                 "0-5 rates.")

    @Slot()
    def _on_variations_done(self) -> None:
        self.stall.stop()
        self.variation_worker = None
        self._update_enabled()

    @Slot(object)
    def _on_verdict(self, data: dict[str, Any]) -> None:
        if data.get("project") != self.project_dir:
            return
        self.var_panel.list.update_record(data["record"])
        self._refresh_metric_choices()

    def _refresh_metric_choices(self) -> None:
        vp = self.var_panel
        keys = vp.list.metric_keys()
        have = [vp.metric.itemData(i) for i in range(vp.metric.count())]
        if [k for k in have if k] == keys:
            return
        current = vp.metric.currentData()
        vp.metric.blockSignals(True)
        vp.metric.clear()
        if not keys:
            vp.metric.addItem("(no metrics yet)", None)
        for k in keys:
            vp.metric.addItem(k, k)
        preferred = [k for k in PREFERRED_METRICS if k in keys]
        idx = vp.metric.findData(current or (preferred[0] if preferred else None))
        vp.metric.setCurrentIndex(max(idx, 0))
        vp.metric.blockSignals(False)
        vp.list.set_metric(vp.metric.currentData())

    def _cache_put(self, vid: str, data: dict[str, Any]) -> None:
        self.variation_cache[vid] = data
        self.variation_cache.move_to_end(vid)
        while len(self.variation_cache) > MEL_CACHE:
            self.variation_cache.popitem(last=False)

    @Slot(object)
    def _on_variation_selected(self, rec: VariationRecord | None) -> None:
        vp = self.var_panel
        vp.rating.set_value(None if rec is None else rec.rating)
        self._update_enabled()
        if rec is None:
            vp.compare.set_variation("No variation selected", None, None)
            return
        self._prepare_daw_files([rec])
        data = self.variation_cache.get(rec.id)
        if data is None:
            assert self.store is not None
            self._start_call(analyse_variation, self.store, rec.id, name="Analyse",
                             on_result=self._on_variation_analysed,
                             on_error=self._on_worker_error)
            return
        self._show_variation(rec, data)

    @Slot(object)
    def _on_variation_analysed(self, data: dict[str, Any]) -> None:
        self._cache_put(data["id"], data)
        rec = self.var_panel.list.current_record()
        if rec is not None and rec.id == data["id"]:
            self._show_variation(rec, data)

    def _show_variation(self, rec: VariationRecord, data: dict[str, Any]) -> None:
        vp = self.var_panel
        if self.original is not None:
            vp.compare.set_variation(
                f"Original section (top of each pair) vs #{int(rec.id[1:])}: seed {rec.seed}, "
                f"{rec.strength}, {rec.seconds:.1f} s", data["audio"], data["mel"])
        if self.play_source in ("variation", "original"):
            keep = self.player.is_playing
            if self.ab_side == "variation":
                self._load_player("variation", keep_position=keep)
            if keep and not self.player.is_playing:
                self.player.play()

    def _on_star_clicked(self, stars: int) -> None:
        rec = self.var_panel.list.current_record()
        if rec is not None:
            self.rate_variation(rec.id, stars if stars > 0 else None)

    @Slot(str, int)
    def rate_variation(self, vid: str, rating: int | None) -> None:
        if self.store is None:
            return
        try:
            rec = self.store.rate(vid, rating)
        except EngineError as exc:
            messages.show_error(self, "Cannot save the rating", str(exc))
            return
        self.var_panel.list.update_record(rec)
        self.var_panel.rating.set_value(rec.rating)
        self.say(f"Rated #{int(vid[1:])}: {rec.rating if rec.rating is not None else 'cleared'}")

    def delete_selected(self) -> None:
        vp = self.var_panel
        recs = vp.list.selected_records() or (
            [vp.list.current_record()] if vp.list.current_record() else [])
        if not recs or self.store is None or self.variation_worker is not None:
            return
        text = (f"Delete variation #{int(recs[0].id[1:])} (seed {recs[0].seed})?" if len(recs) == 1
                else f"Delete {len(recs)} variations?")
        if not messages.confirm(self, "Delete", text + " The audio file is removed."):
            return
        if self.play_source == "variation":
            self.stop()
        for r in recs:
            try:
                self.store.delete(r.id)
            except EngineError as exc:
                messages.show_error(self, "Cannot delete", str(exc))
                break
            vp.list.remove_record(r.id)
            self.variation_cache.pop(r.id, None)
        self.say(f"Deleted {len(recs)} variation(s).")
        self._update_enabled()

    # ==== playback ============================================================================

    def _audio_for(self, source: str) -> tuple[np.ndarray, int] | None:
        if source == "clip" and self.clip is not None:
            return self.clip["audio"], self.clip["sr"]
        if source == "original" and self.original is not None:
            return self.original["audio"], self.original["sr"]
        if source == "variation":
            rec = self.var_panel.list.current_record()
            if rec is None:
                return None
            data = self.variation_cache.get(rec.id)
            if data is None and self.store is not None:
                audio, sr = self.store.load_audio(rec.id)
                return audio, sr
            return (data["audio"], data["sr"]) if data else None
        if source.startswith("preview:"):
            _, scale, kind = source.split(":")
            p = self.previews.get(int(scale))
            return (p[kind], p["sr"]) if p else None
        return None

    def _load_player(self, source: str, *, keep_position: bool = False) -> bool:
        got = self._audio_for(source)
        if got is None:
            return False
        audio, sr = got
        try:
            self.player.load(audio, sr, keep_position=keep_position)
        except Exception as exc:
            self._playback_failed(exc)
            return False
        self.play_source = source
        self._update_ab_button()
        return True

    def _playback_failed(self, exc: Exception) -> None:
        log.warning("playback failed: %s", exc)
        reason = f"Playback is off: the audio device failed ({exc})."
        self.player = NullPlayer(reason)
        self._update_playback_label()

    def _update_ab_button(self) -> None:
        side = "original" if self.ab_side == "original" else "variation"
        self.var_panel.ab_btn.setText(f"A/B: hearing {side}")

    def toggle_play(self) -> None:
        if self.player.is_playing:
            self.stop()
            return
        if self.tabs.currentIndex() == 1 and self.manifest is not None:
            self.play_ab()
        else:
            if self.play_source != "clip":
                self._load_player("clip")
            self.play()

    def play_ab(self) -> None:
        """Play the A/B side (variation or original) from the current position."""
        source = self.ab_side if self.var_panel.list.current_record() else "original"
        if self.play_source != source and not self._load_player(source, keep_position=True):
            return
        self.play()

    def play(self, start: float | None = None) -> None:
        if not self.player.available:
            self.say(self.player.reason)
        try:
            self.player.play(start)
        except Exception as exc:
            self._playback_failed(exc)
            return
        self.var_panel.play_btn.setText("■ Stop")
        self._playhead_timer.start()

    def stop(self) -> None:
        try:
            self.player.stop()
        except Exception as exc:
            self._playback_failed(exc)
        self.var_panel.play_btn.setText("▶ Play")

    def switch_ab(self) -> None:
        """B: switch between the original and the selected variation at the same position."""
        if self.manifest is None or self.original is None:
            return
        self.ab_side = "original" if self.ab_side == "variation" else "variation"
        if self.ab_side == "variation" and self.var_panel.list.current_record() is None:
            self.ab_side = "original"
        playing = self.player.is_playing
        loaded = self._load_player(self.ab_side, keep_position=True)
        if loaded and playing and not self.player.is_playing:
            self.player.play()
        self._update_ab_button()
        self.say(f"A/B: hearing the {self.ab_side}")

    def _set_loop(self, on: bool) -> None:
        self.player.loop = on
        self.act_loop.blockSignals(True)
        self.act_loop.setChecked(on)
        self.act_loop.blockSignals(False)
        self.var_panel.loop_btn.blockSignals(True)
        self.var_panel.loop_btn.setChecked(on)
        self.var_panel.loop_btn.blockSignals(False)
        self.say("Loop on" if on else "Loop off", 2000)

    def _toggle_loop_action(self) -> None:
        self._set_loop(not self.player.loop)

    def play_preview(self, scale: int, kind: str) -> None:
        if self._load_player(f"preview:{scale}:{kind}"):
            self.play(0.0)

    def _on_clip_clicked(self, seconds: float) -> None:
        if self.play_source != "clip":
            self._load_player("clip")
        self.player.seek(seconds)
        self.clip_view.set_playhead(self.player.position)
        if not self.player.is_playing:
            self.say(f"Play position {seconds:.2f} s (Space plays)", 2000)

    def _on_compare_clicked(self, seconds: float) -> None:
        source = self.ab_side if self.var_panel.list.current_record() else "original"
        if self.play_source != source:
            self._load_player(source)
        self.player.seek(seconds)
        self.var_panel.compare.set_playhead(self.player.position)

    def _tick(self) -> None:
        """Playhead and throttled redraws; runs while playing or training."""
        try:
            self.player.poll()
        except Exception as exc:
            self._playback_failed(exc)
        pos = self.player.position
        if pos == self._last_drawn_pos:
            pass
        elif self.play_source == "clip":
            self.clip_view.set_playhead(pos)
        elif self.play_source in ("original", "variation"):
            self.var_panel.compare.set_playhead(pos)
            if self.manifest is not None and self.clip is not None:
                self.clip_view.set_playhead(float(self.manifest.source.get("start", 0.0)) + pos)
        self._last_drawn_pos = pos
        now = time.monotonic()
        if self.train_worker is not None and now - self._last_plot_refresh >= LOSS_REFRESH_S:
            self._last_plot_refresh = now
            self.train_panel.loss_plot.refresh()
            if self.stall.running:
                self.status_stall.setText(f"UI stall: worst {self.stall.worst_ms:.0f} ms")
        if not self.player.is_playing:
            if self.var_panel.play_btn.text() != "▶ Play":
                self.var_panel.play_btn.setText("▶ Play")
            if self.train_worker is None:
                self._playhead_timer.stop()

    # ==== export ==============================================================================

    def export_dialog(self) -> None:
        if self.store is None or self.manifest is None or self.project_dir is None:
            return
        if len(self.store) == 0:
            self.say("There are no variations to export yet.")
            return
        from engine.audio_io import integrated_loudness

        m = self.manifest
        folder = Path(self.settings.get("dirs/export", "") or _default_export_dir())
        target = None
        if self.original is not None:
            target = integrated_loudness(self.original["audio"], self.original["sr"])
        dlg = ExportDialog(
            self, selected=self.var_panel.list.selected_records(),
            all_records=self.store.list(), working_rate=m.config.fs,
            original_rate=int(m.source.get("sample_rate") or m.config.fs),
            clip_name=Path(str(m.source.get("path", "clip"))).stem, preset=m.config.name,
            folder=folder, target_lufs=target, n_scales=m.scales_done,
        )
        if dlg.exec() != ExportDialog.DialogCode.Accepted or dlg.options is None:
            return
        self.start_export(dlg.records(), dlg.options)

    def start_export(self, records: list[VariationRecord], options: Any) -> bool:
        from engine.export import plan_export

        assert self.project_dir is not None
        try:
            plan = plan_export(self.project_dir, records, options)
        except EngineError as exc:
            messages.show_error(self, "Cannot export", str(exc))
            return False
        policy = "error"
        if plan.conflicts:
            answer = messages.ask_conflict(self, len(plan.conflicts), str(options.folder))
            if answer == "cancel":
                self.say("Export cancelled; nothing was replaced.")
                return False
            policy = answer
        self.settings.set("dirs/export", str(options.folder))
        w = ExportWorker(self.project_dir, plan, policy)
        w.progressed.connect(self._on_export_progress)
        w.finished.connect(self._on_export_finished)
        w.cancelled.connect(self._on_export_finished)
        w.errored.connect(self._on_worker_error)
        w.done.connect(self._on_export_done)
        self.export_worker = w
        self.jobs.start(w)
        self._update_enabled()
        return True

    @Slot(int, int, str)
    def _on_export_progress(self, done: int, total: int, name: str) -> None:
        self.say(f"Exported {done} of {total}: {name}", 0)

    @Slot(object)
    def _on_export_finished(self, results: list[Any]) -> None:
        self.last_export = results
        written = [r for r in results if r.path is not None]
        folder = written[0].path.parent if written else ""
        skipped = len(results) - len(written)
        extra = f", {skipped} skipped" if skipped else ""
        self.say(f"Exported {len(written)} file(s){extra} to {folder}", 0)

    @Slot()
    def _on_export_done(self) -> None:
        self.export_worker = None
        self._update_enabled()

    # ==== errors, drops, close =================================================================

    @Slot(str, str, str)
    def _on_worker_error(self, title: str, message: str, kind: str) -> None:
        messages.show_error(self, title, message, kind)

    @Slot(str, str, str)
    def _on_quiet_error(self, title: str, message: str, kind: str) -> None:
        self.say(f"{title}: {message}")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt override)
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt override)
        urls: list[QUrl] = [u for u in event.mimeData().urls() if u.isLocalFile()]
        if not urls:
            event.ignore()
            return
        event.acceptProposedAction()
        self.open_path(Path(urls[0].toLocalFile()))

    def _fill_recent_clips(self) -> None:
        self._fill_recent(self.recent_clips_menu, self.settings.recent_clips())

    def _fill_recent_projects(self) -> None:
        self._fill_recent(self.recent_projects_menu, self.settings.recent_projects())

    def _fill_recent(self, menu: QMenu, paths: list[str]) -> None:
        menu.clear()
        if not paths:
            a = menu.addAction("(none yet)")
            a.setEnabled(False)
        for p in paths:
            a = menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.triggered.connect(lambda _=False, path=p: self.open_path(Path(path)))

    def _about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(self, APP_TITLE,
                          "Songwriter Assistant trains a small multiscale GAN on one section of "
                          "your song and lets you audition variations of it.\n\nProjects are "
                          f"saved in {self.projects_dir}.")

    def shutdown(self, timeout_s: float = 120.0) -> bool:
        """Stop playback, cancel every job and join the threads (training leaves a resumable
        project)."""
        try:
            self.player.close()
        except Exception as exc:
            log.debug("closing the player: %s", exc)
        self._playhead_timer.stop()
        self.stall.stop()
        ok = self.jobs.close(timeout_s)
        QApplication.processEvents()  # deliver the workers' last signals (nothing new starts)
        return ok

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self._busy_training():
            self.statusBar().showMessage("Cancelling the training; the project stays resumable…")
            QApplication.processEvents()
        self.shutdown()
        self.train_worker = None
        event.accept()


def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "--:--"
    s = max(0, int(round(seconds)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _default_export_dir() -> Path:
    from platformdirs import user_music_dir

    return Path(user_music_dir()) / "Songwriter Assistant"


__all__ = ["MainWindow", "PRESETS"]
