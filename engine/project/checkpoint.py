"""The project folder: a trained (or partly trained) model and everything made from it.

Layout (every file written atomically; manifest.json is the commit point):

    manifest.json          format and engine version, config, rates, noise amplitudes, progress
    clip.wav               the training section: mono or stereo (L/R), working rate, peak 1 (float)
    z_rec.safetensors      the fixed reconstruction noise at the coarsest scale
    scales/NNN.safetensors generator (G.*) and discriminator (D.*) weights of scale NNN
    train_log.jsonl        one JSON line per scale finished, per start, cancel and resume
    losses.jsonl           the loss points a run reported, for redrawing its curves later
    previews/NNN-sample.wav, NNN-reconstruction.wav
                           the coarse-to-fine previews of each finished scale (working rate)
    variations/            generated audio with JSON sidecars (written by generate/GUI)

Weights are safetensors: loading a project never runs code from it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
import torch
from safetensors.torch import load_file, save_file

from engine import ENGINE_VERSION
from engine.config import TrainConfig
from engine.errors import EngineError, ProjectError
from engine.fileutil import atomic_path, atomic_write_json
from engine.model.networks import ScaleDiscriminator, ScaleGenerator
from engine.project.layout import Layout

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


@dataclass
class Manifest:
    """What manifest.json holds. `scales_done` counts finished, saved scales."""

    config: TrainConfig
    rates: list[int]
    noise_amps: list[float]
    source: dict[str, Any]  # path, sha256, sr, channels, start, duration, gain
    scales_done: int = 0
    seed: int = 0
    device: str = "cpu"
    device_name: str = ""
    seconds_per_scale: list[float] = field(default_factory=list)
    iterations_done: list[int] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    engine_version: str = ENGINE_VERSION
    format_version: int = FORMAT_VERSION
    # sections, gap and masked spans of a layout project (engine.project.layout); None: a plain
    # one-section project. Additive: older manifests have no "layout" and load unchanged.
    layout: Layout | None = None
    # audio channels the networks were trained on (2: a stereo section, in config.stereo's
    # basis). Additive: older manifests have none and are mono.
    audio_channels: int = 1

    @property
    def holes(self) -> list[tuple[int, int]]:
        """Masked spans (samples at the working rate); empty for a plain project."""
        return list(self.layout.holes) if self.layout is not None else []

    @property
    def n_scales(self) -> int:
        return len(self.rates)

    @property
    def complete(self) -> bool:
        return self.scales_done >= self.n_scales

    @property
    def gain(self) -> float:
        return float(self.source.get("gain", 1.0))

    def inconsistency(self) -> str | None:
        """Why the fields do not fit together, or None."""
        if not self.rates or any(r <= 0 for r in self.rates) or self.rates != sorted(self.rates):
            return "the scale rates are missing or out of order"
        if len(self.noise_amps) != len(self.rates):
            return f"{len(self.noise_amps)} noise amplitudes for {len(self.rates)} scales"
        if not 0 <= self.scales_done <= len(self.rates):
            return f"{self.scales_done} finished scales of {len(self.rates)}"
        if self.rates[-1] != self.config.fs:
            return "the finest scale rate differs from the working rate"
        if self.audio_channels not in (1, 2):
            return f"{self.audio_channels} audio channels (1 or 2 are supported)"
        return None

    def channels_at(self, scale: int) -> int:
        return self.config.channels_first if scale == 0 else self.config.channels

    def network_shape(self, scale: int) -> dict[str, int]:
        """The keyword arguments of scale `scale`'s ScaleGenerator and ScaleDiscriminator: the
        networks' width, depth and kernel, and the audio channels they were trained on."""
        cfg = self.config
        return {"channels": self.channels_at(scale), "n_layers": cfg.n_layers,
                "kernel": cfg.kernel_size, "audio_channels": self.audio_channels}

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "engine_version": self.engine_version,
            "created": self.created,
            "updated": self.updated,
            "config": self.config.to_dict(),
            "rates": list(self.rates),
            "noise_amps": [float(a) for a in self.noise_amps],
            "source": dict(self.source),
            "scales_done": self.scales_done,
            "seed": self.seed,
            "device": self.device,
            "device_name": self.device_name,
            "seconds_per_scale": [float(s) for s in self.seconds_per_scale],
            "iterations_done": list(self.iterations_done),
            **({"layout": self.layout.to_dict()} if self.layout is not None else {}),
            **({"audio_channels": self.audio_channels} if self.audio_channels != 1 else {}),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        if not isinstance(d.get("config"), dict) or not isinstance(d.get("source"), dict):
            raise ValueError("config and source must be objects")
        return cls(
            config=TrainConfig.from_dict(d["config"]),
            rates=[int(r) for r in d["rates"]],
            noise_amps=[float(a) for a in d["noise_amps"]],
            source=dict(d["source"]),
            scales_done=int(d["scales_done"]),
            seed=int(d.get("seed", 0)),
            device=str(d.get("device", "cpu")),
            device_name=str(d.get("device_name", "")),
            seconds_per_scale=[float(s) for s in d.get("seconds_per_scale", [])],
            iterations_done=[int(i) for i in d.get("iterations_done", [])],
            created=float(d.get("created", 0.0)),
            updated=float(d.get("updated", 0.0)),
            engine_version=str(d.get("engine_version", "")),
            format_version=int(d["format_version"]),
            layout=Layout.from_dict(d["layout"]) if d.get("layout") else None,
            audio_channels=int(d.get("audio_channels", 1)),
        )


def is_project(path: str | os.PathLike[str]) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_manifest(project_dir: str | os.PathLike[str]) -> Manifest:
    root = Path(project_dir)
    path = root / MANIFEST
    if not root.exists():
        raise ProjectError(f"No project at {root}: the folder does not exist.")
    if not path.is_file():
        raise ProjectError(f"{root} is not a project folder (no {MANIFEST}).")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError(f"The project manifest {path} is damaged: {exc}.") from exc
    if not isinstance(data, dict) or "format_version" not in data:
        raise ProjectError(f"The project manifest {path} is damaged: no format version.")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ProjectError(f"The project manifest {path} is damaged: bad format version {version!r}.")
    if version > FORMAT_VERSION:
        raise ProjectError(
            f"The project at {root} was made by a newer version of Songwriter Assistant "
            f"(project format {version}, this version reads up to {FORMAT_VERSION}); please update."
        )
    try:
        manifest = Manifest.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError, EngineError) as exc:
        raise ProjectError(f"The project manifest {path} is damaged: {exc}.") from exc
    problem = manifest.inconsistency()
    if problem:
        raise ProjectError(f"The project manifest {path} is damaged: {problem}.")
    return manifest


def write_manifest(project_dir: str | os.PathLike[str], manifest: Manifest) -> None:
    manifest.updated = time.time()
    atomic_write_json(Path(project_dir) / MANIFEST, manifest.to_dict())


def append_log(project_dir: str | os.PathLike[str], event: str, **fields: Any) -> None:
    """Append one JSON line to train_log.jsonl (a lost last line is acceptable; it is a log)."""
    line = json.dumps({"time": time.time(), "event": event, **fields}, default=float)
    with open(Path(project_dir) / "train_log.jsonl", "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())


class LossLog:
    """Appends the loss points a run reports to losses.jsonl. It is for display only: no fsync,
    and a write error (a full disk) stops the log, never the training."""

    def __init__(self, project_dir: str | os.PathLike[str]) -> None:
        try:
            self._fh: Any = open(Path(project_dir) / "losses.jsonl", "a", encoding="utf-8")  # noqa: SIM115
        except OSError:
            self._fh = None

    def add(self, scale: int, iteration: int, iterations: int, losses: dict[str, float]) -> None:
        if self._fh is None:
            return
        line = {"scale": scale, "iteration": iteration, "iterations": iterations, "losses": losses}
        try:
            self._fh.write(json.dumps(line, default=float) + "\n")
            self._fh.flush()
        except (OSError, ValueError):
            self.close()

    def close(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                self._fh.close()
            self._fh = None

    def __enter__(self) -> LossLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_losses(project_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The loss points of losses.jsonl, in order, keeping for each scale only its last attempt
    (a resumed run restarts the scale it was cancelled in). Damaged lines are skipped."""
    path = Path(project_dir) / "losses.jsonl"
    by_scale: dict[int, list[dict[str, Any]]] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for raw in text.splitlines():
        try:
            item = json.loads(raw)
            s, it = int(item["scale"]), int(item["iteration"])
            int(item["iterations"])
            if not isinstance(item["losses"], dict):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            continue
        points = by_scale.setdefault(s, [])
        if points and it <= points[-1]["iteration"]:
            points.clear()  # that scale started again
        points.append(item)
    return [p for s in sorted(by_scale) for p in by_scale[s]]


def _write_float_wav(path: Path, x: np.ndarray, fs: int) -> None:
    """[T] or [C, T] float32 -> a float WAV, atomically."""
    data = np.asarray(x, dtype=np.float32)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data.T if data.ndim == 2 else data, fs, subtype="FLOAT", format="WAV")


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    """A WAV as [T] (mono) or [C, T]; the errors soundfile raises pass through."""
    data, sr = sf.read(str(path), dtype="float32", always_2d=False)
    return np.ascontiguousarray(data.T if data.ndim == 2 else data), int(sr)


def save_clip(project_dir: str | os.PathLike[str], signal: np.ndarray, fs: int) -> None:
    _write_float_wav(Path(project_dir) / "clip.wav", signal, fs)


def load_clip_signal(project_dir: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """The training section: [T] mono or [2, T] L/R at the working rate."""
    path = Path(project_dir) / "clip.wav"
    try:
        return _read_wav(path)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise ProjectError(f"The project's training clip {path} is missing or damaged.") from exc


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    with atomic_path(path) as tmp:
        save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(tmp))


def load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path), device="cpu")
    except (OSError, ValueError, RuntimeError) as exc:
        raise ProjectError(f"The weights file {path} is missing or damaged.") from exc
    except Exception as exc:  # safetensors raises its own SafetensorError
        raise ProjectError(f"The weights file {path} is damaged: {exc}.") from exc


def save_z_rec(project_dir: str | os.PathLike[str], z: torch.Tensor) -> None:
    save_tensors(Path(project_dir) / "z_rec.safetensors", {"z_rec": z})


def load_z_rec(project_dir: str | os.PathLike[str]) -> torch.Tensor:
    return load_tensors(Path(project_dir) / "z_rec.safetensors")["z_rec"]


def scale_path(project_dir: str | os.PathLike[str], scale: int) -> Path:
    return Path(project_dir) / "scales" / f"{scale:03d}.safetensors"


def save_scale(
    project_dir: str | os.PathLike[str], scale: int, g: ScaleGenerator, d: ScaleDiscriminator
) -> None:
    tensors = {f"G.{k}": v for k, v in g.state_dict().items()}
    tensors.update({f"D.{k}": v for k, v in d.state_dict().items()})
    save_tensors(scale_path(project_dir, scale), tensors)


def preview_path(project_dir: str | os.PathLike[str], scale: int, kind: str) -> Path:
    return Path(project_dir) / "previews" / f"{scale:03d}-{kind}.wav"


PREVIEW_KINDS = ("sample", "reconstruction")


def save_previews(
    project_dir: str | os.PathLike[str], scale: int, sample: np.ndarray,
    reconstruction: np.ndarray, fs: int,
) -> None:
    """Keep a finished scale's previews, so that a reopened project can still play them."""
    for kind, y in zip(PREVIEW_KINDS, (sample, reconstruction), strict=True):
        path = preview_path(project_dir, scale, kind)
        path.parent.mkdir(exist_ok=True)
        _write_float_wav(path, y, fs)


def load_previews(project_dir: str | os.PathLike[str], manifest: Manifest) -> dict[int, dict[str, Any]]:
    """The saved previews of the finished scales: {scale: {"sample", "reconstruction", "sr",
    "rate", "seconds"}}. A scale whose files are missing or unreadable is left out (projects
    from before previews were kept, or a crash between a scale and its previews)."""
    out: dict[int, dict[str, Any]] = {}
    for s in range(manifest.scales_done):
        try:
            got = []
            for kind in PREVIEW_KINDS:
                y, sr = _read_wav(preview_path(project_dir, s, kind))
                if (y.ndim == 1) != (manifest.audio_channels == 1) or not np.all(np.isfinite(y)):
                    raise ValueError("not a finite signal with the project's channels")
                got.append(y)
        except (sf.LibsndfileError, RuntimeError, OSError, ValueError):
            continue
        out[s] = preview_item(manifest, s, got[0], got[1], int(sr))
    return out


def preview_item(
    manifest: Manifest, scale: int, sample: np.ndarray, reconstruction: np.ndarray, sr: int
) -> dict[str, Any]:
    """One scale's previews as load_previews() returns them."""
    took = manifest.seconds_per_scale
    return {"sample": sample, "reconstruction": reconstruction, "sr": sr,
            "rate": manifest.rates[scale], "seconds": float(took[scale]) if scale < len(took) else 0.0}


def _split(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_scale(
    project_dir: str | os.PathLike[str], manifest: Manifest, scale: int, *, with_discriminator: bool
) -> tuple[ScaleGenerator, ScaleDiscriminator | None]:
    tensors = load_tensors(scale_path(project_dir, scale))
    kw = manifest.network_shape(scale)
    g = ScaleGenerator(**kw)
    try:
        g.load_state_dict(_split(tensors, "G."))
        d = None
        if with_discriminator:
            d = ScaleDiscriminator(**kw)
            d.load_state_dict(_split(tensors, "D."))
    except RuntimeError as exc:
        raise ProjectError(
            f"The weights of scale {scale} do not fit the project's settings: {exc}"
        ) from exc
    return g, d
