"""The scale pyramid: candidate rates, first scale by energy, per-scale signals, noise
amplitudes and the up-sampling between scales (cubic, and band-limited above a rate)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.audio.io import resample
from engine.config import CANDIDATE_RATES, get_preset
from engine.errors import AudioError
from engine.model.pyramid import (
    MIN_D_POSITIONS,
    candidate_rates,
    choose_rates,
    energies,
    noise_amplitudes,
    scale_signals,
    scale_upsampler,
    upsample,
    upsample_band_limited,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# ---- candidate rates -----------------------------------------------------------------------


def test_candidate_rates_16k_is_the_reference_list() -> None:
    assert candidate_rates(get_preset("standard")) == [
        320,
        400,
        500,
        640,
        800,
        1000,
        1280,
        1600,
        2000,
        2500,
        4000,
        8000,
        10000,
        12000,
        14400,
        16000,
    ]
    assert candidate_rates(get_preset("standard")) == list(CANDIDATE_RATES)


def test_candidate_rates_hifi_appends_the_high_top_scales() -> None:
    rates = candidate_rates(get_preset("hifi"))
    assert rates == [*CANDIDATE_RATES, 22050, 32000, 44100]
    assert rates == sorted(rates) and len(set(rates)) == len(rates)


@pytest.mark.parametrize(
    ("fs", "tail"),
    [
        (9000, [4000, 8000, 9000]),
        (48000, [16000, 22050, 32000, 44100, 48000]),
        (24000, [16000, 22050, 24000]),
    ],
)
def test_candidate_rates_end_with_the_working_rate(fs: int, tail: list[int]) -> None:
    rates = candidate_rates(get_preset("standard", fs=fs))
    assert rates[-len(tail) :] == tail
    assert all(r <= fs for r in rates) and rates == sorted(rates)


def test_candidate_rates_of_the_tiny_preset() -> None:
    assert candidate_rates(get_preset("tiny")) == [500, 1000, 2000, 4000]


# ---- per-scale signals -------------------------------------------------------------------


@pytest.mark.parametrize("seconds", [1.0, 1.37])
def test_scale_signals_lengths_are_round_rate_times_seconds(seconds: float) -> None:
    fs = 16000
    n = int(round(fs * seconds))
    x = np.random.default_rng(0).uniform(-1, 1, n).astype(np.float32)
    rates = [320, 400, 640, 1280, 2500, 8000, 14400, 16000]
    sigs = scale_signals(x, fs, rates)
    assert [s.shape[-1] for s in sigs] == [int(round(r * n / fs)) for r in rates]
    assert all(s.dtype == np.float32 for s in sigs)
    np.testing.assert_array_equal(sigs[-1], x)  # the top scale is the signal itself


def test_scale_signals_are_resampled_directly_from_the_full_rate_signal() -> None:
    fs = 16000
    x = np.random.default_rng(1).uniform(-1, 1, fs).astype(np.float32)
    sigs = scale_signals(x, fs, [1000, 4000])
    # direct, not cascaded (16k -> 4k -> 1k would differ)
    np.testing.assert_allclose(sigs[0], resample(x, fs, 1000), atol=1e-6)
    cascaded = resample(resample(x, fs, 4000), 4000, 1000)
    assert not np.allclose(sigs[0], cascaded, atol=1e-6)


# ---- first scale by energy --------------------------------------------------------------


def _sine(freq: float, fs: int, seconds: float) -> np.ndarray:
    return np.sin(2 * np.pi * freq * np.arange(int(round(fs * seconds))) / fs).astype(np.float32)


@pytest.fixture(scope="module")
def cfg16k():
    # the 16 kHz candidates with a shorter receptive field, so 1.5 s holds every scale
    cfg = get_preset("standard", n_layers=5)
    assert math.ceil((cfg.receptive_field + MIN_D_POSITIONS) / 320) < 1.5 * 320
    return cfg


def test_a_loud_low_sine_starts_at_the_coarsest_candidate(cfg16k) -> None:
    assert choose_rates(_sine(100, 16000, 1.5), cfg16k) == candidate_rates(cfg16k)


@pytest.mark.parametrize(
    ("freq", "first"),
    # the first rate whose pass band (0.95 * Nyquist) holds the tone
    [(700, 1600), (3000, 8000)],
)
def test_a_signal_with_a_quiet_low_band_skips_the_coarse_scales(
    cfg16k, freq: int, first: int
) -> None:
    rates = choose_rates(_sine(freq, 16000, 1.5), cfg16k)
    all_rates = candidate_rates(cfg16k)
    assert rates == all_rates[all_rates.index(first) :]
    # and the energy really is below the threshold one scale down
    below = all_rates[all_rates.index(first) - 1]
    assert (
        np.mean(np.square(resample(_sine(freq, 16000, 1.5), 16000, below)))
        < cfg16k.energy_threshold
    )


def test_energy_threshold_is_a_mean_square() -> None:
    cfg = get_preset("tiny")
    t = np.arange(4000) / 4000
    # a 1.5 kHz tone passes only at 4 kHz; a quiet 100 Hz tone adds low-band energy at
    # mean square a^2/2: above 0.0025 it moves the start down to 500 Hz, below it does not
    high = 0.9 * np.sin(2 * np.pi * 1500 * t)
    for a, first in [(0.08, 500), (0.06, 4000)]:
        x = (high + a * np.sin(2 * np.pi * 100 * t)).astype(np.float32)
        x /= np.max(np.abs(x))
        assert choose_rates(x, cfg)[0] == first, a


def test_speech_mode_starts_at_500_hz(cfg16k) -> None:
    speech = cfg16k.replace(mode="speech")
    all_rates = candidate_rates(speech)
    for freq in (100, 3000):
        assert choose_rates(_sine(freq, 16000, 1.5), speech) == all_rates[all_rates.index(500) :]


def test_no_candidate_passes_falls_back_to_500_hz(cfg16k) -> None:
    # sparse clicks: peak 1, but the mean square is far below 0.0025 at every rate
    x = np.zeros(int(1.5 * 16000), dtype=np.float32)
    x[::4000] = 1.0
    assert np.mean(np.square(x)) < cfg16k.energy_threshold
    all_rates = candidate_rates(cfg16k)
    assert choose_rates(x, cfg16k) == all_rates[all_rates.index(500) :]
    other = cfg16k.replace(fallback_first_rate=2000)
    assert choose_rates(x, other) == all_rates[all_rates.index(2000) :]


def test_a_short_clip_starts_where_a_scale_holds_the_receptive_field() -> None:
    cfg = get_preset("tiny")
    need = cfg.receptive_field + MIN_D_POSITIONS  # 249 + 64 samples
    assert need == 313
    # 0.5 s: 250 samples at 500 Hz are too few, 500 at 1 kHz are enough
    assert choose_rates(_sine(50, 4000, 0.5), cfg) == [1000, 2000, 4000]
    # exactly `need` samples at 4 kHz: only the top scale
    assert choose_rates(_sine(50, 4000, need / 4000), cfg) == [4000]


def test_a_clip_too_short_for_any_scale_is_an_audio_error() -> None:
    cfg = get_preset("tiny")
    with pytest.raises(AudioError, match="too short"):
        choose_rates(_sine(50, 4000, 312 / 4000), cfg)


# ---- noise amplitudes -------------------------------------------------------------------


def test_noise_amplitudes_formula_with_the_clamp_at_zero() -> None:
    e = [0.10, 0.14, 0.13, 0.30, 0.30]
    amps = noise_amplitudes(e)
    assert amps[0] == 1.0
    assert amps[1] == pytest.approx(0.01 * math.sqrt(0.04))
    assert amps[2] == 0.0  # energy fell: max(0, .) clamps
    assert amps[3] == pytest.approx(0.01 * math.sqrt(0.17))
    assert amps[4] == 0.0
    assert len(amps) == len(e)
    assert noise_amplitudes(e, factor=0.5)[3] == pytest.approx(0.5 * math.sqrt(0.17))


def test_energies_are_mean_squares() -> None:
    x = [np.array([1.0, -1.0, 0.0, 0.0], dtype=np.float32), np.full(3, 0.5, dtype=np.float32)]
    assert energies(x) == pytest.approx([0.5, 0.25])


# ---- up-sampling between scales ----------------------------------------------------------


def _keys(d: np.ndarray, a: float = -0.5) -> np.ndarray:
    d = np.abs(d)
    near = (a + 2) * d**3 - (a + 3) * d**2 + 1
    far = a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0.0))


def _reference_upsample(x: np.ndarray, rate_in: int, rate_out: int, n_out: int) -> np.ndarray:
    """Keys cubic, centre-aligned (output sample i sits at input position
    (i + 0.5) * rate_in / rate_out - 0.5), half-sample symmetric edges."""
    n = x.shape[-1]
    out = np.zeros(n_out)
    for i in range(n_out):
        p = (i + 0.5) * rate_in / rate_out - 0.5
        base = math.floor(p)
        for k in range(base - 1, base + 3):
            j = -k - 1 if k < 0 else (2 * n - k - 1 if k >= n else k)
            j = min(max(j, 0), n - 1)
            out[i] += _keys(np.array(p - k)) * x[j]
    return out


@pytest.mark.parametrize(
    ("rate_in", "rate_out"),
    [(500, 1000), (320, 400), (12000, 16000), (14400, 16000), (32000, 44100), (1000, 4000)],
)
def test_upsample_matches_a_reference_keys_interpolator(rate_in: int, rate_out: int) -> None:
    x = np.random.default_rng(rate_in).standard_normal(40)
    n_out = int(round(40 * rate_out / rate_in))
    y = upsample(torch.tensor(x, dtype=torch.float32), rate_in, rate_out, n_out)
    assert y.shape == (n_out,)
    np.testing.assert_allclose(
        y.numpy(), _reference_upsample(x, rate_in, rate_out, n_out), atol=2e-5
    )


@pytest.mark.parametrize("n_out", [99, 100, 101, 117])
def test_upsample_gives_exactly_n_out_samples_and_keeps_leading_dims(n_out: int) -> None:
    x = torch.randn(3, 1, 50)
    y = upsample(x, 500, 1000, n_out)
    assert y.shape == (3, 1, n_out) and y.dtype == x.dtype


def test_upsample_reproduces_a_constant_exactly_edges_included() -> None:
    x = torch.full((1, 1, 37), 0.3)
    y = upsample(x, 320, 400, 47)
    torch.testing.assert_close(y, torch.full((1, 1, 47), 0.3), atol=1e-6, rtol=0)


def test_upsample_by_an_odd_factor_keeps_the_original_samples_at_the_centres() -> None:
    # centre alignment: input sample k covers output samples 3k .. 3k+2, its centre is 3k+1
    x = torch.randn(25)
    y = upsample(x, 500, 1500, 75)
    torch.testing.assert_close(y[1::3], x, atol=1e-6, rtol=0)


def test_upsample_by_two_lands_a_quarter_sample_either_side() -> None:
    # Keys (a = -0.5) reproduces polynomials up to degree 2 away from the edges
    k = torch.arange(30, dtype=torch.float32)
    y = upsample(k**2, 500, 1000, 60).numpy()
    pos = (np.arange(60) + 0.5) / 2 - 0.5  # -0.25, 0.25, 0.75, 1.25, ...
    np.testing.assert_allclose(y[4:-4], pos[4:-4] ** 2, atol=2e-3)
    np.testing.assert_allclose(upsample(k, 500, 1000, 60).numpy()[4:-4], pos[4:-4], atol=1e-5)


def test_upsample_follows_a_slow_sine_closely() -> None:
    f, r_in, r_out = 5.0, 500, 2000
    x = torch.sin(2 * torch.pi * f * torch.arange(500) / r_in)
    y = upsample(x, r_in, r_out, 2000).numpy()
    t_out = (np.arange(2000) + 0.5) / r_out - 0.5 / r_in  # centre-aligned output times
    expect = np.sin(2 * np.pi * f * t_out)
    np.testing.assert_allclose(y[8:-8], expect[8:-8], atol=1e-5)
    # at the edges the mirrored extension bends the slope a little, by far less than a step
    assert np.max(np.abs(y - expect)) < 0.02


# ---- band-limited up-sampling (TrainConfig.band_limited_above) ------------------------------


def _treble_share_db(y: np.ndarray, rate: int, above: float) -> float:
    """Energy above `above` Hz against the whole, in dB (Hann window)."""
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y)))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / rate)
    return float(10 * np.log10(spec[freqs > above].sum() / spec.sum()))


def _tones(rate: int, n: int, start: float = 0.0, high: float = 12000.0) -> np.ndarray:
    """A high and a 440 Hz tone: 12 kHz sits in a 32 kHz scale's top octave."""
    t = start + np.arange(n) / rate
    return 0.5 * np.sin(2 * np.pi * high * t) + 0.3 * np.sin(2 * np.pi * 440 * t)


def test_cubic_up_sampling_leaves_treble_images_the_band_limited_one_does_not() -> None:
    """From 32 to 44.1 kHz a 12 kHz tone images at 20.1 kHz: cubic keeps that within 20 dB
    (the studio preset's hiss), the band-limited resampler puts it below -90 dB."""
    x = torch.tensor(_tones(32000, 32000), dtype=torch.float32)[None, None]
    cubic = upsample(x, 32000, 44100, 44100)[0, 0].numpy()
    band = upsample_band_limited(x, 32000, 44100, 44100)[0, 0].numpy()
    assert _treble_share_db(cubic, 44100, 16500) > -20
    assert _treble_share_db(band, 44100, 16500) < -90


@pytest.mark.parametrize(("rate_in", "rate_out"), [(32000, 44100), (16000, 32000), (32000, 48000)])
def test_band_limited_up_sampling_lands_on_the_finer_scale_s_own_sample_times(
        rate_in: int, rate_out: int) -> None:
    """Start-aligned like the scales' real signals (resampled from the working rate), so the
    up-sampled tones match the tones sampled at the finer rate, edges included to within the
    mirrored extension's bend."""
    n_in, high = rate_in // 4, 0.375 * rate_in  # in the coarser scale's top octave
    n_out = n_in * rate_out // rate_in
    x = torch.tensor(np.stack([_tones(rate_in, n_in, 0.0, high), _tones(rate_in, n_in, 0.01, high)]),
                     dtype=torch.float32)[None]
    y = upsample_band_limited(x, rate_in, rate_out, n_out)
    assert y.shape == (1, 2, n_out)
    expect = np.stack([_tones(rate_out, n_out, 0.0, high), _tones(rate_out, n_out, 0.01, high)])
    err = np.abs(y[0].numpy() - expect)
    assert err[:, 200:-200].max() < 5e-3
    assert err.max() < 0.5


@pytest.mark.parametrize("n_out", [44099, 44100, 44102])
def test_band_limited_up_sampling_gives_exactly_n_out_and_keeps_a_constant(n_out: int) -> None:
    y = upsample_band_limited(torch.full((3, 32000), 0.25), 32000, 44100, n_out)
    assert y.shape == (3, n_out)
    np.testing.assert_allclose(y.numpy(), 0.25, atol=2e-3)
    # a signal shorter than the mirrored edge still comes out whole
    assert upsample_band_limited(torch.ones(10), 32000, 44100, 14).shape == (14,)


def test_scale_upsampler_is_band_limited_only_into_scales_above_its_rate() -> None:
    x = torch.tensor(_tones(32000, 8000), dtype=torch.float32)
    up = scale_upsampler(16000)
    assert torch.equal(up(x, 32000, 44100, 11025), upsample_band_limited(x, 32000, 44100, 11025))
    low = x[::4]
    assert torch.equal(up(low, 8000, 16000, 4000), upsample(low, 8000, 16000, 4000))
    assert torch.equal(scale_upsampler(0)(x, 32000, 44100, 11025), upsample(x, 32000, 44100, 11025))
