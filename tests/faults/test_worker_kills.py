"""Workers killed with SIGKILL at seeded random moments, many times over one run.

Each kill lands on a moment drawn from a seeded generator: while the worker is still
starting (before KerasTuner has saved anything), after a random number of recorded folds
(inside a trial or right at its end), or just after a trial completes. After every kill:
each trial that had completed is still there with its record and its epochs untouched,
and nothing is stored twice. The last resume finishes the run with exactly max_trials
trials, all completed.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import pytest

from storage import RunStatus, Storage, TrialStatus
from tests.faults.kit import ROOT, completed_records, sklearn_spec, wait_for, write_spec
from tuning.runner.engine import worker_alive

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("FAULT_SEED", "20261126"))
KILLS = 5
MOMENTS = ("while starting", "after some folds", "after a trial")


def _start(db, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tuning", "--db", str(db), *args, "--quiet"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _epoch_count(store: Storage, run_id: int) -> int:
    return len(store.list_epochs(run_id))


def _completed_count(store: Storage, run_id: int) -> int:
    return sum(t.status is TrialStatus.COMPLETED for t in store.list_trials(run_id))


def _assert_nothing_twice(store: Storage, run_id: int, folds: int) -> None:
    trials = store.list_trials(run_id)
    keys = [t.trial_key for t in trials]
    assert len(keys) == len(set(keys)), f"a trial was recorded twice: {keys}"
    epochs = store.list_epochs(run_id)
    triples = [(e.trial_id, e.execution, e.epoch) for e in epochs]
    assert len(triples) == len(set(triples)), "an epoch was recorded twice"
    for t in trials:
        mine = sorted((e.execution, e.epoch) for e in epochs if e.trial_id == t.id)
        if t.status is TrialStatus.COMPLETED:
            assert mine == [(0, f) for f in range(folds)], (t.trial_key, mine)
        assert t.epochs_done == len(mine), (t.trial_key, t.epochs_done, mine)


def test_worker_killed_at_random_moments_loses_nothing_and_records_nothing_twice(tmp_path):
    rng = random.Random(SEED)
    spec = sklearn_spec()
    folds, max_trials = spec["strategy"]["cv_folds"], spec["strategy"]["max_trials"]
    db = tmp_path / "t.db"
    proc = _start(db, "run", str(write_spec(tmp_path, spec)))
    store = wait_for(lambda: db.exists() and Storage(db), 30, "the database")
    run_id = wait_for(lambda: store.list_runs() and store.list_runs()[0].id, 30, "the run")
    survivors: dict = {}  # trial key -> (trial, epochs) when first seen completed
    kills, previous_pid = [], None
    try:
        for _ in range(KILLS):
            run = wait_for(lambda: (r := store.get_run(run_id)).status is not RunStatus.QUEUED
                           and r.worker_pid != previous_pid and r, 60, "a worker to claim the run")
            if run.status is RunStatus.COMPLETED:
                break
            pid = previous_pid = run.worker_pid
            moment = rng.choice(MOMENTS)
            epochs0, done0 = _epoch_count(store, run_id), _completed_count(store, run_id)
            folds_more = rng.randint(1, folds + 1)

            def reached() -> bool:
                if store.get_run(run_id).status.is_finished():
                    return True
                if moment == "while starting":
                    return True
                if moment == "after some folds":
                    return _epoch_count(store, run_id) >= epochs0 + folds_more
                return _completed_count(store, run_id) > done0

            wait_for(reached, 90, f"the kill moment ({moment})")
            survivors.update({k: v for k, v in completed_records(store, run_id).items()
                              if k not in survivors})
            if not worker_alive(pid):
                break  # the run ended on its own before the moment came
            os.kill(pid, signal.SIGKILL)
            kills.append(moment if moment != "after some folds" else f"after {folds_more} folds")
            code = proc.wait(timeout=60)
            run = store.get_run(run_id)
            if run.status is RunStatus.COMPLETED:
                break  # the worker finished the last trial just before the signal
            assert code == 1 and run.status is RunStatus.INTERRUPTED, (code, run.status, proc.stderr.read())
            for key, record in survivors.items():
                assert completed_records(store, run_id).get(key) == record, \
                    f"completed trial {key} changed after kill {len(kills)} ({kills[-1]})"
            _assert_nothing_twice(store, run_id, folds)
            proc = _start(db, "resume", str(run_id))
        assert proc.wait(timeout=240) == 0, proc.stderr.read()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        run = store.get_run(run_id)
        if run.worker_pid and worker_alive(run.worker_pid):
            os.kill(run.worker_pid, signal.SIGKILL)
    print(f"seed {SEED}: {len(kills)} kills: {kills}")
    assert len(kills) >= 3, f"too few kills landed to prove anything: {kills}"
    run = store.get_run(run_id)
    assert run.status is RunStatus.COMPLETED, run.error
    trials = store.list_trials(run_id)
    assert len(trials) == max_trials == run.trials_done
    assert all(t.status is TrialStatus.COMPLETED for t in trials), \
        [(t.trial_key, t.status.value, t.message) for t in trials]
    final = completed_records(store, run_id)
    for key, record in survivors.items():
        assert final[key] == record, f"completed trial {key} was touched by a later worker"
    _assert_nothing_twice(store, run_id, folds)
