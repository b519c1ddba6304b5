"""Runs of the user's own model and of the CNN family through ``python -m tuning run``,
in real worker processes: every epoch recorded, the parameter count, the spec's fixed
entries obeyed, a build that raises failing its trial with the user's message, a
HyperModel whose fit tunes the batch size, the rebuild script run end to end.

Tiny models (a few units), 1-2 epochs, small data: TensorFlow is slow on two cores.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from storage import RunStatus, TrialStatus
from tests.support.runs import run_spec
from tuning.insights.reports import rebuild_script

MODULE = '''
import keras
import numpy as np


def build_model(hp):
    units = hp.Int("units", 2, 8, step=2)
    activation = hp.Choice("activation", ["relu", "tanh", "sigmoid"])
    if activation == "sigmoid":
        raise ValueError("sigmoid is not allowed here")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(units, activation=activation),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def load_data():
    rng = np.random.default_rng(0)
    x = rng.random((120, 6)).astype("float32")
    y = (x[:, 0] > 0.5).astype("int64")
    return {"x": x, "y": y}


class BatchTuned:
    pass
'''

HYPERMODEL = '''
import keras
import keras_tuner as kt


class Tiny(kt.HyperModel):
    def build(self, hp):
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(hp.Int("units", 2, 4)),
                                  keras.layers.Dense(2, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def fit(self, hp, model, *args, **kwargs):
        return model.fit(*args, batch_size=hp.Choice("batch_size", [8, 64]), **kwargs)
'''


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path))
    (tmp_path / "my_model.py").write_text(MODULE)
    (tmp_path / "tiny_hypermodel.py").write_text(HYPERMODEL)
    return tmp_path


def custom(user_dir: Path, strategy: dict, space: dict | None = None, epochs: int = 2,
           module: str = "my_model.py", build: str = "build_model") -> dict:
    spec = {"name": "custom", "seed": 3,
            "data": {"source": "python", "module": str(user_dir / "my_model.py")},
            "model": {"family": "custom", "module": str(user_dir / module), "build": build},
            "strategy": {"max_consecutive_failed_trials": 10, **strategy},
            "training": {"epochs": epochs, "batch_size": 16}}
    if space is not None:
        spec["search_space"] = space
    return spec


def test_random_search_of_a_custom_module_narrowed_every_epoch_and_failures(user_dir):
    spec = custom(user_dir, {"name": "random", "max_trials": 6},
                  space={"units": {"type": "fixed", "value": 4}})
    storage, run_id, result = run_spec(user_dir, spec)
    assert result.returncode == 0, result.stderr
    trials = storage.list_trials(run_id)
    done = [t for t in trials if t.status is TrialStatus.COMPLETED]
    failed = [t for t in trials if t.status is TrialStatus.FAILED]
    assert done and all(t.hyperparameters["units"] == 4 for t in trials)  # fixed by the spec
    assert all(t.metrics["param_count"] == 6 * 4 + 4 + 4 * 2 + 2 for t in done)
    epochs = storage.list_epochs(run_id)
    for t in done:
        assert [e.epoch for e in epochs if e.trial_id == t.id] == [0, 1]
    # Every sigmoid trial failed with the user's own file, line and message.
    assert all(t.hyperparameters["activation"] == "sigmoid" for t in failed)
    for t in failed:
        assert "my_model.py, line 10, in build_model: ValueError: sigmoid is not allowed " \
               "here" in t.message, t.message
    assert (user_dir / "t-runs" / f"run-{run_id}" / "best_model.keras").is_file()

    # The rebuild script imports the module and trains the best trial's model again.
    run = storage.get_run(run_id)
    script = user_dir / "rebuild.py"
    script.write_text(rebuild_script(run, trials))
    out = user_dir / "out"
    out.mkdir()
    rebuilt = subprocess.run([sys.executable, str(script)], cwd=out, capture_output=True,
                             text=True, timeout=300)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert "saved best_model.keras" in rebuilt.stdout and (out / "best_model.keras").is_file()
    best = max(done, key=lambda t: t.score)
    last = [e for e in epochs if e.trial_id == best.id][-1].metrics["val_accuracy"]
    reported = float(rebuilt.stdout.split("validation accuracy: ")[1].split()[0])
    assert reported == pytest.approx(last, abs=1e-3)  # same data, values and seed


def test_hyperband_of_a_custom_module_records_every_epoch(user_dir):
    spec = custom(user_dir, {"name": "hyperband", "max_epochs": 3, "factor": 3},
                  space={"activation": {"type": "choice", "values": ["relu", "tanh"]}})
    storage, run_id, result = run_spec(user_dir, spec)
    assert result.returncode == 0, result.stderr
    assert storage.get_run(run_id).status is RunStatus.COMPLETED
    trials = storage.list_trials(run_id)
    epochs = storage.list_epochs(run_id)
    assert any(t.parent_key for t in trials)  # promoted trials continue their parents
    for t in trials:
        assert t.status is TrialStatus.COMPLETED, t.message
        values = t.hyperparameters
        planned = values["tuner/epochs"] - values["tuner/initial_epoch"]
        mine = sorted(e.epoch for e in epochs if e.trial_id == t.id)
        assert mine == list(range(values["tuner/initial_epoch"], values["tuner/epochs"])), \
            (planned, mine)


def test_a_hypermodel_whose_fit_tunes_the_batch_size(user_dir):
    spec = custom(user_dir, {"name": "grid"}, epochs=1, module="tiny_hypermodel.py",
                  build="Tiny", space={"units": {"type": "fixed", "value": 2},
                                       "batch_size": {"type": "choice", "values": [8, 64]}})
    storage, run_id, result = run_spec(user_dir, spec)
    assert result.returncode == 0, result.stderr
    trials = storage.list_trials(run_id)
    assert sorted(t.hyperparameters["batch_size"] for t in trials) == [8, 64]
    assert all(t.status is TrialStatus.COMPLETED for t in trials)


def test_entries_registered_after_the_trial_began_are_in_its_record(user_dir):
    """The HyperModel's fit registers ``batch_size`` while the trial runs (the spec does
    not name it): the stored trial carries it, with the value the trial used."""
    spec = custom(user_dir, {"name": "random", "max_trials": 1}, epochs=1,
                  module="tiny_hypermodel.py", build="Tiny",
                  space={"units": {"type": "fixed", "value": 2}})
    storage, run_id, result = run_spec(user_dir, spec)
    assert result.returncode == 0, result.stderr
    (trial,) = storage.list_trials(run_id)
    assert trial.status is TrialStatus.COMPLETED, trial.message
    assert trial.hyperparameters["batch_size"] in (8, 64)
    assert trial.hyperparameters["units"] == 2


def test_a_model_that_cannot_be_built_fails_the_run_with_the_users_message(user_dir):
    spec = custom(user_dir, {"name": "random", "max_trials": 2}, build="BatchTuned")
    storage, run_id, result = run_spec(user_dir, spec)
    run = storage.get_run(run_id)
    assert run.status is RunStatus.FAILED
    assert "my_model.py: BatchTuned is a class but not a subclass of keras_tuner.HyperModel" \
        in run.error, run.error


def test_cnn_family_on_digits(tmp_path):
    spec = {"name": "cnn", "seed": 1, "data": {"source": "sklearn", "name": "digits",
                                              "max_rows": 400},
            "model": {"family": "cnn"},
            "search_space": {"conv_blocks": {"type": "int", "min": 1, "max": 2},
                             "filters": {"type": "choice", "values": [4, 8]},
                             "batch_norm": {"type": "bool"},
                             "dense_units": {"type": "fixed", "value": 16},
                             "learning_rate": {"type": "fixed", "value": 0.01}},
            "strategy": {"name": "random", "max_trials": 2}, "training": {"epochs": 3}}
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr
    trials = storage.list_trials(run_id)
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    assert all(t.metrics["param_count"] > 0 for t in trials)
    assert max(t.score for t in trials) > 0.3  # 10 classes: well above chance (0.1)


def test_cnn_on_an_image_folder_read_by_keras(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path))
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls, base in (("dark", 40), ("light", 200)):
        (tmp_path / "shades" / cls).mkdir(parents=True)
        for i in range(12):
            pixels = np.clip(base + rng.normal(0, 20, (10, 10, 3)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / "shades" / cls / f"{i}.png")
    spec = {"name": "shades", "data": {"source": "images", "path": str(tmp_path / "shades"),
                                      "image_size": [8, 8]},
            "model": {"family": "cnn"},
            "search_space": {"filters": {"type": "fixed", "value": 4},
                             "conv_blocks": {"type": "fixed", "value": 1}},
            "strategy": {"name": "random", "max_trials": 1}, "training": {"epochs": 1}}
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr
    (trial,) = storage.list_trials(run_id)
    assert trial.status is TrialStatus.COMPLETED, trial.message
    # The folders' names are the classes: stored with the run, shown in its reports.
    run = storage.get_run(run_id)
    summary = run.data_summary
    assert summary["class_names"] == ("dark", "light") and summary["input_shape"] == (8, 8, 3)
    assert summary["train_rows"] + summary["val_rows"] == 24
    assert sum(summary["train_class_counts"]) == summary["train_rows"]
    from tuning.insights.reports import html_report, markdown_summary

    counts = summary["train_class_counts"]
    assert f"- **Classes:** 2: dark ({counts[0]}), light ({counts[1]})" in markdown_summary(
        run, [trial], [])
    assert "<dt>One sample</dt><dd>8 × 8 × 3</dd>" in html_report(run, [trial], [])

