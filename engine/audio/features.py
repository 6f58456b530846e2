"""Spectral features shared by the losses, the metrics and the GUI's mel view."""

from __future__ import annotations

import numpy as np
import torch

from engine.audio import dsp


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
        self.mel = dsp.mel_power_spectrogram(sample_rate=sr, n_fft=n_fft, hop=hop, n_mels=n_mels)
        self.top_db = top_db

    @property
    def fb(self) -> torch.Tensor:
        """The mel filter bank, [n_fft // 2 + 1, n_mels]."""
        return dsp.mel_filterbank(n_freqs=self.n_fft // 2 + 1, sample_rate=self.sr,
                                  n_mels=self.mel.n_mels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dsp.power_to_db(self.mel(x) + 1e-10)


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
