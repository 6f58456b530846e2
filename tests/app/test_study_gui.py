"""Listening study (app): rater pages, resume, damaged files, results view, builder, menu, screenshots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QLabel, QMainWindow, QPushButton, QWidget  # noqa: E402

from engine.study import (  # noqa: E402
    GenerateSpec,
    ProjectSelection,
    Study,
    StudySpec,
    read_results_csv,
)
from engine.study.build import build_study  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "screenshots"


class FakePlayer:
    """The study player interface without sound: tests move time on with advance()."""

    available = True
    reason = ""

    def __init__(self) -> None:
        self._pos = 0.0
        self._dur = 0.0
        self._playing = False
        self.plays = 0

    def load(self, audio: np.ndarray, sample_rate: int, **_kw: object) -> None:
        self._dur = np.asarray(audio).shape[-1] / sample_rate
        self._pos = 0.0
        self._playing = False

    def play(self, start: float | None = None) -> None:
        self._pos = start or 0.0
        self._playing = True
        self.plays += 1

    def stop(self) -> None:
        self._playing = False

    def poll(self) -> None:
        pass

    def close(self) -> None:
        self._playing = False

    def advance(self, seconds: float) -> None:
        if self._playing:
            self._pos = min(self._dur, self._pos + seconds)
            if self._pos >= self._dur:
                self._playing = False

    @property
    def position(self) -> float:
        return self._pos

    @property
    def duration(self) -> float:
        return self._dur

    @property
    def is_playing(self) -> bool:
        return self._playing


@pytest.fixture(scope="module")
def built_study(_tiny_project_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gui-study")
    projects = []
    for name in ("alpha", "beta"):
        shutil.copytree(_tiny_project_master, root / name)
        projects.append(root / name)
    spec = StudySpec(
        title="Blind listening test",
        projects=[ProjectSelection(path=p, generate=[GenerateSpec(count=2, seed=7 * i),
                                                     GenerateSpec(count=1, seed=50, from_scale=1)],
                                   real_training=1, real_other=1)
                  for i, p in enumerate(projects)],
        stimuli_per_rater=6, seed=11,
    )
    build_study(spec, root / "study")
    return root / "study"


@pytest.fixture()
def study(built_study: Path, tmp_path: Path) -> Study:
    dst = tmp_path / "study"
    shutil.copytree(built_study, dst)
    return Study.load(dst)


def _window(qtbot, study: Study, player: FakePlayer | None = None, rater: str | None = None):
    from songwriter_app.study.rater import RaterWindow

    w = RaterWindow(study, player=player or FakePlayer(), rater=rater)
    qtbot.addWidget(w)
    w.show()
    return w


def _listen(qtbot, w, *, key: bool = True) -> None:
    """Play the current sample to its end (Space, or the button)."""
    if key:
        qtbot.keyClick(w.page.play, Qt.Key.Key_Space)
    else:
        qtbot.mouseClick(w.page.play, Qt.MouseButton.LeftButton)
    assert w.player.is_playing
    w.player.advance(100.0)
    qtbot.waitUntil(lambda: w._play_code is None, timeout=2000)


def _answer_page(qtbot, w, *, fake: bool, music: int, inspiring: str = "Yes",
                 feedback: str | None = None) -> None:
    p = w.page.widgets
    p["real_or_fake"].choose("Fake" if fake else "Real")
    if fake:
        assert p["fake_ease"].isVisible()
        p["fake_ease"].choose("Difficult")
    else:
        assert not p["fake_ease"].isVisible()
    p["musicality"].choose(music)
    p["inspiring"].choose(inspiring)
    if feedback:
        p["feedback"].type_text(feedback)


def _visible_texts(w: QWidget) -> str:
    parts = [w.windowTitle()]
    for lab in w.findChildren(QLabel):
        if lab.isVisible():
            parts.append(lab.text())
    for b in w.findChildren(QPushButton):
        if b.isVisible():
            parts.append(b.text())
    return "\n".join(parts)


def test_rater_takes_the_whole_study_in_the_gui(qtbot, study: Study) -> None:
    w = _window(qtbot, study)
    assert w.stack.currentWidget() is w.start_page
    assert not w.start_page.start.isEnabled()
    qtbot.keyClicks(w.start_page.name, "R07")
    qtbot.mouseClick(w.start_page.start, Qt.MouseButton.LeftButton)
    assert w.stack.currentWidget() is w.page
    s = w.session
    assert s is not None and s.n == 6
    codes = {x.code for x in study.stimuli}
    for i in range(s.n):
        assert w.page.progress_text.text() == f"Sample {i + 1} of 6"
        # nothing on the page gives the file name or code away
        shown = _visible_texts(w)
        assert ".wav" not in shown and not any(c in shown for c in codes)
        assert not w.page.questions_box.isEnabled()  # must play to the end first
        assert not w.page.next.isEnabled()
        _listen(qtbot, w, key=i % 2 == 0)
        assert w.page.questions_box.isEnabled()
        _answer_page(qtbot, w, fake=i % 2 == 1, music=i + 3,
                     feedback="sounds like a demo" if i == 0 else None)
        assert w.page.next.isEnabled()
        # the answer is on disk the moment it is given
        on_disk = json.loads(s.path.read_text())["responses"][s.code_at(i)]
        assert on_disk["answers"]["musicality"] == i + 3 and on_disk["full_plays"] == 1
        qtbot.mouseClick(w.page.next, Qt.MouseButton.LeftButton)
    assert w.stack.currentWidget() is w.final_page
    fw = w.final_page.widgets
    assert list(fw) == ["help_compose", "new_areas", "needs"]
    fw["help_compose"].type_text("Yes, for intros")
    fw["needs"].type_text("More control over the tempo")
    qtbot.mouseClick(w.final_page.finish, Qt.MouseButton.LeftButton)
    assert w.stack.currentWidget() is w.done_page
    data = json.loads(s.path.read_text())
    assert data["completed"]
    assert data["final"]["answers"] == {"help_compose": "Yes, for intros",
                                        "needs": "More control over the tempo"}
    first = data["responses"][data["order"][0]]
    assert first["answers"]["feedback"] == "sounds like a demo"
    assert first["answers"]["real_or_fake"] == "Real" and "fake_ease" not in first["answers"]
    second = data["responses"][data["order"][1]]
    assert second["answers"]["fake_ease"] == "Difficult"
    assert all(r["play_count"] == 1 and r["listen_s"] > 2 for r in data["responses"].values())
    assert w.player.plays == 6


def test_conditional_question_back_and_space_in_text(qtbot, study: Study) -> None:
    w = _window(qtbot, study, rater="Ann")
    _listen(qtbot, w)
    p = w.page.widgets
    p["real_or_fake"].choose("Fake")
    assert p["fake_ease"].isVisible()
    p["fake_ease"].choose("Other")
    assert p["fake_ease"].other_edit.isVisible()
    qtbot.keyClicks(p["fake_ease"].other_edit, "too clean")
    p["fake_ease"].flush()
    assert w.session.response(w._code)["other"]["fake_ease"] == "too clean"
    p["real_or_fake"].choose("Real")  # hides and clears the conditional answer
    assert not p["fake_ease"].isVisible()
    assert "fake_ease" not in w.session.answers(w._code)
    # Space typed into a text field is a space, not play/stop
    plays = w.player.plays
    p["feedback"].edit.setFocus()
    qtbot.keyClicks(p["feedback"].edit, "a b")
    assert w.player.plays == plays and p["feedback"].text() == "a b"
    p["musicality"].choose(4)
    p["inspiring"].choose("Maybe")
    qtbot.mouseClick(w.page.next, Qt.MouseButton.LeftButton)
    # the pending text was saved on leaving the page
    assert w.session.answers(w.session.code_at(0))["feedback"] == "a b"
    assert w.page.progress_text.text() == "Sample 2 of 6"
    qtbot.mouseClick(w.page.back, Qt.MouseButton.LeftButton)
    assert w.page.progress_text.text() == "Sample 1 of 6"
    assert p["real_or_fake"].value() == "Real" and p["musicality"].value() == 4
    assert p["feedback"].text() == "a b"
    # Space again: plays, Space: stops (a stop half-way is not a full play)
    qtbot.keyClick(w.page.play, Qt.Key.Key_Space)
    assert w.player.is_playing and w.page.play.playing
    w.player.advance(1.0)
    qtbot.keyClick(w.page.play, Qt.Key.Key_Space)
    assert not w.player.is_playing
    r = w.session.response(w.session.code_at(0))
    assert r["play_count"] == 2 and r["full_plays"] == 1
    assert r["listen_s"] == pytest.approx(w.player.duration + 1.0, abs=0.01)


def test_abandoned_gui_session_resumes_with_nothing_lost(qtbot, study: Study) -> None:
    w = _window(qtbot, study, rater="Bo")
    for i in range(3):
        _listen(qtbot, w)
        _answer_page(qtbot, w, fake=i == 1, music=i)
        if i < 2:
            qtbot.mouseClick(w.page.next, Qt.MouseButton.LeftButton)
    order = list(w.session.order)
    # the laptop lid closes: no closeEvent, no shutdown, the objects are just dropped
    w.hide()
    w.session = None
    del w
    w2 = _window(qtbot, study, rater="Bo")
    assert w2.session.order == order and w2.session.data["resumed"] == 1
    assert w2.page.progress_text.text() == "Sample 3 of 6"
    assert w2.page.widgets["musicality"].value() == 2  # the third page's answers are back
    assert w2.page.next.isEnabled()
    qtbot.mouseClick(w2.page.back, Qt.MouseButton.LeftButton)
    assert w2.page.widgets["real_or_fake"].value() == "Fake"
    assert w2.page.widgets["fake_ease"].value() == "Difficult"


def test_damaged_session_file_is_reported_and_kept(qtbot, study: Study) -> None:
    s = study.open_session("Cy")
    path = s.path
    data = json.loads(path.read_text())
    data["position"] = 3  # edited by hand
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    w = _window(qtbot, study)
    w.start_page.name.setText("Cy")
    qtbot.mouseClick(w.start_page.start, Qt.MouseButton.LeftButton)
    assert w.stack.currentWidget() is w.start_page
    assert "cy.json cannot be used" in w.start_page.error.text()
    assert "left untouched" in w.start_page.error.text()
    w.shutdown()
    assert path.read_bytes() == before


def _fill_sessions(study: Study) -> None:
    for name, judge_real in (("ann", True), ("ben", False), ("cleo", True)):
        s = study.open_session(name)
        for i, code in enumerate(s.order):
            s.go_to(i)
            s.play_started(code)
            s.play_stopped(code, 2.6, finished=True)
            real = judge_real if study.stimulus(code).kind == "real" else i % 3 == 0
            s.answer(code, "real_or_fake", "Real" if real else "Fake")
            if not real:
                s.answer(code, "fake_ease", ["Easy", "Difficult", "Other"][i % 3],
                         "clicks" if i % 3 == 2 else None)
            s.answer(code, "musicality", (3 * i + len(name)) % 11)
            s.answer(code, "inspiring", ["Yes", "No", "Maybe", "Other"][i % 4])
            if i == 1:
                s.answer(code, "feedback", f"{name}: nice groove")
            if name == "cleo" and i == 3:
                break
        if name != "cleo":
            s.next()
            s.answer_final("new_areas", "Some, yes")
            s.finish()


def test_results_view_shows_charts_tables_and_exports(qtbot, study: Study, tmp_path: Path) -> None:
    import pyqtgraph as pg

    from songwriter_app.study.results import ResultsWindow

    _fill_sessions(study)
    w = ResultsWindow(study)
    qtbot.addWidget(w)
    w.show()
    assert w.message.text() == ""
    sm = w.summary
    assert sm is not None and len(sm.raters) == 3
    t = w.conditions_table
    names = [t.item(i, 0).text() for i in range(t.rowCount())]
    assert names[:2] == ["real", "generated (all)"] and len(names) == 6
    real = sm.condition("real")
    assert t.item(0, 2).text() == str(real.n_ratings)
    flagged = {r.rater for r in sm.raters if r.flagged}
    assert flagged == {"ben"}  # ben judged every real excerpt fake
    rt = w.raters_table
    assert [rt.item(i, 0).text() for i in range(rt.rowCount())] == ["ann", "ben", "cleo"]
    assert rt.item(1, 5).text().startswith("below threshold")
    comments = [w.comments_table.item(i, 4).text() for i in range(w.comments_table.rowCount())]
    assert "ann: nice groove" in comments and "Some, yes" in comments and "clicks" in comments
    for chart in (w.share_chart, w.music_chart):
        items = chart.getPlotItem().items
        assert any(isinstance(i, pg.BarGraphItem) for i in items)
        assert any(isinstance(i, pg.ErrorBarItem) for i in items)
    w.exclude.setChecked(True)
    assert w.summary.excluded_raters == [r.session_id for r in sm.raters if r.rater == "ben"]
    out = w.export("csv", tmp_path / "r.csv")
    assert len(read_results_csv(out)) == 6 + 6 + 6
    doc = json.loads(w.export("json", tmp_path / "r.json").read_text())
    assert doc["summary"]["excluded_raters"] and doc["study"]["title"] == "Blind listening test"
    # a session file from another machine merges in
    other = tmp_path / "dan.json"
    d = study.open_session("dan")
    shutil.move(d.path, other)
    w.add_session_files([other])
    assert [r.rater for r in w.summary.raters] == ["ann", "ben", "cleo", "dan"]


def test_builder_dialog_builds_a_study(qtbot, _tiny_project_master: Path, tmp_path: Path) -> None:
    from songwriter_app.study.builder import StudyBuilderDialog

    proj = tmp_path / "proj"
    shutil.copytree(_tiny_project_master, proj)
    dlg = StudyBuilderDialog(projects=[proj], player=FakePlayer())
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.table.rowCount() == 1
    dlg.table.cellWidget(0, 2).setValue(2)  # new variations per strength
    dlg.table.cellWidget(0, 3).setText("free, 1")
    dlg.table.cellWidget(0, 6).setValue(1)  # one other section
    dlg.title.setText("Dialog study")
    dlg.out.setText(str(tmp_path / "built"))
    dlg.per_rater.setValue(4)
    dlg.require.setCurrentIndex(1)  # "any"
    with qtbot.waitSignal(dlg.study_built, timeout=120_000) as blocker:
        qtbot.mouseClick(dlg.build_button, Qt.MouseButton.LeftButton)
    st = blocker.args[0]
    qtbot.waitUntil(lambda: not dlg.is_building(), timeout=10_000)
    assert st.title == "Dialog study" and len(st.stimuli) == 6  # 4 generated + 2 real
    assert st.require_play == "any" and st.settings["stimuli_per_rater"] == 4
    assert dlg.preview.rowCount() == 6 and dlg.preview_box.isVisible()
    assert "Built 6 stimuli (4 generated, 2 real)" in dlg.status.text()
    SHOTS.mkdir(exist_ok=True)
    qtbot.wait(50)
    dlg.grab().save(str(SHOTS / "study-builder.png"))
    _nontrivial(SHOTS / "study-builder.png")
    # building into the same folder again is refused with a message, not a crash
    dlg2 = StudyBuilderDialog(projects=[proj])
    qtbot.addWidget(dlg2)
    dlg2.out.setText(str(tmp_path / "built"))
    qtbot.mouseClick(dlg2.build_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg2.is_building(), timeout=60_000)
    assert "not empty" in dlg2.status.text()


def test_questions_dialog_validates(qtbot) -> None:
    from engine.study import default_final_questions, default_questions
    from songwriter_app.study.questions_dialog import QuestionsDialog

    dlg = QuestionsDialog(default_questions(), default_final_questions())
    qtbot.addWidget(dlg)
    dlg.edit.setPlainText('{"questions": [{"id": "x", "text": "", "kind": "text"}]}')
    dlg._accept()
    assert "has no text" in dlg.error.text() and dlg.result() == 0
    dlg.edit.setPlainText('{"questions": [{"id": "x", "text": "Why?", "kind": "text"}]}')
    dlg._accept()
    assert dlg.questions[0]["id"] == "x" and dlg.finals == []


def test_install_study_menu(qtbot, study: Study, monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QFileDialog

    from songwriter_app.study import install_study_menu

    mw = QMainWindow()
    qtbot.addWidget(mw)
    ctl = install_study_menu(mw, mw.menuBar())
    menus = [a.text() for a in mw.menuBar().actions()]
    assert "&Study" in menus
    assert [a.text() for a in ctl.menu.actions()] == [
        "New Study...", "Take Study (rater mode)...", "Study Results..."]
    monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                        staticmethod(lambda *a, **k: str(study.root)))
    monkeypatch.setenv("SONGWRITER_NO_AUDIO", "1")
    ctl.take_action.trigger()
    ctl.results_action.trigger()
    ctl.new_action.trigger()
    kinds = sorted(type(x).__name__ for x in ctl.windows)
    assert kinds == ["RaterWindow", "ResultsWindow", "StudyBuilderDialog"]
    rater = next(x for x in ctl.windows if type(x).__name__ == "RaterWindow")
    assert not rater.player.available and "SONGWRITER_NO_AUDIO" in rater.player.reason
    for x in ctl.windows:
        qtbot.addWidget(x)


def _nontrivial(path: Path) -> None:
    from PySide6.QtGui import QImage

    img = QImage(str(path))
    assert not img.isNull() and img.width() > 600 and img.height() > 500
    colours = {img.pixel(x, y) for x in range(0, img.width(), 7) for y in range(0, img.height(), 7)}
    assert len(colours) > 20


def test_screenshots(qtbot, study: Study) -> None:
    """Rater page (answered, and while playing) and results view, saved under screenshots/."""
    from songwriter_app.study.results import ResultsWindow

    SHOTS.mkdir(exist_ok=True)
    _fill_sessions(study)
    w = _window(qtbot, study, rater="R07")
    w.resize(880, 900)
    qtbot.keyClick(w.page.play, Qt.Key.Key_Space)
    w.player.advance(1.1)
    w._poll()
    qtbot.wait(50)
    w.grab().save(str(SHOTS / "study-rater-playing.png"))
    w.player.advance(100)
    qtbot.waitUntil(lambda: w._play_code is None, timeout=2000)
    _answer_page(qtbot, w, fake=True, music=7, inspiring="Maybe",
                 feedback="Nice texture, the ending is abrupt")
    qtbot.wait(50)
    w.grab().save(str(SHOTS / "study-rater-answered.png"))
    for i in range(1, w.session.n):
        qtbot.mouseClick(w.page.next, Qt.MouseButton.LeftButton)
        _listen(qtbot, w)
        _answer_page(qtbot, w, fake=i % 2 == 0, music=5)
    qtbot.mouseClick(w.page.next, Qt.MouseButton.LeftButton)
    w.final_page.widgets["help_compose"].type_text("Yes: as a starting point for intros.")
    qtbot.wait(50)
    w.grab().save(str(SHOTS / "study-rater-final.png"))
    start = _window(qtbot, study)
    start.resize(880, 700)
    qtbot.wait(50)
    start.grab().save(str(SHOTS / "study-rater-start.png"))
    r = ResultsWindow(study)
    qtbot.addWidget(r)
    r.resize(1200, 860)
    r.show()
    qtbot.wait(50)
    r.grab().save(str(SHOTS / "study-results.png"))
    r.tabs.setCurrentIndex(1)
    r.grab().save(str(SHOTS / "study-results-raters.png"))
    for name in ("study-rater-playing", "study-rater-answered", "study-results"):
        _nontrivial(SHOTS / f"{name}.png")
