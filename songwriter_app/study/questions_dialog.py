"""The study's question sets, edited as JSON in a small dialog (they are data saved with the study)."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from engine.study import StudyError, default_final_questions, default_questions, validate_questions


class QuestionsDialog(QDialog):
    """Edit the question sets as JSON (they are data saved with the study)."""

    def __init__(self, questions: list[dict[str, Any]], finals: list[dict[str, Any]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Study questions")
        self.resize(760, 640)
        self.questions, self.finals = questions, finals
        lay = QVBoxLayout(self)
        help_text = QLabel(
            "Each question has an id, text and kind (choice with options, scale with min/max, "
            "or text). 'show_if' shows a question only after a given answer; 'role' tells the "
            "analysis which question is real/fake, musicality, inspiring...")
        help_text.setWordWrap(True)
        lay.addWidget(help_text)
        self.edit = QPlainTextEdit()
        self.edit.setPlainText(json.dumps({"questions": questions, "final_questions": finals},
                                          indent=2))
        lay.addWidget(self.edit, 1)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #a32020;")
        self.error.setWordWrap(True)
        lay.addWidget(self.error)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel
                                   | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self._defaults)
        lay.addWidget(buttons)

    def _defaults(self) -> None:
        self.edit.setPlainText(json.dumps({"questions": default_questions(),
                                           "final_questions": default_final_questions()},
                                          indent=2))

    def _accept(self) -> None:
        try:
            data = json.loads(self.edit.toPlainText())
            if not isinstance(data, dict):
                raise StudyError("Write an object with 'questions' and 'final_questions'.")
            self.questions = validate_questions(data.get("questions"))
            self.finals = validate_questions(data.get("final_questions", []), final=True)
        except json.JSONDecodeError as exc:
            self.error.setText(f"Not valid JSON: {exc}")
            return
        except StudyError as exc:
            self.error.setText(str(exc))
            return
        self.accept()


__all__ = ["QuestionsDialog"]
