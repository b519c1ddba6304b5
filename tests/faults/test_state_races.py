"""Writes that depend on a run's status, raced by a second connection (the storage's
part of the fault catalogue: ``bench/bench_faults.py`` counts these cases).

Each test lets another process's connection (a second ``Storage`` on the same file) act
at the worst moment: right after the first caller has read the run, before it writes.
Whatever the order, the outcome is one of the two serial ones: a stop is never lost, a
run is never handed to two workers, a running run is never deleted, and a race of runs is
queued whole or not at all.
"""
from __future__ import annotations

import sqlite3
import threading

import pytest

from storage import InvalidTransitionError, RunStatus, Storage, StorageError, TrialStatus
from tests.faults.kit import sklearn_spec
from tuning.runner.control import queue_race

SPEC = {"name": "race", "strategy": {"name": "random", "max_trials": 3}}


@pytest.fixture
def stores(tmp_path):
    """(the caller's store, another connection to the same file)."""
    mine, other = Storage(tmp_path / "t.db"), Storage(tmp_path / "t.db")
    yield mine, other
    mine.close()
    other.close()


def after_first_read(store: Storage, name: str, competitor) -> list[bool]:
    """Run ``competitor`` once, just after ``store.<name>`` first returns: the moment a
    check made outside the write transaction would go stale."""
    original, fired = getattr(store, name), []

    def wrapped(*args, **kwargs):
        value = original(*args, **kwargs)
        if not fired:
            fired.append(True)
            competitor()
        return value

    setattr(store, name, wrapped)
    return fired


def test_a_stop_racing_a_claim_is_never_lost(stores):
    mine, other = stores
    run = mine.create_run("r", SPEC)
    claimed = []
    after_first_read(mine, "get_run", lambda: claimed.append(other.claim_run(run.id, pid=2)))

    mine.request_stop(run.id)

    now = other.get_run(run.id)
    assert claimed, "the competitor never ran"
    if claimed[0]:  # the worker won: it must see the stop request
        assert now.status is RunStatus.RUNNING and now.stop_requested
    else:  # the stop won: the run was stopped before any worker had it
        assert now.status is RunStatus.STOPPED
    assert not (now.status is RunStatus.RUNNING and not now.stop_requested)


def test_two_resumes_racing_never_give_one_run_to_two_workers(stores):
    mine, other = stores
    run = mine.create_run("r", SPEC, status=RunStatus.STOPPED)

    def resume_and_claim():
        try:
            other.requeue(run.id)
        except InvalidTransitionError:
            pass  # this caller's resume came first: the other one's worker claims it
        assert other.claim_run(run.id, pid=2)

    after_first_read(mine, "get_run", resume_and_claim)
    try:
        mine.requeue(run.id)
    except InvalidTransitionError:
        pass  # the other resume got there first and its worker holds the run
    now = other.get_run(run.id)
    assert now.status is RunStatus.RUNNING and now.worker_pid == 2, now
    assert not other.claim_run(run.id, pid=3), "a second worker could claim a running run"


def test_a_delete_racing_a_claim_never_deletes_a_running_run(stores):
    mine, other = stores
    run = mine.create_run("r", SPEC)
    claimed = []
    after_first_read(mine, "get_run", lambda: claimed.append(other.claim_run(run.id, pid=2)))
    try:
        mine.delete_run(run.id)
        deleted = True
    except InvalidTransitionError:
        deleted = False
    if not claimed:  # the delete did not read the run before writing: race it now
        claimed.append(other.claim_run(run.id, pid=2))
    runs = {r.id: r for r in other.list_runs()}
    if deleted:
        assert run.id not in runs and not claimed[0]
    else:
        assert claimed[0] and runs[run.id].status is RunStatus.RUNNING


def test_a_cancel_racing_the_end_of_its_trial_is_refused(stores):
    mine, other = stores
    run = mine.create_run("r", SPEC)
    assert mine.claim_run(run.id, pid=2)
    trial = mine.begin_trial(run.id, "0", 0, {"x": 1})
    after_first_read(mine, "get_trial_by_key",
                     lambda: other.finish_trial(trial.id, TrialStatus.COMPLETED, score=1.0))
    try:
        answer = mine.request_cancel(run.id, "0")
    except InvalidTransitionError:
        answer = None
    assert answer is None or answer.status is TrialStatus.RUNNING, \
        f"a cancel was accepted for a trial already {answer.status.value}"


def test_interrupting_a_dead_worker_spares_the_worker_that_took_over(stores):
    mine, other = stores
    run = mine.create_run("r", SPEC)
    assert mine.claim_run(run.id, pid=11)
    # Worker 11 died; before the engine records it, the run is resumed and claimed by 12.
    assert other.mark_interrupted(run.id, "first worker gone", worker_pid=11)
    other.requeue(run.id)
    assert other.claim_run(run.id, pid=12)
    assert not mine.mark_interrupted(run.id, "worker 11 exited", worker_pid=11)
    assert mine.get_run(run.id).status is RunStatus.RUNNING


def test_claims_from_many_threads_give_each_run_to_exactly_one(tmp_path):
    path = tmp_path / "t.db"
    for i in range(20):
        Storage(path).create_run(f"r{i}", SPEC)
    winners: dict[int, list[int]] = {}
    lock, start = threading.Lock(), threading.Barrier(6)

    def claimant(pid: int) -> None:
        store = Storage(path)
        start.wait()
        for run in store.list_runs():
            if store.claim_run(run.id, pid):
                with lock:
                    winners.setdefault(run.id, []).append(pid)
            try:  # and stop each one straight away, as a user clicking fast would
                store.request_stop(run.id)
            except InvalidTransitionError:
                pass

    threads = [threading.Thread(target=claimant, args=(pid,)) for pid in range(100, 106)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    store = Storage(path)
    for run in store.list_runs():
        assert len(winners.get(run.id, [])) <= 1, (run.id, winners[run.id])
        assert run.status is RunStatus.STOPPED or (
            run.status is RunStatus.RUNNING and run.stop_requested), run


def test_a_race_of_runs_is_queued_whole_or_not_at_all(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_DB", str(tmp_path / "t.db"))
    store = Storage(tmp_path / "t.db")
    # The disk fills up (or any write fails) as the second run of the race is stored.
    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("CREATE TRIGGER full BEFORE INSERT ON runs WHEN NEW.name LIKE '%[bayesian]' "
                 "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    conn.commit()
    conn.close()
    with pytest.raises((sqlite3.DatabaseError, StorageError)):
        queue_race(store, sklearn_spec(), ["random", "bayesian"])
    assert store.list_runs() == [], "half a race was queued"

    sqlite3.connect(tmp_path / "t.db").execute("DROP TRIGGER full").connection.commit()
    runs = queue_race(store, sklearn_spec(), ["random", "bayesian"])
    assert [r.strategy for r in runs] == ["random", "bayesian"]
    assert {r.id for r in store.list_runs()} == {r.id for r in runs}
