"""Rater mode: one calm page per stimulus, then the final questions.

The rater sees only "Sample n of N", a big play/stop button (Space), the questions, Back and
Next. Every answer goes to the engine's Session the moment it is given, which rewrites the
rater's session file atomically; closing the window (or a crash) loses nothing, and opening
the study again with the same name resumes on the same page. File names are never shown.

The pages themselves are layout only (pages.py; the question widgets are in widgets.py): this
window owns the session and the player, fills the pages and moves between them.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

from engine.errors import EngineError
from engine.study import Session, Study, question_visible
from songwriter_app.playback import Player, make_player
from songwriter_app.study.pages import DonePage, FinalPage, StartPage, StimulusPage
from songwriter_app.study.style import STYLESHEET

log = logging.getLogger(__name__)

POLL_MS = 40
FULL_PLAY_SLACK_S = 0.08  # a play that stops this close to the end counts as a full play


def _fmt(seconds: float) -> str:
    s = max(0, int(seconds + 0.5))
    return f"{s // 60}:{s % 60:02d}"


def player_name(player: Any) -> str:
    """What to record in a session about the output: the player's class, or why there is none."""
    if getattr(player, "available", False):
        return type(player).__name__
    return f"none: {getattr(player, 'reason', '')}".strip()


class RaterWindow(QWidget):
    """The rating pages for one study. `player` defaults to the app's player (or a silent one)."""

    session_opened = Signal(object)  # Session
    session_finished = Signal(object)  # Session

    def __init__(self, study: Study, *, player: Any = None, rater: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.study = study
        self.player: Player = player if player is not None else make_player()
        self.session: Session | None = None
        self._code: str | None = None
        self._play_from = 0.0
        self._play_code: str | None = None
        self.setObjectName("studyRoot")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(STYLESHEET)
        self.setWindowTitle(study.title)
        self.resize(880, 860)

        self.stack = QStackedWidget()
        self.start_page = StartPage(study, self.player)
        self.page = StimulusPage(study)
        self.final_page = FinalPage(study)
        self.done_page = DonePage()
        for w in (self.start_page, self.page, self.final_page, self.done_page):
            self.stack.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.stack)

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self._poll)

        self.start_page.start.clicked.connect(self._start_clicked)
        self.page.play.clicked.connect(self.toggle_play)
        self.page.replay.clicked.connect(self.replay)
        self.page.back.clicked.connect(self.go_back)
        self.page.next.clicked.connect(self.go_next)
        self.final_page.back.clicked.connect(self.go_back)
        self.final_page.finish.clicked.connect(self.finish)
        self.done_page.close_button.clicked.connect(self.close)
        for w in self.page.widgets.values():
            w.answered.connect(self._answered)
        for w in self.final_page.widgets.values():
            w.answered.connect(self._final_answered)
        self.space = QShortcut(QKeySequence(Qt.Key.Key_Space), self.page)
        self.space.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.space.activated.connect(self.toggle_play)

        if rater:
            self.start_page.name.setText(rater)
            self.open_rater(rater)

    # --- starting
    def _start_clicked(self) -> None:
        self.open_rater(self.start_page.name.text())

    def open_rater(self, rater: str) -> bool:
        """Start or resume `rater`'s session; errors (e.g. a damaged file) are shown, not raised."""
        self.start_page.error.setText("")
        try:
            s = self.study.open_session(rater, audio_output=player_name(self.player))
        except EngineError as exc:
            self.start_page.error.setText(str(exc))
            self.stack.setCurrentWidget(self.start_page)
            return False
        self.session = s
        self.session_opened.emit(s)
        if s.completed:
            self.done_page.title.setText("Already finished")
            self.done_page.text.setText("This study was already completed under this name. "
                                        "Thank you!")
            self.stack.setCurrentWidget(self.done_page)
            return True
        self.show_position(min(s.position, s.first_unanswered()))
        return True

    # --- pages
    def show_position(self, position: int) -> None:
        s = self.session
        assert s is not None
        self._stop_playback()
        self._flush_widgets()
        try:
            s.go_to(position)
        except EngineError as exc:
            self.page.error.setText(str(exc))
            return
        if position >= s.n:
            self._code = None
            self._fill_final()
            self.stack.setCurrentWidget(self.final_page)
            return
        code = s.code_at(position)
        self._code = code
        p = self.page
        p.progress_text.setText(f"Sample {position + 1} of {s.n}")
        p.page_progress.setRange(0, s.n)
        p.page_progress.setValue(position)
        p.error.setText("")
        p.saved.setText("")
        try:
            audio, sr = self.study.load_audio(code)
            self.player.load(audio, sr)
            p.notice.setVisible(not self.player.available)
            p.notice.setText(self.player.reason)
        except EngineError as exc:  # the message may name the file: log it, never show it
            log.warning("cannot load sample %s: %s", code, exc)
            self.player.load(np.zeros(1, dtype=np.float32), 44100)
            p.notice.setVisible(True)
            p.notice.setText("This sample cannot be played; please tell the person running the "
                             "study.")
        answers = s.answers(code)
        other = s.response(code)["other"]
        for qid, w in p.widgets.items():
            w.set_answer(answers.get(qid), other.get(qid))
        self._update_play_ui()
        self._refresh()
        self.stack.setCurrentWidget(p)
        p.play.setFocus()

    def _fill_final(self) -> None:
        s = self.session
        assert s is not None
        fin = s.final_answers()
        for qid, w in self.final_page.widgets.items():
            w.set_answer(fin.get(qid))
        self.final_page.error.setText("")
        self._refresh_final()

    def _refresh(self) -> None:
        """Show/hide conditional questions, enable answering and Next as the session allows."""
        s, code, p = self.session, self._code, self.page
        if s is None or code is None:
            return
        answers = s.answers(code)
        for q in self.study.questions:
            p.widgets[q["id"]].setVisible(question_visible(q, answers))
        may = s.may_answer(code)
        p.questions_box.setEnabled(may)
        need = self.study.require_play
        if may:
            p.play_hint.setText("")
        elif need == "full":
            p.play_hint.setText("Listen to the whole sample, then answer the questions.")
        else:
            p.play_hint.setText("Play the sample, then answer the questions.")
        p.play_hint.setVisible(bool(p.play_hint.text()))
        p.back.setEnabled(s.position > 0)
        p.next.setEnabled(s.is_answered(code))
        p.next.setText("Next" if s.position + 1 < s.n else "Continue")

    def _refresh_final(self) -> None:
        s = self.session
        if s is not None:
            self.final_page.finish.setEnabled(s.final_complete())

    # --- answers
    def _answered(self, qid: str, value: Any, other: Any) -> None:
        s, code = self.session, self._code
        if s is None or code is None:
            return
        try:
            s.answer(code, qid, value, other)
        except EngineError as exc:
            self.page.error.setText(str(exc))
            self.page.widgets[qid].set_answer(s.answers(code).get(qid),
                                              s.response(code)["other"].get(qid))
        else:
            self.page.error.setText("")
            self.page.saved.setText("Saved")
            # answers hidden by this change were cleared by the session: clear their widgets
            answers = s.answers(code)
            for q in self.study.questions:
                if not question_visible(q, answers):
                    self.page.widgets[q["id"]].set_answer(None)
        self._refresh()

    def _final_answered(self, qid: str, value: Any, _other: Any) -> None:
        s = self.session
        if s is None:
            return
        try:
            s.answer_final(qid, value)
        except EngineError as exc:
            self.final_page.error.setText(str(exc))
        self._refresh_final()

    def _flush_widgets(self) -> None:
        for w in [*self.page.widgets.values(), *self.final_page.widgets.values()]:
            w.flush()

    # --- navigation
    def go_next(self) -> None:
        s = self.session
        if s is None:
            return
        self._flush_widgets()
        if self._code is not None and not s.is_answered(self._code):
            self.page.error.setText("Please answer the questions first.")
            return
        self.show_position(s.position + 1)

    def go_back(self) -> None:
        s = self.session
        if s is not None and s.position > 0:
            self.show_position(s.position - 1)

    def finish(self) -> None:
        s = self.session
        if s is None:
            return
        self._flush_widgets()
        try:
            s.finish()
        except EngineError as exc:
            self.final_page.error.setText(str(exc))
            return
        self.done_page.title.setText("Thank you!")
        self.done_page.text.setText("Your answers are saved. You can close this window.")
        self.stack.setCurrentWidget(self.done_page)
        self.session_finished.emit(s)

    # --- playback
    def toggle_play(self) -> None:
        if self.stack.currentWidget() is not self.page or self._code is None:
            return
        if self._play_code is not None:
            self._stop_playback()
        else:
            self._start_playback()

    def replay(self) -> None:
        self._stop_playback()
        self._start_playback()

    def _start_playback(self) -> None:
        s, code = self.session, self._code
        if s is None or code is None:
            return
        if not self.player.available:
            self.page.notice.setVisible(True)
            self.page.notice.setText(self.player.reason or "Playback is off.")
            return
        self.player.play(0.0)
        self._play_from = 0.0
        self._play_code = code
        s.play_started(code)
        self._update_play_ui()
        self.timer.start()

    def _stop_playback(self, *, ended: bool = False) -> None:
        code = self._play_code
        if code is None:
            return
        pos = self.player.position
        if not ended:
            self.player.stop()
        self._play_code = None
        self.timer.stop()
        finished = pos >= self.player.duration - FULL_PLAY_SLACK_S
        if self.session is not None:
            try:
                self.session.play_stopped(code, pos - self._play_from, finished=finished)
            except EngineError as exc:
                self.page.error.setText(str(exc))
        self._update_play_ui()
        self._refresh()

    def _poll(self) -> None:
        self.player.poll()
        if self._play_code is not None and not self.player.is_playing:
            self._stop_playback(ended=True)
            return
        self._update_play_ui()

    def _update_play_ui(self) -> None:
        p = self.page
        playing = self._play_code is not None
        p.play.set_playing(playing)
        dur = self.player.duration
        pos = self.player.position if playing else 0.0
        p.play_progress.setValue(int(1000 * pos / dur) if dur > 0 else 0)
        p.time_text.setText(f"{_fmt(pos)} / {_fmt(dur)}")
        p.replay.setEnabled(self.player.available)
        s, code = self.session, self._code
        if s is not None and code is not None and not playing:
            n = s.response(code)["play_count"]
            if n:
                p.time_text.setText(f"{_fmt(dur)}  ·  played {n}×")

    # --- closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop playback and write what is pending (also called by tests)."""
        try:
            self._flush_widgets()
            self._stop_playback()
            if self.session is not None:
                self.session.flush()
        except EngineError as exc:  # e.g. the disk went away: say so in the log, close anyway
            log.warning("could not save the last changes: %s", exc)
        self.player.stop()
