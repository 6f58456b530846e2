"""Bridge / Ending tab: pick A and B as two regions on the clip view and a gap, train a tiny
bridge model, render takes, play one in context (A -> take -> B) and alone; a reopened project
puts its sections back (exporting the take alone: test_bridge_files.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import TRAIN_TIMEOUT_MS, open_and_wait

pytestmark = pytest.mark.slow

BRIDGE_TAB = 2


def test_two_regions_train_render_and_play_in_context(qtbot, window, demo_clip: Path,
                                                      fake_player, dialogs,
                                                      tmp_path: Path) -> None:
    open_and_wait(qtbot, window, demo_clip)
    qtbot.wait(50)  # the bridge tab places B after the window has shown the clip
    bp, cv = window.bridge_panel, window.clip_view
    window.show()
    window.tabs.setCurrentIndex(BRIDGE_TAB)
    assert cv.section_b_shown  # region B appears with the bridge tab
    cv.set_section(0.5, 1.2)
    cv.set_section_b(2.5, 1.2)
    bp.gap.setValue(1.0)
    assert "A (green): 0.50–1.70 s" in bp.sections.text() and "B (blue): 2.50–3.70 s" in \
        bp.sections.text()
    assert bp.hint.text()
    # a bad request is refused with words, nothing trained
    cv.set_section_b(1.0, 1.2)  # overlaps A
    assert not window.bridge.train()
    assert "overlap" in dialogs.errors[-1][1]
    assert not window.training.busy
    cv.set_section_b(2.5, 1.2)

    assert window.bridge.train()
    qtbot.waitUntil(lambda: not window.training.busy, timeout=TRAIN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.projects.project is not None
                    and window.projects.project.complete, timeout=60_000)
    project = window.projects.project
    lay = project.manifest.layout
    assert lay.mode == "bridge" and lay.gap_span == (4800, 8800)
    window.tabs.setCurrentIndex(BRIDGE_TAB)
    assert bp.render_btn.isEnabled()
    bp.count.setValue(2)
    bp.seed.setValue(5)
    assert window.bridge.render()
    qtbot.waitUntil(lambda: not window.bridge.busy, timeout=120_000)
    assert bp.list.count() == 2 and bp.seed.value() == 7
    takes = [r for r in project.store.list() if r.is_take]
    assert [r.seed for r in takes] == [5, 6]
    qtbot.waitUntil(lambda: all(r.verdict for r in project.store.list()), timeout=60_000)
    bp.select_take(takes[0].id)
    assert window.bridge.audio is not None
    assert len(bp.seam_lines) == 2

    # in context: the stitched whole, A -> take -> B; the playhead runs through the clip view
    assert window.bridge.play(context=True)
    audio, sr = fake_player.loaded[-1]
    assert sr == 4000 and audio.shape == (4800 + 4000 + 4800,)
    assert fake_player.is_playing and window.playback.follower is not None
    fake_player.seek(0.25)
    window.playback._tick()
    assert cv.wave.playhead.value() == pytest.approx(0.5 + 0.25, abs=0.01)
    fake_player.seek(2.3)  # in B: 2.3 - 2.2 s into B
    window.playback._tick()
    assert cv.wave.playhead.value() == pytest.approx(2.5 + 0.1, abs=0.01)
    assert bp.wave.playhead.value() == pytest.approx(2.3, abs=0.01)
    # alone: just the gap
    assert window.bridge.play(context=False)
    alone, _ = fake_player.loaded[-1]
    assert alone.shape == (4000,) and np.array_equal(alone, audio[4800:8800])

    # A/B between takes: the take selected before, at the same place, still playing
    assert window.bridge.play(context=True)
    bp.select_take(takes[1].id)
    assert window.bridge.play(context=True)
    fake_player.seek(3.0)
    assert window.bridge.switch_take()
    assert window.bridge.audio[2].id == takes[0].id and bp.current_take_id() == takes[0].id
    assert fake_player.is_playing and fake_player.position == pytest.approx(3.0, abs=1e-3)
    assert np.array_equal(fake_player.loaded[-1][0], audio)

    # another gap from the same model, no training: B moves with the gap, and the spin box
    # keeps the new gap after the list refreshes
    bp.gap.setValue(2.0)
    assert "trained with a 1 s gap" in bp.state.text()
    bp.count.setValue(1)
    assert window.bridge.render()
    qtbot.waitUntil(lambda: not window.bridge.busy, timeout=120_000)
    longer = [r for r in project.store.list() if r.is_take and r.recipe.seconds == 2.0]
    assert len(longer) == 1 and longer[0].seams["seams"] == [4800, 12800]
    assert bp.gap.value() == 2.0 and bp.list.count() == 3
    bp.select_take(longer[0].id)
    assert window.bridge.play(context=True)
    assert fake_player.loaded[-1][0].shape == (4800 + 8000 + 4800,)
    fake_player.seek(3.3)  # 0.1 s into B, which now starts 3.2 s into the stitched take
    window.playback._tick()
    assert cv.wave.playhead.value() == pytest.approx(2.5 + 0.1, abs=0.01)
    bp.gap.setValue(1.0)

    # several sections (variation mode): A and B joined, no gap
    bp.set_mode("variation")
    req = window.bridge.layout_request()
    assert req.mode == "variation" and req.gap == 0.0 and len(req.sections) == 2
    bp.set_mode("bridge")

    # the take alone goes through the export dialog and engine.export (test_bridge_files.py)
    assert not hasattr(window.bridge, "save_take")
