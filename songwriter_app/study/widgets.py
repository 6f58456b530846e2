"""Question widgets for the rater pages, built from the study's question data.

Each widget shows one question and emits `answered(qid, value, other)` as soon as the rater
gives or changes an answer (text: after a short pause in typing, and when focus leaves).
`set_answer` fills it without emitting.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

TEXT_DEBOUNCE_MS = 600


class QuestionWidget(QFrame):
    answered = Signal(str, object, object)  # question id, value (None = cleared), other text

    def __init__(self, question: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.question = question
        self.qid: str = question["id"]
        self.setObjectName("question")
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 6, 0, 10)
        self._layout.setSpacing(8)
        title = question["text"]
        if not question.get("required"):
            title += "  (optional)"
        self.label = QLabel(title)
        self.label.setObjectName("questionText")
        self.label.setWordWrap(True)
        self._layout.addWidget(self.label)
        self._filling = False

    def set_answer(self, value: Any, other: str | None = None) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Emit a pending (debounced) text answer now."""


class _TextEdit(QPlainTextEdit):
    focus_left = Signal()

    def focusOutEvent(self, event: Any) -> None:  # noqa: N802 (Qt name)
        super().focusOutEvent(event)
        self.focus_left.emit()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        # Tab moves on instead of typing a tab character
        if event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
            event.ignore()
            return
        super().keyPressEvent(event)


class ChoiceQuestion(QuestionWidget):
    """A row of large toggle buttons; an 'Other' option opens a free-text field."""

    def __init__(self, question: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(question, parent)
        row = QHBoxLayout()
        row.setSpacing(10)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QPushButton] = {}
        for opt in question["options"]:
            b = QPushButton(opt)
            b.setCheckable(True)
            b.setObjectName("choice")
            b.setMinimumHeight(44)
            b.setMinimumWidth(110)
            b.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
            self.group.addButton(b)
            self.buttons[opt] = b
            row.addWidget(b)
        row.addStretch(1)
        self._layout.addLayout(row)
        self.other_opt: str | None = question.get("other_option")
        self.other_edit = QLineEdit()
        self.other_edit.setPlaceholderText("Please describe")
        self.other_edit.setObjectName("otherText")
        self.other_edit.setMinimumHeight(36)
        self.other_edit.setVisible(False)
        self._layout.addWidget(self.other_edit)
        self._timer = QTimer(self, singleShot=True, interval=TEXT_DEBOUNCE_MS)
        self._timer.timeout.connect(self._emit)
        self.group.buttonClicked.connect(self._clicked)
        self.other_edit.textEdited.connect(lambda _t: self._timer.start())
        self.other_edit.editingFinished.connect(self.flush)

    def value(self) -> str | None:
        b = self.group.checkedButton()
        return None if b is None else b.text()

    def _clicked(self, _b: QPushButton) -> None:
        if self._filling:
            return
        is_other = self.value() == self.other_opt and self.other_opt is not None
        self.other_edit.setVisible(is_other)
        if is_other:
            self.other_edit.setFocus()
        self._emit()

    def _emit(self) -> None:
        self._timer.stop()
        v = self.value()
        other = self.other_edit.text() if v is not None and v == self.other_opt else None
        self.answered.emit(self.qid, v, other)

    def flush(self) -> None:
        if self._timer.isActive():
            self._emit()

    def set_answer(self, value: Any, other: str | None = None) -> None:
        self._filling = True
        try:
            self._timer.stop()
            self.group.setExclusive(False)
            for opt, b in self.buttons.items():
                b.setChecked(opt == value)
            self.group.setExclusive(True)
            is_other = value is not None and value == self.other_opt
            self.other_edit.setText(other or "")
            self.other_edit.setVisible(is_other)
        finally:
            self._filling = False

    def choose(self, option: str) -> None:
        """Click an option (for keyboard shortcuts and tests)."""
        self.buttons[option].click()


class ScaleQuestion(QuestionWidget):
    """min..max as a row of numbered toggle buttons with the end labels under them."""

    def __init__(self, question: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(question, parent)
        row = QHBoxLayout()
        row.setSpacing(6)
        self.group = QButtonGroup(self)
        self.buttons: dict[int, QPushButton] = {}
        for v in range(question["min"], question["max"] + 1):
            b = QPushButton(str(v))
            b.setCheckable(True)
            b.setObjectName("scale")
            b.setFixedSize(46, 44)
            self.group.addButton(b, v)
            self.buttons[v] = b
            row.addWidget(b)
        row.addStretch(1)
        self._layout.addLayout(row)
        ends = QHBoxLayout()
        lo = QLabel(f"{question['min']} = {question.get('min_label', '')}".rstrip(" ="))
        hi = QLabel(f"{question['max']} = {question.get('max_label', '')}".rstrip(" ="))
        for lab in (lo, hi):
            lab.setObjectName("hint")
        ends.addWidget(lo)
        ends.addStretch(1)
        ends.addWidget(hi)
        width = (46 + 6) * len(self.buttons)
        holder = QWidget()
        holder.setLayout(ends)
        holder.setFixedWidth(width)
        ends.setContentsMargins(0, 0, 0, 0)
        self._layout.addWidget(holder)
        self.group.idClicked.connect(self._clicked)

    def value(self) -> int | None:
        v = self.group.checkedId()
        return None if self.group.checkedButton() is None else v

    def _clicked(self, v: int) -> None:
        if not self._filling:
            self.answered.emit(self.qid, int(v), None)

    def set_answer(self, value: Any, other: str | None = None) -> None:
        self._filling = True
        try:
            self.group.setExclusive(False)
            for v, b in self.buttons.items():
                b.setChecked(v == value)
            self.group.setExclusive(True)
        finally:
            self._filling = False

    def choose(self, value: int) -> None:
        self.buttons[value].click()


class TextQuestion(QuestionWidget):
    """A free-text answer, saved after a short pause in typing and when focus leaves."""

    def __init__(self, question: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(question, parent)
        self.multiline = bool(question.get("multiline", False))
        self._timer = QTimer(self, singleShot=True, interval=TEXT_DEBOUNCE_MS)
        self._timer.timeout.connect(self._emit)
        if self.multiline:
            self.edit: QPlainTextEdit | QLineEdit = _TextEdit()
            self.edit.setMinimumHeight(90)
            self.edit.setMaximumHeight(140)
            self.edit.textChanged.connect(self._typed)
            self.edit.focus_left.connect(self.flush)
        else:
            self.edit = QLineEdit()
            self.edit.setMinimumHeight(36)
            self.edit.textEdited.connect(lambda _t: self._typed())
            self.edit.editingFinished.connect(self.flush)
        self.edit.setObjectName("answerText")
        self._layout.addWidget(self.edit)

    def text(self) -> str:
        e = self.edit
        return e.toPlainText() if isinstance(e, QPlainTextEdit) else e.text()

    def _typed(self) -> None:
        if not self._filling:
            self._timer.start()

    def _emit(self) -> None:
        self._timer.stop()
        t = self.text()
        self.answered.emit(self.qid, t if t.strip() else None, None)

    def flush(self) -> None:
        if self._timer.isActive():
            self._emit()

    def set_answer(self, value: Any, other: str | None = None) -> None:
        self._filling = True
        try:
            self._timer.stop()
            e = self.edit
            if isinstance(e, QPlainTextEdit):
                e.setPlainText(value or "")
            else:
                e.setText(value or "")
        finally:
            self._filling = False

    def type_text(self, text: str) -> None:
        """Replace the text as if typed and emit at once (for tests and scripted input)."""
        e = self.edit
        if isinstance(e, QPlainTextEdit):
            e.setPlainText(text)
        else:
            e.setText(text)
        self._emit()


def make_question_widget(question: dict[str, Any], parent: QWidget | None = None) -> QuestionWidget:
    kind = question["kind"]
    if kind == "choice":
        return ChoiceQuestion(question, parent)
    if kind == "scale":
        return ScaleQuestion(question, parent)
    return TextQuestion(question, parent)


def big_font(widget: QWidget, points: float, bold: bool = False) -> None:
    f = QFont(widget.font())
    f.setPointSizeF(points)
    f.setBold(bold)
    widget.setFont(f)
