"""The import rules of the architecture (pyproject.toml [tool.importlinter]) hold, and the
tool really catches a broken one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([str(LINT), "--no-cache", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300, env=env)


def test_every_import_contract_is_kept() -> None:
    r = _lint()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout and " kept" in r.stdout


def test_a_shortcut_through_the_layers_is_caught(tmp_path: Path) -> None:
    """A contract the code breaks on purpose (export uses the project layer) is reported."""
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["engine", "songwriter_app"]\n'
        'include_external_packages = true\n\n'
        '[[tool.importlinter.contracts]]\nname = "export may not use the project (on purpose)"\n'
        'type = "forbidden"\nsource_modules = ["engine.export"]\n'
        'forbidden_modules = ["engine.project"]\n', encoding="utf-8")
    r = _lint("--config", str(config))
    assert r.returncode == 1
    assert "BROKEN" in r.stdout and "engine.export -> engine.project" in r.stdout
