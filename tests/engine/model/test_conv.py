"""The fast CPU convolution backward (engine.model.conv) gives aten's gradients, first and second
order, and leaves forwards, saved models and the other paths alone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engine.model import conv as conv_module
from engine.model.conv import Conv1d, fast_conv1d
from engine.model.networks import ScaleDiscriminator, ScaleGenerator
from engine.training.losses import gradient_penalty


def _aten(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, p: int, d: int) -> torch.Tensor:
    return F.conv1d(x, w, b, padding=p, dilation=d)


def _grads(conv, x, w, b, p, d):  # noqa: ANN001, ANN202
    """The output, then the gradients of a loss that reads the input gradient (as the gradient
    penalty does) with respect to input, weight and bias."""
    y = conv(x, w, b, p, d)
    (gx,) = torch.autograd.grad(y.square().sum(), x, create_graph=True)
    loss = (gx.norm() - 1.0) ** 2 + y.pow(3).mean()
    return [y, *torch.autograd.grad(loss, (x, w, b))]


@pytest.mark.parametrize(("c_in", "c_out", "kernel", "dilation", "padding"), [
    (1, 16, 9, 1, 0),    # the trunks' head
    (16, 16, 9, 8, 0),   # a dilated block
    (16, 16, 9, 1, 4),   # the generator's gates ("same")
    (16, 1, 9, 64, 0),   # the critic's last layer
    (16, 2, 1, 1, 0),    # the generator's output
    (3, 5, 4, 2, 3),     # an even kernel, padding below the reach
])
def test_first_and_second_order_gradients_are_atens(c_in: int, c_out: int, kernel: int,
                                                    dilation: int, padding: int) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, c_in, 700, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(c_out, c_in, kernel, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(c_out, generator=g, dtype=torch.float64, requires_grad=True)
    ours = _grads(fast_conv1d, x, w, b, padding, dilation)
    ref = _grads(_aten, x, w, b, padding, dilation)
    for a, r in zip(ours, ref, strict=True):
        assert a.shape == r.shape
        torch.testing.assert_close(a, r, rtol=1e-10, atol=1e-10 * float(r.detach().abs().max()))


def _batches_seen(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on in the test, the batch size of every F.conv1d call, in order."""
    seen: list[int] = []
    conv1d = F.conv1d

    def spy(x: torch.Tensor, *args, **kwargs) -> torch.Tensor:  # noqa: ANN002, ANN003
        seen.append(x.shape[0])
        return conv1d(x, *args, **kwargs)

    monkeypatch.setattr(conv_module.F, "conv1d", spy)
    return seen


@pytest.mark.parametrize(("batch", "length", "pieces"), [
    (1, 5_000, 2),    # a whole scale: at least two pieces
    (1, 13_000, 3),   # a longer one: pieces of at most SPLIT_PIECE samples
    (2, 7_000, 2),    # training windows: each cut on its own
])
@pytest.mark.parametrize(("c_in", "c_out", "kernel", "dilation", "padding"), [
    (1, 16, 9, 1, 0),    # the trunks' head (aten's weight gradient, on the pieces)
    (16, 16, 9, 128, 0),  # the widest block
    (16, 16, 9, 1, 4),   # the generator's gates ("same")
    (16, 1, 9, 64, 0),   # the critic's last layer
])
def test_long_signals_in_pieces_give_atens_outputs_and_gradients(
        monkeypatch: pytest.MonkeyPatch, batch: int, length: int, pieces: int, c_in: int,
        c_out: int, kernel: int, dilation: int, padding: int) -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(batch, c_in, length, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(c_out, c_in, kernel, generator=g, dtype=torch.float64, requires_grad=True)
    b = torch.randn(c_out, generator=g, dtype=torch.float64, requires_grad=True)
    ref = _grads(_aten, x, w, b, padding, dilation)
    seen = _batches_seen(monkeypatch)
    ours = _grads(fast_conv1d, x, w, b, padding, dilation)
    assert seen[0] == batch * pieces  # the forward ran on the pieces
    for a, r in zip(ours, ref, strict=True):
        assert a.shape == r.shape
        torch.testing.assert_close(a, r, rtol=1e-10, atol=1e-10 * float(r.detach().abs().max()))


def test_pieces_of_strided_inputs_and_of_a_kernel_that_reaches_almost_across() -> None:
    w = torch.randn(16, 16, 9, dtype=torch.float64)
    for x in (torch.randn(1, 16, 1, dtype=torch.float64).expand(1, 16, 6_000),  # stride 0
              torch.randn(1, 16, 9_000, dtype=torch.float64)[..., 1_000:7_024]):  # a slice
        torch.testing.assert_close(fast_conv1d(x, w, None, 0, 128), _aten(x, w, None, 0, 128))
    x = torch.randn(1, 1, 2_048, dtype=torch.float64)
    w = torch.randn(1, 1, 2, dtype=torch.float64)  # one output per signal
    torch.testing.assert_close(fast_conv1d(x, w, None, 0, 2_047), _aten(x, w, None, 0, 2_047))


def test_short_signals_and_the_switch_leave_the_convolution_whole(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _batches_seen(monkeypatch)
    w = torch.randn(16, 16, 9)
    fast_conv1d(torch.randn(1, 16, conv_module.SPLIT_ABOVE - 1), w, None, 0, 1)
    monkeypatch.setattr(conv_module, "SPLIT_ABOVE", 0)
    fast_conv1d(torch.randn(1, 16, 50_000), w, None, 0, 1)
    assert seen == [1, 1]


def test_gradcheck_and_gradgradcheck() -> None:
    g = torch.Generator().manual_seed(1)
    args = (torch.randn(2, 3, 40, generator=g, dtype=torch.float64, requires_grad=True),
            torch.randn(4, 3, 5, generator=g, dtype=torch.float64, requires_grad=True),
            torch.randn(4, generator=g, dtype=torch.float64, requires_grad=True))

    def f(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return fast_conv1d(x, w, b, 2, 3)

    assert torch.autograd.gradcheck(f, args)
    assert torch.autograd.gradgradcheck(f, args)


def _critic_step_grads(d: ScaleDiscriminator, real: torch.Tensor, fake: torch.Tensor
                       ) -> list[torch.Tensor]:
    """The critic's parameter gradients of one D loss with its gradient penalty."""
    d.zero_grad(set_to_none=True)
    torch.manual_seed(5)  # the penalty's mixing weight
    loss = -d(real).mean() + d(fake).mean() + gradient_penalty(d, real, fake, weight=0.1)
    loss.backward()
    return [p.grad.clone() for p in d.parameters()]


def test_the_critic_and_its_gradient_penalty_train_as_with_atens_backward(
        monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    d = ScaleDiscriminator(channels=8, n_layers=6, kernel=9)  # float32: the penalty's own type
    real, fake = torch.randn(2, 1, 1200), torch.randn(2, 1, 1200)
    ours = _critic_step_grads(d, real, fake)
    assert type(d.trunk.body[0](real).grad_fn).__name__ == "_FastConv1dBackward"
    monkeypatch.setattr(Conv1d, "_conv_forward", nn.Conv1d._conv_forward)
    ref = _critic_step_grads(d, real, fake)
    # float32 rounding, against the largest gradient (a conv bias before batch norm has a zero
    # gradient, up to rounding, so relative differences there mean nothing)
    scale = max(float(r.abs().max()) for r in ref)
    for a, r in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, r, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_the_fast_path_is_taken_only_where_it_applies() -> None:
    torch.manual_seed(0)
    conv = Conv1d(4, 4, 9, dilation=2)
    x = torch.randn(1, 4, 100)
    assert type(conv(x).grad_fn).__name__ == "_FastConv1dBackward"
    with torch.no_grad():
        assert conv(x).grad_fn is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv(x)
    assert out.dtype == torch.bfloat16 and "Fast" not in type(out.grad_fn).__name__
    strided = Conv1d(4, 4, 3, stride=2)
    assert "Fast" not in type(strided(x).grad_fn).__name__
    even_same = Conv1d(4, 4, 4, padding="same")
    assert "Fast" not in type(even_same(x).grad_fn).__name__
    assert even_same(x).shape == x.shape


def test_forwards_and_saved_models_are_unchanged() -> None:
    """The networks' state dicts have the keys of nn.Conv1d's (models saved before load), and a
    forward gives aten's output bit for bit."""
    torch.manual_seed(0)
    g = ScaleGenerator(channels=8, n_layers=5, kernel=9)
    keys = set(g.state_dict())
    assert "last.parametrizations.weight.original0" in keys
    noise, prev = torch.randn(1, 1, 500), torch.randn(1, 1, 500)
    g.eval()
    with torch.no_grad():
        plain = g(noise, prev)
    fast = g(noise, prev)
    assert torch.equal(plain, fast.detach())


def _convs(module: nn.Module) -> int:
    return sum(isinstance(m, Conv1d) for m in module.modules())


def _count_weight_grads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real = conv_module._weight_grad

    def counted(*args: torch.Tensor | int) -> torch.Tensor:
        calls[0] += 1
        return real(*args)

    monkeypatch.setattr(conv_module, "_weight_grad", counted)
    return calls


def test_a_pass_that_wants_only_the_input_gradient_skips_the_weight_gradients(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The gradient penalty's first pass asks for dD/dx only: the critic's weight gradients are
    not computed (aten skips them too), and dD/dx is what a full backward gives."""
    torch.manual_seed(0)
    d = ScaleDiscriminator(channels=8, n_layers=6, kernel=9)
    calls = _count_weight_grads(monkeypatch)
    x = torch.randn(2, 1, 900, requires_grad=True)
    (gx,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    assert calls[0] == 0
    d(x).sum().backward()
    assert calls[0] == _convs(d)  # every layer, when the weights are wanted
    torch.testing.assert_close(gx.detach(), x.grad, rtol=0, atol=0)
    # the weight gradients the penalty's second pass needs still flow through dD/dx
    d.zero_grad(set_to_none=True)
    gx.square().sum().backward()
    assert all(p.grad is not None for p in d.parameters() if p.dim() == 3)


def test_a_generator_step_gets_its_gradients_without_the_critics(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """G's adversarial backward names G's parameters (engine.training.step): G's gradients are
    those of a full backward, and no critic weight gradient is computed."""
    torch.manual_seed(0)
    g = ScaleGenerator(channels=8, n_layers=5, kernel=9)
    d = ScaleDiscriminator(channels=8, n_layers=5, kernel=9)
    noise, prev = torch.randn(1, 1, 700), torch.randn(1, 1, 700)
    (-d(g(noise, prev)).mean()).backward()
    full = [p.grad.clone() for p in g.parameters()]
    g.zero_grad(set_to_none=True)
    d.zero_grad(set_to_none=True)
    calls = _count_weight_grads(monkeypatch)
    (-d(g(noise, prev)).mean()).backward(inputs=list(g.parameters()))
    assert calls[0] == _convs(g)  # G's layers, none of D's
    assert all(p.grad is None for p in d.parameters())
    for a, b in zip((p.grad for p in g.parameters()), full, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
