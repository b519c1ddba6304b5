"""Several runs at once (an engine with concurrency 2, three runs queued) while several
readers poll them as browser sessions do (threads with the live page's ``RunView``, and
processes polling ``changes_since``): no "database is locked" anywhere, and every epoch a
worker committed reaches each reader exactly once."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from storage import RunStatus, Storage, TrialStatus
from tests.faults.kit import ROOT, end_workers, wait_for
from tuning.insights.run_view import RunView
from tuning.paths import run_dir
from tuning.runner.control import queue_run
from tuning.runner.engine import Engine

pytestmark = pytest.mark.slow

RUNS, FOLDS, TRIALS = 3, 10, 8
READER_THREADS, READER_PROCESSES = 3, 2


def _spec(i: int) -> dict:
    # k-nearest neighbours fit in milliseconds: each worker commits folds as fast as it can.
    return {"name": f"concurrent {i}", "seed": i, "data": {"source": "sklearn", "name": "digits"},
            "model": {"family": "knn"},
            "search_space": {"n_neighbors": {"type": "int", "min": 1, "max": 40},
                             "weights": {"type": "choice", "values": ["uniform", "distance"]}},
            "strategy": {"name": "random", "max_trials": TRIALS, "cv_folds": FOLDS}}


class ThreadReader(threading.Thread):
    """One browser session: a RunView per run, refreshed every 20 ms until all runs end."""

    def __init__(self, store: Storage, run_ids: list[int]):
        super().__init__(daemon=True)
        self.store, self.run_ids = store, run_ids
        self.seen = {r: [] for r in run_ids}
        self.views = {r: RunView() for r in run_ids}
        self.errors: list[str] = []

    def run(self) -> None:
        last_round, deadline = False, time.monotonic() + 240
        while time.monotonic() < deadline:
            finished = True
            for run_id in self.run_ids:
                try:
                    update = self.views[run_id].refresh(self.store, run_id)
                except Exception as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")
                    finished = False
                    continue
                self.seen[run_id] += [(e.id, e.trial_id, e.execution, e.epoch)
                                      for e in update.epochs]
                finished = finished and update.run.status.is_finished()
            if last_round:
                return
            last_round = finished
            time.sleep(0.02)
        self.errors.append("runs not finished in time")


def test_concurrent_runs_and_readers_lose_nothing_and_never_lock(tmp_path):
    db = tmp_path / "tuning.db"
    store = Storage(db)
    run_ids = [queue_run(store, _spec(i)).id for i in range(RUNS)]
    threads = [ThreadReader(store, run_ids) for _ in range(READER_THREADS)]
    outputs = [tmp_path / f"reader-{i}.json" for i in range(READER_PROCESSES)]
    processes = [subprocess.Popen([sys.executable, str(ROOT / "tests/faults/reader.py"), str(db),
                                   str(out), *map(str, run_ids)], cwd=ROOT,
                                  stderr=subprocess.PIPE, text=True) for out in outputs]
    for reader in threads:
        reader.start()
    engine = Engine(str(db), concurrency=2, poll_s=0.2)
    most_at_once = 0
    try:
        engine.start()

        def all_finished() -> bool:
            nonlocal most_at_once
            runs = [store.get_run(r) for r in run_ids]
            most_at_once = max(most_at_once, sum(r.status is RunStatus.RUNNING for r in runs))
            return all(r.status.is_finished() for r in runs) and not engine.busy()

        wait_for(all_finished, 240, "every run to finish")
    finally:
        engine.stop()
        end_workers(db)
    for reader in threads:
        reader.join(timeout=30)
    results = []
    for proc, out in zip(processes, outputs):
        assert proc.wait(timeout=60) == 0, proc.stderr.read()[-2000:]
        results.append(json.loads(out.read_text()))

    assert most_at_once == 2, "the runs never overlapped"
    committed = {}
    for run_id in run_ids:
        run = store.get_run(run_id)
        assert run.status is RunStatus.COMPLETED, run.error
        trials = store.list_trials(run_id)
        assert len(trials) == TRIALS and all(t.status is TrialStatus.COMPLETED for t in trials)
        committed[run_id] = [(e.id, e.trial_id, e.execution, e.epoch)
                             for e in store.list_epochs(run_id)]
        assert len(committed[run_id]) == TRIALS * FOLDS
        log = (run_dir(db, run_id) / "worker.log").read_text(errors="replace")
        assert "locked" not in log and "Traceback" not in log, log[-2000:]
    for reader in threads:
        assert reader.errors == []
        for run_id in run_ids:
            assert reader.seen[run_id] == committed[run_id], f"thread reader, run {run_id}"
            assert len(reader.views[run_id].epochs) == TRIALS * FOLDS
    for result in results:
        assert result["errors"] == []
        for run_id in run_ids:
            got = [tuple(e) for e in result["epochs"][str(run_id)]]
            assert got == committed[run_id], f"process reader, run {run_id}"
