"""The variation store of a project: audio the user generated, with seeds and ratings.

Layout under PROJECT/variations/ (every file written atomically):

    index.json              format version, next id, one entry per variation (the commit point)
    v0001_seed12_k1.wav     the variation at the working rate, float, edges untrimmed so it
                            lines up in time with the training section
    v0001_seed12_k1.json    sidecar: the entry plus provenance (preset, project, source hash)

`index.json` is the truth; when it is missing or damaged it is rebuilt from the
sidecars. A store instance is safe to share between the GUI thread and one
worker thread (every method takes a lock).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from engine import ENGINE_VERSION
from engine.audio.io import save_audio
from engine.errors import ConfigError, ProjectError
from engine.fileutil import atomic_write_json
from engine.project.recipe import RenderRecipe

log = logging.getLogger(__name__)

FOLDER = "variations"
INDEX = "index.json"
FORMAT_VERSION = 1
MAX_RATING = 10


@dataclass(frozen=True)
class VariationRecord:
    """One stored variation."""

    id: str  # "v0001": unique within the project, never reused
    file: str  # wav file name inside PROJECT/variations/
    seed: int  # the seed it was generated with (same seed + settings = same audio)
    from_scale: int | None  # scale whose real signal was kept; None = free (unconditional)
    strength: str  # musician's label, e.g. "close to the original"
    seconds: float  # actual length of the stored audio
    requested_seconds: float  # the length asked for
    sample_rate: int  # rate of the stored audio (the project's working rate)
    created: float = field(default_factory=time.time)  # Unix time
    rating: int | None = None  # 0..MAX_RATING, None = not rated
    trimmed: bool = False  # edges trimmed before storing (the GUI stores them untrimmed)
    verdict: str | None = None  # short objective verdict (engine.analysis.quick_verdict)
    metrics: dict[str, float] = field(default_factory=dict)  # numbers behind the verdict
    recipe: RenderRecipe | None = None  # how it was made (None: saved before recipes existed)
    # bridge/ending takes: where the take sits in the stored (stitched) audio: "take" [start,
    # end) and "seams" in samples at sample_rate, "crossfade" and "fade_out" in samples
    seams: dict[str, Any] | None = None

    @property
    def tag(self) -> str:
        if self.recipe is not None and self.recipe.is_take:
            return self.recipe.tag
        return "free" if self.from_scale is None else f"k{self.from_scale}"

    @property
    def is_take(self) -> bool:
        return self.recipe is not None and self.recipe.is_take

    @property
    def label(self) -> str:
        return f"seed {self.seed} · {self.strength}"

    def recipe_for(self, n_scales: int) -> RenderRecipe:
        """Its recipe; for a record saved before recipes existed, the one its fields imply
        for a model of `n_scales` scales (the project's trained scales)."""
        if self.recipe is not None:
            return self.recipe
        return RenderRecipe.from_legacy(seed=self.seed, seconds=self.requested_seconds,
                                        from_scale=self.from_scale, n_scales=n_scales)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.file,
            "seed": self.seed,
            "from_scale": self.from_scale,
            "strength": self.strength,
            "seconds": round(float(self.seconds), 6),
            "requested_seconds": float(self.requested_seconds),
            "sample_rate": self.sample_rate,
            "created": self.created,
            "rating": self.rating,
            "trimmed": self.trimmed,
            "verdict": self.verdict,
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            **({"recipe": self.recipe.to_dict()} if self.recipe is not None else {}),
            **({"seams": self.seams} if self.seams is not None else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VariationRecord:
        fs = d.get("from_scale")
        rating = d.get("rating")
        return cls(
            id=str(d["id"]),
            file=str(d["file"]),
            seed=int(d["seed"]),
            from_scale=None if fs is None else int(fs),
            strength=str(d.get("strength", "")),
            seconds=float(d["seconds"]),
            requested_seconds=float(d.get("requested_seconds", d["seconds"])),
            sample_rate=int(d["sample_rate"]),
            created=float(d.get("created", 0.0)),
            rating=None if rating is None else int(rating),
            trimmed=bool(d.get("trimmed", False)),
            verdict=d.get("verdict"),
            metrics={str(k): float(v) for k, v in (d.get("metrics") or {}).items()},
            recipe=RenderRecipe.from_dict(d["recipe"]) if d.get("recipe") else None,
            seams=dict(d["seams"]) if isinstance(d.get("seams"), dict) else None,
        )


def _check_rating(rating: int | None) -> int | None:
    if rating is None:
        return None
    if isinstance(rating, bool) or not isinstance(rating, int | np.integer):
        raise ConfigError(f"A rating must be a whole number from 0 to {MAX_RATING}.")
    if not 0 <= int(rating) <= MAX_RATING:
        raise ConfigError(f"A rating must be from 0 to {MAX_RATING}, not {rating}.")
    return int(rating)


class VariationStore:
    """List, add, rate and delete the variations saved in a project folder."""

    def __init__(self, project_dir: str | os.PathLike[str]) -> None:
        self.project_dir = Path(project_dir)
        if not self.project_dir.is_dir():
            raise ProjectError(f"No project at {self.project_dir}: the folder does not exist.")
        self.folder = self.project_dir / FOLDER
        self._lock = threading.RLock()
        self._records: list[VariationRecord] = []
        self._next_id = 1
        self._provenance: dict[str, dict[str, Any]] = {}  # of variations added in this session
        self.reload()

    # ---- reading ---------------------------------------------------------------------

    def reload(self) -> None:
        """Read the index again (rebuilding it from the sidecars when it is damaged)."""
        with self._lock:
            self._records, self._next_id = self._read()

    def _read(self) -> tuple[list[VariationRecord], int]:
        index = self.folder / INDEX
        if not self.folder.is_dir():
            return [], 1
        if index.is_file():
            try:
                data = json.loads(index.read_text(encoding="utf-8"))
                version = int(data.get("format_version", 0))
                if version > FORMAT_VERSION:
                    raise ProjectError(
                        f"The variations of {self.project_dir} were saved by a newer version "
                        f"(format {version}); please update Songwriter Assistant."
                    )
                records = [VariationRecord.from_dict(e) for e in data["variations"]]
                kept = [r for r in records if (self.folder / r.file).is_file()]
                if len(kept) != len(records):
                    log.warning("%d variation(s) in the index have no audio file; dropped",
                                len(records) - len(kept))
                next_id = max(int(data.get("next_id", 1)), _max_id(kept) + 1)
                return kept, next_id
            except ProjectError:
                raise
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                log.warning("variation index %s is damaged (%s); rebuilding from sidecars",
                            index, exc)
        return self._rebuild()

    def _rebuild(self) -> tuple[list[VariationRecord], int]:
        records = []
        for side in sorted(self.folder.glob("v*.json")):
            try:
                d = json.loads(side.read_text(encoding="utf-8"))
                rec = VariationRecord.from_dict(d.get("variation", d))
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                continue
            if (self.folder / rec.file).is_file():
                records.append(rec)
        records.sort(key=lambda r: (r.created, r.id))
        next_id = _max_id(records) + 1
        if records:
            with contextlib.suppress(OSError, ProjectError):
                self._write_index(records, next_id)
        return records, next_id

    def list(self) -> list[VariationRecord]:
        """All variations, oldest first."""
        with self._lock:
            return list(self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def get(self, vid: str) -> VariationRecord:
        with self._lock:
            for r in self._records:
                if r.id == vid:
                    return r
        raise ProjectError(f"There is no variation {vid!r} in {self.project_dir}.")

    def path(self, vid: str | VariationRecord) -> Path:
        rec = vid if isinstance(vid, VariationRecord) else self.get(vid)
        return self.folder / rec.file

    def load_audio(self, vid: str | VariationRecord) -> tuple[np.ndarray, int]:
        """The stored audio as float32 [T] (mono) or [2, T] (stereo, L/R) and its sample rate."""
        p = self.path(vid)
        try:
            data, sr = sf.read(str(p), dtype="float32", always_2d=False)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise ProjectError(f"The variation file {p} is missing or damaged.") from exc
        if data.ndim > 1:
            data = data.T if data.shape[1] == 2 else data.mean(axis=1)
        return np.ascontiguousarray(data, dtype=np.float32), int(sr)

    def find(self, recipe: RenderRecipe) -> VariationRecord | None:
        """An existing variation made with exactly this recipe, if any."""
        with self._lock:
            for r in self._records:
                if recipe.is_take or (r.recipe is not None and r.recipe.is_take):
                    if r.recipe == recipe:
                        return r
                    continue
                if (r.seed == recipe.seed and r.from_scale == recipe.from_scale
                        and abs(r.requested_seconds - recipe.seconds) < 1e-6
                        and (r.recipe is None or r.recipe.mode == recipe.mode)):
                    return r
        return None

    # ---- writing ---------------------------------------------------------------------

    def add(
        self, audio: np.ndarray, sample_rate: int, recipe: RenderRecipe, *, trimmed: bool = False,
        provenance: dict[str, Any] | None = None, seams: dict[str, Any] | None = None,
    ) -> VariationRecord:
        """Save `audio` (float32 [T], or [2, T] L/R, at `sample_rate`), made by `recipe`, as a
        new variation."""
        x = np.asarray(audio, dtype=np.float32)
        x = x if x.ndim == 2 and x.shape[0] == 2 else x.reshape(-1)
        if x.size == 0:
            raise ConfigError("An empty variation cannot be saved.")
        with self._lock:
            vid = f"v{self._next_id:04d}"
            rec = VariationRecord(
                id=vid, file=f"{vid}_seed{recipe.seed}_{recipe.tag}.wav", seed=recipe.seed,
                from_scale=recipe.from_scale, strength=recipe.label,
                seconds=x.shape[-1] / sample_rate, requested_seconds=recipe.seconds,
                sample_rate=int(sample_rate), trimmed=trimmed, recipe=recipe,
                seams=dict(seams) if seams is not None else None,
            )
            self.folder.mkdir(parents=True, exist_ok=True)
            save_audio(self.folder / rec.file, x, sample_rate, subtype="FLOAT")
            self._provenance[vid] = dict(provenance or {})
            self._write_sidecar(rec)
            records = [*self._records, rec]
            self._write_index(records, self._next_id + 1)
            self._records, self._next_id = records, self._next_id + 1
            return rec

    def rate(self, vid: str, rating: int | None) -> VariationRecord:
        """Set (or clear, with None) the rating 0..10 of a variation."""
        value = _check_rating(rating)
        return self._update(vid, rating=value)

    def set_verdict(self, vid: str, verdict: str | None, metrics: dict[str, float]) -> VariationRecord:
        clean = {str(k): float(v) for k, v in metrics.items() if _is_number(v)}
        return self._update(vid, verdict=verdict, metrics=clean)

    def delete(self, vid: str) -> None:
        """Remove a variation (index first, then its files)."""
        with self._lock:
            rec = self.get(vid)
            records = [r for r in self._records if r.id != vid]
            self._write_index(records, self._next_id)
            self._records = records
            for p in (self.folder / rec.file, (self.folder / rec.file).with_suffix(".json")):
                with contextlib.suppress(OSError):
                    p.unlink()

    def _update(self, vid: str, **changes: Any) -> VariationRecord:
        with self._lock:
            old = self.get(vid)
            new = replace(old, **changes)
            records = [new if r.id == vid else r for r in self._records]
            self._write_sidecar(new)
            self._write_index(records, self._next_id)
            self._records = records
            return new

    def _write_sidecar(self, rec: VariationRecord) -> None:
        side = (self.folder / rec.file).with_suffix(".json")
        prov = self._provenance.get(rec.id)
        if prov is None and side.is_file():
            try:
                prov = json.loads(side.read_text(encoding="utf-8")).get("provenance", {})
            except (OSError, ValueError, AttributeError):
                prov = {}
        atomic_write_json(side, {
            "variation": rec.to_dict(),
            "provenance": {"engine_version": ENGINE_VERSION, **(prov or {})},
        })

    def _write_index(self, records: list[VariationRecord], next_id: int) -> None:
        atomic_write_json(self.folder / INDEX, {
            "format_version": FORMAT_VERSION,
            "next_id": next_id,
            "variations": [r.to_dict() for r in records],
        })


def _max_id(records: list[VariationRecord]) -> int:
    best = 0
    for r in records:
        with contextlib.suppress(ValueError):
            best = max(best, int(r.id.lstrip("v")))
    return best


def _is_number(v: Any) -> bool:
    try:
        return np.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def provenance_for(project_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Where a project's variations come from (engine.project.Project.provenance)."""
    from engine.project import Project

    return Project.open(project_dir).provenance()
