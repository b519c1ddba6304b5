"""The storage contract: frozen records, cursors, state rules, migrations, concurrency."""
from __future__ import annotations

import dataclasses
import math
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from storage import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Cursor,
    InvalidTransitionError,
    NotFoundError,
    RunStatus,
    Storage,
    StorageError,
    TrialStatus,
)

ROOT = Path(__file__).resolve().parents[2]
SPEC = {"name": "demo", "objective": {"metric": "val_loss", "direction": "min"},
        "strategy": {"name": "random", "max_trials": 5}}


def _run(store: Storage, status: RunStatus = RunStatus.QUEUED, direction: str = "max"):
    spec = dict(SPEC, objective={"metric": "m", "direction": direction})
    return store.create_run("demo", spec, status=status)


def _running_run(store: Storage):
    run = _run(store)
    assert store.claim_run(run.id, pid=os.getpid())
    return store.get_run(run.id)


# -- records ---------------------------------------------------------------------------

def test_run_trial_epoch_round_trip_as_frozen_records(storage):
    run = storage.create_run("demo", SPEC)
    assert run.name == "demo" and run.status is RunStatus.QUEUED
    assert run.strategy == "random" and run.max_trials == 5 and run.direction == "min"
    assert run.spec["objective"]["metric"] == "val_loss"

    trial = storage.begin_trial(run.id, "t0", 0, {"units": 64, "act": "relu"}, bracket=1,
                                round=0, parent_key=None, worker="w1")
    assert trial.status is TrialStatus.RUNNING and trial.epochs_done == 0
    assert dict(trial.hyperparameters) == {"units": 64, "act": "relu"}
    assert (trial.bracket, trial.round, trial.worker) == (1, 0, "w1")

    storage.record_epoch(trial.id, 0, 0, {"loss": 0.9, "val_loss": 1.1})
    storage.record_epoch(trial.id, 0, 1, {"loss": 0.5, "val_loss": 0.7})
    storage.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.7,
                         metrics={"val_loss": 0.7}, flags=["overfitting"])

    epochs = storage.list_epochs(run.id)
    assert [(e.epoch, e.metrics["val_loss"]) for e in epochs] == [(0, 1.1), (1, 0.7)]
    done = storage.get_trial(trial.id)
    assert done.status is TrialStatus.COMPLETED and done.score == 0.7
    assert done.epochs_done == 2 and done.flags == ("overfitting",)
    assert storage.get_trial_by_key(run.id, "t0") == done
    assert storage.list_trials(run.id) == [done]
    assert storage.get_run(run.id).trials_done == 1

    for record, field in ((storage.get_run(run.id), "status"), (done, "score"),
                          (epochs[0], "epoch")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, field, None)
    with pytest.raises(TypeError):
        done.hyperparameters["units"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        epochs[0].metrics["loss"] = 0.0  # type: ignore[index]
    with pytest.raises(TypeError):
        run.spec["strategy"]["name"] = "grid"  # type: ignore[index]


def test_missing_records_raise_not_found(storage):
    with pytest.raises(NotFoundError):
        storage.get_run(404)
    with pytest.raises(NotFoundError):
        storage.get_trial(404)
    with pytest.raises(NotFoundError):
        storage.record_epoch(404, 0, 0, {"loss": 1.0})
    run = _run(storage)
    with pytest.raises(NotFoundError):
        storage.get_trial_by_key(run.id, "nope")
    with pytest.raises(NotFoundError):
        storage.changes_since(404)


def test_list_runs_filters_by_status_and_strategy(storage):
    queued = _run(storage)
    running = _running_run(storage)
    assert [r.id for r in storage.list_runs()] == [running.id, queued.id]
    assert [r.id for r in storage.list_runs(statuses=[RunStatus.QUEUED])] == [queued.id]
    assert storage.list_runs(strategies=["grid"]) == []
    assert len(storage.list_runs(strategies=["random"])) == 2
    assert storage.queued_run_ids() == [queued.id]


# -- cursors -----------------------------------------------------------------------------

def test_changes_since_returns_only_new_rows_and_cursor_grows(storage):
    run = _running_run(storage)
    t0 = storage.begin_trial(run.id, "t0", 0, {"lr": 0.1})
    storage.record_epoch(t0.id, 0, 0, {"loss": 1.0})

    first = storage.changes_since(run.id)
    assert [t.id for t in first.trials] == [t0.id]
    assert [e.epoch for e in first.epochs] == [0]
    assert first.cursor.epoch_id > 0 and first.cursor.trial_rev > 0

    again = storage.changes_since(run.id, first.cursor)
    assert again.trials == () and again.epochs == () and again.cursor == first.cursor

    storage.record_epoch(t0.id, 0, 1, {"loss": 0.5})
    t1 = storage.begin_trial(run.id, "t1", 1, {"lr": 0.2})
    second = storage.changes_since(run.id, first.cursor)
    assert [e.epoch for e in second.epochs] == [1]
    assert {t.trial_key for t in second.trials} == {"t0", "t1"}
    assert second.cursor.epoch_id > first.cursor.epoch_id
    assert second.cursor.trial_rev > first.cursor.trial_rev

    storage.finish_trial(t1.id, TrialStatus.FAILED, message="boom")
    third = storage.changes_since(run.id, second.cursor)
    assert third.epochs == ()
    assert [(t.trial_key, t.status) for t in third.trials] == [("t1", TrialStatus.FAILED)]
    assert third.cursor.trial_rev > second.cursor.trial_rev
    assert third.run.id == run.id


def test_changes_since_default_cursor_is_the_beginning(storage):
    run = _run(storage)
    assert storage.changes_since(run.id).cursor == Cursor()


def test_restarted_trial_loses_old_epochs_and_nothing_is_recorded_twice(storage):
    run = _running_run(storage)
    trial = storage.begin_trial(run.id, "t0", 0, {"lr": 0.1})
    for epoch in range(3):
        storage.record_epoch(trial.id, 0, epoch, {"loss": 1.0 - epoch / 10})
    before = storage.changes_since(run.id)
    storage.finish_run(run.id, RunStatus.INTERRUPTED, error="worker died")
    storage.requeue(run.id)
    assert storage.claim_run(run.id, pid=os.getpid())

    again = storage.begin_trial(run.id, "t0", 0, {"lr": 0.1})
    assert again.id == trial.id and again.status is TrialStatus.RUNNING
    assert again.epochs_done == 0 and again.score is None
    assert storage.list_epochs(run.id) == []

    storage.record_epoch(again.id, 0, 0, {"loss": 0.8})
    storage.record_epoch(again.id, 0, 0, {"loss": 0.7})  # a retry of the same epoch replaces it
    after = storage.changes_since(run.id, before.cursor)
    assert [t.epochs_done for t in after.trials] == [1]
    assert [(e.epoch, e.metrics["loss"]) for e in after.epochs] == [(0, 0.7)]
    assert len(storage.list_epochs(run.id, trial_id=trial.id)) == 1
    assert len(storage.list_trials(run.id)) == 1


# -- run endings and control -------------------------------------------------------------

@pytest.mark.parametrize("run_status, trial_status", [
    (RunStatus.STOPPED, TrialStatus.STOPPED),
    (RunStatus.FAILED, TrialStatus.INTERRUPTED),
    (RunStatus.INTERRUPTED, TrialStatus.INTERRUPTED),
    (RunStatus.COMPLETED, TrialStatus.INTERRUPTED),
])
def test_finish_run_ends_running_trials(storage, run_status, trial_status):
    run = _running_run(storage)
    done = storage.begin_trial(run.id, "done", 0, {})
    storage.finish_trial(done.id, TrialStatus.COMPLETED, score=0.5)
    live = storage.begin_trial(run.id, "live", 1, {})
    storage.finish_run(run.id, run_status, error="why")
    ended = storage.get_run(run.id)
    assert ended.status is run_status and ended.finished_at is not None
    assert ended.error == "why"
    assert storage.get_trial(live.id).status is trial_status
    assert storage.get_trial(live.id).finished_at is not None
    assert storage.get_trial(done.id).status is TrialStatus.COMPLETED
    assert ended.trials_done == 2


def test_mark_interrupted_only_applies_to_running_runs(storage):
    run = _running_run(storage)
    live = storage.begin_trial(run.id, "live", 0, {})
    assert storage.mark_interrupted(run.id, "worker 123 is gone")
    ended = storage.get_run(run.id)
    assert ended.status is RunStatus.INTERRUPTED and ended.error == "worker 123 is gone"
    assert storage.get_trial(live.id).status is TrialStatus.INTERRUPTED
    assert not storage.mark_interrupted(run.id, "again")
    assert not storage.mark_interrupted(_run(storage).id, "queued")


def test_request_stop_rules(storage):
    queued = _run(storage)
    assert storage.request_stop(queued.id).status is RunStatus.STOPPED

    running = _running_run(storage)
    asked = storage.request_stop(running.id)
    assert asked.status is RunStatus.RUNNING and asked.stop_requested
    assert storage.control_flags(running.id) == (True, False)

    for status in (RunStatus.STOPPED, RunStatus.COMPLETED, RunStatus.FAILED,
                   RunStatus.INTERRUPTED):
        run = _running_run(storage)
        storage.finish_run(run.id, status)
        with pytest.raises(InvalidTransitionError, match="only a queued or running"):
            storage.request_stop(run.id)


def test_requeue_rules(storage):
    for status in (RunStatus.STOPPED, RunStatus.INTERRUPTED, RunStatus.FAILED):
        run = _running_run(storage)
        storage.request_stop(run.id)
        storage.finish_run(run.id, status, error="x")
        again = storage.requeue(run.id)
        assert again.status is RunStatus.QUEUED
        assert not again.stop_requested and again.error is None and again.worker_pid is None
        assert again.finished_at is None

    completed = _running_run(storage)
    storage.finish_run(completed.id, RunStatus.COMPLETED)
    for run in (_run(storage), _running_run(storage), completed):
        with pytest.raises(InvalidTransitionError, match="can be resumed"):
            storage.requeue(run.id)


def test_claim_run_only_takes_queued_runs(storage):
    run = _run(storage)
    assert storage.claim_run(run.id, pid=1)
    assert not storage.claim_run(run.id, pid=2)
    assert storage.get_run(run.id).worker_pid == 1


def test_delete_run_rules(storage):
    running = _running_run(storage)
    with pytest.raises(InvalidTransitionError, match="stop it before deleting"):
        storage.delete_run(running.id)

    trial = storage.begin_trial(running.id, "t0", 0, {})
    storage.record_epoch(trial.id, 0, 0, {"loss": 1.0})
    storage.finish_run(running.id, RunStatus.STOPPED)
    keep = _run(storage)
    storage.delete_run(running.id)
    with pytest.raises(NotFoundError):
        storage.get_run(running.id)
    with pytest.raises(NotFoundError):
        storage.get_trial(trial.id)
    assert storage.list_epochs(running.id) == []
    assert [r.id for r in storage.list_runs()] == [keep.id]
    # A worker whose run vanished is told to stop.
    assert storage.control_flags(running.id, trial.id) == (True, False)
    with pytest.raises(NotFoundError):
        storage.delete_run(running.id)


def test_request_cancel_rules(storage):
    run = _running_run(storage)
    live = storage.begin_trial(run.id, "live", 0, {})
    cancelled = storage.request_cancel(run.id, "live")
    assert cancelled.cancel_requested and cancelled.status is TrialStatus.RUNNING
    assert storage.control_flags(run.id, live.id) == (False, True)

    storage.finish_trial(live.id, TrialStatus.CANCELLED, message="by user")
    with pytest.raises(InvalidTransitionError, match="only a running trial"):
        storage.request_cancel(run.id, "live")
    with pytest.raises(NotFoundError):
        storage.request_cancel(run.id, "missing")


@pytest.mark.parametrize("direction, best", [("min", 0.1), ("max", 0.5)])
def test_best_score_respects_direction(storage, direction, best):
    run = _run(storage, direction=direction)
    assert storage.get_run(run.id).best_score is None
    for key, score, status in (("a", 0.3, TrialStatus.COMPLETED),
                               ("b", 0.1, TrialStatus.COMPLETED),
                               ("c", 0.5, TrialStatus.COMPLETED),
                               ("d", -5.0, TrialStatus.FAILED),
                               ("e", 9.0, TrialStatus.CANCELLED)):
        trial = storage.begin_trial(run.id, key, 0, {})
        storage.finish_trial(trial.id, status, score=score)
    storage.begin_trial(run.id, "running", 0, {})
    assert storage.get_run(run.id).best_score == best
    assert storage.list_runs()[0].best_score == best


# -- awkward values ----------------------------------------------------------------------

def test_nan_and_numpy_values_are_stored_safely(storage):
    run = storage.create_run("np", dict(SPEC, strategy={"name": "random",
                                                        "max_trials": np.int64(3)}))
    assert run.max_trials == 3
    trial = storage.begin_trial(run.id, "t0", 0, {"lr": np.float64(0.01), "units": np.int64(8),
                                                  "drop": np.float32(0.5)})
    assert dict(trial.hyperparameters) == {"lr": 0.01, "units": 8, "drop": 0.5}

    storage.record_epoch(trial.id, np.int64(0), np.int64(0), {
        "loss": np.float32(0.25), "acc": np.float64(0.75), "count": np.int64(3),
        "nan": float("nan"), "np_nan": np.float64("nan"), "inf": np.float32("inf"),
        "text": "not a number", "none": None})
    (epoch,) = storage.list_epochs(run.id)
    assert dict(epoch.metrics) == {"loss": 0.25, "acc": 0.75, "count": 3.0, "nan": None,
                                   "np_nan": None, "inf": None}
    assert all(type(v) in (float, type(None)) for v in epoch.metrics.values())

    storage.finish_trial(trial.id, TrialStatus.COMPLETED, score=np.float64("nan"),
                         metrics={"val_loss": float("nan"), "val_acc": np.float32(0.5),
                                  "curve": [np.float64(1.0), float("inf")]})
    done = storage.get_trial(trial.id)
    assert done.score is None
    assert dict(done.metrics) == {"val_loss": None, "val_acc": 0.5, "curve": (1.0, None)}

    other = storage.begin_trial(run.id, "t1", 1, {})
    storage.finish_trial(other.id, TrialStatus.COMPLETED, score=np.float32(0.5))
    score = storage.get_trial(other.id).score
    assert score == 0.5 and type(score) is float
    assert storage.get_run(run.id).best_score == 0.5


# -- files: migrations and refusals ------------------------------------------------------

def _make_v1_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs (name, spec, status, direction, created_at, max_trials) "
                 "VALUES ('old run', '{\"strategy\": {\"name\": \"grid\"}}', 'completed', "
                 "'min', 1700000000.0, 4)")
    conn.execute("INSERT INTO trials (run_id, trial_key, number, status, hyperparameters, "
                 "score, rev) VALUES (1, 't0', 0, 'completed', '{\"lr\": 0.1}', 0.25, 1)")
    conn.commit()
    conn.close()


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def test_version_1_database_is_migrated_with_its_rows(db_path):
    _make_v1_database(db_path)
    store = Storage(db_path)
    try:
        run = store.get_run(1)
        assert (run.name, run.status, run.strategy, run.max_trials) == (
            "old run", RunStatus.COMPLETED, "grid", 4)
        assert run.best_score == 0.25
        (trial,) = store.list_trials(1)
        assert trial.flags == () and trial.hyperparameters["lr"] == 0.1
        assert run.data_summary is None  # no worker of this release loaded its data
        # The migrated database takes new writes.
        new = store.create_run("new", SPEC)
        assert new.id == 2
        store.record_data_summary(2, {"task": "classification", "class_names": ["a", "b"]})
        assert store.get_run(2).data_summary["class_names"] == ("a", "b")
        assert store.list_runs()[0].data_summary["task"] == "classification"
    finally:
        store.close()
    assert _user_version(db_path) == SCHEMA_VERSION
    # Opening it again finds it current and keeps the rows.
    reopened = Storage(db_path)
    assert [r.id for r in reopened.list_runs()] == [2, 1]
    reopened.close()


def _assert_refused_untouched(path: Path, match: str) -> None:
    before = path.read_bytes()
    siblings = sorted(os.listdir(path.parent))
    with pytest.raises(StorageError, match=match) as info:
        Storage(path)
    assert "untouched" in str(info.value)
    assert path.read_bytes() == before
    assert sorted(os.listdir(path.parent)) == siblings


def test_newer_schema_version_is_refused_and_left_untouched(db_path):
    conn = sqlite3.connect(db_path)
    conn.executescript(MIGRATIONS[0])
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    _assert_refused_untouched(db_path, "newer than this release")


def test_corrupt_file_is_refused_and_left_untouched(db_path):
    db_path.write_bytes(np.random.default_rng(7).bytes(8192))
    _assert_refused_untouched(db_path, "corrupt")


def test_foreign_sqlite_database_is_refused_and_left_untouched(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.commit()
    conn.close()
    _assert_refused_untouched(db_path, "not one of this dashboard's")


def test_new_database_is_created_in_missing_folders(tmp_path):
    path = tmp_path / "a" / "b" / "tuning.db"
    store = Storage(path)
    assert store.list_runs() == []
    store.close()
    assert _user_version(path) == SCHEMA_VERSION


def test_one_storage_serves_several_threads(storage):
    run = _running_run(storage)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            trial = storage.begin_trial(run.id, f"t{n}", n, {"n": n})
            for epoch in range(20):
                storage.record_epoch(trial.id, 0, epoch, {"loss": 1 / (epoch + 1)})
            storage.finish_trial(trial.id, TrialStatus.COMPLETED, score=n)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert len(storage.list_epochs(run.id)) == 80
    assert storage.get_run(run.id).trials_done == 4


# -- concurrency across processes --------------------------------------------------------

WRITER = textwrap.dedent("""
    import sys, time
    from storage import Storage, TrialStatus
    store = Storage(sys.argv[1])
    run_id, seconds = int(sys.argv[2]), float(sys.argv[3])
    deadline = time.monotonic() + seconds
    written, trial = 0, None
    while time.monotonic() < deadline:
        if written % 25 == 0:
            if trial is not None:
                store.finish_trial(trial.id, TrialStatus.COMPLETED, score=written / 1000)
            trial = store.begin_trial(run_id, f"t{written // 25}", written // 25, {"n": written})
        store.record_epoch(trial.id, 0, written % 25, {"loss": 1.0 / (written + 1)})
        written += 1
        time.sleep(0.002)
    store.finish_trial(trial.id, TrialStatus.COMPLETED, score=written / 1000)
    print(written)
""")


class _Reader(threading.Thread):
    """Polls ``changes_since`` with its own Storage until told to stop, then once more."""

    def __init__(self, path: Path, run_id: int, stop: threading.Event):
        super().__init__(daemon=True)
        self.path, self.run_id, self.stop = path, run_id, stop
        self.seen: list[int] = []
        self.worst_lag_s = 0.0
        self.polls = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        store = Storage(self.path)
        cursor = Cursor()
        try:
            while True:
                final = self.stop.is_set()
                changes = store.changes_since(self.run_id, cursor)
                now = time.time()
                for epoch in changes.epochs:
                    self.seen.append(epoch.id)
                    if not final:
                        self.worst_lag_s = max(self.worst_lag_s, now - epoch.created_at)
                assert changes.cursor.epoch_id >= cursor.epoch_id
                assert changes.cursor.trial_rev >= cursor.trial_rev
                cursor = changes.cursor
                self.polls += 1
                if final:
                    return
                time.sleep(0.01)  # the poll interval of a page, not a wait for a condition
        except BaseException as exc:
            self.error = exc
        finally:
            store.close()


@pytest.mark.slow
def test_one_writer_process_and_three_readers_see_every_epoch_once(storage, db_path):
    run = _running_run(storage)
    stop = threading.Event()
    readers = [_Reader(db_path, run.id, stop) for _ in range(3)]
    for reader in readers:
        reader.start()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    writer = subprocess.run([sys.executable, "-c", WRITER, str(db_path), str(run.id), "3"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    stop.set()
    for reader in readers:
        reader.join(timeout=30)
        assert not reader.is_alive(), "a reader did not finish its last poll"

    assert writer.returncode == 0, writer.stderr
    assert "locked" not in writer.stderr
    written = int(writer.stdout.strip())
    assert written > 100, "the writer was too slow to exercise anything"
    stored = [e.id for e in storage.list_epochs(run.id)]
    assert len(stored) == written
    for reader in readers:
        assert reader.error is None, repr(reader.error)
        assert reader.seen == stored, "every epoch is seen exactly once, in order"
        assert reader.polls > 10
        assert reader.worst_lag_s < 1.0, f"an epoch took {reader.worst_lag_s:.2f}s to be seen"
    assert storage.get_run(run.id).trials_done == math.ceil(written / 25)
