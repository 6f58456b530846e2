"""The queue file: operations, atomic writes, the runner lock (no training here)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from engine.queue import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    Job,
    QueueBusyError,
    QueueError,
    QueueFile,
    default_queue_path,
)


def _ids(queue: QueueFile) -> list[str]:
    return [j.id for j in queue.read()]


def test_add_list_move_remove_keep_order_and_survive_a_reopen(queue, make_job) -> None:
    a, b, c = make_job("a"), make_job("b"), make_job("c")
    queue.add(a, b, c)
    assert _ids(queue) == [a.id, b.id, c.id]
    queue.move(c.id, 0)
    assert _ids(queue) == [c.id, a.id, b.id]
    queue.move(c.id[:5], 99)  # a unique prefix; clamped to the end
    assert _ids(queue) == [a.id, b.id, c.id]
    queue.remove("2")  # by 1-based position
    assert _ids(queue) == [a.id, c.id]
    again = QueueFile(queue.path)  # another process would read the same
    assert [j.to_dict() for j in again.read()] == [j.to_dict() for j in queue.read()]
    data = json.loads(queue.path.read_text())
    assert data["format"] == "songwriter-queue" and data["version"] == 1


def test_a_number_is_a_position_even_when_an_id_starts_with_it(queue, make_job) -> None:
    """`queue remove 2` removes the second job, not a job whose (hex) id starts with "2"."""
    a = dataclasses.replace(make_job("a"), id="2b88ea5a")
    b = dataclasses.replace(make_job("b"), id="69f0068f")
    c = dataclasses.replace(make_job("c"), id="875c94df")
    queue.add(a, b, c)
    assert queue.get("2").id == b.id  # the position
    assert queue.get("2b").id == a.id  # more of the id: the id
    assert queue.get("8").id == c.id  # no 8th job: the prefix
    with pytest.raises(QueueError, match="No job"):
        queue.get("02")  # not how a position is written, and no id starts with it
    queue.remove("2")
    assert _ids(queue) == [a.id, c.id]


def test_cancel_retry_and_the_states_they_refuse(queue, make_job) -> None:
    a, b = make_job("a"), make_job("b")
    queue.add(a, b)
    assert queue.cancel(a.id).state == CANCELLED  # waiting: cancelled at once
    with pytest.raises(QueueError, match="nothing to cancel"):
        queue.cancel(a.id)
    assert queue.retry(a.id).state == QUEUED
    with pytest.raises(QueueError, match="only a failed or cancelled"):
        queue.retry(a.id)
    queue.update(b.id, state=RUNNING)
    with queue.runner_lock("test"):
        job = queue.cancel(b.id)  # running: a flag its runner polls
        assert job.state == RUNNING and job.cancel_requested
        with pytest.raises(QueueError, match="cancel it first"):
            queue.remove(b.id)
    queue.update(b.id, cancel_requested=False)
    assert queue.cancel(b.id).state == CANCELLED  # interrupted (no runner): at once
    queue.retry(b.id)
    queue.update(b.id, state=RUNNING)
    queue.update(b.id, state=FAILED, error="boom")
    job = queue.retry(b.id)
    assert job.state == QUEUED and job.error == "" and not job.cancel_requested


def test_unknown_or_ambiguous_job_and_a_project_taken_twice(queue, make_job) -> None:
    a = make_job("a")
    queue.add(a)
    with pytest.raises(QueueError, match="No job"):
        queue.get("zzzz")
    twin = make_job("a")
    with pytest.raises(QueueError, match="already trains into"):
        queue.add(twin)
    assert _ids(queue) == [a.id]


def test_a_failed_write_leaves_the_old_queue_whole(queue, make_job, monkeypatch) -> None:
    a = make_job("a")
    queue.add(a)
    before = queue.path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError(5, "simulated crash during the rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(Exception, match="simulated crash|Could not write"):
        queue.add(make_job("b"))
    monkeypatch.undo()
    assert queue.path.read_bytes() == before
    assert _ids(queue) == [a.id]
    assert not [p for p in queue.path.parent.iterdir() if p.name.endswith(".tmp.json")]


def test_one_runner_at_a_time_and_a_dead_runner_is_noticed(queue) -> None:
    assert not queue.runner_alive()
    with queue.runner_lock("test"):
        assert queue.runner_alive()
        with pytest.raises(QueueBusyError, match=f"process {os.getpid()}"), \
                QueueFile(queue.path).runner_lock("second"):
            pass
    assert not queue.runner_alive()


def test_claim_next_resumes_an_interrupted_job_first_and_skips_a_cancelled_one(queue, make_job
                                                                             ) -> None:
    a, b, c = make_job("a"), make_job("b"), make_job("c")
    queue.add(a, b, c)
    queue.update(c.id, state=RUNNING)  # left running by a runner that died
    queue.update(b.id, state=RUNNING, cancel_requested=True)  # cancelled while it was gone
    job = queue.claim_next("local")
    assert job.id == c.id and job.attempts == 1
    assert queue.get(b.id).state == CANCELLED
    assert queue.claim_next("local", exclude={c.id}).id == a.id
    assert queue.claim_next("local", exclude={a.id, c.id}) is None


def test_a_queue_file_from_a_newer_version_is_refused(queue) -> None:
    queue.path.write_text(json.dumps({"format": "songwriter-queue", "version": 99, "jobs": []}))
    with pytest.raises(QueueError, match="newer version"):
        queue.read()


def test_default_queue_path_follows_the_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SONGWRITER_QUEUE", str(tmp_path / "q.json"))
    assert default_queue_path() == tmp_path / "q.json"
    monkeypatch.delenv("SONGWRITER_QUEUE")
    monkeypatch.setenv("SONGWRITER_PROJECTS_DIR", str(tmp_path / "data" / "projects"))
    assert default_queue_path() == tmp_path / "data" / "queue.json"


def test_job_round_trips_and_ignores_fields_it_does_not_know() -> None:
    job = Job(id="abc", clip="/x.wav", project="/p", overrides={"iters_per_scale": 3})
    d = job.to_dict() | {"a_future_field": 1}
    assert Job.from_dict(d) == job
