"""A stereo project in the window (issue 13): its section and its variations are stereo from
the engine to the views, the verdict names the image, export and the DAW copy keep stereo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from app_helpers import generate_and_wait, open_project_and_wait
from PySide6.QtCore import Qt

from engine.export import daw_ready_file

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stereo_master(stereo_tiny_master: Path) -> Path:
    return stereo_tiny_master


def test_a_stereo_project_generates_compares_and_exports_in_stereo(
    qtbot, window, stereo_master: Path, tmp_path: Path, fake_player
) -> None:
    import shutil

    project = tmp_path / "p"
    shutil.copytree(stereo_master, project)
    open_project_and_wait(qtbot, window, project)
    assert window.projects.original.audio.shape[0] == 2  # the section, as trained
    window.tabs.setCurrentIndex(1)
    n = window.projects.project.manifest.n_scales
    generate_and_wait(qtbot, window, count=2, seed=3, strength=n - 2)
    recs = window.projects.project.store.list()
    audio, _sr = window.projects.project.store.load_audio(recs[0].id)
    assert audio.shape[0] == 2
    qtbot.waitUntil(lambda: all(r.verdict for r in window.projects.project.store.list()),
                    timeout=60_000)
    assert all("stereo:" in r.verdict for r in window.projects.project.store.list())
    window.var_panel.list.select_id(recs[0].id)
    compare = window.var_panel.compare
    qtbot.waitUntil(lambda: compare.wave_b.lanes == 2, timeout=10_000)
    assert compare.wave_a.lanes == 2 and compare.channels.isVisibleTo(compare)
    with qtbot.waitActive(window):  # window shortcuts need an active window
        window.show()
    qtbot.keyClick(window.var_panel.list, Qt.Key.Key_Space)
    assert fake_player.loaded[-1][0].shape[0] == 2  # played in stereo
    daw = daw_ready_file(window.projects.project, recs[0])
    info = sf.info(str(daw))
    assert info.channels == 2 and info.samplerate == 44100
    data, _ = sf.read(str(daw), always_2d=True)
    assert not np.allclose(data[:, 0], data[:, 1])
