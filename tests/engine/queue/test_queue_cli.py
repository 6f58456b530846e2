"""songwriter-cli queue: add, list, move, cancel, retry, remove, run (tiny, in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.queue import DONE, QueueFile

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_queue_commands_from_add_to_a_finished_run(cli, tmp_path: Path, demo_clip: Path,
                                                   second_clip: Path) -> None:
    q = tmp_path / "q.json"
    projects = tmp_path / "projects"
    r = cli("queue", "--queue", q, "add", demo_clip, "--section", "0:1", "--section", "2:1",
            "--preset", "tiny", "--set", "iters_per_scale=4", "--projects-dir", projects,
            "--seed", "7")
    assert r.rc == 0, r.err
    ids = [line.split()[0] for line in r.out.splitlines()]
    assert len(ids) == 2
    r = cli("queue", "add", second_clip, "--section", "0:1", "--preset", "tiny", "--set",
            "iters_per_scale=4", "--project", tmp_path / "mine", "--queue", q)
    assert r.rc == 0, r.err
    third = r.out.split()[0]
    queue = QueueFile(q)
    jobs = queue.read()
    assert [j.id for j in jobs] == [*ids, third]
    assert (jobs[1].start, jobs[1].duration, jobs[1].seed) == (2.0, 1.0, 7)
    assert Path(jobs[0].project).parent == projects and "-at2s" in jobs[1].project

    assert cli("queue", "--queue", q, "move", third, "--top").rc == 0
    assert [j.id for j in queue.read()] == [third, *ids]
    assert cli("queue", "--queue", q, "move", third, "--to", "2").rc == 0
    assert [j.id for j in queue.read()] == [ids[0], third, ids[1]]
    r = cli("queue", "--queue", q, "cancel", ids[1])
    assert r.rc == 0 and "cancelled" in r.out
    r = cli("queue", "--queue", q, "list")
    assert r.rc == 0 and "cancelled" in r.out and "no runner running" in r.out
    r = cli("queue", "--queue", q, "retry", ids[1])
    assert r.rc == 0 and "queued again" in r.out
    r = cli("queue", "--queue", q, "remove", third)
    assert r.rc == 0 and "removed" in r.out

    r = cli("queue", "--queue", q, "run", "--device", "cpu")
    assert r.rc == 0, r.err
    assert r.err.count(": done") == 2 and "The queue is empty" in r.err
    listing = json.loads(cli("queue", "--queue", q, "list", "--json").out)
    assert [j["state"] for j in listing["jobs"]] == [DONE, DONE]
    assert not listing["runner_alive"]


def test_bad_queue_input_is_one_line(cli, tmp_path: Path, demo_clip: Path) -> None:
    q = tmp_path / "q.json"
    r = cli("queue", "--queue", q, "add", tmp_path / "missing.wav")
    assert r.rc == 2 and "is not a file" in r.err
    r = cli("queue", "--queue", q, "add", demo_clip, "--preset", "nope")
    assert r.rc == 2 and "Unknown preset" in r.err
    r = cli("queue", "--queue", q, "add", demo_clip, "--section", "x:1")
    assert r.rc == 2 and "START:DURATION" in r.err
    r = cli("queue", "--queue", q, "cancel", "deadbeef")
    assert r.rc == 2 and "No job" in r.err
    assert "Traceback" not in r.err


def test_without_ray_the_cluster_run_says_how_to_get_it(cli, tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    r = cli("queue", "--queue", tmp_path / "q.json", "run", "--cluster", "local")
    assert r.rc == 2 and "needs Ray" in r.err and "cluster" in r.err
    assert "Traceback" not in r.err


def test_a_local_cluster_that_does_not_come_up_gets_a_clear_message(
        cli, tmp_path: Path, monkeypatch) -> None:
    ray = pytest.importorskip("ray")

    def node_times_out(*args, **kwargs):  # what Ray raises when its node is too slow to start
        raise Exception("The current node timed out during startup.")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", node_times_out)
    r = cli("queue", "--queue", tmp_path / "q.json", "run", "--cluster", "local")
    assert r.rc != 0 and "Could not start a Ray cluster on this computer" in r.err
    assert "timed out during startup" in r.err and "without a cluster" in r.err
    assert "Traceback" not in r.err
