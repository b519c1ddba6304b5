"""Random sampling of chosen ranges: a seeded, repeatable list of points, optionally every
combination of a few random values per hyperparameter."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuning.spec.checker import MAX_GRID_COMBINATIONS, MAX_TRIALS_LIMIT

from .manual import combined_size, random_points
from .registry import Strategy, register


def check(c: Any, section: Mapping[str, Any], kind: str, space: Mapping[str, Any],
          out: Mapping[str, Any], family: str | None) -> dict[str, Any]:
    get = section.get
    fields: dict[str, Any] = {
        "samples": c.integer("strategy.samples", get("samples", 10), 1, MAX_TRIALS_LIMIT)}
    combine = get("combine", False)
    if not isinstance(combine, bool):
        c.fail("strategy.combine", "must be true or false", combine)
        combine = False
    fields["combine"] = combine
    if fields["samples"] is not None:
        total = combined_size(space, fields["samples"]) if combine else fields["samples"]
        if total > MAX_GRID_COMBINATIONS:
            c.fail("strategy.samples", f"with combine makes {total} combinations, more than "
                   f"the {MAX_GRID_COMBINATIONS} allowed; draw fewer samples per "
                   "hyperparameter or set combine to false", fields["samples"])
        fields["max_trials"] = total
    return fields


def oracle(kt: Any, spec: Mapping[str, Any], objective: Any, seed: int, failures: int) -> Any:
    from .oracles import PointsOracle

    strategy = spec["strategy"]
    points = random_points(spec["search_space"], strategy["samples"], int(spec["seed"]),
                           strategy["combine"])
    return PointsOracle(points, objective=objective, seed=seed,
                        max_consecutive_failed_trials=failures)


STRATEGY = register(Strategy(
    "random_sampling", "Random sampling of chosen ranges",
    "A seeded, repeatable set of random points; with combine, every combination of a few "
    "random values per hyperparameter.",
    ("keras", "sklearn"), check, options=("samples", "combine", "executions_per_trial"),
    fields=("samples", "combine"), oracle=oracle, prunable=True))
