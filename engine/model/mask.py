"""Masks for inpainting (caw-method.md section 8): the spans a model must not learn from.

A project trained on a layout (engine.project.layout) has "holes": the gap of a bridge or an
ending, and the junctions where two sections were cut and joined. Every scale gets

- a sample mask (True outside the holes): the reconstruction loss and the critic's batch-norm
  statistics use those samples only;
- a critic mask (True for the critic outputs whose receptive field touches no hole): only those
  outputs enter the critic's score, so an output that sees the hole gets no gradient.

Spans are half-open [start, end) sample ranges at the working rate `fs`; each scale converts
them to its own rate, rounding outwards (a hole never shrinks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

Span = tuple[int, int]


def spans_at(spans: Sequence[Span], fs: int, rate: int, length: int) -> list[Span]:
    """`spans` (samples at fs) as samples at `rate`, rounded outwards and clipped to [0, length)."""
    out = []
    for a, b in spans:
        lo = max(0, math.floor(a * rate / fs))
        hi = min(length, math.ceil(b * rate / fs))
        if hi > lo:
            out.append((lo, hi))
    return out


def sample_mask(length: int, spans: Sequence[Span], device: torch.device | None = None) -> torch.Tensor:
    """[1, 1, length] float: 1 outside the spans, 0 inside."""
    m = torch.ones((1, 1, length), device=device)
    for a, b in spans:
        m[..., a:b] = 0.0
    return m


def erode(valid: torch.Tensor, kernel: int, dilation: int = 1) -> torch.Tensor:
    """What a "valid" convolution (no padding) with this kernel and dilation does to a mask:
    an output is valid when every input it reads is. [B, 1, T] -> [B, 1, T - dilation*(kernel-1)]."""
    return -F.max_pool1d(-valid, kernel_size=kernel, stride=1, dilation=dilation)


def critic_mask(length: int, spans: Sequence[Span], receptive_field: int,
                device: torch.device | None = None) -> torch.Tensor:
    """[1, 1, length - rf + 1] float: 1 where the critic output's receptive field touches no
    span. Output j reads inputs [j - 1, j + rf): the convolutions [j, j + rf) and the critic's
    pre-emphasis filter one output back; so outputs span start - rf + 1 .. span end are 0.
    (ScaleDiscriminator.output_mask derives the same mask layer by layer.)"""
    n = length - receptive_field + 1
    m = torch.ones((1, 1, max(n, 0)), device=device)
    for a, b in spans:
        m[..., max(0, a - receptive_field + 1) : max(0, b + 1)] = 0.0
    return m


def valid_outputs(length: int, spans: Sequence[Span], receptive_field: int) -> int:
    """How many critic outputs of a scale of `length` samples see no span."""
    return int(critic_mask(length, spans, receptive_field).sum())


def coverage(cmask: torch.Tensor, receptive_field: int) -> torch.Tensor:
    """[B, 1, T]: 1 for the input samples that at least one valid critic output reads
    (where the masked gradient penalty is measured)."""
    pad = receptive_field - 1
    return F.max_pool1d(F.pad(cmask, (pad, pad)), kernel_size=receptive_field, stride=1)


def masked_mean(scores: torch.Tensor, cmask: torch.Tensor) -> torch.Tensor:
    """Mean of the critic's scores over the valid outputs only (0 when none is valid)."""
    return (scores * cmask).sum() / cmask.sum().clamp_min(1.0)
