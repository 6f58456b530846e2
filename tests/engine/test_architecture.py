"""The engine is headless: importing it (every module, and the CLI with its sub-commands)
never loads Qt, pyqtgraph or sounddevice."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

FORBIDDEN = ("PySide6", "pyqtgraph", "shiboken6", "sounddevice")

PROBE = """
import importlib, json, pkgutil, sys
import engine
names = sorted(m.name for m in pkgutil.walk_packages(engine.__path__, "engine."))
for name in names:
    importlib.import_module(name)
from engine.cli import build_parser
build_parser()  # imports the optional sub-command modules too
loaded = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"modules": names, "loaded": loaded}))
"""


def test_importing_every_engine_module_loads_no_gui_or_audio_device_library(subprocess_env) -> None:
    r = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=Path(engine.__file__).resolve().parent.parent,
        env=subprocess_env,
    )
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    # the probe really covered the engine
    expected = {f"engine.{m.name}" for m in pkgutil.iter_modules(engine.__path__)}
    assert expected <= set(result["modules"])
    assert {"engine.training.loop", "engine.generation.render", "engine.cli", "engine.model.networks"} <= set(
        result["modules"]
    )
    assert "torch" in result["loaded"]  # sanity: the imports happened in that process
    leaked = [name for name in FORBIDDEN if name in result["loaded"]]
    assert leaked == [], f"engine imports {leaked}"


def test_no_engine_source_file_imports_a_gui_library_even_lazily() -> None:
    """A second line of defence for imports inside functions that the probe never runs."""
    root = Path(engine.__file__).resolve().parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", getattr(node.func, "id", ""))
                in ("import_module", "__import__")
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names = [str(node.args[0].value)]
            else:
                continue
            offenders += [
                f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0] in FORBIDDEN
            ]
    assert offenders == []
