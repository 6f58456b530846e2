"""python -m songwriter_app.study take|results|build [STUDY_DIR] [--rater NAME]

Opens one study window on its own (without the main window): rater mode, the results view,
or the New Study dialog.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m songwriter_app.study",
                                description="Listening-study windows of Songwriter Assistant.")
    p.add_argument("mode", choices=["take", "results", "build"])
    p.add_argument("study", nargs="?", help="study folder (take, results)")
    p.add_argument("--rater", help="rater name or code (take): start or resume at once")
    p.add_argument("--project", action="append", default=[], help="project folder (build)")
    args = p.parse_args(argv)
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

    from pathlib import Path

    from PySide6.QtWidgets import QApplication

    from engine.errors import EngineError
    from engine.study import Study

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Songwriter Assistant")
    if args.mode == "build":
        from songwriter_app.study.builder import StudyBuilderDialog

        dlg = StudyBuilderDialog(projects=[Path(x) for x in args.project])
        dlg.show()
        return app.exec()
    if not args.study:
        p.error(f"{args.mode} needs a STUDY folder")
    try:
        study = Study.load(args.study)
    except EngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.mode == "take":
        from songwriter_app.study.rater import RaterWindow

        w = RaterWindow(study, rater=args.rater)
    else:
        from songwriter_app.study.results import ResultsWindow

        w = ResultsWindow(study)
    w.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
