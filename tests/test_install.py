"""The install: a locked dependency set, a setup smoke check, and the app working as an
installed wheel (not only as an editable checkout)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _uv() -> str | None:
    local = REPO / ".tools" / "uv" / "bin" / "uv"
    return str(local) if local.is_file() else shutil.which("uv")


def _needs_uv() -> str:
    uv = _uv()
    if uv is None:
        if os.environ.get("CI"):
            pytest.fail("uv is missing: `bash dev.sh test` installs it into .tools/uv")
        pytest.skip("uv is not installed here (bash dev.sh setup installs it)")
    return uv


# ---- the lock --------------------------------------------------------------------------------


def _locked_versions() -> dict[str, str]:
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    return {p["name"]: p["version"] for p in lock["package"] if "version" in p}


def test_the_lock_pins_a_torch_torchaudio_pair_that_loads_together() -> None:
    locked = _locked_versions()
    # torchaudio 2.11.1 does not load with torch 2.11.0 (undefined symbol); 2.11.0 does.
    assert (locked["torch"], locked["torchaudio"]) == ("2.11.0", "2.11.0")


def test_the_installed_versions_are_the_locked_ones() -> None:
    from importlib import metadata

    locked = _locked_versions()
    for dist in ("torch", "torchaudio", "PySide6-Essentials", "pyqtgraph", "numpy", "soundfile"):
        key = dist.lower()
        assert metadata.version(dist).split("+")[0] == locked[key], dist


def _copy_for_lock_check(tmp_path: Path) -> Path:
    """dev.sh, pyproject.toml and uv.lock in a folder of their own (with the pinned uv)."""
    _needs_uv()
    work = tmp_path / "checkout"
    work.mkdir()
    for name in ("dev.sh", "pyproject.toml", "uv.lock", "README.md"):
        shutil.copy2(REPO / name, work / name)
    tools = REPO / ".tools"
    if tools.is_dir():
        (work / ".tools").mkdir()
        (work / ".tools" / "uv").symlink_to(tools / "uv")
    return work


def _check_lock(work: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "dev.sh", "check-lock"], cwd=work, capture_output=True,
                          text=True, timeout=300)


def test_dev_sh_accepts_the_committed_lock(tmp_path: Path) -> None:
    r = _check_lock(_copy_for_lock_check(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "up to date" in r.stderr


def test_dev_sh_refuses_to_set_up_without_a_lock(tmp_path: Path) -> None:
    work = _copy_for_lock_check(tmp_path)
    (work / "uv.lock").unlink()
    r = _check_lock(work)
    assert r.returncode == 1
    assert "uv.lock is missing" in r.stderr and "bash dev.sh lock" in r.stderr
    assert r.stderr.count("\n") == 1, r.stderr  # one clear line
    assert not (work / ".venv").exists()


def test_dev_sh_refuses_a_lock_that_is_out_of_date_with_pyproject(tmp_path: Path) -> None:
    work = _copy_for_lock_check(tmp_path)
    text = (work / "pyproject.toml").read_text(encoding="utf-8")
    edited = text.replace('"sounddevice>=0.4.6",', '"sounddevice>=0.4.6",\n    "six>=1.16",')
    assert edited != text
    (work / "pyproject.toml").write_text(edited, encoding="utf-8")
    r = _check_lock(work)
    assert r.returncode == 1
    assert "uv.lock is out of date with pyproject.toml" in r.stderr
    assert "bash dev.sh lock" in r.stderr
    # and `dev.sh test` stops at the same check, before installing anything
    r = subprocess.run(["bash", "dev.sh", "test"], cwd=work, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 1 and "uv.lock is out of date" in r.stderr
    assert not (work / ".venv").exists()


# ---- the setup smoke check ---------------------------------------------------------------------


def _selfcheck(env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "songwriter_app.selfcheck"], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)


def test_setup_smoke_check_passes_on_this_install() -> None:
    r = _selfcheck()
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert all(line.startswith("ok") for line in lines), r.stdout
    assert any("torchaudio 2.11.0 with torch 2.11.0" in line for line in lines)
    assert any("sounddevice" in line for line in lines)


def test_setup_smoke_check_names_the_pair_that_does_not_load(tmp_path: Path) -> None:
    """A torchaudio whose library does not load (as 2.11.1 with torch 2.11.0) gives one line
    naming the pair and the repair, and a non-zero exit."""
    fake = tmp_path / "fake" / "torchaudio"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        "raise OSError('libtorchaudio.so: undefined symbol: "
        "torch_exception_get_what_without_backtrace')\n", encoding="utf-8")
    r = _selfcheck({"PYTHONPATH": str(fake.parent)})
    assert r.returncode == 1
    fails = [line for line in r.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1, r.stdout
    assert "torchaudio 2.11.0 with torch 2.11.0 does not load" in fails[0]
    assert "undefined symbol" in fails[0] and "bash dev.sh setup --force" in fails[0]


def test_setup_smoke_check_treats_missing_portaudio_as_playback_off(tmp_path: Path) -> None:
    fake = tmp_path / "fake" / "sounddevice"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise OSError('PortAudio library not found')\n",
                                      encoding="utf-8")
    r = _selfcheck({"PYTHONPATH": str(fake.parent)})
    assert r.returncode == 0, r.stdout
    assert "no PortAudio" in r.stdout and "playback off" in r.stdout


# ---- torchaudio in one module; nothing found through the repository at run time ----------------


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_only_engine_dsp_imports_torchaudio() -> None:
    users = sorted(
        str(p.relative_to(REPO))
        for folder in ("engine", "songwriter_app", "bench")
        for p in (REPO / folder).rglob("*.py")
        if any(n.split(".")[0] == "torchaudio" for n in _imports(p))
    )
    assert users == ["engine/audio/dsp.py"]


def test_no_runtime_code_reaches_outside_its_package() -> None:
    """An installed app has no bench/ or assets/ beside it: no `.parent.parent` from __file__."""
    offenders = []
    for folder in ("engine", "songwriter_app"):
        for p in (REPO / folder).rglob("*.py"):
            text = p.read_text(encoding="utf-8")
            if "__file__" in text and ".parent.parent" in text:
                offenders.append(str(p.relative_to(REPO)))
            if re.search(r"""/\s*["'](bench|assets)["']|["'](bench|assets)["']\s*/""", text):
                offenders.append(str(p.relative_to(REPO)))
    assert offenders == []


def test_the_demo_clip_and_its_licence_are_package_data() -> None:
    from engine.resources import DEMO_CLIP, NOTICE

    assert DEMO_CLIP.is_file() and NOTICE.is_file()
    assert DEMO_CLIP.name in NOTICE.read_text(encoding="utf-8")
    conf = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "*.wav" in conf["tool"]["setuptools"]["package-data"]["engine.resources"]


# ---- the wheel, installed into a fresh environment ----------------------------------------------


@pytest.fixture(scope="module")
def installed_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built wheel plus the locked runtime packages (no dev tools) in a new venv.

    Packages come from uv's cache, which `dev.sh` filled (`--offline`: nothing is downloaded
    again; uv hard-links them, so the venv costs little disk).
    """
    uv = _needs_uv()
    root = tmp_path_factory.mktemp("installed")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    run = dict(capture_output=True, text=True, timeout=600, env=env)
    # build from a clean copy of the tracked files: a checkout's stale build/ folder must not
    # leak removed modules into the wheel
    src = root / "src"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                           check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    r = subprocess.run([uv, "build", "--wheel", "--out-dir", str(root / "dist"), str(src)],
                       **run)
    assert r.returncode == 0, r.stderr
    (wheel,) = (root / "dist").glob("songwriter_assistant-*.whl")
    venv = root / "venv"
    # the locked runtime packages (no dev tools), by the lock's own URLs, from the cache
    r = subprocess.run([uv, "sync", "--frozen", "--offline", "--no-dev", "--no-install-project",
                        "--project", str(REPO), "--python", sys.executable],
                       **{**run, "env": {**env, "UV_PROJECT_ENVIRONMENT": str(venv)}})
    assert r.returncode == 0, r.stderr
    # then the wheel itself, as `pip install songwriter_assistant-*.whl` would
    r = subprocess.run([uv, "pip", "install", "--offline", "--no-deps", "--python",
                        str(venv / "bin" / "python"), str(wheel)], **run)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([uv, "pip", "check", "--python", str(venv / "bin" / "python")], **run)
    assert r.returncode == 0, r.stdout + r.stderr
    return venv


def test_the_installed_wheel_trains_and_reports_from_any_folder(
    installed_venv: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    run = dict(cwd=elsewhere, capture_output=True, text=True, timeout=600, env=env)
    py = str(installed_venv / "bin" / "python")
    where = subprocess.run([py, "-c", "import engine, engine.resources as r; "
                            "print(engine.__file__); print(r.DEMO_CLIP)"], **run)
    assert where.returncode == 0, where.stderr
    engine_file, demo = where.stdout.split()
    assert engine_file.startswith(str(installed_venv)), "engine came from the checkout"
    assert demo.startswith(str(installed_venv)) and Path(demo).is_file()

    cli = str(installed_venv / "bin" / "songwriter-cli")
    r = subprocess.run([cli, "train", demo, "--project", "p", "--preset", "tiny", "--seed", "1",
                        "--device", "cpu"], **run)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([cli, "info", "--project", "p"], **run)
    assert r.returncode == 0, r.stderr
    assert "tiny" in r.stdout and "demo-war-of-freedom-10s.wav" in r.stdout
    r = subprocess.run([cli, "generate", "--project", "p", "--count", "1", "--seconds", "1",
                        "--out", "renders"], **run)
    assert r.returncode == 0, r.stderr
    assert len(list((elsewhere / "renders").glob("*.wav"))) == 1


def test_the_installed_app_opens_the_bundled_demo_clip(installed_venv: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "c"),
               XDG_DATA_HOME=str(tmp_path / "d"), XDG_STATE_HOME=str(tmp_path / "s"),
               XDG_CACHE_HOME=str(tmp_path / "k"))
    app = str(installed_venv / "bin" / "songwriter-app")
    r = subprocess.run([app, "--check"], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([app, "--smoke-test", "--no-probe", "--no-warm-up", "--device", "cpu"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "opened " in r.stdout and "demo-war-of-freedom-10s.wav" in r.stdout
    assert str(installed_venv) in r.stdout  # the clip inside the installed package
