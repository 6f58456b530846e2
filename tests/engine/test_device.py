"""What a result file says about the CPU it ran on."""
from __future__ import annotations

import pytest
import torch

from engine.device import cpu_description, native_bf16


@pytest.mark.parametrize("amx", [False, True])
def test_cpu_description_names_the_kernels_instruction_set_and_amx(monkeypatch, amx) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    text = cpu_description()
    assert text.endswith(", AVX512, AMX" if amx else ", AVX512")
    assert not text.startswith(",")  # a model name (or "unknown CPU") comes first


@pytest.mark.parametrize(("avx512_bf16", "amx", "native"),
                         [(False, False, False), (True, False, True), (False, True, True)])
def test_bf16_is_native_on_a_cpu_with_avx512_bf16_or_amx(monkeypatch, avx512_bf16, amx,
                                                          native) -> None:
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    assert native_bf16(torch.device("cpu")) is native
