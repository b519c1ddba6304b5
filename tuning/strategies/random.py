"""Random search: KerasTuner's RandomSearchOracle samples the space at random."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuning.spec.checker import MAX_TRIALS_LIMIT

from .registry import Strategy, register


def check_budget(c: Any, section: Mapping[str, Any]) -> int | None:
    """``max_trials`` of a strategy that draws points (random, bayesian)."""
    return c.integer("strategy.max_trials", section.get("max_trials", 10), 1, MAX_TRIALS_LIMIT)


def check(c: Any, section: Mapping[str, Any], kind: str, space: Mapping[str, Any],
          out: Mapping[str, Any], family: str | None) -> dict[str, Any]:
    return {"max_trials": check_budget(c, section)}


def oracle(kt: Any, spec: Mapping[str, Any], objective: Any, seed: int, failures: int) -> Any:
    return kt.oracles.RandomSearchOracle(objective=objective,
                                         max_trials=spec["strategy"]["max_trials"], seed=seed,
                                         max_consecutive_failed_trials=failures)


STRATEGY = register(Strategy(
    "random", "Random search (KerasTuner RandomSearch)",
    "A strong baseline: samples the space at random, good for a first look at a large space.",
    ("keras", "sklearn"), check, options=("max_trials", "executions_per_trial"),
    oracle=oracle, prunable=True, oracle_classes=("RandomSearchOracle",),
    import_fallback=True))
