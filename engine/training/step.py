"""One training step of one scale (`ScaleStep`): G and D on the whole scale or on random windows,
with the cached input bank, the per-term backward, and the masked variant for sections with a
gap (bridges, endings, cut junctions). The scale loop that drives it is engine.training.loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import torch
import torch.nn.functional as F

from engine.config import TrainConfig
from engine.device import (
    native_bf16,
)
from engine.errors import ConfigError
from engine.model.mask import critic_mask, masked_mean, sample_mask, spans_at
from engine.model.networks import ScaleDiscriminator, ScaleGenerator
from engine.model.pyramid import (
    MIN_D_POSITIONS,
)
from engine.model.stack import Pyramid
from engine.training.graph import CudaGraphs, StepGraph
from engine.training.losses import (
    gradient_penalty,
    masked_gradient_penalty,
    masked_rec_loss,
    mse_loss,
    mss_loss,
)


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
            return torch.zeros((1, self.pyramid.audio_channels, self.lengths[0]),
                               device=self.pyramid.device)
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
    """[1, A, T'] -> [B, A, width]: padded[..., start : start + width] for each start."""
    return padded[0].unfold(-1, width, 1)[:, starts].transpose(0, 1)


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
        # G's backward passes name G's parameters: the critic's weight gradients of a G step
        # were never used (D's step zeroes them first), and not asking for them skips their cost
        self.g_params = [p for p in g.parameters() if p.requires_grad]
        # the whole step as one CUDA graph (engine.training.graph): Adam then keeps its step
        # count and learning rate on the device, where the graph's replays update them
        self.graphed = cfg.cuda_graph and dev.type == "cuda" and not holes
        # Adam's fused kernel: the same update in one pass over the parameters instead of a
        # dozen small ops per step (a few ms per iteration on a CPU, where the coarse scales'
        # iterations take 100-200 ms)
        fused = dev.type in ("cpu", "cuda")

        def adam(params) -> torch.optim.Adam:
            lr = torch.tensor(cfg.lr, device=dev) if self.graphed else cfg.lr
            return torch.optim.Adam(params, lr=lr, betas=cfg.betas, fused=fused,
                                    capturable=self.graphed)

        self.opt_g, self.opt_d = adam(g.parameters()), adam(d.parameters())
        length = real.shape[-1]
        self.iterations = cfg.schedule(lengths)[s]
        milestone = [max(1, int(self.iterations * cfg.lr_decay_at))]
        self.sched_g = torch.optim.lr_scheduler.MultiStepLR(self.opt_g, milestone, gamma=cfg.lr_decay)
        self.sched_d = torch.optim.lr_scheduler.MultiStepLR(self.opt_d, milestone, gamma=cfg.lr_decay)
        # the last gradient penalty taken: one buffer, written in place (a graph's replays
        # write the same memory)
        self._last_gp = torch.zeros((), device=dev)
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
        # how many of a step's windows the gradient penalty and the reconstruction see (the
        # first ones of a random draw; None: all, and a whole scale is one)
        self.gp_n: int | None = None
        self.rec_n: int | None = None
        # bf16 only where it is native (emulated it would only be slower); at windowed scales
        # only with amp_windows
        self.amp = cfg.amp and native_bf16(dev) and (cfg.amp_windows or not self.windowed)
        if self.windowed:
            self.width, self.ends = cfg.window, cfg.window_ends
            self.n_windows = cfg.windows(lengths)[s]
            self.gp_n = min(cfg.gp_windows or self.n_windows, self.n_windows)
            self.rec_n = min(cfg.rec_windows or self.n_windows, self.n_windows)
            self.margin = g.window_margin
            self.win_rng = torch.Generator().manual_seed(seed * 7927 + s)
            m = self.margin
            self.rec_prev_pad = F.pad(self.rec_prev, (m, m))
            self.rec_noise_pad = F.pad(self.rec_noise, (m, m))
            self.valid_pad = F.pad(torch.ones_like(real[:, :1]), (m, m))
            # the spectral loss is a norm, so it grows with the square root of the samples it
            # sees: scale the windows' norm to estimate the whole scale's (rec_weight keeps its
            # meaning); MSE is a mean and needs nothing
            covered = self.width * self.rec_n
            self.rec_scale = ((length / covered) ** cfg.window_rec_power if cfg.mode == "music"
                              else 1.0)
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
        self.graph = (StepGraph(self._compute, variant=self._variant, warmup=cfg.graph_warmup,
                                backend=CudaGraphs()) if self.graphed else None)

    def _variant(self, it: int) -> int:
        """The graph an iteration replays: 1 with the gradient penalty, 0 without."""
        return int(it % self.cfg.gp_every == 0)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp:
            # a captured graph must not keep autocast's cast weights from the capture
            return torch.autocast(device_type=self.dev.type, dtype=torch.bfloat16,
                                  cache_enabled=not self.graphed)
        return contextlib.nullcontext()

    def window_starts(self) -> list[int]:
        """Start samples of this iteration's windows: uniform over the scale, plus `window_ends`
        windows' worth of starts past each end that clamp to it (so the clip's ends are trained
        about as often as its middle; with 0 the draw is the one of projects before the field)."""
        span = self.allowed.numel() if self.masked else self.real.shape[-1] - self.width + 1
        extra = round(self.ends * self.width)
        pick = torch.randint(-extra, span + extra, (self.n_windows,), generator=self.win_rng)
        pick = pick.clamp_(0, span - 1)
        return (self.allowed[pick] if self.masked else pick).tolist()

    def _window_inputs(self, it: int) -> tuple[torch.Tensor, ...]:
        """real [B, A, W]; noise, prev, rec_noise, rec_prev [B, A, W + 2 margin]; valid
        [B, 1, W + 2 margin]."""
        starts = self.window_starts()
        m, w = self.margin, self.width
        wide = w + 2 * m
        real = _windows(self.real, starts, w)  # real windows never leave the clip
        valid = _windows(self.valid_pad, starts, wide)
        prevs = self.bank.get_many(it, len(starts))
        prev = torch.cat([_windows(F.pad(p, (m, m)), [st], wide) for p, st in zip(prevs, starts,
                                                                                   strict=True)])
        noise = torch.randn(prev.shape, device=self.dev) * self.amp_s * valid
        rec_noise = _windows(self.rec_noise_pad, starts, wide)
        rec_prev = _windows(self.rec_prev_pad, starts, wide)
        if self.masked:
            self._win_svalid = _windows(self.svalid, starts, w)
        return real, noise, prev, rec_noise, rec_prev, valid

    def step(self, it: int) -> dict[str, torch.Tensor]:
        """One D step and one G step; returns the loss terms as (device) tensors."""
        if self.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()
        inputs = self._inputs(it)
        terms = (self.graph.run(it, inputs) if self.graph is not None
                 else self._compute(it, inputs))
        self.sched_g.step()
        self.sched_d.step()
        return terms

    def _inputs(self, it: int) -> tuple[torch.Tensor, ...]:
        """This iteration's inputs (random draws, windows, the input bank's pick): real, noise,
        prev, rec_noise, rec_prev, and on windows their valid mask."""
        if self.windowed:
            return self._window_inputs(it)
        noise = torch.randn(self.real.shape, device=self.dev) * self.amp_s
        return self.real, noise, self.bank.get(it), self.rec_noise, self.rec_prev

    def _compute(self, it: int, inputs: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        """The step's computation on its inputs, both optimiser updates included (what a CUDA
        graph captures; the learning-rate schedules step outside it)."""
        cfg, d = self.cfg, self.d_fwd
        real, noise, prev, rec_noise, rec_prev = inputs[:5]
        rec_scale = self.rec_scale if self.windowed else 1.0
        valid = inputs[5] if self.windowed else None

        def g(z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            if valid is None:
                return self.g_fwd(z, x)
            return self.g_fwd(z, x, margin=self.margin, valid=valid[: z.shape[0]])

        if self.masked:
            svalid = self._win_svalid if self.windowed else self.svalid
            return self._masked_step(it, real, noise, prev, rec_noise, rec_prev, rec_scale, g,
                                     svalid)

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
        k = self.gp_n
        gp = self._penalty(it, lambda w: gradient_penalty(self.d, real[:k], fake[:k].detach(),
                                                          weight=w))
        self.opt_d.step()
        d_total = (-d_real + d_fake + gp).detach()
        # --- G step: -mean D(fake) + reconstruction, again one graph at a time ---
        self.opt_g.zero_grad(set_to_none=True)
        with self._autocast():
            g_adv = -d(fake).float().mean()
        g_adv.backward(inputs=self.g_params)
        r = self.rec_n
        with self._autocast():
            rec = g(rec_noise[:r], rec_prev[:r])
        rec_loss = cfg.rec_weight * rec_scale * self.rec_fn(real[:r], rec)
        rec_loss.backward(inputs=self.g_params)
        return self._finish(d_real, d_fake, gp, d_total, g_adv, rec_loss)

    def _penalty(self, it: int, penalty: Callable[[float], torch.Tensor]) -> torch.Tensor:
        """Backpropagate the gradient penalty on the iterations that take it (every
        `gp_every`-th, at gp_every times the weight); returns the penalty at the config's weight
        (the last one taken on the iterations between), for the loss curves."""
        every = self.cfg.gp_every
        if it % every == 0:
            gp = penalty(self.cfg.gp_weight * every)
            gp.backward()
            self._last_gp.copy_(gp.detach() / every)
        return self._last_gp.clone()

    def _finish(self, d_real: torch.Tensor, d_fake: torch.Tensor, gp: torch.Tensor,
                d_total: torch.Tensor, g_adv: torch.Tensor, rec_loss: torch.Tensor
                ) -> dict[str, torch.Tensor]:
        """G's update, after G's gradients are in; the step's losses."""
        g_total = (g_adv + rec_loss).detach()
        self.opt_g.step()
        return {"d/real": d_real, "d/fake": d_fake, "gp": gp, "d/total": d_total,
                "g/adv": g_adv, "rec": rec_loss, "g/total": g_total}

    def _masked_step(
        self, it: int, real: torch.Tensor, noise: torch.Tensor, prev: torch.Tensor,
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
        k = self.gp_n
        gp = self._penalty(it, lambda w: masked_gradient_penalty(
            self.d, real[:k], fake[:k].detach(), valid=svalid[:k], cmask=cvalid[:k],
            receptive_field=self.rf, weight=w))
        self.opt_d.step()
        d_total = (-d_real + d_fake + gp).detach()
        self.opt_g.zero_grad(set_to_none=True)
        with self._autocast():
            g_adv = -d(fake)
        g_adv.backward(inputs=self.g_params)
        r = self.rec_n
        with self._autocast():
            rec = g(rec_noise[:r], rec_prev[:r])
        kind = "mss" if cfg.mode == "music" else "mse"
        rec_loss = cfg.rec_weight * rec_scale * masked_rec_loss(kind, real[:r], rec, svalid[:r])
        rec_loss.backward(inputs=self.g_params)
        return self._finish(d_real, d_fake, gp, d_total, g_adv, rec_loss)


def lone_scale_step(
    cfg: TrainConfig, real: torch.Tensor, *, channels: int | None = None,
    noise_amp: float = 0.1, seed: int = 0, holes: list[tuple[int, int]] | None = None,
) -> ScaleStep:
    """A training step on one scale of `real` ([1, A, T]) with fresh networks (cfg's layers and
    kernel, `channels` or cfg.channels) and no coarser scales below it: what the benches time
    and the tests check. The networks and the reconstruction noise come from torch's RNG."""
    dev = real.device
    a, n = real.shape[1], real.shape[-1]
    kw = {"channels": channels or cfg.channels, "n_layers": cfg.n_layers, "kernel": cfg.kernel_size,
          "audio_channels": a}
    g, d = ScaleGenerator(**kw).to(dev), ScaleDiscriminator(**kw).to(dev)
    z_rec = torch.randn((1, a, n)).to(dev)
    pyramid = Pyramid([], [cfg.fs], [noise_amp], dev, a)
    return ScaleStep(0, real, g, d, pyramid, [n], z_rec, [noise_amp], cfg, dev, seed,
                     holes=holes or ())


