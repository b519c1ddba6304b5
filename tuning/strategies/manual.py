"""Manual tuning made systematic: what sequential tuning and random sampling will try.

Pure functions over a normalised search space (no TensorFlow, no KerasTuner): the spec
validator uses them to count trials before launch, the oracles to propose values, and
the tests to check exactly what was tried.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tuning import catalog

Space = Mapping[str, Mapping[str, Any]]
LIST_AT_MOST = 100_000


class _Steps(Sequence):
    """``min + i * step`` for ``i < count``, computed on demand: a range of 10**12 steps
    costs nothing until it is walked, so counting it (the validator does) is instant."""

    def __init__(self, low: float, step: float, count: int):
        self.low, self.step, self.count = low, step, count

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.count))]
        if i < 0:
            i += self.count
        if not 0 <= i < self.count:
            raise IndexError(i)
        return round(self.low + i * self.step, 12)

    def __contains__(self, value: object) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        i = round((value - self.low) / self.step)
        return 0 <= i < self.count and self[i] == value

    def __eq__(self, other: object) -> bool:
        return list(self) == (list(other) if isinstance(other, Sequence) else other)


def candidate_values(hp: Mapping[str, Any]) -> Sequence[Any] | None:
    """The values a grid or a sequential stage visits for one hyperparameter (None if continuous).

    A list, except for an integer or stepped float range of more than ``LIST_AT_MOST``
    values: that comes back as a lazy sequence (``range``, ``_Steps``) whose ``len`` and
    ``in`` are instant, so a range of 10**12 steps is counted and refused, not built."""
    kind = hp["type"]
    if kind == "fixed":
        return [hp["value"]]
    if kind == "bool":
        return [False, True]
    if kind == "choice":
        return list(hp["values"])
    if kind == "int":
        if hp.get("sampling") == "log":
            values, v = [], hp["min"]
            while v <= hp["max"]:
                values.append(v)
                v *= 2
            return values
        values = range(hp["min"], hp["max"] + 1, hp.get("step", 1))
        return list(values) if len(values) <= LIST_AT_MOST else values
    step = hp.get("step")
    if step is None:
        return None
    count = int(math.floor((hp["max"] - hp["min"]) / step + 1e-9)) + 1
    steps = _Steps(hp["min"], step, count)
    return list(steps) if count <= LIST_AT_MOST else steps


def default_value(name: str, hp: Mapping[str, Any], family: str | None) -> Any:
    """The value a hyperparameter holds before (or outside) its own sequential stage.

    Its ``default`` if given; else the family's own default when it is a candidate
    (the MLP's learning rate 0.001, an estimator's constructor default); else the
    middle candidate.
    """
    if "default" in hp:
        return hp["default"]
    if hp["type"] == "fixed":
        return hp["value"]
    values = candidate_values(hp) or [hp["min"], hp["max"]]
    family_default = _family_default(name, family)
    if family_default is not None and family_default in values:
        return family_default
    return values[len(values) // 2]


def _family_default(name: str, family: str | None) -> Any:
    if family == "mlp":
        return catalog.MLP_DEFAULTS.get(name)
    if family == "cnn":
        return catalog.CNN_DEFAULTS.get(name)
    if family in catalog.FAMILIES:
        import importlib

        for _, path in catalog.FAMILIES[family].estimators:
            module, cls = path.split(":")
            params = getattr(importlib.import_module(module), cls)().get_params()
            if name in params:
                return params[name]
    return None


def sequential_plan(space: Space, order: Sequence[str],
                    family: str | None) -> list[tuple[int, str, Any]]:
    """(stage, hyperparameter, candidate) for every trial, in the order they run.

    From stage 2 on, the candidate equal to the hyperparameter's default is left out: with
    the earlier winners fixed and the rest at their defaults, it is exactly the previous
    stage's winning trial, which is carried into the stage instead of trained again.
    """
    plan = []
    for stage, name in enumerate(order, start=1):
        carried = default_value(name, space[name], family) if stage > 1 else _NOTHING
        plan += [(stage, name, value) for value in candidate_values(space[name]) or []
                 if value != carried]
    return plan


_NOTHING = object()


def sequential_values(space: Space, order: Sequence[str], family: str | None,
                      stage: int, name: str, value: Any,
                      best_of_stage: Mapping[int, Any]) -> dict[str, Any]:
    """Values of one sequential trial: earlier stages' winners fixed, the rest at defaults."""
    values = {n: default_value(n, hp, family) for n, hp in space.items()}
    for earlier, hp_name in enumerate(order[:stage - 1], start=1):
        if earlier in best_of_stage:
            values[hp_name] = best_of_stage[earlier]
    values[name] = value
    return values


def sample_value(hp: Mapping[str, Any], rng: np.random.Generator) -> Any:
    kind = hp["type"]
    if kind == "fixed":
        return hp["value"]
    if kind == "bool":
        return bool(rng.integers(0, 2))
    if kind == "choice":
        return hp["values"][int(rng.integers(0, len(hp["values"])))]
    low, high = hp["min"], hp["max"]
    if hp.get("sampling") == "log":
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    else:
        value = rng.uniform(low, high)
    step = hp.get("step")
    if step:
        value = low + round((value - low) / step) * step
        value = min(value, high)
    if kind == "int":
        return int(min(max(round(value), low), high))
    return float(value)


def random_points(space: Space, samples: int, seed: int, combine: bool) -> list[dict[str, Any]]:
    """Seeded random samples of the space.

    ``combine=False``: ``samples`` points, every hyperparameter drawn together.
    ``combine=True``: ``samples`` distinct values drawn for each hyperparameter on its own,
    then every combination of them (a grid over random values).
    """
    rng = np.random.default_rng(seed)
    names = list(space)
    if not combine:
        return [{n: sample_value(space[n], rng) for n in names} for _ in range(samples)]
    per_hp = [_distinct_samples(space[n], samples, rng) for n in names]
    return [dict(zip(names, combo)) for combo in itertools.product(*per_hp)]


def _distinct_samples(hp: Mapping[str, Any], samples: int, rng: np.random.Generator) -> list[Any]:
    discrete = candidate_values(hp)
    if discrete is not None and len(discrete) <= samples:
        return discrete
    if discrete is not None:
        picks = rng.choice(len(discrete), size=samples, replace=False)
        return [discrete[i] for i in sorted(picks)]
    values: list[Any] = []
    for _ in range(samples * 20):
        value = sample_value(hp, rng)
        if value not in values:
            values.append(value)
        if len(values) == samples:
            break
    return sorted(values)


def combined_size(space: Space, samples: int) -> int:
    total = 1
    for hp in space.values():
        discrete = candidate_values(hp)
        total *= min(samples, len(discrete)) if discrete is not None else samples
    return total
