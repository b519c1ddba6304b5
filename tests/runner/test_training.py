"""training.lr_schedule: the cosine rate, its validation, the callback in a real fit, and a
run that trains with it. TensorFlow runs in subprocesses only."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from storage import RunStatus
from tests.support.runs import ROOT, run_spec
from tuning.runner.training import cosine_rate
from tuning.spec import SpecError, validate_spec


def test_cosine_rate_starts_at_the_base_halves_midway_and_ends_at_zero():
    assert cosine_rate(0.02, 0, 100) == pytest.approx(0.02)
    assert cosine_rate(0.02, 50, 100) == pytest.approx(0.01)
    assert cosine_rate(0.02, 100, 100) == pytest.approx(0.0, abs=1e-12)
    rates = [cosine_rate(1.0, s, 40) for s in range(41)]
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert cosine_rate(1.0, 500, 100) == 0.0  # past the end it stays at 0


def spec(schedule: str | None = None, strategy: str = "random") -> dict:
    training = {"epochs": 3, "batch_size": 64}
    if schedule is not None:
        training["lr_schedule"] = schedule
    return {"name": "schedule", "seed": 3,
            "data": {"source": "sklearn", "name": "iris", "validation_split": 0.25},
            "model": {"family": "mlp"},
            "search_space": {"units": {"type": "fixed", "value": 8},
                             "learning_rate": {"type": "fixed", "value": 0.05}},
            "strategy": {"name": strategy, "max_trials": 1}, "training": training}


def test_schedule_defaults_to_constant_and_rejects_unknown_names():
    assert validate_spec(spec())["training"]["lr_schedule"] == "constant"
    assert validate_spec(spec("cosine"))["training"]["lr_schedule"] == "cosine"
    with pytest.raises(SpecError) as err:
        validate_spec(spec("linear"))
    assert "training.lr_schedule must be one of constant, cosine; got 'linear'" in str(err.value)


def test_the_range_test_refuses_a_schedule():
    doc = spec("cosine", "lr_range_test")
    del doc["strategy"]["max_trials"]
    with pytest.raises(SpecError) as err:
        validate_spec(doc)
    assert "training.lr_schedule does not apply to lr_range_test" in str(err.value)


def test_scikit_learn_models_refuse_a_schedule():
    doc = spec("cosine")
    doc["model"] = {"family": "random_forest"}
    doc["search_space"] = {}
    doc["training"] = {"lr_schedule": "cosine"}
    with pytest.raises(SpecError) as err:
        validate_spec(doc)
    assert "training.lr_schedule applies to Keras models only" in str(err.value)


FIT = """
import json, keras, numpy as np
from tuning.runner.training import cosine_schedule
keras.utils.set_random_seed(0)
x = np.random.rand(100, 4).astype("float32"); y = (x.sum(1) > 2).astype("int32")
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.1), loss="sparse_categorical_crossentropy")
seen = []
class Spy(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        seen.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))
model.fit(x, y, epochs=4, batch_size=20, verbose=0, callbacks=[cosine_schedule(), Spy()])
after = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
print(json.dumps({"seen": seen, "after": after}))
"""


@pytest.mark.slow
def test_the_callback_anneals_every_batch_and_restores_the_rate():
    done = subprocess.run([sys.executable, "-c", FIT], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    seen = out["seen"]
    assert len(seen) == 20  # 4 epochs x 5 batches, one rate each
    assert seen[0] == pytest.approx(0.1)
    assert all(a > b for a, b in zip(seen, seen[1:]))
    assert seen[10] == pytest.approx(0.05, rel=1e-4)  # halfway through fit: half the rate
    assert seen[-1] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 19 / 20)), rel=1e-4)
    assert out["after"] == pytest.approx(0.1)  # the model keeps the trial's rate


@pytest.mark.slow
def test_a_run_with_the_cosine_schedule_trains_differently(tmp_path):
    losses = {}
    for schedule in ("constant", "cosine"):
        storage, run_id, result = run_spec(tmp_path, spec(schedule), f"{schedule}.db")
        assert result.returncode == 0, result.stderr[-3000:]
        assert storage.get_run(run_id).status is RunStatus.COMPLETED
        (trial,) = storage.list_trials(run_id)
        epochs = storage.list_epochs(run_id, trial.id)
        assert [e.epoch for e in epochs] == [0, 1, 2]
        losses[schedule] = [e.metrics["loss"] for e in epochs]
    # Same seed, same data: the first batches share a rate, the rest do not.
    assert losses["constant"][-1] != pytest.approx(losses["cosine"][-1], rel=1e-6)


@pytest.mark.slow
def test_the_rebuild_script_trains_with_the_runs_schedule_and_early_stopping(tmp_path):
    from tuning.insights import reports

    doc = spec("cosine")
    doc["training"]["early_stopping"] = {"monitor": "val_loss", "patience": 1}
    storage, run_id, result = run_spec(tmp_path, doc)
    assert result.returncode == 0, result.stderr[-3000:]
    run = storage.get_run(run_id)
    script = reports.rebuild_script(run, storage.list_trials(run_id))
    assert 'LR_SCHEDULE = \'cosine\'' in script
    assert "'patience': 1" in script
    (tmp_path / "rebuild.py").write_text(script)
    done = subprocess.run([sys.executable, "rebuild.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "validation accuracy" in done.stdout
    assert (tmp_path / "best_model.keras").is_file()


def test_a_range_tests_suggestion_becomes_one_annealed_training():
    from tuning.strategies.lr_finder import fixed_training_spec

    doc = spec()
    doc["strategy"] = {"name": "lr_range_test", "steps": 50}
    doc["search_space"]["units"] = {"type": "choice", "values": [8, 16], "default": 16}
    ranged = validate_spec(doc)
    one = validate_spec(fixed_training_spec(ranged, 0.012345))
    assert one["strategy"]["name"] == "grid" and one["strategy"]["max_trials"] == 1
    assert one["search_space"]["learning_rate"] == {"type": "fixed", "value": 0.0123}
    assert one["search_space"]["units"] == {"type": "fixed", "value": 16}  # as the test trained
    assert one["training"] == {**ranged["training"], "lr_schedule": "cosine"}
    assert one["data"] == ranged["data"] and one["seed"] == ranged["seed"]
    with pytest.raises(ValueError, match="suggested_lr must be a positive number"):
        fixed_training_spec(ranged, float("nan"))
