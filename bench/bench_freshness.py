"""Freshness: from an epoch's commit in SQLite to the live page showing it, in a real browser.

Starts the dashboard (no engine) on a fresh database, opens the live page of a run whose
last trial is running in Debian's Chromium, then commits 40 epochs one at a time, each only
once the page shows the one before, and measures from each commit to the moment the
learning-curve chart has drawn its points. Prints the median and the 90th percentile
against the target (p90 under 1 s); ``--strict`` exits with status 1 on a miss. The page
refreshes every second, so a figure near 0.5 s on average is what the timer allows.

    .venv/bin/python bench/bench_freshness.py [--epochs 40] [--strict]
"""
from __future__ import annotations

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, app_server(Path(folder)) as (url, db, healthy):
        store = Storage(db)
        run = seed(store, trials=3, epochs=2, running=True,
                   spec=None)
        trial = store.running_trials(run.id)[0]
        delays = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            t0 = time.perf_counter()
            goto(page, f"{url}/live?run={run.id}")
            page.wait_for_function(f"({CURVES})() > 0", timeout=FIRST_DRAW_MS)
            first_page = time.perf_counter() - t0
            for epoch in range(2, 2 + args.epochs):
                shown = page.evaluate(CURVES)
                store.record_epoch(trial.id, 0, epoch, {"loss": 1 / (epoch + 1),
                                                        "accuracy": 0.5 + epoch / 200})
                committed = time.perf_counter()
                page.wait_for_function(f"({CURVES})() > {shown}", timeout=30_000)
                delays.append(time.perf_counter() - committed)
            browser.close()
        store.close()
    p90 = statistics.quantiles(delays, n=10)[-1]
    print(f"server healthy after {healthy:.2f} s; first live page with its chart "
          f"{first_page:.2f} s")
    print(f"epoch commit -> live page shows it, {len(delays)} epochs: median "
          f"{statistics.median(delays) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms "
          f"(target p90 < {P90_TARGET_S * 1000:.0f} ms) "
          f"{'ok' if p90 < P90_TARGET_S else 'MISSED'}")
    return 1 if args.strict and p90 >= P90_TARGET_S else 0


if __name__ == "__main__":
    sys.exit(main())
