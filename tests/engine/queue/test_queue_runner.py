"""The local runner on real audio with the tiny preset: jobs in order, a bad job fails alone,
cancel and stop leave resumable projects, and a kill -9 of the runner loses no job and runs
none twice."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from engine.project.checkpoint import is_project, read_manifest
from engine.queue import (
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    RUNNING,
    JobEnded,
    JobScaleDone,
    JobStarted,
    QueueFile,
    QueueFinished,
)
from engine.queue.runner import iter_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[3]


def _run(queue: QueueFile, **kw) -> list:
    return list(iter_run(queue, device="cpu", **kw))


def test_jobs_run_in_order_a_bad_clip_fails_alone_and_weights_equal_a_direct_run(
    queue, make_job, second_clip: Path, tmp_path: Path, serial_run, same_weights
) -> None:
    bad_clip = tmp_path / "not-audio.wav"
    bad_clip.write_bytes(b"this is not a wav file")
    a = make_job("a", seed=3)
    bad = make_job("bad", clip=bad_clip)
    b = make_job("b", clip=second_clip, seed=4)
    queue.add(a, bad, b)
    events = _run(queue)
    ended = [(e.job_id, e.state) for e in events if isinstance(e, JobEnded)]
    assert ended == [(a.id, DONE), (bad.id, FAILED), (b.id, DONE)]
    assert isinstance(events[-1], QueueFinished) and events[-1].counts == {DONE: 2, FAILED: 1}
    jobs = {j.id: j for j in queue.read()}
    assert "not-audio.wav" in jobs[bad.id].error  # the engine's sentence, for the user
    assert not Path(bad.project).exists() or not any(Path(bad.project).iterdir())
    for j in (a, b):
        assert jobs[j.id].state == DONE and jobs[j.id].scales_done == jobs[j.id].n_scales == 4
        assert read_manifest(j.project).complete
    same_weights(Path(a.project), serial_run(a.clip, tmp_path / "serial-a", a))
    # an empty queue: the runner starts, finds nothing, and stops
    assert [type(e).__name__ for e in _run(queue)] == ["QueueStarted", "QueueFinished"]


def test_cancel_through_the_queue_file_leaves_a_resumable_project_and_retry_resumes(
    queue, make_job, monkeypatch, train_log, tmp_path, serial_run, same_weights
) -> None:
    monkeypatch.setattr("engine.queue.runner.CANCEL_POLL_S", 0.0)  # read the flag every iteration
    a, b = make_job("a"), make_job("b")
    queue.add(a, b)
    events = []
    for ev in iter_run(queue, device="cpu"):
        events.append(ev)
        if isinstance(ev, JobScaleDone) and ev.job_id == a.id and ev.scale == 0:
            QueueFile(queue.path).cancel(a.id)  # as `songwriter-cli queue cancel` would
    ended = {e.job_id: e for e in events if isinstance(e, JobEnded)}
    assert ended[a.id].state == CANCELLED and ended[a.id].scales_done == 1
    assert ended[b.id].state == DONE  # the queue went on
    m = read_manifest(a.project)
    assert is_project(a.project) and m.scales_done == 1 and not m.complete
    queue.retry(a.id)
    events = _run(queue)
    started = [e for e in events if isinstance(e, JobStarted)]
    assert [(e.job.id, e.resume_from) for e in started] == [(a.id, 1)]
    assert queue.get(a.id).state == DONE and read_manifest(a.project).complete
    assert [e["event"] for e in train_log(a.project)].count("resume") == 1
    same_weights(Path(a.project), serial_run(a.clip, tmp_path / "serial", a))


def test_stop_puts_the_running_job_back_and_the_next_run_resumes_it(queue, make_job) -> None:
    from engine.jobs import CancelToken

    a = make_job("a")
    queue.add(a)
    stop = CancelToken()
    for ev in iter_run(queue, device="cpu", stop=stop):
        if isinstance(ev, JobScaleDone):
            stop.cancel()
        if isinstance(ev, QueueFinished):
            assert ev.stopped
    job = queue.get(a.id)
    assert job.state == QUEUED and job.scales_done == 1
    events = _run(queue)
    assert [e.resume_from for e in events if isinstance(e, JobStarted)] == [1]
    assert queue.get(a.id).state == DONE and queue.get(a.id).attempts == 2


def test_a_second_runner_on_the_same_queue_is_refused(queue, make_job, cli) -> None:
    queue.add(make_job("a"))
    with queue.runner_lock("another process"):
        r = cli("queue", "--queue", queue.path, "run", "--device", "cpu")
    assert r.rc == 2 and "Another runner is already running the queue" in r.err
    assert queue.get("1").state == QUEUED


def test_kill_9_of_the_runner_loses_no_job_runs_none_twice_and_resumes(
    queue, make_job, cli_command, subprocess_env, train_log, tmp_path, serial_run, same_weights
) -> None:
    first = make_job("first", seed=1)
    long = make_job("long", seed=2, iters_per_scale=20)  # scales long enough to land a kill in
    last = make_job("last", seed=3)
    queue.add(first, long, last)
    proc = subprocess.Popen(cli_command("queue", "--queue", queue.path, "run", "--device", "cpu"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=subprocess_env, cwd=REPO)
    reads = 0
    stop_reading = threading.Event()

    def reader() -> None:  # another process's view: the queue file is never half-written
        nonlocal reads
        while not stop_reading.is_set():
            json.loads(queue.path.read_text())
            reads += 1
            time.sleep(0.005)

    t = threading.Thread(target=reader)
    t.start()
    try:
        deadline = time.monotonic() + 300  # against hanging, not a speed check
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the runner ended (rc {proc.returncode}) too early:\n"
                            f"{proc.communicate()[1]}")
            try:
                done = json.loads((Path(long.project) / "manifest.json").read_text())["scales_done"]
            except (OSError, ValueError, KeyError):
                done = 0
            if done >= 1:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    finally:
        stop_reading.set()
        t.join()
    assert proc.returncode == -signal.SIGKILL and reads > 0
    jobs = {j.id: j for j in queue.read()}
    assert jobs[first.id].state == DONE and jobs[long.id].state == RUNNING
    assert jobs[last.id].state == QUEUED
    assert not queue.runner_alive()
    killed_at = read_manifest(long.project).scales_done
    assert 1 <= killed_at < 4

    events = _run(queue)
    started = [(e.job.id, e.resume_from) for e in events if isinstance(e, JobStarted)]
    assert started == [(long.id, killed_at), (last.id, 0)]  # the interrupted job first
    jobs = {j.id: j for j in queue.read()}
    assert [jobs[j.id].state for j in (first, long, last)] == [DONE] * 3
    assert [jobs[j.id].attempts for j in (first, long, last)] == [1, 2, 1]
    assert [e["event"] for e in train_log(first.project)].count("start") == 1
    events_long = [e["event"] for e in train_log(long.project)]
    assert events_long.count("start") == 1 and events_long.count("resume") == 1
    assert [e["scale"] for e in train_log(long.project) if e["event"] == "resume"] == [killed_at]
    same_weights(Path(long.project), serial_run(long.clip, tmp_path / "serial", long))
