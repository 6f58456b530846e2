"""The training step captured as one CUDA graph and replayed (`TrainConfig.cuda_graph`).

On a GPU the coarse scales' iterations are bound by the host: about 1500 small kernels an
iteration, each launched from Python, left an H200 half idle (bench/README.md, "GPU figures").
A CUDA graph records the kernels of one whole step once (both forwards, the gradient penalty's
double backward, both Adam updates) and replays them with one launch.

`StepGraph` runs a step's computation in three phases:

- the first `warmup` iterations eagerly, on a side stream on a GPU (Adam's state, cuDNN's
  autotuning and the allocator settle; they are real training iterations);
- then it captures the computation once per variant (with and without the lazy gradient
  penalty) on static input buffers;
- then each iteration copies its inputs (made eagerly: windows, noise, the input bank's pick)
  into those buffers, replays the graph and returns copies of its outputs.

Graphs replay the captured kernels in their order on the same memory, so a graphed run learns
what an eager one learns. The capture is done by a backend: `CudaGraphs` on a GPU; the tests
use a backend that calls the computation itself, which checks everything but the capture.
If a capture fails, the step says why (`StepGraph.error`) and runs eagerly from then on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol

import torch

Outputs = dict[str, torch.Tensor]


class GraphBackend(Protocol):
    def capture(self, body: Callable[[], Outputs]) -> Callable[[], Outputs]:
        """Record `body` (without running it); return a function that replays it and returns
        its (static) outputs."""
        ...

    def settle(self) -> None:
        """Wait for the eager work before a capture."""
        ...

    def warming(self) -> contextlib.AbstractContextManager:
        """Where the eager warm-up iterations run."""
        ...


class CudaGraphs:
    """torch.cuda.CUDAGraph capture; each graph gets its own memory pool (two variants of a step
    never share their static tensors)."""

    def __init__(self) -> None:
        self._side: torch.cuda.Stream | None = None

    def capture(self, body: Callable[[], Outputs]) -> Callable[[], Outputs]:
        graph = torch.cuda.CUDAGraph()
        # thread_local: training runs in a worker thread, and another thread of the app may use
        # the GPU meanwhile (rendering takes); only this thread's unsafe calls end the capture
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            out = body()

        def replay() -> Outputs:
            graph.replay()
            return out

        return replay

    def settle(self) -> None:
        torch.cuda.synchronize()

    @contextlib.contextmanager
    def warming(self) -> Iterator[None]:
        """PyTorch's whole-network capture warms up on a side stream (autograd's and the
        libraries' per-stream state is then made off the stream a capture may not touch). The
        streams wait for each other both ways, so the inputs made on the current stream and the
        losses used there afterwards are ordered with the side stream's work."""
        if self._side is None:
            self._side = torch.cuda.Stream()
        side, current = self._side, torch.cuda.current_stream()
        side.wait_stream(current)
        with torch.cuda.stream(side):
            yield
        current.wait_stream(side)


class StepGraph:
    """Runs `compute(it, inputs)` eagerly for `warmup` iterations, then as a replayed capture.

    `variant(it)` names the graph an iteration needs (the step's control flow may differ by
    iteration: the lazy penalty); one graph is captured per variant, when first needed.
    """

    def __init__(
        self, compute: Callable[[int, tuple[torch.Tensor, ...]], Outputs], *,
        variant: Callable[[int], int], warmup: int, backend: GraphBackend,
    ) -> None:
        self.compute, self.variant, self.warmup, self.backend = compute, variant, warmup, backend
        self.inputs: tuple[torch.Tensor, ...] | None = None  # static buffers, made at the capture
        self.replays: dict[int, Callable[[], Outputs]] = {}
        self.error = ""  # why a capture failed; the step then stays eager
        self.captures = 0

    def run(self, it: int, inputs: tuple[torch.Tensor, ...]) -> Outputs:
        if it < self.warmup:
            with self.backend.warming():
                return self.compute(it, inputs)
        if self.error:
            return self.compute(it, inputs)
        if self.inputs is None:
            self.inputs = tuple(torch.empty_like(x) for x in inputs)
        elif any(a.shape != b.shape for a, b in zip(self.inputs, inputs, strict=True)):
            raise ValueError("a graphed step's inputs must keep their shapes")
        for static, x in zip(self.inputs, inputs, strict=True):
            static.copy_(x)
        key = self.variant(it)
        replay = self.replays.get(key)
        if replay is None:
            try:
                self.backend.settle()
                static_inputs = self.inputs
                replay = self.backend.capture(lambda: self.compute(it, static_inputs))
            except Exception as exc:  # noqa: BLE001  (any capture failure: fall back, say why)
                self.error = f"{type(exc).__name__}: {exc}"
                return self.compute(it, inputs)
            self.replays[key] = replay
            self.captures += 1
        # copies: the next replay overwrites the static outputs
        return {k: v.detach().clone() for k, v in replay().items()}
