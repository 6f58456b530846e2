"""Listening study: blind stimuli, question sets, rater sessions, results export.

A study is a self-contained folder that can be copied to another machine:

    study.json        the definition: settings, question sets, and each stimulus with its
                      hidden truth (real or generated, project, preset, seed, strength...)
    stimuli/s01.wav   the prepared audio under neutral codes (mono, one common sample rate,
                      loudness-matched, generated edges trimmed)
    sessions/*.json   one file per rater, rewritten atomically after every answer

Building (`iter_build_study`) collects generated variations (existing wav files with JSON
sidecars, or new ones rendered from trained projects) and real excerpts (the training section
and other sections of the source file, or the project's clip.wav), prepares them as the
original study did by hand, and writes the folder. A `Session` records one rater's answers
with play counts and timings; `results_rows` flattens sessions into one row per (rater,
stimulus) for CSV export, and engine.study.stats analyses them.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import io
import json
import math
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine import ENGINE_VERSION
from engine.errors import EngineError
from engine.fileutil import atomic_write_json, atomic_write_text, check_writable_dir, sha256_file

STUDY_FILE = "study.json"
STIMULI_DIR = "stimuli"
SESSIONS_DIR = "sessions"
STUDY_FORMAT = "songwriter-assistant-study"
STUDY_FORMAT_VERSION = 1
SESSION_FORMAT = "songwriter-assistant-study-session"
SESSION_FORMAT_VERSION = 1
REQUIRE_PLAY = ("none", "any", "full")  # answering needs: nothing, one started play, one full play
ROLES = ("real_or_fake", "fake_ease", "musicality", "inspiring", "feedback")
QUESTION_KINDS = ("choice", "scale", "text")
MAX_TEXT = 5000
REAL = "real"
PLAYBACK_RATE = 44100  # stimuli are written at this rate (or higher when a model's rate is)
GENERATED = "generated"

DEFAULT_INSTRUCTIONS = (
    "You will hear a series of short music samples. Some are recordings of real music, "
    "others were made by a computer model. Listen to each sample (headphones are best), "
    "then answer the questions. There are no right or wrong answers about quality and "
    "inspiration: we want your honest impression. Your answers are saved as you go; you "
    "can stop and continue later."
)


class StudyError(EngineError):
    """A study, its question set or a rater's session file cannot be used."""


# --------------------------------------------------------------------------------------------
# Question sets (data, saved with the study)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Building a study
# --------------------------------------------------------------------------------------------


@dataclass
class GenerateSpec:
    """Render `count` new variations with seeds seed, seed+1, ... at one strength."""

    count: int  # how many
    seed: int = 0  # first seed
    from_scale: int | None = None  # None = free (unconditional); k = keep the real signal at scale k
    seconds: float | None = None  # length before trimming; default: the training clip's length


@dataclass
class ProjectSelection:
    """What one trained project contributes to a study."""

    path: Path  # project folder
    label: str | None = None  # name shown in results (default: the folder name)
    variation_files: list[Path] = field(default_factory=list)  # existing wavs with sidecars
    generate: list[GenerateSpec] = field(default_factory=list)  # new variations to render
    real_training: int = 1  # excerpts of the training section (source file, else clip.wav)
    real_other: int = 0  # excerpts of other sections of the source file (when it still exists)
    real_clip: int = 0  # excerpts of the project's clip.wav (the section at the working rate)


@dataclass
class StudySpec:
    """Everything the author chooses; `build_study` turns it into a study folder."""

    title: str = "Listening study"
    projects: list[ProjectSelection] = field(default_factory=list)
    variation_files: list[Path] = field(default_factory=list)  # more generated files, any project
    stimuli_per_rater: int | None = None  # None = every rater hears every stimulus
    target_lufs: float = -23.0  # common integrated loudness (lowered if a stimulus would clip)
    max_target_drop_db: float = 10.0  # lower the common target at most this much to avoid clipping
    trim_s: float = 0.2  # cut from both ends of generated material
    excerpt_seconds: float | None = None  # real excerpt length; default: like the generated ones
    seed: int = 0  # stimulus codes, excerpt positions
    order_seed: int | None = None  # base of each rater's order seed; None = from `seed`
    require_play: str = "full"  # before answering: "none", "any" (one play), "full" (to the end)
    real_check_threshold: float = 0.5  # flag raters who judge fewer real excerpts real than this
    questions: list[dict[str, Any]] | None = None  # None = default_questions()
    final_questions: list[dict[str, Any]] | None = None  # None = default_final_questions()
    instructions: str = DEFAULT_INSTRUCTIONS
    device: str = "cpu"  # for rendering new variations


@dataclass(frozen=True)
class BuildProgress:
    done: int  # steps finished
    total: int  # steps in all
    message: str  # what is happening, in words


@dataclass(frozen=True)
class BuildFinished:
    study: Study
    warnings: tuple[str, ...]


def spec_to_dict(spec: StudySpec) -> dict[str, Any]:
    d = asdict(spec)
    for p in d["projects"]:
        p["path"] = str(p["path"])
        p["variation_files"] = [str(v) for v in p["variation_files"]]
    d["variation_files"] = [str(v) for v in d["variation_files"]]
    return d


def find_variation_files(project_dir: str | os.PathLike[str]) -> list[Path]:
    """Generated wav files stored in a project (PROJECT/variations/, any depth), sorted."""
    folder = Path(project_dir) / "variations"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.wav") if not p.name.startswith("."))


def read_sidecar(wav: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON sidecar next to a generated wav (same stem), or {} when there is none."""
    p = Path(wav)
    for cand in (p.with_suffix(".json"), p.with_name(p.name + ".json")):
        if cand.is_file():
            try:
                data = json.loads(cand.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise StudyError(f"The sidecar {cand.name} of {p.name} is damaged: {exc}.") from exc
            return flatten_sidecar(data) if isinstance(data, dict) else {}
    return {}


def flatten_sidecar(data: dict[str, Any]) -> dict[str, Any]:
    """One flat dict from a sidecar: nested sections ("provenance", "variation"...) merged in.

    engine.generate writes flat sidecars; the project variation store nests the record under
    "variation" and the model facts under "provenance". Top-level plain values win, then the
    variation record, then the provenance.
    """
    flat: dict[str, Any] = {}
    nested = [v for k, v in data.items() if isinstance(v, dict) and k != "metrics"]
    for key in ("provenance", "variation"):
        if isinstance(data.get(key), dict):
            flat.update(data[key])
    for v in nested:
        for k, x in v.items():
            flat.setdefault(k, x)
    flat.update({k: v for k, v in data.items() if not isinstance(v, dict)})
    if "edges_trimmed_s" not in flat and flat.get("trimmed") is True:
        flat["edges_trimmed_s"] = 0.2
    return flat


@dataclass
class _Item:
    audio: np.ndarray  # [T] mono float32
    sr: int  # rate of `audio`
    truth: dict[str, Any]  # hidden truth for study.json


def _strength_word(truth: dict[str, Any]) -> str:
    s = truth.get("strength")
    if isinstance(s, str) and s:
        return s
    fs = truth.get("from_scale")
    return "free (new structure)" if fs is None else f"from scale {fs}"


def condition_of(truth: dict[str, Any]) -> str:
    """The analysis condition: "real", or "project / preset / strength" for generated material."""
    if truth.get("kind") == REAL:
        return REAL
    parts = [str(truth.get("project") or "unknown project"), str(truth.get("preset") or "?")]
    parts.append(_strength_word(truth))
    return " / ".join(parts)


def _fade(x: np.ndarray, sr: int, trim_s: float = 0.0) -> np.ndarray:
    from engine.audio_io import trim_and_fade

    return trim_and_fade(x, sr, trim_s=trim_s)


def _mono(x: np.ndarray) -> np.ndarray:
    from engine.audio_io import to_mono

    return np.asarray(to_mono(x), dtype=np.float32)


def _generated_from_file(
    path: Path, label: str | None, trim_s: float, project_label: Callable[[str], str]
) -> _Item:
    import soundfile as sf

    if not path.is_file():
        raise StudyError(f"The variation file {path} does not exist.")
    # not audio_io.read_audio: generated files may be at a model rate below 8 kHz (tiny preset)
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        raise StudyError(f"Cannot read the variation file {path.name}: {exc}") from exc
    if data.shape[0] == 0 or not np.all(np.isfinite(data)):
        raise StudyError(f"The variation file {path.name} is empty or holds invalid samples.")
    audio = data.T
    side = read_sidecar(path)
    already = float(side.get("edges_trimmed_s") or 0.0)
    x = _fade(_mono(audio), sr, max(0.0, trim_s - already))
    proj_path = side.get("project")
    truth = {
        "kind": GENERATED,
        "origin": "variation file",
        "file": str(path.resolve()),
        "project": label or (project_label(str(proj_path)) if proj_path else None),
        "project_path": proj_path,
        "preset": side.get("preset"),
        "iterations_per_scale": side.get("iterations_per_scale"),
        "seed": side.get("seed"),
        "from_scale": side.get("from_scale"),
        "strength": side.get("strength"),
        "model_rate": side.get("sample_rate", sr),
    }
    return _Item(x, sr, truth)


def _windows(total: int, length: int, count: int, avoid: tuple[int, int] | None,
             rng: np.random.Generator) -> list[int]:
    """Up to `count` non-overlapping window starts of `length` samples, outside `avoid`."""
    if length <= 0 or total < length:
        return []
    step = max(1, length // 4)
    starts = [s for s in range(0, total - length + 1, step)
              if avoid is None or s + length <= avoid[0] or s >= avoid[1]]
    rng.shuffle(starts)
    chosen: list[int] = []
    for s in starts:
        if all(abs(s - c) >= length for c in chosen):
            chosen.append(s)
        if len(chosen) == count:
            break
    return sorted(chosen)


class _ProjectSource:
    """A project's model (loaded on demand), manifest, clip and source audio."""

    def __init__(self, sel: ProjectSelection, device: str) -> None:
        from engine.checkpoint import load_clip_signal, read_manifest

        self.sel = sel
        self.root = Path(sel.path)
        self.manifest = read_manifest(self.root)
        self.label = sel.label or self.root.resolve().name
        self.device = device
        self.clip, self.fs = load_clip_signal(self.root)
        self.clip = _mono(self.clip)
        self._model: Any = None

    @property
    def model(self) -> Any:
        if self._model is None:
            from engine.generate import load_model

            self._model = load_model(self.root, self.device)
        return self._model

    def base_truth(self) -> dict[str, Any]:
        cfg = self.manifest.config
        return {
            "project": self.label,
            "project_path": str(self.root.resolve()),
            "preset": cfg.name,
            "iterations_per_scale": cfg.iters_per_scale,
            "model_rate": cfg.fs,
        }

    def generated(self, g: GenerateSpec, i: int, trim_s: float) -> _Item:
        from engine.generate import generate, strength_label

        model = self.model
        seconds = g.seconds if g.seconds is not None else model.clip_seconds
        seed = g.seed + i
        y = generate(model, seconds=seconds, seed=seed, from_scale=g.from_scale, trim=False)
        y = _fade(_mono(y), model.fs, trim_s)
        truth = {
            "kind": GENERATED,
            "origin": "rendered for the study",
            **self.base_truth(),
            "seed": seed,
            "from_scale": g.from_scale,
            "strength": strength_label(g.from_scale, model.n_scales),
        }
        return _Item(y, model.fs, truth)

    def source_audio(self) -> tuple[np.ndarray, int] | None:
        """The source file (mono, own rate) when it still exists with the same content."""
        from engine.audio_io import read_audio

        src = self.manifest.source
        p = Path(str(src.get("path", "")))
        if not p.is_file():
            return None
        digest = src.get("sha256")
        if digest and sha256_file(p) != digest:
            return None
        audio, sr = read_audio(p)
        return _mono(audio), sr

    def real(self, length_s: float, rng: np.random.Generator,
             warn: Callable[[str], None]) -> list[_Item]:
        from engine.audio_io import resample

        sel = self.sel
        out: list[_Item] = []
        fs = self.fs
        src = self.manifest.source
        source = self.source_audio() if (sel.real_training or sel.real_other) else None

        def item(x: np.ndarray, sr: int, origin: str, start: float) -> _Item:
            y = np.asarray(resample(x, sr, fs), dtype=np.float32) if sr != fs else x
            truth = {
                "kind": REAL,
                "origin": origin,
                **self.base_truth(),
                "source_path": src.get("path") if origin != "clip.wav" else
                str(self.root.resolve() / "clip.wav"),
                "start": round(start, 4),
                "duration": round(x.shape[-1] / sr, 4),
            }
            return _Item(_fade(y, fs), fs, truth)

        sec_start = float(src.get("start", 0.0))
        if sel.real_training:
            if source is not None:
                x, sr = source
                a = int(round(sec_start * sr))
                b = min(x.shape[-1], a + int(round(float(src.get("duration", 0.0)) * sr)))
                section = x[a:b]
                origin = "training section"
            else:
                warn(f"The source file of {self.label} is gone or changed; the training-section "
                     "excerpts come from the project's clip.wav instead.")
                section, sr, a, origin = self.clip, fs, 0, "training section (clip.wav)"
                sec_start = float(src.get("start", 0.0))
            n = int(round(length_s * sr))
            starts = _windows(section.shape[-1], n, sel.real_training, None, rng)
            if not starts:
                starts, n = [0], section.shape[-1]
            if len(starts) < sel.real_training:
                warn(f"The training section of {self.label} holds only {len(starts)} excerpt(s) "
                     f"of {length_s:.1f} s; asked for {sel.real_training}.")
            for s in starts:
                out.append(item(section[s : s + n], sr, origin, sec_start + s / sr))
        if sel.real_other:
            if source is None:
                warn(f"The source file of {self.label} is gone or changed; no other sections "
                     "can be excerpted.")
            else:
                x, sr = source
                n = int(round(length_s * sr))
                a = int(round(sec_start * sr))
                b = a + int(round(float(src.get("duration", 0.0)) * sr))
                candidates = _windows(x.shape[-1], n, sel.real_other * 4, (a, b), rng)
                candidates = [s for s in candidates if np.max(np.abs(x[s : s + n])) > 1e-3]
                starts = sorted(candidates[: sel.real_other])
                if len(starts) < sel.real_other:
                    warn(f"The source file of {self.label} has only {len(starts)} other "
                         f"section(s) of {length_s:.1f} s with sound; asked for {sel.real_other}.")
                for s in starts:
                    out.append(item(x[s : s + n], sr, "other section", s / sr))
        if sel.real_clip:
            n = int(round(length_s * fs))
            starts = _windows(self.clip.shape[-1], n, sel.real_clip, None, rng) or [0]
            for s in starts[: sel.real_clip]:
                out.append(item(self.clip[s : s + n], fs, "clip.wav", sec_start + s / fs))
        return out


def _loudness_plan(items: list[_Item], target: float, max_drop: float, sr: int,
                   warn: Callable[[str], None]) -> float:
    """The common loudness: `target`, lowered (at most `max_drop` dB) so that nothing clips."""
    from engine.audio_io import integrated_loudness, peak

    headroom = []
    for it in items:
        lufs = integrated_loudness(it.audio, sr)
        if not math.isfinite(lufs) or lufs < -70.0 or peak(it.audio) < 1e-4:
            what = it.truth.get("origin", "stimulus")
            raise StudyError(f"A {it.truth['kind']} stimulus ({what}, {it.truth.get('project')}) "
                             "is silent; remove it from the study.")
        it.truth["source_lufs"] = round(lufs, 2)
        headroom.append(lufs + 20.0 * math.log10(0.99 / peak(it.audio)))
    common = min(target, min(headroom))
    if common < target - max_drop:
        common = target - max_drop
        warn(f"Some stimuli are very peaky; the common loudness is {common:.1f} LUFS and those "
             "stimuli were lowered further to avoid clipping.")
    return common


def iter_build_study(
    spec: StudySpec, out_dir: str | os.PathLike[str], *, cancel: object | None = None
) -> Iterator[BuildProgress | BuildFinished]:
    """Prepare the stimuli and write the study folder `out_dir` (which must not exist or be empty).

    The folder is assembled beside `out_dir` and moved into place at the end, so a failed or
    cancelled build leaves nothing behind. Stops early (StudyError) when `cancel.cancelled`.
    """
    from engine.audio_io import match_loudness, resample, save_audio

    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise StudyError(f"{out} already exists and is not empty; choose a new folder for the study.")
    questions = validate_questions(
        spec.questions if spec.questions is not None else default_questions())
    finals = validate_questions(
        spec.final_questions if spec.final_questions is not None else default_final_questions(),
        final=True)
    if spec.require_play not in REQUIRE_PLAY:
        raise StudyError(f"require_play must be one of {', '.join(REQUIRE_PLAY)}.")
    if not 0.0 <= spec.real_check_threshold <= 1.0:
        raise StudyError("The real-excerpt check threshold must be between 0 and 1.")
    if spec.trim_s < 0 or spec.trim_s > 2.0:
        raise StudyError("The edge trim must be between 0 and 2 seconds.")
    if spec.stimuli_per_rater is not None and spec.stimuli_per_rater < 1:
        raise StudyError("Each rater must hear at least one stimulus.")
    labels = [p.label or Path(p.path).resolve().name for p in spec.projects]
    if len(set(labels)) != len(labels):
        raise StudyError("Two projects have the same name; give them different labels.")
    for p in spec.projects:
        for g in p.generate:
            if g.count < 0:
                raise StudyError("The number of new variations cannot be negative.")
        if min(p.real_training, p.real_other, p.real_clip) < 0:
            raise StudyError("The number of real excerpts cannot be negative.")

    n_gen = sum(len(p.variation_files) + sum(g.count for g in p.generate) for p in spec.projects)
    n_gen += len(spec.variation_files)
    total = n_gen + len(spec.projects) + 2
    done = 0
    warnings: list[str] = []
    rng = np.random.default_rng(spec.seed)

    def check_cancel() -> None:
        if cancel is not None and getattr(cancel, "cancelled", False):
            raise StudyError("Building the study was cancelled.")

    def label_for_path(path: str) -> str:
        for sel, lab in zip(spec.projects, labels, strict=True):
            if Path(sel.path).resolve() == Path(path).resolve():
                return lab
        return Path(path).name

    sources = []
    for sel in spec.projects:
        yield BuildProgress(done, total, f"Opening project {Path(sel.path).name}")
        sources.append(_ProjectSource(sel, spec.device))
    items: list[_Item] = []
    for src in sources:
        for f in src.sel.variation_files:
            check_cancel()
            yield BuildProgress(done, total, f"Reading {Path(f).name}")
            items.append(_generated_from_file(Path(f), src.label, spec.trim_s, label_for_path))
            done += 1
        for g in src.sel.generate:
            for i in range(g.count):
                check_cancel()
                yield BuildProgress(done, total, f"Rendering variation {i + 1} of {g.count} from "
                                                 f"{src.label} (seed {g.seed + i})")
                items.append(src.generated(g, i, spec.trim_s))
                done += 1
    for f in spec.variation_files:
        check_cancel()
        yield BuildProgress(done, total, f"Reading {Path(f).name}")
        items.append(_generated_from_file(Path(f), None, spec.trim_s, label_for_path))
        done += 1

    gen_seconds = [it.audio.shape[-1] / it.sr for it in items]
    for src in sources:
        check_cancel()
        yield BuildProgress(done, total, f"Cutting real excerpts from {src.label}")
        if spec.excerpt_seconds is not None:
            length = float(spec.excerpt_seconds)
        else:
            own = [it.audio.shape[-1] / it.sr for it in items
                   if it.truth.get("project") == src.label and it.truth["kind"] == GENERATED]
            pool = own or gen_seconds
            length = float(np.median(pool)) if pool else min(4.0, src.clip.shape[-1] / src.fs)
        if length <= 0.1:
            raise StudyError("Real excerpts must be longer than 0.1 s.")
        items.extend(src.real(length, rng, warnings.append))
        done += 1
    if not items:
        raise StudyError("The study has no stimuli; add variations or real excerpts.")
    if not any(it.truth["kind"] == REAL for it in items):
        warnings.append("The study has no real excerpts, so raters cannot be checked against them.")

    # one common, standard rate for every file: the file rate gives nothing away and every sound
    # card plays it, while each stimulus keeps the bandwidth of its model's working rate
    rate = max(int(it.truth.get("model_rate") or it.sr) for it in items)
    rate = max(rate, max(it.sr for it in items), PLAYBACK_RATE)
    for it in items:
        if it.sr != rate:
            it.audio = np.asarray(resample(it.audio, it.sr, rate), dtype=np.float32)
            it.sr = rate
    check_cancel()
    yield BuildProgress(done, total, "Matching loudness")
    common = _loudness_plan(items, spec.target_lufs, spec.max_target_drop_db, rate,
                            warnings.append)
    done += 1

    order = rng.permutation(len(items))
    width = max(2, len(str(len(items))))
    stimuli = []
    out.parent.mkdir(parents=True, exist_ok=True)
    check_writable_dir(out.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    try:
        (tmp / STIMULI_DIR).mkdir()
        for n, idx in enumerate(order, 1):
            check_cancel()
            it = items[int(idx)]
            code = f"s{n:0{width}d}"
            y = match_loudness(it.audio, rate, common)
            rel = f"{STIMULI_DIR}/{code}.wav"
            save_audio(tmp / rel, y, rate, subtype="PCM_24")
            from engine.audio_io import integrated_loudness

            it.truth["lufs"] = round(integrated_loudness(y, rate), 2)
            it.truth["condition"] = condition_of(it.truth)
            stimuli.append({
                "code": code,
                "file": rel,
                "sha256": sha256_file(tmp / rel),
                "seconds": round(y.shape[-1] / rate, 4),
                "truth": it.truth,
            })
        yield BuildProgress(done, total, "Writing study.json")
        order_seed = spec.order_seed if spec.order_seed is not None else int(
            np.random.default_rng(spec.seed + 1).integers(0, 2**31 - 1))
        per_rater = spec.stimuli_per_rater
        if per_rater is not None and per_rater > len(stimuli):
            warnings.append(f"Each rater was to hear {per_rater} stimuli but the study has only "
                            f"{len(stimuli)}; every rater hears all of them.")
            per_rater = None
        data = {
            "format": STUDY_FORMAT,
            "format_version": STUDY_FORMAT_VERSION,
            "engine_version": ENGINE_VERSION,
            "id": uuid.uuid4().hex,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "title": spec.title.strip() or "Listening study",
            "instructions": spec.instructions,
            "settings": {
                "stimuli_per_rater": per_rater,
                "require_play": spec.require_play,
                "sample_rate": rate,
                "target_lufs": spec.target_lufs,
                "common_lufs": round(common, 2),
                "trim_s": spec.trim_s,
                "order_seed": order_seed,
                "real_check_threshold": spec.real_check_threshold,
            },
            "questions": questions,
            "final_questions": finals,
            "stimuli": stimuli,
            "build": {"spec": spec_to_dict(spec), "warnings": warnings},
        }
        atomic_write_json(tmp / STUDY_FILE, data)
        _share_permissions(tmp)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    done = total
    yield BuildProgress(done, total, f"Built {len(stimuli)} stimuli")
    yield BuildFinished(Study.load(out), tuple(warnings))


def _share_permissions(folder: Path) -> None:
    """Temporary files and folders are private (0600/0700); give the study normal permissions."""
    mask = os.umask(0)
    os.umask(mask)
    for p in [folder, *folder.rglob("*")]:
        with contextlib.suppress(OSError):
            p.chmod((0o777 if p.is_dir() else 0o666) & ~mask)


def build_study(spec: StudySpec, out_dir: str | os.PathLike[str]) -> Study:
    """Build without progress reports (see iter_build_study)."""
    result: Study | None = None
    for ev in iter_build_study(spec, out_dir):
        if isinstance(ev, BuildFinished):
            result = ev.study
    assert result is not None
    return result


# --------------------------------------------------------------------------------------------
# A study folder
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stimulus:
    code: str  # the neutral code raters never see beyond "Sample n of N"
    file: str  # path inside the study folder
    sha256: str
    seconds: float
    truth: dict[str, Any]  # hidden: kind, condition, project, preset, seed, strength...

    @property
    def kind(self) -> str:
        return str(self.truth.get("kind"))

    @property
    def condition(self) -> str:
        return str(self.truth.get("condition") or condition_of(self.truth))


def rater_slug(name: str) -> str:
    """A file-name-safe version of a rater's name or code, lower case ("Anna" = "anna") so that
    it names the same file on case-insensitive file systems too."""
    return re.sub(r"[^a-z0-9._-]+", "-", name.strip().lower()).strip("-.")[:60]


class Study:
    """A loaded study folder (read-only apart from its sessions/ folder)."""

    def __init__(self, root: Path, data: dict[str, Any]) -> None:
        self.root = root
        self.data = data
        self.questions: list[dict[str, Any]] = data["questions"]
        self.final_questions: list[dict[str, Any]] = data["final_questions"]
        self.stimuli: list[Stimulus] = [
            Stimulus(s["code"], s["file"], s["sha256"], float(s["seconds"]), dict(s["truth"]))
            for s in data["stimuli"]
        ]
        self._by_code = {s.code: s for s in self.stimuli}

    @classmethod
    def load(cls, root: str | os.PathLike[str], *, verify_audio: bool = True) -> Study:
        r = Path(root)
        path = r / STUDY_FILE
        if not r.is_dir():
            raise StudyError(f"No study at {r}: the folder does not exist.")
        if not path.is_file():
            raise StudyError(f"{r} is not a study folder (no {STUDY_FILE}).")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise StudyError(f"The study file {path} is damaged: {exc}.") from exc
        if not isinstance(data, dict) or data.get("format") != STUDY_FORMAT:
            raise StudyError(f"{path} is not a Songwriter Assistant study file.")
        version = data.get("format_version")
        if not isinstance(version, int) or version > STUDY_FORMAT_VERSION:
            raise StudyError(
                f"The study at {r} was made by a newer version of Songwriter Assistant (study "
                f"format {version}, this version reads up to {STUDY_FORMAT_VERSION}); please update."
            )
        try:
            data["questions"] = validate_questions(data["questions"])
            data["final_questions"] = validate_questions(data.get("final_questions", []),
                                                         final=True)
            settings = data["settings"]
            if settings.get("require_play", "none") not in REQUIRE_PLAY:
                raise StudyError(f"{path}: require_play must be one of {', '.join(REQUIRE_PLAY)}.")
            codes = [s["code"] for s in data["stimuli"]]
            for s in data["stimuli"]:
                if s["truth"].get("kind") not in (REAL, GENERATED):
                    raise StudyError(f"{path}: stimulus {s['code']} is neither real nor generated.")
            study = cls(r, data)
        except StudyError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise StudyError(f"The study file {path} is damaged: {exc!r}.") from exc
        if len(set(codes)) != len(codes) or not codes:
            raise StudyError(f"The study file {path} is damaged: stimulus codes are missing or "
                             "repeated.")
        if verify_audio:
            for s in study.stimuli:
                p = study.audio_path(s.code)
                if not p.is_file():
                    raise StudyError(f"The study is incomplete: {s.file} is missing.")
                if sha256_file(p) != s.sha256:
                    raise StudyError(f"The study's audio file {s.file} was changed after the study "
                                     "was built.")
        return study

    # --- properties
    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def title(self) -> str:
        return str(self.data.get("title", "Listening study"))

    @property
    def instructions(self) -> str:
        return str(self.data.get("instructions", ""))

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.data["settings"])

    @property
    def require_play(self) -> str:
        return str(self.data["settings"].get("require_play", "none"))

    @property
    def sessions_dir(self) -> Path:
        return self.root / SESSIONS_DIR

    def stimulus(self, code: str) -> Stimulus:
        try:
            return self._by_code[code]
        except KeyError:
            raise StudyError(f"The study has no stimulus {code!r}.") from None

    def audio_path(self, code: str) -> Path:
        return self.root / self.stimulus(code).file

    def load_audio(self, code: str) -> tuple[np.ndarray, int]:
        """A stimulus as mono float32 and its rate; the error never names the file."""
        import soundfile as sf

        try:
            data, sr = sf.read(str(self.audio_path(code)), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
            raise StudyError(
                f"Sample {code} cannot be read; the study folder may be incomplete ({exc})."
            ) from exc
        return np.ascontiguousarray(data.mean(axis=1), dtype=np.float32), int(sr)

    # --- sessions
    def session_path(self, rater: str) -> Path:
        slug = rater_slug(rater)
        if not slug:
            raise StudyError("Enter a name or code for the rater (letters or digits).")
        return self.sessions_dir / f"{slug}.json"

    def session_files(self) -> list[Path]:
        if not self.sessions_dir.is_dir():
            return []
        return sorted(p for p in self.sessions_dir.glob("*.json") if not p.name.startswith("."))

    def has_session(self, rater: str) -> bool:
        return self.session_path(rater).is_file()

    def open_session(self, rater: str, **kw: Any) -> Session:
        """Resume the rater's session if it exists, else start a new one (written at once)."""
        path = self.session_path(rater)
        if path.exists():
            s = Session.load(self, path, **kw)
            if s.rater.casefold() != rater.strip().casefold():
                raise StudyError(
                    f"The session file {path.name} belongs to rater {s.rater!r}; choose another "
                    "name or code."
                )
            return s
        return Session.create(self, rater, **kw)

    def load_sessions(self, extra: Iterable[str | os.PathLike[str]] = ()) -> list[Session]:
        """All sessions in sessions/ plus `extra` files (e.g. copied from other machines).

        The same session (same id) found twice is counted once: the copy with more answers wins.
        """
        found: dict[str, Session] = {}
        for p in [*self.session_files(), *[Path(e) for e in extra]]:
            s = Session.load(self, p, read_only=True)
            old = found.get(s.session_id)
            if old is None or s.n_answered > old.n_answered:
                found[s.session_id] = s
        return sorted(found.values(), key=lambda s: (s.rater.lower(), s.data.get("started", "")))

    def order_for(self, rater: str) -> tuple[int, list[str]]:
        """The rater's order seed and stimulus order (a stratified subset when asked)."""
        base = int(self.data["settings"].get("order_seed", 0))
        digest = hashlib.sha256(f"{base}:{rater_slug(rater)}".encode()).hexdigest()
        seed = int(digest[:8], 16)
        rng = np.random.default_rng(seed)
        codes = [s.code for s in self.stimuli]
        n = self.data["settings"].get("stimuli_per_rater") or len(codes)
        n = min(int(n), len(codes))
        if n < len(codes):
            real = [s.code for s in self.stimuli if s.kind == REAL]
            by_cond: dict[str, list[str]] = {}
            for s in self.stimuli:
                if s.kind != REAL:
                    by_cond.setdefault(s.condition, []).append(s.code)
            n_real = min(len(real), round(n * len(real) / len(codes)))
            if real and n_real == 0:
                n_real = 1
            rng.shuffle(real)
            # generated: round-robin over conditions so each gets its share
            lists = [list(rng.permutation(v)) for _, v in sorted(by_cond.items())]
            rng.shuffle(lists)
            gen: list[str] = []
            while any(lists):
                for lst in lists:
                    if lst:
                        gen.append(str(lst.pop()))
            n_gen = min(len(gen), n - n_real)
            n_real = n - n_gen
            codes = real[:n_real] + gen[:n_gen]
        order = [str(c) for c in rng.permutation(codes)]
        return seed, order


# --------------------------------------------------------------------------------------------
# A rater's session
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Results: one row per (rater, stimulus)
# --------------------------------------------------------------------------------------------

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
