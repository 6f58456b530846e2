"""Inpainting masks (caw-method.md section 8): a critic output whose receptive field touches the
hole is dropped from the score and gets no gradient; batch norm takes its statistics from the
valid samples only; the unmasked path is the plain module."""

from __future__ import annotations

import pytest
import torch

from engine.model.mask import (
    coverage,
    critic_mask,
    masked_mean,
    sample_mask,
    spans_at,
    valid_outputs,
)
from engine.model.networks import ScaleDiscriminator

pytestmark = pytest.mark.usefixtures("one_torch_thread")

T = 1200
HOLE = (500, 620)


@pytest.fixture()
def critic() -> ScaleDiscriminator:
    torch.manual_seed(0)
    return ScaleDiscriminator(channels=8, n_layers=5, kernel=9).train()


def test_spans_at_rounds_outwards_and_clips() -> None:
    assert spans_at([(1000, 2001)], 4000, 500, 400) == [(125, 251)]
    assert spans_at([(3990, 4100)], 4000, 4000, 4000) == [(3990, 4000)]
    assert spans_at([(0, 10)], 4000, 500, 0) == []


def test_output_mask_matches_the_receptive_field(critic: ScaleDiscriminator) -> None:
    rf = 1 + 8 * 31  # 5 layers, kernel 9
    m = critic.output_mask(sample_mask(T, [HOLE]))
    expect = critic_mask(T, [HOLE], rf)
    assert m.shape == expect.shape == (1, 1, T - rf + 1)
    assert torch.equal(m, expect)
    zero = torch.nonzero(m[0, 0] == 0).reshape(-1)
    # outputs from hole start - rf + 1 to hole end (the pre-emphasis reads one output back)
    assert zero.min().item() == HOLE[0] - rf + 1 and zero.max().item() == HOLE[1]
    assert valid_outputs(T, [HOLE], rf) == int(m.sum())


def test_a_critic_output_touching_the_hole_gets_no_gradient(critic: ScaleDiscriminator) -> None:
    x = torch.randn(1, 1, T, requires_grad=True)
    valid = sample_mask(T, [HOLE])
    cmask = critic.output_mask(valid)
    scores = critic(x, valid)
    scores.retain_grad()
    masked_mean(scores, cmask).backward()
    g = scores.grad[0, 0]
    assert torch.all(g[cmask[0, 0] == 0] == 0)
    assert torch.all(g[cmask[0, 0] == 1] != 0)
    # so nothing inside the hole reaches the score: no gradient there, none through the batch
    # norm statistics either
    assert torch.all(x.grad[0, 0, HOLE[0] : HOLE[1]] == 0)
    assert x.grad[0, 0, : HOLE[0] - 300].abs().sum() > 0
    assert x.grad[0, 0, HOLE[1] + 300 :].abs().sum() > 0


def test_the_hole_does_not_change_the_valid_scores(critic: ScaleDiscriminator) -> None:
    x = torch.randn(1, 1, T)
    y = x.clone()
    y[..., HOLE[0] : HOLE[1]] = 50.0 * torch.randn(HOLE[1] - HOLE[0])
    valid = sample_mask(T, [HOLE])
    cmask = critic.output_mask(valid)
    sx, sy = critic(x, valid), critic(y, valid)
    assert torch.allclose(sx * cmask, sy * cmask, atol=1e-6)
    # unmasked, the same change moves every score (batch norm mixes the hole into all of them)
    assert not torch.allclose(critic(x) * cmask, critic(y) * cmask, atol=1e-3)


def test_unmasked_forward_is_the_plain_module(critic: ScaleDiscriminator) -> None:
    x = torch.randn(2, 1, 700)
    torch.manual_seed(1)
    a = critic(x)
    b = critic.last(critic.trunk.body(x))
    from engine.model.networks import pre_emphasis

    assert torch.equal(a, pre_emphasis(b))


def test_masked_batch_norm_with_everything_valid_matches_batch_norm(critic: ScaleDiscriminator) -> None:
    x = torch.randn(1, 1, 900)
    ones = torch.ones_like(x)
    assert torch.allclose(critic(x, ones), critic(x), atol=1e-4)


def test_coverage_is_what_the_valid_outputs_read() -> None:
    rf = 249
    cm = critic_mask(T, [HOLE], rf)
    cov = coverage(cm, rf)
    assert cov.shape == (1, 1, T)
    assert torch.all(cov[0, 0, HOLE[0] : HOLE[1]] == 0)
    assert torch.all(cov[0, 0, : HOLE[0]] == 1) and torch.all(cov[0, 0, HOLE[1] + 1 :] == 1)
