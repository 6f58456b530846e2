"""Bridge tab, beyond one file: export a take alone through the export dialog (engine.export),
section B from a second audio file (chosen, checked off the GUI thread, refused with words,
remembered by the project), and a bridge queued for later training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
from app_helpers import open_project_and_wait

BRIDGE_TAB = 2


def _accepting_dialog(monkeypatch: pytest.MonkeyPatch, out: Path, **choices: str) -> list:
    """Patch the export dialog: answered with `out` and the given format / bits / sidecar."""
    import songwriter_app.controllers.export as ec

    seen: list = []

    class Accepting(ec.ExportDialog):
        def exec(self) -> int:
            seen.append(self)
            self.folder.setText(str(out))
            if "fmt" in choices:
                self.fmt.setCurrentIndex(self.fmt.findData(choices["fmt"]))
            if "bits" in choices:
                self.bits.setCurrentIndex(self.bits.findData(choices["bits"]))
            if "sidecar" in choices:
                self.sidecar.setChecked(choices["sidecar"] == "yes")
            self._accept()
            return self.result()

    monkeypatch.setattr(ec, "ExportDialog", Accepting)
    return seen


def test_export_take_alone_goes_through_the_export_dialog(
        qtbot, window, dialogs, bridge_takes_project: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    open_project_and_wait(qtbot, window, bridge_takes_project)
    window.show()
    window.tabs.setCurrentIndex(BRIDGE_TAB)
    bp = window.bridge_panel
    assert bp.list.count() == 2
    takes = [r for r in window.projects.project.store.list() if r.is_take]
    bp.select_take(takes[1].id)
    out = tmp_path / "export"
    seen = _accepting_dialog(monkeypatch, out, fmt="flac", bits="16")
    assert bp.save_take_btn.isEnabled()
    bp.save_take_btn.click()
    qtbot.waitUntil(lambda: not window.bridge.export.busy and bool(list(out.glob("*.flac"))),
                    timeout=60_000)
    assert not dialogs.errors
    dlg = seen[0]
    assert dlg.windowTitle() == "Export the take alone" and not dlg.trim.isEnabled()
    assert [r.id for r in dlg.selected] == [takes[1].id]
    [f] = out.glob("*.flac")
    assert f.name.endswith("_take-alone.flac")
    info = sf.info(str(f))
    assert info.subtype == "PCM_16" and info.frames == 2400  # the 0.6 s gap at 4 kHz
    side = json.loads(f.with_suffix(".json").read_text())
    assert side["what"] == "take alone" and side["variation"]["seed"] == takes[1].seed
    assert side["export_options"]["part"] == "take"

    # the same dialog choices: no sidecar this time
    out2 = tmp_path / "export2"
    _accepting_dialog(monkeypatch, out2, sidecar="no")
    bp.save_take_btn.click()
    qtbot.waitUntil(lambda: not window.bridge.export.busy and bool(list(out2.glob("*.wav"))),
                    timeout=60_000)
    assert [p.suffix for p in out2.iterdir()] == [".wav"]


def test_section_b_from_a_second_file_trains_queues_and_comes_back(
        qtbot, window, make_window, dialogs, demo_clip: Path, second_clip: Path,
        tmp_path: Path) -> None:
    from app_helpers import TRAIN_TIMEOUT_MS, open_and_wait

    open_and_wait(qtbot, window, demo_clip)
    qtbot.wait(50)
    bp, cv, bridge = window.bridge_panel, window.clip_view, window.bridge
    window.show()
    window.tabs.setCurrentIndex(BRIDGE_TAB)
    assert cv.section_b_shown and not bp.b_start.isEnabled()
    cv.set_section(0.5, 1.2)
    bp.gap.setValue(1.0)
    before = bp.sections.text()

    # an unreadable file: an error in words, nothing changed
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF0000WAVEjunk" * 8)
    assert bridge.choose_b_file(broken)
    qtbot.waitUntil(lambda: not bridge._probe.busy, timeout=30_000)
    assert dialogs.errors[-1][0] == "Cannot use this file for section B"
    assert "broken.wav" in dialogs.errors[-1][1]
    assert bridge.b_path is None and bp.sections.text() == before and cv.section_b_shown

    # the second recording: read off the GUI thread, then B's file, start and length
    assert bridge.choose_b_file(second_clip)
    assert bridge.b_path is None  # not read yet: the GUI thread did not wait for it
    qtbot.waitUntil(lambda: bridge.b_info is not None, timeout=30_000)
    duration = sf.info(str(second_clip)).duration
    assert second_clip.name in bp.b_source.text() and f"{duration:.2f} s long" in \
        bp.b_source.text()
    assert not cv.section_b_shown and bp.b_start.isEnabled() and bp.b_clip_btn.isEnabled()
    assert bp.b_start.maximum() == pytest.approx(duration - 0.5, abs=0.01)
    assert bp.b_range() == (0.0, 1.2)  # as long as A to begin with

    # a section past the end of B's file: said beside it, refused by Train and Add to Queue
    bp.b_start.setValue(duration - 0.6)
    bp.b_length.setValue(1.2)
    assert "reaches past the end of " + second_clip.name in bp.sections.text()
    n_errors = len(dialogs.errors)
    assert not bridge.train() and not bridge.add_to_queue()
    assert len(dialogs.errors) == n_errors + 2 and "reaches past the end" in dialogs.errors[-1][1]
    assert not window.training.busy and window.queue.jobs() == []

    bp.b_start.setValue(2.5)
    assert bp.sections.text().endswith(f"B: {second_clip.name} 2.50–3.70 s   gap: 1 s between "
                                       "A and B")
    # Add to Queue: a bridge job whose B is the second file
    assert bp.queue_btn.isEnabled()
    bp.queue_btn.click()
    [job] = window.queue.jobs()
    assert job.layout["mode"] == "bridge" and job.layout["gap"] == 1.0
    assert [(Path(s["path"]).name, s["start"]) for s in job.layout["sections"]] == [
        (demo_clip.name, 0.5), (second_clip.name, 2.5)]
    assert job.preset == "tiny" and job.label.startswith("bridge: ")

    assert bridge.train()
    qtbot.waitUntil(lambda: not window.training.busy, timeout=TRAIN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.projects.project is not None
                    and window.projects.project.complete, timeout=60_000)
    project = window.projects.project
    lay = project.manifest.layout
    assert lay.section_b.path == str(second_clip.resolve())
    assert (lay.section_b.start, lay.gap_span) == (2.5, (4800, 8800))

    # reopened in a new window: B comes back as the second file, its start and length
    w2 = make_window()
    open_project_and_wait(qtbot, w2, project.root)
    w2.show()
    w2.tabs.setCurrentIndex(BRIDGE_TAB)
    qtbot.waitUntil(lambda: w2.bridge.b_info is not None, timeout=30_000)
    assert w2.bridge.b_path == second_clip.resolve()
    assert w2.bridge_panel.b_range() == pytest.approx((2.5, 1.2))
    assert second_clip.name in w2.bridge_panel.b_source.text()
    assert not w2.clip_view.section_b_shown
    req = w2.bridge.layout_request()
    assert req.sections[1].path == str(second_clip.resolve())
    # and back to the clip's blue region
    w2.bridge_panel.b_clip_btn.click()
    assert w2.bridge.b_path is None and w2.clip_view.section_b_shown
    w2.clip_view.set_section_b(4.0, 1.2)
    assert w2.bridge.layout_request().sections[1].path == str(project.section.path)


def test_a_reopened_project_whose_b_file_is_gone_says_so_beside_it(
        qtbot, window, dialogs, bridge_takes_project: Path, second_clip: Path,
        tmp_path: Path) -> None:
    import shutil

    gone = tmp_path / "moved-away.wav"
    shutil.copy(second_clip, gone)
    manifest = bridge_takes_project / "manifest.json"
    data = json.loads(manifest.read_text())
    data["layout"]["sections"][1]["path"] = str(gone)
    manifest.write_text(json.dumps(data))
    gone.unlink()
    open_project_and_wait(qtbot, window, bridge_takes_project)
    window.show()
    window.tabs.setCurrentIndex(BRIDGE_TAB)
    bp, bridge = window.bridge_panel, window.bridge
    qtbot.waitUntil(lambda: "cannot be read now" in bp.b_source.text(), timeout=30_000)
    assert "moved-away.wav" in bp.b_source.text() and bp.b_range() == pytest.approx((2.5, 1.2))
    assert bridge.b_path == gone and bridge.b_info is None
    assert not dialogs.errors  # no dialog for opening a project; the line beside B says it
    assert bp.list.count() == 2  # its takes are there to play and export
