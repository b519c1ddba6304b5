"""Tables, statistics and the live cache of tuning.insights.analysis, over a real SQLite storage."""
from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pandas as pd
import pytest

from storage import RunStatus, Storage, Trial, TrialStatus
from tuning.insights import analysis
from tuning.spec import validate_spec

SPACE = {
    "units": {"type": "int", "min": 16, "max": 64, "step": 16},
    "learning_rate": {"type": "float", "min": 1e-4, "max": 1e-1, "sampling": "log"},
    "activation": {"type": "choice", "values": ["relu", "tanh"]},
}


def make_run(store: Storage, metric: str = "val_accuracy", strategy: dict | None = None,
             space: dict | None = None, name: str = "run"):
    spec = validate_spec({
        "name": name, "data": {"source": "sklearn", "name": "digits"},
        "model": {"family": "mlp"}, "search_space": space or SPACE,
        "strategy": strategy or {"name": "random", "max_trials": 10},
        "objective": {"metric": metric}, "training": {"epochs": 3}})
    run = store.create_run(name, spec)
    assert store.claim_run(run.id, pid=1)
    return store.get_run(run.id)


def add_trial(store: Storage, run_id: int, number: int, score: float | None,
              status: TrialStatus = TrialStatus.COMPLETED, epochs: int = 3,
              hps: dict | None = None, message: str | None = None, **where) -> Trial:
    hps = hps if hps is not None else {"units": 16, "learning_rate": 1e-3, "activation": "relu"}
    trial = store.begin_trial(run_id, f"t{number:02d}", number, hps, **where)
    for epoch in range(epochs):
        store.record_epoch(trial.id, 0, epoch, {
            "loss": 1.0 / (epoch + 1), "accuracy": 0.5 + 0.1 * epoch,
            "val_loss": 1.2 / (epoch + 1), "val_accuracy": 0.45 + 0.1 * epoch})
    if status is not TrialStatus.RUNNING:
        store.finish_trial(trial.id, status, score=score, message=message)
    return store.get_trial(trial.id)


def test_trials_frame_has_one_row_per_trial_and_hp_columns_without_tuner_keys(storage):
    run = make_run(storage)
    add_trial(storage, run.id, 0, 0.8, hps={"units": 32, "learning_rate": 1e-3,
                                            "activation": "tanh", "tuner/epochs": 3,
                                            "tuner/trial_id": None})
    trial = add_trial(storage, run.id, 1, None, TrialStatus.FAILED, message="out of memory")
    storage.finish_trial(trial.id, TrialStatus.FAILED, message="out of memory",
                         flags=["overfitting: gap 0.2", "diverged"])
    frame = analysis.trials_frame(storage.list_trials(run.id))
    assert len(frame) == 2
    assert [c for c in frame.columns if c.startswith("hp:")] == [
        "hp:activation", "hp:learning_rate", "hp:units"]
    assert not any("tuner/" in c for c in frame.columns)
    assert frame["status"].tolist() == ["completed", "failed"]
    assert frame.loc[1, "flags"] == "overfitting: gap 0.2; diverged"
    assert frame.loc[1, "message"] == "out of memory"
    assert frame["hp:units"].tolist() == [32, 16]
    assert (frame["duration_s"] >= 0).all()
    assert frame["epochs_done"].tolist() == [3, 3]


@pytest.mark.parametrize("metric, expected", [("val_accuracy", ["t01", "t02", "t00"]),
                                              ("val_loss", ["t00", "t02", "t01"])])
def test_leaderboard_puts_completed_best_first_then_running_then_the_rest(storage, metric,
                                                                          expected):
    run = make_run(storage, metric=metric)
    add_trial(storage, run.id, 0, 0.2)
    add_trial(storage, run.id, 1, 0.9)
    add_trial(storage, run.id, 2, 0.5)
    add_trial(storage, run.id, 3, None, TrialStatus.FAILED, message="boom")
    add_trial(storage, run.id, 4, None, TrialStatus.CANCELLED, message="cancelled after epoch 1")
    add_trial(storage, run.id, 5, None, TrialStatus.RUNNING)
    board = analysis.leaderboard(run, storage.list_trials(run.id))
    assert board["trial_key"].tolist() == expected + ["t05", "t03", "t04"]
    assert board["rank"].tolist()[:3] == [1, 2, 3]
    assert board["rank"].isna().tolist() == [False] * 3 + [True] * 3
    assert board.loc[board["trial_key"] == "t03", "message"].item() == "boom"
    best = analysis.best_trial(run, storage.list_trials(run.id))
    assert best is not None and best.trial_key == expected[0]


def test_best_trial_is_none_until_a_trial_completes(storage):
    run = make_run(storage)
    add_trial(storage, run.id, 0, None, TrialStatus.FAILED)
    add_trial(storage, run.id, 1, None, TrialStatus.RUNNING)
    assert analysis.best_trial(run, storage.list_trials(run.id)) is None
    assert analysis.best_so_far(run, storage.list_trials(run.id)).empty


@pytest.mark.parametrize("metric", ["val_accuracy", "val_loss"])
def test_best_so_far_is_monotone_and_counts_every_finished_trials_epochs(storage, metric):
    run = make_run(storage, metric=metric)
    rng = random.Random(3)
    for number in range(12):
        if number == 4:
            add_trial(storage, run.id, number, None, TrialStatus.FAILED, epochs=2)
        else:
            add_trial(storage, run.id, number, rng.random())
    frame = analysis.best_so_far(run, storage.list_trials(run.id))
    assert len(frame) == 11
    assert list(frame.columns) == ["number", "trial_key", "finished_at", "elapsed_s",
                                   "epochs_cum", "score", "best"]
    best = frame["best"].to_numpy()
    steps = np.diff(best)
    assert (steps >= 0).all() if run.direction == "max" else (steps <= 0).all()
    pick = max if run.direction == "max" else min
    assert best[-1] == pick(frame["score"])
    # The failed trial's 2 epochs count towards the budget spent.
    assert frame["epochs_cum"].tolist() == [3, 6, 9, 12] + [17 + 3 * i for i in range(7)]
    assert (frame["elapsed_s"] >= 0).all() and frame["elapsed_s"].is_monotonic_increasing


def test_progress_eta_is_the_mean_duration_times_the_trials_left(storage):
    run = make_run(storage, strategy={"name": "random", "max_trials": 10})
    add_trial(storage, run.id, 0, 0.5)
    add_trial(storage, run.id, 1, None, TrialStatus.FAILED, epochs=1)
    add_trial(storage, run.id, 2, None, TrialStatus.RUNNING, epochs=2)
    start = 1_000.0
    timed = {0: (start, start + 10.0), 1: (start + 10.0, start + 30.0), 2: (start + 30.0, None)}
    trials = [dataclasses.replace(t, started_at=timed[t.number][0],
                                  finished_at=timed[t.number][1])
              for t in storage.list_trials(run.id)]
    run = dataclasses.replace(run, started_at=start)
    p = analysis.progress(run, trials, now=start + 40.0)
    assert (p.done, p.total, p.running, p.failed, p.epochs_done) == (2, 10, 1, 1, 6)
    assert p.elapsed_s == pytest.approx(40.0)
    assert p.eta_s == pytest.approx(15.0 * 8)  # mean of 10 s and 20 s, 8 trials to go
    assert p.fraction == pytest.approx(0.2)

    unbounded = analysis.progress(dataclasses.replace(run, max_trials=None), trials, start + 40)
    assert unbounded.eta_s is None and unbounded.fraction is None
    fresh = analysis.progress(run, [trials[2]], start + 40)
    assert fresh.eta_s is None  # nothing finished yet: no duration to go by
    over = analysis.progress(dataclasses.replace(run, status=RunStatus.COMPLETED), trials,
                             start + 40)
    assert over.eta_s == 0.0


def test_curves_frame_is_long_and_metric_names_are_base_names(storage):
    run = make_run(storage)
    add_trial(storage, run.id, 0, 0.5, epochs=3)
    add_trial(storage, run.id, 1, 0.6, epochs=2)
    trials, epochs = storage.list_trials(run.id), storage.list_epochs(run.id)
    curves = analysis.curves_frame(epochs, trials)
    assert list(curves.columns) == ["trial_id", "trial_key", "execution", "epoch", "metric",
                                    "value"]
    assert len(curves) == (3 + 2) * 4
    first = curves[(curves["trial_key"] == "t00") & (curves["metric"] == "val_loss")]
    assert first["epoch"].tolist() == [0, 1, 2]
    assert first["value"].tolist() == pytest.approx([1.2, 0.6, 0.4])
    assert analysis.metric_names(epochs) == ["accuracy", "loss"]
    assert analysis.metric_names(curves) == ["accuracy", "loss"]
    assert analysis.curves_frame([], trials).empty


def test_curves_frame_skips_non_finite_values_and_keeps_mixed_metric_sets(storage):
    run = make_run(storage)
    trial = storage.begin_trial(run.id, "t00", 0, {"units": 16})
    storage.record_epoch(trial.id, 0, 0, {"loss": 1.0, "val_loss": float("nan")})
    storage.record_epoch(trial.id, 1, 0, {"loss": 2.0, "extra": 3.0})
    curves = analysis.curves_frame(storage.list_epochs(run.id), storage.list_trials(run.id))
    assert list(zip(curves["execution"], curves["metric"].astype(str), curves["value"])) == [
        (0, "loss", 1.0), (1, "loss", 2.0), (1, "extra", 3.0)]


def test_importance_ranks_the_hyperparameter_that_drives_the_score_above_noise(storage):
    space = {"learning_rate": {"type": "float", "min": 1e-4, "max": 1e-1, "sampling": "log"},
             "units": {"type": "int", "min": 16, "max": 64, "step": 16},
             "activation": {"type": "choice", "values": ["relu", "tanh"]},
             "l2": {"type": "fixed", "value": 0.0}}
    run = make_run(storage, space=space)
    rng = random.Random(7)
    for number in range(30):
        lr = 10 ** rng.uniform(-4, -1)
        hps = {"learning_rate": lr, "units": rng.choice([16, 32, 48, 64]),
               "activation": rng.choice(["relu", "tanh"]), "l2": 0.0}
        score = 1.0 - (math.log10(lr) + 2.5) ** 2 / 4 + rng.gauss(0, 0.01)
        add_trial(storage, run.id, number, score, hps=hps, epochs=0)
    trials = storage.list_trials(run.id)
    importance = analysis.hp_importance(trials, space, "max")
    assert list(importance.index)[0] == "learning_rate"
    assert set(importance.index) == {"learning_rate", "units", "activation"}  # fixed left out
    assert importance["learning_rate"] > 3 * max(importance["units"], importance["activation"])
    assert importance.sum() == pytest.approx(1.0)
    assert importance.is_monotonic_decreasing
    # Seeded: the same trials give the same answer.
    pd.testing.assert_series_equal(importance, analysis.hp_importance(trials, space, "max"))


def test_importance_is_empty_with_few_trials_or_only_fixed_hyperparameters(storage):
    run = make_run(storage)
    for number in range(3):
        add_trial(storage, run.id, number, 0.1 * number, epochs=0)
    assert analysis.hp_importance(storage.list_trials(run.id), SPACE, "max").empty
    add_trial(storage, run.id, 3, 0.9, epochs=0)
    assert not analysis.hp_importance(storage.list_trials(run.id), SPACE, "max").empty
    fixed = {"units": {"type": "fixed", "value": 16}}
    assert analysis.hp_importance(storage.list_trials(run.id), fixed, "max").empty


def test_hyperband_table_marks_promoted_trials(storage):
    run = make_run(storage, strategy={"name": "hyperband", "max_epochs": 4, "factor": 2})
    hps = {"units": 16, "learning_rate": 1e-3, "activation": "relu"}
    add_trial(storage, run.id, 0, 0.5, hps={**hps, "tuner/bracket": 1, "tuner/round": 0},
              bracket=1, round=0)
    add_trial(storage, run.id, 1, 0.7, hps={**hps, "tuner/bracket": 1, "tuner/round": 0},
              bracket=1, round=0)
    # Bracket and parent known only from KerasTuner's keys: still drawn.
    add_trial(storage, run.id, 2, 0.8, hps={**hps, "tuner/bracket": 1, "tuner/round": 1,
                                            "tuner/trial_id": "t01"})
    add_trial(storage, run.id, 3, 0.6, hps={**hps, "tuner/bracket": 0, "tuner/round": 0},
              bracket=0, round=0)
    table = analysis.hyperband_table(storage.list_trials(run.id))
    assert list(table.columns) == ["bracket", "round", "trial_key", "parent_key", "score",
                                   "status", "promoted"]
    assert table["trial_key"].tolist() == ["t00", "t01", "t02", "t03"]
    assert table["bracket"].tolist() == [1, 1, 1, 0]
    assert table.set_index("trial_key")["promoted"].to_dict() == {
        "t00": False, "t01": True, "t02": False, "t03": False}
    assert table.set_index("trial_key").loc["t02", "parent_key"] == "t01"
