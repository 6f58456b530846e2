"""Screenshots of the stereo views in a real X server (Xvfb), for a person to look at.

    xvfb-run -a -s "-screen 0 1440x960x24" .venv/bin/python tests/app/xvfb_stereo_screenshots.py \
        OUT_DIR [--clip /work/shared/audio/sectoid-war-of-freedom-20s.wav]

Saves:
  clip-lr.png, clip-ms.png   the main window's clip view with a 44.1 kHz stereo recording
                             open, in L/R and in Mid/Side
  compare-stereo-lr.png,     the compare view: the stereo original section (2-5 s) over a
  compare-stereo-ms.png      stereo stand-in (the same recording at 10-13 s: no stereo model
                             exists yet, so no real stereo variation), L/R and Mid/Side
  compare-mono-ms.png        the same original over a mono stand-in (the mid of 10-13 s): drawn
                             on both lanes, a flat side lane, labelled mono
  bridge-gap.png             the clip view during "Play in context": the gap marker between A
                             and B with the playhead half way across it
Prints one JSON line with what it saved.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

from xvfb_helpers import EventLoop, collect_errors

os.environ.setdefault("SONGWRITER_NO_AUDIO", "1")

DEFAULT_CLIP = Path("/work/shared/audio/sectoid-war-of-freedom-20s.wav")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import numpy as np
    import soundfile as sf
    from PySide6.QtWidgets import QApplication

    from engine.audio.features import mel_frame_seconds
    from engine.audio.io import to_mono
    from songwriter_app.controllers.project import mel_of
    from songwriter_app.main_window import MainWindow
    from songwriter_app.settings import AppSettings
    from songwriter_app.views.compare_view import CompareView

    app = QApplication.instance() or QApplication([sys.argv[0]])
    errors = collect_errors()
    tmp = Path(tempfile.mkdtemp(prefix="songwriter-stereo-shots-"))
    settings = AppSettings(tmp / "settings.ini")
    w = MainWindow(settings=settings, projects_dir=tmp / "projects", device="cpu",
                   auto_probe=False, warm_up=False, install_study=False)
    w.resize(1440, 920)
    w.show()
    saved: list[str] = []

    loop = EventLoop(app, 120.0, errors)

    def settle(seconds: float = 0.6) -> None:
        loop.settle(seconds)

    def save(widget, name: str) -> None:
        settle()
        widget.grab().save(str(args.out / name), "PNG", 0)  # 0: the smallest PNG
        saved.append(name)

    w.open_path(args.clip)
    loop.wait(lambda: w.projects.clip is not None and not w.projects.loading, "the clip")
    w.clip_view.set_section(2.0, 3.0)
    w.clip_view.set_channel_mode("lr")
    save(w.clip_view, "clip-lr.png")
    w.clip_view.set_channel_mode("ms")
    save(w.clip_view, "clip-ms.png")

    # the compare view at the size it has in the Variations tab
    data, sr = sf.read(str(args.clip), dtype="float32", always_2d=True)
    audio = np.ascontiguousarray(data.T)
    original = audio[:, 2 * sr : 5 * sr]
    stand_in = audio[:, 10 * sr : 13 * sr]
    step = mel_frame_seconds(sr)
    view = CompareView()
    view.use_settings(settings)
    view.resize(1280, 560)
    view.show()
    view.set_original(original, sr, mel_of(to_mono(original), sr), step)
    title = ("Original section 2-5 s (top of each pair) vs a stereo stand-in: the same recording "
             "at 10-13 s")
    view.set_variation(title, stand_in, mel_of(to_mono(stand_in), sr))
    view.set_channel_mode("lr")
    save(view, "compare-stereo-lr.png")
    view.set_channel_mode("ms")
    save(view, "compare-stereo-ms.png")
    mid = to_mono(stand_in)
    view.set_variation("Original section 2-5 s vs a mono stand-in: the mid of 10-13 s", mid,
                       mel_of(mid, sr))
    save(view, "compare-mono-ms.png")
    view.close()

    # the clip view while a bridge take plays in context: A 2-5 s, B 9-12 s, a 2 s gap
    cv, pb = w.clip_view, w.playback
    cv.set_channel_mode("lr")
    cv.set_section(2.0, 3.0)
    cv.set_section_b(9.0, 3.0)
    cv.show_section_b(True)
    rate = 16000
    rec = SimpleNamespace(seams={"take": [3 * rate, 5 * rate]})
    section = lambda start, dur: SimpleNamespace(start=start, duration=dur,  # noqa: E731
                                                 path=str(args.clip))
    w.projects.project = SimpleNamespace(
        manifest=SimpleNamespace(layout=SimpleNamespace(
            gap_span=(3 * rate, 5 * rate), section_a=section(2.0, 3.0),
            section_b=section(9.0, 3.0))),
        store=SimpleNamespace(get=lambda _vid: rec))
    take = np.zeros((2, 8 * rate), np.float32)
    pb.play_buffer(take, rate, "v0001", lambda _pos: None)
    pb.player.seek(4.0)  # half way through the gap
    pb._tick()
    save(w.clip_view, "bridge-gap.png")
    w.projects.project = None
    print(json.dumps({"saved": saved, "errors": errors, "out": str(args.out)}))
    w.close()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
