"""What every rule reads: one run's finished trials, their curves and its spec, with the
helpers rules share (oriented scores, the leaders, where a value sits in its range)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from storage import Epoch, Run, Trial, TrialStatus
from tuning import catalog, strategies

from ..analysis import hyperparameters
from ..curves import finite_number

# Trials whose score says something about their configuration.
FINISHED = (TrialStatus.COMPLETED, TrialStatus.PRUNED)


@dataclass(frozen=True)
class Peer:
    """Another run to compare with (a race on the same space): the run and its trials."""
    run: Run
    trials: tuple[Trial, ...]


@dataclass
class RunContext:
    """One run as the rules see it. ``trials`` are every trial, in number order;
    ``epochs`` every epoch row; ``peers`` other runs over the same space and data."""
    run: Run
    trials: Sequence[Trial]
    epochs: Sequence[Epoch]
    peers: Sequence[Peer] = field(default_factory=tuple)
    # What rules compute per trial and share (each trial's curve flags, ...), by name.
    memo: dict[str, dict[int, Any]] = field(default_factory=dict, repr=False)

    @property
    def spec(self) -> Mapping[str, Any]:
        return self.run.spec

    @property
    def space(self) -> Mapping[str, Mapping[str, Any]]:
        return self.spec.get("search_space") or {}

    @property
    def direction(self) -> str:
        return self.run.direction

    @property
    def sign(self) -> float:
        return -1.0 if self.direction == "min" else 1.0

    @property
    def metric(self) -> str:
        return str(self.spec.get("objective", {}).get("metric") or "")

    @property
    def strategy(self) -> strategies.Strategy | None:
        return strategies.find(self.run.strategy)

    @property
    def is_keras(self) -> bool:
        family = catalog.FAMILIES.get(self.run.model_family)
        return family is not None and family.kind == "keras"

    @property
    def is_tool(self) -> bool:
        chosen = self.strategy
        return chosen is not None and chosen.is_tool

    @cached_property
    def finished(self) -> list[Trial]:
        """Trials that ended with a score (completed or pruned), in number order."""
        return sorted((t for t in self.trials if t.status in FINISHED and _finite(t.score)),
                      key=lambda t: (t.number, t.id))

    @cached_property
    def scored(self) -> list[Trial]:
        """Completed trials with a score: the ones a leaderboard ranks."""
        return [t for t in self.finished if t.status is TrialStatus.COMPLETED]

    @cached_property
    def importance(self) -> dict[str, float]:
        """Each tuned hyperparameter's share of the importance (``hp_importance``, read
        once per run); empty with fewer than 4 completed trials or one tuned."""
        from ..analysis import hp_importance

        tuned = {n: hp for n, hp in self.space.items() if hp.get("type") != "fixed"}
        if len(tuned) < 2:
            return {}
        series = hp_importance(self.scored, tuned, self.direction,
                               seed=int(self.spec.get("seed") or 0))
        return {str(k): float(v) for k, v in series.items()}

    def goodness(self, trial: Trial) -> float:
        """The score oriented so that larger is better."""
        return self.sign * float(trial.score)

    @cached_property
    def ranked(self) -> list[Trial]:
        """Completed trials, best first (lower number on ties)."""
        return sorted(self.scored, key=lambda t: (-self.goodness(t), t.number))

    def leaders(self, share: float = 0.25, at_least: int = 3) -> list[Trial]:
        """The best ``share`` of the completed trials, never fewer than ``at_least``."""
        count = max(at_least, math.ceil(share * len(self.ranked)))
        return self.ranked[:count]

    @cached_property
    def curves(self) -> dict[int, list[dict[str, float]]]:
        """Each trial's first execution, epoch by epoch (metrics as recorded)."""
        by_trial: dict[int, dict[int, dict[str, float]]] = {}
        for e in self.epochs:
            if e.execution == 0:
                by_trial.setdefault(e.trial_id, {})[e.epoch] = dict(e.metrics)
        return {tid: [rows[k] for k in sorted(rows)] for tid, rows in by_trial.items()}

    def curve(self, trial: Trial, metric: str | None = None) -> list[float | None]:
        name = metric or self.metric
        return [finite_number(row.get(name)) for row in self.curves.get(trial.id, [])]

    def values(self, name: str, trials: Sequence[Trial] | None = None) -> list[Any]:
        return [hyperparameters(t).get(name) for t in (self.finished if trials is None
                                                         else trials)]


def _finite(value: Any) -> bool:
    return finite_number(value) is not None


def position(hp: Mapping[str, Any], value: Any) -> float | None:
    """Where ``value`` sits in a range hyperparameter, 0 at its min and 1 at its max, on
    the range's own scale (log10 for log sampling); None outside the range's type."""
    number = finite_number(value)
    if number is None or isinstance(value, bool) or hp.get("type") not in ("int", "float"):
        return None
    low, high = float(hp["min"]), float(hp["max"])
    if high <= low:
        return None
    if hp.get("sampling") == "log":
        if number <= 0 or low <= 0:
            return None
        low, high, number = math.log10(low), math.log10(high), math.log10(number)
    return (number - low) / (high - low)


def is_range(hp: Mapping[str, Any]) -> bool:
    return hp.get("type") in ("int", "float") and float(hp["max"]) > float(hp["min"])


def fmt(value: Any) -> str:
    """A number as rules quote it: 4 significant digits."""
    number = finite_number(value)
    if number is None or isinstance(value, (bool, str)):
        return str(value)
    if isinstance(value, int):
        return str(value)
    return f"{number:.4g}"
