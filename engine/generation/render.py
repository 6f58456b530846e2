"""Generation from a trained project: unconditional, variations, reconstruction.

The frozen generators themselves (`Pyramid`) live in engine.model.stack, shared with
training; this module loads a project into a `TrainedModel` and renders from it.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine import ENGINE_VERSION
from engine.audio.channels import as_network_input, network_to_audio
from engine.audio.io import resample, save_audio, trim_and_fade
from engine.device import resolve_device
from engine.errors import ConfigError, EngineError, ProjectError
from engine.fileutil import atomic_write_json, check_writable_dir
from engine.model.pyramid import scale_signals
from engine.model.stack import Pyramid, lengths_for, render_scale_previews
from engine.project.checkpoint import (
    Manifest,
    load_clip_signal,
    load_previews,
    load_scale,
    load_z_rec,
    preview_item,
    read_manifest,
    save_previews,
)

TRIM_SECONDS = 0.2
MAX_SECONDS = 600.0  # longest unconditional render


@dataclass
class TrainedModel:
    """A project loaded for generation."""

    project_dir: Path
    manifest: Manifest
    pyramid: Pyramid
    clip: np.ndarray  # [T] or [2, T] (L/R): the training section at the working rate, peak 1
    reals: list[np.ndarray]  # real signal at each scale, [A, T_s] in the networks' basis
    z_rec: torch.Tensor  # [1, A, T0]

    @property
    def fs(self) -> int:
        return self.manifest.config.fs

    @property
    def n_scales(self) -> int:
        return len(self.pyramid)

    @property
    def clip_seconds(self) -> float:
        return self.clip.shape[-1] / self.fs

    @property
    def gain(self) -> float:
        return self.manifest.gain


def load_model(
    project_dir: str | os.PathLike[str], device: str | torch.device | None = None
) -> TrainedModel:
    """Load the finished scales of a project. A partly trained project generates at its top scale."""
    root = Path(project_dir)
    manifest = read_manifest(root)
    if manifest.scales_done < 1:
        raise ProjectError(f"The project at {root} has no finished scale yet; train it first.")
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    gens = [load_scale(root, manifest, s, with_discriminator=False)[0] for s in range(manifest.scales_done)]
    clip, sr = load_clip_signal(root)
    rates = manifest.rates[: manifest.scales_done]
    reals = [as_network_input(x, manifest.config.stereo)[0].numpy()
             for x in scale_signals(clip, sr, rates)]
    return TrainedModel(
        project_dir=root,
        manifest=manifest,
        pyramid=Pyramid(gens, rates, manifest.noise_amps[: manifest.scales_done], dev,
                        manifest.audio_channels, manifest.config.band_limited_above),
        clip=clip,
        reals=reals,
        z_rec=load_z_rec(root),
    )


def project_model(project: Any, device: str | torch.device | None = None) -> TrainedModel:
    """The trained model of an open `engine.project.Project`, loaded once per manifest state
    and shared by the threads that render from it."""
    return project.cached(("model", str(device)), lambda: load_model(project.root, device))


def _finish(model: TrainedModel, x: torch.Tensor, trim: bool) -> np.ndarray:
    """[1, A, T] at the top finished scale -> float32 [T] (or [2, T] L/R) at the working rate,
    original level."""
    y = network_to_audio(x, model.manifest.config.stereo)
    top = model.pyramid.rates[-1]
    if top != model.fs:
        y = np.asarray(resample(y, top, model.fs), dtype=np.float32)
    y = y * model.gain
    return trim_and_fade(y, model.fs, trim_s=TRIM_SECONDS) if trim else y.astype(np.float32)


def generate(
    model: TrainedModel, *, seconds: float, seed: int, from_scale: int | None = None,
    trim: bool = False,
) -> np.ndarray:
    """One piece of audio at the working rate with the clip's original loudness.

    from_scale=None: unconditional, any length. from_scale=k: a variation that keeps
    the real signal at scale k (0 = coarsest = most different) and generates the
    scales above it; its length is at most the clip's.
    """
    check_request(model, count=1, seconds=seconds, from_scale=from_scale)
    g = torch.Generator().manual_seed(int(seed))
    pyr = model.pyramid
    if from_scale is None:
        lengths = lengths_for(pyr.rates, seconds)
        return _finish(model, pyr.run(lengths, pyr.random_noise(lengths, g)), trim)
    seconds = min(seconds, model.clip_seconds)
    lengths = lengths_for(pyr.rates, seconds)
    real = torch.from_numpy(model.reals[from_scale][..., : lengths[from_scale]])
    noise = pyr.random_noise(lengths, g)
    out = pyr.run(lengths, noise, start=from_scale, start_signal=real)
    return _finish(model, out, trim)


def check_request(model: TrainedModel, *, count: int, seconds: float, from_scale: int | None) -> None:
    """ConfigError for a request that cannot be rendered (checked before anything is written)."""
    if count < 1:
        raise ConfigError("The number of variations must be at least 1.")
    if not seconds > 0 or not math.isfinite(seconds):
        raise ConfigError("The length must be more than 0 seconds.")
    if seconds > MAX_SECONDS:
        raise ConfigError(f"The length is limited to {MAX_SECONDS:.0f} seconds.")
    if from_scale is not None and not 0 <= from_scale < model.n_scales - 1:
        if model.n_scales < 2:
            raise ConfigError("This project has one scale only: variations must be unconditional.")
        raise ConfigError(
            f"--from-scale (the variation strength) must be between 0 and {model.n_scales - 2} "
            "for this project."
        )


def reconstruct(model: TrainedModel, *, trim: bool = False) -> np.ndarray:
    """Run the pyramid on the fixed noise z* (zeros above the coarsest scale)."""
    lengths = [r.shape[-1] for r in model.reals]
    noise: list[torch.Tensor | None] = [model.z_rec] + [None] * (model.n_scales - 1)
    return _finish(model, model.pyramid.run(lengths, noise), trim)


def project_previews(
    project_dir: str | os.PathLike[str], device: str | torch.device | None = "cpu"
) -> dict[int, dict[str, Any]]:
    """Every finished scale's previews ({scale: {"sample", "reconstruction", "sr", "rate",
    "seconds"}}): the saved ones, and for scales without them (projects trained before previews
    were kept) rendered from the model and saved, when the folder is writable."""
    root = Path(project_dir)
    manifest = read_manifest(root)
    out = load_previews(root, manifest)
    missing = [s for s in range(manifest.scales_done) if s not in out]
    if not missing:
        return out
    model = load_model(root, device)
    lengths = [x.shape[-1] for x in model.reals]
    for s in missing:
        sample, rec = render_scale_previews(
            model.pyramid, lengths, model.z_rec, manifest, s, model.clip_seconds
        )
        with contextlib.suppress(OSError, EngineError):
            save_previews(root, s, sample, rec, manifest.config.fs)
        out[s] = preview_item(manifest, s, sample, rec, manifest.config.fs)
    return dict(sorted(out.items()))


def strength_label(from_scale: int | None, n_scales: int) -> str:
    """A musician's word for a variation's strength (engine.project.RenderRecipe.label)."""
    from engine.project import RenderRecipe

    return RenderRecipe.of(0, 1.0, from_scale, n_scales).label


@dataclass(frozen=True)
class Variation:
    """A rendered variation: audio at the working rate and where it came from."""

    audio: np.ndarray  # [T] or [2, T] float32, original loudness, edges trimmed if asked
    sample_rate: int
    seed: int
    from_scale: int | None
    seconds: float
    index: int
    path: Path | None = None  # where it was written, if it was


def variation_sidecar(model: TrainedModel, v: Variation, *, trimmed: bool,
                      file: str | None = None) -> dict[str, Any]:
    """The JSON beside a rendered file, in the project store's schema: the render under
    "variation" (with its recipe) and the model it came from under "provenance"."""
    from engine.project import Project, RenderRecipe

    m = model.manifest
    recipe = RenderRecipe.of(v.seed, v.seconds, v.from_scale, model.n_scales)
    return {
        "variation": {
            "file": file,
            "seed": v.seed,
            "from_scale": v.from_scale,
            "from_scale_rate": None if v.from_scale is None else m.rates[v.from_scale],
            "strength": recipe.label,
            "seconds": round(v.audio.shape[-1] / v.sample_rate, 4),
            "requested_seconds": v.seconds,
            "sample_rate": v.sample_rate,
            "trimmed": trimmed,
            "edges_trimmed_s": TRIM_SECONDS if trimmed else 0.0,
            "created": time.time(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "recipe": recipe.to_dict(),
        },
        "provenance": {"engine_version": ENGINE_VERSION,
                       **Project(model.project_dir, m).provenance()},
    }


def iter_variations(
    model: TrainedModel, *, count: int, seconds: float, seed: int, from_scale: int | None = None,
    trim: bool = True, out_dir: str | os.PathLike[str] | None = None, stem: str = "variation",
    subtype: str = "FLOAT", cancel: object | None = None,
) -> Iterator[Variation]:
    """Render `count` variations with seeds seed, seed+1, ...; write each (wav + JSON) if out_dir.

    Yields each as soon as it is made; stops early when `cancel.cancelled` is true.
    """
    check_request(model, count=count, seconds=seconds, from_scale=from_scale)
    folder = check_writable_dir(out_dir) if out_dir is not None else None
    for i in range(count):
        if cancel is not None and getattr(cancel, "cancelled", False):
            return
        s = seed + i
        audio = generate(model, seconds=seconds, seed=s, from_scale=from_scale, trim=trim)
        v = Variation(audio, model.fs, s, from_scale, seconds, i)
        if folder is not None:
            tag = "free" if from_scale is None else f"k{from_scale}"
            path = folder / f"{stem}_seed{s}_{tag}.wav"
            save_audio(path, audio, model.fs, subtype=subtype)
            atomic_write_json(path.with_suffix(".json"),
                              variation_sidecar(model, v, trimmed=trim, file=path.name))
            v = Variation(audio, model.fs, s, from_scale, seconds, i, path)
        yield v
