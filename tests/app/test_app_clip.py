"""Opening clips: file, drop, project folder; bad input refused with the state kept; the section."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from app_helpers import open_and_wait
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent


def test_open_clip_shows_waveform_mel_and_section(qtbot, window, demo_clip: Path) -> None:
    open_and_wait(qtbot, window, demo_clip)
    cv = window.clip_view
    assert cv.duration == pytest.approx(10.0, abs=0.01)
    x, y = cv.wave.curve.getData()
    assert x is not None and len(x) > 1000 and np.max(np.abs(y)) > 0.1
    img = cv.mel.image.image
    assert img is not None and img.ndim == 2 and img.shape[0] == 80
    # tiny trains on at most 3 s: the section starts as 0-3 s and is held there
    assert cv.section() == pytest.approx((0.0, 3.0))
    cv.set_section(2.0, 9.0)
    assert cv.section() == pytest.approx((2.0, 3.0))
    assert "2.00 – 5.00 s" in window.train_panel.section.text()
    # dragging an edge past the maximum: the edge stops there
    cv.region.setRegion((2.0, 7.0))
    assert cv.section() == pytest.approx((2.0, 3.0))
    cv.region.setRegion((0.5, 5.0))
    assert cv.section() == pytest.approx((2.0, 3.0))
    cv.region.setRegion((1.0, 4.0))  # moving the whole section is fine
    assert cv.section() == pytest.approx((1.0, 3.0))
    # a bigger preset allows a longer section
    window.train_panel.set_preset("quick")
    cv.set_section(0.0, 9.0)
    assert cv.section() == pytest.approx((0.0, 9.0))
    assert window.train_panel.train_btn.isEnabled()
    assert window.settings.recent_clips()[0] == str(demo_clip.resolve())


def test_click_sets_play_position(qtbot, window, demo_clip: Path, fake_player) -> None:
    open_and_wait(qtbot, window, demo_clip)
    window.clip_view.position_clicked.emit(4.5)
    assert fake_player.position == pytest.approx(4.5, abs=1e-3)
    assert window.clip_view.wave.playhead.value() == pytest.approx(4.5, abs=1e-3)
    window.act_play.trigger()
    assert fake_player.is_playing and ("play", None) in fake_player.calls
    window.act_play.trigger()
    assert not fake_player.is_playing


@pytest.mark.parametrize("name,content", [
    ("broken.wav", b"RIFF....WAVEthis is not audio"),
    ("notes.txt", b"hello"),
    ("empty.flac", b""),
])
def test_bad_file_refused_and_state_kept(qtbot, window, dialogs, demo_clip: Path,
                                         tmp_path: Path, name: str, content: bytes) -> None:
    open_and_wait(qtbot, window, demo_clip)
    bad = tmp_path / name
    bad.write_bytes(content)
    window.open_path(bad)
    qtbot.waitUntil(lambda: len(dialogs.errors) == 1 and not window.projects.loading,
                    timeout=30_000)
    title, message, _ = dialogs.errors[0]
    assert name in message
    assert Path(window.projects.clip.path) == demo_clip  # the open clip stays
    assert window.clip_view.duration == pytest.approx(10.0, abs=0.01)


def test_silent_file_refused(qtbot, window, dialogs, tmp_path: Path) -> None:
    silent = tmp_path / "silence.wav"
    sf.write(str(silent), np.zeros(44100, np.float32), 44100)
    window.open_path(silent)
    qtbot.waitUntil(lambda: len(dialogs.errors) == 1, timeout=30_000)
    assert "silent" in dialogs.errors[0][1]
    assert window.projects.clip is None and not window.train_panel.train_btn.isEnabled()


def test_folder_that_is_not_a_project_refused(window, dialogs, tmp_path: Path) -> None:
    assert not window.open_path(tmp_path)
    assert "not a Songwriter Assistant project" in dialogs.errors[0][1]


def _drop(window, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_drop_a_clip_and_a_bad_file(qtbot, window, dialogs, second_clip: Path,
                                    tmp_path: Path) -> None:
    _drop(window, second_clip)
    qtbot.waitUntil(lambda: window.projects.clip is not None, timeout=30_000)
    assert Path(window.projects.clip.path) == second_clip
    bad = tmp_path / "cover.png"
    bad.write_bytes(b"\x89PNG")
    _drop(window, bad)
    assert dialogs.errors and "not a supported audio file" in dialogs.errors[0][1]
    assert Path(window.projects.clip.path) == second_clip


def test_cli_arguments() -> None:
    from songwriter_app.__main__ import parse_args

    args = parse_args(["song.wav", "--device", "cpu", "--no-probe"])
    assert args.path == "song.wav" and args.device == "cpu" and args.no_probe
    assert parse_args([]).path is None


def _run_main(qtbot, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argv: list[str]):
    """main() with QApplication.exec replaced: wait for the clip, then close the window."""
    from PySide6.QtWidgets import QApplication

    import songwriter_app.__main__ as entry
    from songwriter_app.main_window import MainWindow

    monkeypatch.setenv("SONGWRITER_SETTINGS", str(tmp_path / "settings.ini"))
    monkeypatch.setenv("SONGWRITER_PROJECTS_DIR", str(tmp_path / "projects"))
    monkeypatch.setenv("SONGWRITER_NO_AUDIO", "1")
    monkeypatch.setattr(entry, "setup_logging", lambda verbose=False: None)
    seen = {}

    def fake_exec(_self=None) -> int:
        (win,) = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow)
                  and w.isVisible()]
        qtbot.waitUntil(lambda: win.projects.clip is not None and not win.projects.loading,
                        timeout=60_000)
        seen["clip"] = Path(win.projects.clip.path)
        seen["project"] = win.projects.project.root if win.projects.project else None
        win.close()
        return 0

    monkeypatch.setattr(QApplication, "exec", fake_exec)
    old_hook = __import__("sys").excepthook
    try:
        assert entry.main(argv) == 0
    finally:
        __import__("sys").excepthook = old_hook
    return seen


def test_main_opens_the_demo_without_arguments(qtbot, monkeypatch, tmp_path, demo_clip) -> None:
    seen = _run_main(qtbot, monkeypatch, tmp_path, ["--no-probe", "--no-warm-up"])
    assert seen["clip"] == demo_clip and seen["project"] is None


def test_main_opens_a_project_folder(qtbot, monkeypatch, tmp_path, tiny_project) -> None:
    seen = _run_main(qtbot, monkeypatch, tmp_path,
                     [str(tiny_project), "--no-probe", "--no-warm-up"])
    assert seen["project"] == tiny_project


def test_main_falls_back_to_the_demo_for_a_bad_path(qtbot, monkeypatch, tmp_path, demo_clip,
                                                    dialogs) -> None:
    seen = _run_main(qtbot, monkeypatch, tmp_path,
                     [str(tmp_path / "missing.wav"), "--no-probe", "--no-warm-up"])
    assert seen["clip"] == demo_clip
    assert dialogs.errors and "does not exist" in dialogs.errors[0][1]


def test_excepthook_shows_a_dialog(monkeypatch: pytest.MonkeyPatch, qapp) -> None:
    import sys

    from PySide6.QtWidgets import QMessageBox

    import songwriter_app.__main__ as entry

    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: shown.append(self.text()) or 0)
    old = sys.excepthook
    try:
        entry.install_excepthook(None)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = old
    assert shown and "RuntimeError: boom" in shown[0]
