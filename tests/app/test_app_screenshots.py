"""What a person sees: the real app in Xvfb, screenshots after training and after generating.

The screenshots are also copied to REPO/screenshots/ (git-ignored) for a human to look at.
Skipped when Xvfb is not installed (Debian: xvfb).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("xvfb_screenshots.py")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="Xvfb is not installed (xvfb)"),
]


def _pixels(path: Path) -> np.ndarray:
    from PySide6.QtGui import QImage

    img = QImage(str(path)).convertToFormat(QImage.Format.Format_RGB32)
    assert not img.isNull(), f"{path} is not an image"
    ptr = img.constBits()
    arr = np.frombuffer(ptr, dtype=np.uint8, count=img.sizeInBytes())
    return arr.reshape(img.height(), img.bytesPerLine() // 4, 4)[:, : img.width(), :3].copy()


def _check_not_trivial(path: Path) -> dict[str, float]:
    px = _pixels(path)
    h, w, _ = px.shape
    assert w >= 1000 and h >= 700, (w, h)
    flat = px.reshape(-1, 3)
    colours = np.unique(flat[:: 7], axis=0).shape[0]
    _, counts = np.unique(flat[:: 7], axis=0, return_counts=True)
    top_share = counts.max() / counts.sum()
    assert colours > 500, f"{path.name}: only {colours} colours"
    assert top_share < 0.6, f"{path.name}: one colour covers {top_share:.0%}"
    # the spectrogram area (upper part) is colourful, not blank
    upper = px[int(0.2 * h) : int(0.3 * h), int(0.1 * w) : int(0.9 * w)].reshape(-1, 3)
    assert np.unique(upper, axis=0).shape[0] > 100
    return {"colours": colours, "top_share": float(top_share)}


def test_screenshots_after_training_and_generating(tmp_path: Path) -> None:
    out = tmp_path / "shots"
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", PYTHONPATH=str(REPO))
    env.pop("DISPLAY", None)
    res = subprocess.run(
        ["xvfb-run", "-a", "-s", "-screen 0 1440x960x24", sys.executable, str(SCRIPT), str(out),
         "--iters", "3"],
        env=env, capture_output=True, text=True, timeout=900, cwd=REPO,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    report = json.loads([ln for ln in res.stdout.splitlines() if ln.startswith("{")][-1])
    assert report["errors"] == []
    assert report["worst_stall_ms"] is not None
    stats = {}
    for name in ("start.png", "after-training.png", "after-generating.png"):
        stats[name] = _check_not_trivial(out / name)
    keep = REPO / "screenshots"
    keep.mkdir(exist_ok=True)
    for name in stats:
        shutil.copy2(out / name, keep / name)
    (keep / "app-screenshots.json").write_text(json.dumps({"report": report, "stats": stats},
                                                          indent=2))
