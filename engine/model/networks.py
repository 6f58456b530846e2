"""Generator and discriminator of one scale (caw-method.md section 4).

Both are stacks of "valid" dilated 1-D convolutions with weight normalisation.
Shapes are [B, A, T] in and out, A the audio channels (1 mono, 2 stereo:
engine.audio.channels); the generator pads its input by half the receptive
field so its output has the input's length.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from engine.model.conv import Conv1d
from engine.model.mask import erode

PRE_EMPHASIS = 0.97


def _conv(c_in: int, c_out: int, *, kernel: int, dilation: int = 1, padding: int | str = 0) -> nn.Module:
    return weight_norm(Conv1d(c_in, c_out, kernel, dilation=dilation, padding=padding))


def pre_emphasis(x: torch.Tensor, coef: float = PRE_EMPHASIS) -> torch.Tensor:
    """y[n] = x[n] - coef * x[n-1] with x[-1] = 0; keeps the length. [B, 1, T] -> [B, 1, T]."""
    return x - coef * F.pad(x, (1, 0))[..., :-1]


class Trunk(nn.Module):
    """Head conv (dilation 1) and blocks with dilations 2 .. 2**(n_layers-2), each with BN + LeakyReLU."""

    def __init__(self, *, channels: int, n_layers: int, kernel: int, audio_channels: int = 1) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(n_layers - 1):
            layers += [
                _conv(audio_channels if i == 0 else channels, channels, kernel=kernel, dilation=2**i),
                nn.BatchNorm1d(channels),
                nn.LeakyReLU(0.2),
            ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """[B, 1, T] -> [B, C, T - rf + 1 + last].

        `valid` ([B, 1, T], 1 = a sample to learn from, 0 = inside a hole): batch norm then
        takes its statistics (and updates its running statistics) over the positions whose
        receptive field so far holds valid samples only; without it, the plain module.
        """
        if valid is None:
            return self.body(x)
        h, m = x, valid
        for layer in self.body:
            if isinstance(layer, nn.BatchNorm1d):
                h = masked_batch_norm(layer, h, m)
                continue
            h = layer(h)
            if isinstance(layer, nn.Conv1d):
                m = erode(m, layer.kernel_size[0], layer.dilation[0])
        return h

    def output_mask(self, valid: torch.Tensor) -> torch.Tensor:
        """The mask of the trunk's output positions for an input mask [B, 1, T]."""
        m = valid
        for layer in self.body:
            if isinstance(layer, nn.Conv1d):
                m = erode(m, layer.kernel_size[0], layer.dilation[0])
        return m


def masked_batch_norm(bn: nn.BatchNorm1d, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Batch norm of h [B, C, T] with its statistics over the positions where mask [B, 1, T] is 1
    (training mode: the running statistics are updated from those too); eval mode: `bn` itself."""
    if not bn.training:
        return bn(h)
    n = mask.sum().clamp_min(2.0)
    mean = (h * mask).sum(dim=(0, 2)) / n  # [C]
    centred = h - mean[None, :, None]
    var = (centred.square() * mask).sum(dim=(0, 2)) / n
    if bn.track_running_stats and bn.running_mean is not None and bn.running_var is not None:
        with torch.no_grad():
            momentum = 0.1 if bn.momentum is None else bn.momentum
            bn.running_mean.mul_(1 - momentum).add_(momentum * mean.detach())
            bn.running_var.mul_(1 - momentum).add_(momentum * var.detach() * n / (n - 1))
            if bn.num_batches_tracked is not None:
                bn.num_batches_tracked.add_(1)
    out = centred * torch.rsqrt(var + bn.eps)[None, :, None]
    if bn.affine:
        out = out * bn.weight[None, :, None] + bn.bias[None, :, None]
    return out


class ScaleGenerator(nn.Module):
    """G_s: adds the detail of one frequency band to the upsampled previous output."""

    def __init__(self, *, channels: int, n_layers: int = 8, kernel: int = 9,
                 audio_channels: int = 1) -> None:
        super().__init__()
        self.channels, self.n_layers, self.kernel = channels, n_layers, kernel
        self.audio_channels = audio_channels
        self.receptive_field = 1 + (kernel - 1) * (2**n_layers - 1)
        self.pad = self.receptive_field // 2
        self.trunk = Trunk(channels=channels, n_layers=n_layers, kernel=kernel,
                           audio_channels=audio_channels)
        self.last = _conv(channels, channels, kernel=kernel, dilation=2 ** (n_layers - 1))
        self.gate_f = _conv(channels, channels, kernel=kernel, padding="same")
        self.gate_g = _conv(channels, channels, kernel=kernel, padding="same")
        self.out = _conv(channels, audio_channels, kernel=1)

    @property
    def window_margin(self) -> int:
        """Context samples a window needs on each side so that `forward(..., margin=...)` gives
        exactly the samples the whole-signal forward gives there: half the receptive field, the
        gate convolutions' half kernel and one sample for the pre-emphasis filter."""
        return window_margin(self.receptive_field, self.kernel)

    def forward(
        self, noise: torch.Tensor, prev: torch.Tensor, *, margin: int = 0,
        valid: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """noise, prev: [B, 1, T] -> [B, 1, T] (the whole signal, zero-padded at both ends).

        Window mode (margin > 0): noise and prev are [B, 1, W + 2 * margin], a window of W
        samples with `margin` samples of its real neighbourhood on each side; the result is the
        [B, 1, W] middle. `valid` ([B, 1, W + 2 * margin], 1 inside the clip, 0 in the zeros
        that stand for what lies beyond its true ends) makes the gates and the pre-emphasis
        see zeros there, as the whole-signal forward does; with margin >= window_margin the
        window then equals the same slice of the whole-signal output (in eval mode: in
        training, batch norm takes its statistics from the windows).
        """
        if margin == 0:
            x = F.pad(noise + prev, (self.pad, self.pad))  # [B, 1, T + rf - 1]
            h = self.last(self.trunk(x))  # [B, C, T]
            h = torch.tanh(self.gate_f(h)) * torch.sigmoid(self.gate_g(h))
            return pre_emphasis(self.out(h)) + prev
        extra = margin - self.pad  # trunk output samples beyond the window on each side
        if extra < self.kernel // 2 + 1:
            raise ValueError(f"margin {margin} is below the window margin {self.window_margin}")
        width = noise.shape[-1] - 2 * margin  # W
        h = self.last(self.trunk(noise + prev))  # [B, C, W + 2 * extra]
        if valid is not None:
            h = h * valid[..., self.pad : self.pad + width + 2 * extra]
        h = torch.tanh(self.gate_f(h)) * torch.sigmoid(self.gate_g(h))
        y = self.out(h[..., extra - 1 : extra + width])  # [B, 1, W + 1]: one sample before the window
        if valid is not None:
            y = y * valid[..., margin - 1 : margin + width]
        return pre_emphasis(y)[..., 1:] + prev[..., margin : margin + width]


class ScaleDiscriminator(nn.Module):
    """D_s: a patch critic; one score per position of the unpadded signal."""

    def __init__(self, *, channels: int, n_layers: int = 8, kernel: int = 9,
                 audio_channels: int = 1) -> None:
        super().__init__()
        self.channels, self.n_layers, self.kernel = channels, n_layers, kernel
        self.audio_channels = audio_channels
        self.trunk = Trunk(channels=channels, n_layers=n_layers, kernel=kernel,
                           audio_channels=audio_channels)
        self.last = _conv(channels, 1, kernel=kernel, dilation=2 ** (n_layers - 1))

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """[B, 1, T] -> scores [B, 1, T - receptive_field + 1].

        With `valid` ([B, 1, T] sample mask, 0 inside holes) batch norm takes its statistics over
        the positions that see no hole (inpainting, caw-method.md section 8); the caller drops
        the scores whose receptive field touches a hole (`output_mask`)."""
        return pre_emphasis(self.last(self.trunk(x, valid)))

    def output_mask(self, valid: torch.Tensor) -> torch.Tensor:
        """[B, 1, T] sample mask -> [B, 1, T - rf + 1]: 1 for the scores that read no masked
        sample (the last conv, then the pre-emphasis filter, which reads one score back)."""
        m = self.trunk.output_mask(valid)
        m = erode(m, self.last.kernel_size[0], self.last.dilation[0])
        return torch.minimum(m, F.pad(m, (1, 0), value=1.0)[..., :-1])


def window_margin(receptive_field: int, kernel: int) -> int:
    """See ScaleGenerator.window_margin."""
    return receptive_field // 2 + kernel // 2 + 1


def same_shapes(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape for k in sa)
