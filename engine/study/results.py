"""Results: one row per (rater, stimulus) for CSV export, and the JSON results document.

engine.study.stats analyses the rows; several raters' sessions combine by concatenating rows.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.fileutil import atomic_write_json, atomic_write_text

if TYPE_CHECKING:
    from engine.study.folder import Study
    from engine.study.session import Session

TRUTH_COLUMNS = (
    "kind", "condition", "project", "preset", "iterations_per_scale", "seed", "from_scale",
    "strength", "origin", "start", "duration",
)


def result_columns(study: Study) -> list[str]:
    cols = ["rater", "session_id", "position", "code", *TRUTH_COLUMNS, "seconds",
            "play_count", "full_plays", "listen_s", "page_s", "answer_s", "answered"]
    for q in study.questions:
        cols.append(q["id"])
        if q["kind"] == "choice" and q.get("other_option"):
            cols.append(f"{q['id']}_other")
    cols.append("answered_at")
    cols += [f"final_{q['id']}" for q in study.final_questions]
    cols.append("session_completed")
    return cols


def results_rows(study: Study, sessions: Iterable[Session]) -> list[dict[str, Any]]:
    """One dict per (rater, stimulus presented to that rater), in each rater's order."""
    rows = []
    for s in sessions:
        fin = s.final_answers()
        for i, code in enumerate(s.order, 1):
            st = study.stimulus(code)
            r = s.response(code)
            row: dict[str, Any] = {
                "rater": s.rater,
                "session_id": s.session_id,
                "position": i,
                "code": code,
            }
            for c in TRUTH_COLUMNS:
                row[c] = st.condition if c == "condition" else st.truth.get(c)
            row.update({
                "seconds": st.seconds,
                "play_count": r["play_count"],
                "full_plays": r["full_plays"],
                "listen_s": r["listen_s"],
                "page_s": r["page_s"],
                "answer_s": r["answer_s"],
                "answered": s.is_answered(code),
            })
            for q in study.questions:
                row[q["id"]] = r["answers"].get(q["id"])
                if q["kind"] == "choice" and q.get("other_option"):
                    row[f"{q['id']}_other"] = r["other"].get(q["id"])
            row["answered_at"] = r["answered_at"]
            for q in study.final_questions:
                row[f"final_{q['id']}"] = fin.get(q["id"])
            row["session_completed"] = s.data.get("completed")
            rows.append(row)
    return rows


def results_csv_text(study: Study, rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=result_columns(study), lineterminator="\n")
    w.writeheader()
    for row in rows:
        w.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


def write_results_csv(path: str | os.PathLike[str], study: Study, sessions: Iterable[Session]) -> Path:
    atomic_write_text(path, results_csv_text(study, results_rows(study, sessions)))
    return Path(path)


def results_document(study: Study, sessions: list[Session], summary: Any = None) -> dict[str, Any]:
    """The study definition, each session's metadata and final answers, and the analysis."""
    return {
        "study": study.data,
        "sessions": [
            {
                "rater": s.rater,
                "session_id": s.session_id,
                "started": s.data.get("started"),
                "updated": s.data.get("updated"),
                "completed": s.data.get("completed"),
                "order_seed": s.data.get("order_seed"),
                "order": s.order,
                "answered": s.n_answered,
                "audio_output": s.data.get("audio_output"),
                "final_answers": s.final_answers(),
            }
            for s in sessions
        ],
        "summary": None if summary is None else summary.to_dict(),
    }


def write_results_json(path: str | os.PathLike[str], study: Study, sessions: list[Session],
                       summary: Any = None) -> Path:
    atomic_write_json(path, results_document(study, sessions, summary))
    return Path(path)


def read_results_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
