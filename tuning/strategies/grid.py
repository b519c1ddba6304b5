"""Grid search over chosen values: every combination is tried (KerasTuner's GridSearch,
made resumable in ``oracles``)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuning.spec.checker import MAX_TRIALS_LIMIT
from tuning.spec.space import grid_size

from .registry import Strategy, register


def check(c: Any, section: Mapping[str, Any], kind: str, space: Mapping[str, Any],
          out: Mapping[str, Any], family: str | None) -> dict[str, Any]:
    combos = grid_size(c, space)
    requested = section.get("max_trials")
    return {"max_trials": combos if requested is None else c.integer(
        "strategy.max_trials", requested, 1, MAX_TRIALS_LIMIT)}


def oracle(kt: Any, spec: Mapping[str, Any], objective: Any, seed: int, failures: int) -> Any:
    from .oracles import ResumableGridSearchOracle

    return ResumableGridSearchOracle(objective=objective, max_trials=spec["strategy"]["max_trials"],
                                     seed=seed, max_consecutive_failed_trials=failures)


STRATEGY = register(Strategy(
    "grid", "Grid search over chosen values (KerasTuner GridSearch)",
    "When you know which values matter: every combination of the listed values is tried, "
    "so the best one in the grid is guaranteed to be found.",
    ("keras", "sklearn"), check, options=("max_trials", "executions_per_trial"),
    oracle=oracle, prunable=True, exhausts_space=True, oracle_classes=("GridSearchOracle",)))
