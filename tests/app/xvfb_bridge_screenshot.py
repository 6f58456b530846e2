"""A screenshot of the Bridge / Ending tab with a take playing in context, from the real main
window in a real X server (Xvfb), for a person to look at (issue 12).

    xvfb-run -a -s "-screen 0 1440x960x24" .venv/bin/python tests/app/xvfb_bridge_screenshot.py \
        OUT_DIR [--project DIR]

1. Trains a real bridge project with the `tiny` preset (30 iterations per scale, CPU, one torch
   thread, seed 1) on the stereo demo clip (engine.resources.DEMO_CLIP; tiny trains in mono at
   4 kHz on at most 3 s of sections): A 1.0-2.5 s, B 4.5-6.0 s, a 1 s gap; then renders two takes (seeds 0 and 1) into the project's store with
   their seams and seam verdicts, as the Bridge tab's Render button does. With --project DIR
   an already trained bridge project is used instead (its takes rendered if it has none).
2. Opens the main window, opens that project (the clip view shows the demo clip with A green
   and B blue), shows the "3 · Bridge / Ending" tab, selects the first take and clicks "Play in
   context".
3. Under Xvfb there is no sound device, so the window gets a stand-in player that plays
   nothing but advances its position with the wall clock, like the real one (the NullPlayer the
   app falls back to never plays, so its playhead would not move). Once the playhead is a
   quarter of the way through the gap (the take; --at), the player stops advancing, the
   playhead timer draws that position and the window is grabbed: OUT_DIR/bridge-in-context.png.
Prints one JSON line with what it saved and where the playhead was.
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

os.environ.setdefault("SONGWRITER_NO_AUDIO", "1")

A = (1.0, 2.5)  # 1.5 s each: tiny trains on at most 3 s of sections (the gap not counted)
B = (4.5, 6.0)
GAP = 1.0
SEEDS = (0, 1)


def train_bridge(root: Path, iters: int) -> None:
    from engine.config import get_preset
    from engine.project.layout import LayoutRequest, SectionRequest
    from engine.resources import DEMO_CLIP
    from engine.training.loop import iter_train

    clip = str(DEMO_CLIP)
    req = LayoutRequest("bridge", (SectionRequest(clip, *A), SectionRequest(clip, *B)), GAP)
    for _ in iter_train(None, root, get_preset("tiny", iters_per_scale=iters), layout=req,
                        device="cpu", seed=1):
        pass


def render_takes(root: Path) -> list[str]:
    from engine.project import Project, RenderRecipe
    from songwriter_app.controllers.bridge_functions import run_takes

    project = Project.open(root)
    lay = project.manifest.layout
    recipes = [RenderRecipe.take(lay.mode, s, lay.gap_seconds, n_scales=project.scales_done)
               for s in SEEDS]
    for _ in run_takes(project, recipes, device="cpu"):  # the Bridge tab's own job
        pass
    return [r.id for r in Project.open(root).store.list() if r.is_take]


def make_clock_player():
    """A player that plays nothing but moves its position with the wall clock while playing
    (the real SoundDevicePlayer's position, without a sound device); `hold()` stops the clock
    where it is and keeps 'playing', so the grab shows one instant."""
    from songwriter_app.playback import _BasePlayer

    class ClockPlayer(_BasePlayer):
        available = True
        reason = ""

        def __init__(self) -> None:
            super().__init__()
            self._t0: float | None = None
            self._i0 = 0
            self.held = False

        def _advance(self) -> None:
            if self._playing and self._t0 is not None and not self.held:
                n = self._buf.shape[0]
                i = self._i0 + int((time.monotonic() - self._t0) * self._sr)
                if i >= n:
                    self._playing, i = False, n - 1
                self._index = i

        @property
        def position(self) -> float:
            self._advance()
            return self._index / self._sr

        def play(self, start: float | None = None) -> None:
            if start is not None:
                self.seek(start)
            self._t0, self._i0, self._playing = time.monotonic(), self._index, True

        def seek(self, seconds: float) -> None:
            super().seek(seconds)
            self._t0, self._i0 = time.monotonic(), self._index

        def stop(self) -> None:
            self._advance()
            self._playing = False

        def hold(self) -> None:
            self._advance()
            self.held = True

    return ClockPlayer()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--project", type=Path, default=None,
                    help="a trained bridge project to use (default: train one in a temp dir)")
    ap.add_argument("--iters", type=int, default=30, help="tiny's iterations per scale")
    ap.add_argument("--at", type=float, default=0.25,
                    help="grab this fraction of the way through the gap (default 0.25: the "
                    "playhead left of the gap label, which it would cross at 0.3-0.7)")
    ap.add_argument("--timeout", type=float, default=600.0)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import torch

    torch.set_num_threads(1)
    tmp = Path(tempfile.mkdtemp(prefix="songwriter-bridge-shot-"))
    root = args.project
    trained_s = 0.0
    if root is None:
        root = tmp / "bridge-project"
        t0 = time.monotonic()
        train_bridge(root, args.iters)
        trained_s = round(time.monotonic() - t0, 1)
    from engine.project import Project

    takes = [r.id for r in Project.open(root).store.list() if r.is_take] or render_takes(root)

    from PySide6.QtWidgets import QApplication

    from songwriter_app.main_window import MainWindow
    from songwriter_app.settings import AppSettings

    app = QApplication.instance() or QApplication([sys.argv[0]])
    errors = collect_errors()
    player = make_clock_player()
    w = MainWindow(player=player, settings=AppSettings(tmp / "settings.ini"),
                   projects_dir=tmp / "projects", device="cpu", auto_probe=False,
                   warm_up=False, install_study=False)
    w.resize(1440, 920)
    w.show()
    loop = EventLoop(app, args.timeout)
    wait = loop.wait

    def settle(seconds: float = 0.6) -> None:
        loop.settle(seconds)

    assert w.open_path(root), errors
    wait(lambda: w.projects.project is not None and w.projects.clip is not None
         and not w.projects.loading, "the project and its clip")
    bp = w.bridge_panel
    w.tabs.setCurrentWidget(bp)
    assert w.tabs.tabText(w.tabs.currentIndex()) == "3 · Bridge / Ending"
    settle()
    wait(lambda: bp.list.count() == len(takes), "the take list")
    bp.select_take(takes[0])
    wait(lambda: w.bridge.audio is not None, "the take's audio")
    settle()
    bp.play_context_btn.click()
    pb = w.playback
    wait(lambda: pb.gap is not None, "the gap marker")
    g = pb.gap
    # `--at` of the way into the gap, then hold the clock and let the timer draw that position
    at = g.start + args.at * (g.end - g.start)
    wait(lambda: player.position >= at, "the playhead in the gap")
    player.hold()
    settle(0.4)
    pos = player.position
    cv = w.clip_view
    head = float(cv.wave.playhead.value())
    inside = g.start <= pos < g.end and g.after <= head <= (g.before or g.after + g.seconds)
    name = "bridge-in-context.png"
    w.grab().save(str(args.out / name), "PNG", 0)
    lay = w.projects.project.manifest.layout
    print(json.dumps({
        "saved": [name], "out": str(args.out), "errors": errors, "project": str(root),
        "trained_s": trained_s, "scales": w.projects.project.scales_done,
        "sections": {"A": [lay.section_a.start, lay.section_a.start + lay.section_a.duration],
                     "B": [lay.section_b.start, lay.section_b.start + lay.section_b.duration],
                     "gap_s": lay.gap_seconds},
        "takes": [bp.list.item(i).text() for i in range(bp.list.count())],
        "player_s": round(pos, 3), "gap_in_buffer_s": [g.start, g.end],
        "clip_playhead_s": round(head, 3), "gap_on_clip_s": [g.after, g.before],
        "playhead_in_gap": bool(inside),
        "gap_label": cv.gap_label.textItem.toPlainText(),
        "status": w.statusBar().currentMessage(),
    }))
    pb.stop()
    w.shutdown(timeout_s=30)
    return 1 if errors or not inside else 0


if __name__ == "__main__":
    sys.exit(main())
