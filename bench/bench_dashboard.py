"""How long the dashboard's server-side work takes on a large run.

Builds a database of two runs, each 2,000 trials x 50 epochs x 4 metrics (the last
trial of each still running), then times, as the median of 5 repeats:

- live page, first load: a fresh ``RunView`` refresh (every row), leaderboard,
  learning curves for one metric, best-so-far chart, progress; figures serialised
  to JSON as Streamlit does;
- live page, rerun: the same with a warm ``RunView`` and nothing new;
- compare page: both runs' trials, best-so-far for both, parallel coordinates,
  importance and slice plots over both runs' trials, serialised;
- refresh: one ``RunView.refresh`` with exactly one new epoch to read.

Targets: a page under 1 s, a refresh under 100 ms. Missed targets are printed as
MISSED; ``--strict`` turns them into exit status 1.

The live page draws the 20 best trials and the running one as lines and the others as
a median and 10-90 % band per epoch (``charts.learning_curves``): 2,000 line traces
would make a figure of megabytes that a browser draws slowly.

    .venv/bin/python bench/bench_dashboard.py [--db PATH] [--trials 2000] [--epochs 50]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from storage import RunStatus, Storage, TrialStatus  # noqa: E402
from tuning.insights import (
    analysis,
    charts,  # noqa: E402
)
from tuning.spec import validate_spec  # noqa: E402

PAGE_TARGET_S = 1.0
REFRESH_TARGET_S = 0.1
REPEATS = 5
SPEC = {
    "name": "bench", "data": {"source": "sklearn", "name": "digits"}, "model": {"family": "mlp"},
    "search_space": {
        "num_layers": {"type": "int", "min": 1, "max": 3},
        "units": {"type": "int", "min": 32, "max": 256, "step": 32},
        "activation": {"type": "choice", "values": ["relu", "tanh"]},
        "dropout": {"type": "float", "min": 0.0, "max": 0.5, "step": 0.1},
        "learning_rate": {"type": "float", "min": 1e-4, "max": 1e-2, "sampling": "log"},
    },
    "strategy": {"name": "random", "max_trials": 2000}, "training": {"epochs": 50},
}


def generate(path: str, n_trials: int, n_epochs: int, seed: int) -> tuple[int, int]:
    """Two runs written straight into the schema ``Storage`` created, in one transaction."""
    store = Storage(path)
    spec = validate_spec({**SPEC, "strategy": {**SPEC["strategy"], "max_trials": n_trials},
                          "training": {"epochs": n_epochs}})
    run_ids = [store.create_run(f"bench {i}", spec, status=RunStatus.RUNNING).id for i in (1, 2)]
    store.close()
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    start = time.time() - 3600.0
    trial_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM trials").fetchone()[0]
    for run_id in run_ids:
        conn.execute("UPDATE runs SET started_at = ? WHERE id = ?", (start, run_id))
        trials, epochs = [], []
        clock = start
        for number in range(n_trials):
            trial_id += 1
            hp = {"num_layers": rng.randint(1, 3), "units": rng.choice(range(32, 257, 32)),
                  "activation": rng.choice(["relu", "tanh"]),
                  "dropout": rng.choice([0.0, 0.1, 0.2, 0.3, 0.4, 0.5]),
                  "learning_rate": 10 ** rng.uniform(-4, -2)}
            quality = 0.6 + 0.3 * (1 - abs(hp["learning_rate"] - 3e-3) / 1e-2) + rng.gauss(0, .02)
            running = number == n_trials - 1
            done = n_epochs // 2 if running else n_epochs
            for epoch in range(done):
                progress = 1 - 0.9 ** (epoch + 1)
                acc = quality * progress
                epochs.append((run_id, trial_id, 0, epoch, json.dumps({
                    "loss": 2.3 * (1 - progress) + 0.1, "accuracy": acc + 0.02,
                    "val_loss": 2.3 * (1 - progress) + 0.15, "val_accuracy": acc}), clock))
            trials.append((
                trial_id, run_id, f"trial_{number:05d}", number,
                "running" if running else "completed", json.dumps(hp),
                None if running else acc, "{}", clock, None if running else clock + 1.7,
                done, "bench", number + 1))
            clock += 1.7
        conn.executemany(
            "INSERT INTO trials (id, run_id, trial_key, number, status, hyperparameters, score, "
            "metrics, started_at, finished_at, epochs_done, worker, rev) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", trials)
        conn.executemany(
            "INSERT INTO epochs (run_id, trial_id, execution, epoch, metrics, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", epochs)
    conn.execute("COMMIT")
    conn.close()
    return run_ids[0], run_ids[1]


def live_page(store: Storage, view: analysis.RunView, run_id: int) -> int:
    view.refresh(store, run_id)
    run, trials = view.run, view.trial_list()
    board = analysis.leaderboard(run, trials)
    running = [t.trial_key for t in trials if t.status is TrialStatus.RUNNING]
    top = board.loc[board["rank"].notna(), "trial_key"].head(charts.MAX_CURVE_TRIALS).tolist()
    curves = charts.learning_curves(view.curves(), "accuracy",
                                    highlight_key=running[-1] if running else None,
                                    top_keys=top)
    best = charts.best_so_far_chart({run.name: analysis.best_so_far(run, trials)},
                                    direction=run.direction)
    analysis.progress(run, trials, time.time())
    return len(curves.to_json()) + len(best.to_json())


def compare_page(store: Storage, run_ids: tuple[int, ...]) -> int:
    runs = [store.get_run(r) for r in run_ids]
    trials = {r.id: store.list_trials(r.id) for r in runs}
    series = {r.name: analysis.best_so_far(r, trials[r.id]) for r in runs}
    best = charts.best_so_far_chart(series, direction=runs[0].direction)
    space = runs[0].spec["search_space"]
    everything = [t for r in runs for t in trials[r.id]]
    frame = analysis.trials_frame(everything)
    parallel = charts.parallel_coordinates(frame, space, direction=runs[0].direction)
    importance = charts.importance_chart(
        analysis.hp_importance(everything, space, runs[0].direction))
    slices = charts.slice_plots(frame, space)
    return sum(len(f.to_json()) for f in (best, parallel, importance, slices))


def timed(fn: Callable[[], object], setup: Callable[[], object] | None = None
          ) -> tuple[float, list[float]]:
    times = []
    for _ in range(REPEATS):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="database file to create (default: a temporary one)")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a target is missed")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-dashboard-")
    path = args.db or os.path.join(folder, "bench.db")
    if os.path.exists(path):
        sys.exit(f"{path} exists; pass a new file")
    t0 = time.perf_counter()
    run_a, run_b = generate(path, args.trials, args.epochs, seed=0)
    print(f"generated 2 runs x {args.trials} trials x {args.epochs} epochs "
          f"in {time.perf_counter() - t0:.1f} s ({path})")
    store = Storage(path)
    results = []

    read_all, all_read = timed(lambda: store.changes_since(run_a))
    results.append(("  of which storage.changes_since, all rows", read_all, None, all_read))
    cold_views = [analysis.RunView()]  # one slot: earlier views are freed, as in a session

    def fresh_view() -> None:
        cold_views[0] = analysis.RunView()

    first, all_first = timed(lambda: live_page(store, cold_views[0], run_a), setup=fresh_view)
    results.append(("live page, first load (full refresh)", first, PAGE_TARGET_S, all_first))
    view = cold_views[0]
    size = live_page(store, view, run_a)
    rerun, all_rerun = timed(lambda: live_page(store, view, run_a))
    results.append(("live page, rerun (warm view)", rerun, PAGE_TARGET_S, all_rerun))
    compare, all_compare = timed(lambda: compare_page(store, (run_a, run_b)))
    results.append(("compare page, 2 runs", compare, PAGE_TARGET_S, all_compare))

    running = next(t for t in view.trial_list() if t.status is TrialStatus.RUNNING)
    next_epoch = [running.epochs_done]

    def add_epoch() -> None:
        store.record_epoch(running.id, 0, next_epoch[0], {
            "loss": 0.3, "accuracy": 0.9, "val_loss": 0.35, "val_accuracy": 0.88})
        next_epoch[0] += 1

    read: list[int] = []
    refresh, all_refresh = timed(lambda: read.append(len(view.refresh(store, run_a).epochs)),
                                 setup=add_epoch)
    assert read == [1] * REPEATS, f"refreshes read {read} epochs, expected 1 each"
    results.append(("refresh, 1 new epoch", refresh, REFRESH_TARGET_S, all_refresh))
    refresh_page, all_refresh_page = timed(lambda: live_page(store, view, run_a), setup=add_epoch)
    results.append(("live page rerun after 1 new epoch", refresh_page, PAGE_TARGET_S,
                    all_refresh_page))

    print(f"live page figures: {size / 1e6:.2f} MB of JSON")
    print(f"{'work':<42}{'median':>10}{'target':>10}   runs (s)")
    missed = 0
    for name, median, target, runs in results:
        ok = target is None or median < target
        missed += not ok
        goal = "" if target is None else f"{target * 1000:.0f}ms"
        verdict = "" if target is None else ("ok" if ok else "MISSED")
        print(f"{name:<42}{median * 1000:>8.0f}ms{goal:>10}   "
              f"{' '.join(f'{r:.3f}' for r in runs)}  {verdict}")
    store.close()
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
