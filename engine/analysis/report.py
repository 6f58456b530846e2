"""A full evaluation (`evaluate`): variations, baselines, diversity and reconstruction, as a
table for the terminal (`EvaluationReport.format_table`) and a dict for JSON."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.analysis.baselines import BASELINE_LABELS, compute_baselines
from engine.analysis.measures import (
    DiversityMetrics,
    VariationMetrics,
    _json_float,
    diversity,
    evaluate_variation,
)
from engine.analysis.reconstruction import ReconstructionMetrics, reconstruction_metrics
from engine.analysis.reference import prepare_reference

TABLE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    # (field, header, format)
    ("timbre_fd", "timbre FD", "{:9.2f}"),
    ("ltas_db", "LTAS dB", "{:7.2f}"),
    ("max_xcorr", "max xcorr", "{:9.3f}"),
    ("local_xcorr", "1s xcorr", "{:8.3f}"),
    ("copy_ratio", "copy ratio", "{:10.3f}"),
    ("longest_copy_s", "longest copy s", "{:14.2f}"),
)


@dataclass
class EvaluationReport:
    """Everything `songwriter-cli evaluate` prints and writes."""

    sr: int
    clip_seconds: float
    variations: dict[str, VariationMetrics]
    baselines: dict[str, VariationMetrics]
    diversity: DiversityMetrics | None = None
    reconstruction: ReconstructionMetrics | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_rate": self.sr,
            "clip_seconds": round(self.clip_seconds, 4),
            "feature": "MFCC c1-c19 of an 80-band log-mel (64 ms frames); signals RMS-matched",
            "variations": {k: v.to_dict() for k, v in self.variations.items()},
            "variation_mean": mean_metrics(self.variations.values()),
            "baselines": {k: v.to_dict() for k, v in self.baselines.items()},
            "diversity": self.diversity.to_dict() if self.diversity else None,
            "reconstruction": self.reconstruction.to_dict() if self.reconstruction else None,
            "notes": dict(self.notes),
        }

    def format_table(self) -> str:
        """Variations and baselines side by side, then diversity and reconstruction."""
        rows: list[tuple[str, Mapping[str, float]]] = [
            (name, m.to_dict()) for name, m in self.variations.items()
        ]
        if len(self.variations) > 1:
            rows.append(("mean of variations", mean_metrics(self.variations.values())))
        base_rows = [
            (f"[{BASELINE_LABELS.get(k, k)}]", m.to_dict()) for k, m in self.baselines.items()
        ]
        width = max(len(r[0]) for r in rows + base_rows + [("", {})]) + 2
        width = max(width, 12)
        header = "".ljust(width) + "  ".join(h for _, h, _ in TABLE_COLUMNS)
        lines = [header, "-" * len(header)]

        def fmt(name: str, vals: Mapping[str, float]) -> str:
            cells = [f.format(vals[k]).rjust(len(h)) for k, h, f in TABLE_COLUMNS]
            return name.ljust(width) + "  ".join(cells)

        lines += [fmt(n, v) for n, v in rows]
        if base_rows:
            lines.append("baselines on the same clip:")
            lines += [fmt(n, v) for n, v in base_rows]
        lines.append(
            "lower is closer (timbre FD, LTAS); lower is more novel (xcorr, copy); a good "
            "variation sits near [real vs real] on timbre and far below [cut-and-paste] on copying."
        )
        if self.diversity is not None:
            d = self.diversity
            lines.append(
                f"diversity of {d.count}: std ratio {d.std_ratio:.3f} (0 = identical, ~1 = as "
                f"varied as the clip itself), pairwise log-mel {d.pairwise_db:.2f} dB, "
                f"pairwise FD {d.pairwise_fd:.2f}"
            )
        if self.reconstruction is not None:
            r = self.reconstruction
            lines.append(
                f"reconstruction: SNR {r.snr_db:.2f} dB (higher is better), LSD {r.lsd_db:.2f} dB, "
                f"MR-STFT {r.mrstft:.3f} (lower is better)"
            )
        return "\n".join(lines)


def mean_metrics(items: Any) -> dict[str, float]:
    """Field-wise mean of VariationMetrics (empty dict for none)."""
    ds = [m.to_dict() for m in items]
    if not ds:
        return {}
    return {k: _json_float(float(np.mean([d[k] for d in ds]))) for k in ds[0]}


def evaluate(
    clip: np.ndarray, sr: int, variations: Mapping[str, np.ndarray], *,
    reconstruction: np.ndarray | None = None, other_excerpt: np.ndarray | None = None,
    untrained: np.ndarray | None = None, seed: int = 0, with_baselines: bool = True,
) -> EvaluationReport:
    """Evaluate named variations (mono at `sr`) against `clip`, with baselines and diversity."""
    ref = prepare_reference(clip, sr)
    per = {name: evaluate_variation(ref, v) for name, v in variations.items()}
    base = (
        compute_baselines(clip, sr, ref=ref, other_excerpt=other_excerpt, untrained=untrained,
                          seed=seed)
        if with_baselines
        else {}
    )
    div = diversity(ref, list(variations.values())) if len(variations) > 1 else None
    rec = reconstruction_metrics(clip, reconstruction, sr) if reconstruction is not None else None
    notes = {"real_vs_real": "odd 2 s blocks of the clip against its even blocks"}
    if other_excerpt is not None:
        notes["real_other"] = "another excerpt of the source file against the clip"
    return EvaluationReport(sr, ref.seconds, per, base, div, rec, notes)
