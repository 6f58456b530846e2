"""Objective metrics: each measure against signals whose answer is known, on the demo clip."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from engine import analysis as M
from engine.audio.io import load_clip

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SR = 16000


@pytest.fixture(scope="module")
def clip(demo_clip: Path) -> np.ndarray:
    """The 10 s demo clip at 16 kHz, peak 1."""
    return load_clip(demo_clip, SR).signal


@pytest.fixture(scope="module")
def ref(clip: np.ndarray) -> M.Reference:
    return M.prepare_reference(clip, SR)


@pytest.fixture(scope="module")
def baselines(clip: np.ndarray, ref: M.Reference) -> dict[str, M.VariationMetrics]:
    return M.compute_baselines(clip, SR, ref=ref, seed=1)


def test_signal_against_itself(clip: np.ndarray, ref: M.Reference) -> None:
    m = M.evaluate_variation(ref, clip)
    assert m.timbre_fd == pytest.approx(0.0, abs=1e-3)
    assert m.ltas_db == pytest.approx(0.0, abs=1e-6)
    assert m.max_xcorr == pytest.approx(1.0, abs=1e-4)
    assert m.local_xcorr == pytest.approx(1.0, abs=1e-3)
    assert m.copy_ratio > 0.98
    assert m.longest_copy_s == pytest.approx(ref.seconds, abs=0.1)
    assert m.level_db == pytest.approx(0.0, abs=1e-4)


def test_level_is_matched_before_comparing(clip: np.ndarray, ref: M.Reference) -> None:
    m = M.evaluate_variation(ref, 0.5 * clip)
    assert m.level_db == pytest.approx(-6.02, abs=0.01)
    assert m.timbre_fd < 1e-2 and m.ltas_db < 1e-3 and m.copy_ratio > 0.98


def test_shifted_copy_is_found_by_xcorr(clip: np.ndarray, ref: M.Reference) -> None:
    shift = int(1.37 * SR)
    m = M.evaluate_variation(ref, clip[shift:])  # a late start: a copy that is shifted in time
    assert m.max_xcorr > 0.99
    assert m.copy_ratio > 0.9 and m.longest_copy_s > 7.0
    rolled = M.max_normalised_xcorr(np.roll(clip, 12345), clip)
    assert rolled > 0.99
    # an unrelated signal of the same spectrum correlates weakly at every lag
    assert M.max_normalised_xcorr(M.shaped_noise(clip, SR, seed=3), clip) < 0.3


def test_xcorr_is_symmetric_in_polarity_and_bounded() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(4000).astype(np.float32)
    assert M.max_normalised_xcorr(-x, x) == pytest.approx(1.0, abs=1e-6)
    assert 0.0 <= M.max_normalised_xcorr(rng.standard_normal(4000), x) < 0.2


def test_cut_and_paste_is_a_disguised_copy(
    clip: np.ndarray, baselines: dict[str, M.VariationMetrics]
) -> None:
    cut, real = baselines["cut_and_paste"], baselines["real_vs_real"]
    # looks right on the order-blind measures ...
    assert cut.timbre_fd < 0.05 * real.timbre_fd
    assert cut.ltas_db < 0.2
    # ... and the copy detector catches it
    assert cut.copy_ratio > 0.8 and real.copy_ratio < 0.1
    assert cut.longest_copy_s >= 1.0 and real.longest_copy_s < 0.5
    assert cut.local_xcorr > 0.8 > 0.5 > real.local_xcorr


def test_cut_and_paste_is_a_seeded_permutation(clip: np.ndarray) -> None:
    a, b = M.cut_and_paste(clip, SR, seed=5), M.cut_and_paste(clip, SR, seed=5)
    assert a.shape == clip.shape
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, clip)
    assert not np.allclose(a, M.cut_and_paste(clip, SR, seed=6))


def test_shaped_noise_matches_spectrum_not_timbre(
    baselines: dict[str, M.VariationMetrics],
) -> None:
    noise, real = baselines["shaped_noise"], baselines["real_vs_real"]
    assert noise.ltas_db < 1.0
    assert noise.ltas_db < real.ltas_db
    assert noise.timbre_fd > 2.0 * real.timbre_fd
    assert noise.copy_ratio == 0.0 and noise.longest_copy_s == 0.0
    assert noise.max_xcorr < 0.3


def test_interleaved_halves_are_disjoint_and_span_the_clip(clip: np.ndarray) -> None:
    even, odd = M.interleaved_halves(clip, SR, fade_s=0.0)
    n = 2 * SR
    np.testing.assert_array_equal(even[:n], clip[:n])
    np.testing.assert_array_equal(odd[:n], clip[n : 2 * n])
    np.testing.assert_array_equal(even[n : 2 * n], clip[2 * n : 3 * n])
    short_even, short_odd = M.interleaved_halves(clip[: 3 * SR], SR)
    assert short_even.size > 0 and short_odd.size > 0


def test_diversity(clip: np.ndarray, ref: M.Reference) -> None:
    same = M.diversity(ref, [clip, clip.copy(), clip.copy()])
    assert same.std_ratio == pytest.approx(0.0, abs=1e-9)
    assert same.pairwise_db == pytest.approx(0.0, abs=1e-9)
    assert same.pairwise_fd == pytest.approx(0.0, abs=1e-3)
    different = M.diversity(
        ref, [M.cut_and_paste(clip, SR, seed=s) for s in range(3)] + [np.roll(clip, SR // 3)]
    )
    assert different.count == 4
    assert different.std_ratio > 0.3
    assert different.pairwise_db > 3.0
    assert len(different.std_map) == M.N_MELS and min(different.std_map) >= 0.0
    assert M.diversity(ref, [clip]).std_ratio == 0.0


def test_reconstruction_measures(clip: np.ndarray) -> None:
    exact = M.reconstruction_metrics(clip, clip, SR)
    assert exact.snr_db == M.MAX_SNR_DB
    assert exact.lsd_db == pytest.approx(0.0, abs=1e-9)
    assert exact.mrstft == pytest.approx(0.0, abs=1e-9)
    rng = np.random.default_rng(0)
    noisy = clip + 0.01 * rng.standard_normal(clip.size).astype(np.float32)
    m = M.reconstruction_metrics(clip, noisy, SR)
    rms = float(np.sqrt(np.mean(clip.astype(np.float64) ** 2)))
    assert m.snr_db == pytest.approx(20 * np.log10(rms / 0.01), abs=0.2)
    assert m.lsd_db > 0.0 and m.mrstft > 0.0
    worse = M.reconstruction_metrics(clip, M.shaped_noise(clip, SR), SR)
    assert worse.lsd_db > m.lsd_db and worse.mrstft > m.mrstft and worse.snr_db < 1.0
    assert M.reconstruction_metrics(clip, np.zeros_like(clip), SR).snr_db == pytest.approx(0.0)


def test_untrained_generator_output(tiny_project: Path) -> None:
    from engine.project.checkpoint import read_manifest

    manifest = read_manifest(tiny_project)
    a = M.untrained_generator_output(manifest, 1.5, seed=0)
    b = M.untrained_generator_output(manifest, 1.5, seed=0)
    assert a.shape == (int(round(1.5 * manifest.config.fs)),)
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(a).all() and np.max(np.abs(a)) == pytest.approx(1.0)


def test_quick_verdict(clip: np.ndarray) -> None:
    label, numbers = M.quick_verdict(clip, clip[SR // 2 :], SR)
    assert label.startswith("near copy")
    assert numbers["longest_copy_s"] > 5.0
    label, numbers = M.quick_verdict(clip, M.cut_and_paste(clip, SR, seed=9), SR)
    assert label.startswith("near copy")
    label, numbers = M.quick_verdict(clip, M.shaped_noise(clip, SR, seed=9), SR)
    assert label.startswith("noisy")
    assert numbers["timbre_fd"] > numbers["timbre_fd_real_vs_real"]
    # the clip under an equally loud noise: not a copy, but it follows the original's waveform
    label, numbers = M.quick_verdict(clip, clip + M.shaped_noise(clip, SR, seed=4), SR)
    assert label.startswith("follows the original"), label
    assert numbers["max_xcorr"] == pytest.approx(2**-0.5, abs=0.05)
    assert numbers["copy_ratio"] < 0.1
    even, odd = M.interleaved_halves(clip, SR)  # other moments of the same music: not copies
    label, numbers = M.quick_verdict(even, odd, SR)
    assert label.startswith("novel"), label
    assert {"timbre_fd", "ltas_db", "copy_ratio", "max_xcorr"} <= set(numbers)
    assert all(isinstance(v, float) for v in numbers.values())


def test_quick_verdict_from_threads_shares_the_cache(clip: np.ndarray) -> None:
    backwards = np.ascontiguousarray(clip[::-1])  # a clip the cache has not seen yet
    results: list[str] = []

    def work(seed: int) -> None:
        noise = M.shaped_noise(backwards, SR, seed=seed)
        results.append(M.quick_verdict(backwards, noise, SR)[0])

    threads = [threading.Thread(target=work, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and all(r.startswith("noisy") for r in results)


def test_report_table_and_dict(clip: np.ndarray) -> None:
    short = clip[: 4 * SR]
    report = M.evaluate(
        short, SR, {"copy": short, "noise": M.shaped_noise(short, SR)}, reconstruction=short
    )
    table = report.format_table()
    for text in ("timbre FD", "LTAS dB", "max xcorr", "copy ratio", "longest copy s",
                 "[cut-and-paste]", "[shaped noise]", "[real vs real]", "diversity of 2",
                 "reconstruction: SNR"):
        assert text in table
    d = report.to_dict()
    assert set(d["variations"]) == {"copy", "noise"}
    assert d["variations"]["copy"]["copy_ratio"] > 0.9
    assert d["reconstruction"]["snr_db"] == M.MAX_SNR_DB


def test_bad_inputs(ref: M.Reference) -> None:
    from engine.errors import AudioError

    with pytest.raises(AudioError, match="silent"):
        M.prepare_reference(np.zeros(SR, np.float32), SR)
    with pytest.raises(AudioError, match="too short"):
        M.evaluate_variation(ref, np.ones(10, np.float32))
    with pytest.raises(ValueError):
        M.timbre_features(np.zeros((80, 10)), "chroma")  # type: ignore[arg-type]
