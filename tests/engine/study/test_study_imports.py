"""The rater's path through engine.study (questions, folder, session, results, stats) never
imports torch: taking a study or reading its results must not pay for loading the model stack.
Only engine.study.build renders audio, so only it may import torch."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import engine

REPO = Path(engine.__file__).resolve().parent.parent
LEGACY_STUDY = REPO / "tests" / "fixtures" / "legacy_6d00f76" / "data" / "study"

RATER_MODULES = ("layout", "questions", "spec", "folder", "session", "results", "stats")
# what the rater's path may import from the engine (none of these imports torch)
ALLOWED_ENGINE = {"engine", "engine.errors", "engine.fileutil"} | {
    f"engine.study.{m}" for m in RATER_MODULES
}

PROBE = f"""
import json, sys
import engine.study
import {", ".join(f"engine.study.{m}" for m in RATER_MODULES)}
from engine.study import Study, analyse, results_rows
study = Study.load(sys.argv[1])
sessions = study.load_sessions()
rows = results_rows(study, sessions)
summary = analyse(study, sessions)
audio, sr = study.load_audio(study.stimuli[0].code)
after_rating = sorted(m for m in sys.modules if m.split(".")[0] == "torch")
import engine.study.build
print(json.dumps({{
    "after_rating": after_rating,
    "rows": len(rows),
    "sessions": len(sessions),
    "after_build": "torch" in sys.modules,
}}))
"""


def test_rating_and_analysing_a_study_never_loads_torch(subprocess_env) -> None:
    r = subprocess.run(
        [sys.executable, "-c", PROBE, str(LEGACY_STUDY)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env=subprocess_env,
    )
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout.strip().splitlines()[-1])
    assert result["sessions"] == 1 and result["rows"] > 0  # the probe really used the study
    assert result["after_rating"] == []
    assert result["after_build"] is True  # sanity: the builder does load it


def test_rater_modules_import_nothing_heavy_even_lazily() -> None:
    """Imports inside functions are invisible to the probe above; read the sources instead."""
    offenders = []
    for name in (*RATER_MODULES, "__init__"):
        path = REPO / "engine" / "study" / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for n in names:
                top = n.split(".")[0]
                if top in ("torch", "torchaudio") or (top == "engine" and n not in ALLOWED_ENGINE):
                    offenders.append(f"{name}.py:{node.lineno} {n}")
    assert offenders == []
