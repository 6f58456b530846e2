"""The generic worker, the runner and the job slots (songwriter_app.jobs)."""

from __future__ import annotations

import threading
import time

import pytest

from engine.errors import AudioError
from songwriter_app.jobs import GeneratorWorker, JobRunner, JobSlot, describe_error


def _collect(qtbot, slot: JobSlot, fn, *args, **kw):
    got: dict = {"items": [], "result": None, "error": None, "done": 0}
    slot.start(fn, *args, on_item=got["items"].append,
               on_result=lambda r: got.__setitem__("result", r),
               on_error=lambda e: got.__setitem__("error", e),
               on_done=lambda: got.__setitem__("done", got["done"] + 1), **kw)
    qtbot.waitUntil(lambda: got["done"] == 1, timeout=10_000)
    return got


def test_a_generator_job_yields_items_then_its_return_value(qtbot) -> None:
    def job(n, cancel=None):
        yield from range(n)
        return "all done"

    runner = JobRunner()
    slot = JobSlot(runner, "test")
    got = _collect(qtbot, slot, job, 3, pass_cancel=True)
    assert got["items"] == [0, 1, 2] and got["result"] == "all done" and got["error"] is None
    assert not slot.busy
    assert runner.close(10)


def test_a_plain_function_job_returns_its_result_on_the_gui_thread(qtbot) -> None:
    gui = threading.get_ident()
    seen = {}

    def job():
        seen["worker"] = threading.get_ident()
        return 42

    runner = JobRunner()
    slot = JobSlot(runner, "test")
    got = {}
    slot.start(job, on_result=lambda r: got.update(result=r, thread=threading.get_ident()))
    qtbot.waitUntil(lambda: "result" in got, timeout=10_000)
    assert got == {"result": 42, "thread": gui} and seen["worker"] != gui
    assert runner.close(10)


def test_errors_become_job_errors_and_a_closed_runner_starts_nothing(qtbot) -> None:
    def boom():
        raise AudioError("That file is broken.")

    runner = JobRunner()
    got = _collect(qtbot, JobSlot(runner, "test"), boom)
    err = got["error"]
    assert (err.title, err.message, err.kind) == ("Cannot do that", "That file is broken.",
                                                  "engine")
    assert isinstance(err.exc, AudioError) and got["result"] is None
    assert runner.close(10)
    assert JobSlot(runner, "late").start(lambda: 1) is None  # closed: nothing new starts
    assert describe_error(ValueError("x")).kind == "bug"
    assert describe_error(MemoryError()).kind == "device"


def test_starting_a_job_in_a_slot_cuts_off_the_old_one(qtbot) -> None:
    """The stale job's results never arrive, even those it sends after being replaced."""
    release = threading.Event()

    def slow(tag, cancel=None):
        yield f"{tag}: started"
        release.wait(5)
        yield f"{tag}: late"  # sent after the slot moved on
        return tag

    runner = JobRunner()
    slot = JobSlot(runner, "test")
    items, results = [], []
    first = slot.start(slow, "old", pass_cancel=True, on_item=items.append,
                       on_result=results.append)
    qtbot.waitUntil(lambda: items == ["old: started"], timeout=10_000)
    slot.start(slow, "new", pass_cancel=True, on_item=items.append, on_result=results.append)
    assert first.cancel_requested  # the old job was asked to stop
    release.set()
    qtbot.waitUntil(lambda: results == ["new"], timeout=10_000)
    time.sleep(0.2)
    qtbot.wait(50)
    assert items == ["old: started", "new: started", "new: late"]
    assert results == ["new"]
    assert runner.close(10)


def test_droppable_items_are_throttled_but_the_last_one_arrives(qtbot) -> None:
    def burst(cancel=None):
        for i in range(200):
            yield ("progress", i)
        yield ("finished", None)

    runner = JobRunner()
    got = _collect(qtbot, JobSlot(runner, "test"), burst, pass_cancel=True,
                   droppable=lambda item: item[0] == "progress", min_interval=10.0)
    progress = [i for kind, i in got["items"] if kind == "progress"]
    assert progress == [0, 199]  # the first at once, then only the newest before "finished"
    assert got["items"][-1] == ("finished", None)
    assert runner.close(10)


def test_cancel_reaches_the_job_through_its_token(qtbot) -> None:
    started = threading.Event()

    def loop(cancel=None):
        started.set()
        n = 0
        while not cancel.cancelled:
            n += 1
            time.sleep(0.01)
        return "stopped"

    runner = JobRunner()
    slot = JobSlot(runner, "test")
    results = []
    slot.start(loop, pass_cancel=True, on_result=results.append)
    assert started.wait(5)
    slot.request_cancel()  # keeps listening: the job's own "cancelled" result arrives
    qtbot.waitUntil(lambda: results == ["stopped"], timeout=10_000)
    assert runner.close(10)


@pytest.mark.parametrize("nice", [True, False])
def test_worker_runs_without_a_slot(qtbot, nice: bool) -> None:
    runner = JobRunner()
    w = GeneratorWorker(lambda: "ok", nice=nice)
    # not qtbot.waitSignal: in one full run (2026-12-07) its event loop outlived its 10 s
    # timeout by 20 minutes here, the worker (which emits on its own thread) finishing at once;
    # waitUntil polls against its own deadline
    got: list = []
    w.returned.connect(got.append)
    runner.start(w)
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    assert got == ["ok"]
    assert runner.close(10)
