"""Pay the engine's first-call costs once, in a worker, when the app starts.

The first training step in a process imports a lot lazily (torch.optim, the
learning-rate schedulers, autograd's double backward, torchaudio's resampler
and mel filters, safetensors). Some of those imports hold Python's GIL for
100-300 ms at a time (measured here on a 2-core CPU), which freezes the GUI
thread just as much as work on the GUI thread would. Running a miniature
training (one short synthetic clip, two scales, two iterations), a generation
and a mel spectrogram in a temporary folder right after start-up moves those
freezes to a moment nobody is interacting, so a real training run keeps the
window responsive.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def warm_up_engine(device: str | None = None, cancel: Any = None) -> float:
    """Run a miniature train + generate + mel; returns the seconds it took."""
    import numpy.ma  # noqa: F401  (numpy imports it lazily, under the import lock)
    import soundfile as sf

    from engine.audio.features import log_mel
    from engine.config import get_preset
    from engine.generation.render import generate, load_model
    from engine.training.loop import iter_train

    t0 = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="songwriter-warmup-"))
    try:
        sr = 8000
        t = np.arange(2 * sr) / sr
        tone = 0.5 * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
        clip = folder / "warmup.wav"
        sf.write(str(clip), tone.astype(np.float32), sr)
        cfg = get_preset("tiny", iters_per_scale=2, candidate_rates=(2000, 4000),
                         preview_seconds=0.5, progress_every=1)
        for _ in iter_train(clip, folder / "project", cfg, seed=0, device=device, cancel=cancel):
            pass
        if cancel is not None and getattr(cancel, "cancelled", False):
            return time.perf_counter() - t0
        model = load_model(folder / "project", device)
        generate(model, seconds=0.5, seed=0, from_scale=0)
        log_mel(np.zeros(sr, dtype=np.float32), sr)
        log_mel(np.zeros(44100, dtype=np.float32), 44100)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return time.perf_counter() - t0
