"""A render recipe: what a variation was made with, as data.

File tags, the list's words, export names and study conditions all derive from the
recipe; nothing parses a display label. Old variation indexes (which stored only
`from_scale` and a strength label) map to recipes through `RenderRecipe.from_legacy`.
The modes to come (bridge, ending) get their own `mode` value and fields here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from engine.errors import ConfigError

MODES = ("free", "variation")

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

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"Unknown render mode {self.mode!r}; one of: {', '.join(MODES)}.")
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
                   None if fs is None else int(fs), int(d.get("n_scales", 0)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    # ---- words derived from the recipe ----

    @property
    def closeness(self) -> float | None:
        """0 = far from the original ... 1 = very close; None for free material."""
        if self.from_scale is None:
            return None
        return self.from_scale / max(1, self.n_scales - 2)

    def _strength(self) -> tuple[str, str]:
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
        """File-name tag: "free" or "k<from_scale>"."""
        return "free" if self.from_scale is None else f"k{self.from_scale}"

    @property
    def slug(self) -> str:
        """The word as a file-name part: "free", "far", "very-close"."""
        return self.word.replace(" ", "-")

    @property
    def condition(self) -> str:
        """A listening-study condition name: "generated (close)"."""
        return f"generated ({self.word})"
