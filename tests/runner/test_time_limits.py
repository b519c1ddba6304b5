"""Per-trial time limits and grid searches surviving worker restarts. (A hung trial and its
watchdog are in the fault catalogue: tests/faults/test_trial_failures.py.)"""
from __future__ import annotations

import pytest

from storage import RunStatus, TrialStatus
from tests.support.runs import run_spec

pytestmark = pytest.mark.slow


def test_a_slow_keras_trial_fails_at_its_time_limit_with_a_readable_reason(tmp_path):
    spec = {"name": "slow", "seed": 1, "data": {"source": "sklearn", "name": "digits"},
            "model": {"family": "mlp"},
            "search_space": {"units": {"type": "choice", "values": [16, 8]}},
            "strategy": {"name": "grid", "max_consecutive_failed_trials": 5},
            "training": {"epochs": 1000}, "trial_time_limit_s": 4}
    storage, run_id, result = run_spec(tmp_path, spec)
    trials = storage.list_trials(run_id)
    assert len(trials) == 2  # the run carried on after the first trial failed
    for t in trials:
        assert t.status is TrialStatus.FAILED
        assert t.message.startswith("ran past the per-trial time limit of 4 s")
        assert t.epochs_done < 1000
    # Cut mid-training, not before it began (on a loaded machine the first trial's first
    # epoch, its graph traced, may itself take the whole limit: the second's is quicker).
    assert max(t.epochs_done for t in trials) > 0
    assert storage.get_run(run_id).status is RunStatus.FAILED


def test_grid_search_finishes_every_point_across_worker_recycling(tmp_path):
    # KerasTuner's own grid oracle forgets its frontier when reloaded; ours rebuilds it.
    spec = {"name": "grid recycled", "seed": 1, "data": {"source": "sklearn", "name": "iris"},
            "model": {"family": "knn"},
            "search_space": {"n_neighbors": {"type": "choice", "values": [1, 3, 5, 7, 9]}},
            "strategy": {"name": "grid", "recycle_every": 2}}
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr[-2000:]
    trials = storage.list_trials(run_id)
    assert sorted(t.hyperparameters["n_neighbors"] for t in trials) == [1, 3, 5, 7, 9]
    assert len({t.worker for t in trials}) == 3  # three workers: 2 + 2 + 1 trials
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
