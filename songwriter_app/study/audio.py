"""The player used by the study windows: the app's own (songwriter_app.playback), which is
sounddevice behind a small interface, or a null player that says why playback is off."""

from __future__ import annotations

from typing import Any

from songwriter_app.playback import Player as StudyPlayer
from songwriter_app.playback import make_player as make_study_player

__all__ = ["StudyPlayer", "make_study_player", "player_name"]


def player_name(player: Any) -> str:
    """What to record in a session about the output: the player's class, or why there is none."""
    if getattr(player, "available", False):
        return type(player).__name__
    return f"none: {getattr(player, 'reason', '')}".strip()
