"""Still improving: the best trials' validation curve still climbs at its last epoch, so
they would gain from more epochs (or a larger Hyperband ``max_epochs``)."""
from __future__ import annotations

from storage import Trial

from .context import RunContext, fmt
from .patch import change
from .registry import Rule, register
from .suggestion import Chart, Suggestion, evidence_confidence

MIN_EPOCHS = 3
LATE_SHARE = 0.15   # the last third of the curve earned at least this share of its gain


def still_improving(ctx: RunContext, trial: Trial) -> float | None:
    """The share of its whole gain the trial's objective curve earned in its last third,
    when that curve ends at its best; None otherwise (or when it is too short)."""
    if any(f.startswith("early stopped") for f in trial.flags):
        return None
    values = [v for v in ctx.curve(trial) if v is not None]
    if len(values) < MIN_EPOCHS:
        return None
    oriented = [ctx.sign * v for v in values]
    total = oriented[-1] - oriented[0]
    if total <= 0 or oriented[-1] < max(oriented):
        return None
    late = oriented[-1] - oriented[max(0, len(oriented) - 1 - max(1, len(oriented) // 3))]
    share = late / total
    return share if share >= LATE_SHARE else None


def more_epochs(ctx: RunContext) -> list[Suggestion]:
    if not ctx.is_keras or ctx.is_tool or len(ctx.scored) < 3:
        return []
    leaders = ctx.leaders(share=0.25, at_least=3)
    rising = [(t, s) for t in leaders if (s := still_improving(ctx, t)) is not None]
    if len(rising) < 2 or len(rising) * 2 < len(leaders):
        return []
    from tuning.spec import MAX_EPOCHS_LIMIT

    chosen = ctx.strategy
    field = chosen.epochs_field if chosen is not None else None
    path = ("strategy", field) if field else ("training", "epochs")
    current = int((ctx.spec.get(path[0]) or {}).get(path[1]) or 0)
    if not current or current >= MAX_EPOCHS_LIMIT:
        return []
    new = min(MAX_EPOCHS_LIMIT, current * 2)
    confidence, reason = evidence_confidence(len(leaders), len(rising) / len(leaders), enough=5)
    series = tuple({"name": t.trial_key, "x": list(range(1, len(ctx.curve(t)) + 1)),
                    "y": ctx.curve(t), "marked": True} for t, _ in rising[:5])
    return [Suggestion(
        rule="still_improving",
        title=f"Train longer: the best trials still improve at their last epoch "
              f"({'.'.join(path)} {current} → {new})",
        evidence=tuple(
            f"Trial {t.trial_key}: {ctx.metric} {fmt(ctx.curve(t)[0])} → "
            f"{fmt(ctx.curve(t)[-1])}, {share:.0%} of the gain in the last third of its "
            "epochs, best at the last one." for t, share in rising) + (
            f"Proposed: {'.'.join(path)} {current} → {new}.",),
        confidence=confidence, confidence_reason=reason,
        changes=(change(ctx.spec, path, new),),
        chart=Chart("lines", "epoch", ctx.metric, series=series),
        trials=tuple(t.trial_key for t, _ in rising))]


register(Rule("still_improving", "the best trials still improve at the last epoch",
              more_epochs, weight=1.0))
