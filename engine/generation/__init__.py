"""Generation use cases: render by recipe into a project, and fill in missing verdicts.

Both are plain generators of small frozen events that poll a cancel token between
renders; the app runs them in a worker thread and the CLI iterates them directly.
"""

from __future__ import annotations

from engine.generation.into_project import (
    GenerationDone,
    VariationReady,
    VerdictReady,
    fill_verdicts,
    generate_into_project,
)

__all__ = ["GenerationDone", "VariationReady", "VerdictReady", "fill_verdicts",
           "generate_into_project"]
