"""Prepare longer real clips for benchmarks (25 s and 60 s) from Debian's Sectoid song pack.

The shared recordings are 8 s and 20 s; the GPU goals are stated for 25 s and 60 s.
This fetches the package `fretsonfire-songs-sectoid` (same songs, same licence as
engine/resources/NOTICE.txt) with `apt-get download`, mixes each song's song + guitar stems,
and writes bench/clips/<song>-25s.wav and -60s.wav (git-ignored).

    python bench/make_clips.py
"""

from __future__ import annotations

import glob
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

CLIPS = Path(__file__).resolve().parent / "clips"
PACKAGE = "fretsonfire-songs-sectoid"
SONGS = {"war-of-freedom": ("War of freedom", 40.0), "metal-madness": ("Metal madness", 30.0)}


def main() -> int:
    CLIPS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, check=True)
        deb = glob.glob(f"{tmp}/{PACKAGE}_*.deb")[0]
        subprocess.run(["dpkg", "-x", deb, f"{tmp}/x"], check=True)
        base = Path(tmp) / "x/usr/share/games/fretsonfire/data/songs/sectoid"
        for slug, (folder, start) in SONGS.items():
            stems = [sf.read(str(base / folder / f"{s}.ogg"), dtype="float32", always_2d=True)
                     for s in ("song", "guitar")]
            sr = stems[0][1]
            n = min(len(a) for a, _ in stems)
            mix = sum(a[:n] for a, _ in stems)
            mix = mix / max(1e-9, float(np.max(np.abs(mix))))
            for seconds in (25, 60):
                a = int(start * sr)
                seg = mix[a : a + int(seconds * sr)]
                out = CLIPS / f"{slug}-{seconds}s.wav"
                sf.write(str(out), seg, sr, subtype="PCM_16")
                print(out, f"{len(seg) / sr:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
