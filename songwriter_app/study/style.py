"""The calm look of the study windows: one stylesheet and a drawn play button."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QAbstractButton, QWidget

ACCENT = "#3d6b8f"
ACCENT_DARK = "#2f5673"
BACKGROUND = "#f5f3ee"

STYLESHEET = f"""
QWidget#studyRoot {{ background: {BACKGROUND}; }}
QWidget#card {{ background: transparent; }}
QScrollArea {{ background: transparent; border: none; }}
QScrollArea > QWidget > QWidget {{ background: transparent; }}
QLabel {{ color: #2b2b2b; font-size: 11pt; }}
QLabel#title {{ font-size: 20pt; font-weight: 600; color: #23313d; }}
QLabel#progressText {{ font-size: 14pt; font-weight: 600; color: #23313d; }}
QLabel#questionText {{ font-size: 12.5pt; font-weight: 600; color: #262626; }}
QLabel#hint {{ color: #6b6b6b; font-size: 10.5pt; }}
QLabel#notice {{ color: #8a5a00; background: #fff4d6; border: 1px solid #ecd59a;
                 border-radius: 6px; padding: 8px 10px; font-size: 10.5pt; }}
QLabel#error {{ color: #a32020; font-size: 10.5pt; }}
QLabel#saved {{ color: #5d7f5d; font-size: 10pt; }}
QLabel#timeText {{ color: #555; font-size: 11pt; }}
QFrame#line {{ background: #dedad0; max-height: 1px; min-height: 1px; border: none; }}
QPushButton {{ font-size: 11.5pt; }}
QPushButton#choice, QPushButton#scale {{
    background: white; color: #2b2b2b; border: 1px solid #bdb7aa; border-radius: 10px;
    padding: 6px 16px; font-size: 12pt; }}
QPushButton#scale {{ padding: 0px; }}
QPushButton#choice:hover, QPushButton#scale:hover {{ border-color: {ACCENT}; }}
QPushButton#choice:checked, QPushButton#scale:checked {{
    background: {ACCENT}; color: white; border-color: {ACCENT}; }}
QPushButton#choice:disabled, QPushButton#scale:disabled {{
    background: #efede8; color: #a9a59c; border-color: #d8d4ca; }}
QPushButton#nav {{ background: white; color: #2b2b2b; border: 1px solid #bdb7aa;
    border-radius: 8px; padding: 9px 26px; font-size: 12pt; }}
QPushButton#primary {{ background: {ACCENT}; color: white; border: 1px solid {ACCENT};
    border-radius: 8px; padding: 9px 30px; font-size: 12pt; font-weight: 600; }}
QPushButton#primary:hover {{ background: {ACCENT_DARK}; }}
QPushButton#nav:disabled, QPushButton#primary:disabled {{
    background: #e9e6df; color: #a9a59c; border-color: #d8d4ca; }}
QPushButton#link {{ background: transparent; color: {ACCENT}; border: none; font-size: 11.5pt;
    padding: 4px 10px; }}
QPushButton#link:disabled {{ color: #b0aca3; }}
QLineEdit, QPlainTextEdit {{ background: white; border: 1px solid #c9c4b8; border-radius: 6px;
    padding: 4px 8px; font-size: 11.5pt; color: #222; }}
QLineEdit:focus, QPlainTextEdit:focus {{ border-color: {ACCENT}; }}
QLineEdit:disabled, QPlainTextEdit:disabled {{ background: #efede8; color: #a9a59c;
    border-color: #d8d4ca; }}
QProgressBar#pageProgress, QProgressBar#playProgress {{ background: #e2ded5; border: none;
    border-radius: 3px; max-height: 6px; min-height: 6px; }}
QProgressBar#pageProgress::chunk, QProgressBar#playProgress::chunk {{
    background: {ACCENT}; border-radius: 3px; }}
"""


class PlayButton(QAbstractButton):
    """A large round play/stop button drawn with QPainter (no font glyphs needed)."""

    def __init__(self, diameter: int = 112, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._d = diameter
        self._playing = False
        self.setFixedSize(diameter, diameter)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip("Play / stop (Space)")
        self.setAccessibleName("Play")

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self._d, self._d)

    def set_playing(self, playing: bool) -> None:
        self._playing = playing
        self.setAccessibleName("Stop" if playing else "Play")
        self.update()

    @property
    def playing(self) -> bool:
        return self._playing

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(3, 3, -3, -3)
        if not self.isEnabled():
            fill = QColor("#c9c5bc")
        elif self.isDown():
            fill = QColor(ACCENT_DARK)
        else:
            fill = QColor(ACCENT)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(fill)
        p.drawEllipse(r)
        if self.hasFocus():
            p.setPen(QPen(QColor("#9cc0dc"), 3))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(r.adjusted(-1.5, -1.5, 1.5, 1.5))
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("white"))
        c = r.center()
        s = r.width() * 0.2
        if self._playing:
            p.drawRoundedRect(QRectF(c.x() - s, c.y() - s, 2 * s, 2 * s), 4, 4)
        else:
            path = QPainterPath()
            path.moveTo(QPointF(c.x() - s * 0.8, c.y() - s * 1.15))
            path.lineTo(QPointF(c.x() + s * 1.25, c.y()))
            path.lineTo(QPointF(c.x() - s * 0.8, c.y() + s * 1.15))
            path.closeSubpath()
            p.drawPath(path)
        p.end()
