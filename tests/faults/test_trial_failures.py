"""Trials that fail: one that raises, one whose loss turns NaN, one that hangs past its time
limit, and one that would not fit in memory. Each is recorded as failed (or refused before
anything is queued) with a readable reason, and the run goes on within its failure budget
(``strategy.max_consecutive_failed_trials``)."""
from __future__ import annotations

import os

import pytest

from storage import RunStatus, Storage, TrialStatus
from tests.faults.kit import db_fingerprint, write_spec
from tests.support.runs import cli, run_spec

pytestmark = pytest.mark.slow


def _by_value(storage: Storage, run_id: int, name: str) -> dict:
    return {t.hyperparameters[name]: t for t in storage.list_trials(run_id)}


def test_a_trial_that_raises_is_failed_with_its_error_and_the_run_goes_on(tmp_path):
    # A value the estimator accepts when built and rejects when fitted: SVC's "precomputed"
    # kernel wants a square kernel matrix, not iris's 150 x 4 features.
    spec = {"name": "raises", "seed": 2, "data": {"source": "sklearn", "name": "iris"},
            "model": {"family": "svm"},
            "search_space": {"kernel": {"type": "choice", "values": ["precomputed", "linear"]}},
            "strategy": {"name": "grid", "cv_folds": 3}}
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr[-2000:]
    trials = _by_value(storage, run_id, "kernel")
    failed = trials["precomputed"]
    assert failed.status is TrialStatus.FAILED
    assert failed.message.startswith("ValueError: Precomputed matrix must be a square matrix")
    assert "Traceback" not in failed.message and "\n" not in failed.message
    assert trials["linear"].status is TrialStatus.COMPLETED and trials["linear"].score > 0.9
    run = storage.get_run(run_id)
    assert run.status is RunStatus.COMPLETED and run.best_score == trials["linear"].score


def test_failures_in_a_row_beyond_the_budget_end_the_run_as_failed(tmp_path):
    spec = {"name": "always raises", "seed": 2, "data": {"source": "sklearn", "name": "iris"},
            "model": {"family": "svm"},
            "search_space": {"kernel": {"type": "fixed", "value": "precomputed"},
                             "C": {"type": "float", "min": 0.1, "max": 10.0, "sampling": "log"}},
            "strategy": {"name": "random", "max_trials": 10, "cv_folds": 3,
                         "max_consecutive_failed_trials": 2}}
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    trials = storage.list_trials(run_id)
    assert len(trials) == 2, "the run went on past its failure budget"
    assert all(t.status is TrialStatus.FAILED and "square matrix" in t.message for t in trials)
    run = storage.get_run(run_id)
    assert run.status is RunStatus.FAILED
    assert "consecutive" in run.error and "2" in run.error, run.error


def test_a_trial_whose_loss_turns_nan_fails_and_the_next_one_completes(tmp_path):
    spec = {"name": "nan", "seed": 5, "data": {"source": "sklearn", "name": "diabetes"},
            "model": {"family": "mlp"},
            "search_space": {"learning_rate": {"type": "choice", "values": [10.0, 0.00001]},
                             "optimizer": {"type": "fixed", "value": "sgd"},
                             "units": {"type": "fixed", "value": 256}},
            "strategy": {"name": "grid", "max_consecutive_failed_trials": 2},
            "objective": {"metric": "val_loss"}, "training": {"epochs": 5, "batch_size": 8}}
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr[-2000:]
    trials = _by_value(storage, run_id, "learning_rate")
    diverged = trials[10.0]
    assert diverged.status is TrialStatus.FAILED
    assert diverged.message.startswith("loss became nan at epoch")
    assert diverged.message.endswith("lower the learning rate")
    assert trials[0.00001].status is TrialStatus.COMPLETED
    assert storage.get_run(run_id).status is RunStatus.COMPLETED


def test_a_hung_trial_is_failed_past_its_time_limit_and_the_run_goes_on(tmp_path):
    # 3000 boosting stages take minutes and have no epoch boundary: only the worker's
    # watchdog can end the trial (it restarts the worker; the run resumes without it).
    spec = {"name": "hangs", "seed": 1, "data": {"source": "sklearn", "name": "digits"},
            "model": {"family": "gradient_boosting"},
            "search_space": {"n_estimators": {"type": "choice", "values": [3000, 5]},
                             "max_depth": {"type": "fixed", "value": 2}},
            "strategy": {"name": "grid", "cv_folds": 2}, "trial_time_limit_s": 1}
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr[-2000:]
    trials = _by_value(storage, run_id, "n_estimators")
    hung = trials[3000]
    assert hung.status is TrialStatus.FAILED
    assert hung.message.startswith("hung: no progress for")
    assert "per-trial time limit of 1 s" in hung.message and "run went on" in hung.message
    assert trials[5].status is TrialStatus.COMPLETED
    assert storage.get_run(run_id).status is RunStatus.COMPLETED


MEMORY_HOG = {"name": "too big", "data": {"source": "sklearn", "name": "digits"},
              "model": {"family": "mlp"},
              "search_space": {"units": {"type": "int", "min": 16, "max": 4096},
                               "num_layers": {"type": "fixed", "value": 4}},
              "strategy": {"name": "random", "max_trials": 2}, "training": {"epochs": 1}}


def test_a_model_that_would_not_fit_in_memory_is_refused_before_queueing(tmp_path, monkeypatch):
    db = tmp_path / "t.db"
    Storage(db).close()
    before = db_fingerprint(db)
    monkeypatch.setenv("TUNING_MEMORY_LIMIT_MB", "8")
    path = write_spec(tmp_path, MEMORY_HOG)
    for command in ("validate", "run"):
        result = cli(db, command, str(path), timeout=120)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "search_space allows models of up to" in result.stderr
        assert "more than the 8.0 MB allowed" in result.stderr
        assert "lower the maximum of units or num_layers" in result.stderr
    assert db_fingerprint(db) == before and Storage(db).list_runs() == []
    # The same space with a small enough maximum passes under the same budget.
    small = dict(MEMORY_HOG, search_space={"units": {"type": "int", "min": 16, "max": 64},
                                           "num_layers": {"type": "fixed", "value": 4}})
    assert cli(db, "validate", str(write_spec(tmp_path, small, "small.json"))).returncode == 0
    assert os.environ["TUNING_MEMORY_LIMIT_MB"] == "8"
