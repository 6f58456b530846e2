"""The one channel policy: which audio channels a section keeps, and the basis the networks see.

A section keeps two channels when the preset trains stereo and the file has two; anything else
is averaged to mono (a 5.1 file or a mono file trains mono). Arrays are [T] (mono) or [2, T]
(left, right), as everywhere in engine.audio.

The networks see a stereo section in one of two bases (TrainConfig.stereo):

- "left-right": the channels as they are, both through one network (2 in, 2 out);
- "mid-side": M = (L + R) / sqrt 2, S = (L - R) / sqrt 2 through one network, so the side is
  generated from the same features as the mid. The transform is orthonormal: it keeps the
  energy, so the energy thresholds and the noise amplitudes mean what they mean for L/R.

`encode` turns L/R into the basis, `decode` turns the basis back into L/R; both work on the
second-to-last axis of numpy arrays or torch tensors ([..., 2, T]) and pass mono through.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import torch

from engine.config import STEREO_MODES  # noqa: F401  (the modes, importable from here too)

_R = 1.0 / math.sqrt(2.0)

A = TypeVar("A", np.ndarray, torch.Tensor)


def keep_channels(audio: np.ndarray, stereo: str) -> np.ndarray:
    """[C, T] or [T] -> what a section keeps: [2, T] for a stereo file and a stereo mode, else
    the mean of the channels, [T]."""
    if audio.ndim == 1:
        return audio
    if stereo != "mono" and audio.shape[0] == 2:
        return np.ascontiguousarray(audio, dtype=np.float32)
    return audio.mean(axis=0).astype(np.float32)


def count(x: np.ndarray | torch.Tensor) -> int:
    """Audio channels of [T] (1) or [C, T] (C)."""
    return 1 if x.ndim == 1 else int(x.shape[0])


def _rotate(x: A) -> A:
    """(a, b) -> ((a + b) / sqrt 2, (a - b) / sqrt 2) on axis -2: its own inverse."""
    a, b = x[..., 0:1, :], x[..., 1:2, :]
    if isinstance(x, torch.Tensor):
        return torch.cat([(a + b) * _R, (a - b) * _R], dim=-2)
    return np.concatenate([(a + b) * _R, (a - b) * _R], axis=-2).astype(np.float32)


def encode(x: A, stereo: str) -> A:
    """L/R -> the networks' basis. Mono ([T], or a size-1 channel axis) passes through."""
    if stereo != "mid-side" or x.ndim < 2 or x.shape[-2] != 2:
        return x
    return _rotate(x)


def decode(x: A, stereo: str) -> A:
    """The networks' basis -> L/R (the inverse of `encode`)."""
    return encode(x, stereo)  # the rotation is its own inverse


def network_to_audio(x: torch.Tensor, stereo: str) -> np.ndarray:
    """A network output [1, C, T] -> float32 audio: [T] for one channel, [2, T] L/R for two."""
    y = decode(x.float().cpu()[0], stereo).numpy()
    return np.ascontiguousarray(y[0] if y.shape[0] == 1 else y, dtype=np.float32)


def as_network_input(x: np.ndarray, stereo: str) -> torch.Tensor:
    """Audio [T] or [2, T] (L/R) -> [1, C, T] in the networks' basis."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    t = t.reshape(1, 1, -1) if t.ndim == 1 else t.unsqueeze(0)
    return encode(t, stereo)
