"""App-test fixtures: a fake player, isolated settings and projects, patched dialogs, a window."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

from app_helpers import FAST_TINY, Dialogs, FakePlayer  # noqa: E402


@pytest.fixture()
def dialogs(monkeypatch: pytest.MonkeyPatch) -> Dialogs:
    from songwriter_app.dialogs import messages

    d = Dialogs()
    monkeypatch.setattr(messages, "show_error", d.show_error)
    monkeypatch.setattr(messages, "ask_conflict", d.ask_conflict)
    monkeypatch.setattr(messages, "confirm", d.confirm)
    return d


@pytest.fixture()
def fake_player() -> FakePlayer:
    return FakePlayer()


@pytest.fixture()
def make_window(qtbot, tmp_path: Path, dialogs: Dialogs, fake_player: FakePlayer,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Factory for MainWindows with a fake player, temporary settings and projects folder."""
    from songwriter_app.main_window import MainWindow
    from songwriter_app.settings import AppSettings

    monkeypatch.setenv("SONGWRITER_PROJECTS_DIR", str(tmp_path / "projects"))
    monkeypatch.setenv("SONGWRITER_TEST_PRESETS", "1")  # the tests train `tiny`
    windows: list[MainWindow] = []

    def make(player: Any = None, **kwargs: Any) -> MainWindow:
        kwargs.setdefault("auto_probe", False)
        kwargs.setdefault("warm_up", False)
        kwargs.setdefault("install_study", False)
        w = MainWindow(
            player=player if player is not None else fake_player,
            settings=AppSettings(tmp_path / "settings.ini"),
            projects_dir=tmp_path / "projects",
            device="cpu",
            **kwargs,
        )
        w.training.preset_overrides = {"tiny": dict(FAST_TINY)}
        w.train_panel.set_preset("tiny")  # the app's default is quick (CPU); tests train tiny
        qtbot.addWidget(w)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.shutdown(timeout_s=120)


@pytest.fixture()
def window(make_window: Any) -> Any:
    return make_window()
