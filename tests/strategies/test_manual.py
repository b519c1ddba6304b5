"""Manual strategies as pure functions: what is tried, curve flags, and the median rule."""
from __future__ import annotations

import math

import pytest

from tuning.insights.curves import diagnose, median_rule
from tuning.spec import SpecError, validate_spec
from tuning.strategies import manual

SPACE = {
    "units": {"type": "int", "min": 16, "max": 64, "step": 16, "sampling": "linear"},
    "activation": {"type": "choice", "values": ["relu", "tanh"]},
    "learning_rate": {"type": "float", "min": 1e-4, "max": 1e-1, "sampling": "log"},
}


def test_candidate_values_of_each_type():
    assert manual.candidate_values(SPACE["units"]) == [16, 32, 48, 64]
    assert manual.candidate_values({"type": "bool"}) == [False, True]
    assert manual.candidate_values({"type": "float", "min": 0.0, "max": 0.5, "step": 0.25}) == \
        [0.0, 0.25, 0.5]
    assert manual.candidate_values(SPACE["learning_rate"]) is None


def test_sequential_plan_runs_each_candidate_of_each_stage_in_order():
    space = {"units": SPACE["units"], "activation": SPACE["activation"]}
    plan = manual.sequential_plan(space, ["activation", "units"], "mlp")
    # units 64 (the MLP's default) is stage 1's winner carried into stage 2, not trained again
    assert plan == [(1, "activation", "relu"), (1, "activation", "tanh"),
                    (2, "units", 16), (2, "units", 32), (2, "units", 48)]


def test_sequential_values_fix_earlier_winners_and_keep_the_rest_at_defaults():
    space = {"units": SPACE["units"], "activation": SPACE["activation"],
             "dropout": {"type": "choice", "values": [0.0, 0.2, 0.5]}}
    order = ["activation", "units", "dropout"]
    stage1 = manual.sequential_values(space, order, "mlp", 1, "activation", "tanh", {})
    # units 64 is the MLP default and a candidate; dropout's default 0.0 likewise
    assert stage1 == {"units": 64, "activation": "tanh", "dropout": 0.0}
    stage3 = manual.sequential_values(space, order, "mlp", 3, "dropout", 0.5,
                                      {1: "tanh", 2: 32})
    assert stage3 == {"units": 32, "activation": "tanh", "dropout": 0.5}


def test_default_value_prefers_explicit_default_then_family_then_middle():
    assert manual.default_value("units", {**SPACE["units"], "default": 48}, "mlp") == 48
    assert manual.default_value("n_neighbors", {"type": "choice", "values": [1, 5, 9]},
                                "knn") == 5  # KNeighborsClassifier's own default
    assert manual.default_value("units", {"type": "choice", "values": [8, 16, 24]}, "mlp") == 16


def test_random_points_are_seeded_and_within_ranges():
    a = manual.random_points(SPACE, 8, seed=3, combine=False)
    assert a == manual.random_points(SPACE, 8, seed=3, combine=False)
    assert a != manual.random_points(SPACE, 8, seed=4, combine=False)
    for point in a:
        assert point["units"] in (16, 32, 48, 64)
        assert 1e-4 <= point["learning_rate"] <= 1e-1
        assert point["activation"] in ("relu", "tanh")


def test_random_points_combined_try_every_combination_of_per_hp_samples():
    points = manual.random_points(SPACE, 2, seed=1, combine=True)
    assert len(points) == 2 * 2 * 2 == manual.combined_size(SPACE, 2)
    per_hp = {name: {p[name] for p in points} for name in SPACE}
    assert all(len(values) == 2 for values in per_hp.values())
    assert len({tuple(sorted(p.items())) for p in points}) == 8


def base_spec(**strategy):
    return {"data": {"source": "sklearn", "name": "digits"}, "model": {"family": "mlp"},
            "search_space": dict(SPACE), "strategy": strategy, "training": {"epochs": 3}}


def test_spec_counts_trials_of_manual_strategies():
    spec = validate_spec(base_spec(name="sequential", order=["activation", "units"]))
    assert spec["strategy"]["max_trials"] == 2 + 3  # units' default (64) is carried, not re-run
    spec = validate_spec(base_spec(name="random_sampling", samples=3, combine=True))
    assert spec["strategy"]["max_trials"] == 3 * 2 * 3
    spec = validate_spec(base_spec(name="random_sampling", samples=5))
    assert spec["strategy"]["max_trials"] == 5


@pytest.mark.parametrize("strategy,field,text", [
    ({"name": "sequential"}, "strategy.order", "must list the hyperparameters"),
    ({"name": "sequential", "order": ["units", "units"]}, "strategy.order", "twice"),
    ({"name": "sequential", "order": ["depth"]}, "strategy.order", "not in search_space"),
    ({"name": "sequential", "order": ["learning_rate"]}, "search_space.learning_rate.step",
     "is required"),
    ({"name": "random_sampling", "samples": 0}, "strategy.samples", "between 1"),
    ({"name": "random_sampling", "combine": "yes"}, "strategy.combine", "true or false"),
    ({"name": "hyperband", "pruning": {"warmup_epochs": 1}}, "strategy.pruning",
     "applies to Keras models"),
    ({"name": "random", "pruning": {"warmup": 1}}, "strategy.pruning.warmup", "not a known field"),
])
def test_bad_manual_strategy_specs_name_their_field(strategy, field, text):
    with pytest.raises(SpecError) as info:
        validate_spec(base_spec(**strategy))
    messages = [str(p) for p in info.value.problems if p.field == field]
    assert messages and any(text in m for m in messages), info.value.problems


def test_combined_random_samples_too_many_are_refused():
    spec = base_spec(name="random_sampling", samples=120, combine=True)
    spec["search_space"]["dropout"] = {"type": "float", "min": 0.0, "max": 0.5}
    with pytest.raises(SpecError) as info:
        validate_spec(spec)
    assert [p.field for p in info.value.problems] == ["strategy.samples"]
    assert "115200 combinations" in str(info.value)


def test_grid_too_large_is_refused_with_the_fix():
    spec = base_spec(name="grid")
    spec["search_space"] = {f"units_{i}": {"type": "int", "min": 1, "max": 10} for i in range(5)}
    with pytest.raises(SpecError) as info:
        validate_spec(spec)
    assert "100000 combinations" in str(info.value) and "larger steps" in str(info.value)


def test_early_stopping_is_normalised_and_checked():
    spec = base_spec(name="random")
    spec["training"]["early_stopping"] = {"patience": 2}
    assert validate_spec(spec)["training"]["early_stopping"] == {
        "monitor": "val_loss", "patience": 2, "min_delta": 0.0, "restore_best_weights": True}
    spec["training"]["early_stopping"] = {"monitor": "val_f1"}
    with pytest.raises(SpecError, match="training.early_stopping.monitor must be one of"):
        validate_spec(spec)


def curve(losses, val_losses=None):
    val_losses = val_losses or losses
    return [{"loss": a, "val_loss": b} for a, b in zip(losses, val_losses)]


def test_healthy_curve_raises_no_flag():
    assert diagnose(curve([1.0, 0.6, 0.4, 0.3, 0.25], [1.1, 0.7, 0.5, 0.45, 0.44])) == []


def test_overfitting_flag_on_val_loss_rising_while_loss_falls():
    flags = diagnose(curve([1.0, 0.6, 0.4, 0.3, 0.2, 0.1], [0.9, 0.6, 0.65, 0.7, 0.8, 0.9]))
    assert len(flags) == 1 and flags[0].startswith("overfitting:")
    assert "over epochs 2-6" in flags[0] and "from 0.6 to 0.9" in flags[0]
    # two rising epochs are noise, not overfitting
    assert diagnose(curve([1.0, 0.6, 0.4, 0.3], [0.9, 0.6, 0.65, 0.7])) == []


@pytest.mark.parametrize("losses", [[1.0, 0.8, math.nan], [1.0, None], [0.5, 2.0, 9.0]])
def test_divergence_flag_on_nan_or_exploding_loss(losses):
    flags = diagnose(curve(losses))
    assert len(flags) == 1 and flags[0].startswith("divergence:")


def test_no_learning_flag_on_flat_loss():
    flags = diagnose(curve([2.302, 2.301, 2.302, 2.3015, 2.302]))
    assert len(flags) == 1 and flags[0].startswith("no learning:")
    assert diagnose(curve([2.3, 2.3, 2.3])) == []  # too short to tell


def test_median_rule():
    earlier = [0.8, 0.9, 0.85]
    assert median_rule(0.5, earlier, "max", min_trials=3) == pytest.approx(0.85)
    assert median_rule(0.86, earlier, "max", min_trials=3) is None
    assert median_rule(0.5, earlier, "max", min_trials=4) is None  # too few to judge
    assert median_rule(0.95, earlier, "min", min_trials=3) == pytest.approx(0.85)
