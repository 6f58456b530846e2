"""bench/take_levels.py --mel: the pictures the listening notes are written from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage


def test_the_mel_picture_has_time_across_and_low_bands_at_the_bottom(
    tmp_path: Path, bench_script
) -> None:
    """Silence, then a low tone: the bright part of the picture is its lower right. The app's
    plot module (imported by the picture) switches pyqtgraph to row-major images for the whole
    process; the picture was drawn transposed under it (bands across, time upwards)."""
    import songwriter_app.views.plots  # noqa: F401  (sets the process-wide axis order)

    fs = 16000
    t = np.arange(2 * fs) / fs
    quiet = 1e-4 * np.random.default_rng(0).standard_normal(2 * fs)
    tone = 0.5 * np.sin(2 * np.pi * 150.0 * t)
    signal = np.concatenate([quiet, tone]).astype(np.float32)
    png = tmp_path / "takes-mel.png"
    bench_script("take_levels").mel_picture(png, [("silence, then a low tone", signal, fs)], fs)

    ys, xs = _bright(png)
    assert len(xs) > 50
    assert xs.mean() > 0.55 * _width(png)  # the tone is the second half of the time axis
    assert ys.mean() > 0.5 * _height(png)  # and the lowest mel bands, at the bottom


def test_a_take_at_half_the_rate_is_drawn_over_the_same_seconds(
    tmp_path: Path, bench_script
) -> None:
    """A quick8k take (8 kHz) under a 16 kHz section: the same 2 s of silence then a tone in
    both rows, so the tone starts at the same place across the picture. Drawn at the section's
    rate without resampling, the take's 2 s filled only the first second of the shared axis."""
    import songwriter_app.views.plots  # noqa: F401

    def quiet_then_tone(fs: int) -> np.ndarray:
        t = np.arange(fs) / fs
        quiet = 1e-4 * np.random.default_rng(0).standard_normal(fs)
        return np.concatenate([quiet, 0.5 * np.sin(2 * np.pi * 150.0 * t)]).astype(np.float32)

    png = tmp_path / "takes-mel.png"
    bench_script("take_levels").mel_picture(
        png, [("section", quiet_then_tone(16000), 16000), ("take", quiet_then_tone(8000), 8000)],
        16000)

    ys, xs = _bright(png)
    half = _height(png) / 2
    top, bottom = xs[ys < half], xs[ys >= half]
    assert len(top) > 20 and len(bottom) > 20
    # the take's tone (lower row) begins where the section's does, halfway across
    assert abs(np.percentile(bottom, 5) - np.percentile(top, 5)) < 0.05 * _width(png)
    assert np.percentile(bottom, 5) > 0.4 * _width(png)


STEP = 4


def _pixels(png: Path) -> np.ndarray:
    img = QImage(str(png))
    assert not img.isNull()
    return np.array([[img.pixelColor(x, y).getRgb()[:3] for x in range(0, img.width(), STEP)]
                     for y in range(0, img.height(), STEP)])


def _bright(png: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns (in sampled pixels) of inferno's bright end (yellow, orange), not the
    white page or the black text."""
    pixels = _pixels(png)
    return np.nonzero((pixels[..., 0] > 180) & (pixels[..., 2] < 150))


def _width(png: Path) -> int:
    return len(range(0, QImage(str(png)).width(), STEP))


def _height(png: Path) -> int:
    return len(range(0, QImage(str(png)).height(), STEP))
