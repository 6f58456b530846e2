"""What the Xvfb screenshot scripts share: the environment for a real X server, the repository on
the import path, and waiting on the Qt event loop with a deadline.

Import it before PySide6 (it sets the Qt platform and the pyqtgraph binding); the scripts run as
`python tests/app/xvfb_*.py`, so this folder is on the import path.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


class EventLoop:
    """Run the application's event loop until a condition holds (or the deadline passes)."""

    def __init__(self, app: Any, timeout: float, errors: list[str] | None = None) -> None:
        self.app, self.deadline, self.errors = app, time.monotonic() + timeout, errors

    def wait(self, cond: Callable[[], Any], what: str) -> None:
        while not cond():
            if time.monotonic() > self.deadline:
                raise SystemExit(f"timed out waiting for {what}"
                                 + (f"; errors: {self.errors}" if self.errors else ""))
            self.app.processEvents()
            time.sleep(0.005)

    def settle(self, seconds: float = 0.5) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.app.processEvents()
            time.sleep(0.01)


def collect_errors() -> list[str]:
    """Route the app's error dialogs into a list (no modal box under Xvfb)."""
    from songwriter_app.dialogs import messages

    errors: list[str] = []
    messages.show_error = lambda _p, title, msg, kind="engine": errors.append(f"{title}: {msg}")
    return errors
