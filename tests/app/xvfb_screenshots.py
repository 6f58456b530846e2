"""Run the real app in a real X server (Xvfb) and save screenshots of what a person sees.

    xvfb-run -a -s "-screen 0 1440x960x24" .venv/bin/python tests/app/xvfb_screenshots.py OUT_DIR

Opens the demo clip, trains the `tiny` preset (real, 8 iterations per scale),
saves `after-training.png`, generates four variations, selects one, saves
`after-generating.png`; also `start.png`. Prints one JSON line with the worst
event-loop stall during training. Used by tests/app/test_app_screenshots.py.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from xvfb_helpers import EventLoop, collect_errors


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--probe", action="store_true", help="measure preset costs first (slow on CPU)")
    ap.add_argument("--iters", type=int, default=None, help="iterations per scale (override)")
    ap.add_argument("--stop-after", type=float, default=None,
                    help="cancel the training after this many seconds (stall measurements "
                    "on a slow preset), then stop")
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtWidgets import QApplication

    from engine.resources import DEMO_CLIP
    from songwriter_app.main_window import MainWindow
    from songwriter_app.settings import AppSettings

    os.environ.setdefault("SONGWRITER_TEST_PRESETS", "1")  # lists `tiny` for the quick runs
    app = QApplication.instance() or QApplication([sys.argv[0]])
    errors = collect_errors()
    tmp = Path(tempfile.mkdtemp(prefix="songwriter-shots-"))
    w = MainWindow(settings=AppSettings(tmp / "settings.ini"), projects_dir=tmp / "projects",
                   device="cpu", auto_probe=args.probe, install_study=True)
    if args.iters:
        w.training.preset_overrides = {args.preset: {"iters_per_scale": args.iters}}
    w.resize(1440, 920)
    w.show()
    loop = EventLoop(app, args.timeout)
    wait, settle = loop.wait, loop.settle

    w.open_path(DEMO_CLIP)
    wait(lambda: w.projects.clip is not None and not w.projects.loading, "the demo clip")
    w.train_panel.set_preset(args.preset)
    assert w.train_panel.preset_name() == args.preset, f"preset {args.preset} is not listed"
    w.clip_view.set_section(2.0, w.training.current_config().max_seconds)
    wait(lambda: w.training.warmed_up, "the engine warm-up")
    if args.probe:
        wait(lambda: w.training.probe_result is not None, "the cost probe")
    settle()
    w.grab().save(str(args.out / "start.png"))

    w.training.start_training()
    t0 = time.monotonic()
    cancelled = False
    while w.training.busy:
        if time.monotonic() > loop.deadline:
            raise SystemExit("timed out waiting for training")
        if args.stop_after is not None and not cancelled and time.monotonic() - t0 > args.stop_after:
            w.training.cancel_training()
            cancelled = True
        app.processEvents()
        time.sleep(0.01)
    stall = w.training.last_stall_ms
    stalls = list(w.training.stall.stalls)
    project = w.projects.project
    trained = {"preset": args.preset, "scales_done": project.scales_done if project else 0,
               "n_scales": project.n_scales if project else 0,
               "seconds": round(time.monotonic() - t0, 1)}
    w.tabs.setCurrentIndex(0)
    settle()
    w.grab().save(str(args.out / "after-training.png"))

    if trained["scales_done"] < 1:
        print(json.dumps({"worst_stall_ms": stall, "stalls": stalls, "errors": errors,
                          "trained": trained}))
        w.close()
        return 1 if errors else 0
    w.tabs.setCurrentIndex(1)
    wait(lambda: w.projects.original is not None, "the original section")
    vp = w.var_panel
    vp.count.setValue(4)
    vp.seed.setValue(1)
    vp.strength.setValue(max(0, vp.strength.maximum() // 2))
    w.variations.generate()
    wait(lambda: not w.variations.busy, "variations")
    vp.list.select_id(w.projects.project.store.list()[1].id)
    w.variations.rate(w.projects.project.store.list()[1].id, 4)
    wait(lambda: vp.compare.mel_b.image.image is not None, "the compare view")
    settle(1.0)
    w.grab().save(str(args.out / "after-generating.png"))
    print(json.dumps({"worst_stall_ms": stall, "stalls": stalls, "errors": errors,
                      "trained": trained,
                      "project": str(project.root if project else None),
                      "device": w.device_name,
                      "audio": w.playback.player.available, "audio_reason": w.playback.player.reason}))
    w.close()
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
