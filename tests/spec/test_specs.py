"""Spec validation: defaults, one message per fault naming its field, the shipped examples."""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tuning import catalog
from tuning.spec import (
    MAX_GRID_COMBINATIONS,
    Problem,
    SpecError,
    load_spec_file,
    parse_spec_text,
    validate_spec,
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.json"))

MLP_SPEC: dict[str, Any] = {
    "name": "digits mlp",
    "data": {"source": "sklearn", "name": "digits"},
    "model": {"family": "mlp"},
    "search_space": {
        "units": {"type": "int", "min": 16, "max": 64, "step": 16},
        "activation": {"type": "choice", "values": ["relu", "tanh"]},
        "dropout": {"type": "float", "min": 0.0, "max": 0.3},
        "learning_rate": {"type": "float", "min": 1e-4, "max": 1e-2, "sampling": "log"},
    },
    "strategy": {"name": "random", "max_trials": 3},
    "training": {"epochs": 2},
}

SVM_SPEC: dict[str, Any] = {
    "name": "iris svm",
    "data": {"source": "sklearn", "name": "iris"},
    "model": {"family": "svm"},
    "search_space": {"C": {"type": "float", "min": 0.01, "max": 10.0, "sampling": "log"}},
    "strategy": {"name": "random", "max_trials": 3},
}


def _problems(doc: Any) -> tuple[Problem, ...]:
    with pytest.raises(SpecError) as info:
        validate_spec(doc)
    assert info.value.problems, "a SpecError always lists its problems"
    return info.value.problems


# -- valid specs -------------------------------------------------------------------------

def test_mlp_spec_is_normalised_with_defaults():
    spec = validate_spec(copy.deepcopy(MLP_SPEC))
    assert spec["name"] == "digits mlp" and spec["description"] == "" and spec["seed"] == 42
    assert spec["data"] == {"source": "sklearn", "name": "digits", "task": "classification",
                            "validation_split": 0.2, "max_rows": None}
    assert spec["model"] == {"family": "mlp"}
    assert spec["search_space"]["units"] == {"type": "int", "min": 16, "max": 64,
                                             "sampling": "linear", "step": 16}
    assert spec["search_space"]["dropout"] == {"type": "float", "min": 0.0, "max": 0.3,
                                               "sampling": "linear"}
    assert spec["strategy"] == {"name": "random", "max_trials": 3, "executions_per_trial": 1,
                                "max_consecutive_failed_trials": 3, "recycle_every": 25,
                                "pruning": None, "workers": 1, "chief_host": "127.0.0.1",
                                "chief_port": None, "relay_port": None}
    assert spec["objective"] == {"metric": "val_accuracy", "direction": "max"}
    assert spec["training"] == {"epochs": 2, "batch_size": 32, "early_stopping": None,
                                "lr_schedule": "constant"}
    assert spec["time_limit_s"] is None


def test_normalising_is_idempotent_and_leaves_the_input_alone():
    doc = copy.deepcopy(MLP_SPEC)
    spec = validate_spec(doc)
    assert doc == MLP_SPEC
    assert validate_spec(json.loads(json.dumps(spec))) == spec


def test_sklearn_spec_gets_cv_folds_and_no_training_section():
    spec = validate_spec(copy.deepcopy(SVM_SPEC))
    assert spec["strategy"]["cv_folds"] == 3
    assert spec["training"] == {}
    assert spec["objective"] == {"metric": "accuracy", "direction": "max"}


def test_regression_defaults_minimise_val_loss():
    doc = copy.deepcopy(MLP_SPEC)
    doc["data"] = {"source": "sklearn", "name": "diabetes"}
    spec = validate_spec(doc)
    assert spec["data"]["task"] == "regression"
    assert spec["objective"] == {"metric": "val_loss", "direction": "min"}


def test_hyperband_counts_trials_and_trains_to_max_epochs():
    doc = copy.deepcopy(MLP_SPEC)
    doc["strategy"] = {"name": "hyperband", "max_epochs": 9, "factor": 3}
    spec = validate_spec(doc)
    assert spec["strategy"]["max_trials"] == 23  # what KerasTuner's Hyperband oracle runs
    assert spec["training"]["epochs"] == 9


def test_grid_counts_its_combinations():
    doc = copy.deepcopy(MLP_SPEC)
    doc["search_space"]["dropout"]["step"] = 0.1  # 0.0, 0.1, 0.2, 0.3
    doc["search_space"]["learning_rate"] = {"type": "choice", "values": [0.001, 0.01]}
    doc["strategy"] = {"name": "grid"}
    spec = validate_spec(doc)
    assert spec["strategy"]["max_trials"] == 4 * 2 * 4 * 2


def test_mlp_accepts_per_layer_units():
    doc = copy.deepcopy(MLP_SPEC)
    doc["search_space"]["units_0"] = {"type": "int", "min": 8, "max": 32}
    assert "units_0" in validate_spec(doc)["search_space"]


def test_every_default_space_validates():
    for family in catalog.FAMILIES.values():
        if family.user_code:
            continue  # no default space: the module declares it (tests/spec/test_discovery.py)
        task = family.tasks[0]
        dataset = "digits" if family.inputs == "image" else next(
            name for name, t in catalog.SKLEARN_DATASETS.items() if t == task)
        doc = {"data": {"name": dataset}, "model": {"family": family.name},
               "search_space": catalog.default_space(family.name),
               "strategy": {"name": "random"}}
        assert validate_spec(doc)["model"]["family"] == family.name


# -- invalid specs: one fault each, named by its field -----------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return mutate


def _delete(path: str) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[key]
        del node[last]
    return mutate


def _sklearn(doc: dict[str, Any]) -> None:
    doc.clear()
    doc.update(copy.deepcopy(SVM_SPEC))


def _then(*mutations: Mutation) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        for m in mutations:
            m(doc)
    return mutate


def _huge_grid(doc: dict[str, Any]) -> None:
    doc["strategy"] = {"name": "grid"}
    doc["search_space"] = {
        "units": {"type": "int", "min": 1, "max": 1000},
        "batch_size": {"type": "int", "min": 1, "max": 1000},
    }


BAD_SPECS = [
    # (id, mutation, field, substring of the message)
    ("name-not-string", _set("name", 123), "name", "must be a non-empty string; got 123"),
    ("name-blank", _set("name", "   "), "name", "must be a non-empty string"),
    ("name-newline", _set("name", "two\nlines"), "name", "must not contain control characters"),
    ("name-too-long", _set("name", "x" * 121), "name", "at most 120 characters"),
    ("seed-negative", _set("seed", -1), "seed", "must be between 0 and 2147483647; got -1"),
    ("seed-string", _set("seed", "42"), "seed", "must be an integer; got '42'"),
    ("seed-fraction", _set("seed", 1.5), "seed", "must be an integer; got 1.5"),
    ("unknown-top-level", _set("epochs", 5), "epochs", "is not a known field; use one of"),
    ("data-not-object", _set("data", "digits"), "data", "must be an object; got 'digits'"),
    ("unknown-dataset", _set("data.name", "cifar10"), "data.name", "must be one of iris"),
    ("unknown-data-source", _set("data.source", "s3"), "data.source",
     "must be one of sklearn, csv, keras"),
    ("unknown-data-field", _set("data.shuffle", True), "data.shuffle", "is not a known field"),
    ("csv-without-path", _set("data", {"source": "csv", "target": "y"}), "data.path",
     "is required for a CSV source"),
    ("csv-without-target", _set("data", {"source": "csv", "path": "a.csv"}), "data.target",
     "is required for a CSV source"),
    ("validation-split-zero", _set("data.validation_split", 0), "data.validation_split",
     "must be in (0.0, 0.9]; got 0"),
    ("keras-data-regression", _set("data", {"source": "keras", "name": "mnist",
                                            "task": "regression"}),
     "data.task", "must be classification for Keras data set mnist"),
    ("max-rows-too-small", _set("data.max_rows", 5), "data.max_rows", "must be >= 10; got 5"),
    ("unknown-family", _set("model.family", "transformer"), "model.family",
     "must be one of mlp, svm"),
    ("family-wrong-task", _then(_set("data.name", "diabetes"),
                                _set("model.family", "logistic_regression"),
                                _set("search_space", {"C": {"type": "float", "min": 1,
                                                            "max": 2}}),
                                _delete("training")),
     "model.family", "logistic_regression cannot do regression"),
    ("unknown-strategy", _set("strategy.name", "evolution"), "strategy.name",
     "must be one of random, bayesian, hyperband, grid, sequential, random_sampling"),
    ("missing-strategy", _delete("strategy"), "strategy", "is required (an object)"),
    ("unknown-strategy-field", _set("strategy.trials", 3), "strategy.trials",
     "is not a known field"),
    ("hyperband-with-sklearn", _then(_sklearn, _set("strategy", {"name": "hyperband"})),
     "strategy.name", "hyperband cannot tune sklearn models"),
    ("hyperband-max-epochs-1", _set("strategy", {"name": "hyperband", "max_epochs": 1}),
     "strategy.max_epochs", "must be between 2 and"),
    ("max-trials-zero", _set("strategy.max_trials", 0), "strategy.max_trials",
     "must be between 1 and 100000; got 0"),
    ("max-trials-bool", _set("strategy.max_trials", True), "strategy.max_trials",
     "must be an integer; got true"),
    ("executions-per-trial-zero", _set("strategy.executions_per_trial", 0),
     "strategy.executions_per_trial", "must be between 1 and 20; got 0"),
    ("cv-folds-one", _then(_sklearn, _set("strategy.cv_folds", 1)), "strategy.cv_folds",
     "must be between 2 and 20; got 1"),
    ("bayesian-alpha-zero", _set("strategy", {"name": "bayesian", "alpha": 0}),
     "strategy.alpha", "must be in (0, 1]"),
    ("unknown-metric", _set("objective", {"metric": "f1"}), "objective.metric",
     "must be one of val_accuracy, val_loss, accuracy, loss; got 'f1'"),
    ("sklearn-metric-for-keras", _then(_sklearn, _set("objective", {"metric": "val_loss"})),
     "objective.metric", "must be one of accuracy"),
    ("wrong-direction", _set("objective", {"metric": "val_accuracy", "direction": "min"}),
     "objective.direction", "must be max for val_accuracy; got 'min'"),
    ("unknown-direction", _set("objective", {"metric": "val_loss", "direction": "down"}),
     "objective.direction", "must be one of min, max; got 'down'"),
    ("epochs-zero", _set("training.epochs", 0), "training.epochs",
     "must be between 1 and 10000; got 0"),
    ("batch-size-string", _set("training.batch_size", "32"), "training.batch_size",
     "must be an integer"),
    ("training-for-sklearn", _then(_sklearn, _set("training", {"epochs": 5})),
     "training.epochs", "applies to Keras models only"),
    ("time-limit-zero", _set("time_limit_s", 0), "time_limit_s", "must be in (0,"),
    ("empty-search-space", _set("search_space", {}), "search_space",
     "must name at least one hyperparameter"),
    ("missing-search-space", _delete("search_space"), "search_space",
     "must name at least one hyperparameter"),
    ("search-space-list", _set("search_space", ["units"]), "search_space", "must be an object"),
    ("hp-not-object", _set("search_space.units", 64), "search_space.units",
     'must be an object such as {"type": "int"'),
    ("unknown-hp-type", _set("search_space.units.type", "integer"), "search_space.units.type",
     "must be one of int, float, choice, bool, fixed; got 'integer'"),
    ("unknown-hp-field", _set("search_space.units.smapling", "log"),
     "search_space.units.smapling", "is not a known field; use one of"),
    ("hp-missing-max", _delete("search_space.units.max"), "search_space.units.max",
     "is required for a int hyperparameter"),
    ("int-bound-fraction", _set("search_space.units.min", 1.5), "search_space.units.min",
     "must be an integer; got 1.5"),
    ("float-bound-string", _set("search_space.dropout.max", "0.5"), "search_space.dropout.max",
     "must be a number"),
    ("min-greater-than-max", _set("search_space.units.min", 128), "search_space.units.min",
     "must be <= max (64); swap them; got 128"),
    ("log-min-zero", _set("search_space.learning_rate.min", 0),
     "search_space.learning_rate.min", "must be > 0 when sampling is log; got 0"),
    ("step-with-log", _set("search_space.learning_rate.step", 0.001),
     "search_space.learning_rate.step", "cannot be combined with log sampling"),
    ("step-negative", _set("search_space.units.step", -16), "search_space.units.step",
     "must be a positive integer; got -16"),
    ("step-wider-than-range", _set("search_space.units.step", 100), "search_space.units.step",
     "must be <= max - min (48)"),
    ("unknown-sampling", _set("search_space.units.sampling", "exp"),
     "search_space.units.sampling", "must be one of linear, log"),
    ("default-out-of-range", _set("search_space.units.default", 1), "search_space.units.default",
     "must be a number between min and max"),
    ("choice-empty", _set("search_space.activation.values", []),
     "search_space.activation.values", "must be a non-empty list"),
    ("choice-mixed", _set("search_space.activation.values", ["relu", 1]),
     "search_space.activation.values", "must all be strings, all numbers or all booleans"),
    ("choice-repeated", _set("search_space.activation.values", ["relu", "relu"]),
     "search_space.activation.values", "must not repeat a value"),
    ("choice-default-not-a-value", _set("search_space.activation.default", "elu"),
     "search_space.activation.default", "must be one of the values"),
    ("fixed-without-value", _set("search_space.units", {"type": "fixed"}),
     "search_space.units.value", "is required for a fixed hyperparameter"),
    ("bool-default-not-bool", _set("search_space.l2", {"type": "bool", "default": "yes"}),
     "search_space.l2.default", "must be true or false"),
    ("grid-float-without-step", _set("strategy", {"name": "grid"}), "search_space.dropout.step",
     "is required for grid search over a float range"),
    ("grid-too-large", _huge_grid, "search_space",
     f"makes a grid of 1000000 combinations, more than the {MAX_GRID_COMBINATIONS} allowed"),
    ("unknown-mlp-hp", _set("search_space.kernel", {"type": "choice", "values": ["rbf"]}),
     "search_space.kernel", "is not a hyperparameter of model family mlp; use one of"),
    ("mlp-units-too-deep", _set("search_space.units_99", {"type": "int", "min": 1, "max": 4}),
     "search_space.units_99", "is not a hyperparameter of model family mlp"),
    ("unknown-sklearn-hp", _then(_sklearn, _set("search_space.n_estimators",
                                                {"type": "int", "min": 1, "max": 4})),
     "search_space.n_estimators", "is not a hyperparameter of model family svm"),
    ("bad-activation", _set("search_space.activation.values", ["relu", "sigmoidal"]),
     "search_space.activation", 'values must be activations among relu, tanh'),
    ("bad-optimizer", _set("search_space.optimizer", {"type": "fixed", "value": "lbfgs"}),
     "search_space.optimizer", "values must be optimizers among adam"),
    ("dropout-reaches-one", _set("search_space.dropout.max", 1.0), "search_space.dropout",
     "must stay in [0, 1)"),
    ("too-many-layers", _set("search_space.num_layers", {"type": "int", "min": 1, "max": 20}),
     "search_space.num_layers", "must stay between 1 and 16 layers"),
    ("units-zero", _set("search_space.units.min", 0), "search_space.units",
     "must be positive integers"),
    ("learning-rate-too-high", _set("search_space.learning_rate.max", 50),
     "search_space.learning_rate", "must be > 0 and at most 10"),
]


@pytest.mark.parametrize("mutate, field, expected", [case[1:] for case in BAD_SPECS],
                         ids=[case[0] for case in BAD_SPECS])
def test_bad_spec_is_rejected_naming_its_field(mutate, field, expected):
    doc = copy.deepcopy(MLP_SPEC)
    mutate(doc)
    problems = _problems(doc)
    mine = [p for p in problems if p.field == field]
    assert mine, f"no problem for {field}; got {[str(p) for p in problems]}"
    assert any(expected in p.message for p in mine), [str(p) for p in mine]
    # The text shown to a person starts with the field it is about.
    assert all(str(p).startswith(p.field + " ") for p in problems)


def test_bad_spec_table_is_broad():
    assert len({case[0] for case in BAD_SPECS}) == len(BAD_SPECS) >= 25


def test_log_sampling_from_zero_message_is_exact():
    # No model family: every hyperparameter name is accepted, so the range rule is what fires.
    doc = {"search_space": {"lr": {"type": "float", "min": 0, "max": 0.1, "sampling": "log"}},
           "strategy": {"name": "random"}}
    messages = [str(p) for p in _problems(doc)]
    assert "search_space.lr.min must be > 0 when sampling is log; got 0" in messages


def test_several_problems_are_reported_at_once():
    doc = copy.deepcopy(MLP_SPEC)
    doc["name"] = "a\nb"
    doc["seed"] = -3
    doc["strategy"]["name"] = "annealing"
    doc["training"]["epochs"] = 0
    doc["search_space"]["units"]["min"] = 100
    doc["objective"] = {"metric": "f1"}
    error = pytest.raises(SpecError, validate_spec, doc).value
    fields = {p.field for p in error.problems}
    assert {"name", "seed", "strategy.name", "training.epochs", "search_space.units.min",
            "objective.metric"} <= fields
    assert len(str(error).splitlines()) == len(error.problems)
    grouped = error.by_field()
    assert grouped["seed"] == ["seed must be between 0 and 2147483647; got -3"]


@pytest.mark.parametrize("doc, kind", [([], "list"), ("spec", "str"), (None, "NoneType"),
                                       (42, "int")])
def test_non_object_spec_is_rejected(doc, kind):
    (problem,) = _problems(doc)
    assert problem == Problem("spec", f"must be a JSON object; got {kind}")


@pytest.mark.parametrize("text, where", [
    ('{"name": "x",}', "line 1 column 14"),
    ('{\n  "name": "x"\n  "seed": 1\n}', "line 3 column 3"),
    ("", "line 1 column 1"),
])
def test_invalid_json_text_is_rejected_with_its_position(text, where):
    with pytest.raises(SpecError) as info:
        parse_spec_text(text)
    (problem,) = info.value.problems
    assert problem.field == "spec"
    assert problem.message.startswith("must be valid JSON; " + where)


def test_parse_spec_text_returns_the_document():
    assert parse_spec_text(json.dumps(MLP_SPEC)) == MLP_SPEC


def test_load_spec_file_reports_unreadable_files(tmp_path):
    with pytest.raises(SpecError, match="^spec cannot be read from"):
        load_spec_file(tmp_path / "missing.json")
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"name": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(SpecError, match="must be UTF-8 JSON text"):
        load_spec_file(latin)
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(SpecError, match="must be valid JSON"):
        load_spec_file(broken)


# -- shipped examples --------------------------------------------------------------------

EXPECTED_EXAMPLES = {
    "digits_mlp_random.json": ("random", "mlp"),
    "digits_mlp_bayesian.json": ("bayesian", "mlp"),
    "digits_mlp_hyperband.json": ("hyperband", "mlp"),
    "digits_mlp_grid.json": ("grid", "mlp"),
    "iris_svm_random.json": ("random", "svm"),
    "iris_random_forest_bayesian.json": ("bayesian", "random_forest"),
    "wine_knn_grid.json": ("grid", "knn"),
    "houses_csv_gradient_boosting.json": ("random", "gradient_boosting"),
}


def test_every_expected_example_is_shipped():
    assert set(EXPECTED_EXAMPLES) <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates_and_stays_small(path):
    spec = load_spec_file(path)
    if spec["data"]["source"] == "csv":
        if not (ROOT / spec["data"]["path"]).exists():
            pytest.skip(f"{spec['data']['path']} is not in the repository yet")
        assert spec["data"]["path"] == "examples/data/houses.csv"
        assert spec["data"]["target"] == "price"
    expected = EXPECTED_EXAMPLES.get(path.name)
    if expected is not None:
        assert (spec["strategy"]["name"], spec["model"]["family"]) == expected
    # Small enough to finish in under a minute on two cores.
    assert spec["strategy"]["max_trials"] <= 25
    if spec["training"]:
        assert spec["training"]["epochs"] <= 9
    if spec["strategy"]["name"] == "hyperband":
        assert (spec["strategy"]["max_epochs"], spec["strategy"]["factor"]) == (9, 3)
    if "cv_folds" in spec["strategy"]:
        assert spec["strategy"]["cv_folds"] == 3
