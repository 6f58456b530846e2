"""The per-scale preview list (training) and the variation list (auditioning)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, Qt, QUrl, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from engine.project.variations import VariationRecord

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ID_ROLE = Qt.ItemDataRole.UserRole + 2
MAX_STARS = 5


def stars(rating: int | None) -> str:
    if rating is None:
        return "·" * MAX_STARS
    r = max(0, min(MAX_STARS, int(rating)))
    return "★" * r + "☆" * (MAX_STARS - r)


class SortItem(QTreeWidgetItem):
    """Sorts by SORT_ROLE data when present (numbers), else by text."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        col = self.treeWidget().sortColumn() if self.treeWidget() else 0
        a, b = self.data(col, SORT_ROLE), other.data(col, SORT_ROLE)
        if a is not None and b is not None:
            return float(a) < float(b)
        return self.text(col) < other.text(col)


# ---- previews -------------------------------------------------------------------------------


class PreviewList(QTreeWidget):
    """One row per finished scale, coarse to fine, with buttons to hear the sample or the
    reconstruction."""

    play_requested = Signal(int, str)  # scale, "sample" | "reconstruction"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Previews, coarse → fine", "Listen"])
        self.setRootIsDecorated(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.setToolTip("After each scale: a random sample from the scales trained so far, and the "
                        "model's reconstruction of your section at that scale.")
        self.setMinimumWidth(330)

    def add_scale(self, scale: int, n_scales: int, rate: int, seconds: float) -> None:
        took = f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
        item = QTreeWidgetItem([f"{scale + 1}/{n_scales} · {rate} Hz · {took}", ""])
        item.setData(0, ID_ROLE, scale)
        item.setToolTip(0, f"Scale {scale + 1} of {n_scales}: detail up to {rate // 2} Hz.")
        self.addTopLevelItem(item)
        box = QWidget()
        lay = QHBoxLayout(box)
        lay.setContentsMargins(2, 0, 2, 0)
        for kind, text, tip in (
            ("sample", "▶ sample", "A random sample from the scales trained so far"),
            ("reconstruction", "▶ rebuild", "The model's reconstruction of your section"),
        ):
            btn = QPushButton(text)
            btn.setToolTip(tip)
            btn.setObjectName(f"preview-{scale}-{kind}")
            btn.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            btn.clicked.connect(lambda _=False, s=scale, k=kind: self.play_requested.emit(s, k))
            lay.addWidget(btn)
        self.setItemWidget(item, 1, box)
        self.scrollToItem(item)


# ---- variations -------------------------------------------------------------------------------


# the verdict is last: it takes the width that is left, elided, with the whole text on hover
COLUMNS = ["#", "Seed", "Strength", "Length", "Rating", "Measure", "Verdict"]
COL_ID, COL_SEED, COL_STRENGTH, COL_LENGTH, COL_RATING, COL_METRIC, COL_VERDICT = range(7)


class VariationList(QTreeWidget):
    """Variations of the project; sortable by every column, rated with keys 0-5."""

    selected = Signal(object)  # VariationRecord or None
    rate_requested = Signal(str, int)  # id, stars
    activated_play = Signal()  # Enter / double click

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(COLUMNS)
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSortingEnabled(True)
        self.sortByColumn(COL_ID, Qt.SortOrder.AscendingOrder)
        hdr = self.header()
        hdr.setStretchLastSection(True)
        for c in range(len(COLUMNS) - 1):
            hdr.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        hdr.setSectionResizeMode(COL_VERDICT, QHeaderView.ResizeMode.Stretch)
        hdr.setMinimumSectionSize(40)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.metric_key: str | None = None
        self.scales_done = 0  # of the open project: gives old records' recipes their words
        self._items: dict[str, SortItem] = {}
        self.currentItemChanged.connect(self._on_current)
        self.itemDoubleClicked.connect(lambda *_: self.activated_play.emit())
        self.setToolTip("Arrow keys: choose · 0-5: rate · Space: play/stop · B: A/B with the "
                        "original · L: loop · Delete: remove · drag rows into a DAW or a folder")
        # drag rows out as audio files; the window says which file stands for each variation
        self.drag_files: Callable[[list[VariationRecord]], list[Path]] | None = None
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        # copy only: a "move" accepted by a file manager must never remove rows here
        self.setSupportedDragActions(Qt.DropAction.CopyAction)

    def mimeTypes(self) -> list[str]:  # noqa: N802 (Qt override)
        return ["text/uri-list"]

    def mimeData(self, items: Sequence[QTreeWidgetItem]) -> QMimeData:  # noqa: N802 (Qt override)
        data = QMimeData()
        recs = [it.data(0, Qt.ItemDataRole.UserRole) for it in items]
        paths = self.drag_files(recs) if self.drag_files is not None and recs else []
        data.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
        return data

    # ---- content -------------------------------------------------------------------------

    def set_records(self, records: list[VariationRecord], scales_done: int | None = None) -> None:
        if scales_done is not None:
            self.scales_done = scales_done
        current = self.current_id()
        self.setSortingEnabled(False)
        self.clear()
        self._items.clear()
        for r in records:
            self._add(r)
        self.setSortingEnabled(True)
        if current in self._items:
            self.setCurrentItem(self._items[current])

    def add_record(self, rec: VariationRecord, *, select: bool = False) -> None:
        if rec.id in self._items:
            self.update_record(rec)
        else:
            self.setSortingEnabled(False)
            self._add(rec)
            self.setSortingEnabled(True)
        if select or self.currentItem() is None:
            self.setCurrentItem(self._items[rec.id])
        self.scrollToItem(self._items[rec.id])

    def update_record(self, rec: VariationRecord) -> None:
        item = self._items.get(rec.id)
        if item is not None:
            self._fill(item, rec)
            if rec.id == self.current_id():
                self.selected.emit(rec)

    def remove_record(self, vid: str) -> None:
        item = self._items.pop(vid, None)
        if item is not None:
            idx = self.indexOfTopLevelItem(item)
            self.takeTopLevelItem(idx)

    def record(self, vid: str) -> VariationRecord | None:
        item = self._items.get(vid)
        return None if item is None else item.data(0, Qt.ItemDataRole.UserRole)

    def records(self) -> list[VariationRecord]:
        return [self.topLevelItem(i).data(0, Qt.ItemDataRole.UserRole)
                for i in range(self.topLevelItemCount())]

    def current_id(self) -> str | None:
        item = self.currentItem()
        return None if item is None else item.data(0, ID_ROLE)

    def current_record(self) -> VariationRecord | None:
        item = self.currentItem()
        return None if item is None else item.data(0, Qt.ItemDataRole.UserRole)

    def selected_records(self) -> list[VariationRecord]:
        return [it.data(0, Qt.ItemDataRole.UserRole) for it in self.selectedItems()]

    def select_id(self, vid: str) -> None:
        if vid in self._items:
            self.setCurrentItem(self._items[vid])

    def metric_keys(self) -> list[str]:
        keys: list[str] = []
        for r in self.records():
            for k in r.metrics:
                if k not in keys:
                    keys.append(k)
        return keys

    def set_metric(self, key: str | None) -> None:
        self.metric_key = key
        from engine.analysis.words import metric_help, metric_label

        self.headerItem().setText(COL_METRIC, metric_label(key) if key else "Measure")
        self.headerItem().setToolTip(COL_METRIC, metric_help(key) if key else "")
        for vid, item in self._items.items():
            rec = item.data(0, Qt.ItemDataRole.UserRole)
            self._fill_metric(item, rec)
            del vid

    # ---- items ---------------------------------------------------------------------------

    def _add(self, rec: VariationRecord) -> None:
        item = SortItem()
        self._items[rec.id] = item
        self._fill(item, rec)
        self.addTopLevelItem(item)

    def _fill(self, item: SortItem, rec: VariationRecord) -> None:
        item.setData(0, Qt.ItemDataRole.UserRole, rec)
        item.setData(0, ID_ROLE, rec.id)
        num = int(rec.id.lstrip("v") or 0)
        item.setText(COL_ID, str(num))
        item.setData(COL_ID, SORT_ROLE, num)
        item.setText(COL_SEED, str(rec.seed))
        item.setData(COL_SEED, SORT_ROLE, rec.seed)
        item.setText(COL_STRENGTH, rec.recipe_for(self.scales_done).word)
        item.setData(COL_STRENGTH, SORT_ROLE, -1 if rec.from_scale is None else rec.from_scale)
        item.setToolTip(COL_STRENGTH, rec.strength + (
            "" if rec.from_scale is None
            else f": keeps the original's first {rec.from_scale + 1} scale(s)"))
        item.setText(COL_LENGTH, f"{rec.seconds:.1f} s")
        item.setData(COL_LENGTH, SORT_ROLE, rec.seconds)
        item.setText(COL_RATING, stars(rec.rating))
        item.setData(COL_RATING, SORT_ROLE, -1 if rec.rating is None else rec.rating)
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(rec.created))
        item.setToolTip(COL_ID, f"{rec.id} · made {created}")
        if rec.verdict:
            item.setText(COL_VERDICT, rec.verdict)
            from engine.analysis.words import metric_label

            tip = "\n".join(f"{metric_label(k)}: {_fmt(v)}" for k, v in rec.metrics.items())
            item.setToolTip(COL_VERDICT, rec.verdict + ("\n\n" + tip if tip else ""))
        else:
            item.setText(COL_VERDICT, "…")
            item.setToolTip(COL_VERDICT, "No objective verdict yet (engine.analysis).")
        self._fill_metric(item, rec)

    def _fill_metric(self, item: SortItem, rec: VariationRecord) -> None:
        value = rec.metrics.get(self.metric_key) if self.metric_key else None
        item.setText(COL_METRIC, "" if value is None else _fmt(value))
        item.setData(COL_METRIC, SORT_ROLE, math.inf if value is None else float(value))

    # ---- events --------------------------------------------------------------------------

    def _on_current(self, current: QTreeWidgetItem | None, _prev: Any) -> None:
        self.selected.emit(None if current is None else current.data(0, Qt.ItemDataRole.UserRole))

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        key = event.key()
        if Qt.Key.Key_0 <= key <= Qt.Key.Key_5 and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            vid = self.current_id()
            if vid is not None:
                self.rate_requested.emit(vid, int(key - Qt.Key.Key_0))
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.activated_play.emit()
            return
        super().keyPressEvent(event)


def _fmt(v: float) -> str:
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    if abs(v) >= 100:
        return f"{v:.0f}"
    if v == 0 or abs(v) >= 0.01:
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
    return f"{v:.2e}"
