"""The rater's pages: the start page (name or rater code), one page per stimulus (player and
questions), the final questions and the thank-you page.

They are layout only: RaterWindow (rater.py) owns the session and the player, fills the pages and
connects their buttons.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from engine.study import Study
from songwriter_app.playback import Player
from songwriter_app.study.style import PlayButton
from songwriter_app.study.widgets import QuestionWidget, make_question_widget


def _line() -> QFrame:
    f = QFrame()
    f.setObjectName("line")
    return f


def _centered(inner: QWidget, max_width: int = 760) -> QWidget:
    """Wrap `inner` so it stays a readable column in the middle of a wide window."""
    inner.setMaximumWidth(max_width)
    outer = QWidget()
    outer.setObjectName("card")
    lay = QHBoxLayout(outer)
    lay.setContentsMargins(24, 0, 24, 0)
    lay.addStretch(1)
    lay.addWidget(inner, 100)
    lay.addStretch(1)
    return outer


class StartPage(QWidget):
    def __init__(self, study: Study, player: Player) -> None:
        super().__init__()
        col = QWidget()
        lay = QVBoxLayout(col)
        lay.setSpacing(14)
        lay.addStretch(1)
        title = QLabel(study.title)
        title.setObjectName("title")
        title.setWordWrap(True)
        lay.addWidget(title)
        info = QLabel(study.instructions)
        info.setWordWrap(True)
        lay.addWidget(info)
        n = study.settings.get("stimuli_per_rater") or len(study.stimuli)
        mean_s = sum(s.seconds for s in study.stimuli) / max(1, len(study.stimuli))
        minutes = max(1, round(n * (2 * mean_s + 40) / 60))  # two listens and the questions
        count = QLabel(f"{n} samples, about {minutes} minutes.")
        count.setObjectName("hint")
        lay.addWidget(count)
        if not player.available:
            warn = QLabel(player.reason or "Playback is off: no audio output was found.")
            warn.setObjectName("notice")
            warn.setWordWrap(True)
            lay.addWidget(warn)
        lay.addSpacing(8)
        lab = QLabel("Your name or rater code")
        lab.setObjectName("questionText")
        lay.addWidget(lab)
        row = QHBoxLayout()
        self.name = QLineEdit()
        self.name.setMinimumHeight(40)
        self.name.setMaxLength(60)
        self.name.setPlaceholderText("e.g. R07")
        row.addWidget(self.name, 1)
        self.start = QPushButton("Start")
        self.start.setObjectName("primary")
        self.start.setEnabled(False)
        row.addWidget(self.start)
        lay.addLayout(row)
        hint = QLabel("Using the same name again later continues where you stopped.")
        hint.setObjectName("hint")
        lay.addWidget(hint)
        self.error = QLabel("")
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        lay.addStretch(2)
        outer = QVBoxLayout(self)
        outer.addWidget(_centered(col, 640))
        self.name.textChanged.connect(lambda t: self.start.setEnabled(bool(t.strip())))
        self.name.returnPressed.connect(self.start.click)


def _column() -> tuple[QWidget, QVBoxLayout]:
    """The column of a sample or final page and its layout."""
    col = QWidget()
    lay = QVBoxLayout(col)
    lay.setContentsMargins(0, 18, 0, 8)
    lay.setSpacing(10)
    return col, lay


def _add_questions(questions: list[dict[str, Any]], lay: QVBoxLayout) -> dict[str, QuestionWidget]:
    """A widget per question, added to `lay`, by question id."""
    widgets: dict[str, QuestionWidget] = {}
    for q in questions:
        widgets[q["id"]] = make_question_widget(q)
        lay.addWidget(widgets[q["id"]])
    return widgets


def _error_label(lay: QVBoxLayout) -> QLabel:
    """The page's (empty) error line and the stretch below it, added to `lay`."""
    error = QLabel("")
    error.setObjectName("error")
    error.setWordWrap(True)
    lay.addWidget(error)
    lay.addStretch(1)
    return error


def _frame_page(page: QWidget, col: QWidget, forward: str) -> tuple[QPushButton, QPushButton]:
    """Put `col` centred in a scroll area above a rule and a Back ... `forward` button row."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidget(_centered(col))
    back = QPushButton("Back")
    back.setObjectName("nav")
    fwd = QPushButton(forward)
    fwd.setObjectName("primary")
    nav_inner = QWidget()
    nav_inner.setMaximumWidth(760)
    nav_inner.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    nl = QHBoxLayout(nav_inner)
    nl.setContentsMargins(0, 0, 0, 0)
    nl.addWidget(back)
    nl.addStretch(1)
    nl.addWidget(fwd)
    nav = QHBoxLayout()
    nav.setContentsMargins(24, 8, 24, 16)
    nav.addStretch(1)
    nav.addWidget(nav_inner, 100)
    nav.addStretch(1)
    outer = QVBoxLayout(page)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll, 1)
    outer.addWidget(_line())
    outer.addLayout(nav)
    return back, fwd


class StimulusPage(QWidget):
    def __init__(self, study: Study) -> None:
        super().__init__()
        col, lay = _column()
        top = QHBoxLayout()
        self.progress_text = QLabel("Sample 1 of 1")
        self.progress_text.setObjectName("progressText")
        top.addWidget(self.progress_text)
        top.addStretch(1)
        self.saved = QLabel("")
        self.saved.setObjectName("saved")
        top.addWidget(self.saved)
        lay.addLayout(top)
        self.page_progress = QProgressBar()
        self.page_progress.setObjectName("pageProgress")
        self.page_progress.setTextVisible(False)
        lay.addWidget(self.page_progress)

        # the player block
        lay.addSpacing(8)
        play_row = QHBoxLayout()
        play_row.addStretch(1)
        self.play = PlayButton(112)
        play_row.addWidget(self.play)
        play_row.addStretch(1)
        lay.addLayout(play_row)
        bar_row = QHBoxLayout()
        bar_row.addStretch(1)
        self.play_progress = QProgressBar()
        self.play_progress.setObjectName("playProgress")
        self.play_progress.setTextVisible(False)
        self.play_progress.setRange(0, 1000)
        self.play_progress.setFixedWidth(320)
        bar_row.addWidget(self.play_progress)
        bar_row.addStretch(1)
        lay.addLayout(bar_row)
        info_row = QHBoxLayout()
        info_row.addStretch(1)
        self.time_text = QLabel("0:00 / 0:00")
        self.time_text.setObjectName("timeText")
        info_row.addWidget(self.time_text)
        self.replay = QPushButton("Replay")
        self.replay.setObjectName("link")
        self.replay.setToolTip("Play again from the start")
        info_row.addWidget(self.replay)
        info_row.addStretch(1)
        lay.addLayout(info_row)
        self.play_hint = QLabel("")
        self.play_hint.setObjectName("hint")
        self.play_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.play_hint.setWordWrap(True)
        lay.addWidget(self.play_hint)
        self.notice = QLabel("")
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.notice.setVisible(False)
        lay.addWidget(self.notice)
        lay.addWidget(_line())

        # the questions
        self.questions_box = QWidget()
        qlay = QVBoxLayout(self.questions_box)
        qlay.setContentsMargins(0, 4, 0, 0)
        qlay.setSpacing(6)
        self.widgets = _add_questions(study.questions, qlay)
        lay.addWidget(self.questions_box)
        self.error = _error_label(lay)

        self.back, self.next = _frame_page(self, col, "Next")


class FinalPage(QWidget):
    def __init__(self, study: Study) -> None:
        super().__init__()
        col, lay = _column()
        title = QLabel("Last questions")
        title.setObjectName("progressText")
        lay.addWidget(title)
        hint = QLabel("A few words about the samples as a whole.")
        hint.setObjectName("hint")
        lay.addWidget(hint)
        lay.addWidget(_line())
        self.widgets = _add_questions(study.final_questions, lay)
        self.error = _error_label(lay)
        self.back, self.finish = _frame_page(self, col, "Finish")


class DonePage(QWidget):
    def __init__(self) -> None:
        super().__init__()
        col = QWidget()
        lay = QVBoxLayout(col)
        lay.addStretch(1)
        self.title = QLabel("Thank you!")
        self.title.setObjectName("title")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.title)
        self.text = QLabel("Your answers are saved. You can close this window.")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setWordWrap(True)
        lay.addWidget(self.text)
        row = QHBoxLayout()
        row.addStretch(1)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("primary")
        row.addWidget(self.close_button)
        row.addStretch(1)
        lay.addSpacing(12)
        lay.addLayout(row)
        lay.addStretch(2)
        outer = QVBoxLayout(self)
        outer.addWidget(_centered(col, 560))
