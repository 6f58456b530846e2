"""Export variations for a DAW: trimmed, faded, loudness-matched files with JSON sidecars.

Two steps so a front end can ask before anything is replaced:

    plan = plan_export(project, records, options)    # names every target; lists conflicts
    for result in export_variations(project, plan, on_conflict="error"):  # writes
        ...

Nothing is ever overwritten silently: with on_conflict="error" (the default) an
ExportConflictError listing the existing files is raised before the first write;
"overwrite", "keep-both" (a numbered name) and "skip" are the other answers.

A bridge or ending take exports as the stitched whole (part="whole", A + take + B, like any
variation) or as the take alone (part="take"): the span between its seams, cut from the stitched
whole without the edge trim (its edges are seams, not the generator's padded edges), at the
level the stitched whole gets in the same export, so A, the take and B line up in a DAW.
"""

from __future__ import annotations

import math
import os
import re
import string
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from engine import ENGINE_VERSION
from engine.audio.io import integrated_loudness, match_loudness, resample, save_audio, trim_and_fade
from engine.errors import ConfigError, OutputError
from engine.fileutil import atomic_write_json, check_writable_dir
from engine.project import Project, RenderRecipe
from engine.project.section import SourceStatus
from engine.project.variations import VariationRecord

ProjectLike = Project | str | os.PathLike[str]

FORMATS = ("wav", "flac")
BIT_DEPTHS = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT"}
RATES = ("working", "original")
CONFLICT_POLICIES = ("error", "overwrite", "keep-both", "skip")
PARTS = ("whole", "take")  # a take's stitched whole, or the take alone
TAKE_SUFFIX = "_take-alone"  # appended to a take-alone file's name
DEFAULT_PATTERN = "{clip}_{strength}_seed{seed}"
PATTERN_FIELDS = {
    "clip": "name of the source file, without extension",
    "seed": "the variation's seed",
    "strength": "far / loose / close / very-close / free",
    "scale": "kept scale (k0, k1 ...) or 'free'",
    "id": "variation id in the project (v0001 ...)",
    "index": "position in this export, 1, 2, ...",
    "rating": "rating 0-10, or 'unrated'",
    "preset": "training preset",
    "date": "today as YYYYMMDD",
}
SILENT_LUFS = -70.0  # a variation quieter than this is not boosted to the target


class ExportConflictError(OutputError):
    """Some target files already exist; `paths` lists them. Nothing was written."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = list(paths)
        names = ", ".join(p.name for p in self.paths[:3])
        more = f" and {len(self.paths) - 3} more" if len(self.paths) > 3 else ""
        super().__init__(
            f"{len(self.paths)} file(s) already exist in {self.paths[0].parent}: {names}{more}."
        )


@dataclass(frozen=True)
class ExportOptions:
    """How to export. Every field has the default a songwriter would want."""

    folder: Path  # where the files go (created if needed)
    fmt: str = "wav"  # "wav" or "flac"
    bit_depth: str = "24"  # "16", "24" or "float" (wav only)
    rate: str = "working"  # "working" (the project's rate) or "original" (the source file's)
    trim_ms: float = 200.0  # cut from both edges (the generator's padding artefacts)
    fade_ms: float = 10.0  # linear fade in/out after trimming
    match_loudness: bool = True  # integrated loudness equal to the original section's
    pattern: str = DEFAULT_PATTERN  # file name without extension; fields in PATTERN_FIELDS
    sidecar: bool = True  # write NAME.json with provenance beside each file
    # also write the original section as a reference track: from the source file at its own
    # channels (at the chosen rate), untrimmed and at its own level
    include_original: bool = False
    # "whole": each variation as stored (a bridge or ending take: the stitched A + take + B);
    # "take": bridge and ending takes alone (the span between the seams)
    part: str = "whole"

    def __post_init__(self) -> None:
        object.__setattr__(self, "folder", Path(self.folder))
        problems = []
        if self.fmt not in FORMATS:
            problems.append(f"format must be one of {', '.join(FORMATS)}")
        if self.bit_depth not in BIT_DEPTHS:
            problems.append(f"bit depth must be one of {', '.join(BIT_DEPTHS)}")
        if self.fmt == "flac" and self.bit_depth == "float":
            problems.append("FLAC cannot store floating-point samples; choose 16 or 24 bit")
        if self.rate not in RATES:
            problems.append("rate must be 'working' or 'original'")
        if self.part not in PARTS:
            problems.append("part must be 'whole' or 'take'")
        if not (0 <= self.trim_ms <= 5000) or not (0 <= self.fade_ms <= 5000):
            problems.append("trim and fade must be between 0 and 5000 ms")
        if problems:
            raise ConfigError("Invalid export settings: " + "; ".join(problems) + ".")
        check_pattern(self.pattern)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["folder"] = str(self.folder)
        return d


@dataclass(frozen=True)
class ExportItem:
    record: VariationRecord | None  # None: the original section
    target: Path
    sidecar: Path | None
    index: int  # 1-based position in this export


@dataclass(frozen=True)
class ExportPlan:
    options: ExportOptions
    items: list[ExportItem]
    conflicts: list[Path] = field(default_factory=list)  # existing targets or sidecars


@dataclass(frozen=True)
class ExportResult:
    record: VariationRecord | None  # None: the original section
    path: Path | None  # None when skipped
    sidecar: Path | None
    sample_rate: int
    seconds: float
    loudness_lufs: float
    skipped: bool = False


# ---- names ---------------------------------------------------------------------------------


def check_pattern(pattern: str) -> None:
    """ConfigError when the pattern is empty, malformed or names an unknown field."""
    if not pattern.strip():
        raise ConfigError("The file-name pattern is empty.")
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None]
    except ValueError as exc:
        raise ConfigError(f"The file-name pattern {pattern!r} is malformed: {exc}.") from None
    unknown = [f for f in fields if f not in PATTERN_FIELDS]
    if unknown:
        raise ConfigError(
            f"Unknown field(s) in the file-name pattern: {', '.join('{' + f + '}' for f in unknown)}; "
            f"use {', '.join('{' + f + '}' for f in PATTERN_FIELDS)}."
        )


_UNSAFE = re.compile(r"[^\w\-.+ ()\[\]]+", re.UNICODE)


def safe_name(text: str) -> str:
    """A file-name part with no path separators or control characters."""
    name = _UNSAFE.sub("-", text).strip(" .-")
    return name[:150] or "variation"


def render_name(pattern: str, rec: VariationRecord, *, recipe: RenderRecipe, clip: str,
                preset: str, index: int) -> str:
    """A file name from the pattern; the strength and scale words come from the recipe."""
    check_pattern(pattern)
    values = {
        "clip": clip,
        "seed": rec.seed,
        "strength": recipe.slug,
        "scale": recipe.tag,
        "id": rec.id,
        "index": index,
        "rating": "unrated" if rec.rating is None else rec.rating,
        "preset": preset,
        "date": time.strftime("%Y%m%d"),
    }
    return safe_name(pattern.format(**values))


# ---- plan ------------------------------------------------------------------------------------


def plan_export(
    project: ProjectLike, records: Iterable[VariationRecord], options: ExportOptions
) -> ExportPlan:
    """Name every file the export will write and list those that already exist.

    Two variations that would get the same name within one export get -2, -3 ... appended.
    """
    project = Project.coerce(project)
    recs = list(records)
    if not recs and not options.include_original:
        raise ConfigError("There is nothing to export: choose at least one variation.")
    if options.part == "take":
        plain = [r.id for r in recs if _take_span(r) is None]
        if plain:
            raise ConfigError(f"Only bridge and ending takes have a take alone; "
                              f"{', '.join(plain)} {'is' if len(plain) == 1 else 'are'} not one.")
    suffix = TAKE_SUFFIX if options.part == "take" else ""
    clip, ext = project.section.stem, "." + options.fmt
    used: set[str] = set()
    items: list[ExportItem] = []
    named: list[tuple[VariationRecord | None, str, int]] = []
    if options.include_original:
        named.append((None, safe_name(f"{clip}_original-section"), 0))
    named += [(rec, render_name(options.pattern, rec, recipe=project.recipe_of(rec), clip=clip,
                                preset=project.config.name, index=i) + suffix, i)
              for i, rec in enumerate(recs, start=1)]
    for rec, base, i in named:
        name, n = base, 2
        while name.lower() in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name.lower())
        target = options.folder / (name + ext)
        items.append(ExportItem(rec, target, target.with_suffix(".json") if options.sidecar else None, i))
    conflicts = [p for it in items for p in (it.target, it.sidecar) if p is not None and p.exists()]
    return ExportPlan(options, items, conflicts)


def _free_name(item: ExportItem, taken: set[Path]) -> ExportItem:
    """A numbered name ("name (2).wav") that exists neither on disk nor in this export."""
    stem, suffix = item.target.stem, item.target.suffix
    n = 2
    while True:
        target = item.target.with_name(f"{stem} ({n}){suffix}")
        side = target.with_suffix(".json") if item.sidecar is not None else None
        if target not in taken and not target.exists() and (side is None or not side.exists()):
            return ExportItem(item.record, target, side, item.index)
        n += 1


# ---- export ----------------------------------------------------------------------------------


def original_section(project: ProjectLike) -> tuple[np.ndarray, int]:
    """The training section at the working rate and its original level (the loudness target)."""
    return Project.coerce(project).original()


def render(
    audio: np.ndarray, sr: int, options: ExportOptions, *, target_lufs: float | None,
    original_rate: int,
) -> tuple[np.ndarray, int, float, bool]:
    """Trim, fade, resample and match loudness: (audio, rate, loudness in LUFS, matched?)."""
    y = trim_and_fade(np.asarray(audio, dtype=np.float32), sr, trim_s=options.trim_ms / 1000.0,
                      fade_s=options.fade_ms / 1000.0)
    out_sr = sr
    if options.rate == "original" and original_rate != sr:
        y = np.asarray(resample(y, sr, original_rate), dtype=np.float32)
        out_sr = original_rate
    matched = False
    wanted = options.match_loudness and target_lufs is not None and math.isfinite(target_lufs)
    if wanted and integrated_loudness(y, out_sr) > SILENT_LUFS:
        y = match_loudness(y, out_sr, target_lufs)
        matched = True
    if options.bit_depth != "float":
        y = np.clip(y, -1.0, 1.0)
    return y.astype(np.float32), out_sr, integrated_loudness(y, out_sr), matched


def _take_span(rec: VariationRecord) -> tuple[int, int] | None:
    """A bridge or ending take's [start, end) in its stitched audio (samples), else None."""
    take = (rec.seams or {}).get("take")
    if not take or len(take) != 2 or not int(take[1]) > int(take[0]) >= 0:
        return None
    return int(take[0]), int(take[1])


def render_take_alone(
    audio: np.ndarray, sr: int, rec: VariationRecord, options: ExportOptions, *,
    target_lufs: float | None, original_rate: int,
) -> tuple[np.ndarray, int, float, bool, tuple[int, int]]:
    """A take alone: the span between its seams with the export's fades (no edge trim), scaled
    by the gain `render` gives its stitched whole, resampled as asked. Returns (audio, rate,
    loudness in LUFS, matched?, the span in the stitched audio)."""
    span = _take_span(rec)
    if span is None:
        raise ConfigError(f"{rec.id} is not a bridge or ending take; it has no take alone.")
    x = np.asarray(audio, dtype=np.float32)
    a, b = span[0], min(span[1], x.shape[-1])
    whole = trim_and_fade(x, sr, trim_s=options.trim_ms / 1000.0, fade_s=options.fade_ms / 1000.0)
    gain, matched = 1.0, False
    wanted = options.match_loudness and target_lufs is not None and math.isfinite(target_lufs)
    if wanted:
        lufs = integrated_loudness(whole, sr)
        if lufs > SILENT_LUFS:
            gain, matched = 10.0 ** ((float(target_lufs) - lufs) / 20.0), True
            pk = float(np.max(np.abs(whole))) * gain
            if pk > 0.999:  # match_loudness's ceiling, for the whole
                gain *= 0.999 / pk
    y = trim_and_fade(x[..., a:b], sr, trim_s=0.0, fade_s=options.fade_ms / 1000.0) * gain
    out_sr = sr
    if options.rate == "original" and original_rate != sr:
        y = np.asarray(resample(y, sr, original_rate), dtype=np.float32)
        out_sr = original_rate
    if options.bit_depth != "float":
        y = np.clip(y, -1.0, 1.0)
    y = np.asarray(y, dtype=np.float32)
    return y, out_sr, integrated_loudness(y, out_sr), matched, (a, b)


def export_variations(
    project: ProjectLike,
    plan: ExportPlan,
    *,
    on_conflict: str = "error",
    cancel: object | None = None,
) -> Iterator[ExportResult]:
    """Write the planned files, yielding one result per variation as it is written.

    on_conflict: "error" raises ExportConflictError (before writing anything) when a target
    exists; "overwrite" replaces; "keep-both" writes "name (2).wav"; "skip" leaves it.
    Stops early when `cancel.cancelled` becomes true.
    """
    if on_conflict not in CONFLICT_POLICIES:
        raise ConfigError(f"on_conflict must be one of {', '.join(CONFLICT_POLICIES)}.")
    options = plan.options
    existing = [p for it in plan.items for p in (it.target, it.sidecar) if p is not None and p.exists()]
    if existing and on_conflict == "error":
        raise ExportConflictError(existing)
    check_writable_dir(options.folder)
    project = Project.coerce(project)
    store = project.store
    original, fs = project.original()
    target_lufs = integrated_loudness(original, fs)
    original_rate = project.section.sample_rate
    subtype = BIT_DEPTHS[options.bit_depth]
    taken: set[Path] = set()
    for item in plan.items:
        if cancel is not None and getattr(cancel, "cancelled", False):
            return
        exists = item.target.exists() or (item.sidecar is not None and item.sidecar.exists())
        if exists and on_conflict == "skip":
            yield ExportResult(item.record, None, None, 0, 0.0, math.nan, skipped=True)
            continue
        if exists and on_conflict == "keep-both":
            item = _free_name(item, taken)
        taken.add(item.target)
        if item.record is None:
            y, out_sr, origin = _original_for_export(project, options)
            lufs = integrated_loudness(y, out_sr)
            about = {"original_section": True, "taken_from": origin, "edges_trimmed_s": 0.0}
        elif options.part == "take":
            audio, sr = store.load_audio(item.record)
            y, out_sr, lufs, matched, span = render_take_alone(
                audio, sr, item.record, options, target_lufs=target_lufs,
                original_rate=original_rate)
            about = {
                "what": "take alone",
                "take_in_stitched_s": [round(span[0] / sr, 6), round(span[1] / sr, 6)],
                "loudness_target_lufs": _finite(target_lufs),
                "loudness_matched": matched,
                "loudness_note": "the gain of the stitched whole (the take keeps its level "
                                 "against A and B)",
                "edges_trimmed_s": 0.0,
                "fade_s": options.fade_ms / 1000.0,
                "variation": item.record.to_dict(),
                "recipe": project.recipe_of(item.record).to_dict(),
            }
        else:
            audio, sr = store.load_audio(item.record)
            y, out_sr, lufs, matched = render(
                audio, sr, options, target_lufs=target_lufs, original_rate=original_rate
            )
            about = {
                "loudness_target_lufs": _finite(target_lufs),
                "loudness_matched": matched,
                "edges_trimmed_s": options.trim_ms / 1000.0,
                "fade_s": options.fade_ms / 1000.0,
                "variation": item.record.to_dict(),
                "recipe": project.recipe_of(item.record).to_dict(),
            }
            if item.record.seams:
                about["seams_in_file_s"] = _seams_in_file(item.record.seams, options,
                                                          length_s=y.shape[-1] / out_sr)
        seconds = y.shape[-1] / out_sr
        save_audio(item.target, y, out_sr, subtype=subtype)
        if item.sidecar is not None:
            about = {"channels": 1 if y.ndim == 1 else int(y.shape[0]), **about}
            atomic_write_json(item.sidecar, _sidecar(
                item, project, options, out_sr, seconds, lufs, about))
        yield ExportResult(item.record, item.target, item.sidecar, out_sr, seconds, lufs)


def _seams_in_file(seams: dict[str, Any], options: ExportOptions, *, length_s: float) -> list[float]:
    """A bridge or ending take's seams in the exported file's own time: the record keeps them
    in the untrimmed stitched audio, and the export cuts `trim_ms` from its start."""
    sr = float(seams.get("sample_rate") or 0)
    if sr <= 0:
        return []
    trim = options.trim_ms / 1000.0
    out = [s / sr - trim for s in seams.get("seams", [])]
    return [round(t, 6) for t in out if 0.0 <= t <= length_s]


def _original_for_export(project: Project, options: ExportOptions) -> tuple[np.ndarray, int, str]:
    """The original section for a reference track: [C, T] at the export rate, and where it came
    from. The source file is used when it is still there, unchanged (same SHA-256); otherwise the
    project's own copy (its channels, the working rate) stands in."""
    src = project.section
    fs = project.working_rate
    audio: np.ndarray | None = None
    sr = fs
    origin = "project copy (working rate): the source file is missing or has changed"
    try:
        if src.status() is SourceStatus.UNCHANGED:
            info = sf.info(str(src.path))
            start = int(round(src.start * info.samplerate))
            stop = start + int(round(src.duration * info.samplerate))
            data, sr = sf.read(str(src.path), start=start, stop=stop, dtype="float32",
                               always_2d=True)
            if data.shape[0] > 0:
                audio, origin = np.ascontiguousarray(data.T), "source file"
    except (OSError, RuntimeError, ValueError, sf.LibsndfileError):
        audio = None
    if audio is None:
        clip, sr = project.original()
        audio = clip if clip.ndim == 2 else clip[None, :]
    out_sr = sr
    wanted = fs if options.rate == "working" else src.sample_rate
    if wanted != sr:
        audio = np.asarray(resample(audio, sr, wanted), dtype=np.float32)
        out_sr = wanted
    if options.bit_depth != "float":
        audio = np.clip(audio, -1.0, 1.0)
    return audio.astype(np.float32), out_sr, origin


def _sidecar(
    item: ExportItem, project: Project, options: ExportOptions, sr: int,
    seconds: float, lufs: float, about: dict[str, Any],
) -> dict[str, Any]:
    """The JSON beside an exported file: the file, `about` (what it is), where it came from."""
    manifest, root = project.manifest, project.root
    cfg = manifest.config
    return {
        "file": item.target.name,
        "format": options.fmt,
        "subtype": BIT_DEPTHS[options.bit_depth],
        "sample_rate": sr,
        "seconds": round(seconds, 4),
        "loudness_lufs": _finite(lufs),
        **about,
        "project": {
            "path": str(root.resolve()),
            "preset": cfg.name,
            "working_rate": cfg.fs,
            "scales": manifest.scales_done,
            "n_scales": manifest.n_scales,
            "rates": list(manifest.rates),
            "iterations_per_scale": cfg.iters_per_scale,
            "training_seed": manifest.seed,
            "device": manifest.device_name or manifest.device,
        },
        "source": dict(manifest.source),
        "export_options": options.to_dict(),
        "engine_version": ENGINE_VERSION,
        "exported": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _finite(x: float) -> float | None:
    return round(float(x), 2) if math.isfinite(x) else None


# ---- DAW-ready copies for drag and drop -----------------------------------------------------

DAW_FOLDER = "for-daw"  # inside the project: files dragged into a DAW may stay referenced there
DAW_PATTERN = "{clip}_{strength}_seed{seed}_{id}"


def daw_ready_file(project: ProjectLike, record: VariationRecord) -> Path:
    """A copy of a variation ready to drop into a DAW session, made with the export defaults
    (24-bit wav at the source file's rate, edges trimmed and faded, loudness matched) in the
    project's for-daw/ folder. Made once and reused; it stays where it is, since a DAW may keep
    referring to the file it was given."""
    project = Project.coerce(project)
    options = ExportOptions(folder=project.root / DAW_FOLDER, rate="original", sidecar=False,
                            pattern=DAW_PATTERN)
    plan = plan_export(project, [record], options)
    target = plan.items[0].target
    if target.is_file() and target.stat().st_size > 0:
        return target
    for _ in export_variations(project, plan, on_conflict="overwrite"):
        pass
    return target
