"""The Ray backend on a local cluster started here (2 CPUs, tiny jobs on real audio): jobs
equal serial runs, a bad job fails alone, a killed worker is retried and resumes from its last
finished scale, and cancel reaches a running task."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from engine.project.checkpoint import is_project, read_manifest
from engine.queue import (
    CANCELLED,
    DONE,
    FAILED,
    JobEnded,
    JobProgress,
    JobScaleDone,
    JobStarted,
    QueueFile,
)
from engine.queue.runner import iter_run

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def local_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _run(queue: QueueFile, **kw) -> list:
    from engine.queue.cluster import iter_run_cluster

    return list(iter_run_cluster(queue, "local", **kw))


def test_three_jobs_equal_serial_runs_and_a_bad_clip_fails_alone(
    local_cluster, queue, make_job, second_clip: Path, tmp_path: Path, serial_run, same_weights
) -> None:
    bad_clip = tmp_path / "broken.flac"
    bad_clip.write_bytes(b"\x00" * 64)
    jobs = [make_job("a", seed=11), make_job("b", clip=second_clip, seed=12),
            make_job("bad", clip=bad_clip), make_job("c", seed=13, iters_per_scale=6)]
    queue.add(*jobs)
    events = _run(queue)
    ended = {e.job_id: e for e in events if isinstance(e, JobEnded)}
    states = {j.id: j.state for j in queue.read()}
    assert [states[j.id] for j in jobs] == [DONE, DONE, FAILED, DONE]
    assert "broken.flac" in ended[jobs[2].id].error
    assert any(isinstance(e, JobProgress) and e.worker != "local" for e in events)
    for j in (jobs[0], jobs[1], jobs[3]):
        assert read_manifest(j.project).complete
        same_weights(Path(j.project), serial_run(j.clip, tmp_path / f"serial-{j.id}", j))


def test_a_killed_worker_is_retried_and_resumes_and_cancel_reaches_a_task(
    local_cluster, queue, make_job, tmp_path: Path, serial_run, same_weights, train_log
) -> None:
    # scales long enough (tens of iterations) for a kill and a cancel to land mid-run
    victim = make_job("victim", seed=21, iters_per_scale=60)
    stopped = make_job("stopped", seed=22, iters_per_scale=60)
    queue.add(victim, stopped)
    workers: dict[str, str] = {}
    killed = ""
    events = []
    from engine.queue.cluster import iter_run_cluster

    for ev in iter_run_cluster(queue, "local"):
        events.append(ev)
        if isinstance(ev, JobProgress):
            workers[ev.job_id] = ev.worker
        if isinstance(ev, JobScaleDone) and ev.scale == 0:
            if ev.job_id == victim.id and not killed and workers.get(victim.id):
                killed = workers[victim.id]
                os.kill(int(killed.rsplit(":", 1)[1]), signal.SIGKILL)
            elif ev.job_id == stopped.id:
                QueueFile(queue.path).cancel(stopped.id)  # as `queue cancel` would
    assert killed, "the victim's worker was never seen"
    jobs = {j.id: j for j in queue.read()}
    assert jobs[victim.id].state == DONE and jobs[victim.id].worker != killed
    resumes = [e["scale"] for e in train_log(victim.project) if e["event"] == "resume"]
    assert len(resumes) == 1 and resumes[0] >= 1  # the retry resumed, it did not start over
    assert [e["event"] for e in train_log(victim.project)].count("start") == 1
    same_weights(Path(victim.project), serial_run(victim.clip, tmp_path / "serial", victim))

    assert jobs[stopped.id].state == CANCELLED
    m = read_manifest(stopped.project)  # the destination holds a resumable project
    assert is_project(stopped.project) and 1 <= m.scales_done < m.n_scales
    queue.retry(stopped.id)
    events = list(iter_run(queue, device="cpu"))  # resumes here, from what the cluster sent
    assert [e.resume_from for e in events if isinstance(e, JobStarted)] == [m.scales_done]
    assert queue.get(stopped.id).state == DONE and read_manifest(stopped.project).complete


def test_a_layout_job_trains_on_the_cluster_with_its_layout(
    local_cluster, queue, tmp_path: Path, demo_clip: Path, second_clip: Path, same_weights
) -> None:
    # a bridge from two files: the worker trains the prepared layout (gap masked), and the
    # weights equal a direct run with the same layout
    from engine.config import get_preset
    from engine.project.layout import LayoutRequest, SectionRequest
    from engine.queue.model import layout_jobs
    from engine.training.loop import iter_train

    req = LayoutRequest("bridge", (SectionRequest(str(demo_clip), 0.5, 1.7),
                                   SectionRequest(str(second_clip), 2.5, 3.7)), 0.6)
    [job] = layout_jobs([req], projects_dir=tmp_path / "projects", preset="tiny",
                        overrides={"iters_per_scale": 3}, seed=5)
    queue.add(job)
    events = _run(queue)
    assert queue.get(job.id).state == DONE, [e for e in events if isinstance(e, JobEnded)]
    assert any(isinstance(e, JobProgress) and e.worker != "local" for e in events)
    lay = read_manifest(job.project).layout
    assert lay is not None and lay.mode == "bridge" and lay.gap_span == (4800, 4800 + 2400)
    direct = tmp_path / "direct"
    for _ in iter_train(None, direct, get_preset("tiny", iters_per_scale=3), seed=5,
                        device="cpu", layout=req):
        pass
    same_weights(Path(job.project), direct)
