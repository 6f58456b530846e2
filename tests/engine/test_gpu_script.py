"""bench/gpu.sh is the one command for the GPU measurements, and CI has no GPU: its SMOKE mode
runs every stage's commands with the tiny preset on the CPU, so a broken line shows up here and
not in a scarce GPU session."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import torch

from engine.device import cpu_description

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _smoke_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a SMOKE run: tiny models on one CPU thread, temporary files in tmp_path."""
    return {**os.environ, "SMOKE": "1", "OMP_NUM_THREADS": "1", "TMPDIR": str(tmp_path), **extra}


def test_every_stage_of_the_gpu_script_runs(tmp_path: Path) -> None:
    env = _smoke_env(tmp_path)
    r = subprocess.run(["bash", "bench/gpu.sh", "speed", "ab", "compile", "full"], cwd=REPO,
                       env=env, capture_output=True, text=True, timeout=540)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "failed on this machine" not in r.stderr
    out = Path(re.findall(r"results in (\S+)", r.stderr)[-1])
    names = sorted(p.name for p in out.glob("*.json"))
    # standard and hifi are both tiny here, so their files coincide: 4 names, not 8
    assert [n for n in names if n.startswith("speed-")] == [
        f"speed-tiny-cpu-{c}-{m}.json" for c in ("25s", "60s") for m in ("fast", "ref")]
    assert [n for n in names if n.startswith("ab-")] == [
        "ab-tiny-cpu-top-amp-true.json", "ab-tiny-cpu-top-gp_every-4.json",
        "ab-tiny-cpu-top-tf32-true.json", "ab-tiny-cpu-top-window.json"]
    window_ab = json.loads((out / "ab-tiny-cpu-top-window.json").read_text())
    assert window_ab["a"] == ["window=0"] and "window=2048" in window_ab["b"]
    assert {"quality-tiny-cpu-ref.json", "quality-tiny-cpu-fast.json"} <= set(names)
    fast = json.loads((out / "speed-tiny-cpu-25s-fast.json").read_text())
    assert fast["config"]["bank_size"] == 8 and fast["config"]["amp"] is True
    # the fast levers include window training; the reference trainer has it off
    assert fast["config"]["window"] == 2048
    ref = json.loads((out / "speed-tiny-cpu-25s-ref.json").read_text())["config"]
    assert ref["window"] == 0 and ref["gp_every"] == 1
    assert "B stays within" in r.stdout or "quality metric(s) of B are worse" in r.stdout
    # nothing of the smoke run lands in the repository's results
    assert not list((REPO / "bench" / "results").glob("*tiny-cpu*"))
    assert subprocess.run(["bash", "bench/gpu.sh", "nonsense"], cwd=REPO, env=env,
                          capture_output=True).returncode == 2


def test_the_lease_stage_keeps_to_its_time_box(tmp_path: Path) -> None:
    """`lease` is the one call of a short device lease: its first probe runs, and what does not
    fit the box is skipped with a word, not left to be killed mid-way by the device's limit."""
    env = _smoke_env(tmp_path, LEASE_SECONDS="25")
    r = subprocess.run(["bash", "bench/gpu.sh", "lease"], cwd=REPO, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = Path(re.findall(r"results in (\S+)", r.stderr)[-1])
    assert (out / "speed-tiny-cpu-25s-preset.json").exists()
    assert "speed-tiny-cpu-25s-ref.json (time box spent)" in r.stderr
    assert not (out / "speed-tiny-cpu-25s-ref.json").exists()


def test_the_quality_stage_compares_each_lever_with_what_it_sits_on(tmp_path: Path) -> None:
    """`quality` trains the reference, the precision levers and the shipped preset at a reduced
    schedule (QUALITY_RUNS picks the runs; the time box is `boxed`'s, tested with `lease`), merges
    each arm's seeds and compares the levers with the preset they sit on, and the preset and the
    levers with the reference trainer."""
    env = _smoke_env(tmp_path, QUALITY_RUNS="ref:0 levers:0 ref:1 preset:0", QUALITY_JOBS="2",
                     QUALITY_KEEP=str(tmp_path / "projects"))
    r = subprocess.run(["bash", "bench/gpu.sh", "quality"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = Path(re.findall(r"results in (\S+)", r.stderr)[-1])
    # two runs at a time, every one of them finished, and each run's project kept for listening
    kept = sorted(p.name for p in (tmp_path / "projects").iterdir())
    assert kept == sorted(f"tiny-q2-{run}-demo-war-of-freedom-10s-seed{seed}" for run, seed in
                          [("ref-seed0", 0), ("levers-seed0", 0), ("ref-seed1", 1),
                           ("preset-seed0", 0)])
    cfg = {arm: json.loads((out / f"quality-tiny-cpu-q2-{arm}.json").read_text())
           for arm in ("ref", "levers", "preset")}
    assert cfg["ref"]["seeds"] == [0, 1] and cfg["ref"]["seconds"] == 3.0  # two seeds merged
    ref, levers, preset = (cfg[a]["config"] for a in ("ref", "levers", "preset"))
    assert ref["iters_per_scale"] == levers["iters_per_scale"] == preset["iters_per_scale"] == 2
    assert ref["window"] == 0 and ref["gp_every"] == 1 and ref["bank_size"] == 0
    assert levers["gp_every"] == 1 and levers["amp"] is True and levers["tf32"] is True
    assert levers["window"] == 2048
    assert preset["gp_every"] == 1 and preset["amp"] is False and preset["window"] == 2048
    # a result names the CPU's instruction set: CPU runs agree bit for bit only on the same one
    seed0 = json.loads((out / "quality-tiny-cpu-q2-ref-seed0.json").read_text())
    assert ", " + torch.backends.cpu.get_cpu_capability() in seed0["processor"]
    assert seed0["processor"] == cpu_description()
    # three comparisons: bf16 + TF32 alone, the windows alone, the two stacked
    assert r.stdout.count("train time A/B") == 3
    for pair in ("levers against preset", "preset against ref", "levers against ref"):
        assert f"== quality: {pair}" in r.stderr


def test_the_quality_stage_goes_on_from_the_runs_already_measured(tmp_path: Path) -> None:
    """A lease is too short for all the quality runs: a run whose result file is there (committed
    from an earlier lease) is not trained again, and the merge takes the old and the new seeds."""
    out = tmp_path / "results"
    out.mkdir()
    env = _smoke_env(tmp_path, SMOKE_OUTDIR=str(out), QUALITY_RUNS="ref:0")
    first = subprocess.run(["bash", "bench/gpu.sh", "quality"], cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr[-3000:]
    seed0 = out / "quality-tiny-cpu-q2-ref-seed0.json"
    before = seed0.read_bytes()
    second = subprocess.run(["bash", "bench/gpu.sh", "quality"], cwd=REPO,
                            env={**env, "QUALITY_RUNS": "ref:0 ref:1"}, capture_output=True,
                            text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "ref seed 0 is already measured" in second.stderr
    assert seed0.read_bytes() == before  # not trained again
    merged = json.loads((out / "quality-tiny-cpu-q2-ref.json").read_text())
    assert merged["seeds"] == [0, 1]


def test_the_lease_call_packs_results_and_a_take_of_each_project(tmp_path: Path) -> None:
    """bench/gpu_lease.sh is the one device call around gpu.sh: what it brings back is one tar
    with the result files and, for listening, a take of each kept seed-0 project, and the log."""
    out, results = tmp_path / "out", tmp_path / "results"
    out.mkdir()
    results.mkdir()
    env = _smoke_env(tmp_path, OUT=str(out), SMOKE_OUTDIR=str(results),
                     QUALITY_RUNS="levers:0 preset:0")
    r = subprocess.run(["bash", "bench/gpu_lease.sh", "quality"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "results in" in (out / "log.txt").read_text()
    with tarfile.open(out / "results.tgz") as tar:
        names = tar.getnames()
    assert any(n.endswith("quality-tiny-cpu-q2-levers-seed0.json") for n in names)
    assert any(n.endswith("quality-tiny-cpu-q2-preset-seed0.json") for n in names)
    takes = [n for n in names if n.startswith("./takes/") and n.endswith(".wav")]
    assert len(takes) == 2, names


def test_the_graph_stage_times_and_checks_the_captured_step(tmp_path: Path) -> None:
    """`graph` A/Bs the step captured as one CUDA graph against the eager step on three scale
    lengths, each with the agreement check, and probes a whole run with it. On the CPU the
    setting is ignored (both arms eager), so here the agreement is exact: the plumbing is what
    this checks; the capture itself needs the GPU."""
    results = tmp_path / "results"
    env = _smoke_env(tmp_path, SMOKE_OUTDIR=str(results))
    r = subprocess.run(["bash", "bench/gpu.sh", "graph"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "stopped after" not in r.stderr  # boxed: a probe that failed or ran out of time
    for scale in ("small", "mid", "top"):
        ab = json.loads((results / f"ab-tiny-cpu-{scale}-graph.json").read_text())
        assert ab["b"] == ["cuda_graph=true"]
        agree = ab["agreement"]
        assert agree["iterations"] >= 10 and agree["max_relative_weight_difference"] == 0.0
        assert set(agree["max_relative_loss_difference"]) >= {"d/total", "g/total", "gp", "rec"}
    speed = json.loads((results / "speed-tiny-cpu-25s-graph.json").read_text())
    assert speed["config"]["cuda_graph"] is True
