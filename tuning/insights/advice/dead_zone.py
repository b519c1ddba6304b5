"""A dead zone: every completed trial scored the same, so nothing in the space moves the
score (a model that predicts one class whatever it is given) → widen every range, by a
decade on a log scale and by its width on a linear one, within each value's domain."""
from __future__ import annotations

from .context import RunContext, fmt, is_range
from .edges import domain
from .patch import change
from .registry import Rule, register
from .suggestion import Chart, Suggestion, evidence_confidence

MIN_TRIALS = 5


def is_flat(ctx: RunContext) -> bool:
    scores = [float(t.score) for t in ctx.scored]
    return len(scores) >= MIN_TRIALS and max(scores) - min(scores) <= 1e-9 * max(
        1.0, abs(scores[0]))


def _wider(name: str, hp, family: str) -> tuple[float, float]:
    low, high = domain(name, hp, family)
    lo, hi = float(hp["min"]), float(hp["max"])
    if hp.get("sampling") == "log":
        new_lo, new_hi = lo / 10, hi * 10
    else:
        new_lo, new_hi = lo - (hi - lo), hi + (hi - lo)
    if low is not None:
        new_lo = max(new_lo, low)
    if high is not None:
        new_hi = min(new_hi, high)
    if hp["type"] == "int":
        return int(round(new_lo)), int(round(new_hi))
    return float(f"{new_lo:.3g}"), float(f"{new_hi:.3g}")


def dead_zone(ctx: RunContext) -> list[Suggestion]:
    if not is_flat(ctx):
        return []
    changes = []
    for name, hp in ctx.space.items():
        if not is_range(hp):
            continue
        lo, hi = _wider(name, hp, ctx.run.model_family)
        if lo < hp["min"]:
            changes.append(change(ctx.spec, ("search_space", name, "min"), lo))
        if hi > hp["max"]:
            changes.append(change(ctx.spec, ("search_space", name, "max"), hi))
    if not changes:
        return []
    score = ctx.scored[0].score
    confidence, reason = evidence_confidence(len(ctx.scored), 0.9, enough=10)
    return [Suggestion(
        rule="dead_zone",
        title=f"Every trial scored {fmt(score)}: the space sits in a dead zone; widen every "
              "range",
        evidence=(f"All {len(ctx.scored)} completed trials scored exactly {fmt(score)}: no "
                  "value tried moves the score (a model stuck on one answer).",
                  "Proposed: " + "; ".join(f"{c.field} {fmt(c.old)} → {fmt(c.new)}"
                                           for c in changes) + "."),
        confidence=confidence, confidence_reason=reason + "; which way to go is unknown",
        changes=tuple(changes),
        chart=Chart("scatter", "trial", ctx.metric or "score", points=tuple(
            {"trial": t.trial_key, "x": t.number + 1, "y": float(t.score), "marked": True}
            for t in ctx.scored)),
        trials=tuple(t.trial_key for t in ctx.scored))]


register(Rule("dead_zone", "every trial scored the same", dead_zone, weight=1.3))
