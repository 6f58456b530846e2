"""Helpers for the queue tests: a queue file in tmp_path, tiny jobs, weight comparisons."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# tiny on 1 s of audio: 4 scales, seconds on one CPU core
FAST = {"iters_per_scale": 4}


@pytest.fixture()
def queue(tmp_path: Path) -> Any:
    from engine.queue import QueueFile

    return QueueFile(tmp_path / "queue.json")


@pytest.fixture()
def make_job(tmp_path: Path, demo_clip: Path) -> Callable[..., Any]:
    """make_job(name, clip=demo, seed=0, **overrides): a tiny job on 1 s of a clip."""
    from engine.queue import Job, new_job_id

    def _make(name: str, clip: Path | None = None, seed: int = 0, duration: float = 1.0,
              **overrides: Any) -> Any:
        return Job(id=new_job_id(), clip=str(clip or demo_clip),
                   project=str(tmp_path / "projects" / name), preset="tiny",
                   overrides={**FAST, **overrides}, duration=duration, seed=seed)

    return _make


def _serial(clip: str, project: Path, job: Any) -> Path:
    """The same job trained directly (iter_train, one run, no queue)."""
    from engine.config import get_preset
    from engine.training.loop import iter_train

    for _ in iter_train(clip, project, get_preset(job.preset, **job.overrides), start=job.start,
                        duration=job.duration, seed=job.seed, device="cpu"):
        pass
    return project


def _same_weights(a: Path, b: Path) -> None:
    import torch
    from safetensors.torch import load_file

    files = sorted(p.relative_to(a) for p in (a / "scales").glob("*.safetensors"))
    assert files == sorted(p.relative_to(b) for p in (b / "scales").glob("*.safetensors"))
    assert files, "no weights"
    for rel in [Path("z_rec.safetensors"), *files]:
        ta, tb = load_file(str(a / rel)), load_file(str(b / rel))
        assert ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), f"{rel}:{k} differs"


@pytest.fixture(scope="session")
def serial_run() -> Callable[[str, Path, Any], Path]:
    return _serial


@pytest.fixture(scope="session")
def same_weights() -> Callable[[Path, Path], None]:
    return _same_weights


def log_events(project: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in
            (Path(project) / "train_log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="session")
def train_log() -> Callable[[str | Path], list[dict[str, Any]]]:
    return log_events
