"""End to end in a real Chromium: launch a run from the form, watch it train, download its report.

Starts ``streamlit run app.py`` on a free port with its own database and a live engine,
so a real worker process trains a tiny Keras MLP on scikit-learn's digits. It waits on
the app's own signals (health endpoint, script state, chart data), never on fixed sleeps.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from storage import RunStatus, Storage

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
START_TIMEOUT_S = 60
RUN_TIMEOUT_S = 150

# The number of points in the learning-curve chart (-1 while it is not drawn). Plotly
# keeps the decoded arrays in ``_fullData``; ``_length`` is what it actually plots.
CURVE_POINTS_JS = """() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const gd = plots.find(
    g => g.layout && String(g.layout.uirevision || '').startsWith('learning_curves'));
  if (!gd || !gd._fullData) return -1;
  return gd._fullData.reduce((n, t) => n + (t._length ?? (t.x ? t.x.length : 0)), 0);
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)  # poll interval, bounded by the deadline
    pytest.fail(f"streamlit not healthy after {START_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def dashboard(tmp_path: Path):
    """A running dashboard with its own database and engine: (base URL, database path)."""
    db_path = tmp_path / "tuning.db"
    log = tmp_path / "streamlit.log"
    port = _free_port()
    env = dict(os.environ, TUNING_DB=str(db_path), TUNING_ENGINE="1", TUNING_CONCURRENCY="1",
               KERAS_HOME=str(tmp_path / "keras"))
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url, db_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        _end_workers(db_path)
        # Shown by pytest only when the test failed.
        print(f"--- streamlit log ({log}) ---\n{log.read_text(errors='replace')[-4000:]}")


def _end_workers(db_path: Path) -> None:
    """Workers run in their own session and outlive the dashboard: end the ones we started."""
    if not db_path.exists():
        return
    store = Storage(db_path)
    for run in store.list_runs([RunStatus.RUNNING, RunStatus.QUEUED]):
        store.request_stop(run.id)
        if run.worker_pid:
            try:
                os.kill(run.worker_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    store.close()


def _idle(page) -> None:
    page.wait_for_selector(IDLE, timeout=START_TIMEOUT_S * 1000)


def _choose(page, label: str, option: str) -> None:
    """Pick ``option`` in a select box. A rerun that lands on the click can close the list
    before it opens, so the click is retried (bounded), not slept on."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.get_by_role("combobox", name=label, exact=True)
    for _attempt in range(5):
        _idle(page)
        box.click()
        try:
            page.get_by_role("option", name=option, exact=True).click(timeout=3_000)
            return
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    pytest.fail(f"could not choose {option!r} in {label!r}")


def _spec_shows(page, text: str) -> None:
    """Wait until the form's "Spec (JSON)" shows ``text``: the server saw the change."""
    page.locator("[data-testid=stCode]").filter(has_text=text).wait_for(timeout=20_000)


def test_launch_watch_and_download(dashboard, browser, tmp_path):
    url, db_path = dashboard
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    try:
        _launch_watch_and_download(page, url, db_path)
    except BaseException:
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        print(f"screenshot of the failure: {tmp_path / 'failure.png'}")
        raise


def _launch_watch_and_download(page, url: str, db_path: Path) -> None:
    page.goto(url)
    _idle(page)

    # -- the form: digits, Keras MLP, random search, 3 trials of 3 epochs ----------------
    page.get_by_text("Spec (JSON)").click()
    _choose(page, "Data set", "digits (classification)")
    _spec_shows(page, '"name": "digits"')
    for label in ("Max trials", "Epochs per trial"):
        field = page.get_by_label(label, exact=True)
        field.fill("3")
        field.press("Enter")
    _spec_shows(page, '"max_trials": 3')
    _spec_shows(page, '"epochs": 3')
    name = page.get_by_label("Run name")
    name.fill("browser run")
    name.press("Enter")
    _spec_shows(page, '"name": "browser run"')
    _idle(page)
    page.get_by_role("button", name="Launch", exact=True).click()

    # -- the live page: the curves gain points while the run trains ---------------------
    page.wait_for_url(re.compile(r"/live\?run=\d+"), timeout=30_000)
    run_id = int(re.search(r"run=(\d+)", page.url).group(1))
    store = Storage(db_path)
    assert store.get_run(run_id).name == "browser run"
    timeout_ms = RUN_TIMEOUT_S * 1000
    first = page.wait_for_function(f"({CURVE_POINTS_JS})() > 0", timeout=timeout_ms)
    seen = [page.evaluate(CURVE_POINTS_JS)]
    assert first
    page.wait_for_function(f"({CURVE_POINTS_JS})() > {seen[0]}", timeout=timeout_ms)
    seen.append(page.evaluate(CURVE_POINTS_JS))
    assert seen[1] > seen[0] > 0

    page.get_by_text(re.compile(r"^completed · 3 of 3 trials")).wait_for(timeout=timeout_ms)
    run = store.get_run(run_id)
    assert run.status is RunStatus.COMPLETED, run.error
    # train + validation accuracy for 3 trials x 3 epochs, all drawn once the run is done
    page.wait_for_function(f"({CURVE_POINTS_JS})() >= 18", timeout=30_000)

    # -- the report: its JSON holds the best trial's parameters --------------------------
    page.goto(f"{url}/reports?run={run_id}")
    _idle(page)
    button = page.get_by_role("button", name="Best parameters + spec (JSON)")
    with page.expect_download(timeout=30_000) as download:
        button.click()
    assert download.value.suggested_filename == f"run-{run_id}-best.json"
    report = json.loads(Path(download.value.path()).read_text())
    best = max((t for t in store.list_trials(run_id) if t.score is not None),
               key=lambda t: (t.score, -t.number))
    assert report["best_trial"]["trial_key"] == best.trial_key
    assert report["best_trial"]["hyperparameters"] == {
        k: v for k, v in best.hyperparameters.items() if not k.startswith("tuner/")}
    assert set(report["best_trial"]["hyperparameters"]) >= {"units", "learning_rate"}
    store.close()
