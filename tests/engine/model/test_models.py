"""Generator and discriminator of one scale: shapes, receptive field, structure."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.config import get_preset
from engine.model.networks import ScaleDiscriminator, ScaleGenerator, pre_emphasis, same_shapes

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _convs(m: nn.Module) -> list[nn.Conv1d]:
    return [c for c in m.modules() if isinstance(c, nn.Conv1d)]


def test_receptive_field_is_2041_for_8_layers_kernel_9() -> None:
    cfg = get_preset("standard")
    assert cfg.receptive_field == 2041
    assert ScaleGenerator(channels=2, n_layers=8, kernel=9).receptive_field == 2041
    assert get_preset("tiny").receptive_field == 1 + 8 * 31 == 249
    # the convolutions really add up to it: sum of (kernel - 1) * dilation over the trunk
    d = ScaleDiscriminator(channels=2, n_layers=8, kernel=9)
    assert 1 + sum((c.kernel_size[0] - 1) * c.dilation[0] for c in _convs(d)) == 2041


@pytest.mark.parametrize("T", [2041, 2100, 3000])
def test_discriminator_output_length_is_T_minus_receptive_field_plus_1(T: int) -> None:
    d = ScaleDiscriminator(channels=4, n_layers=8, kernel=9)
    with torch.no_grad():
        out = d(torch.randn(2, 1, T))
    assert out.shape == (2, 1, T - 2041 + 1)


@pytest.mark.parametrize(
    ("n_layers", "kernel", "T"), [(8, 9, 3000), (5, 9, 600), (5, 9, 50), (4, 5, 777)]
)
def test_generator_output_has_the_input_length(n_layers: int, kernel: int, T: int) -> None:
    g = ScaleGenerator(channels=4, n_layers=n_layers, kernel=kernel)
    with torch.no_grad():
        out = g(torch.randn(2, 1, T), torch.randn(2, 1, T))
    assert out.shape == (2, 1, T)


def test_discriminator_sees_exactly_its_receptive_field() -> None:
    torch.manual_seed(0)
    d = ScaleDiscriminator(
        channels=3, n_layers=5, kernel=9
    ).eval()  # eval: BN does not mix positions
    rf = 249
    x = torch.randn(1, 1, 600, requires_grad=True)
    j = 100
    d(x)[0, 0, j].backward()
    support = (x.grad[0, 0] != 0).nonzero().flatten()
    # pre-emphasis makes output j also depend on position j - 1's window
    assert support.min().item() == j - 1
    assert support.max().item() == j + rf - 1


def test_generator_output_is_a_function_of_noise_plus_prev_plus_the_residual() -> None:
    torch.manual_seed(1)
    g = ScaleGenerator(channels=4, n_layers=4, kernel=5).eval()
    a, b = torch.randn(1, 1, 300), torch.randn(1, 1, 300)
    with torch.no_grad():
        # G(n, p) = f(n + p) + p: swapping the inputs changes only the residual
        torch.testing.assert_close(g(a, b) - b, g(b, a) - a, atol=1e-5, rtol=0)
        torch.testing.assert_close(g(a + b, torch.zeros_like(a)) + b, g(a, b), atol=1e-5, rtol=0)
        assert not torch.allclose(g(a, b), b, atol=1e-4)  # it adds something


def test_networks_have_weight_norm_dilations_and_batch_norm_as_specified() -> None:
    g = ScaleGenerator(channels=6, n_layers=8, kernel=9)
    d = ScaleDiscriminator(channels=6, n_layers=8, kernel=9)
    for m in (g, d):
        convs = _convs(m)
        assert all(hasattr(c, "parametrizations") and "weight" in c.parametrizations for c in convs)
        assert all(c.bias is not None for c in convs)
        bns = [b for b in m.modules() if isinstance(b, nn.BatchNorm1d)]
        assert len(bns) == 7  # head + six blocks; none after the dilation-128 conv
        trunk_and_last = [*_convs(m.trunk), _convs(m.last)[0]]
        assert [c.dilation[0] for c in trunk_and_last] == [1, 2, 4, 8, 16, 32, 64, 128]
        assert all(c.padding == (0,) for c in trunk_and_last)  # "valid" convolutions
        assert trunk_and_last[0].in_channels == 1
    assert _convs(d.last)[0].out_channels == 1
    assert g.out.weight.shape == (1, 6, 1)  # 1x1 conv C -> 1
    assert g.gate_f.padding == "same" and g.gate_g.padding == "same"


def test_pre_emphasis_matches_the_formula() -> None:
    x = torch.randn(2, 1, 50)
    y = pre_emphasis(x)
    expect = x.clone()
    expect[..., 1:] = x[..., 1:] - 0.97 * x[..., :-1]
    torch.testing.assert_close(y, expect)
    torch.testing.assert_close(pre_emphasis(x, 0.5)[..., 3], x[..., 3] - 0.5 * x[..., 2])
    assert y.shape == x.shape


def test_same_shapes() -> None:
    a = ScaleGenerator(channels=4, n_layers=5, kernel=9)
    assert same_shapes(a, ScaleGenerator(channels=4, n_layers=5, kernel=9))
    assert not same_shapes(a, ScaleGenerator(channels=8, n_layers=5, kernel=9))
    assert not same_shapes(a, ScaleGenerator(channels=4, n_layers=6, kernel=9))
