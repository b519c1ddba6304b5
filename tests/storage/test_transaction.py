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
