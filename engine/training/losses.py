"""Loss terms, each returning tensors; the trainer names them in a dict."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from engine.config import MSS_RESOLUTIONS

_WINDOWS: dict[tuple[int, str, str], torch.Tensor] = {}


def _window(length: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    key = (length, str(device), str(dtype))
    if key not in _WINDOWS:
        _WINDOWS[key] = torch.hann_window(length, device=device, dtype=dtype)
    return _WINDOWS[key]


def stft_magnitude(x: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    """|STFT| of [..., T] -> [..., n_fft//2+1, frames]."""
    flat = x.reshape(-1, x.shape[-1])
    spec = torch.stft(
        flat, n_fft=n_fft, hop_length=hop, win_length=win, window=_window(win, x.device, x.dtype),
        center=True, pad_mode="constant", return_complex=True,
    )
    return spec.abs()


def mss_loss(
    x: torch.Tensor, y: torch.Tensor, resolutions: Sequence[tuple[int, int, int]] = MSS_RESOLUTIONS
) -> torch.Tensor:
    """Mean over resolutions of the Frobenius norm of the difference of linear STFT magnitudes."""
    x32, y32 = x.float(), y.float()
    terms = [
        torch.linalg.norm(stft_magnitude(x32, *r) - stft_magnitude(y32, *r))
        for r in resolutions
    ]
    return torch.stack(terms).mean()


def mse_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.mean((x.float() - y.float()) ** 2)


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
    *, weight: float, generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP on alpha*real + (1-alpha)*fake, one scalar alpha per call, in float32.

    The gradient magnitude is taken per time sample (the channel axis has size 1):
    weight * mean_t(|dD/dx_t| - 1)^2.
    """
    alpha = torch.rand((), device=real.device, generator=generator)
    mix = (alpha * real.float() + (1.0 - alpha) * fake.float()).requires_grad_(True)
    with torch.autocast(device_type=real.device.type, enabled=False):
        scores = critic(mix)
    (grad,) = torch.autograd.grad(scores.sum(), mix, create_graph=True)
    per_sample = grad.norm(2, dim=1)  # [B, T]
    return weight * ((per_sample - 1.0) ** 2).mean()


# ---- masked terms (inpainting: caw-method.md section 8) -----------------------------------


def masked_rec_loss(kind: str, x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The reconstruction loss over valid samples only (`valid` [B, 1, T], 0 inside holes).

    "mse": the mean squared error over the valid samples. "mss": the spectral loss of the two
    signals with the holes zeroed in both, so a hole adds nothing to the difference.
    """
    if kind == "mse":
        diff = (x.float() - y.float()) ** 2 * valid
        return diff.sum() / valid.sum().clamp_min(1.0)
    return mss_loss(x * valid, y * valid)


def masked_gradient_penalty(
    critic: Callable[..., torch.Tensor], real: torch.Tensor, fake: torch.Tensor, *,
    valid: torch.Tensor, cmask: torch.Tensor, receptive_field: int, weight: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP with the critic's masked score: only the valid outputs (`cmask`) are summed, batch
    norm uses the valid samples (`valid`), and the per-sample penalty is averaged over the input
    samples those outputs read (rescaled to the valid outputs, as the unmasked mean is to all)."""
    from engine.model.mask import coverage

    alpha = torch.rand((), device=real.device, generator=generator)
    mix = (alpha * real.float() + (1.0 - alpha) * fake.float()).requires_grad_(True)
    with torch.autocast(device_type=real.device.type, enabled=False):
        scores = critic(mix, valid)
    (grad,) = torch.autograd.grad((scores * cmask).sum(), mix, create_graph=True)
    per_sample = grad.norm(2, dim=1, keepdim=True)  # [B, 1, T]
    cover = coverage(cmask, receptive_field)
    return weight * (((per_sample - 1.0) ** 2) * cover).sum() / cover.sum().clamp_min(1.0)
