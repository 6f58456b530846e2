"""Queued layouts: a job can carry several sections, a bridge or an ending (the manifest's
layout form); `queue add` takes train's --section [FILE:]START-END / --gap / --mode (the old
START:DURATION still queues plain jobs); an old queue file without layouts still loads; the
local runner trains a layout job exactly as a direct run with the same layout would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.config import get_preset
from engine.project.checkpoint import is_project, read_manifest
from engine.project.layout import LayoutRequest, SectionRequest
from engine.queue import DONE, FAILED, Job, JobEnded, QueueFile
from engine.queue.model import layout_jobs
from engine.queue.runner import iter_run
from engine.training.loop import iter_train

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FAST = {"iters_per_scale": 3}


def _bridge(a: Path, b: Path, gap: float = 0.6) -> LayoutRequest:
    """A bridge from two files: A in `a`, B in `b`."""
    return LayoutRequest("bridge", (SectionRequest(str(a), 0.5, 1.7),
                                    SectionRequest(str(b), 2.5, 3.7)), gap)


def test_a_layout_job_round_trips_and_an_old_queue_file_still_loads(tmp_path: Path,
                                                                    demo_clip: Path,
                                                                    second_clip: Path) -> None:
    req = _bridge(demo_clip, second_clip)
    [job] = layout_jobs([req], projects_dir=tmp_path, preset="tiny")
    assert job.layout == req.to_dict() | {"sections": [
        {"path": str(demo_clip.absolute()), "start": 0.5, "duration": pytest.approx(1.2)},
        {"path": str(second_clip.absolute()), "start": 2.5, "duration": pytest.approx(1.2)}]}
    assert Job.from_dict(json.loads(json.dumps(job.to_dict()))) == job
    assert job.layout_request() == LayoutRequest.from_dict(job.layout)
    assert job.label.startswith("bridge: ") and second_clip.name in job.label
    assert job.label.endswith("gap 0.6 s") and Path(job.project).name.endswith("-bridge")
    assert (job.clip, job.start, job.duration) == (str(demo_clip.absolute()), 0.5,
                                                   pytest.approx(1.2))
    # a queue file written before layouts existed (no "layout" key) loads as plain jobs
    old = {"format": "songwriter-queue", "version": 1, "jobs": [
        {"id": "0ld", "clip": str(demo_clip), "project": str(tmp_path / "p"), "preset": "tiny",
         "overrides": {}, "start": 1.0, "duration": 2.0, "seed": 0, "state": "queued"}]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    [plain] = QueueFile(tmp_path / "old.json").read()
    assert plain.layout is None and plain.layout_request() is None
    assert plain.label == f"{demo_clip.name} 1.0-3.0 s"
    # a manifest's built layout is a request too (its offsets and hashes are left out)
    built = {"mode": "ending", "fs": 4000, "gap": 1.0, "gap_span": [4000, 8000], "total": 8000,
             "holes": [[4000, 8000]], "sections": [
                 {"path": "/a.wav", "sha256": "x", "sample_rate": 44100, "channels": 2,
                  "start": 2.0, "duration": 1.0, "offset": 0, "length": 4000}]}
    assert LayoutRequest.from_dict(built) == LayoutRequest(
        "ending", (SectionRequest("/a.wav", 2.0, 3.0),), 1.0)


def test_queue_add_takes_trains_section_options_and_refuses_bad_ones(
        cli, tmp_path: Path, demo_clip: Path, second_clip: Path) -> None:
    q, projects = tmp_path / "q.json", tmp_path / "projects"
    r = cli("queue", "--queue", q, "add", demo_clip, "--section", "0.5-1.7", "--section",
            f"{second_clip}:2.5-3.7", "--gap", "0.6", "--preset", "tiny",
            "--projects-dir", projects)
    assert r.rc == 0, r.err
    assert "bridge: " in r.out and "gap 0.6 s" in r.out
    # every section names its file: no CLIP needed; --mode ending with one section
    r = cli("queue", "--queue", q, "add", "--section", f"{second_clip}:1-3", "--gap", "1",
            "--mode", "ending", "--preset", "tiny", "--projects-dir", projects)
    assert r.rc == 0, r.err
    # the old form still queues one plain job per section
    r = cli("queue", "--queue", q, "add", demo_clip, "--section", "2:1", "--preset", "tiny",
            "--projects-dir", projects)
    assert r.rc == 0, r.err
    jobs = QueueFile(q).read()
    assert [j.layout and j.layout["mode"] for j in jobs] == ["bridge", "ending", None]
    assert jobs[0].layout["sections"][1]["path"] == str(second_clip.absolute())
    assert jobs[0].layout["gap"] == 0.6 and (jobs[2].start, jobs[2].duration) == (2.0, 1.0)

    for argv, words in (
        (("--section", "0.5-1.7", "--section", "1.0-2.0", "--gap", "1"), "overlap"),
        (("--section", "0.5-1.7", "--section", "2:1"), "same way"),
        (("--section", "2:1", "--gap", "1"), "START-END"),
        (("--section", "0.5-0.7", "--section", "2-3", "--gap", "1"), "too short"),
        (("--section", f"{tmp_path / 'missing.wav'}:0-1", "--section", "2-3", "--gap", "1"),
         "is not a file"),
    ):
        r = cli("queue", "--queue", q, "add", demo_clip, *argv, "--preset", "tiny")
        assert r.rc == 2 and words in r.err, (argv, r.err)
    assert len(QueueFile(q).read()) == 3  # nothing added by a refused command


def test_the_runner_trains_a_layout_job_as_a_direct_run_and_a_bad_section_fails_alone(
        queue, tmp_path: Path, demo_clip: Path, second_clip: Path, same_weights) -> None:
    req = _bridge(demo_clip, second_clip)
    past_end = LayoutRequest("bridge", (SectionRequest(str(demo_clip), 0.5, 1.7),
                                        SectionRequest(str(second_clip), 7.5, 8.7)), 0.6)
    job, bad = layout_jobs([req, past_end], projects_dir=tmp_path / "projects", preset="tiny",
                           overrides=FAST, seed=3)
    queue.add(job, bad)
    events = list(iter_run(queue, device="cpu"))
    ended = {e.job_id: e for e in events if isinstance(e, JobEnded)}
    assert {j.id: j.state for j in queue.read()} == {job.id: DONE, bad.id: FAILED}
    assert "reaches past the end" in ended[bad.id].error and second_clip.name in \
        ended[bad.id].error
    assert not is_project(bad.project)

    lay = read_manifest(job.project).layout
    assert lay is not None and lay.mode == "bridge" and lay.gap_span == (4800, 4800 + 2400)
    assert [Path(s.path).name for s in lay.sections] == [demo_clip.name, second_clip.name]
    direct = tmp_path / "direct"
    for _ in iter_train(None, direct, get_preset("tiny", **FAST), seed=3, device="cpu",
                        layout=req):
        pass
    same_weights(Path(job.project), direct)
