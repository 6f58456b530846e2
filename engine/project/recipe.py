"""A render recipe: what a variation was made with, as data.

File tags, the list's words, export names and study conditions all derive from the
recipe; nothing parses a display label. Old variation indexes (which stored only
`from_scale` and a strength label) map to recipes through `RenderRecipe.from_legacy`.
Bridge and ending takes (a project trained with a masked gap, engine.project.layout) are the
modes "bridge" and "ending": `seconds` is the gap they fill, `crossfade` the half-Hann
cross-fade at each seam and `fade_out` an ending's fade at its end (both seconds).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import ConfigError

MODES = ("free", "variation", "bridge", "ending")
TAKE_MODES = ("bridge", "ending")  # modes that fill a project's gap
DEFAULT_CROSSFADE = 0.25  # seconds of half-Hann cross-fade at a seam (at most half the gap)

# (upper bound of closeness, short word, long label); closeness = from_scale / (n_scales - 2)
_STRENGTHS = (
    (0.2, "far", "far from the original"),
    (0.5, "loose", "loosely like the original"),
    (0.8, "close", "close to the original"),
    (float("inf"), "very close", "very close to the original"),
)
FREE_LABEL = "free (new structure)"


@dataclass(frozen=True)
class RenderRecipe:
    """How one render was made. Same recipe + same model = same audio."""

    mode: str  # "free": new structure of any length; "variation": keeps scales <= from_scale
    seed: int  # noise seed
    seconds: float  # length asked for
    from_scale: int | None = None  # "variation": the scale whose real signal is kept
    n_scales: int = 0  # scales of the model that rendered it (gives from_scale its meaning)
    crossfade: float = 0.0  # bridge/ending: half-Hann cross-fade at each seam, seconds
    fade_out: float = 0.0  # ending: fade at the end, seconds (0 = none)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"Unknown render mode {self.mode!r}; one of: {', '.join(MODES)}.")
        if self.crossfade < 0 or self.fade_out < 0:
            raise ConfigError("Cross-fade and fade-out cannot be negative.")
        if self.fade_out and self.mode != "ending":
            raise ConfigError("Only an ending has a fade-out.")
        if (self.mode == "variation") != (self.from_scale is not None):
            raise ConfigError("A variation keeps the real signal up to a scale (from_scale); "
                              "free material has none.")
        if self.seconds <= 0:
            raise ConfigError("A render must be longer than 0 s.")

    @classmethod
    def free(cls, seed: int, seconds: float, n_scales: int = 0) -> RenderRecipe:
        return cls("free", int(seed), float(seconds), None, int(n_scales))

    @classmethod
    def variation(cls, seed: int, seconds: float, from_scale: int, n_scales: int) -> RenderRecipe:
        return cls("variation", int(seed), float(seconds), int(from_scale), int(n_scales))

    @classmethod
    def take(cls, mode: str, seed: int, gap: float, *, crossfade: float | None = None,
             fade_out: float = 0.0, n_scales: int = 0) -> RenderRecipe:
        """A bridge or ending take filling a gap of `gap` seconds (the project's gap)."""
        if mode not in TAKE_MODES:
            raise ConfigError(f"A take is a bridge or an ending, not {mode!r}.")
        fade = min(DEFAULT_CROSSFADE, gap / 2) if crossfade is None else float(crossfade)
        return cls(mode, int(seed), float(gap), None, int(n_scales), round(fade, 6),
                   float(fade_out))

    @property
    def is_take(self) -> bool:
        return self.mode in TAKE_MODES

    @classmethod
    def of(cls, seed: int, seconds: float, from_scale: int | None, n_scales: int) -> RenderRecipe:
        """free when from_scale is None, else a variation."""
        if from_scale is None:
            return cls.free(seed, seconds, n_scales)
        return cls.variation(seed, seconds, from_scale, n_scales)

    @classmethod
    def from_legacy(cls, *, seed: int, seconds: float, from_scale: int | None,
                    n_scales: int) -> RenderRecipe:
        """A record saved before recipes existed (only from_scale and a display label)."""
        return cls.of(seed, seconds, from_scale, n_scales)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RenderRecipe:
        fs = d.get("from_scale")
        return cls(str(d["mode"]), int(d["seed"]), float(d["seconds"]),
                   None if fs is None else int(fs), int(d.get("n_scales", 0)),
                   float(d.get("crossfade", 0.0)), float(d.get("fade_out", 0.0)))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if not self.is_take:  # free/variation records keep the schema they always had
            d.pop("crossfade")
            d.pop("fade_out")
        return d

    # ---- words derived from the recipe ----

    @property
    def closeness(self) -> float | None:
        """0 = far from the original ... 1 = very close; None for free material."""
        if self.from_scale is None:
            return None
        return self.from_scale / max(1, self.n_scales - 2)

    def _strength(self) -> tuple[str, str]:
        if self.is_take:
            what = f"{self.mode} take, {self.seconds:g} s"
            if self.fade_out:
                what += f", fade-out {self.fade_out:g} s"
            return self.mode, what
        c = self.closeness
        if c is None:
            return "free", FREE_LABEL
        for bound, word, label in _STRENGTHS:
            if c <= bound:
                return word, label
        raise AssertionError("unreachable")

    @property
    def word(self) -> str:
        """Short word for lists and file names: free, far, loose, close, very close."""
        return self._strength()[0]

    @property
    def label(self) -> str:
        """The musician's words, e.g. "close to the original"."""
        return self._strength()[1]

    @property
    def tag(self) -> str:
        """File-name tag: "free", "k<from_scale>", "bridge" or "ending"."""
        if self.is_take:
            return self.mode
        return "free" if self.from_scale is None else f"k{self.from_scale}"

    @property
    def slug(self) -> str:
        """The word as a file-name part: "free", "far", "very-close"."""
        return self.word.replace(" ", "-")

    @property
    def condition(self) -> str:
        """A listening-study condition name: "generated (close)"."""
        return f"generated ({self.word})"
