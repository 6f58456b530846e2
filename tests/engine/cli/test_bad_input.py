"""Bad input: every user mistake gives one clear line on stderr, a non-zero exit code, no
traceback and nothing written. Unusual but valid audio files are accepted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.config import get_preset
from engine.project.checkpoint import FORMAT_VERSION, read_manifest
from engine.training.loop import prepare_project

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PREFIX = "songwriter-cli: error: "


def assert_one_line_error(r, *words: str) -> None:
    assert r.rc == 2, (r.rc, r.err)
    lines = r.err.splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith(PREFIX) and len(lines[0]) > len(PREFIX) + 10
    assert "Traceback" not in r.err
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# ---- train: bad clips --------------------------------------------------------------------


def _missing(tmp: Path, write_audio) -> Path:
    return tmp / "no-such-file.wav"


def _random_bytes(tmp: Path, write_audio) -> Path:
    p = tmp / "noise.wav"
    p.write_bytes(np.random.default_rng(0).bytes(4096))
    return p


def _empty_wav(tmp: Path, write_audio) -> Path:
    return write_audio("empty.wav", data=np.zeros((0, 2), dtype=np.float32))


def _silent_wav(tmp: Path, write_audio) -> Path:
    return write_audio("silent.wav", data=np.zeros(32000, dtype=np.float32))


def _too_short(tmp: Path, write_audio) -> Path:
    # tiny needs 249 + 64 samples at its finest rate of 4 kHz, i.e. 0.078 s
    return write_audio("short.wav", sr=16000, seconds=0.05)


def _folder(tmp: Path, write_audio) -> Path:
    (tmp / "a-folder.wav").mkdir()
    return tmp / "a-folder.wav"


def _nan_samples(tmp: Path, write_audio) -> Path:
    x = np.full(16000, 0.1, dtype=np.float32)
    x[100] = np.nan
    return write_audio("nan.wav", data=x, subtype="FLOAT")


def _rate_too_low(tmp: Path, write_audio) -> Path:
    return write_audio("500hz.wav", sr=500)


def _rate_too_high(tmp: Path, write_audio) -> Path:
    return write_audio("768k.wav", sr=768000, seconds=0.2)


BAD_CLIPS: dict[str, tuple[Callable[[Path, Callable], Path], str]] = {
    "missing": (_missing, "not found"),
    "random-bytes": (_random_bytes, "cannot read"),
    "empty": (_empty_wav, "no audio"),
    "silent": (_silent_wav, "silent"),
    "too-short": (_too_short, "too short"),
    "folder": (_folder, "folder"),
    "nan": (_nan_samples, "invalid samples"),
    "rate-500": (_rate_too_low, "500 Hz"),
    "rate-768k": (_rate_too_high, "768000 Hz"),
}


@pytest.mark.parametrize("case", list(BAD_CLIPS))
def test_train_rejects_bad_clips_and_writes_nothing(
    case: str, tmp_path: Path, write_audio, cli
) -> None:
    make, words = BAD_CLIPS[case]
    clip = make(tmp_path, write_audio)
    before = _files(tmp_path)
    r = cli("train", clip, "--project", tmp_path / "project", "--preset", "tiny", "--device", "cpu")
    assert_one_line_error(r, words)
    assert _files(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--start", "5"], "cannot start at"),
        (["--start", "-1"], "before the beginning"),
        (["--duration", "0"], "longer than 0"),
        (["--preset", "enormous"], "unknown preset"),
        (["--iters", "0"], "iters_per_scale"),
        (["--device", "abacus"], "unknown device"),
    ],
)
def test_train_rejects_bad_settings_and_writes_nothing(
    args: list[str], words: str, tmp_path: Path, write_audio, cli
) -> None:
    clip = write_audio("two-seconds.wav", seconds=2.0)
    r = cli(
        "train",
        clip,
        "--project",
        tmp_path / "project",
        "--preset",
        "tiny",
        "--device",
        "cpu",
        *args,
    )
    assert_one_line_error(r, words)
    assert _files(tmp_path) == ["two-seconds.wav"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_train_on_cuda_without_a_gpu(tmp_path: Path, write_audio, cli) -> None:
    clip = write_audio("a.wav")
    r = cli(
        "train", clip, "--project", tmp_path / "project", "--preset", "tiny", "--device", "cuda"
    )
    assert_one_line_error(r, "cuda")
    assert not (tmp_path / "project").exists()


def test_train_needs_a_clip_unless_resuming(tmp_path: Path, cli) -> None:
    r = cli("train", "--project", tmp_path / "project", "--preset", "tiny")
    assert_one_line_error(r, "clip")
    assert list(tmp_path.iterdir()) == []


# ---- train: bad project folders -----------------------------------------------------------


def test_train_into_an_existing_project_is_refused_and_leaves_it_untouched(
    tiny_project: Path, write_audio, cli, tree_digest
) -> None:
    before = tree_digest(tiny_project)
    r = cli(
        "train",
        write_audio("a.wav"),
        "--project",
        tiny_project,
        "--preset",
        "tiny",
        "--device",
        "cpu",
    )
    assert_one_line_error(r, "already holds a project")
    assert tree_digest(tiny_project) == before


def test_train_into_a_non_empty_folder_is_refused(tmp_path: Path, write_audio, cli) -> None:
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    r = cli(
        "train", write_audio("a.wav"), "--project", folder, "--preset", "tiny", "--device", "cpu"
    )
    assert_one_line_error(r, "not an empty folder")
    assert _files(folder) == ["notes.txt"]


def test_train_into_a_folder_that_cannot_be_created(tmp_path: Path, write_audio, cli) -> None:
    # tests run as root, so permissions cannot block a write: a path below a file can
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = cli(
        "train",
        write_audio("a.wav"),
        "--project",
        blocker / "project",
        "--preset",
        "tiny",
        "--device",
        "cpu",
    )
    assert_one_line_error(r)
    assert blocker.read_text() == "x" and sorted(p.name for p in tmp_path.iterdir()) == [
        "a-file",
        "a.wav",
    ]


def test_resume_without_a_project(tmp_path: Path, cli) -> None:
    r = cli("train", "--project", tmp_path / "nothing", "--resume", "--device", "cpu")
    assert_one_line_error(r, "no project")
    assert not (tmp_path / "nothing").exists()


# ---- projects from a newer version, damaged projects -----------------------------------------


def _set_manifest(project: Path, **fields) -> None:
    path = project / "manifest.json"
    data = json.loads(path.read_text())
    data.update(fields)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    "argv",
    [
        ["info"],
        ["info", "--json"],
        ["train", "--resume", "--device", "cpu"],
        ["generate", "--count", "1", "--seconds", "1", "--device", "cpu"],
    ],
    ids=["info", "info-json", "resume", "generate"],
)
def test_a_project_from_a_newer_version(
    argv: list[str], tiny_project: Path, tmp_path: Path, cli, tree_digest
) -> None:
    _set_manifest(tiny_project, format_version=FORMAT_VERSION + 1)
    before = tree_digest(tiny_project)
    extra = ["--out", tmp_path / "out"] if argv[0] == "generate" else []
    r = cli(argv[0], "--project", tiny_project, *argv[1:], *extra)
    assert_one_line_error(r, "newer")
    assert r.out == ""
    assert tree_digest(tiny_project) == before
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_generate_creates_no_output_folder_for_a_project_it_cannot_load(
    tiny_project: Path, tmp_path: Path, cli
) -> None:
    _set_manifest(tiny_project, format_version=FORMAT_VERSION + 1)
    r = cli("generate", "--project", tiny_project, "--out", tmp_path / "out", "--device", "cpu")
    assert_one_line_error(r, "newer")
    assert not (tmp_path / "out").exists()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated-manifest": lambda p: (p / "manifest.json").write_text('{"format_version": 1, "rat'),
    "config-not-an-object": lambda p: _set_manifest(p, config="tiny"),
    "fewer-amps-than-rates": lambda p: _set_manifest(p, noise_amps=[1.0]),
    "damaged-weights": lambda p: (p / "scales" / "001.safetensors").write_bytes(b"junk"),
}


@pytest.mark.parametrize(
    ("damage", "command"),
    [
        pytest.param(d, c)
        for d in DAMAGE
        for c in ("info", "generate", "resume")
        if not (d == "damaged-weights" and c == "info")  # info does not read the weights
    ],
)
def test_a_damaged_project(
    damage: str, command: str, tiny_project: Path, tmp_path: Path, cli, tree_digest
) -> None:
    if command == "resume":
        _set_manifest(tiny_project, scales_done=3)  # unfinished, so resume has work to do
    DAMAGE[damage](tiny_project)
    weights = tree_digest(tiny_project / "scales")
    if command == "info":
        r = cli("info", "--project", tiny_project)
    elif command == "generate":
        r = cli(
            "generate",
            "--project",
            tiny_project,
            "--count",
            "1",
            "--seconds",
            "1",
            "--out",
            tmp_path / "out",
            "--device",
            "cpu",
        )
    else:
        r = cli("train", "--project", tiny_project, "--resume", "--device", "cpu")
    assert_one_line_error(r)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert tree_digest(tiny_project / "scales") == weights


# ---- generate: bad arguments and outputs --------------------------------------------------


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--from-scale", "3"], "--from-scale"),
        (["--from-scale", "-1"], "--from-scale"),
        (["--count", "0"], "at least 1"),
        (["--seconds", "0"], "more than 0"),
    ],
)
def test_generate_rejects_bad_arguments_and_writes_no_audio(
    args: list[str], words: str, tiny_project: Path, tmp_path: Path, cli
) -> None:
    out = tmp_path / "out"
    r = cli("generate", "--project", tiny_project, "--out", out, "--device", "cpu", *args)
    assert_one_line_error(r, words)
    assert not out.exists() or list(out.iterdir()) == []


def test_generate_into_a_path_below_a_file(tiny_project: Path, tmp_path: Path, cli) -> None:
    blocker = tmp_path / "work" / "a-file"
    blocker.parent.mkdir()
    blocker.write_text("x")
    r = cli(
        "generate",
        "--project",
        tiny_project,
        "--out",
        blocker / "out",
        "--count",
        "1",
        "--device",
        "cpu",
    )
    assert_one_line_error(r)
    r = cli(
        "generate", "--project", tiny_project, "--out", blocker, "--count", "1", "--device", "cpu"
    )
    assert_one_line_error(r, "not a folder")
    assert [p.name for p in blocker.parent.iterdir()] == ["a-file"] and blocker.read_text() == "x"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (None, "does not exist"),
        ("empty-folder", "not a project"),
        ("no-scale", "no finished scale"),
    ],
)
def test_generate_without_a_usable_project(
    change, words: str, tiny_project: Path, tmp_path: Path, cli
) -> None:
    project = tmp_path / "missing"
    if change == "empty-folder":
        project.mkdir()
    elif change == "no-scale":
        project = tiny_project
        _set_manifest(project, scales_done=0)
    r = cli("generate", "--project", project, "--out", tmp_path / "out", "--device", "cpu")
    assert_one_line_error(r, words)


def test_a_bad_input_in_a_real_process_prints_one_line(cli_subprocess, tmp_path: Path) -> None:
    r = cli_subprocess(
        "train", tmp_path / "nope.wav", "--project", tmp_path / "p", "--preset", "tiny"
    )
    assert r.returncode == 2
    assert r.stderr.splitlines() == [f"{PREFIX}File not found: {tmp_path / 'nope.wav'}."]
    assert r.stdout == "" and list(tmp_path.iterdir()) == []


# ---- unusual but valid audio ---------------------------------------------------------------


def _wav(sr: int, channels: int = 1, subtype: str | None = None):
    return lambda w: w("clip.wav", sr=sr, channels=channels, subtype=subtype)


def _fmt(name: str, fmt: str, subtype: str, sr: int = 44100, channels: int = 2):
    def make(w) -> Path:
        path = w(name, sr=sr, channels=channels, subtype=subtype)
        assert sf.info(str(path)).format == fmt
        return path

    return make


VALID_FILES = {
    "8k-mono": (_wav(8000), 8000, 1),
    "22050-stereo": (_wav(22050, 2), 22050, 2),
    "96k-stereo": (_wav(96000, 2), 96000, 2),
    "192k-stereo": (_wav(192000, 2), 192000, 2),
    "6-channels": (_wav(48000, 6), 48000, 6),
    "24-bit": (_wav(44100, 2, "PCM_24"), 44100, 2),
    "float": (_wav(44100, 2, "FLOAT"), 44100, 2),
    "flac": (_fmt("clip.flac", "FLAC", "PCM_24"), 44100, 2),
    "ogg": (_fmt("clip.ogg", "OGG", "VORBIS"), 44100, 2),
    "aiff": (_fmt("clip.aiff", "AIFF", "PCM_16"), 44100, 2),
    "mono-44k": (_wav(44100), 44100, 1),
}


@pytest.mark.parametrize("case", list(VALID_FILES))
def test_unusual_valid_files_are_accepted(case: str, tmp_path: Path, write_audio) -> None:
    make, sr, channels = VALID_FILES[case]
    path = make(write_audio)
    m = prepare_project(path, tmp_path / "project", get_preset("tiny"))
    assert m.rates == [500, 1000, 2000, 4000]
    assert m.source["sample_rate"] == sr and m.source["channels"] == channels
    clip, fs = sf.read(str(tmp_path / "project" / "clip.wav"), dtype="float32")
    assert fs == 4000 and clip.ndim == 1
    assert clip.shape[0] == pytest.approx(8000, abs=40)  # 2 s (lossy codecs may pad a little)
    assert np.max(np.abs(clip)) == pytest.approx(1.0, abs=1e-6)
    # the 220 Hz test tone survives down-mixing and resampling
    spectrum = np.abs(np.fft.rfft(clip))
    assert abs(np.argmax(spectrum) * fs / clip.shape[0] - 220) < 2


def test_mp3_is_accepted(tmp_path: Path, write_audio) -> None:
    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile cannot write mp3")
    path = write_audio("clip.mp3", sr=44100, channels=2, subtype="MPEG_LAYER_III")
    m = prepare_project(path, tmp_path / "project", get_preset("tiny"))
    assert m.source["channels"] == 2 and m.rates == [500, 1000, 2000, 4000]
    assert read_manifest(tmp_path / "project").source["sample_rate"] == 44100


def test_a_192k_6_channel_24_bit_file_trains_and_generates_end_to_end(
    tmp_path: Path, write_audio, cli
) -> None:
    path = write_audio("odd.wav", sr=192000, channels=6, subtype="PCM_24", seconds=1.2)
    project = tmp_path / "project"
    r = cli(
        "train", path, "--project", project, "--preset", "tiny", "--iters", "1", "--device", "cpu"
    )
    assert r.rc == 0, r.err
    r = cli(
        "generate",
        "--project",
        project,
        "--count",
        "1",
        "--seconds",
        "1",
        "--out",
        tmp_path / "out",
        "--device",
        "cpu",
    )
    assert r.rc == 0, r.err
    assert sf.info(str(tmp_path / "out" / "variation_seed0_free.wav")).frames == 4000 - 2 * 800


def test_a_file_shorter_than_the_section_start(tmp_path: Path, write_audio, cli) -> None:
    path = write_audio("short.flac", sr=44100, seconds=1.0, subtype="PCM_16")
    r = cli(
        "train",
        path,
        "--project",
        tmp_path / "p",
        "--preset",
        "tiny",
        "--start",
        "1.5",
        "--device",
        "cpu",
    )
    assert_one_line_error(r, "1.0 s long", "1.5 s")
    assert not (tmp_path / "p").exists()
