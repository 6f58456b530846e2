"""songwriter-cli for bridges and endings: train with --section/--gap/--mode, info shows the
sections and the gap, generate renders takes (stitched whole and take alone with sidecars),
evaluate measures their seams; bad requests are refused in one line with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PREFIX = "songwriter-cli: error: "


def _one_line_error(r, *words: str) -> None:
    assert r.rc == 2, (r.rc, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX), r.err
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])


@pytest.fixture(scope="module")
def bridge_cli_project(tmp_path_factory: pytest.TempPathFactory, demo_clip: Path) -> Path:
    from engine.cli import main

    root = tmp_path_factory.mktemp("cli-bridge") / "p"
    rc = main(["train", str(demo_clip), "--project", str(root), "--preset", "tiny",
               "--iters", "2", "--device", "cpu", "--section", "0.5-1.7",
               "--section", f"{demo_clip}:2.5-3.7", "--gap", "0.8", "--mode", "bridge"])
    assert rc == 0
    return root


def test_train_info_generate_evaluate(cli, bridge_cli_project: Path, tmp_path: Path) -> None:
    r = cli("info", "--project", bridge_cli_project)
    assert r.rc == 0, r.err
    assert "Layout    bridge" in r.out and "section A:" in r.out and "section B:" in r.out
    assert "gap: 0.80 s between A and B" in r.out
    info = json.loads(cli("info", "--project", bridge_cli_project, "--json").out)
    assert info["layout"]["gap_span"] == [4800, 8000]

    out = tmp_path / "takes"
    r = cli("generate", "--project", bridge_cli_project, "--count", "2", "--seed", "3",
            "--out", out, "--device", "cpu")
    assert r.rc == 0, r.err
    whole, alone = out / "bridge_seed3_stitched.wav", out / "bridge_seed3_take.wav"
    assert sf.info(str(whole)).frames == 12800 and sf.info(str(alone)).frames == 3200
    side = json.loads(whole.with_suffix(".json").read_text())
    assert side["variation"]["recipe"]["mode"] == "bridge"
    assert side["variation"]["seams"]["seams"] == [4800, 8000]
    assert (out / "bridge_seed4_take.json").is_file()

    # another gap from the same model: B moves, the sidecar's layout with it
    r = cli("generate", "--project", bridge_cli_project, "--gap", "1.5", "--count", "1",
            "--out", tmp_path / "longer", "--device", "cpu")
    assert r.rc == 0, r.err
    whole = tmp_path / "longer" / "bridge_seed0_stitched.wav"
    assert sf.info(str(whole)).frames == 4800 + 6000 + 4800
    side = json.loads(whole.with_suffix(".json").read_text())["variation"]
    assert side["seams"]["seams"] == [4800, 10800] and side["recipe"]["seconds"] == 1.5
    assert side["layout"]["gap_span"] == [4800, 10800] and side["layout"]["total"] == 15600
    r = cli("generate", "--project", bridge_cli_project, "--gap", "40", "--out", out)
    _one_line_error(r, "0.5 to 30 s")
    r = cli("generate", "--project", bridge_cli_project, "--gap", "2", "--seconds", "3",
            "--out", out)
    _one_line_error(r, "--gap alone")

    r = cli("evaluate", "--project", bridge_cli_project, "--count", "1", "--device", "cpu",
            "--json", tmp_path / "e.json")
    assert r.rc == 0, r.err
    assert "bridge takes, gap 0.8 s" in r.out and "naive" in r.out
    data = json.loads((tmp_path / "e.json").read_text())
    assert {"seam1_percentile", "seam2_percentile", "timbre_fd_a", "timbre_fd_b",
            "longest_copy_s"} <= set(data["takes"][0])
    r = cli("evaluate", "--project", bridge_cli_project, "--count", "1", "--gap", "1.5",
            "--device", "cpu")
    assert r.rc == 0, r.err
    assert "bridge takes, gap 1.5 s" in r.out


@pytest.mark.parametrize(("args", "words"), [
    (["--section", "0.5-2", "--section", "1.5-3", "--gap", "1"], ["overlap"]),
    (["--section", "0.5-0.7", "--section", "2-3", "--gap", "1"], ["too short"]),
    (["--section", "0-1", "--section", "2-3", "--gap", "31"], ["limited to 30"]),
    (["--section", "0-1.6", "--section", "2-3.6", "--gap", "1"], ["3.0 s of audio"]),
    (["--section", "8-9", "--section", "9.2-11", "--gap", "1"], ["past the end"]),
    (["--section", "0-1", "--section", "2-3", "--section", "4-5", "--gap", "1", "--mode", "bridge"],
     ["two sections"]),
    (["--section", "0-0.6", "--section", "2-2.6", "--gap", "0.5", "--set", "n_layers=8"],
     ["too short for this gap"]),
    (["--mode", "bridge", "--gap", "1"], ["--section"]),
])
def test_bad_requests_are_refused_with_nothing_written(cli, demo_clip: Path, tmp_path: Path,
                                                       args: list[str], words: list[str]) -> None:
    root = tmp_path / "never"
    r = cli("train", demo_clip, "--project", root, "--preset", "tiny", "--device", "cpu", *args)
    _one_line_error(r, *words)
    assert not root.exists()
