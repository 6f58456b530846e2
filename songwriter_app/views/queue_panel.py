"""The Queue panel: the training queue's jobs with their state, progress and time left, and
the buttons that act on them. It shows rows the controller gives it and sends the user's
intents as signals; it knows nothing about training or the queue file."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Section", "Preset", "State", "Progress", "Time left", "Project")


@dataclass(frozen=True)
class QueueRow:
    """One job as the panel shows it."""

    job_id: str
    section: str  # "song.wav 0.0-10.0 s"
    preset: str
    state: str  # queued / running / done / failed / cancelled / interrupted / cancelling
    progress: str  # "scale 3 of 8 · it 120/350"
    fraction: float  # 0..1
    eta: str  # "4:12" or ""
    project: str
    error: str = ""


class QueuePanel(QWidget):
    add_section_requested = Signal()
    add_files_requested = Signal()
    start_requested = Signal()
    stop_requested = Signal()
    cancel_requested = Signal(str)  # job id
    retry_requested = Signal(str)
    remove_requested = Signal(str)
    move_requested = Signal(str, int)  # job id, -1 up / +1 down
    open_requested = Signal(str)  # job id (a finished project)
    selection_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("queueTable")
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(COLUMNS)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemSelectionChanged.connect(self.selection_changed)
        self.table.itemDoubleClicked.connect(lambda *_: self._emit_selected(self.open_requested))

        def button(text: str, name: str, tip: str) -> QPushButton:
            b = QPushButton(text)
            b.setObjectName(name)
            b.setToolTip(tip)
            return b

        self.add_section_btn = button("Add current section", "queueAddSection",
                                      "Queue the section chosen in the waveform, with the preset "
                                      "chosen in the Train tab.")
        self.add_files_btn = button("Add files…", "queueAddFiles",
                                    "Queue whole files (from 0 s, as long as the preset allows).")
        self.start_btn = button("Start queue", "queueStart",
                                "Run the queued jobs one after another in the background; a job "
                                "that was interrupted resumes from its last finished scale.")
        self.stop_btn = button("Stop queue", "queueStop",
                               "Stop after the current iteration; the job resumes next time.")
        self.cancel_btn = button("Cancel job", "queueCancel",
                                 "Cancel the selected job; its finished scales are kept.")
        self.retry_btn = button("Retry", "queueRetry",
                                "Queue a failed or cancelled job again; it resumes.")
        self.remove_btn = button("Remove", "queueRemove",
                                 "Remove the job from the queue (its project folder stays).")
        self.up_btn = button("Up", "queueUp", "Run the selected job earlier.")
        self.down_btn = button("Down", "queueDown", "Run the selected job later.")
        self.open_btn = button("Open project", "queueOpen", "Open the finished project.")
        self.status = QLabel("The queue is empty.")
        self.status.setObjectName("queueStatus")
        self.status.setWordWrap(True)

        self.add_section_btn.clicked.connect(self.add_section_requested)
        self.add_files_btn.clicked.connect(self.add_files_requested)
        self.start_btn.clicked.connect(self.start_requested)
        self.stop_btn.clicked.connect(self.stop_requested)
        self.cancel_btn.clicked.connect(lambda: self._emit_selected(self.cancel_requested))
        self.retry_btn.clicked.connect(lambda: self._emit_selected(self.retry_requested))
        self.remove_btn.clicked.connect(lambda: self._emit_selected(self.remove_requested))
        self.open_btn.clicked.connect(lambda: self._emit_selected(self.open_requested))
        self.up_btn.clicked.connect(lambda: self._emit_move(-1))
        self.down_btn.clicked.connect(lambda: self._emit_move(+1))

        buttons = QGridLayout()
        for i, b in enumerate((self.add_section_btn, self.add_files_btn, self.start_btn,
                               self.stop_btn, self.open_btn)):
            buttons.addWidget(b, 0, i)
        for i, b in enumerate((self.cancel_btn, self.retry_btn, self.remove_btn, self.up_btn,
                               self.down_btn)):
            buttons.addWidget(b, 1, i)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.table)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        self._rows: list[QueueRow] = []
        self.set_running(False)

    # ---- intents -------------------------------------------------------------------------------

    def set_rows(self, rows: list[QueueRow]) -> None:
        """Show these jobs (keeps the selection on the same job)."""
        keep = self.selected_id()
        if rows == self._rows:
            return
        self._rows = list(rows)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            pct = f" ({row.fraction * 100:.0f}%)" if row.state in ("running", "interrupted") \
                else ""
            cells = (row.section, row.preset, row.state, row.progress + pct, row.eta, row.project)
            for c, text in enumerate(cells):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(r, c, item)
                item.setText(text)
                item.setData(Qt.ItemDataRole.UserRole, row.job_id)
                item.setToolTip(row.error or row.project)
        if keep is not None:
            for r, row in enumerate(rows):
                if row.job_id == keep:
                    self.table.selectRow(r)
        self.selection_changed.emit()

    def rows(self) -> list[QueueRow]:
        return list(self._rows)

    def select_job(self, job_id: str) -> None:
        for r, row in enumerate(self._rows):
            if row.job_id == job_id:
                self.table.selectRow(r)

    def selected_id(self) -> str | None:
        items = self.table.selectedItems()
        return str(items[0].data(Qt.ItemDataRole.UserRole)) if items else None

    def selected_row(self) -> QueueRow | None:
        job_id = self.selected_id()
        return next((r for r in self._rows if r.job_id == job_id), None)

    def set_running(self, running: bool) -> None:
        self.start_btn.setEnabled(not running)
        self.stop_btn.setEnabled(running)
        self._update_buttons()

    def set_can_add_section(self, can: bool) -> None:
        self.add_section_btn.setEnabled(can)

    def show_status(self, text: str) -> None:
        self.status.setText(text)

    def _update_buttons(self) -> None:
        row = self.selected_row()
        state = row.state if row else ""
        self.cancel_btn.setEnabled(state in ("queued", "running", "interrupted"))
        self.retry_btn.setEnabled(state in ("failed", "cancelled"))
        self.remove_btn.setEnabled(row is not None and state not in ("running", "cancelling"))
        self.up_btn.setEnabled(row is not None)
        self.down_btn.setEnabled(row is not None)
        self.open_btn.setEnabled(state == "done")

    # ---- internals -----------------------------------------------------------------------------

    def _emit_selected(self, signal: Signal) -> None:
        job_id = self.selected_id()
        if job_id is not None:
            signal.emit(job_id)

    def _emit_move(self, step: int) -> None:
        job_id = self.selected_id()
        if job_id is not None:
            self.move_requested.emit(job_id, step)
