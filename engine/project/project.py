"""`Project`: one open project folder, loaded once.

Generation, verdicts, export and the study builder take a `Project` instead of a path,
so the manifest is read once per open (and again only on `reload()`), the source
section is a typed record, and the trained model is loaded once and shared (`cached`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.config import TrainConfig
from engine.project.checkpoint import Manifest, is_project, load_clip_signal, read_manifest
from engine.project.section import SourceSection

if TYPE_CHECKING:
    from engine.project.recipe import RenderRecipe
    from engine.project.variations import VariationRecord, VariationStore


class Project:
    """A trained (or partly trained) project folder and what was made from it."""

    def __init__(self, root: str | os.PathLike[str], manifest: Manifest,
                 store: VariationStore | None = None) -> None:
        self.root = Path(root)
        self.manifest = manifest
        self._lock = threading.RLock()
        self._store = store  # None: opened on first use
        self._cache: dict[object, Any] = {}

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> Project:
        """ProjectError (with a clear message) when `root` is not a readable project."""
        return cls(root, read_manifest(root))

    @classmethod
    def coerce(cls, project: Project | str | os.PathLike[str]) -> Project:
        """`project` itself, or the project opened from a folder path (for scripts and tests)."""
        return project if isinstance(project, Project) else cls.open(project)

    @staticmethod
    def is_project(path: str | os.PathLike[str]) -> bool:
        return is_project(path)

    def reload(self) -> Project:
        """Read the manifest again (after training added scales); the store re-reads too."""
        with self._lock:
            self.manifest = read_manifest(self.root)
            if self._store is not None:
                self._store.reload()
        return self

    # ---- what the manifest says ----

    @property
    def config(self) -> TrainConfig:
        return self.manifest.config

    @property
    def n_scales(self) -> int:
        return self.manifest.n_scales

    @property
    def scales_done(self) -> int:
        return self.manifest.scales_done

    @property
    def complete(self) -> bool:
        return self.manifest.complete

    @property
    def trained(self) -> bool:
        """At least one scale is finished: it can render."""
        return self.manifest.scales_done >= 1

    @property
    def working_rate(self) -> int:
        return self.manifest.config.fs

    @property
    def section(self) -> SourceSection:
        return SourceSection.from_manifest(self.manifest.source, default_rate=self.working_rate,
                                           default_duration=self.config.max_seconds)

    @property
    def name(self) -> str:
        return self.root.name

    # ---- what is in the folder ----

    @property
    def store(self) -> VariationStore:
        """The project's variations (one shared, thread-safe store)."""
        with self._lock:
            if self._store is None:
                from engine.project.variations import VariationStore

                self._store = VariationStore(self.root)
            return self._store

    def cached(self, key: object, make: Callable[[], Any]) -> Any:
        """A value made once per manifest state (the trained model: engine.generation's
        `project_model`), shared by the threads that use this project."""
        with self._lock:
            full = (key, self.manifest.scales_done, self.manifest.updated)
            if full not in self._cache:
                self._cache.clear()
                self._cache[full] = make()
            return self._cache[full]

    def original(self) -> tuple[np.ndarray, int]:
        """The training section at the working rate and its original level: [T], or [2, T] L/R."""
        clip, sr = load_clip_signal(self.root)
        return (clip * self.manifest.gain).astype(np.float32), sr

    def recipe_of(self, record: VariationRecord) -> RenderRecipe:
        """The recipe a stored variation was made with (old records: from their fields)."""
        return record.recipe_for(self.scales_done)

    def provenance(self) -> dict[str, Any]:
        """Where this project's renders come from: preset, scales, source file and hash."""
        m, src = self.manifest, self.section
        return {
            "project": str(self.root.resolve()),
            "preset": m.config.name,
            "scales": m.scales_done,
            "n_scales": m.n_scales,
            "rates": list(m.rates),
            "iterations_per_scale": m.config.iters_per_scale,
            "training_seed": m.seed,
            "source_path": str(src.path) if str(src.path) not in ("", ".") else None,
            "source_sha256": src.sha256 or None,
            "source_start": src.start,
            "source_duration": src.duration,
        }
