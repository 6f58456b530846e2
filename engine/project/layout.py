"""A project's training layout: which sections it learns from, joined how, and what is masked.

A plain project trains on one section of one file (manifest "source"; no layout recorded).
A layout project trains on a list of sections (of one file or several) joined into one
training clip (clip.wav) at the working rate:

- mode "variation": sections 1..n joined end to end; where two sections do not join in the
  original file, a short junction zone around the cut is masked, so the model never learns
  the cut. Variations and free material then draw on all of them.
- mode "bridge": exactly two sections, A and B, with a silent gap between them that the model
  learns to fill (masked, as Catch-A-Waveform's inpainting: caw-method.md section 8).
- mode "ending": sections joined as in "variation", then a silent gap after the last one that
  the model learns to fill (a continuation).

The manifest keeps the layout under "layout" (an additive field: projects without one are
plain projects and load as before). Spans are stored in samples at the working rate, so
training and rendering need no layout rules of their own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import ConfigError
from engine.fileutil import same_file

LAYOUT_MODES = ("variation", "bridge", "ending")
JUNCTION_SECONDS = 0.25  # masked zone around a cut where two sections are joined directly
MIN_SECTION_SECONDS = 0.5  # shortest section a layout accepts (besides the model's own limit)
MAX_GAP_SECONDS = 30.0  # longest gap asked for at all (the model's own limit is usually lower)
MIN_TAKE_GAP_SECONDS = 0.5  # shortest gap a take may fill (its cross-fades take up to half of it)


@dataclass(frozen=True)
class SectionRequest:
    """One section asked for: a file and a time range in it (seconds)."""

    path: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    @classmethod
    def parse(cls, text: str, default_path: str | None) -> SectionRequest:
        """"START-END" (in the default file) or "FILE:START-END" -> a request."""
        path, _, span = text.rpartition(":")
        if not path:
            if default_path is None:
                raise ConfigError(f"Section {text!r} names no file and there is no default clip; "
                                  "write FILE:START-END.")
            path = default_path
        a, sep, b = span.partition("-")
        try:
            if not sep:
                raise ValueError
            start, end = float(a), float(b)
        except ValueError:
            raise ConfigError(f"Section {text!r} is not START-END in seconds (e.g. 12.5-20).") from None
        return cls(str(path), start, end)


@dataclass(frozen=True)
class LayoutRequest:
    """What the user asked for: a mode, the sections in order, and the gap (bridge, ending)."""

    mode: str
    sections: tuple[SectionRequest, ...]
    gap: float = 0.0
    junction: float = JUNCTION_SECONDS

    def to_dict(self) -> dict[str, Any]:
        """The manifest's "layout" form, less what only building it can know (offsets, hashes,
        holes): {"mode", "gap", "junction", "sections": [{"path", "start", "duration"}]}. A
        queued job keeps its layout this way."""
        return {"mode": self.mode, "gap": float(self.gap), "junction": float(self.junction),
                "sections": [{"path": s.path, "start": float(s.start), "duration": s.duration}
                             for s in self.sections]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LayoutRequest:
        """A request from `to_dict`'s form or from a manifest's built "layout" (the extra keys
        are ignored). ConfigError for a dict that is not one."""
        try:
            sections = tuple(
                SectionRequest(str(s["path"]), float(s["start"]),
                               round(float(s["start"]) + float(s["duration"]), 6))
                for s in d["sections"])
            return cls(str(d["mode"]), sections, float(d.get("gap") or 0.0),
                       float(d.get("junction", JUNCTION_SECONDS)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"A layout needs a mode and sections with a path, start and "
                              f"duration ({type(exc).__name__}: {exc}).") from None

    def describe(self) -> str:
        """'bridge: a.wav 1.0-3.0 s + b.wav 4.0-6.0 s, gap 4 s' (a queue line)."""
        parts = " + ".join(f"{Path(s.path).name} {s.start:.1f}-{s.end:.1f} s"
                           for s in self.sections)
        return f"{self.mode}: {parts}" + (f", gap {self.gap:g} s" if self.gap else "")

    def check(self) -> None:
        """ConfigError with a clear message for a request that cannot make a layout (before any
        file is read; what needs the audio or the model is checked when the layout is built)."""
        if self.mode not in LAYOUT_MODES:
            raise ConfigError(f"Unknown mode {self.mode!r}; one of: {', '.join(LAYOUT_MODES)}.")
        n = len(self.sections)
        if n == 0:
            raise ConfigError("Give at least one section.")
        if self.mode == "bridge" and n != 2:
            raise ConfigError(f"A bridge joins two sections, A and B; {n} given.")
        if self.mode in ("bridge", "ending"):
            if not self.gap > 0 or not math.isfinite(self.gap):
                raise ConfigError(f"A {self.mode} needs a gap longer than 0 s (--gap SECONDS).")
            if self.gap > MAX_GAP_SECONDS:
                raise ConfigError(f"The gap is limited to {MAX_GAP_SECONDS:.0f} s.")
        elif self.gap:
            raise ConfigError("Mode 'variation' has no gap; use --mode bridge or ending.")
        if self.junction < 0:
            raise ConfigError("The junction zone cannot be negative.")
        for i, s in enumerate(self.sections):
            name = _section_name(i, self.mode)
            if s.start < 0 or not s.end > s.start:
                raise ConfigError(f"Section {name} ({s.start:g}-{s.end:g} s) must end after it "
                                  "starts, at 0 s or later.")
            if s.duration < MIN_SECTION_SECONDS:
                raise ConfigError(f"Section {name} is too short ({s.duration:.2f} s); a section "
                                  f"needs at least {MIN_SECTION_SECONDS:.1f} s.")
        for i, a in enumerate(self.sections):
            for j in range(i + 1, n):
                b = self.sections[j]
                if same_file(a.path, b.path) and a.start < b.end and b.start < a.end:
                    raise ConfigError(
                        f"Sections {_section_name(i, self.mode)} ({a.start:g}-{a.end:g} s) and "
                        f"{_section_name(j, self.mode)} ({b.start:g}-{b.end:g} s) overlap in "
                        f"{Path(a.path).name}; choose sections that do not."
                    )


@dataclass(frozen=True)
class SectionFile:
    """An audio file a section may come from, read once to know it can be: its length."""

    path: str  # resolved
    duration: float  # seconds
    sample_rate: int
    channels: int

    @property
    def name(self) -> str:
        return Path(self.path).name

    def check_section(self, start: float, end: float, name: str = "B") -> None:
        """ConfigError when [start, end) seconds is not a section of this file."""
        if start < 0 or not end > start:
            raise ConfigError(f"Section {name} ({start:g}-{end:g} s) must end after it starts, "
                              "at 0 s or later.")
        if end - start < MIN_SECTION_SECONDS:
            raise ConfigError(f"Section {name} is too short ({end - start:.2f} s); a section "
                              f"needs at least {MIN_SECTION_SECONDS:.1f} s.")
        if end > self.duration + 1e-3:
            raise ConfigError(f"Section {name} ({start:.2f}-{end:.2f} s) reaches past the end of "
                              f"{self.name} ({self.duration:.2f} s); choose an earlier start or "
                              "a shorter length.")


def probe_section_file(path: str | Path) -> SectionFile:
    """Read a file through (it may take a while: call it off the GUI thread) and say how long
    it is. AudioError for a file that is not readable audio, ConfigError for one shorter than
    a section."""
    from engine.audio.io import read_audio

    audio, sr = read_audio(path)
    duration = audio.shape[-1] / sr
    if duration < MIN_SECTION_SECONDS:
        raise ConfigError(f"{Path(path).name} is only {duration:.2f} s long; a section needs at "
                          f"least {MIN_SECTION_SECONDS:.1f} s.")
    return SectionFile(str(Path(path).resolve()), duration, int(sr), int(audio.shape[0]))



def _section_name(i: int, mode: str) -> str:
    if mode == "bridge":
        return "AB"[i] if i < 2 else str(i + 1)
    return str(i + 1)


@dataclass(frozen=True)
class PlacedSection:
    """A section as placed in the training clip."""

    path: str  # the source file (resolved)
    sha256: str
    sample_rate: int  # the file's own rate
    channels: int
    start: float  # seconds into the file
    duration: float  # seconds
    offset: int  # first sample in the training clip (working rate)
    length: int  # samples in the training clip

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "sample_rate": self.sample_rate,
                "channels": self.channels, "start": self.start, "duration": self.duration,
                "offset": self.offset, "length": self.length}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlacedSection:
        return cls(str(d["path"]), str(d.get("sha256") or ""), int(d.get("sample_rate") or 0),
                   int(d.get("channels") or 1), float(d["start"]), float(d["duration"]),
                   int(d["offset"]), int(d["length"]))

    @property
    def end_sample(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class Layout:
    """A built layout: where each section sits in the training clip and what is masked."""

    mode: str
    fs: int
    sections: tuple[PlacedSection, ...]
    gap: float  # seconds asked for (0 for "variation")
    gap_span: tuple[int, int] | None  # the span a bridge or an ending fills, samples at fs
    holes: tuple[tuple[int, int], ...] = field(default=())  # every masked span (gap, junctions)
    total: int = 0  # samples in the training clip

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode, "fs": self.fs, "gap": self.gap,
            "gap_span": list(self.gap_span) if self.gap_span else None,
            "holes": [list(h) for h in self.holes], "total": self.total,
            "sections": [s.to_dict() for s in self.sections],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Layout:
        mode = str(d["mode"])
        if mode not in LAYOUT_MODES:
            raise ValueError(f"unknown layout mode {mode!r}")
        gs = d.get("gap_span")
        return cls(mode, int(d["fs"]), tuple(PlacedSection.from_dict(s) for s in d["sections"]),
                   float(d.get("gap", 0.0)), (int(gs[0]), int(gs[1])) if gs else None,
                   tuple((int(a), int(b)) for a, b in d.get("holes", [])), int(d["total"]))

    # ---- derived ----

    @property
    def section_a(self) -> PlacedSection:
        """The section before the gap (bridge: A; ending: the last section)."""
        return self.sections[0] if self.mode == "bridge" else self.sections[-1]

    @property
    def section_b(self) -> PlacedSection | None:
        """The section after the gap (bridge only)."""
        return self.sections[1] if self.mode == "bridge" else None

    @property
    def gap_seconds(self) -> float:
        return 0.0 if self.gap_span is None else (self.gap_span[1] - self.gap_span[0]) / self.fs

    def real_spans(self) -> list[tuple[int, int]]:
        """Sample ranges of real audio (the sections, less their masked junction zones)."""
        out = []
        for s in self.sections:
            a, b = s.offset, s.end_sample
            for h0, h1 in self.holes:
                if h0 <= a < h1:
                    a = h1
                if h0 < b <= h1:
                    b = h0
            if b > a:
                out.append((a, b))
        return out

    def with_gap(self, seconds: float) -> Layout:
        """This layout with its gap resized to `seconds` (the sections after it move): the
        layout a take of another gap length is rendered and measured in. The model does not
        depend on the gap's length (nothing in the gap changes a weight, and the sections are
        the same), only on the scales it kept."""
        if self.gap_span is None:
            raise ConfigError("This project has no gap to fill.")
        if not math.isfinite(seconds) or not MIN_TAKE_GAP_SECONDS <= seconds <= MAX_GAP_SECONDS:
            raise ConfigError(f"A take fills a gap of {MIN_TAKE_GAP_SECONDS:g} to "
                              f"{MAX_GAP_SECONDS:.0f} s; {seconds:g} s asked for.")
        a, b = self.gap_span
        new_b = a + int(round(seconds * self.fs))
        if new_b == b:
            return self
        delta = new_b - b

        def move(i: int) -> int:
            return i + delta if i >= b else i

        sections = tuple(PlacedSection(s.path, s.sha256, s.sample_rate, s.channels, s.start,
                                       s.duration, move(s.offset), s.length)
                         for s in self.sections)
        holes = tuple((a, new_b) if h == self.gap_span else (move(h[0]), move(h[1]))
                      for h in self.holes)
        return Layout(self.mode, self.fs, sections, float(seconds), (a, new_b), holes,
                      self.total + delta)

    def describe(self) -> str:
        """One line per section, and the gap, in words (for `info` and the app)."""
        lines = []
        for i, s in enumerate(self.sections):
            lines.append(f"section {_section_name(i, self.mode)}: {Path(s.path).name} "
                         f"{s.start:.2f}-{s.start + s.duration:.2f} s")
        if self.gap_span is not None:
            where = "between A and B" if self.mode == "bridge" else "after the last section"
            lines.append(f"gap: {self.gap_seconds:.2f} s {where}")
        junctions = [h for h in self.holes if h != self.gap_span]
        if junctions:
            lines.append(f"masked junctions: {len(junctions)} "
                         f"({sum(b - a for a, b in junctions) / self.fs:.2f} s)")
        return "\n".join(lines)


def place(mode: str, fs: int, sections: Sequence[dict[str, Any]], lengths: Sequence[int],
          gap: float, junction: float) -> Layout:
    """Place sections (their source info dicts and lengths in samples at fs) into one clip.

    Two sections that follow each other in the same file (one ends where the next starts) join
    without a mask; any other join masks `junction` seconds around the cut. The bridge's gap
    (between A and B) and the ending's gap (after the last section) are silent and masked.
    """
    placed: list[PlacedSection] = []
    holes: list[tuple[int, int]] = []
    offset = 0
    gap_n = int(round(gap * fs))
    half = int(round(junction * fs / 2))
    gap_span: tuple[int, int] | None = None
    for i, (info, n) in enumerate(zip(sections, lengths, strict=True)):
        if i > 0:
            prev = placed[-1]
            if mode == "bridge":
                gap_span = (offset, offset + gap_n)
                holes.append(gap_span)
                offset += gap_n
            elif half and not (same_file(prev.path, info["path"])
                               and abs(prev.start + prev.duration - float(info["start"])) < 1.0 / fs):
                holes.append((max(0, offset - half), offset + half))
        placed.append(PlacedSection(
            str(info["path"]), str(info.get("sha256") or ""), int(info.get("sample_rate") or fs),
            int(info.get("channels") or 1), float(info["start"]), float(info["duration"]),
            offset, int(n)))
        offset += int(n)
    if mode == "ending":
        gap_span = (offset, offset + gap_n)
        holes.append(gap_span)
        offset += gap_n
    # junction zones never reach past the clip
    holes = [(a, min(b, offset)) for a, b in holes]
    return Layout(mode, fs, tuple(placed), float(gap), gap_span, tuple(holes), offset)


@dataclass(frozen=True)
class LayoutClip:
    """A layout's training clip: the joined signal (peak 1), its level, and where it came from."""

    signal: Any  # np.ndarray [T] (or [2, T] L/R) float32 at fs, peak 1 (gaps silent)
    gain: float  # multiply by this to restore the sections' original level
    layout: Layout
    source: dict[str, Any]  # the manifest's "source": the first section (A for a bridge)


def build_clip(request: LayoutRequest, fs: int, *, max_seconds: float | None,
               stereo: str = "mono") -> LayoutClip:
    """Read the sections, join them (with the gap) at `fs` and peak-normalise them together.
    With a `stereo` mode the sections keep their channels (engine.audio.channels): the joined
    clip is stereo when any section is, a mono section then sits on both channels.

    Raises ConfigError / AudioError for a bad request before anything is written: overlapping or
    too short sections, sections longer together than `max_seconds`, a range outside its file.
    """
    import numpy as np

    from engine.audio.io import load_clip

    request.check()
    total = sum(s.duration for s in request.sections)
    if max_seconds is not None and total > max_seconds + 1e-6:
        raise ConfigError(f"The sections add up to {total:.1f} s; this preset trains on at most "
                          f"{max_seconds:.1f} s of audio (the gap does not count).")
    clips = []
    for i, s in enumerate(request.sections):
        clip = load_clip(s.path, fs, start=s.start, duration=s.duration, stereo=stereo)
        if clip.duration < s.duration - 1e-3:
            raise ConfigError(
                f"Section {_section_name(i, request.mode)} ({s.start:g}-{s.end:g} s) reaches past "
                f"the end of {Path(s.path).name} ({clip.start + clip.duration:.2f} s).")
        clips.append(clip)
    infos = [{"path": c.source_path, "sha256": c.source_sha256, "sample_rate": c.source_sr,
              "channels": c.source_channels, "start": c.start, "duration": c.duration}
             for c in clips]
    layout = place(request.mode, fs, infos, [c.signal.shape[-1] for c in clips], request.gap,
                   request.junction)
    n_channels = max(c.signal.shape[0] if c.signal.ndim == 2 else 1 for c in clips)
    joined = np.zeros((n_channels, layout.total) if n_channels > 1 else layout.total, dtype=np.float32)
    for c, p in zip(clips, layout.sections, strict=True):
        joined[..., p.offset : p.end_sample] = c.signal * c.gain
    peak = float(np.max(np.abs(joined)))
    source = {**infos[0], "gain": peak}
    return LayoutClip((joined / peak).astype(np.float32), peak, layout, source)


# ---- seams: how a filled gap is joined to the real sections (numpy, working rate) ----------


def regap(x: Any, old: tuple[int, int], new: tuple[int, int]) -> Any:
    """`x` (time on the last axis) with the span `old` replaced by `new`'s length of zeros
    (both spans start at the same sample): what lies after the gap moves with it. The result
    is `new[1]` + (len(x) - `old[1]`) long."""
    import numpy as np

    x = np.asarray(x)
    a, b = old
    if new[0] != a:
        raise ValueError("the gap moves only at its end")
    hole = np.zeros(x.shape[:-1] + (new[1] - a,), dtype=x.dtype)
    return np.concatenate([x[..., :a], hole, x[..., b:]], axis=-1)


def layout_for_take(layout: Layout, clip: Any, seconds: float) -> tuple[Layout, Any]:
    """The layout a take filling `seconds` of gap is rendered and measured in, and the training
    clip (numpy, the gap silent) moved to match (Layout.with_gap, regap)."""
    moved = layout.with_gap(seconds)
    if moved is layout:
        return layout, clip
    assert layout.gap_span is not None and moved.gap_span is not None
    return moved, regap(clip, layout.gap_span, moved.gap_span)


def half_hann(n: int) -> Any:
    """The rising half of a Hann window, n samples: sin^2 from 0 to 1 (its complement 1 - w is
    the falling half, so a cross-fade keeps the sum of the weights at 1)."""
    import numpy as np

    t = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
    return np.sin(0.5 * np.pi * t) ** 2


def fill_gap(real: Any, generated: Any, gap: tuple[int, int], crossfade: int,
             fade_out: int = 0) -> Any:
    """`real` with the gap [a, b) taken from `generated` (same length, same rate), joined with
    half-Hann cross-fades of `crossfade` samples just before the gap (real -> generated) and
    just after it (generated -> real; none when the gap ends the clip), and an optional
    half-Hann fade-out over the last `fade_out` samples."""
    import numpy as np

    x = np.asarray(real, dtype=np.float64)  # [T] or [C, T]: the time axis is the last
    y = np.asarray(generated, dtype=np.float64)
    a, b = gap
    total = x.shape[-1]
    out = x.copy()
    out[..., a:b] = y[..., a:b]
    f_in = min(crossfade, a)
    if f_in:
        w = half_hann(f_in)
        out[..., a - f_in : a] = x[..., a - f_in : a] * (1 - w) + y[..., a - f_in : a] * w
    f_out = min(crossfade, total - b)
    if f_out:
        w = half_hann(f_out)
        out[..., b : b + f_out] = y[..., b : b + f_out] * (1 - w) + x[..., b : b + f_out] * w
    if fade_out:
        n = min(fade_out, total)
        out[..., total - n :] *= 1 - half_hann(n)
    return out.astype(np.float32)


def splice(a: Any, b: Any, crossfade: int) -> tuple[Any, int]:
    """The naive join of two signals: a then b with a plain half-Hann cross-fade of `crossfade`
    samples centred on the cut. Returns the joined signal and the seam's sample position."""
    import numpy as np

    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = min(crossfade, len(x), len(y))
    if n == 0:
        return np.concatenate([x, y]).astype(np.float32), len(x)
    w = half_hann(n)
    mid = x[len(x) - n :] * (1 - w) + y[:n] * w
    out = np.concatenate([x[: len(x) - n], mid, y[n:]])
    return out.astype(np.float32), len(x) - n // 2
