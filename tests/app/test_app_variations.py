"""Variations in the window: generate, A/B, loop, rate, delete, compare, export, reopen."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from app_helpers import generate_and_wait, open_project_and_wait
from PySide6.QtCore import Qt

from engine.project.variations import VariationStore
from songwriter_app.views.lists import COL_METRIC, COL_VERDICT

pytestmark = pytest.mark.slow


def test_generate_ab_loop_rate_and_same_seed(qtbot, window, tiny_project: Path,
                                             fake_player) -> None:
    open_project_and_wait(qtbot, window, tiny_project)
    vp = window.var_panel
    assert window.tabs.isTabEnabled(1)
    n = window.projects.project.manifest.n_scales
    assert vp.strength.maximum() == n - 2
    window.tabs.setCurrentIndex(1)
    generate_and_wait(qtbot, window, count=2, seed=7, strength=n - 2)
    recs = window.projects.project.store.list()
    assert [r.seed for r in recs] == [7, 8]
    assert all(r.from_scale == n - 2 and "close" in r.strength for r in recs)
    assert vp.list.topLevelItemCount() == 2
    assert vp.seed.value() == 9  # ready for new ones
    # the first new variation is selected and compared with the original
    assert vp.list.current_id() == recs[0].id
    qtbot.waitUntil(lambda: vp.compare.mel_b.image.image is not None, timeout=10_000)
    assert vp.compare.mel_a.levels == vp.compare.mel_b.levels  # same colour levels
    for p in (vp.compare.wave_b, vp.compare.mel_a, vp.compare.mel_b):
        assert p.getViewBox().linkedView(0) is vp.compare.wave_a.getViewBox()  # linked time axis

    # play the variation; B switches to the original at the same position, still playing
    with qtbot.waitActive(window):  # window shortcuts need an active window
        window.show()
    vp.list.setFocus()
    qtbot.keyClick(vp.list, Qt.Key.Key_Space)
    assert fake_player.is_playing and window.playback.source.kind == "variation"
    fake_player.seek(1.25)
    qtbot.keyClick(vp.list, Qt.Key.Key_B)
    assert window.playback.source.kind == "original" and fake_player.is_playing
    assert fake_player.position == pytest.approx(1.25, abs=1e-3)
    assert fake_player.calls[-2:] == [("load", True), ("play", None)] or \
        fake_player.calls[-1] == ("load", True)
    assert np.allclose(fake_player.loaded[-1][0], window.projects.original.audio)
    qtbot.keyClick(vp.list, Qt.Key.Key_B)
    assert window.playback.source.kind == "variation" and fake_player.position == pytest.approx(1.25, abs=1e-3)
    qtbot.keyClick(vp.list, Qt.Key.Key_L)
    assert fake_player.loop and vp.loop_btn.isChecked()
    qtbot.keyClick(vp.list, Qt.Key.Key_Space)
    assert not fake_player.is_playing
    # the keys still work while a number field has the focus, and type nothing into it
    vp.seed.setFocus()
    seed_before = vp.seed.value()
    for key in (Qt.Key.Key_Space, Qt.Key.Key_B, Qt.Key.Key_L):
        qtbot.keyClick(vp.seed, key)
    assert fake_player.is_playing and window.playback.source.kind == "original"
    assert not fake_player.loop and vp.seed.value() == seed_before
    qtbot.keyClick(vp.seed, Qt.Key.Key_Space)
    assert not fake_player.is_playing
    vp.list.setFocus()

    # arrow keys move through the list; the player follows the selection
    qtbot.keyClick(vp.list, Qt.Key.Key_Down)
    assert vp.list.current_id() == recs[1].id

    # rate with a number key and with the stars
    qtbot.keyClick(vp.list, Qt.Key.Key_4)
    assert VariationStore(tiny_project).get(recs[1].id).rating == 4
    assert "★★★★" in vp.list.currentItem().text(4)
    vp.rating.buttons[1].click()
    assert VariationStore(tiny_project).get(recs[1].id).rating == 2

    # same seed and settings: no duplicate; after a delete the same audio comes back
    first_audio, _ = window.projects.project.store.load_audio(recs[0].id)
    vp.list.select_id(recs[0].id)
    window.variations.delete_selected()
    assert [r.seed for r in window.projects.project.store.list()] == [8]
    assert not (tiny_project / "variations" / recs[0].file).exists()
    generate_and_wait(qtbot, window, count=2, seed=7, strength=n - 2)
    again = window.projects.project.store.find(recs[0].recipe)
    assert again is not None and again.id != recs[0].id
    assert np.array_equal(window.projects.project.store.load_audio(again.id)[0], first_audio)
    assert len(window.projects.project.store.list()) == 2  # seed 8 was not made twice


def test_free_variations_any_length(qtbot, window, tiny_project: Path) -> None:
    open_project_and_wait(qtbot, window, tiny_project)
    window.var_panel.length.setValue(5.0)  # longer than the 3 s section
    generate_and_wait(qtbot, window, count=1, seed=3, strength=None)
    (rec,) = window.projects.project.store.list()
    assert rec.from_scale is None and rec.strength.startswith("free")
    assert rec.seconds == pytest.approx(5.0, abs=0.01)


def test_export_and_reopen_project(qtbot, window, make_window, dialogs, tiny_project: Path,
                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    open_project_and_wait(qtbot, window, tiny_project)
    generate_and_wait(qtbot, window, count=2, seed=1, strength=0)
    recs = window.projects.project.store.list()
    window.variations.rate(recs[0].id, 5)
    out = tmp_path / "export"

    import songwriter_app.controllers.export as mw

    class AcceptingDialog(mw.ExportDialog):
        def exec(self) -> int:  # the modal dialog, answered: all, flac 24, original rate
            self.scope_all.setChecked(True)
            self.folder.setText(str(out))
            self.fmt.setCurrentIndex(self.fmt.findData("flac"))
            self.rate.setCurrentIndex(self.rate.findData("original"))
            self.original.setChecked(True)  # and the original section as a reference track
            self._accept()
            return self.result()

    monkeypatch.setattr(mw, "ExportDialog", AcceptingDialog)
    window.export.export_dialog()
    qtbot.waitUntil(lambda: not window.export.busy, timeout=60_000)
    assert not dialogs.errors
    reference = out / "demo-war-of-freedom-10s_original-section.flac"
    assert sf.info(str(reference)).samplerate == 44100
    assert json.loads(reference.with_suffix(".json").read_text())["taken_from"] == "source file"
    reference.unlink()
    reference.with_suffix(".json").unlink()
    flacs = sorted(out.glob("*.flac"))
    assert len(flacs) == 2
    for f in flacs:
        info = sf.info(str(f))
        assert info.samplerate == 44100 and info.subtype == "PCM_24"
        side = json.loads(f.with_suffix(".json").read_text())
        assert side["file"] == f.name and side["project"]["preset"] == "tiny"
        assert side["variation"]["seed"] in (1, 2)
        assert side["edges_trimmed_s"] == 0.2 and side["loudness_matched"] in (True, False)
    rated = json.loads(sorted(out.glob("*seed1.json"))[0].read_text())
    assert rated["variation"]["rating"] == 5

    # again into the same folder: asked, "keep both" writes numbered copies
    window.export.export_dialog()
    qtbot.waitUntil(lambda: not window.export.busy, timeout=60_000)
    assert dialogs.conflicts == [4]
    assert len(list(out.glob("*.flac"))) == 5  # 2 + 2 numbered copies + the reference again
    # "cancel" writes nothing
    dialogs.conflict_answer = "cancel"
    window.export.export_dialog()
    assert not window.export.busy and len(list(out.glob("*.flac"))) == 5

    # reopen in a fresh window: the same variations and ratings
    other = make_window()
    open_project_and_wait(qtbot, other, tiny_project)
    got = [(r.id, r.seed, r.rating) for r in other.var_panel.list.records()]
    assert sorted(got) == sorted((r.id, r.seed, 5 if r.id == recs[0].id else None) for r in recs)
    assert other.train_panel.preset_name() == "tiny"
    # the coarse-to-fine previews of every scale are back, playable
    n = other.projects.project.manifest.n_scales
    qtbot.waitUntil(lambda: other.train_panel.previews.topLevelItemCount() == n, timeout=10_000)
    assert sorted(other.training.previews) == list(range(n))
    from songwriter_app.state import PlaySource

    assert other.playback._audio_for(PlaySource.preview(n - 1, "reconstruction")) is not None
    # and the loss curves of the run, one stretch per scale
    from engine.project.checkpoint import load_losses

    assert other.train_panel.loss_plot.n_points == len(load_losses(tiny_project)) > 0
    xs, _ = other.train_panel.loss_plot.curves["rec"].getData()
    assert xs is not None and len(xs) == other.train_panel.loss_plot.n_points
    assert len(other.train_panel.loss_plot._scale_lines) == n
    assert other.clip_view.section() == pytest.approx(
        (other.projects.project.manifest.source["start"], other.projects.project.manifest.source["duration"]), abs=1e-3)


def test_verdicts_and_metric_sorting(qtbot, window, tiny_project: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.analysis

    def fake_verdict(clip: np.ndarray, variation: np.ndarray, sr: int):
        score = float(np.sqrt(np.mean(variation**2)))
        return f"novel: rms {score:.3f}", {"rms": score, "longest_copy_s": 0.1}

    monkeypatch.setattr(engine.analysis, "quick_verdict", fake_verdict)
    open_project_and_wait(qtbot, window, tiny_project)
    generate_and_wait(qtbot, window, count=3, seed=20, strength=0)
    vp = window.var_panel
    qtbot.waitUntil(lambda: all(r.verdict for r in vp.list.records()), timeout=30_000)
    assert all(r.verdict.startswith("novel") for r in VariationStore(tiny_project).list())
    assert vp.metric.findData("rms") >= 0
    vp.metric.setCurrentIndex(vp.metric.findData("rms"))
    vp.list.sortByColumn(COL_METRIC, Qt.SortOrder.AscendingOrder)
    shown = [float(vp.list.topLevelItem(i).text(COL_METRIC)) for i in range(3)]
    assert shown == sorted(shown)
    # the verdict's tooltip names the numbers in words with units, not code names
    tip = vp.list.topLevelItem(0).toolTip(COL_VERDICT)
    assert "Rms" in tip and "Longest copied run (s)" in tip and "longest_copy_s" not in tip
    # and so do the metric menu and the column header
    assert vp.metric.itemText(vp.metric.findData("longest_copy_s")) == "Longest copied run (s)"
    vp.metric.setCurrentIndex(vp.metric.findData("longest_copy_s"))
    assert vp.list.headerItem().text(COL_METRIC) == "Longest copied run (s)"


def test_variations_drag_out_as_daw_ready_files(qtbot, window, tiny_project: Path) -> None:
    """Dragging rows out gives file URLs: the stored file at first, then (once made in the
    background) a trimmed, loudness-matched 24-bit copy in the project's for-daw/ folder.
    Only copying is offered, so a file manager's "move" cannot take rows from the list."""
    open_project_and_wait(qtbot, window, tiny_project)
    generate_and_wait(qtbot, window, count=2, seed=3, strength=0)
    vl = window.var_panel.list
    assert vl.supportedDragActions() == Qt.DropAction.CopyAction
    recs = window.projects.project.store.list()
    items = [vl._items[r.id] for r in recs]
    window.variations.daw_files.clear()
    window._daw_pending = {r.id for r in recs}  # as if the copies were still being made
    urls = [u.toLocalFile() for u in vl.mimeData(items).urls()]
    assert urls == [str(window.projects.project.store.path(r)) for r in recs]
    window._daw_pending.clear()
    vl.mimeData(items)  # asks for the copies
    qtbot.waitUntil(lambda: len(window.variations.daw_files) == 2, timeout=20_000)
    paths = [Path(u.toLocalFile()) for u in vl.mimeData(items).urls()]
    assert [p.parent for p in paths] == [tiny_project / "for-daw"] * 2
    for p, r in zip(paths, recs, strict=True):
        info = sf.info(str(p))
        assert info.subtype == "PCM_24" and info.samplerate == 44100 and r.id in p.name
