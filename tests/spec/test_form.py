"""The launch form's state and the spec, both ways, without Streamlit."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tuning import catalog, strategies
from tuning.spec import validate_spec
from tuning.spec.form import (
    FORM_DEFAULTS,
    OPTION_KEYS,
    FormDraft,
    default_name,
    form_from_spec,
    fresh_state,
    number_options,
    offers_early_stopping,
    offers_lr_schedule,
    offers_pruning,
    offers_workers,
    sets_own_epochs,
    spec_from_form,
    takes_combine,
    takes_stage_order,
    takes_tool_options,
)
from tuning.spec.space_table import space_to_rows

TOOLS = [s.name for s in strategies.REGISTRY.values() if s.is_tool]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))


def example_spec(path: Path) -> dict[str, Any]:
    """An example, normalised; its CSV path made absolute as the page's uploads are."""
    doc = json.loads(path.read_text())
    if doc["data"].get("path"):
        doc["data"]["path"] = str(path.parent / doc["data"]["path"].removeprefix("examples/"))
    return validate_spec(doc)


def form(**values: Any) -> dict[str, Any]:
    """A fresh form with ``values`` set: iris, svm, random search unless told otherwise."""
    state = fresh_state()
    state.update({"f_sk_name": "iris", "f_family": "svm", "f_strategy": "random",
                  "f_metric": "accuracy",
                  "space_rows": space_to_rows(catalog.default_space("svm"))})
    state.update(values)
    return state


def keras_form(**values: Any) -> dict[str, Any]:
    return form(**{"f_sk_name": "digits", "f_family": "mlp", "f_metric": "val_accuracy",
                   "space_rows": space_to_rows(catalog.default_space("mlp")), **values})


def doc_of(state: dict[str, Any]) -> dict[str, Any]:
    draft = spec_from_form(state)
    assert draft.problems == []
    return draft.doc


# -- the round trip ------------------------------------------------------------------


def test_examples_are_found():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_spec_survives_the_form_both_ways(example):
    spec = example_spec(example)
    state = form_from_spec(spec)
    assert set(state) == set(FORM_DEFAULTS)
    draft = spec_from_form(state)
    assert draft.problems == []
    assert validate_spec(draft.doc) == spec


def test_the_state_of_a_spec_survives_the_trip_too():
    state = form_from_spec(example_spec(ROOT / "examples" / "digits_mlp_random_pruned.json"))
    assert form_from_spec(validate_spec(spec_from_form(state).doc)) == state


def test_a_fresh_form_with_its_selections_made_is_a_valid_spec():
    spec = validate_spec(doc_of(form()))
    assert spec["name"] == "iris · svm · random"
    assert spec["strategy"]["max_trials"] == 10 and spec["strategy"]["cv_folds"] == 3
    assert set(spec["search_space"]) == {"C", "gamma", "kernel"}


# -- the form's own problems ---------------------------------------------------------


def test_the_tables_problems_come_with_the_draft():
    draft = spec_from_form(form(space_rows=[{"name": "", "type": "int", "min": 1}]))
    assert [p.message for p in draft.problems] == ["row 1 needs a name"]


# -- strategy options ----------------------------------------------------------------


def test_hyperband_reads_its_own_options_and_never_max_trials():
    strategy = doc_of(keras_form(f_strategy="hyperband", f_max_trials=7, f_max_epochs=9,
                                 f_factor=4, f_hb_iterations=2))["strategy"]
    assert {k: strategy[k] for k in ("max_epochs", "factor", "hyperband_iterations")} == {
        "max_epochs": 9, "factor": 4, "hyperband_iterations": 2}
    assert "max_trials" not in strategy


def test_grid_without_max_trials_tries_every_combination():
    state = form(f_strategy="grid")
    del state["f_max_trials"]  # the widget starts empty for grid
    assert "max_trials" not in doc_of(state)["strategy"]
    state["f_strategy"] = "random"
    assert doc_of(state)["strategy"]["max_trials"] == 10


def test_bayesian_leaves_out_an_empty_initial_points_and_keeps_alpha_beta():
    strategy = doc_of(form(f_strategy="bayesian", f_alpha=0.01, f_beta=3.0))["strategy"]
    assert "num_initial_points" not in strategy
    assert strategy["alpha"] == 0.01 and strategy["beta"] == 3.0
    strategy = doc_of(form(f_strategy="bayesian", f_num_initial=4))["strategy"]
    assert strategy["num_initial_points"] == 4


def test_cv_folds_only_for_scikit_learn_models():
    assert doc_of(form(f_cv_folds=5))["strategy"]["cv_folds"] == 5
    assert "cv_folds" not in doc_of(keras_form(f_cv_folds=5))["strategy"]


def test_failure_handling_is_read_for_every_strategy():
    for name in ("random", "batch_size_study"):
        strategy = doc_of(keras_form(f_strategy=name, f_max_failures=7, f_recycle=2))["strategy"]
        assert strategy["max_consecutive_failed_trials"] == 7 and strategy["recycle_every"] == 2


def test_sequential_takes_its_order_and_random_sampling_its_combine():
    assert doc_of(form(f_strategy="sequential", f_order=["C"]))["strategy"]["order"] == ["C"]
    assert "order" not in doc_of(form(f_order=["C"]))["strategy"]
    assert doc_of(form(f_strategy="random_sampling", f_combine=True))["strategy"]["combine"]
    assert "combine" not in doc_of(form(f_combine=True))["strategy"]


def test_a_tools_options_are_a_json_object_merged_into_the_strategy():
    strategy = doc_of(keras_form(f_strategy="batch_size_study",
                                 f_tool_options='{"batch_sizes": [16], "name": "x"}'))["strategy"]
    assert strategy["name"] == "batch_size_study" and strategy["batch_sizes"] == [16]
    for raw in ("[1, 2", "[1, 2]", "3"):
        draft = spec_from_form(keras_form(f_strategy="batch_size_study", f_tool_options=raw))
        assert [p.field for p in draft.problems] == ["strategy"], raw
        assert "JSON object" in draft.problems[0].message
    assert "batch_sizes" not in doc_of(keras_form(f_tool_options='{"batch_sizes": [16]}'))[
        "strategy"]


def test_a_tools_state_holds_only_its_own_fields_as_json():
    spec = example_spec(ROOT / "examples" / "digits_batch_size_study.json")
    options = json.loads(form_from_spec(spec)["f_tool_options"])
    assert set(options) <= set(strategies.get("batch_size_study").fields)
    assert options["batch_sizes"] == spec["strategy"]["batch_sizes"]


# -- pruning and workers -------------------------------------------------------------


def test_pruning_is_read_when_checked_and_offered():
    strategy = doc_of(keras_form(f_pruning=True, f_prune_warmup=1, f_prune_min_trials=4))[
        "strategy"]
    assert strategy["pruning"] == {"warmup_epochs": 1, "min_trials": 4}
    assert "pruning" not in doc_of(keras_form())["strategy"]
    # A checkbox left checked under a strategy or model that cannot prune is not read.
    assert "pruning" not in doc_of(keras_form(f_strategy="hyperband", f_pruning=True))["strategy"]
    assert "pruning" not in doc_of(form(f_pruning=True))["strategy"]


def test_workers_and_a_chief_host_other_than_loopback():
    strategy = doc_of(keras_form(f_workers=3, f_chief_host=" 10.0.0.5 "))["strategy"]
    assert strategy["workers"] == 3 and strategy["chief_host"] == "10.0.0.5"
    strategy = doc_of(keras_form(f_workers=2))["strategy"]
    assert "chief_host" not in strategy
    tool = doc_of(keras_form(f_strategy="lr_range_test", f_workers=2))["strategy"]
    assert "workers" not in tool and "chief_host" not in tool


def test_a_spec_with_workers_loads_them_into_the_form():
    state = form_from_spec(example_spec(ROOT / "examples" / "digits_mlp_random_2_workers.json"))
    assert state["f_workers"] == 2 and state["f_chief_host"] == "127.0.0.1"


# -- training ------------------------------------------------------------------------


def test_keras_training_takes_epochs_batch_size_and_a_schedule():
    training = doc_of(keras_form(f_epochs=4, f_batch_size=16, f_lr_schedule="cosine"))["training"]
    assert training == {"epochs": 4, "batch_size": 16, "lr_schedule": "cosine"}
    assert "lr_schedule" not in doc_of(keras_form())["training"]  # constant is the default


def test_scikit_learn_models_have_no_training_section():
    assert "training" not in doc_of(form(f_epochs=9, f_early=True, f_lr_schedule="cosine"))


def test_hyperband_sets_epochs_and_the_range_test_its_rate():
    assert "epochs" not in doc_of(keras_form(f_strategy="hyperband", f_epochs=9))["training"]
    training = doc_of(keras_form(f_strategy="lr_range_test", f_lr_schedule="cosine"))["training"]
    assert "lr_schedule" not in training and training["epochs"] == 5


def test_early_stopping_is_read_when_checked():
    training = doc_of(keras_form(f_early=True, f_es_monitor="val_accuracy", f_es_patience=1,
                                 f_es_min_delta=0.01, f_es_restore=False))["training"]
    assert training["early_stopping"] == {"monitor": "val_accuracy", "patience": 1,
                                          "min_delta": 0.01, "restore_best_weights": False}
    assert "early_stopping" not in doc_of(keras_form())["training"]
    assert "early_stopping" not in doc_of(keras_form(f_strategy="lora", f_early=True))["training"]


def test_a_spec_with_pruning_and_early_stopping_loads_both():
    state = form_from_spec(example_spec(ROOT / "examples" / "digits_mlp_random_pruned.json"))
    assert state["f_pruning"] and state["f_prune_warmup"] == 2 and state["f_prune_min_trials"] == 3
    assert state["f_early"] and state["f_es_patience"] == 2 and state["f_es_min_delta"] == 0.001
    assert state["f_epochs"] == 8 and state["f_batch_size"] == 64 and state["f_seed"] == 5
    assert state["f_val_split"] == 0.25


def test_time_limits_are_minutes_and_seconds_in_the_form():
    doc = doc_of(form(f_time_limit_min=1.5, f_trial_limit_s=30))
    assert doc["time_limit_s"] == 90.0 and doc["trial_time_limit_s"] == 30.0
    assert doc_of(form())["time_limit_s"] is None
    state = form_from_spec(validate_spec(doc))
    assert state["f_time_limit_min"] == 1.5 and state["f_trial_limit_s"] == 30.0


# -- data sources and names ----------------------------------------------------------


def test_a_csv_source_takes_path_target_and_task():
    path = str(ROOT / "examples" / "data" / "houses.csv")
    data = doc_of(form(f_source="csv", csv_path=path, f_target="price", f_task="regression",
                       f_max_rows=50.0))["data"]
    assert data == {"source": "csv", "path": path, "target": "price", "task": "regression",
                    "validation_split": 0.2, "max_rows": 50}
    assert isinstance(data["max_rows"], int)
    # No readable columns yet: no target; no file yet: no path.
    assert "target" not in doc_of(form(f_source="csv", csv_path=path, f_target=None))["data"]
    assert doc_of(form(f_source="csv"))["data"] == {"source": "csv", "validation_split": 0.2}


def test_a_csv_spec_loads_its_file_target_and_task():
    spec = example_spec(ROOT / "examples" / "houses_csv_gradient_boosting.json")
    state = form_from_spec(spec)
    assert state["f_source"] == "csv" and state["csv_path"] == spec["data"]["path"]
    assert state["f_target"] == "price" and state["f_task"] == "regression"
    assert state["csv_label"] == "houses.csv" and state["f_sk_name"] is None


def test_a_keras_data_set_is_read_from_its_own_selection():
    data = doc_of(keras_form(f_source="keras", f_keras_name="fashion_mnist"))["data"]
    assert data["name"] == "fashion_mnist"
    assert form_from_spec({"data": {"source": "keras", "name": "mnist"}})["f_keras_name"] == "mnist"


def test_an_empty_name_takes_the_default_name():
    assert doc_of(form(f_name="  "))["name"] == "iris · svm · random"
    assert doc_of(form(f_name=" mine "))["name"] == "mine"
    csv = form(f_source="csv", csv_label="houses.csv", f_family="ridge")
    assert default_name(csv) == "houses.csv · ridge · random"
    assert default_name(form(f_source="csv")) == "csv · svm · random"


def test_missing_keys_take_their_defaults():
    draft = spec_from_form({"f_sk_name": "iris", "f_family": "svm", "f_strategy": "random"})
    assert isinstance(draft, FormDraft)
    assert draft.doc["seed"] == 42 and draft.doc["data"]["validation_split"] == 0.2
    assert draft.doc["search_space"] == {}


# -- what the form offers ------------------------------------------------------------


def test_the_strategies_number_options_come_from_the_catalog():
    for name, strategy in strategies.REGISTRY.items():
        keras = number_options(name, "keras")
        assert set(keras) <= set(strategy.options)
        assert number_options(name, "sklearn") == keras + ["cv_folds"]
        assert all(option in OPTION_KEYS for option in keras)
    assert "max_trials" not in number_options("hyperband", "keras")
    assert number_options("lr_range_test", "keras") == []


def test_the_predicates_follow_the_validators_tables():
    names = list(strategies.REGISTRY)
    assert [n for n in names if offers_pruning(n, "keras")] == strategies.prunable()
    assert not any(offers_pruning(n, "sklearn") for n in names)
    assert [n for n in names if not offers_workers(n)] == TOOLS
    assert [n for n in names if takes_tool_options(n)] == TOOLS
    assert [n for n in names if takes_stage_order(n)] == ["sequential"]
    assert [n for n in names if takes_combine(n)] == ["random_sampling"]
    assert [n for n in names if sets_own_epochs(n)] == ["hyperband"]
    assert [n for n in names if not offers_lr_schedule(n, "keras")] == ["lr_range_test"]
    assert [n for n in names if not offers_early_stopping(n, "keras")] == ["lora"]
    assert not offers_early_stopping("random", "sklearn") and not offers_lr_schedule("random", None)


def test_form_from_spec_gives_every_key_and_fresh_lists():
    state = form_from_spec({})
    assert set(state) == set(FORM_DEFAULTS)
    state["f_order"].append("x")
    assert FORM_DEFAULTS["f_order"] == [] and fresh_state()["f_order"] == []


def test_the_form_module_imports_no_streamlit_and_no_tensorflow():
    code = ("import sys, tuning.spec.form; "
            "bad = [m for m in ('streamlit', 'tensorflow', 'keras') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

