"""Render variations by recipe into a project's store, each followed by its verdict."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from engine.jobs import is_cancelled
from engine.project import Project, RenderRecipe
from engine.project.variations import VariationRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VariationReady:
    """A variation is in the store (made now, or found made with the same recipe before)."""

    record: VariationRecord
    audio: np.ndarray  # [T] float32 at the working rate: a copy the receiver may keep
    sample_rate: int
    existed: bool  # True: the same recipe was already in the store; nothing new was rendered


@dataclass(frozen=True)
class VerdictReady:
    """A stored variation got its objective verdict (and the numbers behind it)."""

    record: VariationRecord


@dataclass(frozen=True)
class GenerationDone:
    made: int  # renders added to the store
    cancelled: bool  # stopped early by the cancel token


# (original, variation, rate) -> (one line of words, the numbers behind it); the caller passes
# engine.analysis.quick_verdict (generation sits below analysis and does not import it)
VerdictFn = Callable[[np.ndarray, np.ndarray, int], tuple[str, dict[str, float]]]
# a bridge or ending take's verdict: (the project's layout, the training clip at its original
# level, the stitched take, the record's seams dict, rate) -> (words, numbers); the caller passes
# engine.analysis.seams.take_verdict
TakeVerdictFn = Callable[[object, np.ndarray, np.ndarray, dict, int], tuple[str, dict[str, float]]]


def _verdict(project: Project, verdict: VerdictFn, original: np.ndarray, audio: np.ndarray,
             sr: int, record: VariationRecord) -> VariationRecord | None:
    try:
        text, numbers = verdict(original, audio, sr)
    except Exception:  # a verdict is a courtesy: the variation is kept without one
        log.exception("quick_verdict failed for %s", record.id)
        return None
    return project.store.set_verdict(record.id, str(text), dict(numbers))


def generate_into_project(
    project: Project, recipes: Sequence[RenderRecipe], *, device: str | None = None,
    cancel: object | None = None, verdict: VerdictFn | None = None,
    take_verdict: TakeVerdictFn | None = None,
) -> Iterator[VariationReady | VerdictReady | GenerationDone]:
    """Render each recipe into `project.store` (reusing a variation already made with the same
    recipe), yielding VariationReady, then (with a `verdict` function) its VerdictReady, and
    GenerationDone last. Bridge and ending recipes store the stitched whole with its seams
    (VariationRecord.seams) and get `take_verdict` (the seam measures) instead of `verdict`."""
    from engine.generation.render import generate, project_model
    from engine.generation.takes import render_take

    model = project_model(project, device)
    provenance = project.provenance()
    original = (model.clip * model.gain).astype(np.float32)
    store = project.store
    made = 0
    for recipe in recipes:
        if is_cancelled(cancel):
            yield GenerationDone(made, cancelled=True)
            return
        rec = store.find(recipe)
        existed = rec is not None
        if rec is None:
            if recipe.is_take:
                take = render_take(model, recipe)
                audio = take.stitched
                rec = store.add(audio, model.fs, recipe, provenance=provenance,
                                seams=take.sidecar())
            else:
                audio = generate(model, seconds=recipe.seconds, seed=recipe.seed,
                                 from_scale=recipe.from_scale)
                rec = store.add(audio, model.fs, recipe, provenance=provenance)
            made += 1
        else:
            audio, _ = store.load_audio(rec)
        yield VariationReady(rec, np.array(audio, dtype=np.float32, copy=True), model.fs, existed)
        if recipe.is_take:
            if take_verdict is not None and rec.verdict is None and rec.seams is not None:
                try:
                    text, numbers = take_verdict(model.manifest.layout, original, audio,
                                                 rec.seams, model.fs)
                except Exception:  # a courtesy, as for variations
                    log.exception("take verdict failed for %s", rec.id)
                else:
                    yield VerdictReady(store.set_verdict(rec.id, str(text), dict(numbers)))
            continue
        if verdict is not None and rec.verdict is None:
            updated = _verdict(project, verdict, original, audio, model.fs, rec)
            if updated is not None:
                yield VerdictReady(updated)
    yield GenerationDone(made, cancelled=False)


def fill_verdicts(
    project: Project, verdict: VerdictFn, ids: Sequence[str] | None = None, *,
    cancel: object | None = None,
) -> Iterator[VerdictReady | GenerationDone]:
    """Give every stored variation without a verdict (or those in `ids`) its verdict."""
    store = project.store
    todo = [r for r in store.list() if r.verdict is None and (ids is None or r.id in ids)]
    done = 0
    if todo:
        original, _sr = project.original()
        for rec in todo:
            if is_cancelled(cancel):
                yield GenerationDone(done, cancelled=True)
                return
            audio, sr = store.load_audio(rec)
            updated = _verdict(project, verdict, original, audio, sr, rec)
            if updated is not None:
                done += 1
                yield VerdictReady(updated)
    yield GenerationDone(done, cancelled=False)
