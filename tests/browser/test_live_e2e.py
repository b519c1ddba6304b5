"""The live page in a real browser: a deep link on a fresh server, epochs appearing as a
worker commits them, cancelling a trial, stopping the run, and resuming it from the Runs page.

No engine: the test writes what a worker would, so each step waits on the page showing it.
"""
from __future__ import annotations

import re
import time

import pytest
from e2e import FIRST_DRAW_MS, REACT_MS, goto, points_js, seed, wait_idle

from storage import RunStatus

pytestmark = [pytest.mark.browser]
CURVES = points_js("learning_curves")


def poll(condition, timeout_s: float = REACT_MS / 1000, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)  # poll interval, bounded by the deadline
    pytest.fail(f"{what} not reached in {timeout_s:.0f} s")


def test_epochs_appear_then_cancel_stop_and_resume(server, page):
    url, store = server
    run = seed(store, running=True)
    running = store.get_trial_by_key(run.id, "t05")
    goto(page, f"{url}/live?run={run.id}")
    page.wait_for_function(f"({CURVES})() > 0", timeout=FIRST_DRAW_MS)
    before = page.evaluate(CURVES)
    page.get_by_text(re.compile(r"running · 5 of 12 trials · 1 running")).wait_for(
        timeout=REACT_MS)

    store.record_epoch(running.id, 0, 2, {"loss": 0.3, "val_loss": 0.35, "accuracy": 0.7,
                                          "val_accuracy": 0.68})
    page.wait_for_function(f"({CURVES})() > {before}", timeout=REACT_MS)  # the 1 s refresh
    assert page.evaluate(CURVES) == before + 2  # accuracy and val_accuracy, one point each

    page.get_by_role("button", name="Cancel trial").click()
    poll(lambda: store.get_trial(running.id).cancel_requested, what="cancel requested")
    page.get_by_text("Requested; the worker acts after the epoch in flight.").wait_for(
        timeout=REACT_MS)

    wait_idle(page)
    page.get_by_role("button", name="Stop run").click()
    poll(lambda: store.get_run(run.id).stop_requested, what="stop requested")
    page.get_by_text("Stop requested: the run ends after the epoch in flight.").wait_for(
        timeout=REACT_MS)

    store.finish_run(run.id, RunStatus.STOPPED)  # what the worker does next
    page.get_by_text(re.compile(r"^stopped · 5 of 12 trials")).wait_for(timeout=REACT_MS)
    wait_idle(page)
    stop = page.get_by_role("button", name="Stop run")
    poll(lambda: stop.count() == 1 and stop.is_disabled(), what="Stop run disabled")

    goto(page, f"{url}/runs?run={run.id}")
    page.get_by_role("button", name="Resume").click()
    poll(lambda: store.get_run(run.id).status is RunStatus.QUEUED, what="run queued again")
    page.get_by_text(f"Run {run.id} queued to resume.").wait_for(timeout=REACT_MS)


def test_a_large_leaderboard_is_paged(server, page):
    url, store = server
    run = seed(store, trials=60, epochs=2)
    goto(page, f"{url}/live?run={run.id}")
    page.get_by_text("Trials 1 to 50 of 60, best first").wait_for(timeout=FIRST_DRAW_MS)
    field = page.get_by_label(re.compile(r"^Leaderboard page"))
    field.fill("2")
    field.press("Enter")
    wait_idle(page)
    page.get_by_text("Trials 51 to 60 of 60, best first").wait_for(timeout=REACT_MS)
