"""Manual strategies end to end: each runs in a worker and records exactly what it tried."""
from __future__ import annotations

import itertools

import pytest

from storage import RunStatus, TrialStatus
from tests.support.runs import run_spec

pytestmark = pytest.mark.slow


def hp_values(trial) -> dict:
    return {k: v for k, v in trial.hyperparameters.items() if not k.startswith("tuner/")}


def iris_knn(strategy: dict, space: dict | None = None) -> dict:
    return {"name": f"iris knn {strategy['name']}", "seed": 4,
            "data": {"source": "sklearn", "name": "iris"}, "model": {"family": "knn"},
            "search_space": space or {
                "n_neighbors": {"type": "choice", "values": [1, 7, 40]},
                "weights": {"type": "choice", "values": ["uniform", "distance"]}},
            "strategy": strategy}


def test_grid_over_chosen_values_tries_exactly_every_combination(tmp_path):
    storage, run_id, result = run_spec(tmp_path, iris_knn({"name": "grid"}))
    assert result.returncode == 0, result.stderr[-2000:]
    tried = sorted((t.hyperparameters["n_neighbors"], t.hyperparameters["weights"])
                   for t in storage.list_trials(run_id))
    assert tried == sorted(itertools.product([1, 7, 40], ["uniform", "distance"]))


def test_sequential_stage_two_fixes_stage_one_best(tmp_path):
    strategy = {"name": "sequential", "order": ["n_neighbors", "weights"]}
    storage, run_id, result = run_spec(tmp_path, iris_knn(strategy))
    assert result.returncode == 0, result.stderr[-2000:]
    trials = storage.list_trials(run_id)
    # weights' default ("uniform") is stage 1's winner carried into stage 2, not re-run
    assert len(trials) == 3 + 1
    stage1 = [t for t in trials if t.hyperparameters["tuner/stage"] == 1]
    stage2 = [t for t in trials if t.hyperparameters["tuner/stage"] == 2]
    assert [t.hyperparameters["n_neighbors"] for t in stage1] == [1, 7, 40]
    # before its own stage, weights holds KNeighborsClassifier's default
    assert {t.hyperparameters["weights"] for t in stage1} == {"uniform"}
    best1 = max(stage1, key=lambda t: t.score).hyperparameters["n_neighbors"]
    assert {t.hyperparameters["n_neighbors"] for t in stage2} == {best1}
    assert [t.hyperparameters["weights"] for t in stage2] == ["distance"]
    assert all(t.hyperparameters["tuner/stage_hp"] == "weights" for t in stage2)
    run = storage.get_run(run_id)
    assert run.best_score == max(t.score for t in trials)


def test_random_sampling_is_seeded_and_combine_tries_all_combinations(tmp_path):
    space = {"C": {"type": "float", "min": 0.01, "max": 100.0, "sampling": "log"},
             "kernel": {"type": "choice", "values": ["rbf", "linear", "poly"]}}
    spec = {"name": "iris svm sampling", "seed": 9, "data": {"source": "sklearn", "name": "iris"},
            "model": {"family": "svm"}, "search_space": space,
            "strategy": {"name": "random_sampling", "samples": 4}}
    first, run_a, result = run_spec(tmp_path, spec, "a.db")
    assert result.returncode == 0, result.stderr[-2000:]
    second, run_b, _ = run_spec(tmp_path, spec, "b.db")
    tried_a = [hp_values(t) for t in first.list_trials(run_a)]
    assert len(tried_a) == 4
    assert tried_a == [hp_values(t) for t in second.list_trials(run_b)]
    assert all(0.01 <= p["C"] <= 100 for p in tried_a)

    spec["strategy"] = {"name": "random_sampling", "samples": 2, "combine": True}
    storage, run_c, result = run_spec(tmp_path, spec, "c.db")
    assert result.returncode == 0, result.stderr[-2000:]
    tried = [hp_values(t) for t in storage.list_trials(run_c)]
    cs = sorted({p["C"] for p in tried})
    kernels = sorted({p["kernel"] for p in tried})
    assert len(cs) == 2 and len(kernels) == 2
    assert sorted((p["C"], p["kernel"]) for p in tried) == sorted(itertools.product(cs, kernels))


def digits_mlp(strategy: dict, learning_rates: list[float], **training) -> dict:
    return {"name": "digits mlp", "seed": 1, "data": {"source": "sklearn", "name": "digits"},
            "model": {"family": "mlp"},
            "search_space": {"learning_rate": {"type": "choice", "values": learning_rates},
                             "units": {"type": "fixed", "value": 32}},
            "strategy": strategy, "training": {"epochs": 8, "batch_size": 64, **training}}


def test_early_stopping_records_fewer_epochs_than_the_budget(tmp_path):
    spec = digits_mlp({"name": "grid"}, [0.05], early_stopping={
        "monitor": "val_loss", "patience": 1, "min_delta": 0.05})
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr[-2000:]
    (trial,) = storage.list_trials(run_id)
    assert trial.status is TrialStatus.COMPLETED
    assert trial.epochs_done < 8
    assert len(storage.list_epochs(run_id, trial.id)) == trial.epochs_done
    assert trial.metrics["epochs_trained"] == trial.epochs_done
    assert any(f.startswith(f"early stopped: trained {trial.epochs_done} of 8 epochs")
               for f in trial.flags)


def test_median_pruning_stops_a_bad_trial_and_shows_it_as_pruned(tmp_path):
    # Three healthy learning rates first, then one far too small to learn anything.
    spec = digits_mlp({"name": "grid", "pruning": {"warmup_epochs": 1, "min_trials": 3}},
                      [0.01, 0.011, 0.012, 1e-6])
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr[-2000:]
    assert storage.get_run(run_id).status is RunStatus.COMPLETED
    trials = {t.hyperparameters["learning_rate"]: t for t in storage.list_trials(run_id)}
    bad = trials[1e-6]
    assert bad.status is TrialStatus.PRUNED
    assert bad.epochs_done == 2  # warm-up epoch, then pruned at the first judged epoch
    assert "pruned at epoch 2" in bad.message and "median" in bad.message
    for lr in (0.01, 0.011, 0.012):
        assert trials[lr].status is TrialStatus.COMPLETED and trials[lr].epochs_done == 8
    assert storage.get_run(run_id).best_score == max(trials[lr].score for lr in (0.01, 0.011, 0.012))
