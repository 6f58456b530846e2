"""Spectral features shared by the losses, the metrics and the GUI's mel view."""

from __future__ import annotations

import numpy as np
import torch
import torchaudio


class LogMel(torch.nn.Module):
    """Log-mel spectrogram in dB: [..., T] -> [..., n_mels, frames]."""

    def __init__(
        self, sr: int, *, n_fft: int | None = None, hop: int | None = None, n_mels: int = 80,
        top_db: float = 80.0,
    ) -> None:
        super().__init__()
        n_fft = n_fft or _default_n_fft(sr)
        hop = hop or n_fft // 4
        self.sr, self.n_fft, self.hop = sr, n_fft, hop
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, f_min=0.0,
            f_max=sr / 2, power=2.0, center=True, pad_mode="constant", norm="slaney",
            mel_scale="slaney",
        )
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None)
        self.top_db = top_db

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_db(self.mel(x) + 1e-10)


def _default_n_fft(sr: int) -> int:
    """About 64 ms windows: 1024 at 16 kHz, 2048 at 44.1 kHz, never below 128."""
    n = 1 << int(round(np.log2(max(sr * 0.064, 128))))
    return int(n)


def log_mel(x: np.ndarray, sr: int, *, n_mels: int = 80, hop: int | None = None) -> np.ndarray:
    """Log-mel of mono audio as float32 [n_mels, frames] in dB (0 dB = full-scale sine power)."""
    module = LogMel(sr, n_mels=n_mels, hop=hop)
    with torch.no_grad():
        out = module(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))
    return out.numpy().astype(np.float32)


def mel_frame_seconds(sr: int, hop: int | None = None) -> float:
    """Seconds between mel frames for `log_mel(..., sr, hop=hop)`."""
    return (hop or _default_n_fft(sr) // 4) / sr
