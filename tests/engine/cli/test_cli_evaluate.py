"""`songwriter-cli evaluate` on a tiny trained project, and the quality bench's compare mode."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.cli import main

pytestmark = pytest.mark.usefixtures("one_torch_thread")

COLUMNS = ("timbre FD", "LTAS dB", "max xcorr", "copy ratio", "longest copy s")


def test_evaluate_renders_variations_and_writes_json(
    tiny_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval.json"
    rc = main(["evaluate", "--project", str(tiny_project), "--count", "3", "--seconds", "2",
               "--seed", "4", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    for word in COLUMNS + ("seed 4 (free)", "seed 6 (free)", "mean of variations",
                           "[real vs real]", "[cut-and-paste]", "[shaped noise]",
                           "[untrained generator]", "diversity of 3", "reconstruction: SNR"):
        assert word in text, word
    data = json.loads(out.read_text())
    assert data["sample_rate"] == 4000
    assert list(data["variations"]) == ["seed 4 (free)", "seed 5 (free)", "seed 6 (free)"]
    for m in data["variations"].values():
        assert m["seconds"] == pytest.approx(2.0, abs=0.01)
        assert m["timbre_fd"] >= 0.0 and 0.0 <= m["copy_ratio"] <= 1.0
    assert {"real_vs_real", "cut_and_paste", "shaped_noise", "untrained"} <= set(
        data["baselines"]
    )
    # the demo file goes on after the 3 s section, so another excerpt is a baseline too
    assert "real_other" in data["baselines"]
    assert data["baselines"]["cut_and_paste"]["copy_ratio"] > 0.5
    assert data["diversity"]["count"] == 3 and data["diversity"]["std_ratio"] > 0.0
    rec = data["reconstruction"]
    assert set(rec) == {"snr_db", "lsd_db", "mrstft"}
    assert all(isinstance(v, float) for v in rec.values())


def test_evaluate_files_at_other_rates(
    tiny_project: Path, demo_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from engine.audio.io import read_audio, resample, save_audio

    out = tmp_path / "files.json"
    # the training section itself (a copy), written at 16 kHz instead of the project's 4 kHz
    section, sr = read_audio_any(tiny_project / "clip.wav")
    copy_wav = save_audio(tmp_path / "copy16k.wav", resample(section, sr, 16000), 16000)
    assert read_audio(copy_wav)[1] == 16000
    rc = main(["evaluate", "--project", str(tiny_project), str(copy_wav), str(demo_clip),
               "--no-baselines", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "copy16k.wav" in text and demo_clip.name in text
    data = json.loads(out.read_text())
    copy = data["variations"]["copy16k.wav"]
    assert copy["copy_ratio"] > 0.9 and copy["max_xcorr"] > 0.99
    demo = data["variations"][demo_clip.name]  # 44.1 kHz stereo, resampled to 4 kHz
    assert demo["seconds"] == pytest.approx(10.0, abs=0.01)
    assert demo["longest_copy_s"] > 2.0  # its first 3 s are the training section
    assert data["baselines"] == {}


def read_audio_any(path: Path):
    import soundfile as sf

    data, sr = sf.read(str(path), dtype="float32")
    return data, sr


def test_evaluate_user_errors(
    tiny_project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--project", str(tiny_project), str(tmp_path / "nope.wav")]) == 2
    err = capsys.readouterr().err
    assert "nope.wav" in err and len(err.strip().splitlines()) == 1
    assert main(["evaluate", "--project", str(tiny_project), "--count", "0"]) == 2
    assert main(["evaluate", "--project", str(tmp_path / "missing")]) == 2
    assert "error" in capsys.readouterr().err


def _bench_json(path: Path, timbre: list[float], snr: list[float]) -> Path:
    def stats(vals: list[float]) -> dict:
        import numpy as np

        a = np.asarray(vals)
        return {"mean": float(a.mean()), "std": float(a.std(ddof=1)), "min": float(a.min()),
                "max": float(a.max()), "values": vals}

    path.write_text(json.dumps({
        "preset": "quick", "label": path.stem, "device_name": "CPU", "repeat": len(timbre),
        "runs": [{}] * len(timbre),
        "summary": {"demo.wav": {"timbre_fd": stats(timbre), "rec_snr_db": stats(snr)}},
    }))
    return path


def test_bench_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str], bench_script) -> None:
    bench = bench_script("run_bench")
    a = _bench_json(tmp_path / "a.json", [100.0, 110.0, 105.0], [10.0, 11.0, 10.5])
    same = _bench_json(tmp_path / "b.json", [104.0, 108.0, 106.0], [10.4, 10.6, 10.8])
    worse = _bench_json(tmp_path / "c.json", [180.0, 190.0, 185.0], [10.4, 10.6, 10.8])
    assert bench.compare(str(a), str(same)) == 0
    assert "within" in capsys.readouterr().out
    assert bench.compare(str(a), str(worse)) == 1
    assert "WORSE" in capsys.readouterr().out
    assert bench.parse_overrides(["bank_size=0", "amp=true", "lr=0.001"]) == {
        "bank_size": 0, "amp": True, "lr": 0.001}


def test_bench_compare_tests_the_takes_of_all_seeds_against_each_other(
    tmp_path: Path, bench_script,
) -> None:
    bench = bench_script("run_bench")

    def runs(centre: float) -> dict:
        out = []
        for seed in range(3):
            takes = {f"seed {1000 + i} (free)": {"max_xcorr": centre + 0.01 * ((seed * 4 + i) % 5)}
                     for i in range(4)}
            out.append({"clip": "/c/demo.wav", "evaluation": {"variations": takes}})
        # another clip's takes are not pooled in
        out.append({"clip": "/c/other.wav", "evaluation": {"variations": {
            "seed 1000 (free)": {"max_xcorr": 9.0}}}})
        return {"runs": out}

    a, same, far = runs(0.17), runs(0.171), runs(0.30)
    assert bench.take_values(a, "demo.wav", "max_xcorr") == pytest.approx(
        [0.17 + 0.01 * (k % 5) for k in range(12)])
    assert bench.takes_p_value(bench.take_values(a, "demo.wav", "max_xcorr"),
                               bench.take_values(far, "demo.wav", "max_xcorr")) < 1e-4
    assert bench.takes_p_value(bench.take_values(a, "demo.wav", "max_xcorr"),
                               bench.take_values(same, "demo.wav", "max_xcorr")) > 0.05
    # too few takes, or nothing to rank: no p-value rather than a made-up one
    assert bench.takes_p_value([0.1, 0.2], [0.1, 0.2, 0.3]) is None
    assert bench.takes_p_value([0.1] * 4, [0.1] * 4) is None


def test_bench_merge_gives_one_file_with_the_spread_of_runs_made_apart(tmp_path: Path, bench_script) -> None:
    bench = bench_script("run_bench")

    def run_file(name: str, seed: int, fd: float, config: dict) -> Path:
        run = {"clip": "/c/demo.wav", "seed": seed, "generate_and_evaluate_seconds": 1.0,
               "train": {"total_seconds": 10.0, "peak_gpu_memory_bytes": None,
                         "peak_rss_bytes": 1e9},
               "evaluation": {"variation_mean": {"timbre_fd": fd}}}
        path = tmp_path / name
        path.write_text(json.dumps({"preset": "quick", "config": config, "repeat": 1,
                                    "seeds": [seed], "runs": [run],
                                    "summary": bench.summarise([run])}))
        return path

    a, b = run_file("s0.json", 0, 100.0, {"gp_every": 4}), run_file("s1.json", 1, 120.0, {"gp_every": 4})
    out = tmp_path / "merged.json"
    assert bench.main(["--merge", str(out), str(a), str(b)]) == 0
    merged = json.loads(out.read_text())
    assert merged["seeds"] == [0, 1] and merged["repeat"] == 2
    fd = merged["summary"]["demo.wav"]["timbre_fd"]
    assert fd["mean"] == pytest.approx(110.0) and fd["values"] == [100.0, 120.0]
    # runs of another config are not mixed in
    other = run_file("s2.json", 2, 500.0, {"gp_every": 1})
    assert bench.main(["--merge", str(tmp_path / "x.json"), str(a), str(other)]) == 2
    assert not (tmp_path / "x.json").exists()
    # a preset's help text reworded between runs does not make another config
    reworded = run_file("s3.json", 3, 110.0, {"gp_every": 4, "summary": "new words"})
    assert bench.main(["--merge", str(tmp_path / "y.json"), str(a), str(reworded)]) == 0
    # one file is an arm with one seed: its runs under the new name, for --compare
    one = tmp_path / "one.json"
    assert bench.main(["--merge", str(one), str(a)]) == 0
    assert json.loads(one.read_text())["seeds"] == [0]


def test_speed_probe_and_interleaved_ab_write_their_figures(tmp_path: Path, demo_clip: Path,
                                                          bench_script) -> None:
    """The bench scripts keep working: per-scale figures whose projection counts the setup, and
    an A/B with both settings timed the same number of times."""
    speed = bench_script("bench_speed")
    out = tmp_path / "speed.json"
    assert speed.main(["--preset", "tiny", "--clip", str(demo_clip), "--device", "cpu",
                       "--iters", "2", "--warmup", "1", "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert len(r["scales"]) == 4 and r["device"] == "cpu"
    for row in r["scales"]:
        assert row["projected_scale_seconds"] >= row["setup_seconds"] > 0
        assert row["projected_scale_seconds"] == pytest.approx(
            row["setup_seconds"] + row["seconds_per_iteration"] * (8 - 1))
    ab = bench_script("bench_ab")
    out = tmp_path / "ab.json"
    assert ab.main(["--preset", "tiny", "--samples", "3000", "--rounds", "2", "--iters", "1",
                    "--b", "bank_size=2", "--out", str(out), "--profile", "2"]) == 0
    r = json.loads(out.read_text())
    assert len(r["seconds_per_iteration"]["A"]) == len(r["seconds_per_iteration"]["B"]) == 2
    assert r["speedup_b_over_a"] > 0 and r["b"] == ["bank_size=2"]
    # the profile of B's step: the ops it dispatches, and the top ops in a table beside the JSON
    prof = r["profile_b"]
    assert prof["iterations"] == 2 and prof["aten_ops_per_iteration"] > 100
    assert prof["device_busy_share"] is None  # no device kernels on a CPU
    assert "aten::" in (tmp_path / prof["table"]).read_text()


def test_memory_bench_fits_a_line_and_predicts_the_presets(tmp_path: Path, bench_script) -> None:
    mem = bench_script("bench_memory")
    out = tmp_path / "mem.json"
    assert mem.main(["--channels", "8", "--preset", "tiny", "--lengths", "4000,40000",
                     "--out", str(out)]) == 0
    r = json.loads(out.read_text())
    assert [row["samples"] for row in r["rows"]] == [4000, 40000]
    assert all(row["peak"] >= row["before"] for row in r["rows"])
    pred = r["predicted_top_scale_bytes"]
    assert pred["hifi 60 s"] > pred["hifi 25 s (44.1 kHz top scale)"] > pred[
        "standard 25 s (16 kHz top scale)"]
