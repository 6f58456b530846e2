"""Training: `iter_train(...)` yields small events while it trains the pyramid scale by scale.

It never prints. Front ends iterate it: the CLI draws a progress bar, the GUI
wraps it in a worker thread, tests read the events. A cancel token is checked
every iteration; after a cancel, Ctrl-C or a kill, the project holds every
finished scale and `iter_train(..., resume=True)` continues from the next one.

About 530 lines, on purpose: the scale loop and `ScaleStep` (one G/D step, whole-scale or on
random windows, with the input bank and the per-term backward) share the scale's state and
are read together; the events are in engine.training.events, the losses in .losses.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F

from engine.audio.io import load_clip
from engine.config import TrainConfig
from engine.device import (
    OOM_ADVICE,
    check_fits,
    device_label,
    is_out_of_memory,
    native_bf16,
    resolve_device,
)
from engine.errors import ConfigError, DeviceError, ProjectError
from engine.fileutil import check_writable_dir
from engine.jobs import CancelToken
from engine.model.mask import critic_mask, masked_mean, sample_mask, spans_at, valid_outputs
from engine.model.networks import ScaleDiscriminator, ScaleGenerator, same_shapes
from engine.model.pyramid import (
    MIN_D_POSITIONS,
    choose_rates,
    energies,
    noise_amplitudes,
    scale_signals,
    upsample,
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
from engine.training.losses import (
    gradient_penalty,
    masked_gradient_penalty,
    masked_rec_loss,
    mse_loss,
    mss_loss,
)

MAX_EVENTS_PER_SECOND = 20.0


# ---- helpers ------------------------------------------------------------------------------


@dataclass
class _Scale:
    """Per-scale tensors on the device."""

    real: torch.Tensor  # [1, 1, T]
    length: int
    rate: int
    channels: int


@dataclass
class _InputBank:
    """Previous-scale inputs: redrawn every iteration (size 0) or cached and refreshed."""

    pyramid: Pyramid
    scale: int
    lengths: list[int]
    size: int
    refresh: int
    generator: torch.Generator
    entries: list[torch.Tensor] = field(default_factory=list)
    _next: int = 0

    def _draw(self) -> torch.Tensor:
        noise = self.pyramid.random_noise(self.lengths, self.generator, upto=self.scale)
        return self.pyramid.prev_input(self.scale, self.lengths, noise)

    def get(self, iteration: int) -> torch.Tensor:
        if self.scale == 0:
            return torch.zeros((1, 1, self.lengths[0]), device=self.pyramid.device)
        if self.size == 0:
            return self._draw()
        if not self.entries:
            self.entries = [self._draw() for _ in range(self.size)]
        if self.refresh and iteration > 0 and iteration % self.refresh == 0:
            self.entries[self._next] = self._draw()
            self._next = (self._next + 1) % self.size
        pick = int(torch.randint(self.size, (1,), generator=self.generator))
        return self.entries[pick]

    def get_many(self, iteration: int, n: int) -> list[torch.Tensor]:
        """Inputs for n training windows: one draw (size 0) or n picks from the bank."""
        first = self.get(iteration)
        if self.size == 0 or self.scale == 0:
            return [first] * n
        rest = torch.randint(self.size, (n - 1,), generator=self.generator).tolist()
        return [first] + [self.entries[i] for i in rest]


def _windows(padded: torch.Tensor, starts: list[int], width: int) -> torch.Tensor:
    """[1, 1, T'] -> [B, 1, width]: padded[start : start + width] for each start."""
    return padded[0, 0].unfold(0, width, 1)[starts].unsqueeze(1)


def _scale_cost(cfg: TrainConfig, length: int, channels: int) -> float:
    """Relative cost of one iteration: samples through G (windows or the whole scale)."""
    return float(cfg.step_samples(length)) * (channels + 4)


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
        built = build_clip(layout, cfg.fs, max_seconds=cfg.max_seconds)
        signal, placed = built.signal, built.layout
        source = built.source
        rates = masked_rates(choose_rates(signal, cfg), placed.holes, signal.shape[-1], cfg)
        if len(rates) < 2:
            raise ConfigError(_too_long_gap(placed.mode, placed.gap, cfg))
    else:
        clip = load_clip(
            clip_path, cfg.fs, start=start, duration=duration, max_seconds=cfg.max_seconds,
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
    reals = scale_signals(signal, cfg.fs, rates)
    if device is not None:
        # what one step holds: the windows at a scale that trains on windows
        check_fits(cfg.step_samples(reals[-1].shape[-1]), cfg.channels, cfg.n_layers, device)
    amps = noise_amplitudes(energies(reals), cfg.noise_amp_factor)
    created_folder = not root.exists()
    check_writable_dir(root)
    try:
        save_clip(root, signal, cfg.fs)
        g = torch.Generator().manual_seed(seed)
        save_z_rec(root, torch.randn((1, 1, reals[0].shape[-1]), generator=g))
        manifest = Manifest(
            config=cfg,
            rates=rates,
            noise_amps=amps,
            source=source,
            seed=seed,
            layout=placed,
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
        top = lengths_for(manifest.rates, seconds)[-1]
        check_fits(manifest.config.step_samples(top), manifest.config.channels,
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


def compile_forward(module: torch.nn.Module, mode: str, dev: torch.device) -> Callable[..., torch.Tensor]:
    """`module` itself when mode is "", else torch.compile(module) for fixed shapes.

    CUDA graphs ("reduce-overhead") need CUDA; on the CPU that mode compiles without them.
    """
    if not mode:
        return module
    if mode == "reduce-overhead" and dev.type != "cuda":
        mode = "default"
    return cast(Callable[..., torch.Tensor], torch.compile(module, mode=mode, dynamic=False))


def configure_backends(cfg: TrainConfig, dev: torch.device) -> None:
    """CUDA kernel choices for a run: autotuned cuDNN kernels (shapes are fixed per scale) and
    TF32 tensor cores when the config allows them."""
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = cfg.tf32
        torch.backends.cuda.matmul.allow_tf32 = cfg.tf32


def _train(root: Path, manifest: Manifest, dev: torch.device, cancel: CancelToken) -> Iterator[TrainEvent]:
    cfg = manifest.config
    configure_backends(cfg, dev)
    clip, fs = load_clip_signal(root)
    reals_np = scale_signals(clip, fs, manifest.rates)
    scales = [
        _Scale(torch.from_numpy(x).to(dev).reshape(1, 1, -1), x.shape[-1], r, manifest.channels_at(i))
        for i, (x, r) in enumerate(zip(reals_np, manifest.rates, strict=True))
    ]
    lengths = [s.length for s in scales]
    z_rec = load_z_rec(root).to(dev)
    first = manifest.scales_done
    pyramid = Pyramid(
        [load_scale(root, manifest, s, with_discriminator=False)[0] for s in range(first)],
        manifest.rates, manifest.noise_amps, dev,
    )
    prev_gd: tuple[ScaleGenerator, ScaleDiscriminator] | None = None
    if first > 0:
        g_prev, d_prev = load_scale(root, manifest, first - 1, with_discriminator=True)
        assert d_prev is not None
        prev_gd = (g_prev, d_prev)
    append_log(root, "resume" if first else "start", scale=first, device=str(dev))
    yield TrainStarted(root, tuple(manifest.rates), first, str(dev), device_label(dev), cfg,
                       clip.shape[-1] / fs)

    total_cost = [_scale_cost(cfg, s.length, s.channels) * cfg.iterations_at(s.length) for s in scales]
    run_start = time.monotonic()
    for s in range(first, manifest.n_scales):
        torch.manual_seed(manifest.seed * 1009 + s)  # per scale: a resumed run matches a whole one
        sc = scales[s]
        if s == 1 and cfg.mode == "music":
            # music mode: the noise at scale 1 matches the spread of the coarse reconstruction
            rec0 = pyramid.run(lengths, [z_rec], upto=1)
            manifest.noise_amps[1] = float(upsample(rec0, scales[0].rate, sc.rate, sc.length).std())
            pyramid.amps = manifest.noise_amps
        g = ScaleGenerator(channels=sc.channels, n_layers=cfg.n_layers, kernel=cfg.kernel_size).to(dev)
        d = ScaleDiscriminator(channels=sc.channels, n_layers=cfg.n_layers, kernel=cfg.kernel_size).to(dev)
        if prev_gd is not None and same_shapes(g, prev_gd[0]) and same_shapes(d, prev_gd[1]):
            g.load_state_dict(prev_gd[0].state_dict())
            d.load_state_dict(prev_gd[1].state_dict())
        events = _train_scale(
            s, sc, g, d, pyramid, lengths, z_rec, manifest, dev, cancel, run_start,
            remaining_cost=lambda it, s=s: total_cost[s] * (1 - it / cfg.iterations_at(lengths[s]))
            + sum(total_cost[s + 1 :]),
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
        manifest.iterations_done.append(cfg.iterations_at(sc.length))
        write_manifest(root, manifest)
        append_log(root, "scale", scale=s, rate=sc.rate, seconds=took)
        prev_gd = (g, d)
        finished_ev = _scale_preview(s, pyramid, lengths, z_rec, manifest, took)
        save_previews(root, s, finished_ev.preview, finished_ev.reconstruction, cfg.fs)
        yield finished_ev
    elapsed = time.monotonic() - run_start
    append_log(root, "done", seconds=elapsed)
    yield TrainFinished(root, elapsed, manifest.n_scales)


class ScaleStep:
    """One scale's optimisation state and its training step (also used by bench/)."""

    def __init__(
        self, s: int, real: torch.Tensor, g: ScaleGenerator, d: ScaleDiscriminator,
        pyramid: Pyramid, lengths: list[int], z_rec: torch.Tensor, noise_amps: list[float],
        cfg: TrainConfig, dev: torch.device, seed: int,
        holes: list[tuple[int, int]] | tuple[tuple[int, int], ...] = (),
    ) -> None:
        self.cfg, self.dev, self.real, self.g, self.d = cfg, dev, real, g, d
        g.train()
        d.train()
        self.opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=cfg.betas)
        self.opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=cfg.betas)
        length = real.shape[-1]
        self.iterations = cfg.iterations_at(length)
        milestone = [max(1, int(self.iterations * cfg.lr_decay_at))]
        self.sched_g = torch.optim.lr_scheduler.MultiStepLR(self.opt_g, milestone, gamma=cfg.lr_decay)
        self.sched_d = torch.optim.lr_scheduler.MultiStepLR(self.opt_d, milestone, gamma=cfg.lr_decay)
        self.amp = cfg.amp and native_bf16(dev)  # emulated bf16 would only be slower
        rng = torch.Generator().manual_seed(seed * 7919 + s)
        self.bank = _InputBank(pyramid, s, lengths, cfg.bank_size, cfg.bank_refresh, rng)
        # the reconstruction path: z* at the coarsest scale, zeros above it
        if s == 0:
            self.rec_prev = torch.zeros_like(real)
            self.rec_noise = z_rec * noise_amps[0]
        else:
            self.rec_prev = pyramid.prev_input(s, lengths, [z_rec] + [None] * (s - 1))
            self.rec_noise = torch.zeros_like(real)
        self.rec_fn = mss_loss if cfg.mode == "music" else mse_loss
        self.amp_s = noise_amps[s]
        # window training: B random windows of W samples per iteration; G's inputs carry
        # `margin` samples of their real neighbourhood (zeros beyond the clip's true ends)
        self.windowed = cfg.uses_windows(length)
        if self.windowed:
            self.width, self.n_windows = cfg.window, cfg.window_batch
            self.margin = g.window_margin
            self.win_rng = torch.Generator().manual_seed(seed * 7927 + s)
            m = self.margin
            self.rec_prev_pad = F.pad(self.rec_prev, (m, m))
            self.rec_noise_pad = F.pad(self.rec_noise, (m, m))
            self.valid_pad = F.pad(torch.ones_like(real), (m, m))
            # the spectral loss is a norm, so it grows with the square root of the samples it
            # sees: scale the windows' norm to estimate the whole scale's (rec_weight keeps its
            # meaning); MSE is a mean and needs nothing
            covered = self.width * self.n_windows
            self.rec_scale = (length / covered) ** 0.5 if cfg.mode == "music" else 1.0
        # inpainting masks (caw-method.md section 8): `holes` are spans at the working rate;
        # without holes every masked branch below is skipped and the step is the reference one
        self.masked = bool(holes)
        if self.masked:
            spans = spans_at(holes, cfg.fs, pyramid.rates[s], length)
            self.svalid = sample_mask(length, spans, dev)  # [1, 1, T]
            self.cvalid = d.output_mask(self.svalid)  # [1, 1, T - rf + 1]
            self.rf = g.receptive_field
            if self.windowed:
                # windows are drawn among those whose critic has outputs that see no hole
                span = length - self.width + 1
                n_out = self.width - self.rf + 1
                ok = critic_mask(length, spans, self.rf)[0, 0]
                counts = torch.cat([torch.zeros(1), ok.cpu().cumsum(0)])
                per_start = counts[n_out : n_out + span] - counts[:span]
                self.allowed = torch.nonzero(per_start >= MIN_D_POSITIONS).reshape(-1)
                if self.allowed.numel() == 0:
                    raise ConfigError("No training window of this scale sees enough audio "
                                      "outside the gap; use a shorter gap or longer sections.")
        # forwards of this scale's G and D, compiled when asked; the modules themselves (and so
        # their state dicts and the gradient penalty's double backward) stay eager
        self.cudagraphs = cfg.compile == "reduce-overhead" and dev.type == "cuda"
        if cfg.compile:
            # every scale has new shapes and modules: without a reset a long pyramid would hit
            # dynamo's recompile limit and quietly fall back to eager
            torch._dynamo.reset()
        self.g_fwd: Callable[..., torch.Tensor] = compile_forward(g, cfg.compile, dev)
        self.d_fwd: Callable[..., torch.Tensor] = compile_forward(d, cfg.compile, dev)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp:
            return torch.autocast(device_type=self.dev.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def window_starts(self) -> list[int]:
        """Start samples of this iteration's windows, uniform over the scale."""
        if self.masked:
            pick = torch.randint(self.allowed.numel(), (self.n_windows,), generator=self.win_rng)
            return self.allowed[pick].tolist()
        span = self.real.shape[-1] - self.width + 1
        return torch.randint(span, (self.n_windows,), generator=self.win_rng).tolist()

    def _window_inputs(self, it: int) -> tuple[torch.Tensor, ...]:
        """real [B, 1, W]; noise, prev, rec_noise, rec_prev, valid [B, 1, W + 2 margin]."""
        starts = self.window_starts()
        m, w = self.margin, self.width
        wide = w + 2 * m
        real = _windows(self.real, starts, w)  # real windows never leave the clip
        valid = _windows(self.valid_pad, starts, wide)
        prevs = self.bank.get_many(it, len(starts))
        prev = torch.cat([_windows(F.pad(p, (m, m)), [st], wide) for p, st in zip(prevs, starts,
                                                                                   strict=True)])
        noise = torch.randn(valid.shape, device=self.dev) * self.amp_s * valid
        rec_noise = _windows(self.rec_noise_pad, starts, wide)
        rec_prev = _windows(self.rec_prev_pad, starts, wide)
        if self.masked:
            self._win_svalid = _windows(self.svalid, starts, w)
        return real, noise, prev, rec_noise, rec_prev, valid

    def step(self, it: int) -> dict[str, torch.Tensor]:
        """One D step and one G step; returns the loss terms as (device) tensors."""
        cfg, d = self.cfg, self.d_fwd
        if self.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()
        rec_scale = 1.0
        if self.windowed:
            real, noise, prev, rec_noise, rec_prev, valid = self._window_inputs(it)
            kw = {"margin": self.margin, "valid": valid}
            rec_scale = self.rec_scale
        else:
            real, rec_noise, rec_prev, kw = self.real, self.rec_noise, self.rec_prev, {}
            noise = torch.randn(real.shape, device=self.dev) * self.amp_s
            prev = self.bank.get(it)

        def g(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return self.g_fwd(z, x, **kw)

        if self.masked:
            svalid = self._win_svalid if self.windowed else self.svalid
            return self._masked_step(real, noise, prev, rec_noise, rec_prev, rec_scale, g, svalid)

        # --- D step: -mean D(real) + mean D(fake) + GP ---
        # Each term is backpropagated as soon as it is formed: the gradient is the same sum,
        # but only one of the three critic graphs is alive at a time (the peak memory of a
        # step falls by about a third; bench/bench_memory.py).
        self.opt_d.zero_grad(set_to_none=True)
        with self._autocast():
            fake = g(noise, prev)
            d_real = d(real).float().mean()
        (-d_real).backward()
        with self._autocast():
            d_fake = d(fake.detach()).float().mean()
        d_fake.backward()
        gp = gradient_penalty(self.d, real, fake.detach(), weight=cfg.gp_weight)
        gp.backward()
        self.opt_d.step()
        d_total = (-d_real + d_fake + gp).detach()
        # --- G step: -mean D(fake) + reconstruction, again one graph at a time ---
        self.opt_g.zero_grad(set_to_none=True)
        with self._autocast():
            g_adv = -d(fake).float().mean()
        g_adv.backward()
        with self._autocast():
            rec = g(rec_noise, rec_prev)
        rec_loss = cfg.rec_weight * rec_scale * self.rec_fn(real, rec)
        rec_loss.backward()
        g_total = (g_adv + rec_loss).detach()
        self.opt_g.step()
        self.sched_g.step()
        self.sched_d.step()
        return {"d/real": d_real, "d/fake": d_fake, "gp": gp, "d/total": d_total,
                "g/adv": g_adv, "rec": rec_loss, "g/total": g_total}

    def _masked_step(
        self, real: torch.Tensor, noise: torch.Tensor, prev: torch.Tensor,
        rec_noise: torch.Tensor, rec_prev: torch.Tensor, rec_scale: float,
        g: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], svalid: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """The step of a scale with holes: the critic's batch norm over valid samples, its score
        over the outputs that see no hole (the others get no gradient), the gradient penalty
        over what those outputs read, the reconstruction over valid samples."""
        cfg = self.cfg
        svalid = svalid.expand(real.shape[0], -1, -1)
        cvalid = self.d.output_mask(svalid)

        def d(x: torch.Tensor) -> torch.Tensor:
            return masked_mean(self.d_fwd(x, svalid).float(), cvalid)

        self.opt_d.zero_grad(set_to_none=True)
        with self._autocast():
            fake = g(noise, prev)
            d_real = d(real)
        (-d_real).backward()
        with self._autocast():
            d_fake = d(fake.detach())
        d_fake.backward()
        gp = masked_gradient_penalty(self.d, real, fake.detach(), valid=svalid, cmask=cvalid,
                                     receptive_field=self.rf, weight=cfg.gp_weight)
        gp.backward()
        self.opt_d.step()
        d_total = (-d_real + d_fake + gp).detach()
        self.opt_g.zero_grad(set_to_none=True)
        with self._autocast():
            g_adv = -d(fake)
        g_adv.backward()
        with self._autocast():
            rec = g(rec_noise, rec_prev)
        kind = "mss" if cfg.mode == "music" else "mse"
        rec_loss = cfg.rec_weight * rec_scale * masked_rec_loss(kind, real, rec, svalid)
        rec_loss.backward()
        g_total = (g_adv + rec_loss).detach()
        self.opt_g.step()
        self.sched_g.step()
        self.sched_d.step()
        return {"d/real": d_real, "d/fake": d_fake, "gp": gp, "d/total": d_total,
                "g/adv": g_adv, "rec": rec_loss, "g/total": g_total}


def lone_scale_step(
    cfg: TrainConfig, real: torch.Tensor, *, channels: int | None = None,
    noise_amp: float = 0.1, seed: int = 0, holes: list[tuple[int, int]] | None = None,
) -> ScaleStep:
    """A training step on one scale of `real` ([1, 1, T]) with fresh networks (cfg's layers and
    kernel, `channels` or cfg.channels) and no coarser scales below it: what the benches time
    and the tests check. The networks and the reconstruction noise come from torch's RNG."""
    dev = real.device
    n = real.shape[-1]
    kw = {"channels": channels or cfg.channels, "n_layers": cfg.n_layers, "kernel": cfg.kernel_size}
    g, d = ScaleGenerator(**kw).to(dev), ScaleDiscriminator(**kw).to(dev)
    z_rec = torch.randn((1, 1, n)).to(dev)
    pyramid = Pyramid([], [cfg.fs], [noise_amp], dev)
    return ScaleStep(0, real, g, d, pyramid, [n], z_rec, [noise_amp], cfg, dev, seed,
                     holes=holes or ())


def _train_scale(
    s: int, sc: _Scale, g: ScaleGenerator, d: ScaleDiscriminator, pyramid: Pyramid,
    lengths: list[int], z_rec: torch.Tensor, manifest: Manifest, dev: torch.device,
    cancel: CancelToken, run_start: float, remaining_cost,
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
    cost_now = _scale_cost(cfg, sc.length, sc.channels)
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
                seconds_per_iteration=spi, eta_seconds=remaining_cost(it + 1) / cost_now * spi,
            )
    yield None


def _scale_preview(
    s: int, pyramid: Pyramid, lengths: list[int], z_rec: torch.Tensor, manifest: Manifest, took: float
) -> ScaleFinished:
    cfg = manifest.config
    sample, rec = render_scale_previews(pyramid, lengths, z_rec, manifest, s, lengths[-1] / cfg.fs)
    return ScaleFinished(s, manifest.n_scales, manifest.rates[s], sample, rec, cfg.fs, took)
