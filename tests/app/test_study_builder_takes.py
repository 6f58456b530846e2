"""The study builder dialog with a bridge project: its variations are takes (used in context),
new material is takes (no strengths to choose), and the built study holds the stitched takes."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402


def test_builder_offers_a_bridge_projects_takes_in_context(qtbot, bridge_takes_project: Path,
                                                           tmp_path: Path) -> None:
    from songwriter_app.study.builder import StudyBuilderDialog

    dlg = StudyBuilderDialog(projects=[bridge_takes_project])
    qtbot.addWidget(dlg)
    assert dlg.table.cellWidget(0, 1).text() == "use 2 take(s)"
    strengths = dlg.table.cellWidget(0, 3)
    assert not strengths.isEnabled() and strengths.text() == "bridge takes"
    dlg.table.cellWidget(0, 2).setValue(1)  # one new take
    dlg.table.cellWidget(0, 4).setValue(40)  # its seed
    spec = dlg.spec()
    [g] = spec.projects[0].generate
    assert (g.count, g.seed, g.from_scale) == (1, 40, None)
    dlg.out.setText(str(tmp_path / "built"))
    with qtbot.waitSignal(dlg.study_built, timeout=120_000) as blocker:
        qtbot.mouseClick(dlg.build_button, Qt.MouseButton.LeftButton)
    st = blocker.args[0]
    qtbot.waitUntil(lambda: not dlg.is_building(), timeout=10_000)
    gen = [s for s in st.stimuli if s.kind == "generated"]
    assert sorted(s.truth["seed"] for s in gen) == [1, 2, 40]
    assert all(s.truth["take"]["seams_s"] == pytest.approx([1.2, 1.8]) for s in gen)
    assert "Built 4 stimuli (3 generated, 1 real)" in dlg.status.text()
