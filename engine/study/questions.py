"""Question sets: the default questionnaires, validation, visibility and completeness of answers.

Question sets are plain data (lists of dicts) saved in study.json, so a study carries its own
questionnaire. Nothing here reads files or audio.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from engine.study.layout import StudyError

REQUIRE_PLAY = ("none", "any", "full")  # answering needs: nothing, one started play, one full play
ROLES = ("real_or_fake", "fake_ease", "musicality", "inspiring", "feedback")
QUESTION_KINDS = ("choice", "scale", "text")
MAX_TEXT = 5000

DEFAULT_INSTRUCTIONS = (
    "You will hear a series of short music samples. Some are recordings of real music, "
    "others were made by a computer model. Listen to each sample (headphones are best), "
    "then answer the questions. There are no right or wrong answers about quality and "
    "inspiration: we want your honest impression. Your answers are saved as you go; you "
    "can stop and continue later."
)


def default_questions() -> list[dict[str, Any]]:
    """The per-stimulus questionnaire of the original study (study-protocol.md)."""
    return [
        {
            "id": "real_or_fake",
            "role": "real_or_fake",
            "text": "Do you think the sample is real or a fake?",
            "kind": "choice",
            "options": ["Real", "Fake"],
            "real_option": "Real",
            "required": True,
        },
        {
            "id": "fake_ease",
            "role": "fake_ease",
            "text": "Was it easy to spot that it was fake?",
            "kind": "choice",
            "options": ["Easy", "Don't know", "Difficult", "Other"],
            "other_option": "Other",
            "show_if": {"question": "real_or_fake", "equals": "Fake"},
            "required": True,
        },
        {
            "id": "musicality",
            "role": "musicality",
            "text": "Rate the quality of the sample. Is it musical at all?",
            "kind": "scale",
            "min": 0,
            "max": 10,
            "min_label": "terrible",
            "max_label": "quite good",
            "required": True,
        },
        {
            "id": "inspiring",
            "role": "inspiring",
            "text": "Do you find it inspiring? Does it give you ideas for new music?",
            "kind": "choice",
            "options": ["Yes", "No", "Maybe", "Other"],
            "other_option": "Other",
            "required": True,
        },
        {
            "id": "feedback",
            "role": "feedback",
            "text": "Overall feedback",
            "kind": "text",
            "required": False,
        },
    ]


def default_final_questions() -> list[dict[str, Any]]:
    """The final questionnaire, asked once after the last stimulus (free text each)."""
    return [
        {
            "id": "help_compose",
            "text": "Do you think the model can help you compose and finish some of your songs?",
            "kind": "text",
            "multiline": True,
            "required": False,
        },
        {
            "id": "new_areas",
            "text": "Do you think some of the samples reached musical areas you would not go to "
            "as a composer?",
            "kind": "text",
            "multiline": True,
            "required": False,
        },
        {
            "id": "needs",
            "text": "What would you need from the model to get more inspired?",
            "kind": "text",
            "multiline": True,
            "required": False,
        },
    ]


_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")


def validate_questions(questions: Any, *, final: bool = False) -> list[dict[str, Any]]:
    """Check a question set and return a normalised deep copy; raise StudyError if it is invalid."""
    where = "final question" if final else "question"
    if not isinstance(questions, list):
        raise StudyError(f"The {where} set must be a list of questions.")
    if not questions and not final:
        raise StudyError("The question set is empty; a study needs at least one question.")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    roles: set[str] = set()
    for i, q in enumerate(questions, 1):
        if not isinstance(q, dict):
            raise StudyError(f"{where.capitalize()} {i} is not an object with id, text and kind.")
        q = copy.deepcopy(q)
        qid = q.get("id")
        if not isinstance(qid, str) or not _ID_RE.match(qid):
            raise StudyError(
                f"{where.capitalize()} {i} needs an id of letters, digits and _ "
                f"(starting with a letter), not {qid!r}."
            )
        if qid in seen:
            raise StudyError(f"Two {where}s have the same id {qid!r}.")
        text = q.get("text")
        if not isinstance(text, str) or not text.strip():
            raise StudyError(f"{where.capitalize()} {qid!r} has no text.")
        kind = q.get("kind")
        if kind not in QUESTION_KINDS:
            raise StudyError(
                f"{where.capitalize()} {qid!r} has kind {kind!r}; use one of "
                f"{', '.join(QUESTION_KINDS)}."
            )
        q.setdefault("required", kind != "text")
        if not isinstance(q["required"], bool):
            raise StudyError(f"{where.capitalize()} {qid!r}: 'required' must be true or false.")
        if kind == "choice":
            opts = q.get("options")
            if (
                not isinstance(opts, list)
                or len(opts) < 2
                or not all(isinstance(o, str) and o.strip() for o in opts)
                or len(set(opts)) != len(opts)
            ):
                raise StudyError(
                    f"{where.capitalize()} {qid!r} needs at least two different options."
                )
            other = q.get("other_option")
            if other is not None and other not in opts:
                raise StudyError(
                    f"{where.capitalize()} {qid!r}: other_option {other!r} is not one of its "
                    "options."
                )
        elif kind == "scale":
            lo, hi = q.get("min", 0), q.get("max", 10)
            if not (isinstance(lo, int) and isinstance(hi, int)) or isinstance(lo, bool) or lo >= hi:
                raise StudyError(
                    f"{where.capitalize()} {qid!r} needs whole numbers min < max for its scale."
                )
            if hi - lo > 20:
                raise StudyError(f"{where.capitalize()} {qid!r}: a scale has at most 21 steps.")
            q["min"], q["max"] = lo, hi
        role = q.get("role")
        if role is not None:
            if final:
                raise StudyError(f"Final question {qid!r} cannot have an analysis role.")
            if role not in ROLES:
                raise StudyError(
                    f"Question {qid!r} has role {role!r}; use one of {', '.join(ROLES)}."
                )
            if role in roles:
                raise StudyError(f"Two questions have the role {role!r}.")
            roles.add(role)
            expected = {"real_or_fake": "choice", "fake_ease": "choice", "musicality": "scale",
                        "inspiring": "choice", "feedback": "text"}[role]
            if kind != expected:
                raise StudyError(f"Question {qid!r} with role {role!r} must be a {expected} question.")
            if role == "real_or_fake":
                real = q.get("real_option", q["options"][0])
                if real not in q["options"]:
                    raise StudyError(
                        f"Question {qid!r}: real_option {real!r} is not one of its options."
                    )
                q["real_option"] = real
        cond = q.get("show_if")
        if cond is not None:
            if (
                not isinstance(cond, dict)
                or cond.get("question") not in seen
                or not isinstance(cond.get("equals"), str)
            ):
                raise StudyError(
                    f"{where.capitalize()} {qid!r}: show_if must name an earlier question and "
                    "the answer that shows it."
                )
            ref = next(x for x in out if x["id"] == cond["question"])
            if ref["kind"] != "choice" or cond["equals"] not in ref["options"]:
                raise StudyError(
                    f"{where.capitalize()} {qid!r}: show_if answer {cond['equals']!r} is not an "
                    f"option of {ref['id']!r}."
                )
        seen.add(qid)
        out.append(q)
    return out


def question_visible(q: dict[str, Any], answers: dict[str, Any]) -> bool:
    cond = q.get("show_if")
    return cond is None or answers.get(cond["question"]) == cond["equals"]


def check_answer(q: dict[str, Any], value: Any, other: Any = None) -> tuple[Any, str | None]:
    """Validate one answer; return (value, other text) as stored. None clears the answer."""
    if value is None:
        return None, None
    kind = q["kind"]
    qid = q["id"]
    if kind == "choice":
        if value not in q["options"]:
            raise StudyError(f"{value!r} is not an option of question {qid!r}.")
        if other is not None:
            if value != q.get("other_option") or not isinstance(other, str):
                raise StudyError(f"Question {qid!r} takes a free-text answer only with 'Other'.")
            other = other.strip()[:MAX_TEXT]
        return value, other
    if kind == "scale":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise StudyError(f"Question {qid!r} takes a whole number, not {value!r}.")
        if not q["min"] <= value <= q["max"]:
            raise StudyError(f"Question {qid!r} takes a number from {q['min']} to {q['max']}.")
        return int(value), None
    if not isinstance(value, str):
        raise StudyError(f"Question {qid!r} takes text.")
    if other is not None:
        raise StudyError(f"Question {qid!r} has no 'Other' field.")
    return value[:MAX_TEXT], None


def answers_complete(questions: list[dict[str, Any]], answers: dict[str, Any]) -> bool:
    """True when every visible required question has an answer (text must not be blank)."""
    for q in questions:
        if not q.get("required") or not question_visible(q, answers):
            continue
        v = answers.get(q["id"])
        if v is None or (isinstance(v, str) and not v.strip()):
            return False
    return True


def question_by_role(questions: list[dict[str, Any]], role: str) -> dict[str, Any] | None:
    return next((q for q in questions if q.get("role") == role), None)
