"""The pruning rule's replayed saving matches a real pruned run on the same seed: train a
tiny search without pruning, replay the median rule on its stored curves, then train the
same search with pruning and count the epochs it really trained."""
from __future__ import annotations

import copy

import pytest

from tests.support.runs import run_spec
from tuning.insights.advice import RunContext
from tuning.insights.advice.pruning import replay_pruning

SPEC = {
    "name": "digits pruning replay", "seed": 3,
    "data": {"source": "sklearn", "name": "digits", "validation_split": 0.25, "max_rows": 600},
    "model": {"family": "mlp"},
    "search_space": {"learning_rate": {"type": "float", "min": 1e-4, "max": 0.05,
                                       "sampling": "log"},
                     "units": {"type": "int", "min": 8, "max": 64, "step": 8}},
    "strategy": {"name": "random", "max_trials": 8},
    "objective": {"metric": "val_accuracy", "direction": "max"},
    "training": {"epochs": 6, "batch_size": 64},
}


@pytest.mark.slow
def test_replayed_saving_matches_a_pruned_run(tmp_path):
    storage, run_id, result = run_spec(tmp_path, SPEC, "plain.db")
    assert result.returncode == 0, result.stderr[-2000:]
    run = storage.get_run(run_id)
    ctx = RunContext(run, storage.list_trials(run_id), storage.list_epochs(run_id))
    replay = replay_pruning(ctx, warmup_epochs=2, min_trials=3)
    assert replay is not None and replay.epochs_before == 8 * 6

    pruned_spec = copy.deepcopy(SPEC)
    pruned_spec["strategy"]["pruning"] = {"warmup_epochs": 2, "min_trials": 3}
    pruned_store, pruned_id, result = run_spec(tmp_path, pruned_spec, "pruned.db")
    assert result.returncode == 0, result.stderr[-2000:]
    actual = sum(t.epochs_done for t in pruned_store.list_trials(pruned_id))
    assert replay.saved > 0
    assert abs(replay.epochs_after - actual) <= 3, (replay, actual)
