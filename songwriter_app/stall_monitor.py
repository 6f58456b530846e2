"""Event-loop stall monitor: a QTimer that measures how late it fires.

If the GUI thread is blocked (a long computation, a held GIL), the timer's
next timeout arrives late; the lateness is the stall a user would feel as a
frozen window. `worst_ms` is the largest since the last `reset()`.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer


class StallMonitor(QObject):
    def __init__(self, parent: QObject | None = None, *, interval_ms: int = 20) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.worst_ms = 0.0
        self.ticks = 0
        self._late_sum = 0.0
        self._t0 = 0.0
        self.stalls: list[tuple[float, float]] = []  # (seconds since start, ms) above report_ms
        self.report_ms = 50.0

    def start(self) -> None:
        self.reset()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def reset(self) -> None:
        self._last = time.perf_counter()
        self.worst_ms = 0.0
        self.ticks = 0
        self._late_sum = 0.0
        self._t0 = self._last
        self.stalls = []

    @property
    def mean_ms(self) -> float:
        return self._late_sum / self.ticks if self.ticks else 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        late_ms = max(0.0, (now - self._last) * 1000.0 - self.interval_ms)
        self._last = now
        self.ticks += 1
        self._late_sum += late_ms
        self.worst_ms = max(self.worst_ms, late_ms)
        if late_ms > self.report_ms and len(self.stalls) < 1000:
            self.stalls.append((now - self._t0, late_ms))
