"""Where the bundled files are."""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
DEMO_CLIP = ASSETS_DIR / "demo-war-of-freedom-10s.wav"
