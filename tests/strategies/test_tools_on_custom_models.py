"""The learning-rate range test and the batch-size study on the user's own model and on
the CNN, in real worker processes; and the refusal of a model whose optimizer's rate
cannot be set (in the worker, and at validation from the discovery process).

Tiny models, tiny data, a dozen steps or one epoch: TensorFlow is slow on two cores.
"""
from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

import pytest

from storage import RunStatus, TrialStatus
from tests.support.runs import run_spec

MODULE = '''
import keras
import numpy as np


def build_model(hp):
    units = hp.Int("units", 2, 8, step=2)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(units, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-2, sampling="log")),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def build_scheduled(hp):
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2, activation="softmax")])
    rate = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=10, decay_rate=0.9)
    model.compile(optimizer=keras.optimizers.SGD(rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def load_data():
    rng = np.random.default_rng(0)
    x = rng.random((120, 6)).astype("float32")
    y = (x[:, 0] > 0.5).astype("int64")
    return {"x": x, "y": y}
'''


@pytest.fixture
def user_dir(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path))
    (tmp_path / "my_model.py").write_text(MODULE)
    return tmp_path


def custom(user_dir: Path, strategy: dict, space: dict | None = None,
           build: str = "build_model", epochs: int = 1) -> dict:
    spec = {"name": "custom tool", "seed": 3,
            "data": {"source": "python", "module": str(user_dir / "my_model.py")},
            "model": {"family": "custom", "module": str(user_dir / "my_model.py"),
                      "build": build},
            "strategy": strategy, "training": {"epochs": epochs, "batch_size": 16}}
    if space is not None:
        spec["search_space"] = space
    return spec


def test_range_test_sweeps_the_rate_of_a_custom_models_optimizer(user_dir):
    spec = custom(user_dir, {"name": "lr_range_test", "min_lr": 1e-4, "max_lr": 1.0,
                             "steps": 12}, space={"units": {"type": "fixed", "value": 4}})
    storage, run_id, result = run_spec(user_dir, spec)
    assert result.returncode == 0, result.stderr
    (trial,) = storage.list_trials(run_id)
    assert trial.status is TrialStatus.COMPLETED, trial.message
    assert trial.hyperparameters["units"] == 4 and "lr" not in trial.hyperparameters
    rows = [e for e in storage.list_epochs(run_id) if e.trial_id == trial.id]
    assert [e.epoch for e in rows] == list(range(trial.metrics["steps_run"]))
    assert len(rows) >= 10  # 12 steps, unless the loss diverged first
    lrs = [e.metrics["lr"] for e in rows]
    assert lrs[0] == pytest.approx(1e-4) and all(b > a for a, b in zip(lrs, lrs[1:]))
    assert all(math.isfinite(e.metrics["loss"]) for e in rows)


def test_batch_size_study_fits_a_custom_model_at_each_size(user_dir):
    spec = custom(user_dir, {"name": "batch_size_study", "batch_sizes": [8, 32],
                             "scale_learning_rate": True, "base_batch_size": 8},
                  space={"units": {"type": "fixed", "value": 2},
                         "learning_rate": {"type": "fixed", "value": 0.002}}, epochs=2)
    storage, run_id, result = run_spec(user_dir, spec)
    assert result.returncode == 0, result.stderr
    trials = sorted(storage.list_trials(run_id), key=lambda t: t.hyperparameters["batch_size"])
    assert [t.hyperparameters["batch_size"] for t in trials] == [8, 32]
    assert [t.hyperparameters["learning_rate"] for t in trials] == pytest.approx([0.002, 0.008])
    epochs = storage.list_epochs(run_id)
    for t in trials:
        assert t.status is TrialStatus.COMPLETED, t.message
        assert t.metrics["param_count"] == 6 * 2 + 2 + 2 * 2 + 2  # units fixed by the spec
        assert [e.epoch for e in epochs if e.trial_id == t.id] == [0, 1]
        assert t.metrics["mean_epoch_time_s"] > 0 and t.score is not None


def test_range_test_refuses_a_rate_schedule_naming_the_builder(user_dir):
    spec = custom(user_dir, {"name": "lr_range_test", "steps": 10}, build="build_scheduled")
    storage, run_id, result = run_spec(user_dir, spec)
    run = storage.get_run(run_id)
    assert run.status is RunStatus.FAILED
    assert "the optimizer SGD that build_scheduled in " in run.error, run.error
    assert "has no settable learning rate" in run.error
    assert not storage.list_epochs(run_id)  # refused before any step


def test_validation_refuses_a_rate_schedule_from_the_discovery_report(user_dir):
    from tuning.spec import SpecError, validate_spec
    from tuning.spec.discovery import check_user_model

    spec = validate_spec(custom(user_dir, {"name": "lr_range_test", "steps": 10},
                                build="build_scheduled"))
    with pytest.raises(SpecError) as err:
        check_user_model(spec)
    (problem,) = err.value.problems
    assert problem.field == "model.build"
    assert "optimizer SGD that build_scheduled compiles has no settable learning rate" \
        in problem.message
    # A search of the same model is refused only if its space sets the rate.
    spec = validate_spec(custom(user_dir, {"name": "random", "max_trials": 1},
                                build="build_scheduled"))
    found, _ = check_user_model(spec)
    assert found.optimizer == "SGD" and found.learning_rate is None
    spec = validate_spec(custom(user_dir, {"name": "random", "max_trials": 1},
                                space={"learning_rate": {"type": "fixed", "value": 0.01}},
                                build="build_scheduled"))
    with pytest.raises(SpecError) as err:
        check_user_model(spec)
    assert "search_space.learning_rate is set on the compiled optimizer, but the optimizer " \
        "SGD" in err.value.problems[0].message


def test_a_searched_learning_rate_is_set_on_a_custom_models_optimizer(user_dir):
    spec = custom(user_dir, {"name": "grid"},
                  space={"units": {"type": "fixed", "value": 2},
                         "learning_rate": {"type": "fixed", "value": 0.0375}})
    storage, run_id, result = run_spec(user_dir, spec)
    assert result.returncode == 0, result.stderr
    # The saved model's compile config, read without importing Keras here (other tests of
    # this process check that the dashboard's side never imports it).
    with zipfile.ZipFile(user_dir / "t-runs" / f"run-{run_id}" / "best_model.keras") as saved:
        config = json.loads(saved.read("config.json"))
    optimizer = config["compile_config"]["optimizer"]["config"]
    # The module compiles Adam at its own "lr" (0.001 to 0.01); the spec's rate wins.
    assert float(optimizer["learning_rate"]) == pytest.approx(0.0375)
    # The rebuild script sets it too.
    from tuning.insights.reports import rebuild_script

    script = rebuild_script(storage.get_run(run_id), storage.list_trials(run_id))
    assert "SET_LEARNING_RATE = 0.0375" in script


def test_validation_of_the_tools_for_a_custom_model(user_dir):
    from tuning.spec import SpecError, validate_spec

    base = {"data": {"source": "sklearn", "name": "iris"},
            "model": {"family": "custom", "module": str(user_dir / "my_model.py")}}
    validate_spec({**base, "strategy": {"name": "lr_range_test"}})
    validate_spec({**base, "strategy": {"name": "batch_size_study", "batch_sizes": [8, 16]}})
    with pytest.raises(SpecError) as err:
        validate_spec({**base, "strategy": {"name": "batch_size_study",
                                            "scale_learning_rate": True}})
    assert [p.field for p in err.value.problems] == ["strategy.scale_learning_rate"]
    assert "add search_space.learning_rate" in err.value.problems[0].message
    with pytest.raises(SpecError) as err:
        validate_spec({**base, "strategy": {"name": "transfer_learning"}})
    assert "strategy.name" in [p.field for p in err.value.problems]


def test_range_test_on_the_cnn(tmp_path):
    spec = {"name": "cnn range", "seed": 1,
            "data": {"source": "sklearn", "name": "digits", "max_rows": 200},
            "model": {"family": "cnn"},
            "search_space": {"conv_blocks": {"type": "fixed", "value": 1},
                             "filters": {"type": "fixed", "value": 4},
                             "dense_units": {"type": "fixed", "value": 8}},
            "strategy": {"name": "lr_range_test", "steps": 10}}
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr
    (trial,) = storage.list_trials(run_id)
    assert trial.status is TrialStatus.COMPLETED, trial.message
    assert len(storage.list_epochs(run_id)) == trial.metrics["steps_run"] >= 5
