"""How long the dashboard's server-side work takes on large runs, and what it holds.

Builds a database of two runs, each ``--trials`` trials x ``--epochs`` epochs x 4 metrics
(the last trial of each still running) and ``--runs`` small runs beside them (for the Runs
page), written with ``executemany`` in one transaction. Then it times, as the median of
5 repeats, the work each page does (the same functions the pages call):

- live page, first load: a fresh ``RunView`` (counts, the leaderboard's first page, the
  drawn trials' curves, the band of the others, best so far, the records for the MLP
  panel, the advice of "What to try next" asked for: a large run's is read on a
  background thread, timed on its own below), figures serialised to JSON as Streamlit does;
- live page, rerun: the same with a warm ``RunView`` and nothing new;
- live page rerun after 1 new epoch, and the refresh alone (``RunView.refresh``);
- advice: what the live page's "What to try next" reads and computes for a big run, on
  a background thread (no target: the panel draws the last answer, or says it is reading,
  meanwhile);
- compare page: both big runs (best so far, best trials, parallel coordinates, slices
  and importance over each run's sample);
- runs page: every run listed three times (the page's picker, its refresh check, its
  table) and its table built;
- memory: what a warm ``RunView`` of a big run holds (``tracemalloc``), against a bound
  that does not grow with the run.

Targets: a page under 1 s, a refresh under 100 ms, a view under 20 MB. Missed targets
are printed as MISSED; ``--strict`` turns them into exit status 1.

    .venv/bin/python bench/bench_dashboard.py [--trials 2000] [--epochs 50] [--runs 1000]
                                              [--db PATH] [--strict]
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from pages._advice import AdviceJobs, _compute  # noqa: E402  (the live page's advice)
from storage import RunStatus, Storage  # noqa: E402
from tuning.insights import analysis, charts  # noqa: E402
from tuning.insights.run_view import RunView, leaderboard_page_frame  # noqa: E402
from tuning.spec import validate_spec  # noqa: E402

PAGE_TARGET_S = 1.0
REFRESH_TARGET_S = 0.1
VIEW_TARGET_MB = 20.0
REPEATS = 5
PAGE_ROWS = 50       # pages/live.py
RECORDS_LIMIT = 500   # pages/live.py
SAMPLE = 1000        # pages/compare.py
IMPORTANCE = {"trees": 16, "samples": 500}  # pages/compare.py
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


def _trial_rows(rng: random.Random, run_id: int, first_id: int, n_trials: int, n_epochs: int,
                start: float, rev0: int = 0):
    """Trials and epochs of one run; the last trial is still running, half-way."""
    trials, epochs, clock = [], [], start
    for number in range(n_trials):
        trial_id = first_id + number
        hp = {"num_layers": rng.randint(1, 3), "units": rng.choice(range(32, 257, 32)),
              "activation": rng.choice(["relu", "tanh"]),
              "dropout": rng.choice([0.0, 0.1, 0.2, 0.1 + 0.2, 0.4, 0.5]),
              "learning_rate": 10 ** rng.uniform(-4, -2)}
        quality = 0.6 + 0.3 * (1 - abs(hp["learning_rate"] - 3e-3) / 1e-2) + rng.gauss(0, .02)
        running = number == n_trials - 1
        done = n_epochs // 2 if running else n_epochs
        acc = 0.0
        for epoch in range(done):
            progress = 1 - 0.9 ** (epoch + 1)
            acc = quality * progress
            epochs.append((run_id, trial_id, 0, epoch, orjson.dumps({
                "loss": 2.3 * (1 - progress) + 0.1, "accuracy": acc + 0.02,
                "val_loss": 2.3 * (1 - progress) + 0.15, "val_accuracy": acc}).decode(), clock))
        trials.append((
            trial_id, run_id, f"trial_{number:05d}", number,
            "running" if running else "completed", orjson.dumps(hp).decode(),
            None if running else acc, "{}", clock, None if running else clock + 1.7,
            done, "bench", rev0 + number + 1))
        clock += 1.7
    return trials, epochs


def generate(path: str, n_trials: int, n_epochs: int, n_runs: int, seed: int
             ) -> tuple[int, int]:
    """Two big runs and ``n_runs`` small ones (5 trials x 3 epochs), written straight into
    the schema ``Storage`` created, with executemany in one transaction."""
    store = Storage(path)
    spec = validate_spec({**SPEC, "strategy": {**SPEC["strategy"], "max_trials": n_trials},
                          "training": {"epochs": n_epochs}})
    small = validate_spec({**SPEC, "strategy": {**SPEC["strategy"], "max_trials": 5},
                           "training": {"epochs": 3}})
    big = [store.create_run(f"bench {i}", spec, status=RunStatus.RUNNING).id for i in (1, 2)]
    store.close()
    rng = random.Random(seed)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN")
    start = time.time() - 3600.0
    spec_text = orjson.dumps(small).decode()
    conn.executemany(
        "INSERT INTO runs (name, spec, status, direction, created_at, started_at, finished_at, "
        "max_trials) VALUES (?, ?, 'completed', 'max', ?, ?, ?, 5)",
        [(f"small {i}", spec_text, start, start, start + 60) for i in range(n_runs)])
    small_ids = [r[0] for r in conn.execute("SELECT id FROM runs WHERE name LIKE 'small %'")]
    next_id = 1
    for run_id in big + small_ids:
        size, length = (n_trials, n_epochs) if run_id in big else (5, 3)
        conn.execute("UPDATE runs SET started_at = ? WHERE id = ?", (start, run_id))
        trials, epochs = _trial_rows(rng, run_id, next_id, size, length, start)
        if run_id not in big:
            trials = [t[:4] + ("completed",) + t[5:9] + (t[8] + 1.7,) + t[10:] for t in trials]
        next_id += size
        conn.executemany(
            "INSERT INTO trials (id, run_id, trial_key, number, status, hyperparameters, score, "
            "metrics, started_at, finished_at, epochs_done, worker, rev) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", trials)
        conn.executemany(
            "INSERT INTO epochs (run_id, trial_id, execution, epoch, metrics, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", epochs)
    conn.execute("COMMIT")
    conn.close()
    return big[0], big[1]


def live_page(store: Storage, view: RunView, run_id: int) -> int:
    """What pages/live.py computes and serialises for one draw."""
    view.refresh(store, run_id)
    run = view.run
    analysis.progress_of(run, view.counts, time.time())
    board = leaderboard_page_frame(store, run, 0, PAGE_ROWS, link=lambda r, k: f"{r}/{k}")
    running = [t.trial_key for t in view.running()]
    band = view.band(store, ("accuracy", "val_accuracy"))
    curves = charts.learning_curves(view.curves(), "accuracy",
                                    highlight_key=running[-1] if running else None,
                                    top_keys=view.top_keys(), band=band)
    frame = analysis.best_so_far_points(run, view.best_points(store))
    figures = [curves] + [charts.best_so_far_chart({run.name: frame}, x=x,
                                                   direction=run.direction)
                          for x in ("number", "elapsed_s")]
    records = view.records(store, RECORDS_LIMIT)
    any("param_count" in t.metrics for t in records)
    if not hasattr(view, "bench_jobs"):  # the dashboard's, shared by its sessions
        view.bench_jobs = AdviceJobs()
    advice, _ = view.bench_jobs.latest(store, run, view.counts)  # a large run's: in the background
    note = len(advice.note) if advice is not None else 0
    return sum(len(f.to_json()) for f in figures) + len(board.to_json()) + note


def settle(view: RunView) -> None:
    """Wait for the view's background advice, so that it is not timed with the next draw
    (CPU time counts every thread of the process)."""
    for entry in list(getattr(view, "bench_jobs", AdviceJobs())._latest.values()):
        entry.job.result()


def compare_page(store: Storage, run_ids: tuple[int, ...]) -> int:
    """What pages/compare.py computes and serialises (the importance fitted afresh)."""
    runs = [store.get_run(r) for r in run_ids]
    sampled = {r.id: store.scored_sample(r.id, r.direction, SAMPLE) for r in runs}
    for r in runs:
        store.trial_counts(r.id)
    series = {r.name: analysis.best_so_far_points(r, store.best_so_far(r.id, r.direction))
              for r in runs}
    figures = [charts.best_so_far_chart(series, x=x, direction=runs[0].direction)
               for x in ("elapsed_s", "epochs_cum")]
    space = runs[0].spec["search_space"]
    frame = pd_concat([analysis.trials_frame(sampled[r.id]).assign(run=r.name) for r in runs])
    figures.append(charts.parallel_coordinates(frame, space, direction=runs[0].direction))
    figures.append(charts.slice_plots(frame, space))
    for r in runs:
        figures.append(charts.importance_chart(
            analysis.hp_importance(sampled[r.id], space, r.direction, **IMPORTANCE)))
    return sum(len(f.to_json()) for f in figures)


def pd_concat(frames):
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def runs_page(store: Storage) -> int:
    """What pages/runs.py reads and builds: the run list (three reads) and its table."""
    import pandas as pd

    for _ in range(2):
        store.list_runs()
    now = time.time()
    frame = pd.DataFrame([{
        "id": r.id, "name": r.name, "data set": r.dataset, "model": r.model_family,
        "strategy": r.strategy, "status": r.status.value,
        "progress": f"{r.trials_done} / {r.max_trials}", "best score": r.best_score,
        "elapsed": r.elapsed_s(now), "created": r.created_at} for r in store.list_runs()])
    return len(frame.to_json())


def held_mb(make: Callable[[], object]) -> tuple[object, float]:
    """What ``make()`` returns and the memory it still holds once built, in MB."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    made = make()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return made, (after - before) / 1e6


def timed(fn: Callable[[], object], setup: Callable[[], object] | None = None
          ) -> tuple[float, list[float]]:
    """The median CPU time of ``fn`` over ``REPEATS`` runs, and each run's wall time.

    The target is judged on CPU time: on a machine shared with other work, wall time
    also counts the time this process waited for a core.
    """
    cpu, wall = [], []
    for _ in range(REPEATS):
        if setup is not None:
            setup()
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    return statistics.median(cpu), wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", help="database file to create (default: a temporary one)")
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1000, help="small runs for the Runs page")
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a target is missed")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="bench-dashboard-")
    path = args.db or os.path.join(folder, "bench.db")
    if os.path.exists(path):
        sys.exit(f"{path} exists; pass a new file")
    t0 = time.perf_counter()
    run_a, run_b = generate(path, args.trials, args.epochs, args.runs, seed=0)
    print(f"generated 2 runs x {args.trials:,} trials x {args.epochs} epochs and "
          f"{args.runs:,} small runs in {time.perf_counter() - t0:.1f} s ({path})")
    store = Storage(path)
    results = []
    cold_views = [RunView()]  # one slot: earlier views are freed, as in a session

    def fresh_view() -> None:
        settle(cold_views[0])
        cold_views[0] = RunView()

    first, all_first = timed(lambda: live_page(store, cold_views[0], run_a), setup=fresh_view)
    results.append(("live page, first load", first, PAGE_TARGET_S, all_first))
    settle(cold_views[0])
    view, view_mb = held_mb(lambda: (lambda v: (live_page(store, v, run_a), v)[1])(RunView()))
    settle(view)
    size = live_page(store, view, run_a)
    rerun, all_rerun = timed(lambda: live_page(store, view, run_a))
    results.append(("live page, rerun (warm view)", rerun, PAGE_TARGET_S, all_rerun))

    running = view.running()[0]
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
    settle(view)
    advice_s, all_advice = timed(lambda: _compute(store, store.get_run(run_a)))
    results.append(("advice, read and computed off the page", advice_s, None, all_advice))
    compare, all_compare = timed(lambda: compare_page(store, (run_a, run_b)))
    results.append(("compare page, 2 runs", compare, PAGE_TARGET_S, all_compare))
    listing, all_listing = timed(lambda: runs_page(store))
    results.append((f"runs page, {args.runs + 2:,} runs", listing, PAGE_TARGET_S, all_listing))

    print(f"live page figures: {size / 1e6:.2f} MB of JSON; the warm view holds "
          f"{len(view.epochs):,} epochs of {len(view.trials)} trials")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'work':<42}{'CPU':>10}{'target':>10}   wall time of each run (s)")
    missed = 0
    for name, median, target, runs in results:
        ok = target is None or median < target
        missed += not ok
        goal = "" if target is None else f"{target * 1000:.0f}ms"
        verdict = "" if target is None else ("ok" if ok else "MISSED")
        print(f"{name:<42}{median * 1000:>8.0f}ms{goal:>10}   "
              f"{' '.join(f'{r:.3f}' for r in runs)}  {verdict}")
    ok = view_mb < VIEW_TARGET_MB
    missed += not ok
    print(f"{'memory held by a warm live view':<42}{view_mb:>8.1f}MB{VIEW_TARGET_MB:>8.0f}MB"
          f"   {'ok' if ok else 'MISSED'}")
    store.close()
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
