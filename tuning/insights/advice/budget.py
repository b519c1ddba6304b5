"""The budget: the best score so far flat for the last half of the trials (the space is
exhausted: stop sooner or change the space), or still falling steeply at the end (more
trials)."""
from __future__ import annotations

import math

from .context import RunContext, fmt
from .patch import change
from .registry import Rule, register
from .suggestion import Chart, Suggestion, evidence_confidence

MIN_TRIALS = 8
STEEP = 0.25   # the last quarter of the trials earned at least this share of the gain


def _trajectory(ctx: RunContext) -> list[float]:
    best, out = -math.inf, []
    for t in ctx.scored:
        best = max(best, ctx.goodness(t))
        out.append(best)
    return out


def _applies(ctx: RunContext) -> bool:
    chosen = ctx.strategy
    return chosen is not None and not chosen.is_tool and chosen.budget is None \
        and not chosen.exhausts_space and len(ctx.scored) >= MIN_TRIALS \
        and (ctx.spec.get("strategy") or {}).get("max_trials") is not None


def _chart(ctx: RunContext, marked_from: int, label: str) -> Chart:
    path = _trajectory(ctx)
    return Chart("lines", "trial", f"best {ctx.metric or 'score'} so far", series=(
        {"name": "best so far", "x": list(range(1, len(path) + 1)),
         "y": [ctx.sign * v for v in path], "marked": False},
        {"name": label,
         "x": list(range(marked_from + 1, len(path) + 1)),
         "y": [ctx.sign * v for v in path[marked_from:]], "marked": True}))


def budget(ctx: RunContext) -> list[Suggestion]:
    from .dead_zone import is_flat

    if not _applies(ctx) or is_flat(ctx):
        return []  # every trial alike: the dead zone rule speaks
    path = _trajectory(ctx)
    n = len(path)
    last_gain = max(i for i in range(n) if i == 0 or path[i] > path[i - 1])
    max_trials = int(ctx.spec["strategy"]["max_trials"])
    done = ctx.run.status.is_finished() or n >= max_trials
    total = path[-1] - path[0]
    if last_gain + 1 <= n / 2:
        new = max(MIN_TRIALS, math.ceil((last_gain + 1) * 1.5))
        if new >= max_trials:
            return []
        confidence, reason = evidence_confidence(n, (n - last_gain - 1) / n * 2)
        return [Suggestion(
            rule="budget_exhausted",
            title=f"The space looks exhausted: no better trial since trial {last_gain + 1} of "
                  f"{n}; stop sooner (max_trials {max_trials} → {new}) or change the space",
            evidence=(f"The best score so far, {fmt(ctx.sign * path[-1])}, was reached by the "
                      f"{last_gain + 1}th completed trial; the {n - last_gain - 1} trials since "
                      "found nothing better.",
                      f"Proposed: strategy.max_trials {max_trials} → {new} (1.5 times the trials "
                      "the best needed), or apply a range suggestion to search elsewhere."),
            confidence=confidence, confidence_reason=reason,
            changes=(change(ctx.spec, ("strategy", "max_trials"), new),),
            chart=_chart(ctx, last_gain, "flat since"), trials=(ctx.scored[last_gain].trial_key,))]
    quarter = max(1, n // 4)
    late = path[-1] - path[-1 - quarter]
    if not done or total <= 0 or late < STEEP * total or last_gain < n - quarter:
        return []
    from tuning.spec import MAX_TRIALS_LIMIT

    new = min(MAX_TRIALS_LIMIT, max_trials * 2)
    if new <= max_trials:
        return []
    confidence, reason = evidence_confidence(n, min(1.0, late / total * 2))
    return [Suggestion(
        rule="budget_too_small",
        title=f"The budget ran out while the search still improved: more trials "
              f"(max_trials {max_trials} → {new})",
        evidence=(f"The last {quarter} of {n} trials earned {late / total:.0%} of the whole "
                  f"gain ({fmt(ctx.sign * path[-1 - quarter])} → {fmt(ctx.sign * path[-1])}).",
                  f"Proposed: strategy.max_trials {max_trials} → {new}."),
        confidence=confidence, confidence_reason=reason,
        changes=(change(ctx.spec, ("strategy", "max_trials"), new),),
        chart=_chart(ctx, n - quarter - 1, "late gains"), trials=(ctx.scored[last_gain].trial_key,))]


register(Rule("budget", "the budget ran out early or late", budget, weight=0.7))
