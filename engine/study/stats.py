"""Analysis of listening-study answers: confusion rates, musicality, inspiration, rater checks.

Works on the rows of engine.study.results.results_rows (one per rater and stimulus), so several
raters' session files combine into one analysis simply by concatenating their rows.

- share judged "real" per condition with a Wilson 95 % interval and a two-sided exact binomial
  test against 50 % (for generated stimuli this is the confusion rate of the Catch-A-Waveform
  paper; 50 % means indistinguishable from real);
- musicality mean with a 95 % Student-t interval;
- counts of each answer to the "inspiring" question;
- per rater, the share of real excerpts judged real (a hidden-reference check, as in MUSHRA);
  raters below a threshold are flagged and can be left out.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from scipy import stats

from engine.fileutil import json_safe
from engine.study.layout import GENERATED, REAL
from engine.study.questions import question_by_role
from engine.study.results import results_rows

ALL_GENERATED = "generated (all)"


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for k successes out of n; (nan, nan) when n == 0."""
    if n <= 0:
        return math.nan, math.nan
    if not 0 <= k <= n:
        raise ValueError("k must be between 0 and n")
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    p = k / n
    z2n = z * z / n
    denom = 1.0 + z2n
    centre = (p + z2n / 2.0) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def binomial_p(k: int, n: int, p: float = 0.5) -> float:
    """Two-sided exact binomial test of k out of n against probability p; nan when n == 0."""
    if n <= 0:
        return math.nan
    return float(stats.binomtest(k, n, p, alternative="two-sided").pvalue)


def mean_t_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high) with a Student-t interval; the interval is nan for fewer than 2 values."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = sum(values) / n
    if n < 2:
        return mean, math.nan, math.nan
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


@dataclass
class ConditionSummary:
    condition: str  # "real", "generated (all)" or "project / preset / strength"
    kind: str  # "real" or "generated"
    n_stimuli: int  # distinct stimuli in this condition with at least one rating
    n_ratings: int  # answers to the real/fake question
    judged_real: int  # how many of them said "real"
    share_real: float  # judged_real / n_ratings
    share_low: float  # Wilson 95 % interval
    share_high: float
    p_value: float  # two-sided binomial test against 50 %
    musicality_n: int
    musicality_mean: float
    musicality_low: float  # 95 % t-interval, held to the scale's range
    musicality_high: float
    inspiring: dict[str, int] = field(default_factory=dict)  # option -> count
    fake_ease: dict[str, int] = field(default_factory=dict)  # option -> count (when judged fake)


@dataclass
class RaterSummary:
    rater: str
    session_id: str
    answered: int  # stimuli with every required answer
    presented: int  # stimuli in the rater's order
    real_rated: int  # real excerpts answered on the real/fake question
    real_judged_real: int
    share_real_judged_real: float  # nan without real excerpts
    flagged: bool  # below the threshold
    completed: bool


@dataclass
class StudySummary:
    conditions: list[ConditionSummary]
    raters: list[RaterSummary]
    threshold: float  # hidden-reference threshold used for flags
    excluded_raters: list[str]  # session ids left out of the conditions (exclude_flagged)
    n_rows: int  # answered rows used

    def to_dict(self) -> dict[str, Any]:
        return json_safe(asdict(self))

    def condition(self, name: str) -> ConditionSummary:
        return next(c for c in self.conditions if c.condition == name)


def _is_blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and v == "")


def _summarise(name: str, kind: str, rows: list[dict[str, Any]], questions: list[dict[str, Any]]
               ) -> ConditionSummary:
    rf = question_by_role(questions, "real_or_fake")
    mu = question_by_role(questions, "musicality")
    ins = question_by_role(questions, "inspiring")
    ease = question_by_role(questions, "fake_ease")
    k = n = 0
    if rf is not None:
        votes = [r.get(rf["id"]) for r in rows if not _is_blank(r.get(rf["id"]))]
        n = len(votes)
        k = sum(v == rf["real_option"] for v in votes)
    lo, hi = wilson_interval(k, n)
    music: list[float] = []
    if mu is not None:
        music = [float(r[mu["id"]]) for r in rows if not _is_blank(r.get(mu["id"]))]
    m, mlo, mhi = mean_t_interval(music)
    if mu is not None and math.isfinite(mlo):  # the t-interval cannot leave the scale
        mlo, mhi = max(mlo, float(mu["min"])), min(mhi, float(mu["max"]))

    def counts(q: dict[str, Any] | None) -> dict[str, int]:
        if q is None:
            return {}
        c = Counter(str(r[q["id"]]) for r in rows if not _is_blank(r.get(q["id"])))
        return {opt: c.get(opt, 0) for opt in q["options"]}

    return ConditionSummary(
        condition=name, kind=kind,
        n_stimuli=len({r["code"] for r in rows if _rated(r, rf)}),
        n_ratings=n, judged_real=k, share_real=k / n if n else math.nan,
        share_low=lo, share_high=hi, p_value=binomial_p(k, n),
        musicality_n=len(music), musicality_mean=m, musicality_low=mlo, musicality_high=mhi,
        inspiring=counts(ins), fake_ease=counts(ease),
    )


def analyse_rows(
    rows: Iterable[dict[str, Any]], questions: list[dict[str, Any]], *, threshold: float = 0.5,
    exclude_flagged: bool = False,
) -> StudySummary:
    """Summaries per condition and per rater from result rows (see results.results_rows)."""
    rows = [r for r in rows if r.get("kind") in (REAL, GENERATED)]
    rf = question_by_role(questions, "real_or_fake")
    raters: list[RaterSummary] = []
    by_session: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_session.setdefault(str(r.get("session_id") or r.get("rater")), []).append(r)
    for sid, rs in by_session.items():
        real = [r for r in rs if r["kind"] == REAL and rf is not None
                and not _is_blank(r.get(rf["id"]))]
        kr = sum(r[rf["id"]] == rf["real_option"] for r in real) if rf is not None else 0
        share = kr / len(real) if real else math.nan
        raters.append(RaterSummary(
            rater=str(rs[0].get("rater")), session_id=sid,
            answered=sum(_truthy(r.get("answered")) for r in rs), presented=len(rs),
            real_rated=len(real), real_judged_real=kr, share_real_judged_real=share,
            flagged=bool(real) and share < threshold,
            completed=not _is_blank(rs[0].get("session_completed")),
        ))
    excluded = [x.session_id for x in raters if x.flagged] if exclude_flagged else []
    used = [r for r in rows if str(r.get("session_id") or r.get("rater")) not in excluded]
    conditions: list[ConditionSummary] = []
    real_rows = [r for r in used if r["kind"] == REAL]
    gen_rows = [r for r in used if r["kind"] == GENERATED]
    conditions.append(_summarise(REAL, REAL, real_rows, questions))
    conditions.append(_summarise(ALL_GENERATED, GENERATED, gen_rows, questions))
    for name in sorted({str(r["condition"]) for r in gen_rows}):
        conditions.append(_summarise(name, GENERATED,
                                     [r for r in gen_rows if str(r["condition"]) == name],
                                     questions))
    n_used = sum(1 for r in used if rf is None or not _is_blank(r.get(rf["id"])))
    return StudySummary(conditions, raters, threshold, excluded, n_used)


def _rated(row: dict[str, Any], rf: dict[str, Any] | None) -> bool:
    """Whether a row holds a rating: the real/fake answer, or any answer without that question."""
    if rf is not None:
        return not _is_blank(row.get(rf["id"]))
    return _truthy(row.get("answered"))


def _truthy(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() in ("true", "1", "yes"))


def analyse(study: Any, sessions: Iterable[Any], *, threshold: float | None = None,
            exclude_flagged: bool = False) -> StudySummary:
    """Analyse a study's sessions (threshold defaults to the study's setting)."""
    th = float(study.settings.get("real_check_threshold", 0.5)) if threshold is None else threshold
    return analyse_rows(results_rows(study, sessions), study.questions, threshold=th,
                        exclude_flagged=exclude_flagged)


def _pct(x: float) -> str:
    return "  -  " if not math.isfinite(x) else f"{100 * x:4.0f}%"


def _num(x: float, fmt: str = "{:.1f}") -> str:
    return "-" if not math.isfinite(x) else fmt.format(x)


def format_p(p: float) -> str:
    if not math.isfinite(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_summary(summary: StudySummary, questions: list[dict[str, Any]]) -> str:
    """A plain-text table for the terminal."""
    ins = question_by_role(questions, "inspiring")
    opts = list(ins["options"]) if ins else []
    head = (f"{'condition':<44} {'stim':>4} {'n':>4} {'real':>5} {'95% CI':>13} {'p':>7} "
            f"{'musicality [95% CI]':>21}")
    if opts:
        head += "  inspiring " + "/".join(o.lower() for o in opts)
    lines = [head, "-" * len(head)]
    for c in summary.conditions:
        ci = f"{_pct(c.share_low).strip()}-{_pct(c.share_high).strip()}" if c.n_ratings else "-"
        mus = (f"{_num(c.musicality_mean)} [{_num(c.musicality_low)}, {_num(c.musicality_high)}]"
               if c.musicality_n else "-")
        name = c.condition if len(c.condition) <= 44 else c.condition[:41] + "..."
        line = (f"{name:<44} {c.n_stimuli:>4} {c.n_ratings:>4} {_pct(c.share_real):>5} {ci:>13} "
                f"{format_p(c.p_value):>7} {mus:>21}")
        if opts:
            line += "  " + "/".join(str(c.inspiring.get(o, 0)) for o in opts)
        lines.append(line)
    lines.append("")
    lines.append(f"Raters (real excerpts judged real; flagged below {100 * summary.threshold:.0f}%):")
    for r in summary.raters:
        flag = "  FLAGGED" if r.flagged else ""
        if r.session_id in summary.excluded_raters:
            flag += " (left out)"
        share = (f"{r.real_judged_real}/{r.real_rated} ({_pct(r.share_real_judged_real).strip()})"
                 if r.real_rated else "no real excerpts answered")
        state = "finished" if r.completed else f"{r.answered}/{r.presented} answered"
        lines.append(f"  {r.rater:<24} {state:<20} {share}{flag}")
    if not summary.raters:
        lines.append("  (no sessions yet)")
    return "\n".join(lines)
