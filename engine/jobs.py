"""What every long job shares: one cancel token type, and a progress throttle.

Long jobs (training, generation, verdicts, export, study builds, probes) are plain
generators that check a `CancelToken` between steps. The CLI iterates them with a
progress bar, tests iterate them directly, and the app runs them in a worker thread;
cancelling means setting the token, never killing a thread.
"""

from __future__ import annotations

import threading
import time


class CancelToken:
    """Set from any thread; a job stops at its next check."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


def is_cancelled(token: object | None) -> bool:
    """True when `token` (a CancelToken, anything with `.cancelled`, or None) says stop."""
    return bool(token is not None and getattr(token, "cancelled", False))


class Throttle:
    """`ready()` is true at most once every `interval` seconds (the first call is always ready)."""

    def __init__(self, interval: float, clock=time.monotonic) -> None:
        self.interval = float(interval)
        self._clock = clock
        self._last = -float("inf")

    def ready(self) -> bool:
        now = self._clock()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False
