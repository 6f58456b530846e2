"""Choosing the compute device."""

from __future__ import annotations

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


def native_bf16(device: torch.device) -> bool:
    """Whether bfloat16 autocast runs on native instructions here: a CUDA GPU that supports it,
    or a CPU with AVX512-BF16 or AMX (elsewhere the CPU emulates it, slower than float32)."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        cpu = getattr(torch, "cpu", None)
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)
    return False


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


OOM_ADVICE = (
    "The GPU ran out of memory. Choose a smaller preset (quick or standard instead of hifi) "
    "or a shorter section, then resume."
)
