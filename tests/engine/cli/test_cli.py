"""songwriter-cli end to end: train a tiny model on a real clip, inspect it, render variations."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine import ENGINE_VERSION
from engine.cli import main
from engine.study.spec import flatten_sidecar

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FS = 4000
TRIM = 800  # 0.2 s at 4 kHz from each edge
SIDECAR_KEYS = {"seed", "from_scale", "preset", "project", "engine_version", "time"}


@pytest.fixture(scope="module")
def cli_project(tmp_path_factory: pytest.TempPathFactory, second_clip: Path):
    """`songwriter-cli train` of the tiny preset on a real recording (3 s of it)."""
    import torch

    root = tmp_path_factory.mktemp("cli") / "project"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rc = main(
            [
                "train",
                str(second_clip),
                "--project",
                str(root),
                "--preset",
                "tiny",
                "--device",
                "cpu",
                "--seed",
                "3",
            ]
        )
    finally:
        torch.set_num_threads(before)
    assert rc == 0
    return root


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def test_train_reports_progress_and_writes_a_complete_project(
    cli, tmp_path: Path, demo_clip: Path
) -> None:
    project = tmp_path / "p"
    r = cli(
        "train",
        demo_clip,
        "--project",
        project,
        "--preset",
        "tiny",
        "--iters",
        "2",
        "--duration",
        "1",
        "--device",
        "cpu",
        "--set",
        "bank_size=2",
        "--set",
        "loss_every=2",
    )
    assert r.rc == 0, r.err
    lines = r.err.splitlines()
    assert lines[0].startswith("Training preset 'tiny' on CPU")
    assert "4 scales (500, 1000, 2000, 4000 Hz), 2 iterations each" in lines[0]
    saved = [ln.split(" finished")[0] for ln in lines if ln.endswith("; saved.")]
    assert saved == [
        f"scale {s}/4 ({r} Hz)" for s, r in zip((1, 2, 3, 4), (500, 1000, 2000, 4000), strict=True)
    ]
    assert lines[-1].startswith("Done in") and str(project) in lines[-1]
    assert "Traceback" not in r.err
    m = json.loads((project / "manifest.json").read_text())
    assert m["scales_done"] == 4 and m["config"]["iters_per_scale"] == 2
    assert m["config"]["bank_size"] == 2 and m["config"]["loss_every"] == 2
    # settings are fixed once a project exists; a misspelt one is refused before anything runs
    fixed = cli("train", "--project", project, "--resume", "--set", "amp=true")
    assert fixed.rc == 2 and "--set cannot" in fixed.err
    bad = cli("train", demo_clip, "--project", tmp_path / "q", "--set", "bank_sise=2")
    assert bad.rc == 2 and "bank_sise" in bad.err and not (tmp_path / "q").exists()
    # resuming a finished project is a no-op that succeeds
    again = cli("train", "--project", project, "--resume", "--device", "cpu")
    assert again.rc == 0 and "Done" in again.err


def test_train_without_a_preset_takes_the_devices_default(
    cli, tmp_path: Path, demo_clip: Path
) -> None:
    """No --preset: thorough on a CPU (standard would be on a CUDA GPU); the help says so."""
    r = cli("train", demo_clip, "--project", tmp_path / "p", "--device", "cpu", "--iters", "1",
            "--set", "iters_window=1", "--duration", "1")
    assert r.rc == 0, r.err
    assert r.err.splitlines()[0].startswith("Training preset 'thorough' on CPU")
    assert json.loads((tmp_path / "p" / "manifest.json").read_text())["config"]["name"] == "thorough"
    helped = cli("train", "--help")
    assert "default thorough on a CPU, standard on a CUDA GPU" in " ".join(helped.out.split())


def test_info_text_and_json(cli, cli_project: Path, second_clip: Path) -> None:
    r = cli("info", "--project", cli_project)
    assert r.rc == 0 and r.err == ""
    assert "Preset    tiny: 4000 Hz mono, 8/8 network channels, 8 iterations per scale" in r.out
    assert "Progress  4 of 4 scales, 32 iterations" in r.out
    assert sum(" Hz " in ln and "done" in ln for ln in r.out.splitlines()) == 4
    assert "Remaining" not in r.out
    j = cli("info", "--project", cli_project, "--json")
    info = json.loads(j.out)
    assert info["preset"] == "tiny" and info["scales_done"] == info["n_scales"] == 4
    assert info["format_version"] == 1 and info["engine_version"] == ENGINE_VERSION
    assert [s["rate"] for s in info["scales"]] == [500, 1000, 2000, 4000]
    assert all(s["done"] and s["iterations"] == 8 for s in info["scales"])
    assert info["scales"][0]["noise_amp"] == 1.0
    assert info["source"]["sha256"] == hashlib.sha256(second_clip.read_bytes()).hexdigest()
    assert info["project"] == str(cli_project.resolve())


def test_generate_writes_distinct_audible_variations_with_sidecars(
    cli, cli_project: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    r = cli(
        "generate",
        "--project",
        cli_project,
        "--count",
        "2",
        "--seconds",
        "2",
        "--out",
        out,
        "--device",
        "cpu",
    )
    assert r.rc == 0, r.err
    printed = r.out.splitlines()
    assert len(printed) == 2
    wavs = sorted(out.glob("*.wav"))
    assert [w.name for w in wavs] == ["variation_seed0_free.wav", "variation_seed1_free.wav"]
    assert all(str(w) in line for w, line in zip(wavs, printed, strict=True))
    audio = []
    for seed, w in enumerate(wavs):
        x, sr = sf.read(str(w), dtype="float32")
        assert sr == FS and x.shape == (2 * FS - 2 * TRIM,)
        assert sf.info(str(w)).subtype == "FLOAT"
        assert np.all(np.isfinite(x)) and _rms(x) > 1e-3
        audio.append(x)
        nested = json.loads(w.with_suffix(".json").read_text())
        # the project store's schema: the render under "variation", the model under "provenance"
        assert set(nested) == {"variation", "provenance"}
        assert nested["variation"]["recipe"]["mode"] == "free" and nested["variation"]["file"] == w.name
        side = flatten_sidecar(nested)
        assert set(side) >= SIDECAR_KEYS
        assert side["seed"] == seed and side["from_scale"] is None
        assert side["preset"] == "tiny" and side["project"] == str(cli_project.resolve())
        assert side["engine_version"] == ENGINE_VERSION
        stamp = time.mktime(time.strptime(side["time"][:19], "%Y-%m-%dT%H:%M:%S"))
        assert abs(stamp - time.time()) < 24 * 3600
    assert _rms(audio[0] - audio[1]) > 0.3 * _rms(audio[0])


def test_generate_from_scale_0_keeps_the_clip_length(
    cli, cli_project: Path, tmp_path: Path
) -> None:
    r = cli(
        "generate",
        "--project",
        cli_project,
        "--count",
        "2",
        "--seconds",
        "30",
        "--from-scale",
        "0",
        "--out",
        tmp_path,
        "--device",
        "cpu",
    )
    assert r.rc == 0, r.err
    xs = []
    for seed in (0, 1):
        w = tmp_path / f"variation_seed{seed}_k0.wav"
        x, sr = sf.read(str(w), dtype="float32")
        assert x.shape == (3 * FS - 2 * TRIM,)  # the 3 s clip minus the trimmed edges
        assert _rms(x) > 1e-3
        side = flatten_sidecar(json.loads(w.with_suffix(".json").read_text()))
        assert side["from_scale"] == 0 and side["from_scale_rate"] == 500 and side["seed"] == seed
        xs.append(x)
    assert not np.array_equal(xs[0], xs[1])
    untrimmed = cli(
        "generate",
        "--project",
        cli_project,
        "--count",
        "1",
        "--from-scale",
        "2",
        "--no-trim",
        "--bits",
        "16",
        "--out",
        tmp_path / "raw",
        "--device",
        "cpu",
    )
    assert untrimmed.rc == 0
    info = sf.info(str(tmp_path / "raw" / "variation_seed0_k2.wav"))
    assert info.frames == 3 * FS and info.subtype == "PCM_16"


def test_the_same_seed_gives_identical_files(cli, cli_project: Path, tmp_path: Path) -> None:
    for name in ("a", "b"):
        r = cli(
            "generate",
            "--project",
            cli_project,
            "--count",
            "1",
            "--seed",
            "17",
            "--seconds",
            "1.5",
            "--out",
            tmp_path / name,
            "--device",
            "cpu",
        )
        assert r.rc == 0
    # the samples, not the bytes: libsndfile stamps float wavs with the time of writing
    a, _ = sf.read(str(tmp_path / "a" / "variation_seed17_free.wav"), dtype="float32")
    b, _ = sf.read(str(tmp_path / "b" / "variation_seed17_free.wav"), dtype="float32")
    np.testing.assert_array_equal(a, b)
    other = cli(
        "generate",
        "--project",
        cli_project,
        "--count",
        "1",
        "--seed",
        "18",
        "--seconds",
        "1.5",
        "--out",
        tmp_path / "a",
        "--device",
        "cpu",
    )
    assert other.rc == 0
    c, _ = sf.read(str(tmp_path / "a" / "variation_seed18_free.wav"), dtype="float32")
    assert not np.array_equal(c, a)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"songwriter-cli {ENGINE_VERSION}"


def test_the_installed_entry_point_runs(subprocess_env, cli_project: Path) -> None:
    script = Path(sys.executable).parent / "songwriter-cli"
    assert script.is_file(), "the songwriter-cli script is not installed in the venv"
    r = subprocess.run(
        [str(script), "info", "--project", str(cli_project), "--json"],
        capture_output=True,
        text=True,
        env=subprocess_env,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["scales_done"] == 4


def test_generate_into_the_project_uses_the_apps_store_recipes_and_verdicts(
    tiny_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.project import Project

    assert main(["generate", "--project", str(tiny_project), "--count", "2", "--seconds", "1",
                 "--seed", "30", "--into-project", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    recs = Project.open(tiny_project).store.list()
    assert [r.seed for r in recs] == [30, 31]
    assert all(r.recipe is not None and r.recipe.mode == "free" and r.verdict for r in recs)
    assert "v0001" in out and "verdict:" in out
    # the same request again adds nothing; neither --out nor --into-project is refused
    assert main(["generate", "--project", str(tiny_project), "--count", "1", "--seconds", "1",
                 "--seed", "30", "--into-project", "--device", "cpu"]) == 0
    assert "already there" in capsys.readouterr().out
    assert len(Project.open(tiny_project).store) == 2
    assert main(["generate", "--project", str(tiny_project)]) == 2
