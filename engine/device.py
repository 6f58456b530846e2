"""Choosing the compute device."""

from __future__ import annotations

import os
import platform

import torch

from engine.errors import DeviceError


def resolve_device(name: str | None = None) -> torch.device:
    """'cuda' or 'cpu' forces a device; None or 'auto' picks CUDA when available."""
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError("CUDA was requested but no CUDA GPU is available; use --device cpu.")
        return torch.device(name)
    raise DeviceError(f"Unknown device {name!r}; use cpu, cuda or auto.")


def device_label(device: torch.device) -> str:
    """A human name: the GPU's model name, or 'CPU (N threads)'."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} threads)"


def _cpu_has(probe: str) -> bool:
    """A torch.cpu feature probe (e.g. "_is_amx_tile_supported"); False where this torch lacks it."""
    return bool(getattr(getattr(torch, "cpu", None), probe, lambda: False)())


def cpu_description() -> str:
    """The CPU's model name (Linux), the instruction set torch's CPU kernels use, and AMX where
    the CPU has it, e.g. 'AMD EPYC, AVX512' or 'Intel(R) Xeon(R) Processor, AVX512, AMX': what a
    result file needs to say whether two CPU runs can agree bit for bit (the kernels sum in a
    different order on another instruction set) and whether bf16 autocast has AMX's matrix units
    (1.2-1.8 times faster steps there, bench/README.md)."""
    name = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                        name)
    except OSError:
        pass
    amx = ", AMX" if _cpu_has("_is_amx_tile_supported") else ""
    return f"{name or 'unknown CPU'}, {torch.backends.cpu.get_cpu_capability()}{amx}"


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work (timings); nothing to wait for on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 autocast runs on native instructions here: a CUDA GPU that supports it,
    or a CPU with AVX512-BF16 or AMX (elsewhere the CPU emulates it, slower than float32)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        return _cpu_has("_is_avx512_bf16_supported") or _cpu_has("_is_amx_tile_supported")
    return False


# Working memory of one training step per sample of the scale, per channel and per layer:
# 40 kB per sample at 96 channels and 8 layers, measured with bench/bench_memory.py
# (bench/results/memory-standard-cpu.json). A floor: a GPU adds its context and workspaces.
STEP_BYTES_PER_SAMPLE_CHANNEL_LAYER = 52


def step_memory_floor(samples: int, channels: int, n_layers: int) -> int:
    """Bytes one training step at a scale of `samples` samples holds at least."""
    return int(STEP_BYTES_PER_SAMPLE_CHANNEL_LAYER * samples * channels * n_layers)


def device_memory(device: torch.device) -> int | None:
    """Total memory of a CUDA device, or the machine's RAM for the CPU (None if unknown)."""
    try:
        if device.type == "cuda":
            return int(torch.cuda.get_device_properties(device).total_memory)
        if device.type == "cpu":
            return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (RuntimeError, ValueError, OSError, AttributeError):
        return None
    return None


def check_fits(samples: int, channels: int, n_layers: int, device: torch.device) -> None:
    """Refuse, before anything is trained, a run whose largest scale cannot fit the device."""
    need = step_memory_floor(samples, channels, n_layers)
    have = device_memory(device)
    if have is not None and need > have:
        where = device_label(device) if device.type == "cuda" else "this computer's memory"
        raise DeviceError(
            f"This section needs at least {need / 2**30:.0f} GiB to train at its finest scale, "
            f"more than {where} has ({have / 2**30:.0f} GiB). Choose a shorter section or a "
            "smaller preset (standard instead of hifi, or quick)."
        )


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


OOM_ADVICE = (
    "The GPU ran out of memory. Choose a smaller preset (quick or standard instead of hifi) "
    "or a shorter section, then resume."
)
