"""Training: the event stream, the manifest it leaves, noise amplitudes, cancel/resume,
and surviving Ctrl-C and kill -9 of the CLI."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.config import get_preset
from engine.errors import AudioError, ConfigError, ProjectError
from engine.generation.render import generate, load_model
from engine.model.pyramid import energies, noise_amplitudes, scale_signals, upsample
from engine.project.checkpoint import load_clip_signal, read_manifest
from engine.training.loop import (
    CancelToken,
    ScaleFinished,
    TrainCancelled,
    TrainFinished,
    TrainProgress,
    TrainStarted,
    iter_train,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ITERS = 10  # iterations per scale of the interrupted CLI runs
LOSS_KEYS = {"d/real", "d/fake", "gp", "d/total", "g/adv", "rec", "g/total"}


@pytest.fixture()
def one_scale(demo_clip: Path):
    """1 s of the demo clip at tiny's 4 kHz as a [1, 1, T] tensor, for lone_scale_step()."""
    import torch

    from engine.audio.io import load_clip

    clip = load_clip(demo_clip, 4000, duration=1.0, max_seconds=3.0)
    return torch.from_numpy(clip.signal).reshape(1, 1, -1)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _log_events(project: Path) -> list[str]:
    lines = (project / "train_log.jsonl").read_text().splitlines()
    return [json.loads(line)["event"] for line in lines]


# ---- one complete run -------------------------------------------------------------------


def test_event_stream_of_a_complete_run(tiny_run) -> None:
    ev = tiny_run.events
    assert isinstance(ev[0], TrainStarted) and isinstance(ev[-1], TrainFinished)
    start = ev[0]
    assert start.rates == (500, 1000, 2000, 4000) and start.n_scales == 4
    assert start.first_scale == 0 and start.device == "cpu"
    assert start.clip_seconds == pytest.approx(1.0)
    assert start.config == get_preset("tiny", iters_per_scale=4)
    assert ev[-1].n_scales == 4 and ev[-1].project_dir == tiny_run.project
    assert not any(isinstance(e, TrainCancelled) for e in ev)

    finished = [e for e in ev if isinstance(e, ScaleFinished)]
    assert [f.scale for f in finished] == [0, 1, 2, 3]
    # each scale: progress events with rising 1-based iterations ending at the last one,
    # then its ScaleFinished
    current: list[TrainProgress] = []
    for e in ev[1:-1]:
        if isinstance(e, TrainProgress):
            current.append(e)
            continue
        assert isinstance(e, ScaleFinished)
        assert current, f"no progress before scale {e.scale} finished"
        assert all(p.scale == e.scale and p.rate == e.rate for p in current)
        its = [p.iteration for p in current]
        assert its == sorted(set(its)) and its[0] >= 1 and its[-1] == current[-1].iterations == 4
        current = []
    assert current == []


def test_progress_losses_are_named_finite_and_consistent(tiny_run) -> None:
    progress = [e for e in tiny_run.events if isinstance(e, TrainProgress)]
    for p in progress:
        assert set(p.losses) == LOSS_KEYS
        assert all(math.isfinite(v) for v in p.losses.values())
        assert p.losses["gp"] >= 0 and p.losses["rec"] >= 0
        assert p.losses["d/total"] == pytest.approx(
            -p.losses["d/real"] + p.losses["d/fake"] + p.losses["gp"], abs=1e-5
        )
        assert p.losses["g/total"] == pytest.approx(p.losses["g/adv"] + p.losses["rec"], abs=1e-5)
        assert p.n_scales == 4 and p.elapsed >= 0 and p.seconds_per_iteration > 0


def test_eta_counts_the_finer_scales_at_their_cost_and_ends_at_zero(tiny_run) -> None:
    from engine.training.loop import _steps_left

    # 4 steps left at a scale whose steps cost 1, then 5 steps costing 4 each: 4 + 20
    assert _steps_left([1.0, 4.0], [10, 5], 0, 6) == 24.0
    assert _steps_left([1.0, 4.0], [10, 5], 1, 2) == 3.0
    progress = [e for e in tiny_run.events if isinstance(e, TrainProgress)]
    last = progress[-1]
    assert last.scale == last.n_scales - 1 and last.iteration == last.iterations
    assert last.eta_seconds == 0.0
    # on the finest scale nothing finer is left: the iterations left at its own speed
    for p in (p for p in progress if p.scale == last.scale):
        assert p.eta_seconds == pytest.approx((p.iterations - p.iteration) * p.seconds_per_iteration)
    # earlier scales also count the finer scales' work, so more than their own steps left
    for p in (p for p in progress if p.scale < last.scale):
        assert p.eta_seconds > (p.iterations - p.iteration) * p.seconds_per_iteration


def test_scale_finished_carries_audible_previews_at_the_working_rate(tiny_run) -> None:
    for f in (e for e in tiny_run.events if isinstance(e, ScaleFinished)):
        assert f.sample_rate == 4000 and f.rate == [500, 1000, 2000, 4000][f.scale]
        assert f.preview.shape == (4000,) and f.reconstruction.shape == (4000,)
        for x in (f.preview, f.reconstruction):
            assert x.dtype == np.float32 and np.all(np.isfinite(x))
            assert np.sqrt(np.mean(x**2)) > 1e-3


def test_manifest_and_log_after_a_complete_run(tiny_run) -> None:
    m = read_manifest(tiny_run.project)
    assert m.scales_done == 4 and m.complete
    assert m.iterations_done == [4, 4, 4, 4]
    assert len(m.seconds_per_scale) == 4 and all(s > 0 for s in m.seconds_per_scale)
    assert m.seed == 5 and m.device == "cpu"
    assert _log_events(tiny_run.project) == ["start", "scale", "scale", "scale", "scale", "done"]
    assert sorted(p.name for p in (tiny_run.project / "scales").iterdir()) == [
        f"{s:03d}.safetensors" for s in range(4)
    ]
    # no temporary files left behind
    assert not [
        p for p in tiny_run.project.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name
    ]


def test_noise_amplitudes_in_music_mode(tiny_run) -> None:
    m = read_manifest(tiny_run.project)
    clip, fs = load_clip_signal(tiny_run.project)
    reals = scale_signals(clip, fs, m.rates)
    formula = noise_amplitudes(energies(reals), 0.01)
    assert m.noise_amps[0] == 1.0
    assert m.noise_amps[2:] == pytest.approx(formula[2:], rel=1e-6)
    # scale 1 is overridden with the spread of the upsampled coarse reconstruction
    model = load_model(tiny_run.project, "cpu")
    lengths = [r.shape[-1] for r in reals]
    rec0 = model.pyramid.run(lengths, [model.z_rec], upto=1)
    expect = float(upsample(rec0, m.rates[0], m.rates[1], lengths[1]).std())
    assert m.noise_amps[1] == pytest.approx(expect, rel=1e-5)
    assert m.noise_amps[1] != pytest.approx(formula[1], rel=1e-2)


def test_speech_mode_keeps_the_formula_at_scale_1_and_first_scale_has_its_own_channels(
    tmp_path: Path, demo_clip: Path
) -> None:
    cfg = get_preset("tiny", mode="speech", iters_per_scale=2, channels_first=4)
    root = tmp_path / "speech"
    events = list(iter_train(demo_clip, root, cfg, duration=1.0, seed=1, device="cpu"))
    assert isinstance(events[-1], TrainFinished)
    m = read_manifest(root)
    clip, fs = load_clip_signal(root)
    formula = noise_amplitudes(energies(scale_signals(clip, fs, m.rates)), 0.01)
    assert m.noise_amps == pytest.approx(formula, rel=1e-6)
    assert m.rates[0] == 500
    # a 4-channel first scale and 8-channel scales above it (no warm start across shapes)
    from safetensors import safe_open

    with (
        safe_open(str(root / "scales" / "000.safetensors"), "pt") as f0,
        safe_open(str(root / "scales" / "001.safetensors"), "pt") as f1,
    ):
        assert f0.get_slice("G.out.parametrizations.weight.original1").get_shape() == [1, 4, 1]
        assert f1.get_slice("G.out.parametrizations.weight.original1").get_shape() == [1, 8, 1]


def test_training_is_reproducible_for_a_seed(tmp_path: Path, demo_clip: Path) -> None:
    cfg = get_preset("tiny", iters_per_scale=2)
    for name in ("a", "b"):
        for _ in iter_train(demo_clip, tmp_path / name, cfg, duration=1.0, seed=11, device="cpu"):
            pass
    for s in range(4):
        rel = Path("scales") / f"{s:03d}.safetensors"
        assert _sha(tmp_path / "a" / rel) == _sha(tmp_path / "b" / rel), s
    assert read_manifest(tmp_path / "a").noise_amps == read_manifest(tmp_path / "b").noise_amps


# ---- cancel and resume -------------------------------------------------------------------


def test_cancel_right_after_the_first_scale(tmp_path: Path, demo_clip: Path) -> None:
    token = CancelToken()
    root = tmp_path / "p"
    seen = []
    for e in iter_train(
        demo_clip,
        root,
        get_preset("tiny", iters_per_scale=4),
        duration=1.0,
        device="cpu",
        cancel=token,
    ):
        seen.append(e)
        if isinstance(e, ScaleFinished):
            token.cancel()
    assert isinstance(seen[-1], TrainCancelled)
    assert isinstance(seen[-2], ScaleFinished) and seen[-2].scale == 0  # no scale-1 work after it
    assert (seen[-1].scales_done, seen[-1].n_scales) == (1, 4)
    m = read_manifest(root)
    assert m.scales_done == 1 and not m.complete
    assert [p.name for p in (root / "scales").iterdir()] == ["000.safetensors"]
    assert _log_events(root)[-1] == "cancel"


def test_cancel_mid_scale_then_resume_finishes_and_keeps_earlier_scales(
    tmp_path: Path, demo_clip: Path
) -> None:
    token = CancelToken()
    root = tmp_path / "p"
    first = []
    for e in iter_train(
        demo_clip,
        root,
        get_preset("tiny", iters_per_scale=4),
        duration=1.0,
        seed=2,
        device="cpu",
        cancel=token,
    ):
        first.append(e)
        if isinstance(e, TrainProgress) and e.scale == 1:
            assert e.iteration < e.iterations  # the first event of a scale is never its last
            token.cancel()
    assert isinstance(first[-1], TrainCancelled) and first[-1].scales_done == 1
    assert [e.iteration for e in first if isinstance(e, TrainProgress) and e.scale == 1] == [1]
    assert read_manifest(root).scales_done == 1
    assert not (root / "scales" / "001.safetensors").exists()  # the half-done scale is not saved
    w0 = _sha(root / "scales" / "000.safetensors")
    # the partly trained project already generates (at its top finished scale, resampled)
    assert generate(load_model(root, "cpu"), seconds=1.0, seed=0).shape == (4000,)

    second = list(iter_train(None, root, None, resume=True, device="cpu"))
    assert isinstance(second[0], TrainStarted) and second[0].first_scale == 1
    assert [e.scale for e in second if isinstance(e, ScaleFinished)] == [1, 2, 3]
    assert isinstance(second[-1], TrainFinished)
    assert min(e.scale for e in second if isinstance(e, TrainProgress)) == 1
    m = read_manifest(root)
    assert m.complete and m.scales_done == 4 and m.iterations_done == [4, 4, 4, 4]
    assert _sha(root / "scales" / "000.safetensors") == w0
    # a cancelled-and-resumed run learns exactly what an uninterrupted run with its seed learns
    whole = tmp_path / "whole"
    for _ in iter_train(
        demo_clip, whole, get_preset("tiny", iters_per_scale=4), duration=1.0, seed=2, device="cpu"
    ):
        pass
    for s in range(4):
        name = f"{s:03d}.safetensors"
        assert _sha(root / "scales" / name) == _sha(whole / "scales" / name), name
    assert _log_events(root) == [
        "start",
        "scale",
        "cancel",
        "resume",
        "scale",
        "scale",
        "scale",
        "done",
    ]
    out = generate(load_model(root, "cpu"), seconds=1.5, seed=3)
    assert out.shape == (6000,) and np.sqrt(np.mean(out**2)) > 1e-3


def test_cancel_before_the_first_iteration_leaves_a_resumable_empty_project(
    tmp_path: Path, demo_clip: Path
) -> None:
    token = CancelToken()
    token.cancel()
    root = tmp_path / "p"
    events = list(
        iter_train(demo_clip, root, get_preset("tiny"), duration=1.0, device="cpu", cancel=token)
    )
    assert [type(e) for e in events] == [TrainStarted, TrainCancelled]
    assert events[-1].scales_done == 0
    assert read_manifest(root).scales_done == 0
    with pytest.raises(ProjectError, match="no finished scale"):
        load_model(root, "cpu")


def test_resuming_a_complete_project_changes_nothing(tiny_run, tmp_path: Path, tree_digest) -> None:
    root = tmp_path / "copy"
    shutil.copytree(tiny_run.project, root)
    before = tree_digest(root)
    events = list(iter_train(None, root, None, resume=True, device="cpu"))
    assert [type(e) for e in events] == [TrainStarted, TrainFinished]
    assert events[0].first_scale == 4
    assert tree_digest(root) == before


def test_resume_and_new_runs_need_what_they_need(tmp_path: Path, demo_clip: Path) -> None:
    with pytest.raises(ProjectError, match="does not exist"):
        list(iter_train(None, tmp_path / "missing", None, resume=True, device="cpu"))
    with pytest.raises(ProjectError, match="needs a clip"):
        list(iter_train(None, tmp_path / "new", get_preset("tiny"), device="cpu"))
    assert not (tmp_path / "new").exists()


def test_a_failed_check_writes_nothing(tmp_path: Path) -> None:
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(16000, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="silent"):
        list(iter_train(silent, tmp_path / "p", get_preset("tiny"), device="cpu"))
    assert not (tmp_path / "p").exists()
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    short = tmp_path / "short.wav"
    sf.write(str(short), np.random.default_rng(0).uniform(-0.5, 0.5, 400).astype(np.float32), 8000)
    with pytest.raises(AudioError, match="too short"):
        list(iter_train(short, empty, get_preset("tiny"), device="cpu"))
    assert list(empty.iterdir()) == []


# ---- the CLI survives Ctrl-C and kill -9 ------------------------------------------------------


def _wait_for_saved_scales(proc: subprocess.Popen, project: Path, n: int) -> int:
    """Poll manifest.json until `n` scales are saved; fail if the process ends first."""
    deadline = time.monotonic() + 300  # a safety net against hanging, not a speed check
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(
                f"training ended (rc {proc.returncode}) before {n} scale(s) were saved:\n{err}"
            )
        try:
            done = json.loads((project / "manifest.json").read_text())["scales_done"]
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= n:
            return done
        time.sleep(0.01)
    proc.kill()
    pytest.fail("training did not save a scale in time")


def _start_training(
    cli_command, env: dict[str, str], clip: Path, project: Path
) -> subprocess.Popen:
    # 10 iterations per scale: after the first scale is saved, three more scales of work
    # remain, far more than the polling interval, so the interruption lands mid-run.
    # The child gets SIGINT's default disposition back, so Python turns Ctrl-C into
    # KeyboardInterrupt even when this test runs in a shell's background job (which ignores
    # SIGINT, and a child would inherit that and finish the run instead).
    return subprocess.Popen(
        cli_command(
            "train",
            clip,
            "--project",
            project,
            "--preset",
            "tiny",
            "--iters",
            str(ITERS),
            "--duration",
            "1",
            "--device",
            "cpu",
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parents[3],
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_kill_9_after_a_saved_scale_then_resume_finishes(
    tmp_path: Path, demo_clip: Path, cli_command, subprocess_env, cli_subprocess, cli
) -> None:
    project = tmp_path / "p"
    proc = _start_training(cli_command, subprocess_env, demo_clip, project)
    _wait_for_saved_scales(proc, project, 1)
    proc.kill()
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL

    m = read_manifest(project)  # the manifest is never half-written
    assert 1 <= m.scales_done < 4
    w0 = _sha(project / "scales" / "000.safetensors")

    res = cli_subprocess("train", "--project", project, "--resume", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "Resuming" in res.stderr
    m = read_manifest(project)
    assert m.complete and m.iterations_done == [ITERS] * 4
    assert _sha(project / "scales" / "000.safetensors") == w0

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
    audio, sr = sf.read(str(tmp_path / "out" / "variation_seed0_free.wav"))
    assert sr == 4000 and audio.shape == (4000 - 2 * 800,) and np.max(np.abs(audio)) > 1e-3


def test_ctrl_c_exits_130_and_leaves_a_resumable_project(
    tmp_path: Path, demo_clip: Path, cli_command, subprocess_env, cli
) -> None:
    project = tmp_path / "p"
    proc = _start_training(cli_command, subprocess_env, demo_clip, project)
    _wait_for_saved_scales(proc, project, 1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "--resume" in err.splitlines()[-1]

    m = read_manifest(project)
    assert 1 <= m.scales_done < 4
    for s in range(4):
        assert (project / "scales" / f"{s:03d}.safetensors").exists() == (s < m.scales_done)
    assert not [p for p in project.rglob("*") if ".tmp" in p.name]
    r = cli("info", "--project", project)
    assert r.rc == 0 and "Remaining" in r.out and "--resume" in r.out
    # what is saved loads and plays
    assert np.max(np.abs(generate(load_model(project, "cpu"), seconds=1.0, seed=0))) > 1e-3


def test_speed_levers_bank_and_batched_loss_readback(tmp_path: Path, demo_clip: Path) -> None:
    """The cached input bank and losses read every N iterations train a working model, and the
    losses reported are averages over the iterations since the last read-back."""
    cfg = get_preset(
        "tiny", iters_per_scale=8, bank_size=2, bank_refresh=3, loss_every=4, progress_every=1
    )
    events = list(iter_train(demo_clip, tmp_path / "p", cfg, duration=1.0, seed=1, device="cpu"))
    progress = [e for e in events if isinstance(e, TrainProgress)]
    for scale in range(4):
        at = {e.iteration: e.losses for e in progress if e.scale == scale}
        # nothing to report before the first read-back at iteration 4
        assert min(at) == 4 and 8 in at
        assert set(at[8]) == LOSS_KEYS and all(math.isfinite(v) for v in at[8].values())
        assert at[4] != at[8]
        # between read-backs the last values are repeated, not re-read
        assert all(at[it] == at[4] for it in at if 4 <= it < 8)
    assert isinstance(events[-1], TrainFinished)
    out = generate(load_model(tmp_path / "p", "cpu"), seconds=1.0, seed=0)
    assert np.sqrt(np.mean(out**2)) > 1e-3


def _aot_eager_compile(calls: list[str]):
    """torch.compile through dynamo and AOT autograd without C++ code generation (seconds, not
    minutes, on a CPU), recording the modes asked for."""
    import torch

    real_compile = torch.compile

    def fake(model, *, mode=None, dynamic=None, **kw):
        calls.append(mode)
        return real_compile(model, backend="aot_eager", dynamic=dynamic)

    return fake


def test_compiled_forwards_learn_the_same_as_eager(monkeypatch, one_scale) -> None:
    """compile=... traces G and D (weight-norm parametrisations, batch-norm running statistics)
    and gives the same losses and weights as the eager step; the gradient penalty stays eager."""
    import torch

    from engine.training.loop import lone_scale_step

    calls: list[str] = []
    monkeypatch.setattr(torch, "compile", _aot_eager_compile(calls))

    def run(mode: str) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        torch.manual_seed(0)
        step = lone_scale_step(get_preset("tiny", compile=mode), one_scale, noise_amp=0.05)
        for it in range(3):
            terms = step.step(it)
        state = {**step.g.state_dict(), **step.d.state_dict()}
        return {k: float(v.detach()) for k, v in terms.items()}, state

    eager_losses, eager_state = run("")
    comp_losses, comp_state = run("default")
    assert calls == ["default", "default"]  # G and D, once each
    assert eager_state.keys() == comp_state.keys()  # plain modules: checkpoints look the same
    for k in eager_losses:
        assert comp_losses[k] == pytest.approx(eager_losses[k], rel=1e-3, abs=1e-6), k
    for k in eager_state:
        torch.testing.assert_close(comp_state[k], eager_state[k], rtol=1e-3, atol=1e-5)


def test_training_with_compile_saves_a_loadable_project(
    monkeypatch, tmp_path: Path, demo_clip: Path
) -> None:
    import torch

    calls: list[str] = []
    monkeypatch.setattr(torch, "compile", _aot_eager_compile(calls))
    # CUDA graphs are asked for but there is no GPU: the CPU compiles without them
    cfg = get_preset("tiny", iters_per_scale=4, compile="reduce-overhead")
    events = list(iter_train(demo_clip, tmp_path / "p", cfg, duration=1.0, seed=1, device="cpu"))
    assert isinstance(events[-1], TrainFinished)
    n_scales = read_manifest(tmp_path / "p").n_scales
    assert calls == ["default"] * (2 * n_scales)
    out = generate(load_model(tmp_path / "p", "cpu"), seconds=1.0, seed=0)
    assert np.sqrt(np.mean(out**2)) > 1e-3


def test_unknown_compile_mode_is_refused() -> None:
    with pytest.raises(ConfigError, match="compile must be one of"):
        get_preset("tiny", compile="fastest")


def test_previews_are_kept_with_the_project_and_survive_a_damaged_file(
    tiny_run, tmp_path: Path
) -> None:
    from engine.project.checkpoint import load_previews, preview_path

    finished = [e for e in tiny_run.events if isinstance(e, ScaleFinished)]
    manifest = read_manifest(tiny_run.project)
    kept = load_previews(tiny_run.project, manifest)
    assert sorted(kept) == [e.scale for e in finished] == list(range(manifest.n_scales))
    for e in finished:
        np.testing.assert_array_equal(kept[e.scale]["sample"], e.preview)
        np.testing.assert_array_equal(kept[e.scale]["reconstruction"], e.reconstruction)
        assert kept[e.scale]["sr"] == e.sample_rate and kept[e.scale]["rate"] == e.rate
        assert kept[e.scale]["seconds"] == pytest.approx(e.seconds)
    # a damaged or missing preview drops that scale only
    copy = tmp_path / "p"
    shutil.copytree(tiny_run.project, copy)
    preview_path(copy, 1, "sample").write_bytes(b"not a wav")
    preview_path(copy, 2, "reconstruction").unlink()
    assert sorted(load_previews(copy, manifest)) == [0, 3]


def _critic_dtypes_of_a_step(step):
    """The dtypes of D's outputs during one training step of `step`, and the step's losses."""
    seen = []
    handle = step.d.register_forward_hook(lambda m, inp, out: seen.append(out.dtype))
    try:
        terms = step.step(0)
    finally:
        handle.remove()
    return seen, terms


@pytest.mark.parametrize("native", [True, False])
def test_bf16_autocast_only_where_bf16_is_native(monkeypatch, one_scale, native: bool) -> None:
    """amp=true runs G and D in bfloat16 (the gradient penalty stays float32) where the device has
    native bf16, and is ignored where it would be emulated."""
    import torch

    import engine.training.step as trainer

    monkeypatch.setattr(trainer, "native_bf16", lambda dev: native)
    step = trainer.lone_scale_step(get_preset("tiny", amp=True), one_scale, noise_amp=0.05)
    seen, terms = _critic_dtypes_of_a_step(step)
    assert step.amp is native
    assert all(math.isfinite(float(v.detach())) for v in terms.values())
    assert terms["gp"].dtype == torch.float32
    # D's outputs: real, fake, (GP: always float32), fake again
    want = torch.bfloat16 if native else torch.float32
    assert seen == [want, want, torch.float32, want]


@pytest.mark.parametrize("amp_windows", [True, False])
def test_bf16_autocast_can_leave_the_windowed_scales_in_float32(
    monkeypatch, one_scale, amp_windows: bool
) -> None:
    """amp_windows=false keeps bf16 at the whole scales and trains the windowed ones (which make
    the treble) in float32; the default autocasts both."""
    import torch

    import engine.training.step as trainer

    monkeypatch.setattr(trainer, "native_bf16", lambda dev: True)
    # tiny at 1 s of 4 kHz: 4000 samples train on 2 windows of 2048, the first 2000 whole
    cfg = get_preset("tiny", amp=True, amp_windows=amp_windows, window=2048, window_batch=2,
                     window_above=3000)
    windowed = trainer.lone_scale_step(cfg, one_scale, noise_amp=0.05)
    whole = trainer.lone_scale_step(cfg, one_scale[..., :2000], noise_amp=0.05)
    assert windowed.windowed and not whole.windowed
    assert whole.amp and windowed.amp is amp_windows
    seen, _ = _critic_dtypes_of_a_step(windowed)
    want = torch.bfloat16 if amp_windows else torch.float32
    assert seen == [want, want, torch.float32, want]


def test_previews_of_an_older_project_are_rendered_like_training_did(
    tiny_run, tmp_path: Path, monkeypatch
) -> None:
    """A project without kept previews (trained before they were saved) gets them rendered from its
    model with the training seeds, equal to what training showed, and kept for next time."""
    from engine.generation.render import project_previews
    from engine.project.checkpoint import preview_path

    copy = tmp_path / "old"
    shutil.copytree(tiny_run.project, copy)
    shutil.rmtree(copy / "previews")
    got = project_previews(copy, device="cpu")
    finished = {e.scale: e for e in tiny_run.events if isinstance(e, ScaleFinished)}
    assert sorted(got) == sorted(finished)
    for s, e in finished.items():
        np.testing.assert_allclose(got[s]["sample"], e.preview, atol=1e-6)
        np.testing.assert_allclose(got[s]["reconstruction"], e.reconstruction, atol=1e-6)
        assert preview_path(copy, s, "sample").is_file()
    # a full disk (or a read-only folder): the previews are still there, just not kept
    import errno

    import engine.generation.render as gen

    def full_disk(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    shutil.rmtree(copy / "previews")
    monkeypatch.setattr(gen, "save_previews", full_disk)
    assert sorted(project_previews(copy, device="cpu")) == sorted(finished)
    assert not (copy / "previews").exists()


def test_loss_points_are_kept_for_redrawing(tiny_run, tmp_path: Path) -> None:
    from engine.project.checkpoint import load_losses

    shown = [(e.scale, e.iteration, e.losses) for e in tiny_run.events
             if isinstance(e, TrainProgress)]
    kept = [(p["scale"], p["iteration"], p["losses"]) for p in load_losses(tiny_run.project)]
    assert kept == shown and len({s for s, _, _ in kept}) == 4
    # a resumed scale replaces its cancelled attempt; a torn or damaged line is skipped
    p = tmp_path / "p"
    p.mkdir()
    lines = [{"scale": 0, "iteration": i, "iterations": 4, "losses": {"rec": i}} for i in (2, 4)]
    lines += [{"scale": 1, "iteration": i, "iterations": 4, "losses": {"rec": 10 + i}} for i in (2, 3)]
    lines += [{"scale": 1, "iteration": i, "iterations": 4, "losses": {"rec": 20 + i}} for i in (1, 2)]
    text = "\n".join(json.dumps(x) for x in lines) + '\n{"scale": 1, "iter\nnot json\n'
    (p / "losses.jsonl").write_text(text)
    assert [(x["scale"], x["losses"]["rec"]) for x in load_losses(p)] == [
        (0, 2), (0, 4), (1, 21), (1, 22)]
    assert load_losses(tmp_path / "missing") == []


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)`")
def test_one_graph_at_a_time_gives_the_update_of_the_summed_losses(one_scale) -> None:
    """The step backpropagates each loss term on its own to keep one graph alive at a time; the
    update must be the one of the textbook step that backpropagates the summed losses once."""
    import copy

    import torch

    from engine.training.loop import lone_scale_step
    from engine.training.losses import gradient_penalty, mss_loss

    cfg = get_preset("tiny", bank_size=0)
    real = one_scale
    amp = 0.05
    torch.manual_seed(0)
    step = lone_scale_step(cfg, real, noise_amp=amp)
    g, d = step.g, step.d
    g2, d2 = copy.deepcopy(g), copy.deepcopy(d)
    # plain SGD, so parameters move by lr x gradient: Adam's first step is lr x sign(gradient),
    # which would turn rounding-level differences of near-zero gradients into lr-sized ones
    step.opt_g = torch.optim.SGD(g.parameters(), lr=0.1)
    step.opt_d = torch.optim.SGD(d.parameters(), lr=0.1)
    torch.manual_seed(5)
    step.step(0)

    # the textbook step on the copies, same random draws
    opt_g = torch.optim.SGD(g2.parameters(), lr=0.1)
    opt_d = torch.optim.SGD(d2.parameters(), lr=0.1)
    g2.train()
    d2.train()
    torch.manual_seed(5)
    noise = torch.randn(real.shape) * amp
    fake = g2(noise, torch.zeros_like(real))
    d_total = -d2(real).mean() + d2(fake.detach()).mean() + gradient_penalty(
        d2, real, fake.detach(), weight=cfg.gp_weight)
    opt_d.zero_grad()
    d_total.backward()
    opt_d.step()
    rec = g2(step.rec_noise, torch.zeros_like(real))  # z* x amplitude, zeros below
    g_total = -d2(fake).mean() + cfg.rec_weight * mss_loss(real, rec)
    opt_g.zero_grad()
    g_total.backward()
    opt_g.step()

    for a, b in ((g, g2), (d, d2)):
        for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7, msg=name)


@pytest.mark.parametrize("holes", [[], [(1500, 2100)]], ids=["whole", "with-a-gap"])
def test_a_lazy_penalty_is_taken_every_nth_iteration_at_n_times_the_weight(
    monkeypatch, one_scale, holes
) -> None:
    """gp_every=4 backpropagates the critic's gradient penalty on iterations 0, 4, 8, ... with 4
    times the weight (the same average pull), and the loss curves show the last one taken at the
    config's weight."""
    import torch

    from engine.training import step as step_module
    from engine.training.loop import lone_scale_step

    taken: list[tuple[int, float]] = []
    it_now = [0]
    for name in ("gradient_penalty", "masked_gradient_penalty"):
        original = getattr(step_module, name)

        def spy(*a, _f=original, **k):
            taken.append((it_now[0], k["weight"]))
            return _f(*a, **k)

        monkeypatch.setattr(step_module, name, spy)
    cfg = get_preset("tiny", bank_size=0, gp_every=4)
    torch.manual_seed(0)
    step = lone_scale_step(cfg, one_scale, holes=holes)
    reported = []
    for it in range(9):
        it_now[0] = it
        reported.append(float(step.step(it)["gp"]))
    assert taken == [(0, 4 * cfg.gp_weight), (4, 4 * cfg.gp_weight), (8, 4 * cfg.gp_weight)]
    assert reported[0] > 0 and reported[1:4] == [reported[0]] * 3
    assert reported[5:8] == [reported[4]] * 3 and reported[4] != reported[0]
    # the reference takes it every iteration at its own weight
    taken.clear()
    ref = lone_scale_step(get_preset("tiny", bank_size=0), one_scale, holes=holes)
    for it in range(3):
        it_now[0] = it
        ref.step(it)
    assert taken == [(0, cfg.gp_weight), (1, cfg.gp_weight), (2, cfg.gp_weight)]
    with pytest.raises(ConfigError, match="gp_every"):
        get_preset("tiny", gp_every=0)


def _three_window_step(one_scale, holes, **setting):
    """A fresh step of tiny at 1 s of 4 kHz that trains on 3 windows of 2048 (its 4000 samples),
    with `holes` and the setting under test, from torch's RNG at seed 0."""
    import torch

    from engine.training.loop import lone_scale_step

    cfg = get_preset("tiny", bank_size=0, window=2048, window_batch=3, window_above=3000,
                     **setting)
    torch.manual_seed(0)
    step = lone_scale_step(cfg, one_scale, holes=holes)
    assert step.windowed and step.n_windows == 3
    return cfg, step


@pytest.mark.parametrize("holes", [[], [(1500, 2100)]], ids=["whole", "with-a-gap"])
def test_the_penalty_can_take_fewer_of_a_steps_windows(monkeypatch, one_scale, holes) -> None:
    """gp_windows=1 takes the gradient penalty on the first of the step's windows only (real and
    fake of the same window), every iteration at the config's weight; D's other passes still see
    every window, and 0 (the default) gives the penalty all of them."""
    import torch

    from engine.training import step as step_module

    seen: list[tuple[torch.Tensor, torch.Tensor, float]] = []
    for name in ("gradient_penalty", "masked_gradient_penalty"):
        original = getattr(step_module, name)

        def spy(d, real, fake, *a, _f=original, **k):
            seen.append((real.detach().clone(), fake.detach().clone(), k["weight"]))
            return _f(d, real, fake, *a, **k)

        monkeypatch.setattr(step_module, name, spy)
    for gp_windows in (1, 0):
        cfg, step = _three_window_step(one_scale, holes, gp_windows=gp_windows)
        d_inputs: list[torch.Tensor] = []
        hook = step.d.register_forward_hook(
            lambda m, inp, out, _seen=d_inputs: _seen.append(inp[0].detach()))
        seen.clear()
        terms = step.step(0)
        hook.remove()
        assert math.isfinite(float(terms["gp"])) and float(terms["gp"]) > 0
        (got_real, got_fake, weight) = seen[0]
        k = gp_windows or 3
        assert got_real.shape[0] == got_fake.shape[0] == k and weight == cfg.gp_weight
        # the penalty's windows are the step's own: the first k of those D scored as real and
        # as fake (its passes: real, fake, the penalty, fake again for G)
        real, fake = d_inputs[0], d_inputs[1]
        assert [x.shape[0] for x in d_inputs] == [3, 3, k, 3]
        assert torch.equal(got_real, real[:k]) and torch.equal(got_fake, fake[:k])
    with pytest.raises(ConfigError, match="gp_windows"):
        get_preset("tiny", gp_windows=-1)


@pytest.mark.parametrize("holes", [[], [(1500, 2100)]], ids=["whole", "with-a-gap"])
def test_the_reconstruction_can_take_fewer_of_a_steps_windows(one_scale, holes) -> None:
    """rec_windows=1 trains the reconstruction path on the first of the step's windows only,
    its spectral loss rescaled to the samples it sees; G still makes every window's fake, and
    0 (the default) reconstructs all of them."""
    for rec_windows in (1, 0):
        cfg, step = _three_window_step(one_scale, holes, rec_windows=rec_windows)
        made: list[int] = []
        hook = step.g.register_forward_hook(lambda m, inp, out, _made=made: _made.append(
            out.shape[0]))
        terms = step.step(0)
        hook.remove()
        k = rec_windows or 3
        assert made == [3, k]  # the fakes, then the reconstruction
        assert step.rec_scale == pytest.approx((4000 / (2048 * k)) ** cfg.window_rec_power)
        rec = float(terms["rec"].detach())
        assert math.isfinite(rec) and rec > 0
    with pytest.raises(ConfigError, match="rec_windows"):
        get_preset("tiny", rec_windows=-1)


def test_a_section_too_big_for_the_device_is_refused_before_anything_is_written(
    monkeypatch, tmp_path: Path, demo_clip: Path
) -> None:
    """Running out of memory at the finest scale, after all the others trained, would waste the
    whole run: the working memory of the finest scale is checked first."""
    import engine.device as device_mod
    from engine.device import step_memory_floor
    from engine.errors import DeviceError

    cfg = get_preset("tiny")
    need = step_memory_floor(int(3.0 * cfg.fs), cfg.channels, cfg.n_layers)
    monkeypatch.setattr(device_mod, "device_memory", lambda dev: need - 1)
    with pytest.raises(DeviceError, match="shorter section or a smaller preset"):
        list(iter_train(demo_clip, tmp_path / "p", cfg, device="cpu"))
    assert not (tmp_path / "p").exists()
    # a shorter section fits
    monkeypatch.setattr(device_mod, "device_memory", lambda dev: need // 2)
    events = list(iter_train(demo_clip, tmp_path / "q", cfg.replace(iters_per_scale=1),
                             duration=1.0, device="cpu"))
    assert isinstance(events[-1], TrainFinished)
