"""songwriter-app [CLIP | PROJECT_FOLDER]: the desktop app.

main(): logging, an excepthook that shows unexpected errors in a dialog, the
QApplication and the main window. With no argument the bundled demo clip opens.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from songwriter_app.main_window import MainWindow

log = logging.getLogger("songwriter_app")


def _log_path() -> Path | None:
    try:
        from platformdirs import user_log_dir

        folder = Path(user_log_dir("SongwriterAssistant", appauthor=False))
        folder.mkdir(parents=True, exist_ok=True)
        return folder / "songwriter-app.log"
    except OSError:
        return None


def setup_logging(verbose: bool = False) -> Path | None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    path = _log_path()
    if path is not None:
        try:
            handlers.append(logging.FileHandler(path, encoding="utf-8"))
        except OSError:
            path = None
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    return path


def install_excepthook(log_file: Path | None) -> None:
    """Unexpected exceptions on the GUI thread: log them and show a dialog; the app goes on."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error:\n%s", text)
        try:
            from PySide6.QtWidgets import QApplication, QMessageBox

            if QApplication.instance() is None:
                return
            box = QMessageBox(QMessageBox.Icon.Critical, "Something went wrong",
                              f"An unexpected error happened: {exc_type.__name__}: {exc}\n\n"
                              "Your projects are saved as you go. "
                              + (f"Details are in {log_file}." if log_file else ""))
            box.setDetailedText(text)
            box.exec()
        except Exception:  # never raise from the hook
            sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = hook


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="songwriter-app", description=__doc__.splitlines()[0])
    p.add_argument("path", nargs="?", help="an audio file (wav, flac, ogg, mp3, aiff) or a "
                   "project folder; default: the bundled demo clip")
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default)")
    p.add_argument("--projects-dir", default=None, help="where new projects are created")
    p.add_argument("--no-probe", action="store_true", help="do not measure preset costs")
    p.add_argument("--no-warm-up", action="store_true",
                   help="skip the background warm-up of the engine at start")
    p.add_argument("-v", "--verbose", action="store_true")
    p.add_argument("--check", action="store_true",
                   help="check that the installed packages load together, then exit")
    p.add_argument("--smoke-test", action="store_true",
                   help="open the window and the clip (default: the demo), print what was "
                   "opened and exit: 0 when it opened within 120 s, 1 otherwise")
    # Qt's own options (e.g. -platform) are left to QApplication
    args, _unknown = p.parse_known_args(argv)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.check:
        from songwriter_app.selfcheck import main as selfcheck

        return selfcheck()
    log_file = setup_logging(args.verbose)
    install_excepthook(log_file)

    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from songwriter_app.main_window import APP_TITLE, MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("SongwriterAssistant")
    app.setApplicationDisplayName(APP_TITLE)
    app.setOrganizationName("SongwriterAssistant")
    app.setDesktopFileName("songwriter-assistant")
    icon = Path(__file__).resolve().parent / "songwriter-assistant.svg"  # package data
    if icon.is_file():
        app.setWindowIcon(QIcon(str(icon)))
    window = MainWindow(
        device=args.device,
        projects_dir=Path(args.projects_dir) if args.projects_dir else None,
        auto_probe=not args.no_probe,
        warm_up=not args.no_warm_up,
    )
    window.show()
    target = Path(args.path).expanduser() if args.path else None
    if target is None or not window.open_path(target):
        window.open_demo()
    if args.smoke_test:
        _quit_when_open(app, window)
    return app.exec()


def _quit_when_open(app: QApplication, window: MainWindow) -> None:
    """--smoke-test: exit 0 as soon as a clip is on screen, 1 after 120 s without one."""
    from PySide6.QtCore import QTimer

    started = time.monotonic()

    def poll() -> None:
        clip = window.projects.clip
        if clip is not None:
            print(f"opened {clip.path} in {window.windowTitle()!r}", flush=True)
            window.close()
            app.exit(0)
        elif time.monotonic() - started > 120:
            print("the clip did not open within 120 s", file=sys.stderr, flush=True)
            window.close()
            app.exit(1)

    timer = QTimer(window)
    timer.timeout.connect(poll)
    timer.start(100)


if __name__ == "__main__":
    sys.exit(main())
