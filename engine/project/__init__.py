"""The project folder and what is known about it: its layout, the source section it was
trained on, render recipes, and the `Project` object that generation, verdicts, export and
the study builder take instead of re-reading the folder from a path."""

from __future__ import annotations

from engine.project.project import Project
from engine.project.recipe import RenderRecipe
from engine.project.section import SourceSection

__all__ = ["Project", "RenderRecipe", "SourceSection"]
