"""Shared fixtures: offscreen Qt, the demo clip, and a tiny trained project (built once)."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

# Tests use tiny models: one thread each is faster than two fighting over two cores.
torch.set_num_threads(1)

REPO = Path(__file__).resolve().parent.parent
SHARED_AUDIO = REPO.parent / "shared" / "audio"


@pytest.fixture(scope="session")
def demo_clip() -> Path:
    from engine.resources import DEMO_CLIP

    assert DEMO_CLIP.is_file(), "the bundled demo clip is missing"
    return DEMO_CLIP


@pytest.fixture(scope="session")
def second_clip(demo_clip: Path) -> Path:
    """Another real recording: the 8 s metal excerpt from shared/ when present, else the demo."""
    p = SHARED_AUDIO / "sectoid-metal-madness-8s.wav"
    return p if p.is_file() else demo_clip


@pytest.fixture(scope="session")
def _tiny_project_master(tmp_path_factory: pytest.TempPathFactory, demo_clip: Path) -> Path:
    from engine.config import get_preset
    from engine.training.loop import iter_train

    root = tmp_path_factory.mktemp("tiny") / "project"
    for _ in iter_train(demo_clip, root, get_preset("tiny"), seed=0, device="cpu"):
        pass
    return root


@pytest.fixture(scope="session")
def stereo_tiny_master(tmp_path_factory: pytest.TempPathFactory, demo_clip: Path) -> Path:
    """A `tiny` project trained in stereo (mid/side) on 3 s of the stereo demo clip.
    Read-only: copy it before changing it."""
    import torch

    from engine.config import get_preset
    from engine.training.loop import iter_train

    root = tmp_path_factory.mktemp("stereo-tiny") / "stereo-project"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in iter_train(demo_clip, root, get_preset("tiny", stereo="mid-side"), start=1.0,
                            duration=3.0, device="cpu", seed=1):
            pass
    finally:
        torch.set_num_threads(before)
    return root


@pytest.fixture()
def tiny_project(_tiny_project_master: Path, tmp_path: Path) -> Path:
    """A fully trained `tiny` project, copied fresh for each test (tests may modify it)."""
    dst = tmp_path / "tiny-project"
    shutil.copytree(_tiny_project_master, dst)
    return dst


@pytest.fixture(scope="session")
def _bridge_takes_master(tmp_path_factory: pytest.TempPathFactory, demo_clip: Path,
                         second_clip: Path) -> Path:
    """A `tiny` bridge project from two files (A: demo 0.5-1.7 s, B: second clip 2.5-3.7 s,
    gap 0.6 s) with two takes (seeds 1 and 2) in its variation list."""
    from engine.config import get_preset
    from engine.generation import generate_into_project
    from engine.project import Project, RenderRecipe
    from engine.project.layout import LayoutRequest, SectionRequest
    from engine.training.loop import iter_train

    root = tmp_path_factory.mktemp("bridge-takes") / "project"
    req = LayoutRequest("bridge", (SectionRequest(str(demo_clip), 0.5, 1.7),
                                   SectionRequest(str(second_clip), 2.5, 3.7)), 0.6)
    for _ in iter_train(None, root, get_preset("tiny", iters_per_scale=3), seed=2, device="cpu",
                        layout=req):
        pass
    p = Project.open(root)
    recipes = [RenderRecipe.take("bridge", s, 0.6, n_scales=p.scales_done) for s in (1, 2)]
    for _ in generate_into_project(p, recipes, device="cpu"):
        pass
    return root


@pytest.fixture()
def bridge_takes_project(_bridge_takes_master: Path, tmp_path: Path) -> Path:
    """The two-file bridge project with two takes, copied fresh for each test."""
    dst = tmp_path / "bridge-takes"
    shutil.copytree(_bridge_takes_master, dst)
    return dst


@pytest.fixture()
def bench_script(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """Loads a script of bench/ (not a package) by name, for the tests of the bench tools; the
    scripts import each other, so bench/ is on the path while the test runs."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))

    def load(name: str) -> ModuleType:
        spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
