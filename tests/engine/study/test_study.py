"""Listening study (engine): building, blinding, sessions, resume, damaged files, results, stats."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.study import (
    GENERATED,
    REAL,
    GenerateSpec,
    ProjectSelection,
    Session,
    Study,
    StudyError,
    StudySpec,
    default_final_questions,
    default_questions,
    read_results_csv,
    results_rows,
    validate_questions,
    write_results_csv,
    write_results_json,
)
from engine.study.build import build_study
from engine.study.stats import analyse, analyse_rows, binomial_p, mean_t_interval, wilson_interval

REPO = Path(__file__).resolve().parents[3]


# ------------------------------------------------------------------------------------------
# fixtures: two projects (the trained tiny project twice, under two names) and one study
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def projects(_tiny_project_master: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("study-projects")
    out = []
    for name in ("alpha", "beta"):
        dst = root / name
        shutil.copytree(_tiny_project_master, dst)
        out.append(dst)
    return out


def _spec(projects: list[Path], **kw: object) -> StudySpec:
    sels = [
        ProjectSelection(
            path=p,
            generate=[GenerateSpec(count=2, seed=10 * i, from_scale=None),
                      GenerateSpec(count=1, seed=10 * i + 5, from_scale=1)],
            real_training=1, real_other=1, real_clip=0,
        )
        for i, p in enumerate(projects)
    ]
    return StudySpec(title="Test study", projects=sels, seed=3, **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def built_study(projects: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "study"
    build_study(_spec(projects, stimuli_per_rater=6), out)
    return out


@pytest.fixture()
def study(built_study: Path, tmp_path: Path) -> Study:
    """A fresh copy of the built study for each test (sessions start empty)."""
    dst = tmp_path / "study"
    shutil.copytree(built_study, dst)
    return Study.load(dst)


def _play_and_answer(s: Session, code: str, real: bool, music: int, inspiring: str = "Yes") -> None:
    s.play_started(code)
    s.play_stopped(code, 2.6, finished=True)
    s.answer(code, "real_or_fake", "Real" if real else "Fake")
    if not real:
        s.answer(code, "fake_ease", "Difficult")
    s.answer(code, "musicality", music)
    s.answer(code, "inspiring", inspiring)


def _answer_all(s: Session, judge_real: bool = True) -> None:
    for i, code in enumerate(s.order):
        s.go_to(i)
        _play_and_answer(s, code, judge_real, i % 11)
    s.next()
    s.answer_final("needs", "longer samples")
    s.finish()


# ------------------------------------------------------------------------------------------
# building
# ------------------------------------------------------------------------------------------


def test_build_writes_a_blind_self_contained_study(study: Study, projects: list[Path]) -> None:
    import pyloudnorm

    names = sorted(p.name for p in (study.root / "stimuli").iterdir())
    assert names == [f"s{i:02d}.wav" for i in range(1, 11)]  # 2 x (3 generated + 2 real)
    assert sorted(p.name for p in study.root.iterdir()) == ["stimuli", "study.json"]
    kinds = [s.kind for s in study.stimuli]
    assert kinds.count(GENERATED) == 6 and kinds.count(REAL) == 4
    assert study.questions == validate_questions(default_questions())
    assert study.final_questions == validate_questions(default_final_questions(), final=True)
    conditions = {s.condition for s in study.stimuli}
    assert conditions == {
        "real",
        "alpha / tiny / free (new structure)", "alpha / tiny / loosely like the original",
        "beta / tiny / free (new structure)", "beta / tiny / loosely like the original",
    }
    gen = [s for s in study.stimuli if s.kind == GENERATED]
    assert {s.truth["seed"] for s in gen if s.truth["project"] == "alpha"} == {0, 1, 5}
    assert all(s.truth["preset"] == "tiny" and s.truth["iterations_per_scale"] == 8 for s in gen)
    origins = sorted(s.truth["origin"] for s in study.stimuli if s.kind == REAL)
    assert origins == ["other section", "other section", "training section", "training section"]
    meter_rates = set()
    for s in study.stimuli:
        info = sf.info(str(study.audio_path(s.code)))
        meter_rates.add(info.samplerate)
        assert info.channels == 1
        x, sr = study.load_audio(s.code)
        # generated: the 3 s clip minus 200 ms at each end; real excerpts as long as those
        assert x.shape[-1] / sr == pytest.approx(2.6, abs=0.01)
        lufs = pyloudnorm.Meter(sr).integrated_loudness(x.astype(np.float64))
        assert lufs == pytest.approx(-23.0, abs=0.3)
        assert np.max(np.abs(x)) < 1.0
        # everything has the bandwidth of the 4 kHz model (real excerpts were resampled)
        spec = np.abs(np.fft.rfft(x)) ** 2
        freqs = np.fft.rfftfreq(x.shape[-1], 1 / sr)
        assert spec[freqs > 2300].sum() < 1e-3 * spec.sum()
    assert meter_rates == {44100}
    data = json.loads((study.root / "study.json").read_text())
    assert data["settings"]["stimuli_per_rater"] == 6
    assert data["settings"]["common_lufs"] == pytest.approx(-23.0)
    # the build is reproducible in what it rendered and where it cut
    assert data["build"]["spec"]["projects"][0]["path"] == str(projects[0])


def test_build_reads_existing_variation_files_and_sidecars(projects: list[Path],
                                                           tmp_path: Path) -> None:
    from engine.generation.render import iter_variations, load_model

    model = load_model(projects[0], "cpu")
    flat_dir = tmp_path / "flat"
    list(iter_variations(model, count=1, seconds=3.0, seed=42, from_scale=2, out_dir=flat_dir))
    flat = next(flat_dir.glob("*.wav"))
    # the project variation store's layout: untrimmed audio, nested sidecar
    store = tmp_path / "store"
    store.mkdir()
    nested = store / "v0001_seed7_free.wav"
    x, sr = sf.read(str(flat))
    sf.write(str(nested), np.concatenate([np.zeros(800), x, np.zeros(800)]), sr,
             subtype="FLOAT")
    nested.with_suffix(".json").write_text(json.dumps({
        "variation": {"id": "v0001", "seed": 7, "from_scale": None,
                      "strength": "free (new structure)", "trimmed": False, "rating": 8},
        "provenance": {"project": str(projects[1]), "preset": "tiny",
                       "iterations_per_scale": 8},
    }))
    spec = StudySpec(
        projects=[ProjectSelection(path=projects[0], variation_files=[flat], real_training=1)],
        variation_files=[nested], seed=1,
    )
    st = build_study(spec, tmp_path / "study")
    gen = {s.truth["seed"]: s for s in st.stimuli if s.kind == GENERATED}
    assert set(gen) == {42, 7}
    assert gen[42].truth["project"] == "alpha" and gen[42].truth["from_scale"] == 2
    assert gen[42].truth["strength"] == "very close to the original"
    assert gen[7].truth["project"] == "beta" and gen[7].truth["preset"] == "tiny"
    assert gen[7].condition == "beta / tiny / free (new structure)"
    # the already-trimmed file keeps its length; the untrimmed one loses 2 x 200 ms
    assert gen[42].seconds == pytest.approx(2.6, abs=0.01)
    assert gen[7].seconds == pytest.approx(2.6, abs=0.01)


def test_build_refuses_bad_input_and_leaves_nothing(projects: list[Path], tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "x.txt").write_text("mine")
    with pytest.raises(StudyError, match="not empty"):
        build_study(_spec(projects), taken)
    assert [p.name for p in taken.iterdir()] == ["x.txt"]
    bad = default_questions()
    bad[1]["show_if"] = {"question": "real_or_fake", "equals": "Maybe"}
    with pytest.raises(StudyError, match="not an option"):
        build_study(_spec(projects, questions=bad), tmp_path / "a")
    with pytest.raises(StudyError, match="same id"):
        validate_questions([{"id": "q", "text": "A", "kind": "text"}] * 2)
    with pytest.raises(StudyError, match="require_play"):
        build_study(_spec(projects, require_play="sometimes"), tmp_path / "b")

    class Cancelled:
        cancelled = True

    from engine.study.build import iter_build_study

    with pytest.raises(StudyError, match="cancelled"):
        list(iter_build_study(_spec(projects), tmp_path / "c", cancel=Cancelled()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_custom_question_set_is_saved_with_the_study(projects: list[Path], tmp_path: Path) -> None:
    qs = [{"id": "like", "text": "Do you like it?", "kind": "choice", "options": ["yes", "no"]},
          {"id": "stars", "text": "Stars", "kind": "scale", "min": 1, "max": 5}]
    spec = StudySpec(projects=[ProjectSelection(path=projects[0], real_training=1,
                                                generate=[GenerateSpec(count=1)])],
                     questions=qs, final_questions=[], require_play="none")
    st = build_study(spec, tmp_path / "custom")
    assert [q["id"] for q in st.questions] == ["like", "stars"] and st.final_questions == []
    s = st.open_session("x")
    s.answer(s.order[0], "like", "yes")
    assert not s.is_answered(s.order[0])
    s.answer(s.order[0], "stars", 4)
    assert s.is_answered(s.order[0])
    with pytest.raises(StudyError, match="from 1 to 5"):
        s.answer(s.order[0], "stars", 6)
    # the analysis copes with a set that has no real/fake question
    summary = analyse(st, [s])
    assert summary.conditions[0].n_ratings == 0


# ------------------------------------------------------------------------------------------
# sessions
# ------------------------------------------------------------------------------------------


def test_rater_orders_are_seeded_stratified_and_recorded(study: Study) -> None:
    a1 = study.order_for("anna")
    assert a1 == study.order_for("anna")
    b = study.order_for("ben")
    assert a1 != b
    for _seed, order in (a1, b):
        assert len(order) == 6 and len(set(order)) == 6
        kinds = [study.stimulus(c).kind for c in order]
        assert kinds.count(REAL) == 2  # 4 of 10 are real -> 2 of 6
        conds = {study.stimulus(c).condition for c in order if study.stimulus(c).kind != REAL}
        assert len(conds) == 4  # the round robin reaches every generated condition
    s = study.open_session("anna")
    assert s.order == a1[1] and s.data["order_seed"] == a1[0]
    on_disk = json.loads(s.path.read_text())
    assert on_disk["order"] == a1[1] and on_disk["order_seed"] == a1[0]


def test_session_answers_conditions_and_play_requirement(study: Study) -> None:
    s = study.open_session("Rita")
    code = s.order[0]
    s.go_to(0)
    with pytest.raises(StudyError, match="to the end"):
        s.answer(code, "real_or_fake", "Real")
    s.play_started(code)
    s.play_stopped(code, 1.0, finished=False)
    assert not s.may_answer(code)
    s.play_started(code)
    s.play_stopped(code, 2.6, finished=True)
    s.answer(code, "real_or_fake", "Fake")
    s.answer(code, "fake_ease", "Other", "odd clicks")
    s.answer(code, "musicality", 6)
    assert not s.is_answered(code)
    with pytest.raises(StudyError, match="Answer the current sample"):
        s.next()
    s.answer(code, "inspiring", "Maybe")
    assert s.is_answered(code)
    # changing Fake -> Real hides and clears the conditional answer
    s.answer(code, "real_or_fake", "Real")
    assert "fake_ease" not in s.answers(code) and "fake_ease" not in s.response(code)["other"]
    assert s.is_answered(code)
    with pytest.raises(StudyError, match="not an option"):
        s.answer(code, "inspiring", "Perhaps")
    with pytest.raises(StudyError, match="only with 'Other'"):
        s.answer(code, "inspiring", "Yes", "because")
    r = json.loads(s.path.read_text())["responses"][code]
    assert r["play_count"] == 2 and r["full_plays"] == 1
    assert r["listen_s"] == pytest.approx(3.6)
    assert r["answers"] == {"real_or_fake": "Real", "musicality": 6, "inspiring": "Maybe"}
    assert r["answer_s"] is not None and r["visits"] == 1 and r["first_shown"] > 0
    s.next()
    assert s.position == 1
    s.back()
    assert s.position == 0
    with pytest.raises(StudyError, match="not answered"):
        s.finish()


def test_every_answer_is_on_disk_at_once_and_resumes(study: Study) -> None:
    s = study.open_session("Sam")
    for i in range(3):
        s.go_to(i)
        _play_and_answer(s, s.order[i], real=i == 1, music=i + 2)
    s.go_to(3)
    # drop the object without closing anything: a crash
    del s
    s2 = study.open_session(" sam ")  # the same rater, typed differently
    assert s2.rater == "Sam" and s2.path.name == "sam.json"
    assert s2.position == 3 and s2.first_unanswered() == 3
    assert [s2.answers(c)["musicality"] for c in s2.order[:3]] == [2, 3, 4]
    assert s2.data["resumed"] == 1


def test_session_survives_a_killed_process(study: Study, tmp_path: Path) -> None:
    script = tmp_path / "rater.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(REPO)!r})
        from engine.study import Study
        st = Study.load({str(study.root)!r})
        s = st.open_session("Kim")
        for i in range(4):
            s.go_to(i)
            c = s.order[i]
            s.play_started(c)
            s.play_stopped(c, 2.6, finished=True)
            s.answer(c, "real_or_fake", "Real")
            s.answer(c, "musicality", 7 + i % 2)
            s.answer(c, "inspiring", "Yes")
        s.go_to(4)
        s.play_started(s.order[4])  # half-way through sample 5 the power goes
        print("READY", flush=True)
        time.sleep(600)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "READY"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    # no temporary file left where the rater's file is, and nothing lost
    assert [p.name for p in study.sessions_dir.iterdir()] == ["kim.json"]
    s = study.open_session("Kim")
    assert s.position == 4 and s.first_unanswered() == 4
    assert [s.answers(c)["musicality"] for c in s.order[:4]] == [7, 8, 7, 8]
    assert s.response(s.order[4])["play_count"] == 1
    for i in range(4, s.n):
        s.go_to(i)
        _play_and_answer(s, s.order[i], real=False, music=1)
    s.next()
    s.finish()
    assert Study.load(study.root).load_sessions()[0].completed


def test_damaged_or_edited_session_is_refused_and_untouched(study: Study) -> None:
    s = study.open_session("Eve")
    s.go_to(0)
    _play_and_answer(s, s.order[0], real=True, music=5)
    path = s.path
    # hand-edited: the JSON is valid, the content no longer matches its checksum
    data = json.loads(path.read_text())
    data["responses"][s.order[0]]["answers"]["musicality"] = 9
    path.write_text(json.dumps(data, indent=2))
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    for attempt in (lambda: study.open_session("Eve"), lambda: study.load_sessions(),
                    lambda: Session.load(study, path)):
        with pytest.raises(StudyError, match="checksum.*left untouched"):
            attempt()
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    # damaged: cut off in the middle
    path.write_bytes(before[: len(before) // 2])
    with pytest.raises(StudyError, match="eve.json is damaged.*left untouched"):
        study.open_session("Eve")
    assert path.read_bytes() == before[: len(before) // 2]
    # from another study
    other = dict(data, study_id="0" * 32)
    from engine.study.session import _checksum

    other["checksum"] = _checksum(other)
    path.write_text(json.dumps(other))
    with pytest.raises(StudyError, match="different study"):
        study.open_session("Eve")
    # a different rater whose name maps to the same file name
    good = study.open_session("Zoe")
    with pytest.raises(StudyError, match="belongs to rater 'Zoe'"):
        study.open_session("Zoe!")
    assert good.path.name == "zoe.json"


def test_changed_stimulus_audio_is_detected(study: Study) -> None:
    p = study.audio_path(study.stimuli[0].code)
    x, sr = sf.read(str(p))
    sf.write(str(p), x * 0.5, sr)
    with pytest.raises(StudyError, match="changed after the study was built"):
        Study.load(study.root)
    (study.root / "study.json").write_text("{")
    with pytest.raises(StudyError, match="damaged"):
        Study.load(study.root)


# ------------------------------------------------------------------------------------------
# results and statistics
# ------------------------------------------------------------------------------------------


def test_results_csv_and_json_round_trip(study: Study, tmp_path: Path) -> None:
    a = study.open_session("anna")
    _answer_all(a, judge_real=True)
    b = study.open_session("ben")
    b.go_to(0)
    _play_and_answer(b, b.order[0], real=False, music=3, inspiring="No")
    sessions = study.load_sessions()
    assert [s.rater for s in sessions] == ["anna", "ben"]
    csv_path = write_results_csv(tmp_path / "out.csv", study, sessions)
    rows = read_results_csv(csv_path)
    assert len(rows) == 12  # 6 stimuli per rater, answered or not
    first_b = next(r for r in rows if r["rater"] == "ben" and r["position"] == "1")
    st = study.stimulus(first_b["code"])
    assert first_b["kind"] == st.kind and first_b["condition"] == st.condition
    assert first_b["project"] == str(st.truth["project"]) and first_b["preset"] == "tiny"
    assert first_b["seed"] == ("" if st.truth.get("seed") is None else str(st.truth["seed"]))
    assert first_b["real_or_fake"] == "Fake" and first_b["fake_ease"] == "Difficult"
    assert first_b["musicality"] == "3" and first_b["inspiring"] == "No"
    assert first_b["play_count"] == "1" and float(first_b["listen_s"]) == pytest.approx(2.6)
    assert first_b["answered"] == "True" and first_b["session_completed"] == ""
    anna = [r for r in rows if r["rater"] == "anna"]
    assert all(r["final_needs"] == "longer samples" and r["session_completed"] for r in anna)
    for col in ("iterations_per_scale", "strength", "page_s", "answer_s", "feedback",
                "fake_ease_other", "inspiring_other", "final_help_compose"):
        assert col in rows[0]
    summary = analyse(study, sessions)
    doc_path = write_results_json(tmp_path / "out.json", study, sessions, summary)
    doc = json.loads(doc_path.read_text())
    assert doc["study"]["id"] == study.id and len(doc["study"]["stimuli"]) == 10
    assert doc["study"]["questions"][0]["text"] == "Do you think the sample is real or a fake?"
    assert [x["rater"] for x in doc["sessions"]] == ["anna", "ben"]
    assert doc["sessions"][0]["final_answers"] == {"needs": "longer samples"}
    gen = next(c for c in doc["summary"]["conditions"] if c["condition"] == "generated (all)")
    ben_first_generated = study.stimulus(b.order[0]).kind == GENERATED
    assert gen["n_ratings"] == 4 + ben_first_generated and gen["judged_real"] == 4
    # sessions copied from another machine merge in; the same session twice counts once
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(b.path, elsewhere / "ben-copy.json")
    c = study.open_session("cleo")
    c.go_to(0)
    shutil.move(c.path, elsewhere / "cleo.json")
    merged = study.load_sessions([elsewhere / "ben-copy.json", elsewhere / "cleo.json"])
    assert [s.rater for s in merged] == ["anna", "ben", "cleo"]


def test_statistics_match_hand_computed_values() -> None:
    # Wilson 95 % for 7 of 20: p = 0.35, z = 1.959964, z^2/n = 0.192073,
    # centre = (0.35 + 0.096036) / 1.192073 = 0.374172,
    # half = 1.959964 * sqrt(0.35 * 0.65 / 20 + 3.841459 / 1600) / 1.192073 = 0.192980
    lo, hi = wilson_interval(7, 20)
    assert lo == pytest.approx(0.181192, abs=1e-5) and hi == pytest.approx(0.567146, abs=1e-5)
    # exact two-sided binomial test: 2 * sum_{k<=7} C(20, k) / 2^20 = 2 * 137980 / 1048576
    assert binomial_p(7, 20) == pytest.approx(0.263176, abs=1e-6)
    # 8 of 10: Wilson (0.490162, 0.943318); p = 2 * (45 + 10 + 1) / 1024 = 0.109375
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.490162, abs=1e-5) and hi == pytest.approx(0.943318, abs=1e-5)
    assert binomial_p(8, 10) == pytest.approx(0.109375, abs=1e-9)
    # musicality 4, 6, 8, 5, 7: mean 6, sd sqrt(2.5) = 1.581139, t(0.975, 4) = 2.776445,
    # half width 2.776445 * 1.581139 / sqrt(5) = 1.963243
    m, mlo, mhi = mean_t_interval([4, 6, 8, 5, 7])
    assert m == 6 and mlo == pytest.approx(4.036757, abs=1e-5)
    assert mhi == pytest.approx(7.963243, abs=1e-5)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    assert math.isnan(mean_t_interval([5.0])[1])

    # a fixed answer set: 20 generated ratings of which 7 judged real; 10 real ratings, 8 real
    questions = validate_questions(default_questions())
    rows = []
    for i in range(20):
        rows.append({
            "rater": f"r{i % 2}", "session_id": f"r{i % 2}", "code": f"g{i % 5}",
            "kind": GENERATED, "condition": "alpha / tiny / free (new structure)",
            "real_or_fake": "Real" if i < 7 else "Fake", "musicality": [4, 6, 8, 5, 7][i % 5],
            "inspiring": ["Yes", "Maybe", "No", "Other"][i % 4], "answered": True,
            "session_completed": "",
        })
    for i in range(10):
        # real excerpts: r0 (even i) judges 3 of 5 real, r1 (odd i) 5 of 5: 8 of 10 in all
        rows.append({
            "rater": f"r{i % 2}", "session_id": f"r{i % 2}", "code": f"q{i % 2}", "kind": REAL,
            "condition": REAL, "real_or_fake": "Fake" if i in (0, 2) else "Real",
            "musicality": 8, "inspiring": "No", "answered": True, "session_completed": "",
        })
    summary = analyse_rows(rows, questions, threshold=0.7)
    gen = summary.condition("alpha / tiny / free (new structure)")
    assert (gen.judged_real, gen.n_ratings, gen.n_stimuli) == (7, 20, 5)
    assert gen.share_real == pytest.approx(0.35)
    assert gen.share_low == pytest.approx(0.181192, abs=1e-5)
    assert gen.share_high == pytest.approx(0.567146, abs=1e-5)
    assert gen.p_value == pytest.approx(0.263176, abs=1e-6)
    assert gen.musicality_mean == pytest.approx(6.0)
    # 20 values, each of 4, 6, 8, 5, 7 four times: sd = sqrt(40 / 19) = 1.450953,
    # t(0.975, 19) = 2.093024, half = 2.093024 * 1.450953 / sqrt(20) = 0.679070
    assert gen.musicality_low == pytest.approx(6 - 0.679070, abs=1e-5)
    assert gen.inspiring == {"Yes": 5, "No": 5, "Maybe": 5, "Other": 5}
    assert gen.fake_ease == {"Easy": 0, "Don't know": 0, "Difficult": 0, "Other": 0}
    real = summary.condition(REAL)
    assert (real.judged_real, real.n_ratings) == (8, 10)
    assert real.p_value == pytest.approx(0.109375)
    assert real.share_low == pytest.approx(0.490162, abs=1e-5)
    raters = {r.rater: r for r in summary.raters}
    assert (raters["r0"].real_judged_real, raters["r0"].real_rated) == (3, 5)
    assert (raters["r1"].real_judged_real, raters["r1"].real_rated) == (5, 5)
    assert raters["r0"].flagged and not raters["r1"].flagged
    # leaving the flagged rater out: r1 (odd i) judged 3 of its 10 generated real (i = 1, 3, 5)
    out = analyse_rows(rows, questions, threshold=0.7, exclude_flagged=True)
    assert out.excluded_raters == ["r0"]
    assert out.condition(REAL).n_ratings == 5
    assert out.condition("generated (all)").judged_real == 3  # i = 1, 3, 5


def test_engine_study_modules_never_import_qt() -> None:
    code = ("import sys, engine.study, engine.study.stats, engine.cli.study; "
            "bad = [m for m in ('PySide6', 'pyqtgraph', 'sounddevice', 'songwriter_app') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stdout + r.stderr


def test_cli_build_info_results(projects: list[Path], tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    from engine.cli import main

    out = tmp_path / "cli-study"
    rc = main(["study", "build", str(out), "--project", str(projects[0]), "--label", "A",
               "--project", str(projects[1]), "--generate", "1", "--strengths", "free,2",
               "--real-training", "1", "--per-rater", "4", "--title", "CLI study",
               "--require-play", "any", "--seed", "5"])
    assert rc == 0
    assert "Built 6 stimuli (4 generated, 2 real)" in capsys.readouterr().err
    st = Study.load(out)
    assert {s.truth["project"] for s in st.stimuli} == {"A", "beta"}
    assert st.require_play == "any" and st.settings["stimuli_per_rater"] == 4
    s = st.open_session("R1")
    for i, c in enumerate(s.order):
        s.go_to(i)
        _play_and_answer(s, c, real=i % 2 == 0, music=5)
    assert main(["study", "info", str(out)]) == 0
    assert "R1" in capsys.readouterr().out
    csv_out, json_out = tmp_path / "r.csv", tmp_path / "r.json"
    assert main(["study", "results", str(out), "--csv", str(csv_out), "--json",
                 str(json_out)]) == 0
    text = capsys.readouterr().out
    assert "generated (all)" in text and "R1" in text and "95% CI" in text
    assert len(read_results_csv(csv_out)) == 4
    assert json.loads(json_out.read_text())["summary"]["conditions"][0]["condition"] == "real"
    assert main(["study", "take", str(out)]) == 2
    assert "python -m songwriter_app.study take" in capsys.readouterr().err
    assert main(["study", "results", str(tmp_path / "nowhere")]) == 2
    assert "No study at" in capsys.readouterr().err
    # rows from the engine API equal the CSV
    assert len(results_rows(st, st.load_sessions())) == 4


def test_missing_source_file_falls_back_to_clip(projects: list[Path], tmp_path: Path) -> None:
    proj = tmp_path / "moved"
    shutil.copytree(projects[0], proj)
    m = json.loads((proj / "manifest.json").read_text())
    m["source"]["path"] = str(tmp_path / "gone.wav")
    (proj / "manifest.json").write_text(json.dumps(m))
    spec = StudySpec(projects=[ProjectSelection(path=proj, real_training=1, real_other=2,
                                                generate=[GenerateSpec(count=1)])])
    from engine.study.build import BuildFinished, iter_build_study

    fin = [e for e in iter_build_study(spec, tmp_path / "s") if isinstance(e, BuildFinished)][0]
    real = [s for s in fin.study.stimuli if s.kind == REAL]
    assert [s.truth["origin"] for s in real] == ["training section (clip.wav)"]
    assert any("clip.wav instead" in w for w in fin.warnings)
    assert any("no other sections" in w for w in fin.warnings)
