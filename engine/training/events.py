"""The events `iter_train` yields: small frozen records that front ends show and tests read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.config import TrainConfig


@dataclass(frozen=True)
class TrainStarted:
    project_dir: Path
    rates: tuple[int, ...]
    first_scale: int  # 0, or the scale a resume starts at
    device: str  # "cpu" / "cuda:0"
    device_name: str  # "NVIDIA H200" / "CPU (2 threads)"
    config: TrainConfig
    clip_seconds: float

    @property
    def n_scales(self) -> int:
        return len(self.rates)


@dataclass(frozen=True)
class TrainProgress:
    scale: int
    n_scales: int
    rate: int
    iteration: int  # 1-based, within the scale
    iterations: int
    losses: dict[str, float]  # "d/real", "d/fake", "gp", "d/total", "g/adv", "rec", "g/total"
    elapsed: float  # seconds since this run started
    seconds_per_iteration: float  # measured at this scale
    eta_seconds: float  # estimated time left for the whole run


@dataclass(frozen=True)
class ScaleFinished:
    scale: int
    n_scales: int
    rate: int
    preview: np.ndarray  # a random sample from scales 0..scale, at sample_rate, original level
    reconstruction: np.ndarray  # the reconstruction at this scale, same rate
    sample_rate: int  # the working rate (previews are resampled up to it for playback)
    seconds: float  # time this scale took


@dataclass(frozen=True)
class TrainFinished:
    project_dir: Path
    elapsed: float
    n_scales: int


@dataclass(frozen=True)
class TrainCancelled:
    project_dir: Path
    scales_done: int
    n_scales: int


TrainEvent = TrainStarted | TrainProgress | ScaleFinished | TrainFinished | TrainCancelled


