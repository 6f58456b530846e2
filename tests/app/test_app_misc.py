"""Smaller parts: stall monitor, cost estimates, settings, project names, job runner."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.config import PRESETS, get_preset


def test_stall_monitor_sees_a_blocked_event_loop(qtbot) -> None:
    from songwriter_app.stall_monitor import StallMonitor

    mon = StallMonitor(interval_ms=10)
    mon.start()
    qtbot.wait(100)
    time.sleep(0.3)  # the GUI thread is blocked: the next tick comes late
    qtbot.wait(60)
    mon.stop()
    assert mon.ticks > 3
    assert mon.worst_ms > 150
    assert mon.stalls and max(ms for _, ms in mon.stalls) == pytest.approx(mon.worst_ms)


def test_estimates_grow_with_the_preset() -> None:
    from engine.training.cost import (
        GP_SHARE,
        estimate_seconds,
        format_duration,
        shape_key,
        shapes_needed,
    )

    fits = {key: {"a": 0.01, "b": 1e-6 * c} for key, (c, _, _) in shapes_needed().items()}
    secs = {name: estimate_seconds(cfg, 10.0, fits) for name, cfg in PRESETS.items()}
    assert secs["tiny"] < secs["quick"] < secs["thorough"] < secs["standard"] < secs["hifi"]
    assert estimate_seconds(PRESETS["quick"], 5.0, fits) < secs["quick"]
    # the section is held to the preset's maximum
    assert estimate_seconds(PRESETS["tiny"], 30.0, fits) == pytest.approx(secs["tiny"])
    # more iterations cost proportionally more
    doubled = get_preset("tiny", iters_per_scale=16)
    assert estimate_seconds(doubled, 10.0, fits) == pytest.approx(2 * secs["tiny"])
    # more iterations at the finest scale only: dearer than tiny, cheaper than doubling it
    top = estimate_seconds(get_preset("tiny", iters_top=16), 10.0, fits)
    assert secs["tiny"] < top < 2 * secs["tiny"]
    # more windows per step at the finest scale cost more there only: thorough at 4 windows on
    # top is dearer than thorough, cheaper than 4 windows at every windowed scale
    wide_top = estimate_seconds(get_preset("thorough", window_batch_top=4), 10.0, fits)
    wide_all = estimate_seconds(get_preset("thorough", window_batch=4), 10.0, fits)
    assert secs["thorough"] < wide_top < wide_all
    # a penalty every 4th step saves three quarters of the penalty's share of each step (with a
    # bank never refreshed, so that no redraws of the coarser generators are added)
    kept = {"bank_size": 8, "bank_refresh": 0}
    every = estimate_seconds(get_preset("tiny", **kept), 10.0, fits)
    lazy = estimate_seconds(get_preset("tiny", gp_every=4, **kept), 10.0, fits)
    assert lazy == pytest.approx((1 - 0.75 * GP_SHARE) * every)
    # the penalty on one of thorough's two windows saves half its share at the windowed scales
    # only: cheaper than thorough, dearer than that saving at every scale
    one = estimate_seconds(get_preset("thorough", gp_windows=1), 10.0, fits)
    assert (1 - 0.5 * GP_SHARE) * secs["thorough"] < one < secs["thorough"]
    assert estimate_seconds(get_preset("thorough", gp_windows=2), 10.0, fits) == secs["thorough"]
    # so does the reconstruction on one window, by its smaller share
    rec = estimate_seconds(get_preset("thorough", rec_windows=1), 10.0, fits)
    assert one < rec < secs["thorough"]
    assert shape_key(96, PRESETS["standard"]) == "c96-l8-k9"
    assert estimate_seconds(PRESETS["tiny"], 3.0, {}) != estimate_seconds(PRESETS["tiny"], 3.0, {})
    assert format_duration(30) == "about 30 s"
    assert format_duration(600) == "about 10 min"
    assert format_duration(3 * 3600) == "about 3.0 h"
    assert format_duration(float("nan")) == "unknown"


def test_probe_measures_every_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from engine.training import cost as estimates

    calls = []

    def fake_steps(c, layers, kernel, length, device, cancel=None, iterations=3):
        calls.append((c, length))
        return 0.001 + 1e-6 * length * c

    monkeypatch.setattr(estimates, "_time_steps", fake_steps)
    res = estimates.probe(torch.device("cpu"), presets={"tiny": PRESETS["tiny"]})
    fit = res["fits"]["c8-l5-k9"]
    assert fit["b"] == pytest.approx(8e-6) and fit["a"] == pytest.approx(0.001, rel=1e-6)
    assert res["device_name"].startswith("CPU")
    # a probe stored by this trainer is used again; one from a slower trainer is not
    assert estimates.probe_is_current(res)
    assert not estimates.probe_is_current(dict(res, speed_epoch=estimates.SPEED_EPOCH - 1))
    assert not estimates.probe_is_current({k: v for k, v in res.items() if k != "speed_epoch"})


def test_real_probe_step_runs() -> None:
    import torch

    from engine.training.cost import _time_steps

    assert _time_steps(4, 3, 9, 512, torch.device("cpu")) > 0


def test_recent_lists_and_project_names(tmp_path: Path, demo_clip: Path) -> None:
    from songwriter_app.settings import AppSettings, new_project_dir

    s = AppSettings(tmp_path / "s.ini")
    assert s.recent_clips() == []
    s.add_recent_clip(demo_clip)
    s.add_recent_clip(tmp_path / "gone.wav")  # missing files are not listed
    s.add_recent_clip(demo_clip)
    assert s.recent_clips() == [str(demo_clip.resolve())]
    again = AppSettings(tmp_path / "s.ini")
    assert again.recent_clips() == [str(demo_clip.resolve())]
    p1 = new_project_dir(tmp_path, Path("My Song: verse 2.wav"))
    assert p1.parent == tmp_path and p1.name.startswith("My-Song-verse-2-")
    p1.mkdir()
    p2 = new_project_dir(tmp_path, Path("My Song: verse 2.wav"))
    assert p2 != p1


def test_default_projects_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from songwriter_app.settings import default_projects_dir

    monkeypatch.setenv("SONGWRITER_PROJECTS_DIR", str(tmp_path))
    assert default_projects_dir() == tmp_path
    monkeypatch.delenv("SONGWRITER_PROJECTS_DIR")
    assert default_projects_dir().parts[-2:] == ("SongwriterAssistant", "projects")


def test_warm_up_runs(tmp_path: Path) -> None:
    from songwriter_app.warmup import warm_up_engine

    assert warm_up_engine("cpu") > 0


def test_pyside_void_calls_keep_none_alive(qapp) -> None:
    """PySide6-Essentials 6.12.0 on Python 3.11 drops a reference to None on every void call
    (QLabel.setText, QPainter.setPen...): a repainting window aborted after ~10 minutes with
    "none_dealloc". The pin in pyproject.toml avoids that release; this catches a regression."""
    import sys

    from PySide6.QtWidgets import QLabel

    label = QLabel()
    before = sys.getrefcount(None)
    for _ in range(20_000):
        label.setText("x")
    assert abs(sys.getrefcount(None) - before) < 100


def test_bench_figures_give_fits(tmp_path: Path) -> None:
    import json

    from engine.training.cost import SPEED_EPOCH, bench_fits, estimate_seconds, step_factor

    cfg = get_preset("quick", gp_every=1)  # figures of steps that took the penalty every time
    scales = [{"scale": i, "rate": r, "seconds_per_iteration_in_loop": 0.05 + 2e-6 * r * 4.0}
              for i, r in enumerate((800, 2000, 4000, 8000))]
    data = {"kind": "quality-and-speed", "device_name": "CPU (2 threads)", "speed_epoch": SPEED_EPOCH,
            "config": cfg.to_dict(), "seconds": 4.0, "runs": [{"train": {"scales": scales}}]}
    (tmp_path / "quick.json").write_text(json.dumps(data))
    # the same device measured with an older, slower trainer: not used
    slow = [dict(sc, seconds_per_iteration_in_loop=10 * sc["seconds_per_iteration_in_loop"])
            for sc in scales]
    old = dict(data, speed_epoch=SPEED_EPOCH - 1, runs=[{"train": {"scales": slow}}])
    (tmp_path / "older.json").write_text(json.dumps(old))
    (tmp_path / "aten.json").write_text(json.dumps(dict(old, speed_epoch=SPEED_EPOCH,
                                                        conv_backward="aten")))
    (tmp_path / "broken.json").write_text("{")
    assert bench_fits(tmp_path, "NVIDIA H200") is None
    got = bench_fits(tmp_path, "CPU (2 threads)")
    fit = got["fits"]["c16-l8-k9"]
    assert fit["a"] == pytest.approx(0.05, rel=1e-3) and fit["b"] == pytest.approx(2e-6, rel=1e-3)
    assert estimate_seconds(cfg, 10.0, got["fits"]) > 0
    assert "quick.json" in got["source"]
    assert "older.json" not in got["source"] and "aten.json" not in got["source"]
    # runs that took the penalty every 4th step were faster per step: they give the same fit
    lazy_cfg = get_preset("quick", gp_every=4)
    fast = [dict(sc, seconds_per_iteration_in_loop=step_factor(lazy_cfg)
                 * sc["seconds_per_iteration_in_loop"]) for sc in scales]
    lazy = tmp_path / "lazy"
    lazy.mkdir()
    (lazy / "gp4.json").write_text(json.dumps(dict(data, config=lazy_cfg.to_dict(),
                                                   runs=[{"train": {"scales": fast}}])))
    fit4 = bench_fits(lazy, "CPU (2 threads)")["fits"]["c16-l8-k9"]
    assert fit4["a"] == pytest.approx(0.05, rel=1e-3) and fit4["b"] == pytest.approx(2e-6, rel=1e-3)


def test_first_start_offers_the_device_preset_and_no_test_preset(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_player
) -> None:
    """A first-time user sees thorough (CPU) or standard (GPU) selected, no `tiny`, and the
    chosen preset's plain summary."""
    from PySide6.QtCore import Qt

    from songwriter_app.controllers.training import default_preset
    from songwriter_app.main_window import MainWindow
    from songwriter_app.settings import AppSettings

    monkeypatch.delenv("SONGWRITER_TEST_PRESETS", raising=False)
    w = MainWindow(player=fake_player, settings=AppSettings(tmp_path / "s.ini"),
                   projects_dir=tmp_path / "p", device="cpu", auto_probe=False, warm_up=False,
                   install_study=False)
    qtbot.addWidget(w)
    assert w.train_panel.preset_name() == "thorough"
    assert w.train_panel.preset_names() == ["quick", "thorough", "studio", "standard", "hifi"]
    assert default_preset("NVIDIA H200") == "standard" and default_preset("CPU (2 threads)") == "thorough"
    # under the menu the chosen preset's plain summary; its measured details one hover away
    panel = w.train_panel
    thorough = PRESETS["thorough"]
    assert panel.summary.text() == thorough.summary and panel.summary.toolTip() == thorough.details
    panel.set_preset("studio")
    assert panel.summary.text() == PRESETS["studio"].summary
    assert "shimmer" in panel.summary.text() and "min" in panel.summary.toolTip()
    item_tip = panel.preset.itemData(panel.preset.findData("quick"), Qt.ItemDataRole.ToolTipRole)
    assert item_tip == PRESETS["quick"].summary + "\n\n" + PRESETS["quick"].details
    w.shutdown(10)


def test_the_preset_a_user_picks_is_offered_again_on_that_kind_of_device(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_player
) -> None:
    """A CPU user who switched to quick finds quick selected next time; a project opened with
    another preset, a GPU's choice or a preset that no longer exists does not change that."""
    from PySide6.QtCore import Qt

    from songwriter_app.controllers.training import chosen_preset_key
    from songwriter_app.main_window import MainWindow
    from songwriter_app.settings import AppSettings

    monkeypatch.delenv("SONGWRITER_TEST_PRESETS", raising=False)
    ini = tmp_path / "s.ini"

    def window() -> MainWindow:
        w = MainWindow(player=fake_player, settings=AppSettings(ini), projects_dir=tmp_path / "p",
                       device="cpu", auto_probe=False, warm_up=False, install_study=False)
        qtbot.addWidget(w)
        return w

    w = window()
    assert w.train_panel.preset_name() == "thorough"
    w.train_panel.set_preset("standard")  # what opening a standard project does
    w.train_panel.preset.setFocus()
    qtbot.keyClick(w.train_panel.preset, Qt.Key.Key_Home)  # the user picks the first: quick
    assert w.train_panel.preset_name() == "quick"
    w.shutdown(10)
    assert AppSettings(ini).get(chosen_preset_key("CPU (2 threads)")) == "quick"
    assert AppSettings(ini).get(chosen_preset_key("NVIDIA H200")) == ""

    w = window()
    assert w.train_panel.preset_name() == "quick"
    w.train_panel.set_preset("standard")
    w.shutdown(10)
    assert AppSettings(ini).get(chosen_preset_key("CPU (2 threads)")) == "quick"

    AppSettings(ini).set(chosen_preset_key("CPU (2 threads)"), "quick8k")  # not listed
    w = window()
    assert w.train_panel.preset_name() == "thorough"
    w.shutdown(10)
