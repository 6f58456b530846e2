"""Building a study: collect stimuli, loudness-match them, blind them and write the folder.

The only module of engine.study that renders or resamples audio, and so the only one that
imports torch (through engine.audio.io, engine.project.checkpoint and engine.generation.render); the rater's
path (questions, folder, session, results, stats) stays light.

`iter_build_study` collects generated variations (existing wav files with JSON sidecars, or new
ones rendered from trained projects) and real excerpts (the training section and other sections
of the source file, or the project's clip.wav), prepares them as the original study did by hand
(mono, one common rate, trimmed generated edges, one common loudness) and writes the folder.

Bridge and ending takes (projects trained with a gap) are judged in context: the stimulus is
the stitched whole, A + take + B (an ending: A + take), since a filled gap alone says little
about whether it belongs between its neighbours; raters hear the seams as a listener would.
- A take-alone file (the CLI's `*_take.wav`, an export's `*_take-alone.*`) is replaced by its
  stitched file beside it (with a warning), or refused with words when there is none.
- Takes are not edge-trimmed: their edges are real audio (A's start, B's end), not the
  generator's padded edges; only the short fades apply.
- New material rendered for a study from a gap project is takes (seeds as asked), not free
  material from the masked layout.
- The hidden truth keeps the take's mode, gap and seam positions in the stimulus's own time.
- Real excerpts of a layout project come from all its sections (their source files when
  unchanged, else clip.wav), never from the silent gap or a masked junction, and "other
  sections" of a file avoid every section trained on.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine import ENGINE_VERSION
from engine.audio.io import (
    integrated_loudness,
    match_loudness,
    peak,
    read_audio,
    resample,
    save_audio,
    to_mono,
    trim_and_fade,
)
from engine.errors import EngineError
from engine.fileutil import atomic_write_json, check_writable_dir, sha256_file
from engine.generation.render import generate, project_model
from engine.project import Project, RenderRecipe
from engine.project.checkpoint import load_clip_signal
from engine.project.section import SourceStatus
from engine.study.folder import Study, condition_of
from engine.study.layout import (
    GENERATED,
    PLAYBACK_RATE,
    REAL,
    STIMULI_DIR,
    STUDY_FILE,
    STUDY_FORMAT,
    STUDY_FORMAT_VERSION,
    StudyError,
)
from engine.study.questions import (
    REQUIRE_PLAY,
    default_final_questions,
    default_questions,
    validate_questions,
)
from engine.study.spec import GenerateSpec, ProjectSelection, StudySpec, read_sidecar, spec_to_dict


@dataclass(frozen=True)
class BuildProgress:
    done: int  # steps finished
    total: int  # steps in all
    message: str  # what is happening, in words


@dataclass(frozen=True)
class BuildFinished:
    study: Study
    warnings: tuple[str, ...]


@dataclass
class _Item:
    audio: np.ndarray  # [T] (a mono study) or [2, T] (a stereo study: study_channels) float32
    sr: int  # rate of `audio`
    truth: dict[str, Any]  # hidden truth for study.json


def _fade(x: np.ndarray, sr: int, trim_s: float = 0.0) -> np.ndarray:
    return trim_and_fade(x, sr, trim_s=trim_s)


def _channels(x: np.ndarray, channels: int) -> np.ndarray:
    """[T] or [C, T] -> the study's channels: [T] (the mean of the channels) when the study is
    mono, [2, T] when it is stereo (a mono signal on both channels)."""
    if channels == 1:
        return np.asarray(to_mono(x), dtype=np.float32)
    a = np.asarray(x, dtype=np.float32)
    if a.ndim == 2 and a.shape[0] == 2:
        return a
    m = np.asarray(to_mono(a), dtype=np.float32)
    return np.stack([m, m])


def study_channels(spec: StudySpec) -> int:
    """2 when every generated stimulus will be stereo (every project trained in stereo, every
    variation file stereo), else 1: all stimuli then share their channel count, so it cannot
    give a generated one away (a stereo real excerpt beside a mono variation would)."""
    import soundfile as sf

    from engine.project.checkpoint import read_manifest

    files = [Path(f) for p in spec.projects for f in p.variation_files] + \
        [Path(f) for f in spec.variation_files]
    try:
        if any(read_manifest(p.path).audio_channels != 2 for p in spec.projects):
            return 1
        if any(sf.info(str(_stitched_for(f) or f)).channels != 2 for f in files):
            return 1
    except (EngineError, OSError, RuntimeError, sf.LibsndfileError):
        return 1  # the build itself says what is wrong
    return 2 if spec.projects or files else 1


TAKE_ALONE = ("take", "take alone")  # sidecar "what" of a take written without its context


def _stitched_for(path: Path) -> Path | None:
    """The stitched file written beside a take-alone file, when there is one: the CLI's
    MODE_seedN_take.wav -> MODE_seedN_stitched.wav, an export's NAME_take-alone.EXT ->
    NAME.EXT (any audio extension)."""
    stem = path.stem
    names = []
    if stem.endswith("_take"):
        names.append(stem[: -len("_take")] + "_stitched")
    if stem.endswith("_take-alone"):
        names.append(stem[: -len("_take-alone")])
    for name in names:
        for ext in (path.suffix, ".wav", ".flac"):
            cand = path.with_name(name + ext)
            if cand.is_file():
                return cand
    return None


def _take_truth(side: dict[str, Any], cut_s: float, length_s: float) -> dict[str, Any] | None:
    """A take's mode, gap and seams (seconds into the stimulus, after `cut_s` was trimmed from
    its start) from its flattened sidecar; None when the file is not a bridge or ending take."""
    seams = side.get("seams")
    recipe = side.get("recipe")
    if not isinstance(seams, dict) or not seams.get("take"):
        return None
    mode = recipe.get("mode") if isinstance(recipe, dict) else None
    sr = float(seams.get("sample_rate") or 0) or None
    in_file = side.get("seams_in_file_s")  # an export: already in the exported file's time
    if not isinstance(in_file, list):
        in_file = list(seams.get("seams_s") or [])
    a, b = seams["take"]
    return {
        "mode": mode,
        "gap_s": round((b - a) / sr, 6) if sr else None,
        "seams_s": [round(t - cut_s, 6) for t in in_file if 0.0 <= t - cut_s <= length_s],
        "in_context": True,
    }


def _generated_from_file(
    path: Path, label: str | None, trim_s: float, project_label: Callable[[str], str],
    warn: Callable[[str], None] | None = None, channels: int = 1,
) -> _Item:
    import soundfile as sf

    if not path.is_file():
        raise StudyError(f"The variation file {path} does not exist.")
    side = read_sidecar(path)
    if side.get("what") in TAKE_ALONE:
        stitched = _stitched_for(path)
        if stitched is None:
            raise StudyError(f"{path.name} is a take alone; a study plays a take in context "
                             "(A, the take, B): add its stitched file instead.")
        if warn is not None:
            warn(f"{path.name} is a take alone; the study plays its stitched file "
                 f"{stitched.name} (A, the take, B) instead.")
        path = stitched
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
    is_take = isinstance(side.get("seams"), dict) and bool(side["seams"].get("take"))
    cut = 0.0 if is_take else max(0.0, trim_s - already)  # a take's edges are real audio
    x = _fade(_channels(audio, channels), sr, cut)
    if cut and x.shape[-1] == audio.shape[-1]:
        cut = 0.0  # too short to trim: trim_and_fade left it whole
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
    take = _take_truth(side, cut, x.shape[-1] / sr) if is_take else None
    if take is not None:
        truth["take"] = take
    return _Item(x, sr, truth)


def _windows(total: int, length: int, count: int,
             avoid: tuple[int, int] | list[tuple[int, int]] | None,
             rng: np.random.Generator) -> list[int]:
    """Up to `count` non-overlapping window starts of `length` samples, outside `avoid` (one
    span or several)."""
    if length <= 0 or total < length:
        return []
    spans = [] if avoid is None else [avoid] if isinstance(avoid, tuple) else list(avoid)
    step = max(1, length // 4)
    starts = [s for s in range(0, total - length + 1, step)
              if all(s + length <= a or s >= b for a, b in spans)]
    rng.shuffle(starts)
    chosen: list[int] = []
    for s in starts:
        if all(abs(s - c) >= length for c in chosen):
            chosen.append(s)
        if len(chosen) == count:
            break
    return sorted(chosen)


class _ProjectSource:
    """One open `Project` of the study: its model (loaded on demand), clip and source audio."""

    def __init__(self, sel: ProjectSelection, device: str, channels: int = 1) -> None:
        self.sel = sel
        self.project = Project.open(sel.path)
        self.root = self.project.root
        self.manifest = self.project.manifest
        self.label = sel.label or self.root.resolve().name
        self.device = device
        self.clip, self.fs = load_clip_signal(self.root)
        self.channels = channels
        self.clip = _channels(self.clip, channels)

    @property
    def model(self) -> Any:
        return project_model(self.project, self.device)

    def base_truth(self) -> dict[str, Any]:
        cfg = self.manifest.config
        return {
            "project": self.label,
            "project_path": str(self.root.resolve()),
            "preset": cfg.name,
            "iterations_per_scale": cfg.iters_per_scale,
            "model_rate": cfg.fs,
        }

    @property
    def gap_layout(self) -> Any:
        """The layout of a bridge or ending project (None for any other)."""
        lay = self.manifest.layout
        return lay if lay is not None and lay.gap_span is not None else None

    def generated(self, g: GenerateSpec, i: int, trim_s: float) -> _Item:
        if self.gap_layout is not None:
            return self.take(g.seed + i)
        model = self.model
        seconds = g.seconds if g.seconds is not None else model.clip_seconds
        seed = g.seed + i
        y = generate(model, seconds=seconds, seed=seed, from_scale=g.from_scale, trim=False)
        y = _fade(_channels(y, self.channels), model.fs, trim_s)
        truth = {
            "kind": GENERATED,
            "origin": "rendered for the study",
            **self.base_truth(),
            "seed": seed,
            "from_scale": g.from_scale,
            "strength": RenderRecipe.of(seed, seconds, g.from_scale, model.n_scales).label,
        }
        return _Item(y, model.fs, truth)

    def take(self, seed: int) -> _Item:
        """A new bridge or ending take, stitched (A + take + B): judged in context, untrimmed
        (its edges are real audio)."""
        from engine.generation.takes import render_take

        lay = self.gap_layout
        recipe = RenderRecipe.take(lay.mode, seed, lay.gap_seconds,
                                   n_scales=self.project.scales_done)
        t = render_take(self.model, recipe)
        y = _fade(_channels(t.stitched, self.channels), t.sample_rate)
        side = {"seams": t.sidecar(), "recipe": recipe.to_dict()}
        truth = {
            "kind": GENERATED,
            "origin": "rendered for the study",
            **self.base_truth(),
            "seed": seed,
            "from_scale": None,
            "strength": recipe.label,
            "take": _take_truth(side, 0.0, y.shape[-1] / t.sample_rate),
        }
        return _Item(y, t.sample_rate, truth)

    def layout_sections(self) -> list[tuple[np.ndarray, int, float, str, str]]:
        """A layout project's sections as real audio: (mono audio, rate, start in its file,
        file, origin) each, from its source file when that is unchanged, else its span of
        clip.wav less any masked junction."""
        lay = self.manifest.layout
        spans = dict(zip(range(len(lay.sections)), lay.real_spans(), strict=False)) \
            if len(lay.real_spans()) == len(lay.sections) else {}
        out = []
        for i, sec in enumerate(lay.sections):
            audio = None
            try:
                if Path(sec.path).is_file() and (not sec.sha256 or
                                                 sha256_file(sec.path) == sec.sha256):
                    x, sr = read_audio(sec.path)
                    x = _channels(x, self.channels)
                    a = int(round(sec.start * sr))
                    audio = (x[..., a : a + int(round(sec.duration * sr))], sr, sec.start,
                             sec.path, "training section")
            except (OSError, RuntimeError, ValueError, EngineError):
                audio = None  # unreadable now: the project's copy stands in
            if audio is None:
                a, b = spans.get(i, (sec.offset, sec.end_sample))
                audio = (self.clip[..., a:b], self.fs, sec.start + (a - sec.offset) / self.fs,
                         str(self.root.resolve() / "clip.wav"), "training section (clip.wav)")
            out.append(audio)
        return out

    def source_audio(self) -> tuple[np.ndarray, int] | None:
        """The source file (the study's channels, own rate) when it still exists with the same
        content."""
        section = self.project.section
        if section.status() not in (SourceStatus.UNCHANGED, SourceStatus.UNKNOWN):
            return None
        audio, sr = read_audio(section.path)
        return _channels(audio, self.channels), sr

    def real(self, length_s: float, rng: np.random.Generator,
             warn: Callable[[str], None]) -> list[_Item]:
        sel = self.sel
        out: list[_Item] = []
        fs = self.fs
        src = self.manifest.source
        source = self.source_audio() if (sel.real_training or sel.real_other) else None

        lay = self.manifest.layout

        def item(x: np.ndarray, sr: int, origin: str, start: float,
                 path: str | None = None) -> _Item:
            y = np.asarray(resample(x, sr, fs), dtype=np.float32) if sr != fs else x
            truth = {
                "kind": REAL,
                "origin": origin,
                **self.base_truth(),
                "source_path": path if path is not None else src.get("path")
                if origin != "clip.wav" else str(self.root.resolve() / "clip.wav"),
                "start": round(start, 4),
                "duration": round(x.shape[-1] / sr, 4),
            }
            return _Item(_fade(y, fs), fs, truth)

        def spread(parts: list[tuple[np.ndarray, int, float, str, str]], count: int,
                   what: str) -> None:
            """`count` excerpts taken in turn from each part (a layout's sections or real
            spans); a part shorter than the excerpt gives itself whole."""
            per = [count // len(parts) + (1 if j < count % len(parts) else 0)
                   for j in range(len(parts))]
            got = 0
            for (x, sr, start, path, origin), k in zip(parts, per, strict=True):
                n = int(round(length_s * sr))
                starts = _windows(x.shape[-1], n, k, None, rng) if k else []
                if k and not starts and x.shape[-1]:
                    starts, n = [0], x.shape[-1]
                for s in starts:
                    out.append(item(x[..., s : s + n], sr, origin, start + s / sr, path))
                    got += 1
            if got < count:
                warn(f"The {what} of {self.label} hold only {got} excerpt(s) of "
                     f"{length_s:.1f} s; asked for {count}.")

        sec_start = float(src.get("start", 0.0))
        if sel.real_training and lay is not None:
            parts = self.layout_sections()
            if any(origin.endswith("(clip.wav)") for *_, origin in parts):
                warn(f"A source file of {self.label} is gone or changed; its training-section "
                     "excerpts come from the project's clip.wav instead.")
            spread(parts, sel.real_training, "training sections")
        elif sel.real_training:
            if source is not None:
                x, sr = source
                a = int(round(sec_start * sr))
                b = min(x.shape[-1], a + int(round(float(src.get("duration", 0.0)) * sr)))
                section = x[..., a:b]
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
                out.append(item(section[..., s : s + n], sr, origin, sec_start + s / sr))
        if sel.real_other:
            if source is None:
                warn(f"The source file of {self.label} is gone or changed; no other sections "
                     "can be excerpted.")
            else:
                x, sr = source
                n = int(round(length_s * sr))
                a = int(round(sec_start * sr))
                b = a + int(round(float(src.get("duration", 0.0)) * sr))
                avoid = [(a, b)]
                if lay is not None:  # every section trained on that is in this file
                    here = self.project.section.path
                    avoid += [(int(round(t.start * sr)),
                               int(round((t.start + t.duration) * sr)))
                              for t in lay.sections if _same_file(t.path, here)]
                candidates = _windows(x.shape[-1], n, sel.real_other * 4, avoid, rng)
                candidates = [s for s in candidates if np.max(np.abs(x[..., s : s + n])) > 1e-3]
                starts = sorted(candidates[: sel.real_other])
                if len(starts) < sel.real_other:
                    warn(f"The source file of {self.label} has only {len(starts)} other "
                         f"section(s) of {length_s:.1f} s with sound; asked for {sel.real_other}.")
                for s in starts:
                    out.append(item(x[..., s : s + n], sr, "other section", s / sr))
        if sel.real_clip and lay is not None:
            # real audio only: never the silent gap or a masked junction
            clip_path = str(self.root.resolve() / "clip.wav")
            parts = []
            for a, b in lay.real_spans():
                sec = next((t for t in lay.sections if t.offset <= a < t.end_sample), None)
                start = sec.start + (a - sec.offset) / fs if sec is not None else a / fs
                parts.append((self.clip[..., a:b], fs, start, clip_path, "clip.wav"))
            spread(parts, sel.real_clip, "real parts of clip.wav")
        elif sel.real_clip:
            n = int(round(length_s * fs))
            starts = _windows(self.clip.shape[-1], n, sel.real_clip, None, rng) or [0]
            for s in starts[: sel.real_clip]:
                out.append(item(self.clip[..., s : s + n], fs, "clip.wav", sec_start + s / fs))
        return out


def _same_file(a: Any, b: Any) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return str(a) == str(b)


def _loudness_plan(items: list[_Item], target: float, max_drop: float, sr: int,
                   warn: Callable[[str], None]) -> float:
    """The common loudness: `target`, lowered (at most `max_drop` dB) so that nothing clips."""
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

    channels = study_channels(spec)
    sources = []
    for sel in spec.projects:
        yield BuildProgress(done, total, f"Opening project {Path(sel.path).name}")
        sources.append(_ProjectSource(sel, spec.device, channels))
    items: list[_Item] = []
    for src in sources:
        for f in src.sel.variation_files:
            check_cancel()
            yield BuildProgress(done, total, f"Reading {Path(f).name}")
            items.append(_generated_from_file(Path(f), src.label, spec.trim_s, label_for_path,
                                               warnings.append, channels))
            done += 1
        taken: set[int] = set()  # a gap project's take seeds: the same seed, the same take
        gap = src.gap_layout
        if gap is not None and any(g.from_scale is not None or g.seconds is not None
                                   for g in src.sel.generate):
            warnings.append(f"{src.label} is a {gap.mode} project: its new material is takes "
                            f"filling its {gap.gap_seconds:g} s gap; strengths and lengths do "
                            "not apply to them.")
        for g in src.sel.generate:
            for i in range(g.count):
                check_cancel()
                if gap is not None and g.seed + i in taken:
                    warnings.append(f"Seed {g.seed + i} of {src.label} was asked for twice; "
                                    "its take is in the study once.")
                    done += 1
                    continue
                taken.add(g.seed + i)
                yield BuildProgress(done, total, f"Rendering variation {i + 1} of {g.count} from "
                                                 f"{src.label} (seed {g.seed + i})")
                items.append(src.generated(g, i, spec.trim_s))
                done += 1
    for f in spec.variation_files:
        check_cancel()
        yield BuildProgress(done, total, f"Reading {Path(f).name}")
        items.append(_generated_from_file(Path(f), None, spec.trim_s, label_for_path,
                                           warnings.append, channels))
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
                "channels": channels,
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
