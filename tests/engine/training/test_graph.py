"""The training step as a captured graph (`cuda_graph`, engine.training.graph).

CI has no GPU, so these tests run the graph machinery with a backend that records the step's
computation and calls it on replay, writing into outputs that persist between replays as a
CUDA graph's static outputs do. That checks what the capture relies on: the inputs copied into
static buffers, one graph per variant of the step (with and without the lazy gradient penalty),
outputs copied before the next replay, the schedules stepped outside the graph, and the eager
fallback when a capture fails. The CUDA capture itself is measured by `bench/gpu.sh graph`."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from engine.config import get_preset
from engine.errors import ConfigError
from engine.training.graph import Outputs, StepGraph
from engine.training.step import ScaleStep, lone_scale_step

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class CallGraphs:
    """A stand-in for CUDA graphs: replay calls the recorded body and writes its results into
    outputs that are the same tensors on every replay."""

    def __init__(self, fail: bool = False) -> None:
        self.fail, self.captured, self.settled, self.warmed = fail, 0, 0, 0

    def settle(self) -> None:
        self.settled += 1

    def warming(self) -> contextlib.AbstractContextManager:
        self.warmed += 1
        return contextlib.nullcontext()

    def capture(self, body: Callable[[], Outputs]) -> Callable[[], Outputs]:
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        self.captured += 1
        static: Outputs = {}

        def replay() -> Outputs:
            for k, v in body().items():
                if k in static:
                    static[k].copy_(v)
                else:
                    static[k] = v.detach().clone()
            return static

        return replay


def _step(cfg_overrides: dict, n: int, backend: CallGraphs | None, warmup: int = 2) -> ScaleStep:
    cfg = get_preset("tiny", **cfg_overrides)
    torch.manual_seed(0)
    real = 0.1 * torch.randn(1, 1, n)
    step = lone_scale_step(cfg, real)
    if backend is not None:
        step.graph = StepGraph(step._compute, variant=step._variant, warmup=warmup,
                               backend=backend)
    return step


def _run(step: ScaleStep, iterations: int) -> list[Outputs]:
    torch.manual_seed(1)
    return [step.step(it) for it in range(iterations)]


@pytest.mark.parametrize("overrides, n, graphs", [
    ({}, 3000, 1),  # a whole scale
    ({"window": 2048, "window_batch": 2, "window_above": 3000}, 6000, 1),  # windows
    ({"gp_every": 2}, 3000, 2),  # the lazy penalty: a graph with it and one without
], ids=["whole", "windows", "lazy-penalty"])
def test_a_replayed_step_learns_what_the_eager_step_learns(overrides: dict, n: int, graphs: int) -> None:
    eager = _step(overrides, n, None)
    backend = CallGraphs()
    graphed = _step(overrides, n, backend)
    a, b = _run(eager, 7), _run(graphed, 7)
    assert backend.captured == graphs and backend.settled == graphs and backend.warmed == 2
    assert graphed.graph is not None and graphed.graph.error == ""
    # every iteration's losses (the ones kept from earlier iterations too: copies, not the
    # static outputs a later replay overwrites) and the trained weights are the eager ones
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for k in x:
            assert torch.equal(x[k], y[k]), k
    for (k, p), q in zip(eager.g.state_dict().items(), graphed.g.state_dict().values(), strict=True):
        assert torch.equal(p, q), k
    for p, q in zip(eager.d.parameters(), graphed.d.parameters(), strict=True):
        assert torch.equal(p, q)
    # the learning-rate schedule steps outside the graph, once per iteration
    assert graphed.sched_g.last_epoch == eager.sched_g.last_epoch == 7


def test_replays_use_each_iterations_own_inputs() -> None:
    """If the replay read stale inputs (the capture's), the losses would repeat."""
    backend = CallGraphs()
    step = _step({}, 3000, backend, warmup=1)
    out = _run(step, 5)
    d_real = [float(o["d/real"].detach()) for o in out[1:]]
    assert len(set(d_real)) == len(d_real)


def test_a_failed_capture_says_why_and_trains_on_eagerly() -> None:
    eager = _step({}, 3000, None)
    graphed = _step({}, 3000, CallGraphs(fail=True))
    a, b = _run(eager, 5), _run(graphed, 5)
    assert graphed.graph is not None
    assert "not permitted when stream is capturing" in graphed.graph.error
    for x, y in zip(a, b, strict=True):
        assert all(torch.equal(x[k], y[k]) for k in x)


def test_the_setting_is_ignored_on_the_cpu_and_refused_with_compile() -> None:
    cfg = get_preset("tiny", cuda_graph=True)
    step = lone_scale_step(cfg, 0.1 * torch.randn(1, 1, 3000))
    assert step.graph is None and not step.graphed  # CUDA only: the CPU step stays eager
    with pytest.raises(ConfigError, match="cuda_graph"):
        get_preset("tiny", cuda_graph=True, compile="default")
    with pytest.raises(ConfigError, match="graph_warmup"):
        get_preset("tiny", graph_warmup=0)


class _HostRoundTrips(TorchDispatchMode):
    """Records the ops that read a tensor's value back to the host (or bring host data in)."""

    SYNCING = ("_local_scalar_dense", "nonzero", "is_nonzero", "equal", "masked_select",
               "unique", "lift_fresh")

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func)
        if any(f"aten.{op}" in name for op in self.SYNCING):
            self.seen.append(name)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("overrides, n", [
    ({}, 3000), ({"window": 2048, "window_batch": 2, "window_above": 3000}, 6000),
    ({"gp_every": 2}, 3000)], ids=["whole", "windows", "lazy-penalty"])
def test_the_captured_computation_never_waits_for_the_host(overrides: dict, n: int) -> None:
    """A CUDA graph cannot hold an op that reads a value back to the host (or one that brings
    host data in): the capture fails, or bakes in the value of the capture's iteration. The
    part of the step a graph captures (`_compute`) has none; the inputs are made before it."""
    step = _step(overrides, n, None)
    for it in range(3):
        inputs = step._inputs(it)
        with _HostRoundTrips() as probe:
            step._compute(it, inputs)
        assert probe.seen == [], probe.seen
    with _HostRoundTrips() as probe:  # the probe sees such ops
        float(torch.ones(2).sum())
    assert probe.seen
