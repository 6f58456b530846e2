"""Listening-study mode of the app: build a study, rate it blind, look at the results.

`install_study_menu(main_window, menu_bar)` adds a "Study" menu with New Study..., Take Study
(rater mode)... and Study Results...; the main window calls it inside try/except ImportError.
The logic lives in engine.study; this package holds only the windows.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QMenuBar, QMessageBox, QWidget

from engine.errors import EngineError
from engine.study import Study

log = logging.getLogger(__name__)

__all__ = ["StudyMenu", "install_study_menu", "open_rater_window", "open_results_window"]


def _known_projects(main_window: Any) -> list[Path]:
    """Project folders the main window knows about, if it says (optional; never required)."""
    out: list[Path] = []
    for name in ("current_project_dir", "project_dir"):
        try:
            v = getattr(main_window, name, None)
            v = v() if callable(v) else v
        except Exception:  # whatever the main window does, the study menu still works
            v = None
        if v:
            p = Path(v)
            if (p / "manifest.json").is_file():
                out.append(p)
    return out


def open_rater_window(study: Study, *, player: Any = None, rater: str | None = None,
                      parent: QWidget | None = None) -> QWidget:
    from songwriter_app.study.rater import RaterWindow

    w = RaterWindow(study, player=player, rater=rater, parent=None)
    w.show()
    return w


def open_results_window(study: Study, parent: QWidget | None = None) -> QWidget:
    from songwriter_app.study.results import ResultsWindow

    w = ResultsWindow(study)
    w.show()
    return w


class StudyMenu(QObject):
    """Owns the Study menu's actions and keeps the windows it opens alive."""

    def __init__(self, main_window: QWidget | None, menu: QMenu) -> None:
        super().__init__(menu)
        self.main_window = main_window
        self.menu = menu
        self.windows: list[QWidget] = []
        self.new_action = QAction("New Study...", menu)
        self.take_action = QAction("Take Study (rater mode)...", menu)
        self.results_action = QAction("Study Results...", menu)
        for a in (self.new_action, self.take_action, self.results_action):
            menu.addAction(a)
        self.new_action.triggered.connect(self.new_study)
        self.take_action.triggered.connect(lambda: self.take_study())
        self.results_action.triggered.connect(lambda: self.show_results())

    def _keep(self, w: QWidget) -> QWidget:
        self.windows = [x for x in self.windows if x.isVisible()]
        self.windows.append(w)
        return w

    def _choose_study(self, title: str) -> Study | None:
        folder = QFileDialog.getExistingDirectory(self.main_window, title)
        if not folder:
            return None
        try:
            return Study.load(folder)
        except EngineError as exc:
            QMessageBox.warning(self.main_window, "Cannot open the study", str(exc))
            return None

    def new_study(self) -> QWidget:
        from songwriter_app.study.builder import StudyBuilderDialog

        dlg = StudyBuilderDialog(self.main_window, projects=_known_projects(self.main_window))
        dlg.take_requested.connect(lambda st: self.take_study(st))
        dlg.results_requested.connect(lambda st: self.show_results(st))
        dlg.setModal(False)
        dlg.show()
        return self._keep(dlg)

    def take_study(self, study: Study | None = None) -> QWidget | None:
        study = study or self._choose_study("Open a study folder to rate")
        if study is None:
            return None
        return self._keep(open_rater_window(study))

    def show_results(self, study: Study | None = None) -> QWidget | None:
        study = study or self._choose_study("Open a study folder")
        if study is None:
            return None
        return self._keep(open_results_window(study))


def install_study_menu(main_window: QWidget | None, menu_bar: QMenuBar) -> StudyMenu:
    """Add the Study menu to `menu_bar`; returns the controller (also kept by the menu)."""
    menu = menu_bar.addMenu("&Study")
    return StudyMenu(main_window, menu)  # parented to the menu, which keeps it alive
