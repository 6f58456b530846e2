"""`python -m songwriter_app.selfcheck`: do the installed packages load and work together?

Run at the end of `bash dev.sh setup` (and by `songwriter-app --check`). Each check imports
one package (or a pair that must match, such as torch and torchaudio) and makes one tiny
call. A failure prints one line naming the package(s) and the repair, instead of the
import error a user would otherwise meet halfway through starting the app or collecting
the tests. A missing PortAudio library is not a failure: the app runs with playback off.
Exit status: 0 when everything needed loads, 1 otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from importlib import metadata

REPAIR = "repair with: bash dev.sh setup --force (or reinstall the locked versions: uv sync --frozen)"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _torch() -> str:
    import torch

    x = torch.ones(4)
    assert float((x * 2).sum()) == 8.0
    return f"torch {torch.__version__}"


def _torchaudio() -> str:
    # The pair that breaks: a torchaudio build loads only with the torch it was built for.
    import torch

    from engine.audio import dsp

    y = dsp.resample(torch.zeros(1, 160), 16000, 8000)
    fb = dsp.mel_filterbank(n_freqs=65, sample_rate=16000, n_mels=8)
    assert tuple(y.shape) == (1, 80) and tuple(fb.shape) == (65, 8)
    return f"torchaudio {_version('torchaudio')} with torch {torch.__version__}"


def _qt() -> str:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
    import pyqtgraph
    from PySide6 import QtCore, QtGui, QtWidgets  # noqa: F401

    return f"PySide6 {QtCore.qVersion()} with pyqtgraph {pyqtgraph.__version__}"


def _audio_files() -> str:
    import io

    import numpy as np
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.zeros(16, dtype=np.float32), 8000, format="WAV")
    buf.seek(0)
    assert sf.read(buf)[0].shape == (16,)
    return f"soundfile {sf.__version__} (libsndfile {sf.__libsndfile_version__})"


def _engine() -> str:
    import numpy  # noqa: F401
    import platformdirs  # noqa: F401
    import pyloudnorm  # noqa: F401
    import safetensors  # noqa: F401
    import scipy.stats  # noqa: F401

    from engine.resources import DEMO_CLIP

    if not DEMO_CLIP.is_file():
        raise FileNotFoundError(f"the bundled demo clip is missing ({DEMO_CLIP})")
    return "numpy, scipy, safetensors, pyloudnorm, platformdirs, the demo clip"


# (what failed, in words with the installed versions; the check)
CHECKS: list[tuple[Callable[[], str], Callable[[], str]]] = [
    (lambda: f"torch {_version('torch')}", _torch),
    (lambda: f"torchaudio {_version('torchaudio')} with torch {_version('torch')}", _torchaudio),
    (lambda: f"PySide6-Essentials {_version('PySide6-Essentials')} with pyqtgraph "
             f"{_version('pyqtgraph')}", _qt),
    (lambda: f"soundfile {_version('soundfile')}", _audio_files),
    (lambda: "the engine's other packages or the demo clip", _engine),
]


def _playback() -> str:
    """sounddevice needs the PortAudio library; without it the app runs with playback off."""
    try:
        import sounddevice as sd
    except OSError as exc:  # "PortAudio library not found"
        return f"sounddevice: no PortAudio ({exc}); the app runs with playback off " \
               "(Debian: apt-get install libportaudio2)"
    return f"sounddevice {sd.__version__} (PortAudio found)"


def run(out: Callable[[str], None] = print) -> bool:
    ok = True
    for name, check in CHECKS:
        try:
            out(f"ok   {check()}")
        except Exception as exc:  # noqa: BLE001 - each failure becomes one line
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            out(f"FAIL {name()} does not load ({type(exc).__name__}: {detail}); {REPAIR}")
            ok = False
    out(f"ok   {_playback()}")
    return ok


def main() -> int:
    return 0 if run() else 1


if __name__ == "__main__":
    sys.exit(main())
