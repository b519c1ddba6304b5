"""The dashboard killed (SIGKILL) while a worker trains: the worker, in a session of its own,
goes on and finishes its trials; a restarted dashboard shows the run live again, and its
engine never takes the still-running run for an orphan and marks it interrupted."""
from __future__ import annotations

import os
import re
import threading

import pytest

from storage import RunStatus, Storage, TrialStatus
from tests.faults.kit import Dashboard, end_workers, sklearn_spec, wait_for
from tuning.runner.control import queue_run
from tuning.runner.engine import worker_alive

pytestmark = [pytest.mark.slow, pytest.mark.browser]

IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
TRIALS = 14


class StatusLog(threading.Thread):
    """Every status the run passes through, read from the database every 50 ms."""

    def __init__(self, db, run_id: int):
        super().__init__(daemon=True)
        self.db, self.run_id = db, run_id
        self.seen: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        store = Storage(self.db)
        while not self.done.wait(0.05):
            status = store.get_run(self.run_id).status.value
            if not self.seen or self.seen[-1] != status:
                self.seen.append(status)
        store.close()


def _open_live(browser, url: str, run_id: int):
    """A tab on the run's live page. The entry page is opened first: a deep link as a fresh
    server's very first request bypasses app.py (Streamlit's legacy ``pages/`` mode; see
    test_a_deep_link_as_the_first_request_starts_the_engine)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_role("heading", name="Launch a tuning run").wait_for(timeout=60_000)
    page.goto(f"{url}/live?run={run_id}")
    page.get_by_role("heading", name="Live run").wait_for(timeout=60_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    return page


def test_killed_dashboard_leaves_the_worker_running_and_a_restart_shows_it_live(
        tmp_path, browser):
    db = tmp_path / "tuning.db"
    store = Storage(db)
    spec = sklearn_spec(name="survives the dashboard", strategy={
        "name": "random", "max_trials": TRIALS, "cv_folds": 3})
    # About 40 s of training: time enough to kill the dashboard, restart it and watch (with
    # 10 trials, a loaded CI machine once finished them all before the restart saw one).
    spec["search_space"]["n_estimators"] = {"type": "int", "min": 10, "max": 20}
    run_id = queue_run(store, spec).id
    log = StatusLog(db, run_id)
    log.start()
    first = second = None
    try:
        first = Dashboard(db, tmp_path / "streamlit.log")
        first.wait_healthy()
        # The engine starts with the first session: a browser tab opens the run.
        page = _open_live(browser, first.url, run_id)
        wait_for(lambda: store.list_epochs(run_id), 90, "the worker's first recorded fold")
        page.close()
        pid = store.get_run(run_id).worker_pid
        assert worker_alive(pid)
        assert os.getsid(pid) != os.getsid(first.proc.pid), "the worker shares the dashboard's session"

        first.kill()
        epochs_at_kill = len(store.list_epochs(run_id))
        wait_for(lambda: len(store.list_epochs(run_id)) >= epochs_at_kill + 3, 60,
                 "the worker to go on training after the dashboard died")
        assert worker_alive(pid) and store.get_run(run_id).status is RunStatus.RUNNING

        second = Dashboard(db, tmp_path / "streamlit.log")
        second.wait_healthy()
        page = _open_live(browser, second.url, run_id)
        page.get_by_text(re.compile(rf"^running · \d+ of {TRIALS} trials")).wait_for(
            timeout=30_000)
        # The restarted engine now ticks beside a worker it did not start.
        assert worker_alive(pid), "the run ended before the restarted dashboard saw it running"
        done_when_seen = store.get_run(run_id).trials_done
        page.get_by_text(re.compile(rf"^completed · {TRIALS} of {TRIALS} trials")).wait_for(
            timeout=120_000)
        page.close()
    finally:
        log.done.set()
        log.join(timeout=5)
        for dashboard in (first, second):
            if dashboard is not None:
                dashboard.close()
        end_workers(db)
    assert "interrupted" not in log.seen, log.seen
    assert log.seen[-1] == "completed", log.seen
    assert done_when_seen < TRIALS, "no trial finished while the restarted dashboard watched"
    run = store.get_run(run_id)
    assert run.worker_pid == pid, "a second worker was started for the run"
    trials = store.list_trials(run_id)
    assert len(trials) == TRIALS and all(t.status is TrialStatus.COMPLETED for t in trials)
    folds = [(e.trial_id, e.execution, e.epoch) for e in store.list_epochs(run_id)]
    assert len(folds) == len(set(folds)) == 3 * TRIALS


def test_a_deep_link_as_the_first_request_starts_the_engine(tmp_path, browser):
    """A fresh server whose first request is /live?run=N still goes through app.py
    (pages/_common.py leaves Streamlit's legacy pages-folder mode and reruns)."""
    db = tmp_path / "tuning.db"
    store = Storage(db)
    run_id = queue_run(store, sklearn_spec(name="deep link")).id
    dashboard = Dashboard(db, tmp_path / "streamlit.log")
    try:
        dashboard.wait_healthy()
        page = browser.new_page()
        page.goto(f"{dashboard.url}/live?run={run_id}")
        page.get_by_role("heading", name="Live run").wait_for(timeout=60_000)
        assert page.get_by_role("link", name="form").count() == 0, "helper modules became pages"
        wait_for(lambda: store.get_run(run_id).status is not RunStatus.QUEUED, 10,
                 "the engine to launch the queued run")
    finally:
        dashboard.close()
        end_workers(db)
