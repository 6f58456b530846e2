"""The Bridge / Ending tab's plain functions (no Qt): what a gap length asks of the model in
words (gap_advice, with what the real runs measured), a take's line and tooltip in the list
(take_label), and the jobs the tab runs in workers: rendering takes (run_takes) and reading a
file for section B (probe_b_file)."""

from __future__ import annotations

from typing import Any

from engine.project import Project, RenderRecipe
from engine.project.variations import VariationRecord

# What the real runs measured (README "Bridges and endings"): the full quick preset on three
# songs, gaps of 2, 4 and 8 s: seams like the music's own changes and the song's level, but
# the gap filled with a beatless wash of the song's timbre.
MEASURED = ("Measured on three songs with the CPU preset: the seams pass at 2, 4 and 8 s and the "
            "gap comes out at the song's level, but it keeps the timbre, not the beat (drum hits "
            "stop at the seam). Listen before you use one.")


def gap_advice(project: Project | None, gap: float, config: Any) -> str:
    """What a gap of this length asks of the model, in words, and what the real runs measured."""
    cfg = project.config if project is not None else config
    first = project.manifest.rates[0] if project is not None else min(cfg.candidate_rates)
    reach = cfg.receptive_field / first  # seconds the coarsest scale's generator sees
    if gap <= reach:
        return (f"At {gap:g} s the coarsest scale ({first} Hz) hears A and B across the whole "
                f"gap ({reach:.1f} s receptive field): the bridge is shaped by both sides. "
                + MEASURED)
    blind = gap - reach
    return (f"At {gap:g} s the middle {blind:.1f} s of the gap is beyond the coarsest scale's "
            f"reach ({reach:.1f} s at {first} Hz): it is new material in the song's texture, "
            "not steered by A or B. Shorter gaps join more tightly. " + MEASURED)


def take_label(rec: VariationRecord) -> tuple[str, str]:
    """A take's line in the list and its tooltip (verdict and seam numbers)."""
    seams = (rec.seams or {}).get("seams_s", [])
    label = f"#{int(rec.id[1:])}  seed {rec.seed} · {rec.strength}"
    if rec.verdict:
        label += f" — {rec.verdict}"
    tip = rec.verdict or "measuring…"
    if seams:
        tip += "\nseams at " + ", ".join(f"{s:.2f} s" for s in seams)
    pct = [rec.metrics[k] for k in sorted(rec.metrics) if k.endswith("_percentile")
           and "naive" not in k]
    naive = [rec.metrics[k] for k in sorted(rec.metrics) if k.endswith("naive_percentile")]
    if pct:
        tip += ("\nseam jump percentile among the sections' own changes: "
                + ", ".join(f"{p:.0f}" for p in pct))
    if naive:
        tip += f"; a plain splice: {naive[0]:.0f}"
    return label, tip


def run_takes(project: Project, recipes: list[RenderRecipe], *, device: str | None,
              cancel: Any = None) -> Any:
    from engine.analysis.seams import take_verdict
    from engine.generation import generate_into_project

    return generate_into_project(project, recipes, device=device, cancel=cancel,
                                 take_verdict=take_verdict)


def probe_b_file(path: str) -> Any:
    """The job that reads a file for section B (engine.project.layout.probe_section_file)."""
    from engine.project.layout import probe_section_file

    return probe_section_file(path)


__all__ = ["MEASURED", "gap_advice", "probe_b_file", "run_takes", "take_label"]
