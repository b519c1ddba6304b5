"""The e2e harness, in the style of Streamlit's own ``e2e_playwright/conftest.py`` (its
fixtures are registered by this folder's ``conftest.py``).

``app_server(tmp_path, engine=False)`` starts ``streamlit run app.py`` on a free port with its
own database and waits on ``/_stcore/health``; ``wait_idle(page)`` waits on the app's own
signal that a script run ended (``data-test-script-state=notRunning``). Nothing sleeps to
wait for the app: every wait polls a condition under a deadline.

Without the engine (``TUNING_ENGINE=0``) the dashboard trains nothing: a test writes the
rows a worker would (``seed``), so the page journeys run in seconds and without TensorFlow.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from storage import Storage, TrialStatus

ROOT = Path(__file__).resolve().parents[2]
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
START_TIMEOUT_S = 60
# Plotly's bundle is parsed once per tab: on a loaded two-core machine the first chart can
# take tens of seconds to appear.
FIRST_DRAW_MS = 120_000
REACT_MS = 60_000  # the page reacting to a click or to a new row, on the same machine
MLP_SPEC = {
    "name": "e2e mlp", "data": {"source": "sklearn", "name": "digits"},
    "model": {"family": "mlp"},
    "search_space": {"units": {"type": "int", "min": 16, "max": 64, "step": 16},
                     "dropout": {"type": "float", "min": 0.0, "max": 0.5}},
    "strategy": {"name": "random", "max_trials": 12}, "training": {"epochs": 4},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, log: Path,
                 timeout_s: float = START_TIMEOUT_S) -> float:
    """Seconds until ``/_stcore/health`` answered ok; fails with the log if it never does."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.1)  # poll interval, bounded by the deadline
    pytest.fail(f"streamlit not healthy after {timeout_s}s:\n{log.read_text()[-3000:]}")


@contextmanager
def app_server(folder: Path, engine: bool = False) -> Iterator[tuple[str, Path, float]]:
    """A running dashboard: (base URL, database path, seconds from start to healthy).
    ``folder`` is also where it may read data (``TUNING_DATA_DIRS``): a test's files."""
    db_path = folder / "tuning.db"
    log = folder / "streamlit.log"
    port = free_port()
    env = dict(os.environ, TUNING_DB=str(db_path), TUNING_ENGINE="1" if engine else "0",
               TUNING_CONCURRENCY="1", KERAS_HOME=str(folder / "keras"),
               TUNING_DATA_DIRS=str(folder))
    Storage(db_path).close()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        yield url, db_path, wait_healthy(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"--- streamlit log ({log}) ---\n{log.read_text(errors='replace')[-4000:]}")


@pytest.fixture
def server(tmp_path: Path):
    """A dashboard without an engine, over a fresh database."""
    with app_server(tmp_path) as (url, db_path, _):
        store = Storage(db_path)
        try:
            yield url, store
        finally:
            store.close()


@pytest.fixture
def page(browser, tmp_path: Path):
    """A browser tab; a failing test leaves a screenshot of the whole page beside its log."""
    tab = browser.new_page(viewport={"width": 1400, "height": 2400}, accept_downloads=True)
    tab.set_default_timeout(REACT_MS)
    yield tab
    shot = tmp_path / "last.png"
    try:
        tab.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
    except Exception:  # noqa: BLE001 - a screenshot is a courtesy, never the failure
        pass
    tab.close()


def wait_idle(page, timeout_s: float = START_TIMEOUT_S) -> None:
    page.wait_for_selector(IDLE, timeout=timeout_s * 1000)


def goto(page, url: str) -> None:
    page.goto(url, timeout=FIRST_DRAW_MS)
    wait_idle(page, FIRST_DRAW_MS / 1000)


def chart_count_js(prefix: str) -> str:
    """JS counting the drawn Plotly charts whose ``uirevision`` starts with ``prefix``."""
    return ("() => [...document.querySelectorAll('.js-plotly-plot')].filter(g => g._fullData && "
            f"String((g.layout || {{}}).uirevision || '').startsWith('{prefix}')).length")


def points_js(prefix: str) -> str:
    """JS counting the points Plotly drew in the first chart whose uirevision has ``prefix``."""
    return ("() => { const g = [...document.querySelectorAll('.js-plotly-plot')].find(g => "
            f"g.layout && String(g.layout.uirevision || '').startsWith('{prefix}')); "
            "if (!g || !g._fullData) return -1; "
            "return g._fullData.reduce((n, t) => n + (t._length ?? (t.x ? t.x.length : 0)), 0); }")


def seed(store: Storage, name: str = "e2e mlp", trials: int = 6, epochs: int = 4,
         running: bool = False, spec: dict | None = None):
    """A run with trials and curves written as a worker would; the last one still running
    when ``running``. Returns the run."""
    from tuning.runner.control import queue_run
    from tuning.runner.liveness import process_identity

    run = queue_run(store, dict(spec or MLP_SPEC, name=name))
    # Held by this test's process, as a worker holds it: alive for as long as the test runs
    # (without the identity, a slow machine's stale heartbeat would mark it interrupted).
    assert store.claim_run(run.id, pid=os.getpid(), identity=process_identity(os.getpid()))
    for number in range(trials):
        trial = store.begin_trial(run.id, f"t{number:02d}", number,
                                  {"units": 16 * (1 + number % 4), "dropout": 0.1 + 0.2})
        last = running and number == trials - 1
        for epoch in range(2 if last else epochs):
            quality = 0.5 + 0.05 * number
            store.record_epoch(trial.id, 0, epoch, {
                "loss": 1.0 / (epoch + 1), "val_loss": 1.1 / (epoch + 1),
                "accuracy": quality * (epoch + 1) / epochs,
                "val_accuracy": quality * (epoch + 1) / epochs - 0.02})
        if not last:
            store.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.5 + 0.05 * number)
    if not running:
        from storage import RunStatus

        store.finish_run(run.id, RunStatus.COMPLETED)
    return store.get_run(run.id)
