"""Listening study: blind stimuli, question sets, rater sessions, results and their analysis.

A study is a self-contained folder that can be copied to another machine:

    study.json        the definition: settings, question sets, and each stimulus with its
                      hidden truth (real or generated, project, preset, seed, strength...)
    stimuli/s01.wav   the prepared audio under neutral codes (mono, one common sample rate,
                      loudness-matched, generated edges trimmed)
    sessions/*.json   one file per rater, rewritten atomically after every answer

The package, in the order a study is made and used:

    layout     the folder's file names and format versions, REAL/GENERATED, StudyError
    questions  question sets: defaults, validation, visibility, complete answers
    spec       what the author chooses (StudySpec) and a project's variation files
    build      iter_build_study / build_study: the only module that renders audio (torch)
    folder     Study (a built folder) and its Stimulus records
    session    Session: one rater's answers, play counts and timings
    results    one row per (rater, stimulus); CSV and JSON export
    stats      analysis: Wilson intervals, binomial tests, t-intervals, rater checks

The rater's path (questions, folder, session, results, stats) never imports torch; a test
checks it. Importing this package does not load `build` or `stats` either: their names are
resolved on first use, so `from engine.study import iter_build_study` still works but opening
a study to rate it stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.study.folder import Stimulus, Study, condition_of, rater_slug
from engine.study.layout import (
    GENERATED,
    PLAYBACK_RATE,
    REAL,
    SESSION_FORMAT,
    SESSION_FORMAT_VERSION,
    SESSIONS_DIR,
    STIMULI_DIR,
    STUDY_FILE,
    STUDY_FORMAT,
    STUDY_FORMAT_VERSION,
    StudyError,
)
from engine.study.questions import (
    DEFAULT_INSTRUCTIONS,
    MAX_TEXT,
    QUESTION_KINDS,
    REQUIRE_PLAY,
    ROLES,
    answers_complete,
    check_answer,
    default_final_questions,
    default_questions,
    question_by_role,
    question_visible,
    validate_questions,
)
from engine.study.results import (
    TRUTH_COLUMNS,
    read_results_csv,
    result_columns,
    results_csv_text,
    results_document,
    results_rows,
    write_results_csv,
    write_results_json,
)
from engine.study.session import Session
from engine.study.spec import (
    GenerateSpec,
    ProjectSelection,
    StudySpec,
    find_variation_files,
    flatten_sidecar,
    read_sidecar,
    spec_to_dict,
)

# names resolved on first use (see the module docstring): build imports torch, stats scipy
_LAZY = {
    "BuildFinished": "build",
    "BuildProgress": "build",
    "build_study": "build",
    "iter_build_study": "build",
    "ALL_GENERATED": "stats",
    "ConditionSummary": "stats",
    "RaterSummary": "stats",
    "StudySummary": "stats",
    "analyse": "stats",
    "analyse_rows": "stats",
    "binomial_p": "stats",
    "format_p": "stats",
    "format_summary": "stats",
    "mean_t_interval": "stats",
    "wilson_interval": "stats",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "GENERATED",
    "MAX_TEXT",
    "PLAYBACK_RATE",
    "QUESTION_KINDS",
    "REAL",
    "REQUIRE_PLAY",
    "ROLES",
    "SESSIONS_DIR",
    "SESSION_FORMAT",
    "SESSION_FORMAT_VERSION",
    "STIMULI_DIR",
    "STUDY_FILE",
    "STUDY_FORMAT",
    "STUDY_FORMAT_VERSION",
    "TRUTH_COLUMNS",
    "GenerateSpec",
    "ProjectSelection",
    "Session",
    "Stimulus",
    "Study",
    "StudyError",
    "StudySpec",
    "answers_complete",
    "check_answer",
    "condition_of",
    "default_final_questions",
    "default_questions",
    "find_variation_files",
    "flatten_sidecar",
    "question_by_role",
    "question_visible",
    "rater_slug",
    "read_results_csv",
    "read_sidecar",
    "result_columns",
    "results_csv_text",
    "results_document",
    "results_rows",
    "spec_to_dict",
    "validate_questions",
    "write_results_csv",
    "write_results_json",
    *_LAZY,
]
