"""The one module that imports torchaudio: every DSP routine the project takes from it.

torchaudio is in maintenance mode upstream and each build loads only with the torch it was
built for, so its uses are kept here; replacing it is a change to this file alone. What is
used, and what would replace each:

- `resample`: Kaiser-windowed sinc resampling (torchaudio.functional.resample) -> soxr
  (python-soxr, VHQ) or scipy.signal.resample_poly with a Kaiser window.
- `mel_power_spectrogram` / `mel_filterbank`: STFT power through a Slaney mel filter bank
  (torchaudio.transforms.MelSpectrogram, functional.melscale_fbanks) -> torch.stft plus a
  filter bank from librosa.filters.mel (norm="slaney", htk=False), or ~30 lines of our own.
- `power_to_db`: 10 * log10(max(x, 1e-10)) (AmplitudeToDB) -> the same one line in torch.
- `dct_matrix`: orthonormal DCT-II matrix for MFCCs (functional.create_dct) ->
  scipy.fft.dct(np.eye(n), norm="ortho").
- `frechet_distance`: Fréchet distance between two Gaussians (functional.frechet_distance)
  -> scipy.linalg.sqrtm on the covariance product (the FAD formula).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio


def resample(x: torch.Tensor, orig_sr: int, new_sr: int) -> torch.Tensor:
    """Band-limited resampling of the last axis (Kaiser window, 64 zero crossings, rolloff 0.95)."""
    g = math.gcd(int(orig_sr), int(new_sr))
    return torchaudio.functional.resample(
        x, int(orig_sr) // g, int(new_sr) // g, lowpass_filter_width=64, rolloff=0.95,
        resampling_method="sinc_interp_kaiser",
    )


def power_spectrogram(x: torch.Tensor, *, n_fft: int, hop: int) -> torch.Tensor:
    """[..., T] -> [..., n_fft // 2 + 1, frames] power (Hann window of n_fft, centred frames)."""
    return torchaudio.transforms.Spectrogram(n_fft=n_fft, hop_length=hop, power=2.0)(x)


def mel_power_spectrogram(*, sample_rate: int, n_fft: int, hop: int, n_mels: int) -> torch.nn.Module:
    """[..., T] -> [..., n_mels, frames] mel power (centred frames, zero padded, Slaney mels)."""
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=hop, n_mels=n_mels, f_min=0.0,
        f_max=sample_rate / 2, power=2.0, center=True, pad_mode="constant", norm="slaney",
        mel_scale="slaney",
    )


def mel_filterbank(*, n_freqs: int, sample_rate: int, n_mels: int) -> torch.Tensor:
    """The filter bank `mel_power_spectrogram` uses: [n_freqs, n_mels], n_freqs = n_fft // 2 + 1."""
    return torchaudio.functional.melscale_fbanks(
        n_freqs, 0.0, sample_rate / 2, n_mels, sample_rate, norm="slaney", mel_scale="slaney",
    )


def power_to_db(x: torch.Tensor) -> torch.Tensor:
    """Power to dB re 1, floored at 1e-10 (-100 dB)."""
    return torchaudio.functional.amplitude_to_DB(x, multiplier=10.0, amin=1e-10, db_multiplier=0.0)


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """Orthonormal DCT-II as a float64 [n_mels, n_mfcc] matrix (mel dB @ matrix = MFCCs)."""
    return torchaudio.functional.create_dct(n_mfcc, n_mels, norm="ortho").double().numpy()


def frechet_distance(
    mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray
) -> float:
    """Fréchet distance between two Gaussians, float64, clamped at 0."""
    d = torchaudio.functional.frechet_distance(
        torch.from_numpy(mu_a), torch.from_numpy(cov_a), torch.from_numpy(mu_b),
        torch.from_numpy(cov_b),
    )
    return max(0.0, float(d))
