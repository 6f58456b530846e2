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
