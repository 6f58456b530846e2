"""A study folder's file names and format versions, the two kinds of stimulus, and StudyError.

The one place that knows what the study folder looks like on disk:

    study.json        the definition (STUDY_FORMAT, STUDY_FORMAT_VERSION)
    stimuli/s01.wav   the prepared audio under neutral codes
    sessions/*.json   one file per rater (SESSION_FORMAT, SESSION_FORMAT_VERSION)

Changing a version number here means old studies or sessions stop opening (see
tests/test_legacy_formats.py).
"""

from __future__ import annotations

from engine.errors import EngineError

STUDY_FILE = "study.json"
STIMULI_DIR = "stimuli"
SESSIONS_DIR = "sessions"
STUDY_FORMAT = "songwriter-assistant-study"
STUDY_FORMAT_VERSION = 1
SESSION_FORMAT = "songwriter-assistant-study-session"
SESSION_FORMAT_VERSION = 1
REAL = "real"
PLAYBACK_RATE = 44100  # stimuli are written at this rate (or higher when a model's rate is)
GENERATED = "generated"


class StudyError(EngineError):
    """A study, its question set or a rater's session file cannot be used."""
