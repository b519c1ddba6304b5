"""Noise: repeated or near-identical configurations whose scores spread more than the
gaps between the leaders, so the ranking is partly luck → average more executions (Keras)
or more cross-validation folds (scikit-learn)."""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from storage import Trial

from ..analysis import hyperparameters
from .context import RunContext, fmt, is_range, position
from .patch import change
from .registry import Rule, register
from .suggestion import Chart, Suggestion, evidence_confidence

NEAR = 20          # numeric values in the same twentieth of their range count as the same
MIN_GROUPS = 1


def config_key(ctx: RunContext, trial: Trial) -> tuple[Any, ...]:
    values = hyperparameters(trial)
    key = []
    for name, hp in sorted(ctx.space.items()):
        if hp.get("type") == "fixed":
            continue
        value = values.get(name)
        if is_range(hp) and (spot := position(hp, value)) is not None:
            key.append((name, round(spot * NEAR)))
        else:
            key.append((name, repr(value)))
    return tuple(key)


def repeated_groups(ctx: RunContext) -> list[list[Trial]]:
    """Completed trials grouped by near-identical configuration, groups of two or more."""
    groups: dict[tuple[Any, ...], list[Trial]] = {}
    for t in ctx.scored:
        groups.setdefault(config_key(ctx, t), []).append(t)
    return [g for g in groups.values() if len(g) >= 2]


def leaders_gap(ctx: RunContext, count: int = 4) -> float | None:
    """The mean gap between consecutive leaders' scores (the best ``count``)."""
    top = [float(t.score) for t in ctx.ranked[:count]]
    if len(top) < 2:
        return None
    return abs(top[0] - top[-1]) / (len(top) - 1)


def noise(ctx: RunContext) -> list[Suggestion]:
    if ctx.is_tool or len(ctx.scored) < 4:
        return []
    groups = repeated_groups(ctx)
    if len(groups) < MIN_GROUPS:
        return []
    spreads = [max(float(t.score) for t in g) - min(float(t.score) for t in g) for g in groups]
    spread = statistics.median(spreads)
    gap = leaders_gap(ctx)
    if gap is None or spread <= 0 or spread <= gap:
        return []
    strategy = ctx.spec.get("strategy") or {}
    chosen = ctx.strategy
    if ctx.is_keras:
        if chosen is None or "executions_per_trial" not in chosen.options:
            return []
        current = int(strategy.get("executions_per_trial") or 1)
        path, new = ("strategy", "executions_per_trial"), max(3, current + 1)
        remedy = f"average {new} trainings per trial (executions_per_trial {current} → {new})"
    else:
        current = int(strategy.get("cv_folds") or 3)
        if current >= 10:
            return []
        path, new = ("strategy", "cv_folds"), 5 if current < 5 else 10
        remedy = f"score each trial on {new} cross-validation folds (cv_folds {current} → {new})"
    repeats = sum(len(g) for g in groups)
    confidence, reason = evidence_confidence(repeats, min(1.0, spread / gap / 3), enough=8)
    return [Suggestion(
        rule="noise",
        title=f"Scores are noisy: repeated configurations spread {fmt(spread)}, more than "
              f"the {fmt(gap)} between leaders; {remedy}",
        evidence=(f"{len(groups)} configuration(s) ran more than once (or nearly so), "
                  f"{repeats} trials in all; their scores spread by a median of {fmt(spread)}.",
                  f"The best {min(4, len(ctx.ranked))} trials are {fmt(gap)} apart on average, "
                  "so their order is partly luck.",
                  f"Proposed: {'.'.join(path)} {current} → {new}."),
        confidence=confidence, confidence_reason=reason,
        changes=(change(ctx.spec, path, new),), chart=_groups_chart(groups),
        trials=tuple(t.trial_key for g in groups for t in g))]


def _groups_chart(groups: Sequence[Sequence[Trial]]) -> Chart:
    points = tuple({"trial": t.trial_key, "x": f"config {i + 1}", "y": float(t.score),
                    "marked": True} for i, g in enumerate(groups) for t in g)
    return Chart("scatter", "repeated configuration", "score", points=points)


register(Rule("noise", "repeated configurations that score differently", noise, weight=0.9))
