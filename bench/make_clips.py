"""Prepare longer real clips for benchmarks (25 s and 60 s) from Debian packages of free music.

The shared recordings are 8 s and 20 s of two Sectoid songs; the GPU goals are stated for 25 s
and 60 s, and quality must hold on more kinds of music. This fetches, with `apt-get download`:

- `fretsonfire-songs-sectoid` (same songs and licence as engine/resources/NOTICE.txt): metal
  with guitars, song + guitar stems mixed;
- `fretsonfire-songs-muldjord` (Fretsonfire's free song pack by Lars Muldjord): another band's
  heavy rock, song + guitar stems mixed;
- `frozen-bubble-data` (the game's soundtrack, GPL): synthesised game music, bright and tonal;
- `wesnoth-1.16-music` (Battle for Wesnoth's soundtrack, GPL; a 153 MB download): "Traveling
  minstrels", acoustic folk (plucked strings, flutes, hand drums), tonal and sparse.

and writes bench/clips/<name>-25s.wav and -60s.wav (git-ignored; the files stay out of git).

    python bench/make_clips.py                               # every clip
    python bench/make_clips.py --only traveling-minstrels   # one clip (and its package)
"""

from __future__ import annotations

import argparse
import glob
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

CLIPS = Path(__file__).resolve().parent / "clips"
FOF = "usr/share/games/fretsonfire/data/songs"
# name -> (Debian package, stem files mixed together inside the package, start in seconds)
SOURCES: dict[str, tuple[str, tuple[str, ...], float]] = {
    "war-of-freedom": ("fretsonfire-songs-sectoid",
                       (f"{FOF}/sectoid/War of freedom/song.ogg",
                        f"{FOF}/sectoid/War of freedom/guitar.ogg"), 40.0),
    "metal-madness": ("fretsonfire-songs-sectoid",
                      (f"{FOF}/sectoid/Metal madness/song.ogg",
                       f"{FOF}/sectoid/Metal madness/guitar.ogg"), 30.0),
    "chaos-god": ("fretsonfire-songs-muldjord",
                  (f"{FOF}/muldjord/chaos_god/song.ogg", f"{FOF}/muldjord/chaos_god/guitar.ogg"),
                  60.0),
    "frozen-bubble-intro": ("frozen-bubble-data", ("usr/share/games/frozen-bubble/snd/introzik.ogg",),
                            30.0),
    "traveling-minstrels": ("wesnoth-1.16-music",
                            ("usr/share/games/wesnoth/1.16/data/core/music/traveling_minstrels.ogg",),
                            80.0),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", action="append", choices=sorted(SOURCES), default=None,
                    help="make only this clip (repeat for several; default: every clip)")
    args = ap.parse_args(argv)
    sources = {k: v for k, v in SOURCES.items() if args.only is None or k in args.only}
    CLIPS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for package in sorted({p for p, _, _ in sources.values()}):
            subprocess.run(["apt-get", "download", package], cwd=tmp, check=True)
            deb = glob.glob(f"{tmp}/{package}_*.deb")[0]
            subprocess.run(["dpkg", "-x", deb, f"{tmp}/x"], check=True)
        for slug, (_, files, start) in sources.items():
            stems = [sf.read(str(Path(tmp) / "x" / f), dtype="float32", always_2d=True)
                     for f in files]
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
