"""The deep-learning tools end to end: each runs through the CLI in a worker process and
records its trials, epochs and files like any run."""
from __future__ import annotations

import json

import pytest

from storage import RunStatus, TrialStatus
from tests.support.runs import run_spec
from tuning.paths import run_dir
from tuning.spec import validate_spec
from tuning.spec.architecture import count_parameters, layer_widths
from tuning.strategies.lr_finder import follow_up_spec

pytestmark = pytest.mark.slow

DIGITS = {"source": "sklearn", "name": "digits", "validation_split": 0.2}


def digits_spec(strategy: dict, space: dict | None = None, **training) -> dict:
    return {"name": f"digits {strategy['name']}", "seed": 3, "data": dict(DIGITS),
            "model": {"family": "mlp"},
            "search_space": space or {"num_layers": {"type": "fixed", "value": 2},
                                      "units": {"type": "fixed", "value": 32}},
            "strategy": strategy, "training": {"epochs": 2, "batch_size": 32, **training}}


def completed(storage, run_id: int, result) -> list:
    run = storage.get_run(run_id)
    assert result.returncode == 0, result.stderr[-3000:]
    assert run.status is RunStatus.COMPLETED, (run.error, result.stderr[-3000:])
    return storage.list_trials(run_id)


def test_range_test_finds_where_a_real_model_diverges(tmp_path):
    spec = digits_spec({"name": "lr_range_test", "steps": 100})
    storage, run_id, result = run_spec(tmp_path, spec)
    (trial,) = completed(storage, run_id, result)
    epochs = storage.list_epochs(run_id)
    lrs = [e.metrics["lr"] for e in epochs]
    assert lrs == sorted(lrs) and lrs[0] == pytest.approx(1e-6)
    assert all({"lr", "loss", "smoothed_loss"} <= set(e.metrics) for e in epochs)
    metrics = trial.metrics
    # Adam on digits: the loss turns between 1e-2 and 0.3
    assert 1e-2 <= metrics["diverge_lr"] <= 0.3
    assert metrics["suggested_lr"] == pytest.approx(metrics["diverge_lr"] / 2)
    assert "starts to diverge" in trial.message
    assert trial.score is None and trial.hyperparameters["steps"] == 100
    follow = validate_spec(follow_up_spec(storage.get_run(run_id).spec,
                                          metrics["suggested_lr"]))
    assert follow["search_space"]["learning_rate"]["min"] < metrics["suggested_lr"]


def test_batch_size_study_records_time_per_epoch(tmp_path):
    spec = digits_spec({"name": "batch_size_study", "batch_sizes": [16, 128],
                        "scale_learning_rate": True, "base_batch_size": 32},
                       {"units": {"type": "fixed", "value": 32},
                        "learning_rate": {"type": "fixed", "value": 0.002}}, epochs=3)
    storage, run_id, result = run_spec(tmp_path, spec)
    trials = completed(storage, run_id, result)
    assert [(t.hyperparameters["batch_size"], t.hyperparameters["learning_rate"])
            for t in trials] == [(16, pytest.approx(0.001)), (128, pytest.approx(0.008))]
    for t in trials:
        epochs = storage.list_epochs(run_id, t.id)
        assert len(epochs) == 3 and all(e.metrics["epoch_time_s"] > 0 for e in epochs)
        steady = [e.metrics["epoch_time_s"] for e in epochs][1:]
        assert t.metrics["mean_epoch_time_s"] == pytest.approx(sum(steady) / len(steady))
        assert t.metrics["final_score"] == pytest.approx(epochs[-1].metrics["val_accuracy"])
        assert t.score == pytest.approx(max(e.metrics["val_accuracy"] for e in epochs))


def test_transfer_freezes_exactly_the_layers_asked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path))  # the saved source model's folder
    spec = digits_spec({"name": "transfer_learning", "frozen_layers": [0, 1, 2],
                        "source": {"classes": [0, 1, 2, 3, 4], "epochs": 3},
                        "target_rows": 200})
    storage, run_id, result = run_spec(tmp_path, spec)
    trials = {t.trial_key: t for t in completed(storage, run_id, result)}
    assert set(trials) == {"frozen-0-lr-0.001", "frozen-1-lr-0.001", "frozen-2-lr-0.001",
                           "scratch"}
    # 64 features -> 32 -> 32 -> 5 target classes (digits 5-9)
    first, second, head = 64 * 32 + 32, 32 * 32 + 32, 32 * 5 + 5
    expected = {"frozen-0-lr-0.001": (first + second + head, 0),
                "frozen-1-lr-0.001": (second + head, first),
                "frozen-2-lr-0.001": (head, first + second),
                "scratch": (first + second + head, 0)}
    for key, (trainable, frozen) in expected.items():
        m = trials[key].metrics
        assert (m["trainable_params"], m["non_trainable_params"]) == (trainable, frozen), key
        assert m["target_train_rows"] == 200 and m["source_val_accuracy"] > 0.8
    assert trials["scratch"].hyperparameters["init"] == "scratch"
    source = run_dir(storage.path, run_id) / "source_model.keras"
    assert source.is_file()

    # the saved source model, loaded from its file with safe mode on, serves another run
    again = digits_spec({"name": "transfer_learning", "frozen_layers": [1],
                         "source": {"path": str(source)}, "baseline": False}, epochs=1)
    storage2, run2, result2 = run_spec(tmp_path, again, "again.db")
    (trial,) = completed(storage2, run2, result2)
    # the whole data set now: a head for 10 classes on the 5-class body
    assert trial.metrics["trainable_params"] == second + 32 * 10 + 10
    assert trial.metrics["non_trainable_params"] == first


def test_mlp_trials_record_their_parameter_count(tmp_path):
    space = {"num_layers": {"type": "fixed", "value": 3},
             "units": {"type": "choice", "values": [16, 64]},
             "shape": {"type": "fixed", "value": "funnel"}}
    spec = digits_spec({"name": "grid"}, space, epochs=1)
    storage, run_id, result = run_spec(tmp_path, spec)
    trials = completed(storage, run_id, result)
    counts = {t.hyperparameters["units"]: t.metrics["param_count"] for t in trials}
    assert counts == {u: count_parameters(layer_widths(
        {"num_layers": 3, "units": u, "shape": "funnel"}), 64, 10) for u in (16, 64)}


def test_lora_with_a_tiny_backbone_tunes_the_rank(tmp_path):
    spec = {"name": "tiny lora", "seed": 5, "data": dict(DIGITS), "model": {"family": "mlp"},
            "search_space": {"learning_rate": {"type": "fixed", "value": 0.01}},
            "strategy": {"name": "lora", "ranks": [2, 8], "sequence_length": 32,
                         "sample_length": 12},
            "objective": {"metric": "val_loss", "direction": "min"},
            "training": {"epochs": 1, "batch_size": 16}}
    storage, run_id, result = run_spec(tmp_path, spec)
    trials = completed(storage, run_id, result)
    assert [t.hyperparameters["rank"] for t in trials] == [2, 8]
    assert all(t.status is TrialStatus.COMPLETED for t in trials)
    low, high = (t.metrics for t in trials)
    assert 0 < low["trainable_params"] < high["trainable_params"]
    # adapters on query and value of 2 layers, (hidden + heads * head_dim) * rank each
    assert high["trainable_params"] == 4 * low["trainable_params"]
    assert low["non_trainable_params"] == high["non_trainable_params"] > 0
    assert all(t.metrics["sample"].startswith("The") for t in trials)
    folder = run_dir(storage.path, run_id)
    best = json.loads((folder / "best_lora.json").read_text())
    winner = min(trials, key=lambda t: t.score)
    assert best["rank"] == winner.hyperparameters["rank"]
    assert (folder / "best.lora.h5").stat().st_size > 0


PRESET_SCRIPT = """
import sys
import keras_hub
from tuning.strategies.lora import TINY_BACKBONE, train_vocabulary
text = open("examples/data/corpus.txt", encoding="utf-8").read()
tokenizer = keras_hub.models.GemmaTokenizer(proto=train_vocabulary(text, 256))
lm = keras_hub.models.GemmaCausalLM(
    backbone=keras_hub.models.GemmaBackbone(**TINY_BACKBONE),
    preprocessor=keras_hub.models.GemmaCausalLMPreprocessor(tokenizer, sequence_length=32))
lm.save_to_preset(sys.argv[1])
"""


def test_lora_loads_a_users_preset_from_a_local_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("TUNING_DATA_DIRS", str(tmp_path))  # the preset's folder
    import subprocess
    import sys

    from tests.support.runs import ROOT

    preset = tmp_path / "my_preset"
    made = subprocess.run([sys.executable, "-c", PRESET_SCRIPT, str(preset)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr[-2000:]
    spec = {"name": "preset lora", "seed": 5, "data": dict(DIGITS), "model": {"family": "mlp"},
            "search_space": {"learning_rate": {"type": "fixed", "value": 0.01}},
            "strategy": {"name": "lora", "ranks": [4], "preset_path": str(preset),
                         "sample_length": 8},
            "objective": {"metric": "val_loss", "direction": "min"},
            "training": {"epochs": 1, "batch_size": 16}}
    storage, run_id, result = run_spec(tmp_path, spec)
    (trial,) = completed(storage, run_id, result)
    assert trial.metrics["trainable_params"] == 1024  # 2 layers x (80 + 48) x rank 4
    folder = run_dir(storage.path, run_id)
    assert json.loads((folder / "best_lora.json").read_text())["base"] == str(preset)
    assert not (folder / "tiny_base.weights.h5").exists()


def test_batch_size_study_averages_its_executions_as_keras_tuner_does(tmp_path):
    spec = digits_spec({"name": "batch_size_study", "batch_sizes": [32, 128],
                        "executions_per_trial": 2})
    storage, run_id, result = run_spec(tmp_path, spec)
    trials = completed(storage, run_id, result)
    assert len(trials) == 2
    for t in trials:
        runs: dict[int, list] = {}
        for e in storage.list_epochs(run_id, t.id):
            runs.setdefault(e.execution, []).append(e.metrics)
        assert sorted(runs) == [0, 1] and all(len(c) == 2 for c in runs.values())
        assert runs[0][0]["loss"] != runs[1][0]["loss"]  # seed + execution: another draw
        # the score: the mean over executions of each execution's best epoch
        best = [max(e["val_accuracy"] for e in curve) for curve in runs.values()]
        assert t.score == pytest.approx(sum(best) / 2)
        steady = [curve[1]["epoch_time_s"] for curve in runs.values()]
        assert t.metrics["mean_epoch_time_s"] == pytest.approx(sum(steady) / 2)
        assert t.metrics["epochs_trained"] == 4


def test_tool_fits_use_the_training_callbacks(tmp_path):
    # min_delta 10: no epoch after the first improves val_loss by that much
    spec = digits_spec({"name": "batch_size_study", "batch_sizes": [64]}, epochs=5,
                       early_stopping={"monitor": "val_loss", "patience": 1, "min_delta": 10},
                       lr_schedule="cosine")
    storage, run_id, result = run_spec(tmp_path, spec)
    (trial,) = completed(storage, run_id, result)
    assert trial.metrics["epochs_trained"] == 2
    assert any(f.startswith("early stopped: trained 2 of 5 epochs") for f in trial.flags)


def test_a_tool_trial_past_its_time_limit_fails_and_the_next_one_runs(tmp_path):
    spec = digits_spec({"name": "batch_size_study", "batch_sizes": [16, 32]}, epochs=500)
    spec["trial_time_limit_s"] = 2
    storage, run_id, result = run_spec(tmp_path, spec)
    trials = storage.list_trials(run_id)
    assert len(trials) == 2  # the run carried on after the first trial failed
    for t in trials:
        assert t.status is TrialStatus.FAILED and t.epochs_done < 500
        assert t.message.startswith("ran past the per-trial time limit of 2 s (")
        assert t.message.endswith("raise trial_time_limit_s or shrink the model")
    run = storage.get_run(run_id)
    assert run.status is RunStatus.FAILED, result.stderr[-3000:]  # as the engine: none completed
    assert run.error.startswith("RuntimeError: no trial completed; last error: ran past")


def test_a_tool_run_ends_completed_when_its_time_limit_is_reached(tmp_path):
    spec = digits_spec({"name": "batch_size_study", "batch_sizes": [16, 32, 64]}, epochs=500)
    spec["time_limit_s"] = 3
    storage, run_id, result = run_spec(tmp_path, spec)
    assert result.returncode == 0, result.stderr[-3000:]
    run = storage.get_run(run_id)
    assert run.status is RunStatus.COMPLETED
    assert run.error.startswith("time limit of 3 s reached after ")
    (trial,) = storage.list_trials(run_id)  # no trial started after the limit
    assert trial.status is TrialStatus.STOPPED and trial.score is None
    assert 0 < trial.epochs_done < 500
    assert trial.message.endswith("this trial was ended early and is not scored")
