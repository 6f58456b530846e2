"""Configuration: one frozen dataclass per training setup, and the named presets.

Every field can be overridden (`get_preset("quick", iters_per_scale=100)`);
`to_dict` / `from_dict` round-trip through JSON for the project manifest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.errors import ConfigError

# Candidate scale rates in Hz, coarse to fine (caw-method.md section 3).
CANDIDATE_RATES: tuple[int, ...] = (
    320, 400, 500, 640, 800, 1000, 1280, 1600, 2000, 2500, 4000, 8000, 10000, 12000, 14400, 16000,
)
# Working rates above 16 kHz append these top scales (those <= fs).
HIGH_RATES: tuple[int, ...] = (22050, 32000, 44100, 48000)

# (n_fft, hop, window length) for the multi-resolution spectral loss.
MSS_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((2048, 240, 1200), (1024, 120, 600), (512, 50, 240))


# How a stereo section trains (engine.audio.channels): "mono" averages the channels; the others
# keep both and put them through one network, as left/right or as mid/side.
STEREO_MODES = ("mono", "left-right", "mid-side")
# The working rates a full-band preset takes from the source file (fs_from_source).
SOURCE_RATES = (44100, 48000)

COMPILE_MODES = ("", "default", "max-autotune-no-cudagraphs", "reduce-overhead")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run. Presets are instances of this."""

    name: str = "standard"  # preset name this config started from
    # Help texts, not part of what a run learns, so two configs that differ only in them are
    # equal (a reworded help text does not make another config for a project, a bench merge or
    # a preset lookup). `summary`: one or two plain sentences a songwriter reads first under the
    # preset menu (what it is for, what it gives up; no figures that depend on the machine).
    # `details`: the measured costs and comparisons behind it (the menu's and the summary's
    # tooltip, the CLI's help).
    summary: str = dataclasses.field(default="", compare=False)
    details: str = dataclasses.field(default="", compare=False)
    # --- audio ---
    fs: int = 16000  # working sample rate (Hz); the finest scale
    # the working rate is the file's own when it is one of SOURCE_RATES (fs otherwise)
    fs_from_source: bool = False
    stereo: str = "mono"  # STEREO_MODES: a stereo file trains in stereo unless "mono"
    max_seconds: float = 25.0  # longest section trained on
    candidate_rates: tuple[int, ...] = CANDIDATE_RATES  # scale rates to choose from (<= fs)
    high_rates: tuple[int, ...] = HIGH_RATES  # top scales above the candidates (<= fs)
    mode: str = "music"  # "music" (spectral reconstruction loss) or "speech" (MSE, first scale 500 Hz)
    energy_threshold: float = 0.0025  # first scale: mean square of the peak-normalised signal
    fallback_first_rate: int = 500  # first scale when no candidate passes the energy test
    # --- networks ---
    n_layers: int = 8  # conv layers per trunk; dilations 1, 2, ..., 2**(n_layers-1)
    kernel_size: int = 9  # kernel of every dilated conv
    channels_first: int = 16  # channels at the coarsest scale
    channels: int = 96  # channels at every other scale
    # --- optimisation ---
    iters_per_scale: int = 2000  # iterations (the reference's "epochs") per scale
    lr: float = 0.0015  # Adam learning rate for G and D
    betas: tuple[float, float] = (0.5, 0.999)  # Adam betas
    lr_decay_at: float = 2.0 / 3.0  # fraction of a scale's iterations after which lr *= lr_decay
    lr_decay: float = 0.1  # learning-rate factor after lr_decay_at
    gp_weight: float = 0.01  # WGAN-GP weight
    # Lazy gradient penalty: the penalty (a quarter of a step's work: a second forward and a
    # double backward through D) is taken every gp_every-th iteration with gp_every times the
    # weight, so its average pull is the reference's. 1 = every iteration (the reference).
    gp_every: int = 1
    # At a scale that trains on windows: the gradient penalty on the first gp_windows of the
    # iteration's windows only (they are drawn at random, so any of them), every iteration at the
    # config's weight; 0 = on all of them (the reference's penalty on the whole batch). thorough
    # with 1 (bench/README.md, "The penalty on one of the two windows"): about 9 % faster, synth
    # takes much duller and folk's less varied, so no preset sets it
    gp_windows: int = 0
    # At a scale that trains on windows: the reconstruction path on the first rec_windows of
    # the step's windows only (its spectral loss rescaled to the samples it sees, as
    # window_rec_power says); 0 = on all of them. thorough with 1 (bench/README.md, "The
    # reconstruction on one of the two windows"): 6-8 % faster, synth further from the
    # section's timbre, worse reconstructions, so no preset sets it
    rec_windows: int = 0
    rec_weight_music: float = 1e-4  # weight of the multi-resolution STFT reconstruction loss
    rec_weight_speech: float = 10.0  # weight of the MSE reconstruction loss (speech mode)
    noise_amp_factor: float = 0.01  # noise_amp_s = factor * sqrt(max(0, E_s - E_{s-1}))
    # --- speed levers (caw-method.md 5.2; metrics must hold, see bench/) ---
    bank_size: int = 0  # cached previous-scale inputs; 0 = redraw every iteration (reference)
    bank_refresh: int = 0  # iterations between refreshing one bank entry; 0 = never refresh
    amp: bool = False  # bf16 autocast of G/D forwards where bf16 is native (GP stays float32)
    # with amp: autocast at the scales that train on windows too; False = at whole scales only
    # (the windowed scales, which make the treble, stay float32). Measured on a CPU with AMX
    # (bench/README.md, "bf16 at the whole scales only"): folk's takes less varied, as with bf16
    # everywhere, so no preset sets it
    amp_windows: bool = True
    loss_every: int = 1  # read losses back from the device every N iterations
    tf32: bool = False  # allow TF32 tensor-core convolutions on CUDA (float32 storage)
    # torch.compile mode for the current scale's G and D forwards: "" = eager (default),
    # "default", "max-autotune-no-cudagraphs", or "reduce-overhead" (CUDA graphs, CUDA only).
    # The gradient penalty's double backward always runs eagerly.
    compile: str = ""
    # CUDA only: after `graph_warmup` eager iterations of a scale, capture its whole training step
    # (both forwards, the gradient penalty's double backward, both Adam updates) as one CUDA graph
    # and replay it, so the host launches one graph instead of about 1500 kernels an iteration
    # (the H200 profile: coarse scales were host-bound, 47 % busy). The same kernels in the same
    # order: what the model learns does not change. Inputs (windows, noise, the input bank) are
    # made eagerly and copied in. Ignored on the CPU and at scales with gaps (bridges, endings).
    cuda_graph: bool = False
    graph_warmup: int = 3
    # --- window training (bench/README.md "Window training"): a long scale trains on a batch of
    # random windows per iteration instead of the whole signal; G sees the real neighbourhood of
    # each window, zeros only beyond the clip's true ends ---
    window: int = 0  # samples per training window; 0 = the whole scale every iteration (reference)
    window_batch: int = 4  # windows per iteration
    window_above: int = 0  # windows at scales longer than this; 0 = longer than window_batch windows
    iters_window: int = 0  # iterations at a scale that trains on windows; 0 = iters_per_scale
    # iterations at the finest scale (the only one that makes the top octave), windows or not;
    # 0 = as the rules above say. thorough with 350 here (bench/README.md, "700 iterations at the
    # 4 and 8 kHz scales only"): 11 % faster, as varied, but further from folk's timbre; 1050
    # ("Folk's top octave"): nearer folk's timbre, less varied
    iters_top: int = 0
    # windows per iteration at the finest scale when it trains on windows; 0 = window_batch.
    # thorough with 4 there (bench/README.md, "Folk's top octave"): folk's timbre and top octave
    # nearer the section, but its takes less varied than whole scales'; no preset sets it
    window_batch_top: int = 0
    # Extra window starts past each end of the scale, in windows, clamped to that end. 0 = starts
    # uniform over [0, T - W] (projects trained before this field): a sample within a window of
    # either end is then in fewer windows the nearer the end, the first and last ones almost never.
    # 0.5: the first and the last window's samples are trained as often as the middle's on
    # average. Measured at full iterations (bench/README.md, "The clip's ends"): no better
    # reconstruction or variations than 0, so no preset sets it.
    window_ends: float = 0.0
    # The spectral reconstruction loss on windows is scaled by (scale length / samples in the
    # windows) ** window_rec_power: 0.5 estimates the whole scale's norm (the balance of the
    # reference's reconstruction and adversarial terms); lower weighs the reconstruction less.
    # Measured at full iterations on tonal music (bench/README.md, "What brings windows nearer"):
    # 0 was worse, 1 reconstructed better but its takes came no nearer; no preset changes it.
    window_rec_power: float = 0.5
    # --- up-sampling between scales ---
    # Scales above this rate (Hz) take the coarser output up-sampled band-limited (windowed
    # sinc) instead of cubic: cubic's images of the top octave land in the treble as hiss
    # (bench/README.md, "Studio treble"). 0 = cubic everywhere (the reference, and projects
    # trained before this field).
    band_limited_above: int = 0
    # --- reporting ---
    progress_every: int = 10  # emit a progress event every N iterations (throttled again by time)
    preview_seconds: float = 4.0  # length of the random sample rendered after each scale

    def __post_init__(self) -> None:
        problems = []
        if self.fs < 1000 or self.fs > 48000:
            problems.append(f"working rate {self.fs} Hz is outside 1000-48000 Hz")
        if self.max_seconds <= 0:
            problems.append("max_seconds must be positive")
        if self.iters_per_scale < 1:
            problems.append("iters_per_scale must be at least 1")
        if self.n_layers < 2:
            problems.append("n_layers must be at least 2")
        if self.channels < 1 or self.channels_first < 1:
            problems.append("channels must be at least 1")
        if self.mode not in ("music", "speech"):
            problems.append(f"mode must be 'music' or 'speech', not {self.mode!r}")
        if self.bank_size < 0 or self.bank_refresh < 0 or self.loss_every < 1:
            problems.append("bank_size/bank_refresh must be >= 0 and loss_every >= 1")
        if self.window:
            # D must score positions inside a window, and the spectral loss's longest FFT must fit
            need = max(self.receptive_field + 64, MSS_RESOLUTIONS[0][0] if self.mode == "music" else 0)
            if self.window < need:
                problems.append(f"window must be 0 (off) or at least {need} samples")
        if self.window < 0 or self.window_batch < 1 or self.window_above < 0 or self.iters_window < 0:
            problems.append("window, window_above and iters_window must be >= 0, window_batch >= 1")
        if self.gp_every < 1:
            problems.append("gp_every must be at least 1 (1: the penalty every iteration)")
        if self.gp_windows < 0 or self.rec_windows < 0:
            problems.append("gp_windows and rec_windows must be >= 0 (0: every window)")
        if self.iters_top < 0:
            problems.append("iters_top must be >= 0 (0: the finest scale as the others)")
        if self.window_batch_top < 0:
            problems.append("window_batch_top must be >= 0 (0: window_batch at the finest scale too)")
        if not 0.0 <= self.window_rec_power <= 1.0:
            problems.append("window_rec_power must be between 0 and 1")
        if not 0.0 <= self.window_ends <= 1.0:
            problems.append("window_ends must be between 0 and 1 (windows past each end)")
        if self.stereo not in STEREO_MODES:
            problems.append(f"stereo must be one of {', '.join(map(repr, STEREO_MODES))}")
        if self.band_limited_above < 0:
            problems.append("band_limited_above must be 0 (off) or a rate in Hz")
        if self.compile not in COMPILE_MODES:
            problems.append(f"compile must be one of {', '.join(map(repr, COMPILE_MODES))}")
        if self.cuda_graph and self.compile:
            problems.append("cuda_graph captures the eager step: use it with compile off")
        if self.graph_warmup < 1:
            problems.append("graph_warmup must be at least 1 (eager iterations before the capture)")
        if problems:
            raise ConfigError("Invalid training settings: " + "; ".join(problems) + ".")

    @property
    def receptive_field(self) -> int:
        """Samples one output sample of G or D depends on (2041 for 8 layers, kernel 9)."""
        return 1 + (self.kernel_size - 1) * (2**self.n_layers - 1)

    @property
    def window_margin(self) -> int:
        """Real context a training window's generator input gets on each side (1025 samples for
        8 layers, kernel 9): half the receptive field, the gates' half kernel and one sample."""
        return self.receptive_field // 2 + self.kernel_size // 2 + 1

    def help_text(self, sep: str = " ") -> str:
        """The summary and then the details, joined by `sep`."""
        return sep.join(t for t in (self.summary, self.details) if t)

    def uses_windows(self, length: int) -> bool:
        """Whether a scale of `length` samples trains on windows."""
        if not self.window:
            return False
        above = self.window_above or self.window_batch * self.window
        return length > max(above, self.window)

    def schedule(self, lengths: Sequence[int]) -> list[int]:
        """Training iterations of each scale, given every scale's length in samples, coarse to
        fine: `iters_top` at the finest scale when set, `iters_window` at a scale that trains on
        windows when set, `iters_per_scale` elsewhere. The trainer, the cost model and the
        benches all take the iterations from here."""
        iters = [self.iters_window if self.iters_window and self.uses_windows(n) else self.iters_per_scale
                 for n in lengths]
        if iters and self.iters_top:
            iters[-1] = self.iters_top
        return iters

    def windows(self, lengths: Sequence[int]) -> list[int]:
        """Windows per training step at each scale, given every scale's length, coarse to fine:
        0 at a scale trained whole, `window_batch` at one that trains on windows,
        `window_batch_top` at the finest when set."""
        n = [self.window_batch if self.uses_windows(x) else 0 for x in lengths]
        if n and n[-1] and self.window_batch_top:
            n[-1] = self.window_batch_top
        return n

    def step_sizes(self, lengths: Sequence[int]) -> list[int]:
        """Samples one training step pushes through G at each scale, coarse to fine: the windows
        with their context at a scale that trains on windows, else the whole scale. The
        trainer's progress, the memory check, the cost model and the benches take them here."""
        span = self.window + 2 * self.window_margin
        return [k * span if k else x for k, x in zip(self.windows(lengths), lengths, strict=True)]

    def for_source(self, source_rate: int) -> TrainConfig:
        """The config for a file at `source_rate`: its own rate as the working rate when
        fs_from_source and the rate is one of SOURCE_RATES; else this config unchanged."""
        if self.fs_from_source and source_rate in SOURCE_RATES and source_rate != self.fs:
            return self.replace(fs=int(source_rate))
        return self

    @property
    def rec_weight(self) -> float:
        return self.rec_weight_music if self.mode == "music" else self.rec_weight_speech

    def replace(self, **overrides: Any) -> TrainConfig:
        unknown = set(overrides) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ConfigError(f"Unknown setting(s): {', '.join(sorted(unknown))}.")
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                continue  # a newer engine's extra field; the format version guards breaking changes
            if isinstance(value, list):
                value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
            kwargs[key] = value
        return cls(**kwargs)


# Speed levers that keep what is learned (bench/README.md has the comparisons): a cached bank
# of previous-scale inputs (metrics within the reference's run-to-run spread, CPU, 3 seeds) and
# losses read back every 25 iterations (no numeric change). bf16 autocast and TF32 stay off: on an
# H200 they make standard's top scale 1.39x and 1.55x faster and its coarse scales no faster
# (bench/README.md, "GPU figures"), and their quality on a GPU is not measured yet.
_FAST_LEVERS: dict[str, Any] = {"bank_size": 8, "bank_refresh": 10, "loss_every": 25}
# The CPU presets' networks and schedule (quick, studio; thorough adds iters_window): 16
# channels, 350 iterations per scale, the cached input bank, and scales over 32 768 samples on 2
# random windows of 8192 samples.
_CPU_SHAPE: dict[str, Any] = {
    "channels_first": 16, "channels": 16, "iters_per_scale": 350, "bank_size": 8,
    "bank_refresh": 10, "loss_every": 25, "window": 8192, "window_batch": 2,
    "window_above": 32768, "progress_every": 5,
}
# quick's and thorough's rates: mono at 16 kHz, sections up to 10 s, 8 scales.
_CPU_MONO: dict[str, Any] = {
    "fs": 16000, "max_seconds": 10.0, "candidate_rates": (320, 500, 800, 1280, 2000, 4000, 8000, 16000),
}
# The channel basis of the stereo presets, chosen by bench/stereo_compare.py (bench/README.md,
# "Stereo").
STEREO_BASIS = "mid-side"
# Window training for the GPU presets: scales longer than 4 windows (65 536 samples: the 4, 8
# and 16 kHz scales of a 25 s section, and hifi's top scales) train on 4 random windows of 16 384
# samples (8 receptive fields) per iteration: 5.55x faster at the 16 kHz scale of 25 s on an H200.
# Its quality was measured on a CPU at 16 channels (bench/README.md); at 96 channels on a GPU it
# is for `bench/gpu.sh full` to confirm.
_GPU_WINDOWS: dict[str, Any] = {"window": 16384, "window_batch": 4}

# The preset a CPU user gets unless they choose: thorough, the one that met issue 11's quality
# condition on all four kinds of music measured (quick's takes were less varied on tonal synth
# music), at 13 min for 10 s alone on a fast hour of the 2-core VM (quick 8 min the same hour;
# bench/README.md, "700 iterations at the 4 and 8 kHz scales only"). GPUs get standard.
DEFAULT_CPU_PRESET = "thorough"
DEFAULT_GPU_PRESET = "standard"


def default_preset_for(device_type: str) -> str:
    """The preset for a device type ("cuda" or "cpu") when the user names none."""
    return DEFAULT_GPU_PRESET if device_type == "cuda" else DEFAULT_CPU_PRESET


PRESETS: dict[str, TrainConfig] = {
    "tiny": TrainConfig(
        name="tiny",
        summary="For tests only: trains in seconds and sounds like nothing.",
        details="4 kHz, 3 s, 4 scales, 8 channels, 5 layers, 8 iterations per scale.",
        fs=4000,
        max_seconds=3.0,
        candidate_rates=(500, 1000, 2000, 4000),
        n_layers=5,
        channels_first=8,
        channels=8,
        iters_per_scale=8,
        progress_every=2,
        preview_seconds=1.0,
    ),
    "quick": TrainConfig(
        name="quick",
        summary="The fastest on a CPU: mono, full treble (up to 8 kHz), sections up to 10 s. "
                "Its takes vary less than thorough's on melodic, tonal material.",
        details="The fastest for a CPU: mono at a 16 kHz working rate (treble up to 8 kHz), sections up"
        " to 10 s. 8-17 min for 10 s on a 2-core CPU (measured). Gives up: 8 scales instead of "
        "12, 16 channels instead of 96, 350 iterations per scale instead of 2000 (rougher "
        "texture than standard); scales over 32 768 samples train on 2 random windows of 8192 "
        "samples (10 s, three seeds, measured, bench/README.md: against the former 8 kHz "
        "preset's whole scales as good on heavy rock, metal and acoustic folk, less varied on "
        "tonal synth music, where thorough is not; against whole scales at its own "
        "architecture a weaker top octave on folk and a little less varied on metal).",
        **_CPU_MONO,
        **_CPU_SHAPE,
    ),
    "thorough": TrainConfig(
        name="thorough",
        summary="The default on a CPU: quick with twice the training on the fine detail, about "
                "1.6 times quick's time. Takes as varied as the earlier CPU preset's on every "
                "kind of music measured, and closer to the section's sound. Mono, up to 10 s.",
        details="The default for a CPU: quick with 700 iterations instead of 350 at the scales "
        "that train on windows (4, 8 and 16 kHz for a 10 s section). About 1.6 times quick's "
        "time: 13-25 min for 10 s on a 2-core CPU (measured). As varied as the former 8 kHz "
        "preset on every kind of music measured (quick's takes are less varied on tonal synth "
        "music), nearer folk's timbre and a closer reconstruction than quick; within the spread "
        "of whole-scale training at its own architecture (2.2-2.6 times as slow) on every "
        "measure on synth, folk, metal and heavy rock, though on folk its takes' top octave is "
        "a little duller than whole scales' (timbre 24 % further). 10 s, three to five seeds; "
        "bench/README.md. Gives up what quick gives up otherwise.",
        **_CPU_MONO,
        **dict(_CPU_SHAPE, iters_window=700),
    ),
    "studio": TrainConfig(
        name="studio",
        summary="Full band and stereo on a CPU, at the file's own rate, sections up to 10 s. "
                "Above 8 kHz the drums' attacks come out as a steady shimmer.",
        details="Full band and stereo on a CPU: the source file's own rate (44.1 or 48 kHz; "
        "other rates 44.1 kHz), a stereo file stays stereo, sections up to 10 s. "
        "17.5 min for 10 s on a 2-core CPU (measured). Gives up what quick gives up (16 "
        "channels, 350 iterations per scale, rougher texture than hifi), and above 8 kHz the "
        "drums' attacks: the treble has the recording's level and colour but is smeared into a "
        "steady shimmer (measured; bench/README.md). Its two extra scales (32 kHz and the "
        "source rate) train on 2 random windows of 8192 samples and take the coarser output "
        "up-sampled band-limited.",
        fs=44100,
        fs_from_source=True,
        stereo=STEREO_BASIS,
        max_seconds=10.0,
        candidate_rates=(320, 500, 800, 1280, 2000, 4000, 8000, 16000, 32000),
        high_rates=(),
        band_limited_above=16000,
        **_CPU_SHAPE,
    ),
    "standard": TrainConfig(
        name="standard",
        summary="The method at its full size, for an NVIDIA GPU: sections up to 25 s, stereo "
                "kept, treble up to 8 kHz.",
        details="The reference architecture for a CUDA GPU: 16 kHz, up to 25 s, up to 16 scales, "
        "16/96 channels, 2000 iterations per scale, stereo kept; scales over 65 536 samples "
        "train on 4 random windows of 16 384 samples per iteration (set window=0 for the "
        "reference trainer). About 45 min for 25 s on one H200 (projected from measured "
        "iterations; the reference trainer about 2 hours).",
        stereo=STEREO_BASIS,
        **_FAST_LEVERS,
        **_GPU_WINDOWS,
    ),
    "hifi": TrainConfig(
        name="hifi",
        summary="Full band and stereo for an NVIDIA GPU, at the file's own rate, sections up to "
                "25 s. Its sound on a GPU is not measured yet.",
        details="Full band and stereo for a CUDA GPU: the source file's own rate (44.1 or 48 kHz) "
        "with the extra top scales (22.05, 32 kHz), up to 25 s, 16/96 channels, 2000 iterations "
        "per scale, stereo kept; scales over 65 536 samples train on 4 random windows of 16 384 "
        "samples per iteration; the scales above 16 kHz take the coarser output up-sampled "
        "band-limited (as studio). About 55 min for 25 s on one H200 (projected from measured "
        "iterations; its quality not yet measured on a GPU).",
        fs=44100,
        fs_from_source=True,
        stereo=STEREO_BASIS,
        band_limited_above=16000,
        **_FAST_LEVERS,
        **_GPU_WINDOWS,
    ),
}


# Configurations kept for comparisons in bench/ (get_preset finds them; the app and the CLI's
# help list only PRESETS): the CPU preset as it was before window training (issue 11).
COMPARISON_PRESETS: dict[str, TrainConfig] = {
    "quick8k": TrainConfig(
        name="quick8k",
        summary="The former CPU preset, kept for comparisons: no treble above 4 kHz.",
        details="The former CPU preset, kept for comparisons: 8 kHz top rate (no treble above "
        "4 kHz), up to 10 s, 7 scales, 16 channels, 350 iterations per scale on the whole signal, "
        "cached coarse-scale inputs. About 20-25 min for 10 s on a 2-core CPU.",
        fs=8000,
        max_seconds=10.0,
        candidate_rates=(320, 500, 800, 1280, 2000, 4000, 8000),
        channels_first=16,
        channels=16,
        iters_per_scale=350,
        bank_size=8,
        bank_refresh=10,
        progress_every=5,
    ),
}


def preset_names() -> list[str]:
    return list(PRESETS)


def get_preset(name: str, **overrides: Any) -> TrainConfig:
    """The named preset with any field overridden; ConfigError for an unknown name or field."""
    try:
        base = PRESETS[name] if name in PRESETS else COMPARISON_PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"Unknown preset {name!r}; choose one of: {', '.join(PRESETS)}."
        ) from None
    return base.replace(**overrides) if overrides else base


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """["iters_per_scale=50", "amp=true"] -> {"iters_per_scale": 50, "amp": True}.

    Values become int, float or bool where they read as one; anything else stays a string.
    """
    out: dict[str, Any] = {}
    for kv in items:
        if "=" not in kv:
            raise ConfigError(f"A setting must look like FIELD=VALUE, not {kv!r}.")
        key, text = (part.strip() for part in kv.split("=", 1))
        value: Any = {"true": True, "false": False}.get(text.lower(), text)
        for conv in (int, float):
            try:
                value = conv(text)
                break
            except ValueError:
                pass
        out[key] = value
    return out
