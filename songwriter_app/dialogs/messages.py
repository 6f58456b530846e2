"""Message boxes in one place, so tests can patch them (and nothing else blocks)."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

OOM_HINT = ("\n\nTip: choose a smaller preset (tiny or quick instead of standard or hifi) or a "
            "shorter section, then press Resume.")


def show_error(parent: QWidget | None, title: str, message: str, kind: str = "engine") -> None:
    """A clear, non-technical error dialog; 'device' errors get the smaller-preset advice."""
    text = message
    if kind == "device" and "smaller preset" not in message:
        text += OOM_HINT
    box = QMessageBox(QMessageBox.Icon.Critical if kind == "bug" else QMessageBox.Icon.Warning,
                      title, text, QMessageBox.StandardButton.Ok, parent)
    box.exec()


def ask_conflict(parent: QWidget | None, count: int, folder: str) -> str:
    """'overwrite', 'keep-both' or 'cancel' for files that already exist."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Files already exist")
    box.setText(f"{count} file(s) already exist in {folder}.")
    box.setInformativeText("Replace them, keep both (new files get a number), or cancel?")
    replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Keep both", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep)
    box.exec()
    clicked = box.clickedButton()
    if clicked is replace:
        return "overwrite"
    if clicked is keep:
        return "keep-both"
    return "cancel"


def confirm(parent: QWidget | None, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
