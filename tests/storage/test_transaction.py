"""``Storage.transaction()``: a block of calls lands whole or not at all, and nobody else
sees it before it ends."""
from __future__ import annotations

import pytest

from storage import RunStatus, Storage, TrialStatus

SPEC = {"name": "t", "objective": {"metric": "loss", "direction": "min"},
        "strategy": {"name": "random", "max_trials": 2}}


def test_a_block_that_raises_leaves_nothing(storage: Storage):
    kept = storage.create_run("kept", SPEC).id
    with pytest.raises(RuntimeError):
        with storage.transaction():
            run = storage.create_run("lost", SPEC, status=RunStatus.COMPLETED)
            trial = storage.begin_trial(run.id, "0", 0, {"units": 8})
            storage.record_epoch(trial.id, 0, 0, {"loss": 1.0})
            storage.finish_run(kept, RunStatus.STOPPED)
            raise RuntimeError("half-way")
    assert [r.id for r in storage.list_runs()] == [kept]
    assert storage.get_run(kept).status is RunStatus.QUEUED
    assert storage.list_epochs(kept) == []


def test_other_connections_see_the_block_only_when_it_ends(storage: Storage):
    reader = Storage(storage.path)
    with storage.transaction():
        run = storage.create_run("r", SPEC, status=RunStatus.COMPLETED)
        with storage.transaction():  # nested: joins the outer block
            trial = storage.begin_trial(run.id, "0", 0, {})
        storage.finish_trial(trial.id, TrialStatus.COMPLETED, score=0.5)
        assert storage.get_run(run.id).best_score == 0.5  # its own writes, read back
        changes = storage.changes_since(run.id)  # a snapshot read inside the block
        assert [t.trial_key for t in changes.trials] == ["0"]
        assert reader.list_runs() == []
    assert [r.best_score for r in reader.list_runs()] == [0.5]
    reader.close()


def test_record_epochs_stores_each_row_as_record_epoch_does(storage: Storage):
    from storage import NotFoundError

    run = storage.create_run("r", SPEC)
    one, many = (storage.begin_trial(run.id, key, 0, {}) for key in ("a", "b"))
    rows = [(0, 1, {"loss": 1.0}), (0, 2, {"loss": float("nan"), "bad": "x"}),
            (1, 1, {"loss": 0.5}), (0, 1, {"loss": 0.9})]  # the last replaces the first
    for row in rows:
        storage.record_epoch(one.id, *row)
    storage.record_epochs(many.id, rows)
    shown = [[(e.execution, e.epoch, dict(e.metrics)) for e in storage.list_epochs(run.id, t.id)]
             for t in (one, many)]
    assert shown[0] == shown[1] and len(shown[1]) == 3
    assert storage.get_trial(many.id).epochs_done == 3
    with pytest.raises(NotFoundError):
        storage.record_epochs(999, rows)
