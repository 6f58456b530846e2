"""Helpers for the engine and CLI tests: synthetic audio files, a CLI runner, a recorded tiny run."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]


def _tone(
    sr: int, seconds: float, *, freq: float = 220.0, channels: int = 1, amp: float = 0.5
) -> np.ndarray:
    """A sine (plus a little seeded noise so it is not trivially periodic), [T] or [T, C]."""
    n = int(round(sr * seconds))
    t = np.arange(n) / sr
    rng = np.random.default_rng(1234)
    x = amp * np.sin(2 * np.pi * freq * t) + 0.05 * amp * rng.standard_normal(n)
    if channels == 1:
        return x.astype(np.float32)
    # channels differ (different gains) so a wrong down-mix would show
    gains = np.linspace(1.0, 0.25, channels)
    return (x[:, None] * gains[None, :]).astype(np.float32)


@pytest.fixture()
def one_torch_thread():
    """Run torch on one thread for the test (restored afterwards).

    The models here are tiny: splitting a convolution over threads costs more than it saves,
    and on a busy 2-core machine two threads per process thrash (5-10x slower measured).
    Modules opt in with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="session")
def tone() -> Callable[..., np.ndarray]:
    """tone(sr, seconds, freq=, channels=, amp=): a test signal, [T] or [T, C] float32."""
    return _tone


@pytest.fixture()
def write_audio(tmp_path: Path) -> Callable[..., Path]:
    """write_audio(name, sr=..., seconds=..., channels=..., subtype=..., data=...) -> path."""

    def _write(
        name: str,
        *,
        sr: int = 16000,
        seconds: float = 2.0,
        channels: int = 1,
        subtype: str | None = None,
        data: np.ndarray | None = None,
        freq: float = 220.0,
    ) -> Path:
        path = tmp_path / name
        x = _tone(sr, seconds, freq=freq, channels=channels) if data is None else data
        sf.write(str(path), x, sr, subtype=subtype)
        return path

    return _write


@dataclass(frozen=True)
class CliResult:
    rc: int
    out: str
    err: str


@pytest.fixture()
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run engine.cli.main in-process and capture what it printed.

    An exception escaping main() is reported the way the interpreter would report it:
    exit code 1 and the traceback on stderr.
    """
    from engine.cli import main

    def _run(*argv: str | os.PathLike[str]) -> CliResult:
        capsys.readouterr()
        tb = ""
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse: --help, --version, usage errors
            rc = exc.code if isinstance(exc.code, int) else 1
        except Exception:  # what a real process would print before exiting with 1
            rc, tb = 1, traceback.format_exc()
        captured = capsys.readouterr()
        return CliResult(rc, captured.out, captured.err + tb)

    return _run


def _cli_command(*argv: str | os.PathLike[str]) -> list[str]:
    return [sys.executable, "-m", "engine.cli", *(str(a) for a in argv)]


@pytest.fixture(scope="session")
def cli_command() -> Callable[..., list[str]]:
    """cli_command(*argv): the command line that runs songwriter-cli in a fresh interpreter
    (start it with env=SUBPROCESS_ENV from the `subprocess_env` fixture)."""
    return _cli_command


@pytest.fixture(scope="session")
def subprocess_env() -> dict[str, str]:
    return SUBPROCESS_ENV


@pytest.fixture(scope="session")
def cli_subprocess() -> Callable[..., subprocess.CompletedProcess]:
    """cli_subprocess(*argv): run songwriter-cli in a fresh interpreter (one torch thread),
    text output captured."""

    def _run(*argv: str | os.PathLike[str], timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            _cli_command(*argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
            env=SUBPROCESS_ENV,
        )

    return _run


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="session")
def tree_digest() -> Callable[[Path], dict[str, str]]:
    """tree_digest(root): relative path -> sha256 of every file below root (proves nothing changed)."""
    return _tree_digest


@dataclass(frozen=True)
class RecordedRun:
    project: Path
    events: list


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, demo_clip: Path) -> RecordedRun:
    """A complete tiny run (4 iterations per scale) on 1 s of the demo clip with every event kept.

    Read-only: copy the project before changing it.
    """
    import torch

    from engine.config import get_preset
    from engine.training.loop import iter_train

    root = tmp_path_factory.mktemp("tiny-run") / "project"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        events = list(
            iter_train(
                demo_clip,
                root,
                get_preset("tiny", iters_per_scale=4),
                duration=1.0,
                seed=5,
                device="cpu",
            )
        )
    finally:
        torch.set_num_threads(before)
    return RecordedRun(root, events)
