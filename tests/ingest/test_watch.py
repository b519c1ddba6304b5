"""tuning.watch: a user's own KerasTuner search, recorded trial by trial and epoch by epoch.

The searches run in one subprocess (``watched_examples.py``, see ``conftest.py``); these
tests read what it recorded and compare it with what KerasTuner itself reported.
"""
from __future__ import annotations

import os
import time
from collections import Counter

import pytest

from storage import RunStatus, Storage, TrialStatus


def test_tuning_watch_is_a_function_of_the_package():
    # That importing ``tuning`` loads no TensorFlow is tests/test_import_hygiene.py's.
    import tuning

    assert callable(tuning.watch)


SCRIPT_SPEC = {"name": "watched", "data": {"source": "script", "project": "/p/rs"},
               "model": {"family": "custom"}, "strategy": {"name": "random", "max_trials": 3},
               "objective": {"metric": "val_accuracy", "direction": "max"}}


def test_the_engine_leaves_a_script_run_alone_while_it_beats_and_reaps_it_after(tmp_path):
    from tuning.runner.engine import Engine

    store = Storage(tmp_path / "t.db")
    run = store.create_run("watched", SCRIPT_SPEC, status=RunStatus.STOPPED)
    assert store.reopen_run(run.id, SCRIPT_SPEC, os.getpid(), max_trials=3)
    now = time.time()
    engine = Engine(store.path, clock=lambda: now + 5)
    engine.tick()
    assert store.get_run(run.id).status is RunStatus.RUNNING and not engine.workers
    # Another process cannot take a run its script still holds.
    assert not store.reopen_run(run.id, SCRIPT_SPEC, os.getpid() + 1, max_trials=3)
    engine.clock = lambda: now + 60  # the script died: no beat for a minute
    engine.tick()
    assert store.get_run(run.id).status is RunStatus.INTERRUPTED


def test_a_reloaded_project_goes_on_with_the_run_nobody_holds(tmp_path):
    from tuning.ingest.watch import _earlier_run

    store = Storage(tmp_path / "t.db")
    other = dict(SCRIPT_SPEC, data={"source": "script", "project": "/p/other"})
    old = store.create_run("old", SCRIPT_SPEC, status=RunStatus.STOPPED)
    store.create_run("other", other, status=RunStatus.COMPLETED)
    now = time.time()
    assert _earlier_run(store, "/p/rs", now) == old.id
    held = store.create_run("held", SCRIPT_SPEC, status=RunStatus.QUEUED)
    store.claim_run(held.id, os.getpid() + 1)  # a live process beating right now
    assert _earlier_run(store, "/p/rs", now) == old.id
    assert _earlier_run(store, "/p/rs", now + 60) == held.id  # its beat went stale
    assert _earlier_run(store, "/p/none", now) is None


def _run(examples, key: str):
    store = Storage(examples.db)
    return store, store.get_run(examples.report[key]["run_id"])


def _epochs_by_trial_and_execution(store: Storage, run_id: int) -> Counter:
    keys = {t.id: t.trial_key for t in store.list_trials(run_id)}
    return Counter((keys[e.trial_id], e.execution) for e in store.list_epochs(run_id))


def _assert_matches_keras_tuner(run, report: dict) -> None:
    assert run.status is RunStatus.COMPLETED
    assert run.trials_done == report["trials"] == report["completed"]
    assert run.best_score == pytest.approx(report["best"])
    assert run.spec["data"]["source"] == "script"
    assert run.spec["data"]["project"] == report["project"]
    assert run.spec["model"]["family"] == "custom"
    assert run.worker_pid is not None and run.heartbeat_at is not None


@pytest.mark.slow
def test_random_search_keeps_every_execution_curve(watched_examples):
    store, run = _run(watched_examples, "random")
    report = watched_examples.report["random"]
    _assert_matches_keras_tuner(run, report)
    assert report["class"] == "WatchedRandomSearch"
    assert run.name == "random" and run.strategy == "random" and run.max_trials == 3
    assert run.spec["strategy"]["executions_per_trial"] == 2
    assert dict(run.spec["objective"]) == {"metric": "val_accuracy", "direction": "max"}
    space = run.spec["search_space"]
    assert dict(space["units"]) == {"type": "int", "min": 8, "max": 32, "step": 8,
                                    "sampling": "linear"}
    assert space["lr"]["sampling"] == "log" and space["act"]["values"] == ("relu", "tanh")
    # 3 trials x 2 executions x 3 epochs, each execution its own curve.
    counts = _epochs_by_trial_and_execution(store, run.id)
    assert counts == {(k, x): 3 for k in ("0", "1", "2") for x in (0, 1)}
    for trial in store.list_trials(run.id):
        assert trial.status is TrialStatus.COMPLETED and trial.epochs_done == 6
        assert set(trial.metrics) >= {"val_accuracy", "val_loss", "accuracy", "loss"}
        epochs = store.list_epochs(run.id, trial.id)
        assert [e.epoch for e in epochs if e.execution == 1] == [0, 1, 2]
        assert set(epochs[0].metrics) == {"accuracy", "loss", "val_accuracy", "val_loss"}


@pytest.mark.slow
def test_bayesian_optimization_on_val_loss_minimises(watched_examples):
    store, run = _run(watched_examples, "bayesian")
    _assert_matches_keras_tuner(run, watched_examples.report["bayesian"])
    assert run.strategy == "bayesian" and run.direction == "min"
    assert run.spec["objective"]["metric"] == "val_loss"
    trials = store.list_trials(run.id)
    assert run.best_score == min(t.score for t in trials)
    assert _epochs_by_trial_and_execution(store, run.id) == {(t.trial_key, 0): 3 for t in trials}


@pytest.mark.slow
def test_hyperband_records_brackets_and_continues_epoch_numbers(watched_examples):
    store, run = _run(watched_examples, "hyperband")
    _assert_matches_keras_tuner(run, watched_examples.report["hyperband"])
    assert run.strategy == "hyperband" and run.max_trials == 6
    assert run.spec["strategy"]["factor"] == 3 and run.spec["strategy"]["max_epochs"] == 3
    trials = store.list_trials(run.id)
    assert {t.bracket for t in trials} == {0, 1}
    promoted = [t for t in trials if t.parent_key is not None]
    assert promoted and all(t.round == 1 for t in promoted)
    for t in trials:
        first = int(t.hyperparameters["tuner/initial_epoch"])
        last = int(t.hyperparameters["tuner/epochs"])
        epochs = [e.epoch for e in store.list_epochs(run.id, t.id)]
        assert epochs == list(range(first, last)), t.trial_key


@pytest.mark.slow
def test_grid_search_counts_its_grid(watched_examples):
    store, run = _run(watched_examples, "grid")
    _assert_matches_keras_tuner(run, watched_examples.report["grid"])
    assert run.strategy == "grid" and run.max_trials == 2
    assert run.spec["search_space"]["act"] == {"type": "fixed", "value": "relu"}
    assert sorted(t.hyperparameters["units"] for t in store.list_trials(run.id)) == [8, 16]
    assert sum(_epochs_by_trial_and_execution(store, run.id).values()) == 4


@pytest.mark.slow
def test_sklearn_tuner_records_each_fold_with_its_metrics(watched_examples):
    store, run = _run(watched_examples, "sklearn")
    _assert_matches_keras_tuner(run, watched_examples.report["sklearn"])
    assert run.strategy == "bayesian" and run.spec["model"]["kind"] == "sklearn"
    assert dict(run.spec["objective"]) == {"metric": "score", "direction": "max"}
    for trial in store.list_trials(run.id):
        folds = store.list_epochs(run.id, trial.id)
        assert [(e.execution, e.epoch) for e in folds] == [(0, 0), (0, 1), (0, 2)]
        assert all(set(e.metrics) == {"score", "accuracy_score"} for e in folds)
        mean = sum(e.metrics["score"] for e in folds) / 3
        assert trial.score == pytest.approx(mean)


@pytest.mark.slow
def test_stop_ends_the_search_cleanly_and_the_next_search_goes_on(watched_examples):
    stop = watched_examples.report["stop"]
    # search() returned None; the trial in flight stopped after its 2nd epoch.
    assert stop["returned"] == "None"
    assert stop["after_stop"]["status"] == "stopped"
    assert stop["after_stop"]["trials"] == {"0": ["completed", 4], "1": ["stopped", 2]}
    # The second search trained trial 1 again from its first epoch, then the rest.
    assert stop["after_second_search"]["status"] == "completed"
    assert stop["after_second_search"]["trials"] == {k: ["completed", 4] for k in "012"}
    # A new tuner reloading the project went on with the same run, not a new one.
    assert stop["reloaded_run_id"] == stop["run_id"]
    assert stop["after_reload"]["trials"] == {k: ["completed", 4] for k in "0123"}
    store = Storage(watched_examples.db)
    run = store.get_run(stop["run_id"])
    assert run.status is RunStatus.COMPLETED and run.max_trials == 4 and not run.stop_requested
    assert run.best_score == pytest.approx(stop["summary"]["best"])
    assert len(store.list_runs()) == 6
    assert "stopped on request" in watched_examples.stderr


@pytest.mark.slow
def test_the_script_shows_no_traceback_and_refuses_what_is_not_a_tuner(watched_examples):
    assert "Traceback" not in watched_examples.stderr
    assert "expects a KerasTuner tuner" in watched_examples.report["not_a_tuner"]
