"""The Queue panel: add the current section and files, run the queue in the background to
done, open a finished project; close the window mid-queue and a reopened window continues."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import TRAIN_TIMEOUT_MS, open_and_wait

from engine.project.checkpoint import read_manifest
from engine.queue import DONE, RUNNING


def _states(window) -> list[str]:
    return [j.state for j in window.queue.jobs()]


def test_queue_panel_adds_the_section_runs_it_to_done_and_opens_it(
        qtbot, window, demo_clip: Path, tmp_path: Path) -> None:
    open_and_wait(qtbot, window, demo_clip)
    window.clip_view.set_section(1.0, 2.0)
    panel = window.queue_panel
    assert panel.add_section_btn.isEnabled()
    panel.add_section_btn.click()
    job = window.queue.jobs()[0]
    assert (job.preset, job.start, job.duration) == ("tiny", 1.0, 2.0)
    assert job.overrides == window.training.preset_overrides["tiny"]
    assert Path(job.project).parent == tmp_path / "projects"
    assert [r.state for r in panel.rows()] == ["queued"]

    panel.start_btn.click()
    assert window.queue.busy and panel.stop_btn.isEnabled() and not panel.start_btn.isEnabled()
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=TRAIN_TIMEOUT_MS)
    assert _states(window) == [DONE]
    window.queue.refresh()
    assert panel.rows()[0].state == "done" and panel.rows()[0].progress.endswith("scales")
    assert read_manifest(job.project).complete
    assert str(Path(job.project).resolve()) in window.settings.recent_projects()

    panel.select_job(job.id)
    assert panel.open_btn.isEnabled()
    panel.open_btn.click()
    assert window.projects.project is not None and window.projects.project.root == Path(job.project)


def test_closing_mid_queue_then_reopening_continues_the_queue(
        qtbot, make_window, demo_clip: Path, second_clip: Path) -> None:
    first = make_window()
    first.training.preset_overrides = {"tiny": {"iters_per_scale": 30, "progress_every": 1}}
    jobs = first.queue.add_files([demo_clip, second_clip])
    assert len(jobs) == 2
    assert first.queue.start()
    qtbot.waitUntil(lambda: any(j.scales_done >= 1 for j in first.queue.jobs()),
                    timeout=TRAIN_TIMEOUT_MS)
    first.close()  # stops after this iteration; the job goes back to the queue
    assert first.jobs.running() == []
    left = [j for j in first.queue.jobs() if j.state != DONE]
    assert left and all(j.state != RUNNING for j in left)

    second = make_window()  # the same settings and queue file: it continues by itself
    qtbot.waitUntil(lambda: second.queue.busy or _states(second) == [DONE, DONE], timeout=10_000)
    qtbot.waitUntil(lambda: not second.queue.busy, timeout=TRAIN_TIMEOUT_MS)
    assert _states(second) == [DONE, DONE]
    resumed = [j for j in second.queue.jobs() if j.attempts > 1]
    assert resumed, "the interrupted job resumed instead of starting over"
    for j in second.queue.jobs():
        assert read_manifest(j.project).complete


@pytest.mark.slow
def test_the_app_runs_its_queue_on_a_local_ray_cluster(qtbot, window, demo_clip: Path) -> None:
    pytest.importorskip("ray")
    window.queue.set_cluster("local")  # Queue > Run Queue on a Ray Cluster...
    (job,) = window.queue.add_files([demo_clip])
    assert window.queue.start()
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=TRAIN_TIMEOUT_MS)
    done = window.queue.queue.get(job.id)
    assert done.state == DONE, done.error
    assert done.worker not in ("", "local")  # trained by a Ray worker process (host:pid)
    assert read_manifest(job.project).complete


def test_the_train_tab_waits_while_the_local_queue_trains(qtbot, window, demo_clip: Path) -> None:
    open_and_wait(qtbot, window, demo_clip)
    window.training.preset_overrides = {"tiny": {"iters_per_scale": 200}}
    window.queue.add_files([demo_clip])
    assert window.queue.start()
    assert not window.training.start_training()  # two trainings would share the device
    assert "queue" in window.train_panel.status.text().lower()
    assert not window.training.busy
    window.queue.stop()
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=TRAIN_TIMEOUT_MS)
    assert window.training.start_training()  # free again once the queue has stopped
    window.training.cancel_training()
    qtbot.waitUntil(lambda: not window.training.busy, timeout=TRAIN_TIMEOUT_MS)
