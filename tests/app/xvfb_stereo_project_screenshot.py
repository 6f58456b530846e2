"""Screenshots of a trained stereo project in the real main window (Xvfb), for a person to
look at: the Variations tab with a real stereo variation beside the original, L/R and Mid/Side.

    xvfb-run -a -s "-screen 0 1440x960x24" .venv/bin/python \
        tests/app/xvfb_stereo_project_screenshot.py PROJECT OUT_DIR

PROJECT is a trained stereo project with variations in its list (bench/studio_listen.py makes
two). Saves variations-lr.png and variations-ms.png; prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from xvfb_helpers import EventLoop, collect_errors

os.environ.setdefault("SONGWRITER_NO_AUDIO", "1")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("project", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import torch
    from PySide6.QtWidgets import QApplication

    from songwriter_app.main_window import MainWindow
    from songwriter_app.settings import AppSettings

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="songwriter-stereo-shot-"))
    app = QApplication.instance() or QApplication([sys.argv[0]])
    errors = collect_errors()
    w = MainWindow(settings=AppSettings(tmp / "settings.ini"), projects_dir=tmp / "projects",
                   device="cpu", auto_probe=False, warm_up=False, install_study=False)
    w.resize(1440, 920)
    w.show()
    loop = EventLoop(app, args.timeout, errors)
    wait, settle = loop.wait, loop.settle

    assert w.open_path(args.project), errors
    wait(lambda: w.projects.project is not None and not w.projects.loading, "the project")
    recs = [r for r in w.projects.project.store.list() if not r.is_take]
    assert recs, "the project has no variations"
    w.tabs.setCurrentIndex(1)
    vp = w.var_panel
    wait(lambda: vp.list.topLevelItemCount() == len(recs), "the variation list")
    vp.list.select_id(recs[0].id)
    wait(lambda: vp.compare.wave_b.lanes == 2, "the variation's two lanes")
    settle(0.8)
    saved = []
    for mode, name in (("lr", "variations-lr.png"), ("ms", "variations-ms.png")):
        for view in (w.clip_view, vp.compare):
            view.channels.set_mode(mode)
        settle(0.8)
        w.grab().save(str(args.out / name))
        saved.append(name)
    print(json.dumps({"saved": saved, "variation": recs[0].id, "verdict": recs[0].verdict,
                      "errors": errors}))
    w.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
