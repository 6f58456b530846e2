"""Loss terms: multi-resolution spectral loss, MSE, WGAN gradient penalty."""

from __future__ import annotations

import pytest
import torch

from engine.config import MSS_RESOLUTIONS
from engine.training.losses import gradient_penalty, mse_loss, mss_loss, stft_magnitude

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture()
def signals() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(1, 1, 4000, generator=g), torch.randn(1, 1, 4000, generator=g)


def test_mss_of_a_signal_against_itself_is_zero(signals) -> None:
    x, _ = signals
    assert mss_loss(x, x).item() == 0.0
    assert mss_loss(x, x.clone()).item() == 0.0


def test_mss_is_positive_and_symmetric(signals) -> None:
    x, y = signals
    a, b = mss_loss(x, y), mss_loss(y, x)
    assert a.item() > 1.0
    assert a.item() == pytest.approx(b.item(), rel=1e-6)
    # louder difference, larger loss (linear magnitudes: scaling both by 2 doubles it)
    assert mss_loss(2 * x, 2 * y).item() == pytest.approx(2 * a.item(), rel=1e-5)


def test_mss_is_the_mean_of_frobenius_norms_over_the_three_resolutions(signals) -> None:
    x, y = signals
    assert MSS_RESOLUTIONS == ((2048, 240, 1200), (1024, 120, 600), (512, 50, 240))
    terms = []
    for n_fft, hop, win in MSS_RESOLUTIONS:
        w = torch.hann_window(win)

        def mag(s: torch.Tensor, n_fft=n_fft, hop=hop, win=win, w=w) -> torch.Tensor:
            return torch.stft(
                s.reshape(1, -1),
                n_fft,
                hop,
                win,
                w,
                center=True,
                pad_mode="constant",
                return_complex=True,
            ).abs()

        terms.append(torch.sqrt(((mag(x) - mag(y)) ** 2).sum()))
    assert mss_loss(x, y).item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-5)


def test_mss_is_insensitive_to_phase_but_not_to_spectrum() -> None:
    t = torch.arange(4000) / 4000
    sin = torch.sin(2 * torch.pi * 400 * t).reshape(1, 1, -1)
    cos = torch.cos(2 * torch.pi * 400 * t).reshape(1, 1, -1)
    other = torch.sin(2 * torch.pi * 900 * t).reshape(1, 1, -1)
    assert mss_loss(sin, cos).item() < 0.05 * mss_loss(sin, other).item()


def test_mss_has_a_gradient(signals) -> None:
    x, y = signals
    y = y.clone().requires_grad_(True)
    mss_loss(x, y).backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def test_stft_magnitude_shape() -> None:
    m = stft_magnitude(torch.randn(2, 1, 1000), 512, 50, 240)
    assert m.shape == (2, 257, 1000 // 50 + 1)


def test_mse(signals) -> None:
    x, y = signals
    assert mse_loss(x, x).item() == 0.0
    assert mse_loss(x, y).item() == pytest.approx(((x - y) ** 2).mean().item(), rel=1e-6)
    assert mse_loss(torch.zeros(4), torch.full((4,), 3.0)).item() == 9.0


class _Linear(torch.nn.Module):
    """A critic with a known input gradient: scores = w * x per position (any channels)."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.w * x).sum(dim=1, keepdim=True)


def test_gradient_penalty_is_weight_times_mean_of_squared_norm_minus_one() -> None:
    T = 200
    w = torch.linspace(-3.0, 3.0, T).reshape(1, 1, T)  # dD/dx_t = w_t
    real, fake = torch.randn(2, 1, T), torch.randn(2, 1, T)
    gp = gradient_penalty(_Linear(w), real, fake, weight=0.01)
    expect = 0.01 * ((w.abs() - 1.0) ** 2).mean()
    assert gp.item() == pytest.approx(expect.item(), rel=1e-6)
    assert gp.item() > 0


def test_gradient_penalty_norm_is_taken_over_channels_per_time_sample() -> None:
    w = torch.tensor([3.0, 4.0]).reshape(1, 2, 1).expand(1, 2, 50).clone()  # |g_t| = 5
    gp = gradient_penalty(_Linear(w), torch.randn(1, 2, 50), torch.randn(1, 2, 50), weight=0.5)
    assert gp.item() == pytest.approx(0.5 * 16.0, rel=1e-6)


def test_gradient_penalty_is_zero_for_a_unit_gradient_critic_and_trains_the_critic() -> None:
    ones = torch.ones(1, 1, 64)
    assert (
        gradient_penalty(
            _Linear(ones), torch.randn(1, 1, 64), torch.randn(1, 1, 64), weight=1.0
        ).item()
        == 0.0
    )
    critic = _Linear(torch.full((1, 1, 64), 2.0))
    gp = gradient_penalty(critic, torch.randn(1, 1, 64), torch.randn(1, 1, 64), weight=0.01)
    gp.backward()  # create_graph: the penalty reaches the critic's weights
    # d/dw of 0.01 * mean((|w| - 1)^2) at w = 2 is 0.01 * 2 * 1 / 64 per element
    torch.testing.assert_close(critic.w.grad, torch.full((1, 1, 64), 0.02 / 64))


def test_gradient_penalty_is_evaluated_between_real_and_fake() -> None:
    # a quadratic critic D(x) = sum x^2 / 2 has gradient x; with real == fake the mix is that signal
    x = torch.full((1, 1, 10), 3.0)
    gp = gradient_penalty(lambda m: 0.5 * m**2, x, x.clone(), weight=1.0)
    assert gp.item() == pytest.approx(4.0)
    # with real = 1 and fake = 3 the mix lies in [1, 3], so |grad| - 1 lies in [0, 2]
    seen = {
        round(
            gradient_penalty(
                lambda m: 0.5 * m**2,
                torch.ones(1, 1, 10),
                x,
                weight=1.0,
                generator=torch.Generator().manual_seed(s),
            ).item(),
            6,
        )
        for s in range(5)
    }
    assert all(0.0 <= v <= 4.0 for v in seen) and len(seen) > 1
