"""Helpers for the app tests (imported by conftest and the tests): fakes and waits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from songwriter_app.playback import _BasePlayer

TRAIN_TIMEOUT_MS = 300_000  # a tiny run takes seconds alone, longer on a busy 2-core machine
FAST_TINY = {"iters_per_scale": 2, "progress_every": 1}


class FakePlayer(_BasePlayer):
    """Records what it was asked to do; `advance()` moves the position like playback would."""

    available = True
    reason = ""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []
        self.loaded: list[tuple[np.ndarray, int]] = []

    def load(self, audio: np.ndarray, sample_rate: int, *, keep_position: bool = False) -> None:
        self.calls.append(("load", keep_position))
        self.loaded.append((np.asarray(audio), sample_rate))
        super().load(audio, sample_rate, keep_position=keep_position)

    def play(self, start: float | None = None) -> None:
        self.calls.append(("play", start))
        if start is not None:
            self.seek(start)
        self._playing = True

    def stop(self) -> None:
        self.calls.append(("stop", None))
        self._playing = False

    def advance(self, seconds: float) -> None:
        if self._playing:
            self._index = min(self._index + int(seconds * self._sr), self._buf.shape[0] - 1)


class Dialogs:
    """Stands in for songwriter_app.dialogs.messages: records, answers as told."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str, str]] = []
        self.conflict_answer = "keep-both"
        self.conflicts: list[int] = []
        self.confirm_answer = True

    def show_error(self, _parent: Any, title: str, message: str, kind: str = "engine") -> None:
        self.errors.append((title, message, kind))

    def ask_conflict(self, _parent: Any, count: int, _folder: str) -> str:
        self.conflicts.append(count)
        return self.conflict_answer

    def confirm(self, _parent: Any, _title: str, _text: str) -> bool:
        return self.confirm_answer


def open_and_wait(qtbot, window: Any, path: Path) -> None:
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.projects.clip is not None and not window.projects.loading,
                    timeout=60_000)


def train_and_wait(qtbot, window: Any, *, resume: bool = False) -> None:
    if resume:
        window.training.resume_training()
    else:
        window.training.start_training()
    assert window.training.busy
    qtbot.waitUntil(lambda: not window.training.busy, timeout=TRAIN_TIMEOUT_MS)


def open_project_and_wait(qtbot, window: Any, project: Path) -> None:
    assert window.open_path(project)
    qtbot.waitUntil(lambda: window.projects.original is not None and window.projects.clip is not None
                    and not window.projects.loading, timeout=60_000)


def generate_and_wait(qtbot, window: Any, *, count: int, seed: int, strength: int | None) -> None:
    vp = window.var_panel
    vp.count.setValue(count)
    vp.seed.setValue(seed)
    if strength is None:
        vp.free.setChecked(True)
    else:
        vp.free.setChecked(False)
        vp.strength.setValue(strength)
    window.variations.generate()
    assert window.variations.busy
    qtbot.waitUntil(lambda: not window.variations.busy, timeout=120_000)
