"""What a study author chooses (StudySpec and its parts) and the variation files a project offers.

Plain data and file look-ups, no audio: engine.study.build turns a StudySpec into a study folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.study.layout import StudyError
from engine.study.questions import DEFAULT_INSTRUCTIONS


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

    engine.generation.render writes flat sidecars; the project variation store nests the record under
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
