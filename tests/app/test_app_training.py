"""Training in the window: tiny run with previews; cancel and resume; errors; closing mid-run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from app_helpers import open_and_wait, train_and_wait

from engine.project.checkpoint import is_project, read_manifest

pytestmark = pytest.mark.slow


def test_train_tiny_shows_progress_losses_and_previews(qtbot, window, demo_clip: Path,
                                                       fake_player, tmp_path: Path) -> None:
    open_and_wait(qtbot, window, demo_clip)
    window.train_panel.set_preset("tiny")
    window.clip_view.set_section(1.0, 3.0)
    progressed: list = []
    window.training.progressed.connect(progressed.append)
    window.training.start_training()
    assert not window.train_panel.train_btn.isEnabled()
    assert window.train_panel.cancel_btn.isEnabled()
    assert not window.clip_view.region.movable
    qtbot.waitUntil(lambda: not window.training.busy, timeout=300_000)

    m = read_manifest(window.projects.project.root)
    assert m.complete and m.config.name == "tiny"
    assert window.projects.project.root.parent == tmp_path / "projects"
    assert window.projects.project.root.name.startswith("demo-war-of-freedom-10s-")
    assert m.source["start"] == pytest.approx(1.0) and m.source["duration"] == pytest.approx(3.0)
    # progress arrived (throttled) and drew losses
    assert progressed and progressed[-1].iteration == progressed[-1].iterations
    assert set(progressed[-1].losses) >= {"d/real", "d/fake", "rec", "gp"}
    assert window.train_panel.loss_plot.n_points >= m.n_scales
    assert window.train_panel.progress.value() == 1000
    # one preview per scale, coarse to fine, playable
    assert sorted(window.training.previews) == list(range(m.n_scales))
    rates = [window.training.previews[s].rate for s in range(m.n_scales)]
    assert rates == sorted(rates)
    assert window.train_panel.previews.topLevelItemCount() == m.n_scales
    for p in window.training.previews.values():
        assert p.sample.dtype == np.float32 and p.sample.size > 0
        assert np.all(np.isfinite(p.reconstruction))
    window.playback.play_preview(m.n_scales - 1, "reconstruction")
    audio, sr = fake_player.loaded[-1]
    assert sr == m.config.fs and audio.shape[0] == window.training.previews[
        m.n_scales - 1].reconstruction.shape[0]
    assert fake_player.is_playing
    # the variations tab is ready
    assert window.tabs.isTabEnabled(1) and window.tabs.currentIndex() == 1
    qtbot.waitUntil(lambda: window.projects.original is not None, timeout=30_000)
    assert window.var_panel.generate_btn.isEnabled()
    assert window.training.last_stall_ms is not None
    assert str(window.projects.project.root) in window.settings.recent_projects()


def test_cancel_mid_training_then_resume(qtbot, window, demo_clip: Path) -> None:
    open_and_wait(qtbot, window, demo_clip)
    window.train_panel.set_preset("tiny")
    window.training.start_training()
    finished_scales: list = []
    window.training.scale_finished.connect(lambda ev: finished_scales.append(ev.scale))
    def cancel_once(_ev) -> None:  # cancel after the first scale
        window.training.cancel_training()
        window.training.scale_finished.disconnect(cancel_once)

    window.training.scale_finished.connect(cancel_once)
    qtbot.waitUntil(lambda: not window.training.busy, timeout=300_000)
    m = read_manifest(window.projects.project.root)
    assert 1 <= m.scales_done < m.n_scales
    assert window.train_panel.resume_btn.isEnabled()
    assert "Resume" in window.train_panel.status.text()
    # a partly trained project can already make free variations
    assert window.tabs.isTabEnabled(1)
    project = window.projects.project.root
    train_and_wait(qtbot, window, resume=True)
    assert window.projects.project.root == project
    m = read_manifest(project)
    assert m.complete
    assert not window.train_panel.resume_btn.isEnabled()
    # previews of the resumed scales were added after the first run's
    assert sorted(window.training.previews) == list(range(m.n_scales))


def test_training_error_is_shown_and_app_stays_usable(qtbot, window, dialogs,
                                                      tmp_path: Path) -> None:
    # loud for 0.5 s, then silence: the chosen section (the silent part) cannot be trained on
    clip = tmp_path / "half-silent.wav"
    x = np.zeros(44100 * 6, np.float32)
    x[:22050] = 0.5 * np.sin(np.arange(22050) / 5.0)
    sf.write(str(clip), x, 44100)
    open_and_wait(qtbot, window, clip)
    window.train_panel.set_preset("tiny")
    window.clip_view.set_section(2.0, 3.0)
    window.training.start_training()
    qtbot.waitUntil(lambda: not window.training.busy, timeout=60_000)
    assert len(dialogs.errors) == 1
    title, message, kind = dialogs.errors[0]
    assert "silent" in message and kind == "engine"
    assert window.train_panel.train_btn.isEnabled()
    assert window.clip_view.region.movable
    assert not list((tmp_path / "projects").glob("*/manifest.json"))  # nothing half-made


def test_device_error_suggests_a_smaller_preset(qtbot, window, dialogs, demo_clip: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.training.loop
    from engine.device import OOM_ADVICE
    from engine.errors import DeviceError

    def oom(*_a, **_k):
        raise DeviceError(OOM_ADVICE)
        yield  # pragma: no cover

    monkeypatch.setattr(engine.training.loop, "iter_train", oom)
    open_and_wait(qtbot, window, demo_clip)
    window.training.start_training()
    qtbot.waitUntil(lambda: not window.training.busy, timeout=60_000)
    title, message, kind = dialogs.errors[0]
    assert kind == "device" and "smaller preset" in message
    assert window.train_panel.train_btn.isEnabled()


def test_closing_during_training_cancels_and_leaves_a_resumable_project(
        qtbot, window, demo_clip: Path) -> None:
    open_and_wait(qtbot, window, demo_clip)
    window.train_panel.set_preset("tiny")
    window.training.start_training()
    thread_worker = window.training.job
    qtbot.waitUntil(lambda: window.projects.project is not None and is_project(window.projects.project.root),
                    timeout=120_000)
    project = window.projects.project.root
    window.close()  # cancels and joins the training thread
    assert window.jobs.running() == []
    assert thread_worker.cancel_token.cancelled
    m = read_manifest(project)
    assert m.scales_done < m.n_scales or m.complete
    if not m.complete:
        from engine.training.loop import iter_train

        events = list(iter_train(None, project, None, resume=True, device="cpu"))
        assert type(events[-1]).__name__ == "TrainFinished"
