"""Hyperband: many configurations get a few epochs, the best are trained further
(KerasTuner's Hyperband tuner, which carries weights from a trial to its promotion)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tuning.spec.checker import MAX_EPOCHS_LIMIT

from .registry import Strategy, register


def hyperband_trials(section: Mapping[str, Any]) -> int | None:
    """How many trials KerasTuner's Hyperband runs at most (its own bracket arithmetic,
    from ``HyperbandOracle._get_size``; fewer when a small space runs out of new points).
    None when ``max_epochs``, ``factor`` or ``hyperband_iterations`` is missing or outside
    what Hyperband can run (an imported ``oracle.json`` may say anything: a factor of 1
    would never shrink the brackets, and the loop below would not end)."""
    max_epochs, factor, iterations = (section.get("max_epochs"), section.get("factor"),
                                      section.get("hyperband_iterations"))
    if not all(isinstance(v, int) and not isinstance(v, bool)
               for v in (max_epochs, factor, iterations)):
        return None
    if not (1 <= max_epochs <= MAX_EPOCHS_LIMIT and 2 <= factor <= 1000
            and 1 <= iterations <= 1000):
        return None
    brackets, epochs = 0, float(max_epochs)
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    end_size0 = math.ceil(1 + math.log(max_epochs, factor))
    total = 0
    for bracket in range(brackets):
        for round_ in range(bracket + 1):
            total += math.ceil(end_size0 / (bracket + 1) * factor ** (bracket - round_))
    return total * iterations


def check(c: Any, section: Mapping[str, Any], kind: str, space: Mapping[str, Any],
          out: Mapping[str, Any], family: str | None) -> dict[str, Any]:
    get = section.get
    fields = {
        "max_epochs": c.integer("strategy.max_epochs", get("max_epochs", 20), 2, MAX_EPOCHS_LIMIT),
        "factor": c.integer("strategy.factor", get("factor", 3), 2, 100),
        "hyperband_iterations": c.integer("strategy.hyperband_iterations",
                                          get("hyperband_iterations", 1), 1, 100),
    }
    fields["max_trials"] = hyperband_trials(fields)
    return fields


def keras_tuner(kt: Any, spec: Mapping[str, Any], objective: Any, seed: int,
                failures: int) -> tuple[type, dict[str, Any]]:
    strategy = spec["strategy"]
    return kt.Hyperband, dict(objective=objective, seed=seed,
                              max_consecutive_failed_trials=failures,
                              max_epochs=strategy["max_epochs"], factor=strategy["factor"],
                              hyperband_iterations=strategy["hyperband_iterations"])


STRATEGY = register(Strategy(
    "hyperband", "Hyperband (KerasTuner)",
    "When training is long: many configurations get a few epochs and only the best are "
    "trained further.",
    ("keras",), check,
    options=("max_epochs", "factor", "hyperband_iterations", "executions_per_trial"),
    fields=("max_epochs", "factor", "hyperband_iterations"), keras_tuner=keras_tuner,
    panel="brackets", epochs_field="max_epochs", budget=hyperband_trials,
    oracle_classes=("HyperbandOracle",),
    oracle_fields=("max_epochs", "factor", "hyperband_iterations")))
