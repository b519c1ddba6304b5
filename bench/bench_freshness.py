"""Freshness: from an epoch's commit in SQLite to the live page showing it, in a real browser.

Starts the dashboard (no engine) on a fresh database, opens the live page of a run whose
last trial is running in Debian's Chromium, then commits 40 epochs one at a time, each only
once the page shows the one before and at a random moment of the page's refresh cycle
(seeded: a worker's epochs do not end in step with the page's timer), and measures from
each commit to the moment the learning-curve chart has drawn its points. Prints the median
and the 90th percentile against the target (p90 under 1 s). Before that, on the server
warmed by one visit: each first page (the Launch page at ``/`` with its form, the Runs page
with its table, the live page with its chart) from the browser's request, in a fresh browser
context (nothing cached) and reloaded, median of ``--rounds`` (target under 2 s), beside the
same timing for a one-line Streamlit app (the framework's own floor on this machine); and
the server's start to healthy (target under 3 s); and the Launch page on a new server, in a
fresh browser 3 s after the start (its first script runs import the pages' modules).
``--strict`` exits with status 1 on a miss.

    .venv/bin/python bench/bench_freshness.py [--epochs 40] [--seed 0] [--rounds 3] [--strict]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from e2e import (  # noqa: E402
    FIRST_DRAW_MS,
    app_server,
    free_port,
    goto,
    points_js,
    seed,
    wait_healthy,
)

from storage import Storage  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

P90_TARGET_S = 1.0
CURVES = points_js("learning_curves")


FIRST_PAGE_TARGET_S = 2.0
HEALTHY_TARGET_S = 3.0
GRID = "document.querySelector('[data-testid=\"stDataFrame\"] canvas')"
FORM = f"() => !!{GRID} && !!document.querySelector('[data-testid=\"stButton\"]')"
TABLE = f"() => !!{GRID}"
TITLE = "() => !!document.querySelector('h1')"
FLOOR_APP = 'import streamlit as st\n\nst.title("Runs")\n'


def time_first_page(browser, url: str, ready: str, rounds: int) -> dict[str, list[float]]:
    """From the browser's request to ``ready``, on a warm server: in a fresh browser context
    (nothing cached: Streamlit's bundle and each element type's code are fetched and
    compiled), then reloaded in it (cached), ``rounds`` times."""
    timings: dict[str, list[float]] = {"fresh browser": [], "reloaded": []}
    for _ in range(rounds):
        context = browser.new_context(viewport={"width": 1400, "height": 2000})
        page = context.new_page()
        for label, seconds in timings.items():
            t0 = time.perf_counter()
            if label == "fresh browser":
                page.goto(url, timeout=FIRST_DRAW_MS, wait_until="commit")
            else:
                page.reload(timeout=FIRST_DRAW_MS, wait_until="commit")
            page.wait_for_function(ready, timeout=FIRST_DRAW_MS, polling=20)
            seconds.append(time.perf_counter() - t0)
        context.close()
    return timings


COLD_VISIT_AFTER_S = 3.0


def cold_first_visits(browser, folder: Path, rounds: int) -> tuple[list[float], list[float]]:
    """A new server each round, opened in a fresh browser ``COLD_VISIT_AFTER_S`` after its
    start, as a person would: (seconds to healthy, seconds from the request to the Launch
    form)."""
    healthy_s, form_s = [], []
    for round_ in range(rounds):
        where = folder / f"cold{round_}"
        where.mkdir()
        started = time.perf_counter()
        with app_server(where) as (url, _db, healthy):
            healthy_s.append(healthy)
            time.sleep(max(0.0, COLD_VISIT_AFTER_S - (time.perf_counter() - started)))
            form_s.append(time_first_page(browser, url, FORM, 1)["fresh browser"][0])
    return healthy_s, form_s


def floor_timings(browser, folder: Path, rounds: int) -> dict[str, list[float]]:
    """The same timing for a one-line Streamlit app (a title): the framework's own share,
    which no page of ours can beat on this machine."""
    script = folder / "floor_app.py"
    script.write_text(FLOOR_APP)
    log = folder / "floor.log"
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            cwd=folder, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc, log)
        warm = browser.new_context()
        warm.new_page().goto(url, timeout=FIRST_DRAW_MS)
        warm.close()
        return time_first_page(browser, url, TITLE, rounds)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0, help="of the commits' moments")
    parser.add_argument("--rounds", type=int, default=3, help="of each first-page timing")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder, app_server(Path(folder)) as (url, db, healthy):
        store = Storage(db)
        run = seed(store, trials=3, epochs=2, running=True, spec=None)
        trial = store.running_trials(run.id)[0]
        delays = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # Warm the server: a page's first script run imports what it needs (pandas,
            # Plotly, the spec modules).
            warm = browser.new_context()
            warm_page = warm.new_page()
            for path in ("/", "/runs", f"/live?run={run.id}"):
                goto(warm_page, url + path)
            warm.close()
            firsts = [(name, time_first_page(browser, url + path, ready, args.rounds))
                      for name, path, ready in (
                          ("Launch page (the first page), its form drawn", "/", FORM),
                          ("Runs page, its table drawn", "/runs", TABLE),
                          ("live page, its chart drawn", f"/live?run={run.id}",
                           f"() => ({CURVES})() > 0"))]
            floor = floor_timings(browser, Path(folder), args.rounds)
            cold_healthy, cold_form = cold_first_visits(browser, Path(folder), args.rounds)
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            goto(page, f"{url}/live?run={run.id}")
            page.wait_for_function(f"({CURVES})() > 0", timeout=FIRST_DRAW_MS)
            for epoch in range(2, 2 + args.epochs):
                shown = page.evaluate(CURVES)
                # A worker's epochs end whenever training does, not in step with the page's
                # timer: commit at a random moment of its cycle (seeded).
                time.sleep(rng.uniform(0.0, 1.0))
                store.record_epoch(trial.id, 0, epoch, {"loss": 1 / (epoch + 1),
                                                        "accuracy": 0.5 + epoch / 200})
                committed = time.perf_counter()
                page.wait_for_function(f"({CURVES})() > {shown}", timeout=30_000)
                delays.append(time.perf_counter() - committed)
            browser.close()
        store.close()
    p90 = statistics.quantiles(delays, n=10)[-1]
    missed = 0

    def verdict(ok: bool) -> str:
        nonlocal missed
        missed += not ok
        return "ok" if ok else "MISSED"

    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"server start -> healthy: {healthy:.2f} s (target < {HEALTHY_TARGET_S:g} s) "
          f"{verdict(healthy < HEALTHY_TARGET_S)}")
    print(f"first page on a warm server, median of {args.rounds} (target < "
          f"{FIRST_PAGE_TARGET_S:g} s):")
    for name, timings in firsts:
        for label, seconds in timings.items():
            median = statistics.median(seconds)
            print(f"  {name}, {label}: {median:.2f} s "
                  f"({', '.join(f'{x:.2f}' for x in seconds)}) "
                  f"{verdict(median < FIRST_PAGE_TARGET_S)}")
    print(f"  Launch page on a new server, opened {COLD_VISIT_AFTER_S:g} s after its start in a "
          f"fresh browser: {statistics.median(cold_form):.2f} s "
          f"({', '.join(f'{x:.2f}' for x in cold_form)}); that server's start -> healthy "
          f"{statistics.median(cold_healthy):.2f} s "
          f"{verdict(max(cold_healthy) < HEALTHY_TARGET_S)}")
    for label, seconds in floor.items():
        print(f"  floor: a one-line Streamlit app, its title drawn, {label}: "
              f"{statistics.median(seconds):.2f} s")
    print(f"epoch commit -> live page shows it, {len(delays)} epochs: median "
          f"{statistics.median(delays) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms "
          f"(target p90 < {P90_TARGET_S * 1000:.0f} ms) {verdict(p90 < P90_TARGET_S)}")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
