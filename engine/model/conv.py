"""A 1-D convolution whose backward is fast on the CPU.

On the CPU, oneDNN's backward-data kernel for these small dilated convolutions (16 channels,
kernel 9, dilations up to 128, tens of thousands of samples) costs 4-6 times its forward
(bench/bench_conv.py). The input gradient of a stride-1 convolution is itself a convolution: the
output gradient, zero-padded, convolved with the kernel flipped in time and transposed in
channels. `Conv1d` computes it that way, with the fast forward kernel, and the weight gradient
of a dilated layer as a convolution too (undilated layers keep aten's). The backward is built
from differentiable operations (the input gradient with this same function), so the gradient
penalty's double backward takes the fast path too.

In training, long signals are convolved in overlapping pieces run as one batch (`_pieces`
below), which spreads them over the cores.

Same mathematics, different summation order: outputs and gradients agree with aten's to float32
rounding (tests/engine/model/test_conv.py), not bit for bit. Without gradients (generation from
a trained model, the frozen coarser scales) the forward is aten's own, unchanged. On CUDA, under
autocast, and for any case it does not cover (stride, groups, a padding mode other than zeros,
an even kernel with "same" padding), it is nn.Conv1d.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


class _FastConv1d(torch.autograd.Function):
    """y = conv1d(x, w, b, padding=p, dilation=d) with stride 1 and one group."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
                padding: int, dilation: int) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        ctx.padding, ctx.dilation = padding, dilation
        return _conv1d(x, w, b, padding, dilation)

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, w = ctx.saved_tensors
        p, d = ctx.padding, ctx.dilation
        gx = gw = gb = None
        if _wanted(ctx, 0):
            # x[t] contributed to y[t + p - k d] through w[k]; padding the output gradient by
            # (K-1) d - p on each side and correlating with the flipped kernel gathers them
            k = w.shape[-1]
            gx = fast_conv1d(gy, w.flip(-1).transpose(0, 1), None, (k - 1) * d - p, d)
        if _wanted(ctx, 1):
            gw = _weight_grad(x, w, gy, p, d)
        if _wanted(ctx, 2):  # False without a bias
            gb = gy.sum(dim=(0, 2))
        return gx, gw, gb, None, None


def _wanted(ctx: Any, i: int) -> bool:
    """Whether this backward pass needs the gradient of input i.

    `needs_input_grad` only says the input requires grad. A pass that wants less (the gradient
    penalty's input gradient, a generator step that leaves the critic's weights alone) does not
    run the nodes behind the other inputs; aten's kernels skip those gradients, and so does this
    backward. Where the engine cannot say (it refuses to answer for a leaf that autograd.grad
    was asked for, and torch.compile traces the backward without it), the gradient is
    computed."""
    if not ctx.needs_input_grad[i]:
        return False
    if torch.compiler.is_compiling():
        return True
    node = ctx.next_functions[i][0]
    if node is None:
        return True
    try:
        return bool(torch._C._will_engine_execute_node(node))
    except RuntimeError:
        return True


def _weight_grad(x: torch.Tensor, w: torch.Tensor, gy: torch.Tensor, p: int, d: int
                 ) -> torch.Tensor:
    """dL/dw[o, i, k] = sum over b, t of gy[b, o, t] x_padded[b, i, t + k d].

    Dilated: a convolution with the batch as channels and the output gradient as the kernel,
    strided by the dilation (2-3 times faster than aten's kernel here); undilated, aten's (on
    a long single signal, on its pieces as one batch: the same sum)."""
    if d == 1:
        pieces = _pieces(x, gy.shape[-1])
        if pieces > 1:
            xs, length = _split_input(x, w.shape[-1], p, d, pieces, gy.shape[-1])
            gy = F.pad(gy, (0, pieces * length - gy.shape[-1]))
            gy = gy.reshape(gy.shape[0], gy.shape[1], pieces, length).transpose(1, 2)
            gy = gy.reshape(-1, gy.shape[2], length)
            x, p = xs, 0
        return torch.ops.aten.convolution_backward(
            gy, x, w, None, [1], [p], [d], False, [0], 1, [False, True, False])[1]
    xp = F.pad(x, (p, p)) if p else x
    return F.conv1d(xp.transpose(0, 1), gy.transpose(0, 1), stride=d).transpose(0, 1).contiguous()


# Long signals are cut into overlapping pieces run as one batch. oneDNN's 1-D kernels spread a
# batch over the cores far better than one long signal, and a piece's activations stay in the
# cache: interleaved in one process on a 2-core AVX2 CPU a `thorough` step is 1.0-1.33 times
# faster per scale, 1.15-1.23 times over a run (bench/README.md, "Long signals in pieces").
# Every output sample is the same sum of the same products (weight gradients sum the pieces in
# another order: float rounding), and the pieces depend on the shapes only, not on the threads,
# so a seed trains the same on any thread count. SPLIT_ABOVE = 0 turns it off
# (bench/bench_conv.py --baseline unsplit).
SPLIT_ABOVE = 2048
SPLIT_PIECE = 6144


def _pieces(x: torch.Tensor, outputs: int) -> int:
    """How many pieces each signal of x [B, C, T] is cut into for a convolution with `outputs`
    outputs per signal: 1 (as it is) below SPLIT_ABOVE samples, else pieces of at most
    SPLIT_PIECE samples, and at least two of a lone signal (a whole scale), so that two cores
    share it; never more than the outputs."""
    if not SPLIT_ABOVE or x.shape[-1] < SPLIT_ABOVE:
        return 1
    pieces = -(-x.shape[-1] // SPLIT_PIECE)
    return min(max(pieces, 2) if x.shape[0] == 1 else pieces, max(outputs, 1))


def _split_input(x: torch.Tensor, k: int, p: int, d: int, pieces: int, outputs: int
                 ) -> tuple[torch.Tensor, int]:
    """x [B, C, T] zero-padded by p and cut into [B * pieces, C, L + (k-1) d], piece j of item b
    holding what outputs j L .. (j+1) L - 1 of b's padded convolution (`outputs` per signal)
    read; returns it and L."""
    halo = d * (k - 1)
    length = -(-outputs // pieces)
    xp = F.pad(x, (p, pieces * length + halo - x.shape[-1] - p))
    xs = xp.unfold(-1, length + halo, length).transpose(1, 2)  # [B, pieces, C, L + halo]
    return xs.reshape(-1, x.shape[1], length + halo), length


def _join(y: torch.Tensor, b: int, outputs: int) -> torch.Tensor:
    """[B * pieces, O, L] -> [B, O, outputs]: each item's pieces end to end."""
    pieces, (o, length) = y.shape[0] // b, y.shape[1:]
    y = y.reshape(b, pieces, o, length).transpose(1, 2)
    return y.reshape(b, o, pieces * length)[..., :outputs]


def _conv1d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, p: int, d: int
            ) -> torch.Tensor:
    """F.conv1d(x, w, b, padding=p, dilation=d), computed on pieces of long signals."""
    outputs = x.shape[-1] + 2 * p - d * (w.shape[-1] - 1)
    pieces = _pieces(x, outputs)
    if pieces == 1:
        return F.conv1d(x, w, b, padding=p, dilation=d)
    xs, _ = _split_input(x, w.shape[-1], p, d, pieces, outputs)
    return _join(F.conv1d(xs, w, b, dilation=d), x.shape[0], outputs)


def fast_conv1d(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, padding: int,
                dilation: int) -> torch.Tensor:
    """conv1d (stride 1, one group, zero padding `padding` on each side) with the fast backward."""
    return _FastConv1d.apply(x, w, b, padding, dilation)


class Conv1d(nn.Conv1d):
    """nn.Conv1d with the fast CPU backward where it applies; the same parameters and state
    dict, so models saved before load unchanged."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fast_pad = self._fast_padding()

    def _fast_padding(self) -> int | None:
        """The symmetric zero padding when the fast path applies, else None."""
        if self.stride != (1,) or self.groups != 1 or self.padding_mode != "zeros":
            return None
        k, d = self.kernel_size[0], self.dilation[0]
        if self.padding == "same":
            return d * (k - 1) // 2 if k % 2 == 1 else None
        if self.padding == "valid":
            return 0
        p = int(self.padding[0])
        return p if p <= d * (k - 1) else None

    def _conv_forward(self, input: torch.Tensor, weight: torch.Tensor,
                      bias: torch.Tensor | None) -> torch.Tensor:
        if (self._fast_pad is not None and input.device.type == "cpu"
                and torch.is_grad_enabled() and not torch.is_autocast_enabled("cpu")):
            return fast_conv1d(input, weight, bias, self._fast_pad, self.dilation[0])
        return super()._conv_forward(input, weight, bias)
