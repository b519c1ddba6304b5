"""Small versions of the article's KerasTuner examples, each under ``tuning.watch``.

Run by ``test_watch.py`` in a subprocess, so TensorFlow never loads into pytest::

    python tests/ingest/watched_examples.py DB WORKDIR REPORT.json

Runs RandomSearch (executions_per_trial=2), BayesianOptimization on val_loss,
Hyperband (factor 3), GridSearch and SklearnTuner on bundled scikit-learn data, then
a stop scenario: a stop requested through storage mid-trial, a second ``search`` on
the same tuner, and a fresh tuner reloading the same project. Writes what KerasTuner
itself reports (trial counts, best scores, folders) and what the script saw between
searches to REPORT.json for the test to compare with the database.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import datasets, linear_model, metrics, model_selection  # noqa: E402

import tuning  # noqa: E402
from storage import Storage  # noqa: E402

EPOCHS = 3
STOP_EPOCHS = 4
STOP_AT_EPOCH = 6  # counted over the whole stop search: trial 0 has 4, so trial 1's 2nd
_epochs_seen = 0


def digits():
    x, y = datasets.load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(x))
    train, val = rows[:300], rows[300:500]
    return x[train], y[train], x[val], y[val]


def build_model(hp):
    model = keras.Sequential([
        keras.Input((64,)),
        keras.layers.Dense(hp.Int("units", 8, 32, step=8),
                           activation=hp.Choice("act", ["relu", "tanh"])),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_estimator(hp):
    return linear_model.LogisticRegression(C=hp.Float("C", 0.01, 10.0, sampling="log"),
                                           max_iter=300)


class StopMidTrial(keras.callbacks.Callback):
    """Asks for a stop through storage, as the dashboard does, at a chosen epoch.

    KerasTuner deep-copies callbacks per execution: the count lives in the module."""

    def __init__(self, db: str, run_name: str):
        super().__init__()
        self.db, self.run_name = db, run_name

    def on_epoch_end(self, epoch, logs=None):
        global _epochs_seen
        _epochs_seen += 1
        if _epochs_seen == STOP_AT_EPOCH:
            store = Storage(self.db)
            run = next(r for r in store.list_runs() if r.name == self.run_name)
            store.request_stop(run.id)
            store.close()


def summary(tuner) -> dict:
    done = [t for t in tuner.oracle.trials.values() if t.status == "COMPLETED"]
    best = tuner.oracle.get_best_trials(1)[0] if done else None
    return {"project": os.path.abspath(tuner.project_dir), "trials": len(tuner.oracle.trials),
            "completed": len(done), "best": None if best is None else float(best.score),
            "run_id": tuner._watch.run_id, "class": type(tuner).__name__}


def snapshot(db: str, run_id: int) -> dict:
    store = Storage(db)
    run = store.get_run(run_id)
    trials = store.list_trials(run_id)
    out = {"status": run.status.value, "runs": len(store.list_runs()),
           "trials": {t.trial_key: [t.status.value, t.epochs_done] for t in trials}}
    store.close()
    return out


def main(db: str, workdir: str, report_path: str) -> None:
    keras.utils.set_random_seed(1)
    x_train, y_train, x_val, y_val = digits()
    fit = dict(validation_data=(x_val, y_val), verbose=0)
    report: dict = {}
    os.chdir(workdir)

    try:
        tuning.watch(object(), db=db)
    except TypeError as exc:
        report["not_a_tuner"] = str(exc)

    tuner = tuning.watch(kt.RandomSearch(
        build_model, objective="val_accuracy", max_trials=3, executions_per_trial=2, seed=1,
        directory="random_search_dir", project_name="random_search"), name="random", db=db)
    tuner.search(x_train, y_train, epochs=EPOCHS, **fit)
    report["random"] = summary(tuner)

    tuner = tuning.watch(kt.BayesianOptimization(
        build_model, objective="val_loss", max_trials=3, seed=1,
        directory="bayesian_optimization_dir", project_name="bayesian_optimization"),
        name="bayesian", db=db)
    tuner.search(x_train, y_train, epochs=EPOCHS, **fit)
    report["bayesian"] = summary(tuner)

    tuner = tuning.watch(kt.Hyperband(
        build_model, objective="val_accuracy", max_epochs=3, factor=3, seed=1,
        directory="hyperband_dir", project_name="hyperband"), name="hyperband", db=db)
    tuner.search(x_train, y_train, epochs=EPOCHS, **fit)
    report["hyperband"] = summary(tuner)

    hp = kt.HyperParameters()
    hp.Choice("units", [8, 16])
    hp.Fixed("act", "relu")
    hp.Fixed("lr", 0.005)
    tuner = tuning.watch(kt.GridSearch(
        build_model, objective="val_accuracy", hyperparameters=hp, seed=1,
        directory="grid_dir", project_name="grid"), name="grid", db=db)
    tuner.search(x_train, y_train, epochs=2, **fit)
    report["grid"] = summary(tuner)

    x_iris, y_iris = datasets.load_iris(return_X_y=True)
    tuner = tuning.watch(kt.SklearnTuner(
        oracle=kt.oracles.BayesianOptimizationOracle(
            objective=kt.Objective("score", "max"), max_trials=3, seed=1),
        hypermodel=build_estimator, scoring=metrics.make_scorer(metrics.accuracy_score),
        metrics=[metrics.accuracy_score], cv=model_selection.StratifiedKFold(3),
        directory="sklearn_tuner_dir", project_name="sklearn_tuner"), name="sklearn", db=db)
    tuner.oracle.verbose = 0
    tuner.search(x_iris, y_iris)
    report["sklearn"] = summary(tuner)

    tuner = tuning.watch(kt.RandomSearch(
        build_model, objective="val_accuracy", max_trials=3, seed=2,
        directory="stop_dir", project_name="stop"), name="stop me", db=db)
    returned = tuner.search(x_train, y_train, epochs=STOP_EPOCHS,
                            callbacks=[StopMidTrial(db, "stop me")], **fit)
    run_id = tuner._watch.run_id
    report["stop"] = {"returned": repr(returned), "after_stop": snapshot(db, run_id)}
    tuner.search(x_train, y_train, epochs=STOP_EPOCHS, **fit)
    report["stop"]["after_second_search"] = snapshot(db, run_id)
    report["stop"]["run_id"] = run_id
    # A new tuner (a rerun of the script) reloads the project and raises the budget.
    again = tuning.watch(kt.RandomSearch(
        build_model, objective="val_accuracy", max_trials=4, seed=2,
        directory="stop_dir", project_name="stop"), db=db)
    again.search(x_train, y_train, epochs=STOP_EPOCHS, **fit)
    report["stop"]["reloaded_run_id"] = again._watch.run_id
    report["stop"]["after_reload"] = snapshot(db, run_id)
    report["stop"]["summary"] = summary(again)

    Path(report_path).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main(*sys.argv[1:4])
