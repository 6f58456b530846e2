"""Live training losses: d/real, d/fake, rec, gp over the run's iterations, one line per scale."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

SERIES = (
    ("d/real", "#5ab0ff", "D on real"),
    ("d/fake", "#ff8a65", "D on fake"),
    ("rec", "#81c784", "reconstruction"),
    ("gp", "#ce93d8", "gradient penalty"),
)


class LossPlot(pg.PlotWidget):
    """Append TrainProgress losses; x = iterations over the whole run."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setMenuEnabled(False)
        self.getPlotItem().hideButtons()
        self.setLabel("bottom", "iteration (all scales)")
        self.setLabel("left", "loss")
        self.getAxis("left").enableAutoSIPrefix(False)
        self.showGrid(x=True, y=True, alpha=0.15)
        self.legend = self.addLegend(offset=(8, 8), labelTextSize="8pt",
                                     brush=pg.mkBrush(30, 31, 34, 210))
        self.curves: dict[str, pg.PlotDataItem] = {}
        for key, colour, label in SERIES:
            curve = self.plot([], [], pen=pg.mkPen(colour, width=1.5), name=label)
            curve.setClipToView(True)
            self.curves[key] = curve
        self._x: list[float] = []
        self._y: dict[str, list[float]] = {k: [] for k, _, _ in SERIES}
        self._scale_lines: list[pg.InfiniteLine] = []
        self._dirty = False
        self._anchor = pg.PlotDataItem([], [], pen=pg.mkPen(0, 0, 0, 0))  # invisible
        self.addItem(self._anchor)
        self._marked: set[int] = set()
        self.hint = pg.TextItem("The losses appear here while a model trains.", color="#888",
                                anchor=(0.5, 0.5))
        self.addItem(self.hint, ignoreBounds=True)
        self.hint.setPos(0.5, 0.5)
        self.setMinimumHeight(120)

    def clear_run(self) -> None:
        self._x.clear()
        for v in self._y.values():
            v.clear()
        for line in self._scale_lines:
            self.removeItem(line)
        self._scale_lines.clear()
        self._marked.clear()
        self.hint.show()
        for c in self.curves.values():
            c.setData([], [])
        self._anchor.setData([], [])

    def add_progress(self, scale: int, iteration: int, iterations: int,
                     losses: dict[str, float]) -> None:
        """A point at `iteration` of `scale` (x counts iterations over the whole run)."""
        self.add_point(scale * iterations + iteration, losses)

    def add_point(self, x: float, losses: dict[str, float]) -> None:
        if not self._x:
            self.hint.hide()
        self._x.append(x)
        for key in self._y:
            self._y[key].append(float(losses.get(key, np.nan)))
        self._dirty = True

    def mark_scales(self, rates: tuple[int, ...] | list[int], iterations: int) -> None:
        """A dashed line where each scale starts, labelled with its rate."""
        for s, rate in enumerate(rates):
            if s in self._marked:
                continue
            self._marked.add(s)
            line = pg.InfiniteLine(
                pos=s * iterations, angle=90, movable=False,
                pen=pg.mkPen("#666", style=pg.QtCore.Qt.PenStyle.DashLine),
                label=f"{rate} Hz", labelOpts={"position": 0.04, "color": "#999",
                                               "anchors": [(0, 1), (0, 1)]},
            )
            self.addItem(line, ignoreBounds=True)
            self._scale_lines.append(line)

    def refresh(self) -> None:
        """Redraw (called at most a few times per second by the window)."""
        if not self._dirty:
            return
        self._dirty = False
        x = np.asarray(self._x, dtype=np.float64)
        for key, curve in self.curves.items():
            curve.setData(x, np.asarray(self._y[key], dtype=np.float64), connect="finite")
        # an invisible point at x = 0 keeps the first scale's line in the auto range
        ys = [v for vals in self._y.values() for v in vals[:1] if np.isfinite(v)]
        if ys:
            self._anchor.setData([0.0], [ys[0]])

    @property
    def n_points(self) -> int:
        return len(self._x)
