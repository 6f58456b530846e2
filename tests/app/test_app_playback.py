"""Playback: the copy-only callback, loop and end of buffer, the null player, and a real
PortAudio stream on ALSA's null device when the machine has PortAudio."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from songwriter_app.playback import NullPlayer, SoundDevicePlayer, make_player

REPO = Path(__file__).resolve().parents[2]


class FakeStream:
    def __init__(self, **kw) -> None:
        self.kw = kw
        self.active = False
        self.stopped = True
        self.closed = False

    def start(self) -> None:
        self.active, self.stopped = True, False

    def stop(self) -> None:
        self.active, self.stopped = False, True

    def abort(self) -> None:
        self.stop()

    def close(self) -> None:
        self.closed = True


class FakeSD:
    def __init__(self) -> None:
        self.streams: list[FakeStream] = []

    def OutputStream(self, **kw) -> FakeStream:  # noqa: N802 (sounddevice's name)
        s = FakeStream(**kw)
        self.streams.append(s)
        return s


def _pull(player: SoundDevicePlayer, frames: int, channels: int = 2) -> np.ndarray:
    out = np.full((frames, channels), 9.0, dtype=np.float32)
    player._callback(out, frames, None, None)
    return out


def test_callback_copies_advances_and_stops_at_the_end() -> None:
    sd = FakeSD()
    p = SoundDevicePlayer(sd, blocksize=4)
    x = np.arange(10, dtype=np.float32) / 10
    p.load(x, 1000)
    p.play(0.0)
    stream = sd.streams[0]
    assert stream.kw["samplerate"] == 1000 and stream.kw["channels"] == 2 and stream.active
    assert np.allclose(_pull(p, 4)[:, 0], x[:4])
    assert p.position == pytest.approx(0.004)
    assert np.allclose(_pull(p, 4)[:, 0], x[4:8])
    tail = _pull(p, 4)[:, 0]
    assert np.allclose(tail[:2], x[8:]) and np.all(tail[2:] == 0)
    assert not p.is_playing  # the callback ended it; the GUI's poll stops the stream
    p.poll()
    assert not stream.active
    assert np.all(_pull(p, 4) == 0)  # silence once stopped


def test_loop_wraps_around_and_seek() -> None:
    p = SoundDevicePlayer(FakeSD(), blocksize=4)
    x = np.arange(6, dtype=np.float32)
    p.load(x / 10, 1000)
    p.loop = True
    p.play(0.003)
    got = _pull(p, 8)[:, 0] * 10
    assert np.allclose(got, [3, 4, 5, 0, 1, 2, 3, 4])
    assert p.is_playing
    p.seek(0.001)
    assert np.allclose(_pull(p, 2)[:, 0] * 10, [1, 2])


def test_a_new_rate_reopens_the_stream_and_mono_stays_stereo_out() -> None:
    sd = FakeSD()
    p = SoundDevicePlayer(sd)
    p.load(np.zeros((2, 100), np.float32), 8000)
    p.play()
    assert sd.streams[-1].kw["channels"] == 2
    p.load(np.zeros(100, np.float32), 16000, keep_position=True)
    assert sd.streams[0].closed
    p.play()
    assert sd.streams[-1].kw["samplerate"] == 16000 and sd.streams[-1].kw["channels"] == 2


def test_keep_position_for_ab() -> None:
    p = SoundDevicePlayer(FakeSD())
    p.load(np.zeros(8000, np.float32), 8000)
    p.play(0.5)
    p.load(np.ones(8000, np.float32) * 0.1, 8000, keep_position=True)
    assert p.position == pytest.approx(0.5) and p.is_playing
    assert np.allclose(_pull(p, 16)[:, 0], 0.1)


def test_null_player_keeps_a_position_and_says_why() -> None:
    p = NullPlayer("Playback is off: no audio output device was found.")
    p.load(np.zeros(1000, np.float32), 1000)
    p.play(0.25)
    assert not p.is_playing and p.position == pytest.approx(0.25)
    assert "no audio output" in p.reason and not p.available


def test_env_switch_gives_a_null_player(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SONGWRITER_NO_AUDIO", "1")
    p = make_player()
    assert isinstance(p, NullPlayer) and "SONGWRITER_NO_AUDIO" in p.reason


def test_window_says_why_playback_is_off(make_window) -> None:
    w = make_window(player=NullPlayer("Playback is off: the PortAudio library is missing."))
    assert w.status_audio.text() == "Audio: OFF"
    assert "PortAudio" in w.status_audio.toolTip()
    assert "PortAudio" in w.statusBar().currentMessage()


def _alsa_null_config(tmp_path: Path) -> Path | None:
    system = Path("/usr/share/alsa/alsa.conf")
    if not system.is_file():
        return None
    conf = tmp_path / "alsa.conf"
    conf.write_text(system.read_text() + "\npcm.!default { type null }\n")
    return conf


@pytest.mark.skipif(ctypes.util.find_library("portaudio") is None,
                    reason="PortAudio (Debian: libportaudio2) is not installed")
def test_real_portaudio_stream_on_the_alsa_null_device(tmp_path: Path) -> None:
    conf = _alsa_null_config(tmp_path)
    if conf is None:
        pytest.skip("no ALSA configuration to point at the null device")
    script = textwrap.dedent("""
        import time
        import numpy as np
        from songwriter_app.playback import SoundDevicePlayer, make_player
        p = make_player()
        assert isinstance(p, SoundDevicePlayer), p.reason
        x = (0.1 * np.sin(np.arange(8000) / 8.0)).astype(np.float32)
        p.load(x, 8000)
        p.play(0.25)
        t0 = time.monotonic()
        while p.is_playing and time.monotonic() - t0 < 10:
            time.sleep(0.01)
        assert not p.is_playing, "playback did not reach the end"
        assert p.position > 0.9, p.position
        p.poll()
        p.loop = True
        p.play(0.0)
        time.sleep(0.3)
        assert p.is_playing
        p.stop()
        p.close()
        print("OK")
    """)
    env = dict(os.environ, ALSA_CONFIG_PATH=str(conf), PYTHONPATH=str(REPO))
    env.pop("SONGWRITER_NO_AUDIO", None)
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    if "no audio output device" in res.stdout + res.stderr:
        pytest.skip("PortAudio sees no output device even with ALSA's null sink")
    assert res.returncode == 0, res.stderr
    assert "OK" in res.stdout


def test_portaudio_missing_is_explained() -> None:
    """Without libportaudio2, importing sounddevice fails; the player says so (subprocess)."""
    script = textwrap.dedent("""
        import sys, builtins
        real_import = builtins.__import__
        def fake(name, *a, **k):
            if name == "sounddevice":
                raise OSError("PortAudio library not found")
            return real_import(name, *a, **k)
        builtins.__import__ = fake
        from songwriter_app.playback import make_player
        p = make_player()
        print(type(p).__name__, "|", p.reason)
    """)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("SONGWRITER_NO_AUDIO", None)
    res = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                         timeout=60, cwd=REPO)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("NullPlayer") and "libportaudio2" in res.stdout
