"""Building a study: collect stimuli, loudness-match them, blind them and write the folder.

With engine.study.stimuli, the only modules of engine.study that render or resample audio, and
so the only ones that import torch (through engine.audio.io, engine.project.checkpoint and
engine.generation.render); the rater's path (questions, folder, session, results, stats) stays
light.

`iter_build_study` collects generated variations (existing wav files with JSON sidecars, or new
ones rendered from trained projects) and real excerpts (the training section and other sections
of the source file, or the project's clip.wav), prepares them as the original study did by hand
(one channel count for all: engine.study.stimuli.study_channels; one common rate, trimmed
generated edges, one common loudness) and writes the folder. Collecting the stimuli and their
hidden truth is engine.study.stimuli; this module plans the loudness, blinds and writes.

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

import numpy as np

from engine import ENGINE_VERSION
from engine.audio.io import (
    integrated_loudness,
    match_loudness,
    peak,
    resample,
    save_audio,
)
from engine.fileutil import atomic_write_json, check_writable_dir, sha256_file
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
from engine.study.spec import StudySpec, spec_to_dict
from engine.study.stimuli import _generated_from_file, _Item, _ProjectSource, study_channels


@dataclass(frozen=True)
class BuildProgress:
    done: int  # steps finished
    total: int  # steps in all
    message: str  # what is happening, in words


@dataclass(frozen=True)
class BuildFinished:
    study: Study
    warnings: tuple[str, ...]


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
