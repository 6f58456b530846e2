"""Persistent settings (QSettings): recent clips and projects, last choices; where projects live."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from PySide6.QtCore import QSettings

APP_NAME = "SongwriterAssistant"
MAX_RECENT = 10
# what each view shows of a stereo waveform: "lr" (left over right) or "ms" (mid over side)
CLIP_VIEW_CHANNELS = "views/clip/channels"
COMPARE_VIEW_CHANNELS = "views/compare/channels"


def default_projects_dir() -> Path:
    """SONGWRITER_PROJECTS_DIR, else <user data dir>/projects (platformdirs)."""
    env = os.environ.get("SONGWRITER_PROJECTS_DIR")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "projects"


def new_project_dir(root: Path, clip_path: Path) -> Path:
    """<root>/<clip-name>-<YYYYmmdd-HHMMSS>, numbered if that exists already."""
    stem = re.sub(r"[^\w\-.]+", "-", clip_path.stem).strip("-.") or "clip"
    base = root / f"{stem[:60]}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, n = base, 2
    while path.exists():
        path, n = base.with_name(f"{base.name}-{n}"), n + 1
    return path


class AppSettings:
    """A thin typed wrapper; `path` (or $SONGWRITER_SETTINGS) gives an ini file, else the
    platform's store."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        path = path or os.environ.get("SONGWRITER_SETTINGS") or None
        if path is None:
            self._s = QSettings(APP_NAME, APP_NAME)
        else:
            self._s = QSettings(str(path), QSettings.Format.IniFormat)

    def _list(self, key: str) -> list[str]:
        value = self._s.value(key, [])
        if value is None:
            return []
        if isinstance(value, str):
            return [value] if value else []
        return [str(v) for v in value]

    def _push(self, key: str, path: Path) -> None:
        p = str(Path(path).resolve())
        items = [x for x in self._list(key) if x != p]
        self._s.setValue(key, [p, *items][:MAX_RECENT])
        self._s.sync()

    def recent_clips(self) -> list[str]:
        return [p for p in self._list("recent/clips") if Path(p).is_file()]

    def recent_projects(self) -> list[str]:
        return [p for p in self._list("recent/projects") if (Path(p) / "manifest.json").is_file()]

    def add_recent_clip(self, path: Path) -> None:
        self._push("recent/clips", path)

    def add_recent_project(self, path: Path) -> None:
        self._push("recent/projects", path)

    def get(self, key: str, default: str = "") -> str:
        value = self._s.value(key, default)
        return default if value is None else str(value)

    def set(self, key: str, value: str) -> None:
        self._s.setValue(key, value)
        self._s.sync()
