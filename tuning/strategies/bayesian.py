"""Bayesian optimisation: KerasTuner's Gaussian process proposes the most promising point."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuning.spec.checker import MAX_TRIALS_LIMIT

from .random import check_budget
from .registry import Strategy, register


def check(c: Any, section: Mapping[str, Any], kind: str, space: Mapping[str, Any],
          out: Mapping[str, Any], family: str | None) -> dict[str, Any]:
    get = section.get
    fields: dict[str, Any] = {"max_trials": check_budget(c, section)}
    if get("num_initial_points") is not None:
        fields["num_initial_points"] = c.integer("strategy.num_initial_points",
                                                 get("num_initial_points"), 1, MAX_TRIALS_LIMIT)
    fields["alpha"] = c.number("strategy.alpha", get("alpha", 1e-4), 0, 1, low_open=True)
    fields["beta"] = c.number("strategy.beta", get("beta", 2.6), 0, 100, low_open=True)
    return fields


def oracle(kt: Any, spec: Mapping[str, Any], objective: Any, seed: int, failures: int) -> Any:
    strategy = spec["strategy"]
    return kt.oracles.BayesianOptimizationOracle(
        objective=objective, max_trials=strategy["max_trials"], seed=seed,
        num_initial_points=strategy.get("num_initial_points"), alpha=strategy["alpha"],
        beta=strategy["beta"], max_consecutive_failed_trials=failures)


STRATEGY = register(Strategy(
    "bayesian", "Bayesian optimization (KerasTuner)",
    "When each trial is expensive: a Gaussian process proposes the most promising point "
    "from the trials so far.",
    ("keras", "sklearn"), check,
    options=("max_trials", "executions_per_trial", "num_initial_points", "alpha", "beta"),
    fields=("num_initial_points", "alpha", "beta"), oracle=oracle, prunable=True,
    oracle_classes=("BayesianOptimizationOracle",),
    oracle_fields=("num_initial_points", "alpha", "beta")))
