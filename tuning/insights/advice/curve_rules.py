"""Curve rules, from the flags each Keras trial's curve carries (``insights.curves``):
overfitting on the best trials, divergence at high learning rates, no learning at low
ones."""
from __future__ import annotations

import statistics
from collections.abc import Sequence

from storage import Trial, TrialStatus

from ..analysis import hyperparameters
from ..curves import diagnose, finite_number
from .context import RunContext, fmt, is_range
from .patch import change
from .registry import Rule, register
from .suggestion import Change, Chart, Suggestion, evidence_confidence

EARLY_STOPPING = {"monitor": "val_loss", "patience": 3, "min_delta": 0.0,
                  "restore_best_weights": True}
DROPOUT_CAP = 0.7
LR = "learning_rate"


def flags_of(ctx: RunContext, trial: Trial) -> list[str]:
    """The trial's stored flags, or those its stored curve earns when none were stored."""
    if trial.flags:
        return list(trial.flags)
    memo = ctx.memo.setdefault("flags", {})
    if trial.id not in memo:
        curve = ctx.curves.get(trial.id)
        memo[trial.id] = diagnose(curve) if curve else []
    return memo[trial.id]


def flagged(ctx: RunContext, trials: Sequence[Trial], kind: str) -> list[Trial]:
    prefix = kind + ":"
    diverged_failure = kind == "divergence"
    out = []
    for t in trials:
        if any(f.startswith(prefix) for f in flags_of(ctx, t)):
            out.append(t)
        elif diverged_failure and t.status is TrialStatus.FAILED and "nan" in (
                t.message or "").lower():
            out.append(t)
    return out


def _lr_chart(ctx: RunContext, marked: set[str], label: str, bound: float | None) -> Chart:
    points = []
    for t in ctx.trials:
        lr = finite_number(hyperparameters(t).get(LR))
        if lr is None or not t.status.is_finished():
            continue
        score = finite_number(t.score)
        points.append({"trial": t.trial_key, "x": lr, "y": score,
                       "marked": t.trial_key in marked})
    bounds = () if bound is None else ({"x": bound, "label": label},)
    return Chart("scatter", LR, ctx.metric or "score", points=tuple(points), x_log=True,
                 bounds=bounds)


def overfitting(ctx: RunContext) -> list[Suggestion]:
    if not ctx.is_keras or len(ctx.scored) < 3:
        return []
    leaders = ctx.leaders(share=0.25, at_least=3)
    over = flagged(ctx, leaders, "overfitting")
    if len(over) < 2 or len(over) * 2 < len(leaders):
        return []
    changes: list[Change] = []
    chosen = ctx.strategy
    training = ctx.spec.get("training") or {}
    if chosen is not None and chosen.early_stopping and not training.get("early_stopping"):
        changes.append(change(ctx.spec, ("training", "early_stopping"), dict(EARLY_STOPPING)))
    if ctx.run.model_family == "mlp":
        changes += _more_dropout(ctx)
    if not changes:
        return []
    confidence, reason = evidence_confidence(len(leaders), len(over) / len(leaders), enough=5)
    first = next(f for f in flags_of(ctx, over[0]) if f.startswith("overfitting"))
    return [Suggestion(
        rule="overfitting",
        title=f"The best trials overfit ({len(over)} of the top {len(leaders)}): "
              + " and ".join(("early stopping" if c.path[-1] == "early_stopping"
                              else "more dropout") for c in changes[:2]),
        evidence=(f"Trials {', '.join(t.trial_key for t in over)} are flagged: validation "
                  "loss rose while training loss fell.",
                  f"Trial {over[0].trial_key}: {first}.",
                  "Proposed: " + "; ".join(f"{c.field} → {c.new}" for c in changes) + "."),
        confidence=confidence, confidence_reason=reason,
        changes=tuple(changes), chart=_loss_chart(ctx, over),
        trials=tuple(t.trial_key for t in over))]


def _more_dropout(ctx: RunContext) -> list[Change]:
    hp = ctx.space.get("dropout")
    if hp is None:
        return [change(ctx.spec, ("search_space", "dropout"),
                       {"type": "float", "min": 0.1, "max": 0.5, "step": 0.1})]
    if is_range(hp) and float(hp["max"]) < DROPOUT_CAP:
        new_max = round(min(DROPOUT_CAP, float(hp["max"]) + 0.2), 2)
        return [change(ctx.spec, ("search_space", "dropout", "max"), new_max)]
    if hp.get("type") == "fixed" and float(hp.get("value") or 0) < DROPOUT_CAP:
        low = float(hp.get("value") or 0)
        return [change(ctx.spec, ("search_space", "dropout"),
                       {"type": "float", "min": low, "max": round(min(DROPOUT_CAP, low + 0.3), 2)})]
    return []


def _loss_chart(ctx: RunContext, trials: Sequence[Trial]) -> Chart:
    series = []
    for t in trials[:3]:
        for metric in ("loss", "val_loss"):
            values = ctx.curve(t, metric)
            series.append({"name": f"{t.trial_key} {metric}", "x": list(range(1, len(values) + 1)),
                           "y": values, "marked": metric == "val_loss"})
    return Chart("lines", "epoch", "loss", series=tuple(series))


def _rates(ctx: RunContext, trials: Sequence[Trial]) -> list[float]:
    return [lr for lr in (finite_number(hyperparameters(t).get(LR)) for t in trials)
            if lr is not None]


def divergence(ctx: RunContext) -> list[Suggestion]:
    hp = ctx.space.get(LR, {})
    if not ctx.is_keras or not is_range(hp):
        return []
    finished = [t for t in ctx.trials if t.status.is_finished() and t.status is not
                TrialStatus.RUNNING]
    bad = flagged(ctx, finished, "divergence")
    good = [t for t in finished if t not in bad and t.status is TrialStatus.COMPLETED]
    bad_lr, good_lr = _rates(ctx, bad), _rates(ctx, good)
    if len(bad_lr) < 2 or not good_lr or min(bad_lr) <= statistics.median(good_lr):
        return []
    new_max = float(f"{min(bad_lr) * 0.7:.2g}")
    if new_max <= float(hp["min"]) or new_max >= float(hp["max"]):
        return []
    confidence, reason = evidence_confidence(len(finished), min(1.0, len(bad) / 3), enough=12)
    return [Suggestion(
        rule="divergence",
        title=f"Lower the top of {LR}: training diverges at high rates "
              f"({fmt(hp['max'])} → {fmt(new_max)})",
        evidence=(f"{len(bad)} trials diverged, at {LR} "
                  + ", ".join(fmt(v) for v in sorted(bad_lr)) + ".",
                  f"The trials that trained used {fmt(min(good_lr))} to {fmt(max(good_lr))} "
                  f"(median {fmt(statistics.median(good_lr))}).",
                  f"Proposed: max {fmt(hp['max'])} → {fmt(new_max)}, below the lowest "
                  "diverging rate."),
        confidence=confidence, confidence_reason=reason,
        changes=(change(ctx.spec, ("search_space", LR, "max"), new_max),),
        chart=_lr_chart(ctx, {t.trial_key for t in bad}, "proposed max", new_max),
        trials=tuple(t.trial_key for t in bad))]


def no_learning(ctx: RunContext) -> list[Suggestion]:
    hp = ctx.space.get(LR, {})
    if not ctx.is_keras or not is_range(hp):
        return []
    finished = [t for t in ctx.trials if t.status.is_finished()]
    flat = flagged(ctx, finished, "no learning")
    rest = [t for t in finished if t not in flat and t.status is TrialStatus.COMPLETED]
    flat_lr, rest_lr = _rates(ctx, flat), _rates(ctx, rest)
    if len(flat_lr) < 2 or not rest_lr or max(flat_lr) >= statistics.median(rest_lr):
        return []
    new_min = float(f"{max(flat_lr) * 1.5:.2g}")
    if new_min >= float(hp["max"]) or new_min <= float(hp["min"]):
        return []
    confidence, reason = evidence_confidence(len(finished), min(1.0, len(flat) / 3), enough=12)
    return [Suggestion(
        rule="no_learning",
        title=f"Raise the bottom of {LR}: trials at low rates do not learn "
              f"({fmt(hp['min'])} → {fmt(new_min)})",
        evidence=(f"{len(flat)} trials barely moved their loss, at {LR} "
                  + ", ".join(fmt(v) for v in sorted(flat_lr)) + ".",
                  f"The trials that learned used a median rate of "
                  f"{fmt(statistics.median(rest_lr))}.",
                  f"Proposed: min {fmt(hp['min'])} → {fmt(new_min)}; or run the "
                  "learning-rate range test (strategy lr_range_test) to find the range."),
        confidence=confidence, confidence_reason=reason,
        changes=(change(ctx.spec, ("search_space", LR, "min"), new_min),),
        chart=_lr_chart(ctx, {t.trial_key for t in flat}, "proposed min", new_min),
        trials=tuple(t.trial_key for t in flat))]


register(Rule("overfitting", "the best trials overfit", overfitting, weight=1.0))
register(Rule("divergence", "divergence at high learning rates", divergence, weight=1.1))
register(Rule("no_learning", "no learning at low learning rates", no_learning, weight=1.0))
