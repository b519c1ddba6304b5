"""Freshness: from an epoch's commit in SQLite to the live page showing it, in a real browser.

Starts the dashboard (no engine) on a fresh database, opens the live page of a run whose
last trial is running in Debian's Chromium, then commits 40 epochs one at a time, each only
once the page shows the one before and at a random moment of the page's refresh cycle
(seeded: a worker's epochs do not end in step with the page's timer), and measures from
each commit to the moment the learning-curve chart has drawn its points. Prints the median
and the 90th percentile against the target (p90 under 1 s). Before that, on the server
warmed by one visit: the first page (the Runs page with its table, the live page with its
chart) from the browser's request, in a fresh browser context (nothing cached) and
reloaded (target under 2 s), and the server's start to healthy (target under 3 s).
``--strict`` exits with status 1 on a miss.

    .venv/bin/python bench/bench_freshness.py [--epochs 40] [--seed 0] [--strict]
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "browser"))

from e2e import FIRST_DRAW_MS, app_server, goto, points_js, seed  # noqa: E402

from storage import Storage  # noqa: E402
from tests.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

P90_TARGET_S = 1.0
CURVES = points_js("learning_curves")


FIRST_PAGE_TARGET_S = 2.0
HEALTHY_TARGET_S = 3.0
TABLE = "() => document.querySelectorAll('[data-testid=\"stDataFrame\"]').length > 0"


def first_pages(browser, url: str, run_id: int) -> list[tuple[str, float]]:
    """From the browser's request to the page drawn, on a warm server: in a fresh browser
    context (nothing cached: Streamlit's and Plotly's bundles are fetched and parsed), then
    reloaded in it (cached)."""
    timings = []
    for name, path, ready in (("Runs page, its table drawn", "/", TABLE),
                              ("live page, its chart drawn", f"/live?run={run_id}",
                               f"({CURVES})() > 0")):
        context = browser.new_context(viewport={"width": 1400, "height": 2000})
        page = context.new_page()
        for label in ("fresh browser", "reloaded"):
            t0 = time.perf_counter()
            if label == "fresh browser":
                page.goto(url + path, timeout=FIRST_DRAW_MS)
            else:
                page.reload(timeout=FIRST_DRAW_MS)
            page.wait_for_function(ready, timeout=FIRST_DRAW_MS)
            timings.append((f"{name}, {label}", time.perf_counter() - t0))
        context.close()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0, help="of the commits' moments")
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
            # Warm the server: its first script run imports pandas and Plotly.
            warm = browser.new_context()
            goto(warm.new_page(), f"{url}/live?run={run.id}")
            warm.close()
            firsts = first_pages(browser, url, run.id)
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
    for name, seconds in firsts:
        print(f"first page on a warm server, {name}: {seconds:.2f} s "
              f"(target < {FIRST_PAGE_TARGET_S:g} s) {verdict(seconds < FIRST_PAGE_TARGET_S)}")
    print(f"epoch commit -> live page shows it, {len(delays)} epochs: median "
          f"{statistics.median(delays) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms "
          f"(target p90 < {P90_TARGET_S * 1000:.0f} ms) {verdict(p90 < P90_TARGET_S)}")
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
