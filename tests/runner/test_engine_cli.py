"""End-to-end: the CLI runs each KerasTuner strategy in a worker process and records it all."""
from __future__ import annotations

import json
import os
import signal

import pytest

from storage import RunStatus, Storage, TrialStatus
from tests.support.runs import cli, run_spec, start_spec, wait_for
from tuning.paths import run_dir

pytestmark = pytest.mark.slow


def mlp_spec(strategy: dict, **extra) -> dict:
    spec = {
        "name": f"digits mlp {strategy['name']}",
        "seed": 7,
        "data": {"source": "sklearn", "name": "digits", "validation_split": 0.25},
        "model": {"family": "mlp"},
        "search_space": {
            "units": {"type": "int", "min": 8, "max": 32, "step": 8},
            "learning_rate": {"type": "choice", "values": [0.001, 0.01]},
            "num_layers": {"type": "fixed", "value": 1},
        },
        "strategy": strategy,
        "objective": {"metric": "val_accuracy", "direction": "max"},
        "training": {"epochs": 2, "batch_size": 64},
    }
    spec.update(extra)
    return spec


def assert_every_epoch_recorded(storage: Storage, run_id: int) -> None:
    trials = storage.list_trials(run_id)
    assert trials
    epochs = storage.list_epochs(run_id)
    for trial in trials:
        mine = sorted((e.execution, e.epoch) for e in epochs if e.trial_id == trial.id)
        assert len(mine) == len(set(mine)), "an epoch was recorded twice"
        if trial.status is TrialStatus.COMPLETED:
            epochs_wanted = trial.hyperparameters.get("tuner/epochs", 2) - \
                trial.hyperparameters.get("tuner/initial_epoch", 0)
            assert len(mine) == epochs_wanted, (trial.trial_key, mine)
            metrics = next(e for e in epochs if e.trial_id == trial.id).metrics
            assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(metrics)


@pytest.mark.parametrize("strategy", [
    {"name": "random", "max_trials": 3},
    {"name": "bayesian", "max_trials": 3, "num_initial_points": 2},
    {"name": "grid", "max_trials": 3},
])
def test_cli_runs_keras_strategy_and_records_every_epoch(tmp_path, strategy):
    storage, run_id, result = run_spec(tmp_path, mlp_spec(strategy))
    assert result.returncode == 0, result.stderr[-3000:]
    run = storage.get_run(run_id)
    assert run.status is RunStatus.COMPLETED
    trials = storage.list_trials(run_id)
    assert len(trials) == 3
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    assert_every_epoch_recorded(storage, run_id)
    best = max(t.score for t in trials)
    assert run.best_score == pytest.approx(best)
    assert (run_dir(storage.path, run_id) / "best_model.keras").exists()
    if strategy["name"] == "grid":
        seen = {(t.hyperparameters["units"], t.hyperparameters["learning_rate"]) for t in trials}
        assert len(seen) == 3  # a grid never repeats a point


def test_cli_hyperband_records_brackets_rounds_and_parents(tmp_path):
    spec = mlp_spec({"name": "hyperband", "max_epochs": 3, "factor": 3})
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = storage.list_trials(run_id)
    assert all(t.bracket is not None and t.round is not None for t in trials)
    promoted = [t for t in trials if t.parent_key is not None]
    assert promoted, "hyperband promoted no trial"
    keys = {t.trial_key for t in trials}
    for t in promoted:
        assert t.parent_key in keys and t.round >= 1
    assert storage.get_run(run_id).max_trials >= len(trials)
    assert_every_epoch_recorded(storage, run_id)


@pytest.mark.parametrize("family,space", [
    ("svm", {"C": {"type": "float", "min": 0.1, "max": 10.0, "sampling": "log"},
             "kernel": {"type": "choice", "values": ["rbf", "linear"]}}),
    ("random_forest", {"n_estimators": {"type": "int", "min": 5, "max": 20, "step": 5},
                       "max_depth": {"type": "int", "min": 2, "max": 4}}),
])
def test_cli_sklearn_tuner_on_iris_records_cv_scores(tmp_path, family, space):
    spec = {"name": f"iris {family}", "seed": 3,
            "data": {"source": "sklearn", "name": "iris"}, "model": {"family": family},
            "search_space": space, "strategy": {"name": "random", "max_trials": 3, "cv_folds": 3},
            "objective": {"metric": "accuracy"}}
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr[-3000:]
    trials = storage.list_trials(run_id)
    assert len(trials) == 3 and all(t.status is TrialStatus.COMPLETED for t in trials)
    for t in trials:
        folds = [e for e in storage.list_epochs(run_id, t.id)]
        assert len(folds) == 3
        mean = sum(e.metrics["score"] for e in folds) / 3
        assert t.score == pytest.approx(mean)
        assert 0.5 < t.score <= 1.0
    assert (run_dir(storage.path, run_id) / "best_model.joblib").exists()


def test_sigkill_mid_trial_then_resume_runs_no_completed_trial_twice(tmp_path):
    spec = mlp_spec({"name": "random", "max_trials": 4},
                    training={"epochs": 40, "batch_size": 64})
    spec["search_space"]["units"] = {"type": "int", "min": 8, "max": 64, "step": 8}
    proc, storage, db, run_id = start_spec(tmp_path, spec)

    def second_trial_mid_way():
        trials = storage.list_trials(run_id)
        done = [t for t in trials if t.status is TrialStatus.COMPLETED]
        running = [t for t in trials if t.status is TrialStatus.RUNNING and t.epochs_done >= 2]
        return done and running and running[0]

    victim = wait_for(second_trial_mid_way, 240, "a completed trial and one mid-way")
    pid = storage.get_run(run_id).worker_pid
    completed_before = {t.trial_key: t.finished_at for t in storage.list_trials(run_id)
                        if t.status is TrialStatus.COMPLETED}
    os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=60)  # the CLI sees its worker die and marks the run
    run = storage.get_run(run_id)
    assert run.status is RunStatus.INTERRUPTED
    assert storage.get_trial(victim.id).status is TrialStatus.INTERRUPTED

    result = cli(db, "resume", str(run_id), "--quiet", timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    run = storage.get_run(run_id)
    assert run.status is RunStatus.COMPLETED
    trials = storage.list_trials(run_id)
    assert len(trials) == 4
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    for key, finished_at in completed_before.items():
        # A completed trial was not trained again: its record is untouched.
        assert storage.get_trial_by_key(run_id, key).finished_at == finished_at
    assert_every_epoch_recorded_once(storage, run_id, epochs=40)


def assert_every_epoch_recorded_once(storage: Storage, run_id: int, epochs: int) -> None:
    for t in storage.list_trials(run_id):
        mine = [(e.execution, e.epoch) for e in storage.list_epochs(run_id, t.id)]
        assert sorted(mine) == [(0, i) for i in range(epochs)], t.trial_key


def test_stop_ends_run_after_epoch_and_cancel_ends_one_trial(tmp_path):
    spec = mlp_spec({"name": "random", "max_trials": 5},
                    training={"epochs": 200, "batch_size": 256})
    spec["search_space"]["units"] = {"type": "int", "min": 8, "max": 64, "step": 8}
    proc, storage, db, run_id = start_spec(tmp_path, spec)
    first = wait_for(lambda: [t for t in storage.list_trials(run_id)
                              if t.status is TrialStatus.RUNNING and t.epochs_done >= 1],
                     120, "first trial running")[0]
    assert cli(db, "cancel", str(run_id), first.trial_key).returncode == 0
    wait_for(lambda: storage.get_trial(first.id).status is TrialStatus.CANCELLED, 60,
             "cancelled trial")
    cancelled = storage.get_trial(first.id)
    assert cancelled.epochs_done < 200
    assert cancelled.message.startswith("cancelled after epoch ")
    second = wait_for(lambda: [t for t in storage.list_trials(run_id)
                               if t.status is TrialStatus.RUNNING and t.epochs_done >= 1],
                      120, "next trial running")[0]
    assert second.trial_key != first.trial_key  # the run went on after the cancel
    assert cli(db, "stop", str(run_id)).returncode == 0
    assert proc.wait(timeout=120) == 3  # the CLI reports the run as stopped
    run = storage.get_run(run_id)
    assert run.status is RunStatus.STOPPED
    stopped = storage.get_trial(second.id)
    assert stopped.status is TrialStatus.STOPPED and stopped.epochs_done < 200
    assert len(storage.list_trials(run_id)) == 2  # no trial started after the stop


def test_cancel_ends_a_scikit_learn_trial_after_its_fold(tmp_path):
    spec = {"name": "folds", "seed": 1, "data": {"source": "sklearn", "name": "digits"},
            "model": {"family": "gradient_boosting"},
            "search_space": {"n_estimators": {"type": "choice", "values": [300, 3]},
                             "max_depth": {"type": "fixed", "value": 2}},
            "strategy": {"name": "grid", "cv_folds": 10}}
    proc, storage, db, run_id = start_spec(tmp_path, spec)
    slow = wait_for(lambda: [t for t in storage.list_trials(run_id)
                             if t.hyperparameters["n_estimators"] == 300 and t.epochs_done >= 1],
                    120, "the slow trial's first fold")[0]
    assert cli(db, "cancel", str(run_id), slow.trial_key).returncode == 0
    assert proc.wait(timeout=300) == 0
    cancelled = storage.get_trial(slow.id)
    assert cancelled.status is TrialStatus.CANCELLED, cancelled.message
    assert cancelled.message.startswith("cancelled after fold ") and cancelled.epochs_done < 10
    assert storage.get_run(run_id).status is RunStatus.COMPLETED  # the other trial ran


def test_cli_bad_spec_exits_2_with_messages_and_no_traceback(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"data": {"source": "sklearn", "name": "nope"},
                                "model": {"family": "mlp"},
                                "search_space": {"lr": {"type": "float", "min": 0, "max": 1,
                                                        "sampling": "log"}},
                                "strategy": {"name": "random", "max_trials": 0}}))
    for command in ("validate", "run"):
        result = cli(tmp_path / "t.db", command, str(path))
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert "data.name must be one of" in result.stderr
        assert "strategy.max_trials must be between 1" in result.stderr
        assert "search_space.lr" in result.stderr
    assert Storage(tmp_path / "t.db").list_runs() == []


def test_cli_list_show_export(tmp_path):
    spec = {"name": "iris knn", "seed": 1, "data": {"source": "sklearn", "name": "iris"},
            "model": {"family": "knn"},
            "search_space": {"n_neighbors": {"type": "int", "min": 1, "max": 9}},
            "strategy": {"name": "grid", "max_trials": 3}}
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr[-3000:]
    db = tmp_path / "t.db"
    listing = cli(db, "list")
    assert "iris knn" in listing.stdout and "completed" in listing.stdout
    shown = cli(db, "show", str(run_id))
    assert "n_neighbors" in shown.stdout
    exported = json.loads(cli(db, "export", str(run_id), "--format", "json").stdout)
    assert len(exported["trials"]) == 3
    assert all(len(t["epochs"]) == 3 for t in exported["trials"])
    csv_text = cli(db, "export", str(run_id), "--format", "csv").stdout
    assert len(csv_text.strip().splitlines()) == 4
    missing = cli(db, "show", "999")
    assert missing.returncode == 2 and "run 999 does not exist" in missing.stderr


def test_trials_whose_loss_turns_nan_are_failed_with_a_readable_message(tmp_path):
    spec = {"name": "diverging", "seed": 5,
            "data": {"source": "sklearn", "name": "diabetes"}, "model": {"family": "mlp"},
            "search_space": {"learning_rate": {"type": "fixed", "value": 10.0},
                             "optimizer": {"type": "fixed", "value": "sgd"},
                             "units": {"type": "choice", "values": [256, 512]}},
            "strategy": {"name": "grid", "max_consecutive_failed_trials": 5},
            "objective": {"metric": "val_loss"}, "training": {"epochs": 5, "batch_size": 8}}
    storage, run_id, result = run_spec(tmp_path, spec)
    trials = storage.list_trials(run_id)
    assert len(trials) == 2
    for t in trials:
        assert t.status is TrialStatus.FAILED
        assert "loss became" in t.message and "lower the learning rate" in t.message
    run = storage.get_run(run_id)
    assert run.status is RunStatus.FAILED and "no trial completed" in run.error
    assert result.returncode == 1
