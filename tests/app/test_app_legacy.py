"""The window opens a project made by commit 6d00f76 (tests/fixtures/legacy_6d00f76): its
variations, ratings, previews and loss curves come back, and it still generates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from app_helpers import generate_and_wait, open_project_and_wait

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "legacy_6d00f76" / "data"

pytestmark = pytest.mark.slow


def test_a_legacy_project_opens_lists_its_variations_and_generates(
    qtbot, window, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(FIXTURE / "project", project)
    open_project_and_wait(qtbot, window, project)  # its source file is gone: the section shows
    vp = window.var_panel
    assert vp.list.topLevelItemCount() == 3
    recs = window.projects.project.store.list()
    assert [r.seed for r in recs] == [11, 12, 13] and recs[0].rating == 4
    qtbot.waitUntil(lambda: window.train_panel.previews.topLevelItemCount() == 4, timeout=30_000)
    window.tabs.setCurrentIndex(1)
    generate_and_wait(qtbot, window, count=1, seed=40, strength=None)
    assert [r.seed for r in window.projects.project.store.list()] == [11, 12, 13, 40]
