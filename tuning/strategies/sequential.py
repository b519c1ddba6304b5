"""Sequential tuning: one hyperparameter at a time, each stage's winner fixed for the next."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuning.spec.checker import MAX_GRID_COMBINATIONS

from .manual import candidate_values, sequential_plan
from .registry import Strategy, register


def check(c: Any, section: Mapping[str, Any], kind: str, space: Mapping[str, Any],
          out: Mapping[str, Any], family: str | None) -> dict[str, Any]:
    order, trials = _check_order(c, section.get("order"), space, family)
    return {"order": order, "max_trials": trials}


def _check_order(c: Any, order: Any, space: Mapping[str, Any],
                 family: str | None) -> tuple[list[str], int | None]:
    if not isinstance(order, list) or not order or not all(isinstance(n, str) for n in order):
        c.fail("strategy.order", "must list the hyperparameters to tune, one stage each, e.g. "
               '["learning_rate", "units"]', order if order is not None else ...)
        return [], None
    if len(set(order)) != len(order):
        c.fail("strategy.order", "must not name a hyperparameter twice", order)
        return [], None
    total = 0
    for name in order:
        if name not in space:
            c.fail("strategy.order", f"names {name!r}, which is not in search_space; add it there "
                   "or remove it from the order", order)
            continue
        values = candidate_values(space[name])
        if values is None:
            c.fail(f"search_space.{name}.step", "is required to tune a float range in a "
                   "sequential stage; add a step or list candidates with type choice")
            continue
        total += len(values)
    if total > MAX_GRID_COMBINATIONS:
        c.fail("strategy.order", f"makes {total} trials, more than the {MAX_GRID_COMBINATIONS} "
               "allowed; list fewer candidates")
    if c.problems:
        return list(order), total
    return list(order), len(sequential_plan(space, order, family))


def oracle(kt: Any, spec: Mapping[str, Any], objective: Any, seed: int, failures: int) -> Any:
    from .oracles import SequentialOracle

    return SequentialOracle(spec["search_space"], spec["strategy"]["order"],
                            spec["model"]["family"], objective=objective, seed=seed,
                            max_consecutive_failed_trials=failures)


STRATEGY = register(Strategy(
    "sequential", "Sequential tuning (one hyperparameter at a time)",
    "When combinations are too many: tune the most important hyperparameter first, fix its "
    "best value, then tune the next, and so on.",
    ("keras", "sklearn"), check, options=("order", "executions_per_trial"), fields=("order",),
    oracle=oracle, panel="stages"))
