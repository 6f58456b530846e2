"""One rater's session: order, page position, play counts, timings and answers.

Every change is written at once (atomic replace) with a checksum of the content, so a crash
loses nothing and a damaged or hand-edited file is refused rather than overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine import ENGINE_VERSION
from engine.fileutil import atomic_write_json, check_writable_dir
from engine.study.folder import Study
from engine.study.layout import SESSION_FORMAT, SESSION_FORMAT_VERSION, StudyError
from engine.study.questions import answers_complete, check_answer, question_visible


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _checksum(payload: dict[str, Any]) -> str:
    body = {k: v for k, v in payload.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _empty_response() -> dict[str, Any]:
    return {
        "answers": {},
        "other": {},
        "play_count": 0,
        "full_plays": 0,
        "listen_s": 0.0,
        "page_s": 0.0,
        "answer_s": None,
        "visits": 0,
        "first_shown": None,
        "answered_at": None,
        "changed_at": None,
    }


class Session:
    """One rater's progress and answers; every change is written at once (atomic replace).

    The file carries a checksum of its content: a damaged or hand-edited file raises
    StudyError when loaded and is never overwritten.
    """

    def __init__(self, study: Study, path: Path, data: dict[str, Any], *, read_only: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.study = study
        self.path = path
        self.data = data
        self.read_only = read_only
        self._clock = clock
        self._page_code: str | None = None
        self._page_since = 0.0

    # --- creation and loading
    @classmethod
    def create(cls, study: Study, rater: str, *, clock: Callable[[], float] = time.monotonic,
               audio_output: str = "") -> Session:
        name = rater.strip()
        path = study.session_path(name)
        if path.exists():
            raise StudyError(f"A session for {name!r} already exists.")
        check_writable_dir(study.sessions_dir)
        seed, order = study.order_for(name)
        data = {
            "format": SESSION_FORMAT,
            "format_version": SESSION_FORMAT_VERSION,
            "engine_version": ENGINE_VERSION,
            "study_id": study.id,
            "session_id": uuid.uuid4().hex,
            "rater": name,
            "order_seed": seed,
            "order": order,
            "position": 0,
            "started": _now_iso(),
            "updated": _now_iso(),
            "completed": None,
            "resumed": 0,
            "audio_output": audio_output,
            "responses": {c: _empty_response() for c in order},
            "final": {"answers": {}, "answered_at": None},
        }
        s = cls(study, path, data, clock=clock)
        s._save()
        return s

    @classmethod
    def load(cls, study: Study, path: str | os.PathLike[str], *, read_only: bool = False,
             clock: Callable[[], float] = time.monotonic, audio_output: str | None = None,
             ) -> Session:
        p = Path(path)
        try:
            raw = p.read_text(encoding="utf-8")
            data = json.loads(raw)
        except FileNotFoundError:
            raise StudyError(f"The session file {p} does not exist.") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StudyError(
                f"The session file {p.name} is damaged ({exc}); it was left untouched. Restore "
                "it from a backup or move it away to start this rater afresh."
            ) from exc
        _validate_session(study, p, data)
        s = cls(study, p, data, read_only=read_only, clock=clock)
        if not read_only:
            s.data["resumed"] = int(s.data.get("resumed", 0)) + 1
            if audio_output is not None:
                s.data["audio_output"] = audio_output
            s._save()
        return s

    def _save(self) -> None:
        if self.read_only:
            raise StudyError("This session was opened for reading only.")
        self.data["updated"] = _now_iso()
        self.data["checksum"] = _checksum(self.data)
        atomic_write_json(self.path, self.data)

    # --- state
    @property
    def rater(self) -> str:
        return str(self.data["rater"])

    @property
    def session_id(self) -> str:
        return str(self.data["session_id"])

    @property
    def order(self) -> list[str]:
        return list(self.data["order"])

    @property
    def n(self) -> int:
        return len(self.data["order"])

    @property
    def position(self) -> int:
        """0..n-1: a stimulus page; n: the final questionnaire."""
        return int(self.data["position"])

    @property
    def completed(self) -> bool:
        return self.data.get("completed") is not None

    def code_at(self, position: int) -> str:
        return str(self.data["order"][position])

    def response(self, code: str) -> dict[str, Any]:
        try:
            return self.data["responses"][code]
        except KeyError:
            raise StudyError(f"Stimulus {code!r} is not part of this rater's session.") from None

    def answers(self, code: str) -> dict[str, Any]:
        return dict(self.response(code)["answers"])

    def is_answered(self, code: str) -> bool:
        return answers_complete(self.study.questions, self.response(code)["answers"])

    @property
    def n_answered(self) -> int:
        return sum(self.is_answered(c) for c in self.order)

    def may_answer(self, code: str) -> bool:
        """Whether the play requirement is met for `code`."""
        r = self.response(code)
        need = self.study.require_play
        if need == "full":
            return r["full_plays"] > 0
        if need == "any":
            return r["play_count"] > 0
        return True

    def first_unanswered(self) -> int:
        for i, c in enumerate(self.order):
            if not self.is_answered(c):
                return i
        return self.n

    # --- events (each one is written at once)
    def _tick(self) -> None:
        """Add the time spent on the current page since the last event to its page_s."""
        if self._page_code is not None:
            now = self._clock()
            r = self.data["responses"][self._page_code]
            r["page_s"] = round(r["page_s"] + max(0.0, now - self._page_since), 3)
            self._page_since = now

    def go_to(self, position: int) -> None:
        """Show page `position` (a stimulus, or n for the final questionnaire)."""
        if not 0 <= position <= self.n:
            raise StudyError(f"There is no page {position + 1}.")
        if position > self.first_unanswered():
            raise StudyError("Answer the current sample before moving on.")
        self._tick()
        self.data["position"] = position
        if position < self.n:
            code = self.code_at(position)
            r = self.data["responses"][code]
            r["visits"] += 1
            if r["first_shown"] is None:
                r["first_shown"] = time.time()
            self._page_code = code
            self._page_since = self._clock()
        else:
            self._page_code = None
        self._save()

    def next(self) -> None:
        self.go_to(self.position + 1)

    def back(self) -> None:
        if self.position > 0:
            self.go_to(self.position - 1)

    def play_started(self, code: str) -> None:
        self._tick()
        self.response(code)["play_count"] += 1
        self._save()

    def play_stopped(self, code: str, seconds: float, *, finished: bool) -> None:
        """A play of `code` ended after `seconds` of audio; `finished` if it reached the end."""
        self._tick()
        r = self.response(code)
        r["listen_s"] = round(r["listen_s"] + max(0.0, float(seconds)), 3)
        if finished:
            r["full_plays"] += 1
        self._save()

    def answer(self, code: str, qid: str, value: Any, other: str | None = None) -> None:
        """Record one answer (None clears it); answers to questions it hides are cleared."""
        if self.completed:
            raise StudyError("This session is finished; its answers can no longer change.")
        q = next((x for x in self.study.questions if x["id"] == qid), None)
        if q is None:
            raise StudyError(f"The study has no question {qid!r}.")
        r = self.response(code)
        if value is not None and not self.may_answer(code):
            need = "to the end" if self.study.require_play == "full" else "once"
            raise StudyError(f"Play the sample {need} before answering.")
        value, other = check_answer(q, value, other)
        was_complete = answers_complete(self.study.questions, r["answers"])
        if value is None:
            r["answers"].pop(qid, None)
        else:
            r["answers"][qid] = value
        if other is None:
            r["other"].pop(qid, None)
        else:
            r["other"][qid] = other
        for x in self.study.questions:
            if not question_visible(x, r["answers"]):
                r["answers"].pop(x["id"], None)
                r["other"].pop(x["id"], None)
        self._tick()
        r["changed_at"] = time.time()
        if not was_complete and answers_complete(self.study.questions, r["answers"]):
            if r["answer_s"] is None:
                r["answer_s"] = r["page_s"]
            r["answered_at"] = r["answered_at"] or _now_iso()
        self._save()

    def answer_final(self, qid: str, value: Any) -> None:
        if self.completed:
            raise StudyError("This session is finished; its answers can no longer change.")
        q = next((x for x in self.study.final_questions if x["id"] == qid), None)
        if q is None:
            raise StudyError(f"The study has no final question {qid!r}.")
        value, _ = check_answer(q, value)
        fin = self.data["final"]["answers"]
        if value is None:
            fin.pop(qid, None)
        else:
            fin[qid] = value
        self._save()

    def final_answers(self) -> dict[str, Any]:
        return dict(self.data["final"]["answers"])

    def final_complete(self) -> bool:
        return answers_complete(self.study.final_questions, self.data["final"]["answers"])

    def finish(self) -> None:
        if self.first_unanswered() < self.n:
            raise StudyError(f"Sample {self.first_unanswered() + 1} is not answered yet.")
        if not self.final_complete():
            raise StudyError("Answer the final questions before finishing.")
        self._tick()
        self._page_code = None
        self.data["final"]["answered_at"] = _now_iso()
        self.data["completed"] = _now_iso()
        self.data["position"] = self.n
        self._save()

    def flush(self) -> None:
        """Write the time spent on the current page (call when the window closes)."""
        if not self.read_only and not self.completed:
            self._tick()
            self._save()


def _validate_session(study: Study, p: Path, data: Any) -> None:
    def bad(why: str) -> StudyError:
        return StudyError(
            f"The session file {p.name} cannot be used: {why}. It was left untouched; restore it "
            "from a backup or move it away to start this rater afresh."
        )

    if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
        raise bad("it is not a study session file")
    version = data.get("format_version")
    if not isinstance(version, int) or version > SESSION_FORMAT_VERSION:
        raise bad(f"it has session format {version!r}, newer than this version reads")
    if data.get("checksum") != _checksum(data):
        raise bad("its content does not match its checksum (it was edited by hand or damaged)")
    if data.get("study_id") != study.id:
        raise bad("it belongs to a different study")
    try:
        order = data["order"]
        codes = {s.code for s in study.stimuli}
        if (not isinstance(order, list) or len(set(order)) != len(order)
                or not set(order) <= codes or not order):
            raise bad("its stimulus order does not match the study")
        pos = data["position"]
        if not isinstance(pos, int) or not 0 <= pos <= len(order):
            raise bad("its page position is out of range")
        if set(data["responses"]) != set(order):
            raise bad("its answers do not match its stimulus order")
        qs = {q["id"]: q for q in study.questions}
        for code, r in data["responses"].items():
            for qid, v in r["answers"].items():
                if qid not in qs:
                    raise bad(f"sample {code} has an answer to an unknown question {qid!r}")
                check_answer(qs[qid], v, r["other"].get(qid))
            for key in ("play_count", "full_plays"):
                if not isinstance(r[key], int) or r[key] < 0:
                    raise bad(f"sample {code} has an invalid {key}")
        fq = {q["id"]: q for q in study.final_questions}
        for qid, v in data["final"]["answers"].items():
            if qid not in fq:
                raise bad(f"it answers an unknown final question {qid!r}")
            check_answer(fq[qid], v)
        if not isinstance(data["rater"], str) or not data["rater"].strip():
            raise bad("it has no rater name")
    except StudyError as exc:
        if "left untouched" in str(exc):
            raise
        raise bad(str(exc).rstrip(".")) from exc
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise bad(f"a field is missing or has the wrong type ({exc!r})") from exc
