"""What a result file says about the CPU it ran on."""
from __future__ import annotations

import pytest
import torch

from engine.device import cpu_description


@pytest.mark.parametrize("amx", [False, True])
def test_cpu_description_names_the_kernels_instruction_set_and_amx(monkeypatch, amx) -> None:
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    text = cpu_description()
    assert text.endswith(", AVX512, AMX" if amx else ", AVX512")
    assert not text.startswith(",")  # a model name (or "unknown CPU") comes first
