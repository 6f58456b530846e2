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
    bench_script("take_levels").mel_picture(png, [("silence, then a low tone", signal)], fs)

    img = QImage(str(png))
    assert not img.isNull()
    pixels = np.array([[img.pixelColor(x, y).getRgb()[:3] for x in range(0, img.width(), 4)]
                       for y in range(0, img.height(), 4)])
    # inferno's bright end (yellow, orange), not the white page or the black text
    bright = (pixels[..., 0] > 180) & (pixels[..., 2] < 150)
    ys, xs = np.nonzero(bright)
    assert len(xs) > 50
    assert xs.mean() > 0.55 * pixels.shape[1]  # the tone is the second half of the time axis
    assert ys.mean() > 0.5 * pixels.shape[0]  # and the lowest mel bands, at the bottom
