"""The main window: composition only. It builds the views, menus and actions, creates the
controllers (songwriter_app.controllers) and wires them together; the behaviour lives in
the controllers, the state in songwriter_app.state, the jobs in songwriter_app.jobs."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, QUrl
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
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.audio.io import SUPPORTED_EXTENSIONS
from engine.errors import EngineError
from engine.project import Project
from songwriter_app.controllers.bridge import install_bridge
from songwriter_app.controllers.export import ExportController
from songwriter_app.controllers.playback import PlaybackController
from songwriter_app.controllers.project import ProjectController
from songwriter_app.controllers.queue import QueueController
from songwriter_app.controllers.training import TrainingController
from songwriter_app.controllers.variations import VariationsController
from songwriter_app.dialogs import messages
from songwriter_app.jobs import JobRunner
from songwriter_app.playback import Player, make_player
from songwriter_app.settings import AppSettings, default_projects_dir
from songwriter_app.state import ClipAudio
from songwriter_app.views.clip_view import ClipView
from songwriter_app.views.panels import TrainingPanel, VariationsPanel
from songwriter_app.views.queue_panel import QueuePanel

log = logging.getLogger(__name__)

APP_TITLE = "Songwriter Assistant"
AUDIO_FILTER = "Audio (" + " ".join(f"*{e}" for e in SUPPORTED_EXTENSIONS) + ")"
PLAYBACK_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_B, Qt.Key.Key_L)
TRAIN_TAB, VARIATIONS_TAB = 0, 1


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
        self.jobs = JobRunner(self)

        self._build_views()
        self.device_name = self._device_name()
        self.projects = ProjectController(self.jobs, self)
        self.training = TrainingController(
            self.train_panel, self.clip_view, self.projects, self.jobs, self.settings,
            projects_dir=self.projects_dir, device=device, device_name=self.device_name,
            parent=self)
        self.variations = VariationsController(self.var_panel, self.projects, self.jobs,
                                               device=device, parent=self)
        self.playback = PlaybackController(
            player if player is not None else make_player(), self.clip_view, self.var_panel,
            self.projects, self.variations, self.training, self)
        self.export = ExportController(self, self.projects, self.jobs, self.settings,
                                       self.var_panel.list.selected_records, self)
        self._build_queue(device)
        self.training.blocked_by = lambda: (
            "The training queue is training on this computer: stop it in the Queue panel "
            "first, or add this section to the queue." if self.queue.busy and not self.queue.cluster
            else None)
        self.bridge = install_bridge(self)  # the Bridge / Ending tab (songwriter_app.controllers.bridge)
        self._build_actions()
        self._build_menus(install_study)
        self._wire()
        self.status_device.setText(f"Device: {self.device_name}")
        self._show_playback_availability(self.playback.player.available,
                                         self.playback.player.reason)
        self._update_enabled()
        self.training.auto_probe = auto_probe
        if warm_up:
            QTimer.singleShot(0, self.training.start_warm_up)
        elif auto_probe:
            QTimer.singleShot(500, self.training.start_probe)
        QTimer.singleShot(0, self.queue.resume_if_it_was_running)

    # ==== building ==============================================================================

    def _build_views(self) -> None:
        self.clip_view = ClipView()
        self.clip_view.setObjectName("clipView")
        self.train_panel = TrainingPanel()
        self.var_panel = VariationsPanel()
        self.clip_view.use_settings(self.settings)  # each view remembers L/R or Mid/Side
        self.var_panel.compare.use_settings(self.settings)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.train_panel, "1 · Train")
        self.tabs.addTab(self.var_panel, "2 · Variations")
        self.tabs.setTabToolTip(VARIATIONS_TAB,
                                "Generate, audition, compare, rate and export variations.")
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
        for w in (self.status_stall, self.status_audio, self.status_device):
            self.statusBar().addPermanentWidget(w)

    def _build_queue(self, device: str | None) -> None:
        """The training queue: a dock with its panel (shared with `songwriter-cli queue`)."""
        from engine.queue import default_queue_path

        self.queue_panel = QueuePanel()
        self.queue = QueueController(
            self.queue_panel, self.clip_view, self.projects, self.training, self.jobs,
            self.settings, queue_path=default_queue_path(self.projects_dir),
            projects_dir=self.projects_dir, device=device, parent=self)
        self.queue_dock = QDockWidget("Training queue", self)
        self.queue_dock.setObjectName("queueDock")
        self.queue_dock.setWidget(self.queue_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.queue_dock)
        self.queue_dock.setVisible(bool(self.queue.jobs()))  # shown once there is a queue

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

        pb = self.playback
        self.act_open = act("&Open Clip…", self.open_clip_dialog, QKeySequence.StandardKey.Open)
        self.act_open_project = act("Open &Project…", self.open_project_dialog, "Ctrl+Shift+O")
        self.act_demo = act("Open the &Demo Clip", self.open_demo)
        self.act_export = act("&Export Variations…", self.export.export_dialog, "Ctrl+E")
        self.act_quit = act("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.act_play = act("Play / Stop", lambda: pb.toggle_play(self._in_variations()),
                            Qt.Key.Key_Space)
        self.act_loop = act("Loop", pb.toggle_loop, Qt.Key.Key_L, checkable=True)
        self.act_ab = act("A/B: Original ↔ Variation", pb.switch_ab, Qt.Key.Key_B)
        self.act_delete = act("Delete Variation", self.variations.delete_selected,
                              QKeySequence.StandardKey.Delete)
        self.act_delete.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.var_panel.list.addAction(self.act_delete)
        self.removeAction(self.act_delete)
        self._keys_filter = PlaybackKeysFilter(self)
        for box in self.findChildren(QAbstractSpinBox):
            box.installEventFilter(self._keys_filter)

    def _build_menus(self, install_study: bool) -> None:
        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addAction(self.act_open)
        self.recent_clips_menu = QMenu("Recent &Clips", self)
        self.recent_clips_menu.aboutToShow.connect(
            lambda: self._fill_recent(self.recent_clips_menu, self.settings.recent_clips()))
        file_menu.addMenu(self.recent_clips_menu)
        file_menu.addAction(self.act_demo)
        file_menu.addSeparator()
        file_menu.addAction(self.act_open_project)
        self.recent_projects_menu = QMenu("Recent P&rojects", self)
        self.recent_projects_menu.aboutToShow.connect(
            lambda: self._fill_recent(self.recent_projects_menu, self.settings.recent_projects()))
        file_menu.addMenu(self.recent_projects_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.act_export)
        file_menu.addSeparator()
        file_menu.addAction(self.act_quit)
        play_menu = bar.addMenu("&Playback")
        for a in (self.act_play, self.act_loop, self.act_ab):
            play_menu.addAction(a)
        queue_menu = bar.addMenu("&Queue")
        queue_menu.addAction(self.queue_dock.toggleViewAction())
        for text, slot in (("Add Current Section to Queue", self.queue.add_current_section),
                           ("Add Files to Queue…", self.queue.add_files),
                           ("Start Queue", self.queue.start), ("Stop Queue", self.queue.stop),
                           ("Run Queue on a Ray Cluster…", lambda: self.queue.ask_cluster(self))):
            queue_menu.addAction(text).triggered.connect(
                lambda _=False, f=slot: (self.queue_dock.show(), f()))
        if install_study:
            try:
                from songwriter_app.study import install_study_menu

                install_study_menu(self, bar)
            except Exception:
                log.exception("installing the Study menu failed")
        help_menu = bar.addMenu("&Help")
        about = QAction("&About", self)
        about.triggered.connect(self._about)
        help_menu.addAction(about)

    def _wire(self) -> None:
        p, t, v, pb, e = self.projects, self.training, self.variations, self.playback, self.export
        for c in (p, t, v, pb, e, self.queue):
            c.status.connect(self.say)
        for c in (p, t, v, e, self.queue):
            c.failed.connect(self._show_error)
        p.clip_opened.connect(self._on_clip_opened)
        p.project_changed.connect(self._on_project_changed)
        p.project_refreshed.connect(lambda _p: self._update_enabled())
        for sig in (t.busy_changed, v.busy_changed, e.busy_changed, v.selection_changed):
            sig.connect(lambda *_: self._update_enabled())
        t.started.connect(lambda: self.tabs.setCurrentIndex(TRAIN_TAB))
        t.ended.connect(self._on_training_ended)
        pb.playing_changed.connect(self.var_panel.set_playing)
        pb.ab_changed.connect(self.var_panel.set_ab)
        pb.loop_changed.connect(self._show_loop)
        pb.availability_changed.connect(self._show_playback_availability)
        pb.on_tick = self._on_tick
        self.var_panel.export_requested.connect(e.export_dialog)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(1280, 860)

    # ==== reactions =============================================================================

    def _on_clip_opened(self, clip: ClipAudio) -> None:
        self.clip_view.set_clip(clip.describe(), clip.audio, clip.sample_rate, clip.mel,
                                clip.frame_seconds, clip.sample_rate)
        if self.projects.project is None:
            self.clip_view.set_section(0.0, self.training.current_config().max_seconds)
            self.settings.add_recent_clip(clip.path)
            self.settings.set("dirs/clips", str(clip.path.parent))
        self.setWindowTitle(f"{clip.path.name} — {APP_TITLE}")
        self._update_enabled()

    def _on_project_changed(self, project: Project | None) -> None:
        if project is not None:
            self.settings.add_recent_project(project.root)
        self._update_enabled()

    def _on_training_ended(self, how: str) -> None:
        worst = self.training.last_stall_ms
        if worst is not None:
            self.status_stall.setText(f"UI stall (last run): worst {worst:.0f} ms")
        if how == "finished":
            self.tabs.setCurrentIndex(VARIATIONS_TAB)
        self._update_enabled()

    def _on_tick(self) -> None:
        line = self.training.refresh_plot()
        if line:
            self.status_stall.setText(line)

    def _show_loop(self, on: bool) -> None:
        self.act_loop.blockSignals(True)
        self.act_loop.setChecked(on)
        self.act_loop.blockSignals(False)
        self.var_panel.set_loop(on)

    def _show_playback_availability(self, available: bool, reason: str) -> None:
        if available:
            self.status_audio.setText("Audio: on")
            self.status_audio.setToolTip("")
        else:
            self.status_audio.setText("Audio: OFF")
            self.status_audio.setStyleSheet("color: #ff8a65;")
            self.status_audio.setToolTip(reason)
            self.say(reason, 0)

    def _update_enabled(self) -> None:
        training = self.training.busy
        project = self.projects.project
        trained = project is not None and project.trained
        has_vars = project is not None and len(project.store) > 0
        self.train_panel.set_busy(can_train=self.projects.clip is not None, training=training,
                                  can_resume=project is not None and not project.complete)
        self.clip_view.set_section_locked(training)
        self.var_panel.set_busy(can_generate=trained and not training,
                                generating=self.variations.busy,
                                can_export=has_vars and not self.export.busy)
        self.act_export.setEnabled(has_vars and not self.export.busy)
        self.tabs.setTabEnabled(VARIATIONS_TAB, trained)
        for a in (self.act_open, self.act_open_project, self.act_demo):
            a.setEnabled(not training)

    # ==== opening ===============================================================================

    def _in_variations(self) -> bool:
        return self.tabs.currentIndex() == VARIATIONS_TAB

    def open_path(self, path: Path) -> bool:
        return self.projects.open_path(Path(path))

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

    def _fill_recent(self, menu: QMenu, paths: list[str]) -> None:
        menu.clear()
        if not paths:
            a = menu.addAction("(none yet)")
            a.setEnabled(False)
        for p in paths:
            a = menu.addAction(Path(p).name)
            a.setToolTip(p)
            a.triggered.connect(lambda _=False, path=p: self.open_path(Path(path)))

    # ==== status, errors, about, close =========================================================

    def _device_name(self) -> str:
        try:
            from engine.device import device_label, resolve_device

            return device_label(resolve_device(self.device))
        except EngineError as exc:
            return f"unavailable ({exc})"

    def say(self, text: str, ms: int = 8000) -> None:
        log.info("%s", text)
        self.statusBar().showMessage(text, ms)

    def _show_error(self, title: str, message: str, kind: str) -> None:
        messages.show_error(self, title, message, kind)

    def _about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.about(self, APP_TITLE,
                          "Songwriter Assistant trains a small multiscale GAN on one section of "
                          "your song and lets you audition variations of it.\n\nProjects are "
                          f"saved in {self.projects_dir}.")

    def shutdown(self, timeout_s: float = 120.0) -> bool:
        """Stop playback, cancel every job and join the threads (training leaves a resumable
        project)."""
        self.playback.close()
        self.training.stall.stop()
        ok = self.jobs.close(timeout_s)
        QApplication.processEvents()  # deliver the workers' last signals (nothing new starts)
        return ok

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        if self.training.busy:
            self.statusBar().showMessage("Cancelling the training; the project stays resumable…")
            QApplication.processEvents()
        self.shutdown()
        event.accept()


__all__ = ["APP_TITLE", "MainWindow"]
