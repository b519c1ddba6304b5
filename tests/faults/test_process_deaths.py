"""Processes that die or are told to stop at the worst moment, with no dashboard running.

- SIGTERM lands inside one of the worker's own writes (a trial begun, an epoch recorded,
  a trial finished, a heartbeat), at seeded moments: the worker stops cleanly after the
  epoch in flight, the write the signal interrupted is kept, and nothing fails (a resume
  then finishes the run).
- Every process of a run dies at once (the CLI that followed it and its worker, as the
  OOM killer or a reboot leaves them): ``python -m tuning list`` shows the run
  interrupted, and ``python -m tuning resume`` finishes it without losing or repeating a
  completed trial.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys

import psutil
import pytest

from storage import RunStatus, Storage, TrialStatus
from tests.faults.kit import ROOT, completed_records, end_workers, wait_for, write_spec
from tests.faults.test_worker_kills import _assert_nothing_twice
from tuning.runner.control import queue_run

pytestmark = pytest.mark.slow

SEED = int(os.environ.get("FAULT_SEED", "20261126"))
TRIALS, FOLDS = 4, 4
_rng = random.Random(SEED)
# (kind of write, which one of its kind): the signal lands right after that statement,
# inside its transaction. The first heartbeat comes while the worker imports TensorFlow.
MOMENTS = [("begin", 2), ("epoch", _rng.randint(1, FOLDS)),
           ("epoch", _rng.randint(FOLDS + 1, 2 * FOLDS)), ("finish", 1), ("heartbeat", 1)]


def _spec(name: str, **strategy) -> dict:
    # k-nearest neighbours: each fold is recorded within milliseconds of the last.
    return {"name": name, "seed": 5, "data": {"source": "sklearn", "name": "digits"},
            "model": {"family": "knn"},
            "search_space": {"n_neighbors": {"type": "int", "min": 1, "max": 40},
                             "weights": {"type": "choice", "values": ["uniform", "distance"]}},
            "strategy": {"name": "random", "max_trials": TRIALS, "cv_folds": FOLDS, **strategy}}


def _cli(db, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuning", "--db", str(db), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _finish_by_resume(db, store: Storage, run_id: int, before: dict) -> None:
    """Resume from the CLI: the run completes, and what had completed is untouched."""
    resumed = _cli(db, "resume", str(run_id), "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    run = store.get_run(run_id)
    assert run.status is RunStatus.COMPLETED, run.error
    trials = store.list_trials(run_id)
    assert len(trials) == TRIALS and all(t.status is TrialStatus.COMPLETED for t in trials), \
        [(t.trial_key, t.status.value, t.message) for t in trials]
    after = completed_records(store, run_id)
    for key, record in before.items():
        assert after[key] == record, f"completed trial {key} was trained again"
    _assert_nothing_twice(store, run_id, FOLDS)


@pytest.mark.parametrize("kind,nth", MOMENTS, ids=[f"{k}-{n}" for k, n in MOMENTS])
def test_sigterm_inside_a_write_loses_neither_the_write_nor_the_stop(tmp_path, kind, nth):
    db = tmp_path / "t.db"
    store = Storage(db)
    run_id = queue_run(store, _spec(f"SIGTERM in {kind} {nth}")).id
    worker = subprocess.run(
        [sys.executable, str(ROOT / "tests/faults/signalled_worker.py"), kind, str(nth),
         "--db", str(db), str(run_id)], cwd=ROOT, capture_output=True, text=True, timeout=240)
    try:
        assert worker.returncode == 0, worker.stderr[-3000:]
        assert "Traceback" not in worker.stderr, worker.stderr[-3000:]
        run = store.get_run(run_id)
        assert run.status is RunStatus.STOPPED, (run.status, run.error)
        trials = store.list_trials(run_id)
        assert not [t for t in trials if t.status is TrialStatus.FAILED], \
            [(t.trial_key, t.message) for t in trials]
        assert all(t.status in (TrialStatus.COMPLETED, TrialStatus.STOPPED) for t in trials)
        if kind == "epoch":  # the epoch being written when the signal came is kept
            assert len(store.list_epochs(run_id)) >= nth
        if kind == "finish":  # and the trial being finished stays finished
            assert trials[0].status is TrialStatus.COMPLETED and trials[0].epochs_done == FOLDS
        _assert_nothing_twice(store, run_id, FOLDS)
        if (kind, nth) == MOMENTS[1]:  # once is enough: resuming has tests of its own
            _finish_by_resume(db, store, run_id, completed_records(store, run_id))
    finally:
        end_workers(db)


def _list_status(db, run_id: int) -> str:
    listed = _cli(db, "list", timeout=60)
    assert listed.returncode == 0, listed.stderr
    for line in listed.stdout.splitlines():
        fields = line.split()
        if fields and fields[0] == str(run_id):
            return fields[1]
    raise AssertionError(f"run {run_id} is not listed:\n{listed.stdout}")


def test_a_run_whose_every_process_died_is_interrupted_and_resumed_by_the_cli(tmp_path):
    db = tmp_path / "t.db"
    spec_path = write_spec(tmp_path, _spec("everything killed", cv_folds=FOLDS))
    cli = subprocess.Popen([sys.executable, "-m", "tuning", "--db", str(db), "run",
                            str(spec_path), "--quiet"], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        store = wait_for(lambda: db.exists() and Storage(db), 30, "the database")
        run_id = wait_for(lambda: store.list_runs() and store.list_runs()[0].id, 30, "the run")
        wait_for(lambda: any(t.status is TrialStatus.COMPLETED
                             for t in store.list_trials(run_id)), 120, "a completed trial")
        run = store.get_run(run_id)
        assert run.status is RunStatus.RUNNING, (run.status, run.error)
        # The OOM killer, or the machine going down: nothing gets to record anything.
        cli.kill()
        cli.wait(timeout=30)
        os.kill(run.worker_pid, signal.SIGKILL)
        wait_for(lambda: not psutil.pid_exists(run.worker_pid)
                 or psutil.Process(run.worker_pid).status() == psutil.STATUS_ZOMBIE,
                 30, "the worker to die")
        before = completed_records(store, run_id)
        assert store.get_run(run_id).status is RunStatus.RUNNING  # as the dead left it

        assert _list_status(db, run_id) == "interrupted"
        _finish_by_resume(db, store, run_id, before)
    finally:
        if cli.poll() is None:
            cli.kill()
        end_workers(db)
