"""A study folder as built: its stimuli (with their hidden truth), settings and rater orders.

`Study.load` checks the format version, the question sets and (unless asked not to) the audio
checksums; the stimuli are played from here by the rater window. Sessions live in
engine.study.session; `Study.open_session` and `Study.load_sessions` are the ways in.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.fileutil import sha256_file
from engine.study.layout import (
    GENERATED,
    REAL,
    SESSIONS_DIR,
    STUDY_FILE,
    STUDY_FORMAT,
    STUDY_FORMAT_VERSION,
    StudyError,
)
from engine.study.questions import REQUIRE_PLAY, validate_questions

if TYPE_CHECKING:
    from engine.study.session import Session


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
        """A stimulus as float32, [T] (mono) or [2, T] (a stereo study), and its rate; the error
        never names the file."""
        import soundfile as sf

        try:
            data, sr = sf.read(str(self.audio_path(code)), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
            raise StudyError(
                f"Sample {code} cannot be read; the study folder may be incomplete ({exc})."
            ) from exc
        audio = data.T if data.shape[1] == 2 else data.mean(axis=1)
        return np.ascontiguousarray(audio, dtype=np.float32), int(sr)

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
        from engine.study.session import Session  # session.py imports this module

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
        from engine.study.session import Session

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
