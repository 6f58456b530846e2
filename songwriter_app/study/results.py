"""Study results: bar charts with 95 % intervals and tables, merged over every session file.

Left chart: the share of each condition judged "real" (Wilson interval; the dashed line is
50 %, where generated material is indistinguishable from real). Right chart: musicality mean
with its t-interval. Tables: conditions, raters (hidden-reference check), written comments.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from engine.errors import EngineError
from engine.study import (
    REAL,
    Session,
    Study,
    question_by_role,
    write_results_csv,
    write_results_json,
)
from engine.study.stats import ALL_GENERATED, StudySummary, analyse, format_p

REAL_COLOR = "#7a9a6b"
GEN_COLOR = "#3d6b8f"
ALL_COLOR = "#8c8c8c"


def _pct(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{100 * x:.0f}%"


def _num(x: float) -> str:
    return "-" if not math.isfinite(x) else f"{x:.1f}"


class _BarChart(pg.PlotWidget):
    """Horizontal bars with interval whiskers; categories top to bottom on the left axis."""

    def __init__(self, title: str, x_label: str, x_range: tuple[float, float],
                 reference: float | None = None) -> None:
        super().__init__(background="w")
        self._x_range = x_range
        self._reference = reference
        self.setTitle(title, color="#23313d", size="11pt")
        pi = self.getPlotItem()
        pi.setMenuEnabled(False)
        pi.hideButtons()
        self.setMouseEnabled(x=False, y=False)
        pi.showGrid(x=True, y=False, alpha=0.25)
        pi.setLabel("bottom", x_label, color="#444")
        for name in ("left", "bottom"):
            ax = pi.getAxis(name)
            ax.setPen(pg.mkPen("#999"))
            ax.setTextPen(pg.mkPen("#333"))
        self.setMinimumHeight(220)

    def set_data(self, labels: list[str], values: list[float], lows: list[float],
                 highs: list[float], colors: list[str]) -> None:
        pi = self.getPlotItem()
        pi.clear()
        n = len(labels)
        ys = np.arange(n, dtype=float)[::-1]  # first category on top
        vals = np.array([v if math.isfinite(v) else 0.0 for v in values])
        if n:
            bars = pg.BarGraphItem(
                x0=np.zeros(n), y=ys, width=vals, height=0.6,
                brushes=[pg.mkBrush(QColor(c)) for c in colors], pens=[pg.mkPen(None)] * n,
            )
            pi.addItem(bars)
            ok = np.array([math.isfinite(lo) and math.isfinite(hi) for lo, hi in
                           zip(lows, highs, strict=True)])
            if ok.any():
                lo = np.array(lows, dtype=float)[ok]
                hi = np.array(highs, dtype=float)[ok]
                err = pg.ErrorBarItem(
                    x=vals[ok], y=ys[ok], left=np.clip(vals[ok] - lo, 0, None),
                    right=np.clip(hi - vals[ok], 0, None), beam=0.22,
                    pen=pg.mkPen("#222", width=1.6),
                )
                pi.addItem(err)
            for y, v, val in zip(ys, values, vals, strict=True):
                text = pg.TextItem("n/a" if not math.isfinite(v) else self._fmt(v),
                                   color="#333", anchor=(0, 0.5))
                text.setPos(float(val) + 0.01 * (self._x_range[1] - self._x_range[0]), y + 0.33)
                f = QFont()
                f.setPointSizeF(8.5)
                text.setFont(f)
                pi.addItem(text)
        if self._reference is not None:
            pi.addItem(pg.InfiniteLine(pos=self._reference, angle=90,
                                       pen=pg.mkPen("#b04a3a", width=1.2,
                                                    style=Qt.PenStyle.DashLine)))
        left = pi.getAxis("left")
        left.setTicks([[(float(y), lab) for y, lab in zip(ys, labels, strict=True)]])
        fm = QFontMetrics(left.font() if hasattr(left, "font") else QFont())
        width = max([fm.horizontalAdvance(lab) for lab in labels] + [40]) + 16
        left.setWidth(min(width, 360))
        lo_x, hi_x = self._x_range
        span = hi_x - lo_x
        if hi_x <= 1.0:
            ticks = [(v, f"{100 * v:.0f}%") for v in np.linspace(lo_x, hi_x, 5)]
        else:
            step = 1 if span <= 12 else 2 if span <= 24 else 5
            ticks = [(float(v), f"{v:g}") for v in np.arange(lo_x, hi_x + 0.5, step)]
        pi.getAxis("bottom").setTicks([ticks])
        pi.setXRange(lo_x - 0.04 * span, hi_x + 0.05 * span, padding=0)
        pi.setYRange(-0.6, max(n - 0.4, 0.6), padding=0)

    def _fmt(self, v: float) -> str:
        return _pct(v) if self._x_range[1] <= 1.0 else _num(v)


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.verticalHeader().setVisible(False)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setAlternatingRowColors(True)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    t.horizontalHeader().setStretchLastSection(True)
    return t


def _fill(t: QTableWidget, rows: list[list[Any]], *, numeric_from: int = 1) -> None:
    t.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            it = QTableWidgetItem("" if v is None else str(v))
            if j >= numeric_from and not isinstance(v, str | type(None)) or (
                    isinstance(v, str) and j >= numeric_from and len(v) < 14):
                it.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            t.setItem(i, j, it)


class ResultsWindow(QWidget):
    """Results of one study: every session in its sessions/ folder plus any added files."""

    def __init__(self, study: Study, *, extra_sessions: list[Path] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.study = study
        self.extra: list[Path] = list(extra_sessions or [])
        self.sessions: list[Session] = []
        self.summary: StudySummary | None = None
        self.setWindowTitle(f"Study results: {study.title}")
        self.resize(1180, 820)

        top = QHBoxLayout()
        self.heading = QLabel(study.title)
        f = self.heading.font()
        f.setPointSizeF(14)
        f.setBold(True)
        self.heading.setFont(f)
        top.addWidget(self.heading)
        self.counts = QLabel("")
        top.addWidget(self.counts, 1)
        top.addWidget(QLabel("Flag raters below"))
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0, 100)
        self.threshold.setSuffix(" %")
        self.threshold.setDecimals(0)
        self.threshold.setValue(100 * float(study.settings.get("real_check_threshold", 0.5)))
        self.threshold.setToolTip("Share of real excerpts a rater must judge real")
        top.addWidget(self.threshold)
        self.exclude = QCheckBox("Leave flagged raters out")
        top.addWidget(self.exclude)
        self.add_button = QPushButton("Add session files...")
        self.refresh_button = QPushButton("Refresh")
        self.csv_button = QPushButton("Export CSV...")
        self.json_button = QPushButton("Export JSON...")
        for b in (self.add_button, self.refresh_button, self.csv_button, self.json_button):
            top.addWidget(b)

        self.share_chart = _BarChart("Judged real (95% Wilson interval)", "share judged real",
                                     (0.0, 1.0), reference=0.5)
        mq = question_by_role(study.questions, "musicality")
        rng = (float(mq["min"]), float(mq["max"])) if mq else (0.0, 10.0)
        self.music_chart = _BarChart("Musicality (mean, 95% t-interval)", "rating", rng)
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.share_chart)
        charts.addWidget(self.music_chart)
        charts.setSizes([600, 560])

        ins = question_by_role(study.questions, "inspiring")
        self.inspiring_options: list[str] = list(ins["options"]) if ins else []
        self.conditions_table = _table(
            ["Condition", "Stimuli", "Ratings", "Judged real", "95% interval", "p (vs 50%)",
             "Musicality", "95% interval"] + [f"Inspiring: {o}" for o in self.inspiring_options])
        self.raters_table = _table(["Rater", "State", "Answered", "Real judged real", "Share",
                                    "Flag"])
        self.comments_table = _table(["Rater", "Sample", "Truth", "Question", "Answer"])
        self.comments_table.horizontalHeader().setSectionResizeMode(
            4, QHeaderView.ResizeMode.Stretch)
        self.comments_table.setWordWrap(True)
        tabs = QTabWidget()
        tabs.addTab(self.conditions_table, "Conditions")
        tabs.addTab(self.raters_table, "Raters")
        tabs.addTab(self.comments_table, "Comments")
        self.tabs = tabs

        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #a32020;")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(charts)
        split.addWidget(tabs)
        split.setSizes([420, 360])
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.message)
        lay.addWidget(split, 1)

        self.add_button.clicked.connect(self._add_files)
        self.refresh_button.clicked.connect(self.refresh)
        self.csv_button.clicked.connect(lambda: self._export("csv"))
        self.json_button.clicked.connect(lambda: self._export("json"))
        self.threshold.valueChanged.connect(lambda _v: self.refresh())
        self.exclude.toggled.connect(lambda _v: self.refresh())
        self.refresh()

    # --- data
    def refresh(self) -> None:
        try:
            self.sessions = self.study.load_sessions(self.extra)
        except EngineError as exc:
            self.message.setText(str(exc))
            self.sessions = []
        else:
            self.message.setText("")
        self.summary = analyse(self.study, self.sessions, threshold=self.threshold.value() / 100,
                               exclude_flagged=self.exclude.isChecked())
        self._show()

    def add_session_files(self, paths: list[str | os.PathLike[str]]) -> None:
        self.extra.extend(Path(p) for p in paths)
        self.refresh()

    def _add_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add session files", str(self.study.root),
                                                "Session files (*.json)")
        if files:
            self.add_session_files(files)

    def _export(self, kind: str) -> None:
        default = self.study.root / f"results.{kind}"
        path, _ = QFileDialog.getSaveFileName(self, f"Export {kind.upper()}", str(default),
                                              f"{kind.upper()} (*.{kind})")
        if path:
            try:
                self.export(kind, path)
            except EngineError as exc:
                QMessageBox.warning(self, "Cannot export", str(exc))

    def export(self, kind: str, path: str | os.PathLike[str]) -> Path:
        if kind == "csv":
            return write_results_csv(path, self.study, self.sessions)
        return write_results_json(path, self.study, self.sessions, self.summary)

    # --- display
    def _show(self) -> None:
        sm = self.summary
        assert sm is not None
        done = sum(s.completed for s in self.sessions)
        self.counts.setText(f"   {len(self.sessions)} rater(s), {done} finished, "
                            f"{sm.n_rows} rating(s)")
        conds = [c for c in sm.conditions if c.n_ratings or c.condition in (REAL, ALL_GENERATED)]
        labels = [c.condition for c in conds]
        colors = [REAL_COLOR if c.condition == REAL else ALL_COLOR
                  if c.condition == ALL_GENERATED else GEN_COLOR for c in conds]
        self.share_chart.set_data(labels, [c.share_real for c in conds],
                                  [c.share_low for c in conds], [c.share_high for c in conds],
                                  colors)
        self.music_chart.set_data(labels, [c.musicality_mean for c in conds],
                                  [c.musicality_low for c in conds],
                                  [c.musicality_high for c in conds], colors)
        rows = []
        for c in sm.conditions:
            rows.append([
                c.condition, c.n_stimuli, c.n_ratings,
                f"{c.judged_real} ({_pct(c.share_real)})" if c.n_ratings else "-",
                f"{_pct(c.share_low)} - {_pct(c.share_high)}" if c.n_ratings else "-",
                format_p(c.p_value),
                _num(c.musicality_mean),
                f"{_num(c.musicality_low)} - {_num(c.musicality_high)}"
                if math.isfinite(c.musicality_low) else "-",
                *[c.inspiring.get(o, 0) for o in self.inspiring_options],
            ])
        _fill(self.conditions_table, rows)
        rrows = []
        for r in sm.raters:
            state = "finished" if r.completed else "in progress"
            flag = ("below threshold" + (", left out" if r.session_id in sm.excluded_raters
                                         else "")) if r.flagged else ""
            rrows.append([r.rater, state, f"{r.answered} / {r.presented}",
                          f"{r.real_judged_real} / {r.real_rated}" if r.real_rated else "-",
                          _pct(r.share_real_judged_real), flag])
        _fill(self.raters_table, rrows)
        for i, r in enumerate(sm.raters):
            if r.flagged:
                for j in range(self.raters_table.columnCount()):
                    item = self.raters_table.item(i, j)
                    if item is not None:
                        item.setBackground(QColor("#fbe3df"))
        self._fill_comments()

    def _fill_comments(self) -> None:
        text_qs = [q for q in self.study.questions if q["kind"] == "text"]
        other_qs = [q for q in self.study.questions if q.get("other_option")]
        rows: list[list[Any]] = []
        for s in self.sessions:
            for i, code in enumerate(s.order, 1):
                st = self.study.stimulus(code)
                r = s.response(code)
                truth = st.condition
                for q in text_qs:
                    v = r["answers"].get(q["id"])
                    if v:
                        rows.append([s.rater, i, truth, q["text"], v])
                for q in other_qs:
                    v = r["other"].get(q["id"])
                    if v:
                        rows.append([s.rater, i, truth, f"{q['text']} (other)", v])
            for q in self.study.final_questions:
                v = s.final_answers().get(q["id"])
                if v:
                    rows.append([s.rater, "final", "", q["text"], v])
        _fill(self.comments_table, rows, numeric_from=99)
        self.comments_table.resizeRowsToContents()
