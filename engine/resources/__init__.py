"""Files shipped inside the package (importlib.resources): the demo clip and its licence.

They are package data, so an installed app (a wheel, not a checkout) finds them too.
Nothing in the engine or the app resolves a path relative to the repository.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_FILES = resources.files(__name__)

# Installed packages are plain folders (never zipped), so these are real file paths.
DEMO_CLIP = Path(str(_FILES / "demo-war-of-freedom-10s.wav"))
NOTICE = Path(str(_FILES / "NOTICE.txt"))
