"""Stereo in the app (issue 13): a real stereo recording through the clip view, the compare
view and the player; the L/R <-> Mid/Side toggle and its memory; mono shown as before; the
playhead crossing a bridge take's gap on the clip view."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from app_helpers import open_and_wait

from engine.config import PRESETS
from songwriter_app.playback import NullPlayer, SoundDevicePlayer
from songwriter_app.views.plots import MAX_WAVE_POINTS, envelope

STEREO_WAV = Path("/work/shared/audio/sectoid-metal-madness-8s.wav")
pytestmark = pytest.mark.skipif(not STEREO_WAV.is_file(),
                                reason="the shared stereo recordings are not on this machine")


@pytest.fixture(scope="module")
def stereo() -> tuple[np.ndarray, int, np.ndarray, float]:
    """The recording as [2, T] float32 at 44.1 kHz, the mel of its mid, the mel frame step."""
    from engine.audio.features import mel_frame_seconds
    from engine.audio.io import to_mono
    from songwriter_app.controllers.project import mel_of

    data, sr = sf.read(str(STEREO_WAV), dtype="float32", always_2d=True)
    audio = np.ascontiguousarray(data.T)
    assert audio.shape[0] == 2 and sr == 44100
    # a real stereo mix: the two channels differ, so L/R and M/S draw different curves
    assert float(np.max(np.abs(audio[0] - audio[1]))) > 0.05
    return audio, sr, mel_of(to_mono(audio), sr), mel_frame_seconds(sr)


def _drawn(curve) -> np.ndarray:
    """The y values a lane's curve was given (its lane offset is the item's position)."""
    _x, y = curve.getOriginalDataset()
    return np.asarray(y)


def _env(y: np.ndarray, sr: int) -> np.ndarray:
    return envelope(y, sr, MAX_WAVE_POINTS)[1]


def _ticks(plot) -> list[str]:
    ticks = plot.getAxis("left")._tickLevels
    return [] if not ticks else [t[1] for t in ticks[0]]


def test_clip_view_draws_both_channels_and_toggles_mid_side(qtbot, stereo, tmp_path) -> None:
    from songwriter_app.settings import CLIP_VIEW_CHANNELS, AppSettings
    from songwriter_app.views.clip_view import ClipView

    audio, sr, mel, step = stereo
    settings = AppSettings(tmp_path / "settings.ini")
    cv = ClipView()
    qtbot.addWidget(cv)
    cv.use_settings(settings)
    cv.set_clip("stereo", audio, sr, mel, step, sr)
    w = cv.wave
    assert w.stereo and cv.channels.isVisibleTo(cv) and cv.channel_mode == "lr"
    assert w.curve.isVisible() and w.curve2.isVisible()
    assert np.array_equal(_drawn(w.curve), _env(audio[0], sr))  # upper lane: left
    assert np.array_equal(_drawn(w.curve2), _env(audio[1], sr))  # lower lane: right
    assert _ticks(w) == ["L", "R"]
    # the lanes sit apart: upper above 0, lower below, each fitting the peak
    assert w.curve.pos().y() > 0 > w.curve2.pos().y()
    assert w.lane_limit >= float(np.max(np.abs(audio)))
    assert cv.duration == pytest.approx(audio.shape[1] / sr)
    assert cv.mel.image.image.ndim == 2 and cv.mel.image.image.shape[0] == 80

    cv.channels.buttons["ms"].click()  # the user's toggle
    mid, side = 0.5 * (audio[0] + audio[1]), 0.5 * (audio[0] - audio[1])
    assert cv.channel_mode == "ms" and _ticks(w) == ["M", "S"]
    assert np.allclose(_drawn(w.curve), _env(mid, sr), atol=1e-6)
    assert np.allclose(_drawn(w.curve2), _env(side, sr), atol=1e-6)
    assert not np.allclose(_drawn(w.curve2), _env(audio[1], sr))
    assert settings.get(CLIP_VIEW_CHANNELS) == "ms"

    # remembered: a new clip view with the same settings starts in Mid/Side
    cv2 = ClipView()
    qtbot.addWidget(cv2)
    cv2.use_settings(settings)
    cv2.set_clip("stereo", audio, sr, mel, step, sr)
    assert cv2.channel_mode == "ms" and _ticks(cv2.wave) == ["M", "S"]
    cv2.channels.buttons["lr"].click()
    assert settings.get(CLIP_VIEW_CHANNELS) == "lr" and _ticks(cv2.wave) == ["L", "R"]


def test_mono_clip_shows_as_before(qtbot, stereo) -> None:
    from songwriter_app.views.clip_view import ClipView

    audio, sr, mel, step = stereo
    mono = audio.mean(axis=0)
    cv = ClipView()
    qtbot.addWidget(cv)
    cv.set_channel_mode("ms")  # the choice does not touch a mono clip
    cv.set_clip("mono", mono, sr, mel, step, sr)
    w = cv.wave
    assert not w.stereo and not cv.channels.isVisibleTo(cv)
    assert not w.curve2.isVisible() and not w.lane_line.isVisible()
    assert np.array_equal(_drawn(w.curve), _env(mono, sr))
    assert w.curve.pos().y() == 0.0 and _ticks(w) == []
    lo, hi = w.getViewBox().viewRange()[1]
    assert lo == pytest.approx(-hi) and hi == pytest.approx(float(np.max(np.abs(mono))) * 1.05)
    # a [1, T] file is mono too
    cv.set_clip("mono", mono[None, :], sr, mel, step, sr)
    assert not w.stereo and np.array_equal(_drawn(w.curve), _env(mono, sr))


def test_compare_view_stereo_original_with_mono_and_stereo_variations(qtbot, stereo,
                                                                       tmp_path) -> None:
    from songwriter_app.settings import CLIP_VIEW_CHANNELS, COMPARE_VIEW_CHANNELS, AppSettings
    from songwriter_app.views.compare_view import CompareView

    audio, sr, mel, step = stereo
    settings = AppSettings(tmp_path / "settings.ini")
    view = CompareView()
    qtbot.addWidget(view)
    view.use_settings(settings)
    view.set_original(audio, sr, mel, step)
    assert view.wave_a.stereo and view.channels.isVisibleTo(view)
    assert np.array_equal(_drawn(view.wave_a.curve2), _env(audio[1], sr))

    # a mono variation: drawn on both lanes (lined up with the original's), labelled mono
    quiet = 0.5 * audio.mean(axis=0)
    view.set_variation("mono take", quiet, mel)
    b = view.wave_b
    assert view.showing_variation and b.stereo
    assert np.array_equal(_drawn(b.curve), _drawn(b.curve2))
    assert "mono" in b.getAxis("left").labelText and "variation is mono" in view.caption.text()
    assert view.wave_a.lane_limit == pytest.approx(b.lane_limit)  # one amplitude scale
    view.channels.buttons["ms"].click()
    assert settings.get(COMPARE_VIEW_CHANNELS) == "ms" and settings.get(CLIP_VIEW_CHANNELS) == ""
    assert np.all(_drawn(b.curve2) == 0.0)  # a mono signal has no side
    assert np.max(np.abs(_drawn(view.wave_a.curve2))) > 0.01  # the original has one
    assert _ticks(view.wave_a) == ["M", "S"] and _ticks(b) == ["M", "S"]

    # a stereo variation (channels swapped): its own lanes
    view.channels.buttons["lr"].click()
    view.set_variation("stereo take", audio[::-1].copy(), np.stack([mel, mel]))  # a mel per ch.
    assert "mono" not in b.getAxis("left").labelText + view.caption.text()
    assert np.array_equal(_drawn(b.curve), _env(audio[1], sr))
    assert view.mel_b.image.image.ndim == 2  # a per-channel mel is shown as one image

    # a mono original with a mono variation: as before, no toggle
    view.set_original(audio.mean(axis=0), sr, mel, step)
    view.set_variation("mono take", quiet, mel)
    assert not view.wave_a.stereo and not b.stereo and not view.channels.isVisibleTo(view)
    view.set_variation("none", None, None)
    assert not view.showing_variation


class _Stream:
    def __init__(self, **kw) -> None:
        self.kw, self.active, self.stopped, self.closed = kw, False, True, False

    def start(self) -> None:
        self.active, self.stopped = True, False

    def stop(self) -> None:
        self.active, self.stopped = False, True

    abort = stop

    def close(self) -> None:
        self.closed = True


class _SD:
    def __init__(self) -> None:
        self.streams: list[_Stream] = []

    def OutputStream(self, **kw) -> _Stream:  # noqa: N802 (sounddevice's name)
        self.streams.append(_Stream(**kw))
        return self.streams[-1]


def _pull(p: SoundDevicePlayer, frames: int) -> np.ndarray:
    out = np.full((frames, 2), 9.0, dtype=np.float32)
    p._callback(out, frames, None, None)
    return out


def test_player_plays_stereo_and_ab_with_mono_on_both_channels(stereo) -> None:
    audio, sr, _mel, _step = stereo
    sd = _SD()
    p = SoundDevicePlayer(sd, blocksize=256)
    p.load(audio, sr)
    p.play(1.0)
    assert len(sd.streams) == 1 and sd.streams[0].kw["channels"] == 2
    i = int(round(1.0 * sr))
    got = _pull(p, 256)
    assert np.allclose(got[:, 0], np.clip(audio[0, i : i + 256], -1, 1))
    assert np.allclose(got[:, 1], np.clip(audio[1, i : i + 256], -1, 1))
    # A/B to a mono variation at the same rate: the same stream, the mono on both channels
    mono = (0.3 * audio.mean(axis=0)).astype(np.float32)
    p.load(mono, sr, keep_position=True)
    assert p.is_playing and len(sd.streams) == 1 and not sd.streams[0].closed
    pos = p._index
    got = _pull(p, 256)
    assert np.allclose(got[:, 0], mono[pos : pos + 256]) and np.array_equal(got[:, 0], got[:, 1])
    # and back to the stereo original, still the same place
    p.load(audio, sr, keep_position=True)
    assert p.position == pytest.approx((pos + 256) / sr, abs=1e-4)
    got = _pull(p, 8)
    assert not np.array_equal(got[:, 0], got[:, 1])
    # loop wraps a stereo buffer too
    p.loop = True
    p.seek(p.duration)
    assert _pull(p, 4).shape == (4, 2) and p.is_playing and p.position < 0.01


def test_single_channel_device_gets_the_mix(stereo) -> None:
    audio, sr, _mel, _step = stereo
    sd = _SD()
    p = SoundDevicePlayer(sd, channels=1)
    p.load(audio[:, :1000], sr)
    p.play(0.0)
    assert sd.streams[0].kw["channels"] == 1
    out = np.zeros((100, 1), np.float32)
    p._callback(out, 100, None, None)
    assert np.allclose(out[:, 0], audio[:, :100].mean(axis=0))


def test_null_player_takes_stereo(stereo) -> None:
    audio, sr, _mel, _step = stereo
    p = NullPlayer("Playback is off: no audio output device was found.")
    p.load(audio, sr)
    p.play(2.0)
    assert not p.is_playing and p.position == pytest.approx(2.0)
    assert p.duration == pytest.approx(audio.shape[1] / sr)


def test_window_shows_and_plays_a_stereo_file(qtbot, window, fake_player) -> None:
    open_and_wait(qtbot, window, STEREO_WAV)
    cv = window.clip_view
    assert cv.wave.stereo and cv.channels.isVisibleTo(window)
    assert cv.mel.image.image.ndim == 2
    loaded, sr = fake_player.loaded[-1]
    assert loaded.shape[0] == 2 and sr == 44100 and fake_player._buf.shape[1] == 2
    cv.set_channel_mode("ms")
    from songwriter_app.settings import CLIP_VIEW_CHANNELS

    assert window.settings.get(CLIP_VIEW_CHANNELS) == "ms"
    window.clip_view.position_clicked.emit(3.0)
    assert fake_player.position == pytest.approx(3.0, abs=1e-3)


def _layout(a: tuple[float, float], b: tuple[float, float] | None, gap_span) -> SimpleNamespace:
    sec = lambda start, dur: SimpleNamespace(start=start, duration=dur,  # noqa: E731
                                             path=str(STEREO_WAV))
    return SimpleNamespace(gap_span=gap_span, section_a=sec(*a),
                           section_b=sec(*b) if b is not None else None)


def test_gap_plan_in_context_alone_and_for_an_ending() -> None:
    from songwriter_app.controllers.playback import gap_plan

    lay = _layout((0.5, 1.2), (2.5, 1.2), (4800, 8800))
    seams = {"take": [4800, 8800]}
    ctx = gap_plan(lay, seams, 4800 + 4000 + 4800, 4000)
    assert ctx is not None and (ctx.start, ctx.end) == (1.2, 2.2)
    assert ctx.after == pytest.approx(1.7) and ctx.before == 2.5 and ctx.seconds == 1.0
    alone = gap_plan(lay, seams, 4000, 4000)
    assert alone is not None and (alone.start, alone.end) == (0.0, 1.0)
    assert gap_plan(lay, None, 4000, 4000) is None
    assert gap_plan(_layout((0.5, 1.2), (2.5, 1.2), None), seams, 4000, 4000) is None
    ending = gap_plan(_layout((0.5, 1.2), None, (4800, 8800)), {"take": [4800, 8800]}, 8800,
                      4000)
    assert ending is not None and ending.before is None and ending.start == 1.2


def test_playhead_crosses_the_gap_on_the_clip_view(qtbot, window, fake_player,
                                                   monkeypatch) -> None:
    """A bridge take in context (A -> take -> B): the clip view marks the gap between A's end
    and B's start and the playhead moves through it, instead of waiting at A's end."""
    open_and_wait(qtbot, window, STEREO_WAV)
    cv, pb = window.clip_view, window.playback
    sr = 4000
    rec = SimpleNamespace(seams={"take": [4800, 8800]})
    # the window reacts to the opened clip on a later turn of the event loop: let it, so that
    # the stand-in project below is only seen by what this test drives
    qtbot.wait(50)
    cfg = PRESETS["quick"]
    project = SimpleNamespace(
        config=cfg, trained=False,
        manifest=SimpleNamespace(layout=_layout((0.5, 1.2), (4.0, 1.2), (4800, 8800)),
                                 rates=list(cfg.candidate_rates)),
        store=SimpleNamespace(get=lambda vid: rec))
    monkeypatch.setattr(window.projects, "project", project)
    take = np.zeros((2, 4800 + 4000 + 4800), np.float32)
    seen: list[float] = []

    def follow(pos: float) -> None:  # what the bridge's follower does: A and B only
        seen.append(pos)
        if pos < 1.2:
            cv.set_playhead(0.5 + pos)
        elif pos >= 2.2:
            cv.set_playhead(4.0 + pos - 2.2)

    assert pb.play_buffer(take, sr, "v0001", follow)
    assert cv.gap_shown and cv.gap_marker.isVisible()
    assert cv.gap_marker.getRegion() == pytest.approx((1.7, 4.0))
    heads = []
    for t in (0.6, 1.2, 1.45, 1.7, 2.1, 2.3):
        fake_player.seek(t)
        pb._tick()
        heads.append(cv.wave.playhead.value())
    assert heads[0] == pytest.approx(1.1, abs=1e-3)  # in A
    assert heads[1] == pytest.approx(1.7, abs=1e-3)  # the gap starts at A's end
    assert heads[2] == pytest.approx(1.7 + 0.25 * 2.3, abs=1e-3)  # a quarter of the way
    assert heads[3] == pytest.approx(1.7 + 0.5 * 2.3, abs=1e-3)
    assert heads[4] == pytest.approx(1.7 + 0.9 * 2.3, abs=1e-3)
    assert heads[5] == pytest.approx(4.1, abs=1e-3)  # on into B
    assert all(b > a for a, b in zip(heads, heads[1:], strict=False))  # always moving on
    assert "/ 1.0 s" in cv.gap_label.textItem.toPlainText()
    assert cv.mel.playhead.value() == pytest.approx(heads[-1])
    # anything else played hides the marker
    pb.seek_clip(3.0)
    assert not cv.gap_shown and not cv.gap_marker.isVisible()
