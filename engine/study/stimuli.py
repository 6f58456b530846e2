"""The stimuli of a study: generated ones (variation files with their sidecars, or renders from a
trained project, bridge and ending takes in context) and real excerpts (the training sections,
other sections of the source file, clip.wav), each with its hidden truth, in the study's
channels (`study_channels`). engine.study.build loudness-matches, blinds and writes them.

Like build, it renders and resamples audio and so imports torch; the rater's path does not
import it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.audio.io import (
    read_audio,
    resample,
    to_mono,
    trim_and_fade,
)
from engine.errors import EngineError
from engine.fileutil import same_file, sha256_file
from engine.generation.render import generate, project_model
from engine.project import Project, RenderRecipe
from engine.project.checkpoint import load_clip_signal
from engine.project.section import SourceStatus
from engine.study.layout import (
    GENERATED,
    REAL,
    StudyError,
)
from engine.study.spec import GenerateSpec, ProjectSelection, StudySpec, read_sidecar


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
                              for t in lay.sections if same_file(t.path, here)]
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

