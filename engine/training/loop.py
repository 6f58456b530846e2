"""Training: `iter_train(...)` yields small events while it trains the pyramid scale by scale.

It never prints. Front ends iterate it: the CLI draws a progress bar, the GUI
wraps it in a worker thread, tests read the events. A cancel token is checked
every iteration; after a cancel, Ctrl-C or a kill, the project holds every
finished scale and `iter_train(..., resume=True)` continues from the next one.

The project layout and the scale loop live here; one G/D step (whole scale, windows, masks)
is engine.training.step, the events engine.training.events, the losses .losses.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.audio.channels import as_network_input, count, encode
from engine.audio.io import load_clip, source_rate
from engine.config import TrainConfig
from engine.device import (
    OOM_ADVICE,
    check_fits,
    device_label,
    is_out_of_memory,
    resolve_device,
)
from engine.errors import ConfigError, DeviceError, ProjectError
from engine.fileutil import check_writable_dir
from engine.jobs import CancelToken
from engine.model.mask import spans_at, valid_outputs
from engine.model.networks import ScaleDiscriminator, ScaleGenerator, same_shapes
from engine.model.pyramid import (
    MIN_D_POSITIONS,
    choose_rates,
    energies,
    noise_amplitudes,
    scale_signals,
)
from engine.model.stack import Pyramid, lengths_for, render_scale_previews
from engine.project.checkpoint import (
    LossLog,
    Manifest,
    append_log,
    is_project,
    load_clip_signal,
    load_scale,
    load_z_rec,
    read_manifest,
    save_clip,
    save_previews,
    save_scale,
    save_z_rec,
    write_manifest,
)
from engine.project.layout import LayoutRequest, build_clip
from engine.training.events import (  # noqa: F401  (the loop's events, importable from here too)
    ScaleFinished,
    TrainCancelled,
    TrainEvent,
    TrainFinished,
    TrainProgress,
    TrainStarted,
)
from engine.training.step import (  # noqa: F401  (importable from here too)
    ScaleStep,
    compile_forward,
    configure_backends,
    lone_scale_step,
)

MAX_EVENTS_PER_SECOND = 20.0


# ---- helpers ------------------------------------------------------------------------------


@dataclass
class _Scale:
    """Per-scale tensors on the device."""

    real: torch.Tensor  # [1, A, T] in the networks' channel basis
    length: int
    rate: int
    channels: int


def _scale_cost(step_size: int, channels: int) -> float:
    """Relative cost of one iteration: samples through G (windows or the whole scale)."""
    return float(step_size) * (channels + 4)


def _steps_left(step_costs: list[float], iters: list[int], s: int, done: int) -> float:
    """What is left of a run after `done` iterations of scale s, in iterations of scale s: its own
    remaining ones plus the finer scales' work at its cost per iteration (the ETA is this times
    scale s's measured seconds per iteration)."""
    later = sum(c * n for c, n in zip(step_costs[s + 1 :], iters[s + 1 :], strict=True))
    return (iters[s] - done) + later / step_costs[s]


# ---- the trainer --------------------------------------------------------------------------


def prepare_project(
    clip_path: str | os.PathLike[str], project_dir: str | os.PathLike[str], cfg: TrainConfig, *,
    start: float = 0.0, duration: float | None = None, seed: int = 0,
    device: torch.device | None = None, layout: LayoutRequest | None = None,
) -> Manifest:
    """Validate the clip, choose the scales and create the project folder (nothing is
    written unless every check passes).

    With `layout` (sections, gap, mode: engine.project.layout) the clip is the sections joined
    with the gap; `clip_path`, `start` and `duration` are then unused."""
    root = Path(project_dir)
    if is_project(root):
        raise ProjectError(
            f"{root} already holds a project; resume it, or choose another folder."
        )
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ProjectError(f"{root} exists and is not an empty folder; choose another folder.")
    if layout is not None:
        # a full-band preset works at the first section's own rate (a second file at another
        # rate is resampled to it, as every section is to a fixed working rate)
        cfg = cfg.for_source(source_rate(layout.sections[0].path)) if layout.sections else cfg
        built = build_clip(layout, cfg.fs, max_seconds=cfg.max_seconds, stereo=cfg.stereo)
        signal, placed = built.signal, built.layout
        source = built.source
        rates = masked_rates(choose_rates(signal, cfg), placed.holes, signal.shape[-1], cfg)
        if len(rates) < 2:
            raise ConfigError(_too_long_gap(placed.mode, placed.gap, cfg))
    else:
        cfg = cfg.for_source(source_rate(clip_path))
        clip = load_clip(
            clip_path, cfg.fs, start=start, duration=duration, max_seconds=cfg.max_seconds,
            stereo=cfg.stereo,
        )
        signal, placed = clip.signal, None
        source = {
            "path": clip.source_path,
            "sha256": clip.source_sha256,
            "sample_rate": clip.source_sr,
            "channels": clip.source_channels,
            "start": clip.start,
            "duration": clip.duration,
            "gain": clip.gain,
        }
        rates = choose_rates(signal, cfg)
    reals = scale_signals(encode(signal, cfg.stereo), cfg.fs, rates)
    if device is not None:
        # what the largest step holds (the windows at a scale that trains on windows)
        check_fits(max(cfg.step_sizes([r.shape[-1] for r in reals])), cfg.channels, cfg.n_layers, device)
    amps = noise_amplitudes(energies(reals), cfg.noise_amp_factor)
    created_folder = not root.exists()
    check_writable_dir(root)
    try:
        save_clip(root, signal, cfg.fs)
        g = torch.Generator().manual_seed(seed)
        save_z_rec(root, torch.randn((1, count(signal), reals[0].shape[-1]), generator=g))
        manifest = Manifest(
            config=cfg,
            rates=rates,
            noise_amps=amps,
            source=source,
            seed=seed,
            layout=placed,
            audio_channels=count(signal),
        )
        write_manifest(root, manifest)
    except BaseException:
        # leave nothing half-made behind
        if created_folder:
            shutil.rmtree(root, ignore_errors=True)
        else:
            for child in root.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise
    return manifest


def masked_rates(rates: list[int], holes: tuple[tuple[int, int], ...] | list[tuple[int, int]],
                 n_fs: int, cfg: TrainConfig) -> list[int]:
    """The rates at which the critic still has MIN_D_POSITIONS outputs that see no hole (a clip
    of `n_fs` samples at cfg.fs). A coarse scale where the hole and two receptive fields do not
    fit is left out (caw-method.md section 8): the pyramid then starts at a finer rate."""
    if not holes:
        return list(rates)
    seconds = n_fs / cfg.fs
    kept = []
    for r in rates:
        n = int(round(r * seconds))
        if kept or valid_outputs(n, spans_at(holes, cfg.fs, r, n), cfg.receptive_field) >= MIN_D_POSITIONS:
            kept.append(r)
    return kept


def _too_long_gap(mode: str, gap: float, cfg: TrainConfig) -> str:
    side = "on both sides of the gap" if mode == "bridge" else "beside the gap"
    return (f"The sections are too short for this gap ({gap:g} s) with preset '{cfg.name}': the "
            f"critic must see audio {side} at two scales at least, which needs sections longer "
            f"than its receptive field ({cfg.receptive_field} samples, "
            f"{cfg.receptive_field / cfg.fs:.2f} s at the working rate, more at coarser scales). "
            "Choose longer sections, or a shorter gap.")


def iter_train(
    clip_path: str | os.PathLike[str] | None,
    project_dir: str | os.PathLike[str],
    cfg: TrainConfig | None = None,
    *,
    start: float = 0.0,
    duration: float | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    resume: bool = False,
    cancel: CancelToken | None = None,
    layout: LayoutRequest | None = None,
) -> Iterator[TrainEvent]:
    """Train (or resume) the project at `project_dir` on `clip_path`, yielding events.

    `layout` trains on several sections joined (mode "variation"), or on sections with a
    masked gap to fill (modes "bridge" and "ending"); see engine.project.layout.

    Resuming uses the project's own config and clip; `clip_path` and `cfg` may be None.
    Raises EngineError subclasses for input problems (before anything is written)
    and DeviceError when the GPU runs out of memory.
    """
    root = Path(project_dir)
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    if resume:
        manifest = read_manifest(root)
        if manifest.complete:
            yield TrainStarted(root, tuple(manifest.rates), manifest.n_scales, str(dev),
                               device_label(dev), manifest.config, 0.0)
            yield TrainFinished(root, 0.0, manifest.n_scales)
            return
        seconds = (manifest.layout.total / manifest.config.fs if manifest.layout is not None
                   else float(manifest.source.get("duration") or 0.0))
        largest = max(manifest.config.step_sizes(lengths_for(manifest.rates, seconds)))
        check_fits(largest, manifest.config.channels,
                   manifest.config.n_layers, dev)
    else:
        if cfg is None or (clip_path is None and layout is None):
            raise ProjectError("A new training run needs a clip and a preset.")
        manifest = prepare_project(clip_path or "", root, cfg, start=start, duration=duration,
                                   seed=seed, device=dev, layout=layout)
    manifest.device, manifest.device_name = str(dev), device_label(dev)
    try:
        yield from _train(root, manifest, dev, cancel or CancelToken())
    except torch.cuda.OutOfMemoryError as exc:
        raise DeviceError(OOM_ADVICE) from exc
    except RuntimeError as exc:
        if is_out_of_memory(exc):
            raise DeviceError(OOM_ADVICE) from exc
        raise


def _train(root: Path, manifest: Manifest, dev: torch.device, cancel: CancelToken) -> Iterator[TrainEvent]:
    cfg = manifest.config
    configure_backends(cfg, dev)
    clip, fs = load_clip_signal(root)
    reals_np = scale_signals(clip, fs, manifest.rates)
    scales = [
        _Scale(as_network_input(x, cfg.stereo).to(dev), x.shape[-1], r, manifest.channels_at(i))
        for i, (x, r) in enumerate(zip(reals_np, manifest.rates, strict=True))
    ]
    lengths = [s.length for s in scales]
    z_rec = load_z_rec(root).to(dev)
    first = manifest.scales_done
    pyramid = Pyramid(
        [load_scale(root, manifest, s, with_discriminator=False)[0] for s in range(first)],
        manifest.rates, manifest.noise_amps, dev, manifest.audio_channels,
        band_limited_above=cfg.band_limited_above,
    )
    prev_gd: tuple[ScaleGenerator, ScaleDiscriminator] | None = None
    if first > 0:
        g_prev, d_prev = load_scale(root, manifest, first - 1, with_discriminator=True)
        assert d_prev is not None
        prev_gd = (g_prev, d_prev)
    append_log(root, "resume" if first else "start", scale=first, device=str(dev))
    yield TrainStarted(root, tuple(manifest.rates), first, str(dev), device_label(dev), cfg,
                       clip.shape[-1] / fs)

    lengths = [sc.length for sc in scales]
    iters = cfg.schedule(lengths)
    step_costs = [_scale_cost(size, sc.channels)
                  for sc, size in zip(scales, cfg.step_sizes(lengths), strict=True)]
    run_start = time.monotonic()
    for s in range(first, manifest.n_scales):
        torch.manual_seed(manifest.seed * 1009 + s)  # per scale: a resumed run matches a whole one
        sc = scales[s]
        if s == 1 and cfg.mode == "music":
            # music mode: the noise at scale 1 matches the spread of the coarse reconstruction
            rec0 = pyramid.run(lengths, [z_rec], upto=1)
            manifest.noise_amps[1] = float(pyramid.upsample(rec0, scales[0].rate, sc.rate, sc.length).std())
            pyramid.amps = manifest.noise_amps
        kw = manifest.network_shape(s)
        g = ScaleGenerator(**kw).to(dev)
        d = ScaleDiscriminator(**kw).to(dev)
        if prev_gd is not None and same_shapes(g, prev_gd[0]) and same_shapes(d, prev_gd[1]):
            g.load_state_dict(prev_gd[0].state_dict())
            d.load_state_dict(prev_gd[1].state_dict())
        events = _train_scale(
            s, sc, g, d, pyramid, lengths, z_rec, manifest, dev, cancel, run_start,
            steps_left=lambda it, s=s: _steps_left(step_costs, iters, s, it),
        )
        scale_start = time.monotonic()
        finished = False
        with LossLog(root) as loss_log:
            for ev in events:
                if ev is None:
                    finished = True
                    break
                loss_log.add(ev.scale, ev.iteration, ev.iterations, ev.losses)
                yield ev
        if not finished:  # cancelled
            append_log(root, "cancel", scale=s)
            yield TrainCancelled(root, manifest.scales_done, manifest.n_scales)
            return
        took = time.monotonic() - scale_start
        g.eval().requires_grad_(False)
        d.eval().requires_grad_(False)
        save_scale(root, s, g, d)
        pyramid.append(g)
        manifest.scales_done = s + 1
        manifest.seconds_per_scale.append(took)
        manifest.iterations_done.append(iters[s])
        write_manifest(root, manifest)
        append_log(root, "scale", scale=s, rate=sc.rate, seconds=took)
        prev_gd = (g, d)
        finished_ev = _scale_preview(s, pyramid, lengths, z_rec, manifest, took)
        save_previews(root, s, finished_ev.preview, finished_ev.reconstruction, cfg.fs)
        yield finished_ev
    elapsed = time.monotonic() - run_start
    append_log(root, "done", seconds=elapsed)
    yield TrainFinished(root, elapsed, manifest.n_scales)


def _train_scale(
    s: int, sc: _Scale, g: ScaleGenerator, d: ScaleDiscriminator, pyramid: Pyramid,
    lengths: list[int], z_rec: torch.Tensor, manifest: Manifest, dev: torch.device,
    cancel: CancelToken, run_start: float, steps_left: Callable[[int], float],
) -> Iterator[TrainProgress | None]:
    """Yield progress events; yield None when the scale is finished (return early = cancelled)."""
    cfg = manifest.config
    stepper = ScaleStep(s, sc.real, g, d, pyramid, lengths, z_rec, manifest.noise_amps, cfg, dev,
                        manifest.seed, holes=manifest.holes)
    sums: dict[str, torch.Tensor] = {}
    count = 0
    last_emit = 0.0
    t0 = time.monotonic()
    losses: dict[str, float] = {}
    iterations = stepper.iterations
    for it in range(iterations):
        if cancel.cancelled:
            return
        terms = stepper.step(it)
        for k, v in terms.items():
            sums[k] = sums[k] + v.detach() if k in sums else v.detach()
        count += 1
        last = it + 1 == iterations
        if (it + 1) % cfg.loss_every == 0 or last:
            # the only host-device synchronisation in the loop
            losses = {k: float(v) / count for k, v in sums.items()}
            sums, count = {}, 0
        now = time.monotonic()
        due = (it + 1) % cfg.progress_every == 0 or last or it == 0
        if due and losses and (now - last_emit >= 1.0 / MAX_EVENTS_PER_SECOND or last):
            last_emit = now
            spi = (now - t0) / (it + 1)
            yield TrainProgress(
                scale=s, n_scales=manifest.n_scales, rate=sc.rate, iteration=it + 1,
                iterations=iterations, losses=dict(losses), elapsed=now - run_start,
                seconds_per_iteration=spi, eta_seconds=steps_left(it + 1) * spi,
            )
    yield None


def _scale_preview(
    s: int, pyramid: Pyramid, lengths: list[int], z_rec: torch.Tensor, manifest: Manifest, took: float
) -> ScaleFinished:
    cfg = manifest.config
    sample, rec = render_scale_previews(pyramid, lengths, z_rec, manifest, s, lengths[-1] / cfg.fs)
    return ScaleFinished(s, manifest.n_scales, manifest.rates[s], sample, rec, cfg.fs, took)
