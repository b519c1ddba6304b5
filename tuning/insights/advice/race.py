"""A race: runs on the same data, model and space under other strategies. Which reached
the best score first, by trials and by wall time → use that strategy."""
from __future__ import annotations

import copy
import math
from collections.abc import Sequence

from storage import Run, Trial, TrialStatus, plain_json

from .context import Peer, RunContext, fmt
from .patch import change
from .registry import Rule, register
from .suggestion import Chart, Suggestion, evidence_confidence

MIN_TRIALS = 3


def same_race(a: Run, b: Run) -> bool:
    """Two runs of one race: the same data, model, search space and objective."""
    keys = ("data", "model", "search_space", "objective")
    return a.id != b.id and all(plain_json(a.spec.get(k)) == plain_json(b.spec.get(k))
                                for k in keys) and a.strategy != b.strategy


def _reach(run: Run, trials: Sequence[Trial], target: float) -> tuple[int, float] | None:
    """Trials and seconds the run needed to first reach ``target`` (larger is better)."""
    sign = -1.0 if run.direction == "min" else 1.0
    done = sorted((t for t in trials if t.status is TrialStatus.COMPLETED and t.score is not None
                   and math.isfinite(t.score) and t.finished_at is not None),
                  key=lambda t: (t.finished_at, t.number))
    starts = [t.started_at for t in trials if t.started_at is not None]
    origin = run.started_at or (min(starts) if starts else 0.0)
    for i, t in enumerate(done, start=1):
        if sign * t.score >= target - 1e-12:
            return i, float(t.finished_at - origin)
    return None


def race(ctx: RunContext) -> list[Suggestion]:
    entrants = [Peer(ctx.run, tuple(ctx.trials))] + [p for p in ctx.peers
                                                     if same_race(ctx.run, p.run)]
    scored = [(p, [t for t in p.trials if t.status is TrialStatus.COMPLETED
                   and t.score is not None and math.isfinite(t.score)]) for p in entrants]
    scored = [(p, s) for p, s in scored if len(s) >= MIN_TRIALS]
    if len(scored) < 2 or scored[0][0].run.id != ctx.run.id:
        return []
    # The level every entrant reached: the worst of their bests.
    target = min(max(ctx.sign * t.score for t in s) for _, s in scored)
    reached = {p.run.id: _reach(p.run, p.trials, target) for p, _ in scored}
    order = sorted(scored, key=lambda ps: (reached[ps[0].run.id] or (10**9, 0.0)))
    winner = order[0][0].run
    if winner.id == ctx.run.id or reached[winner.id] == reached[ctx.run.id]:
        return []
    mine, theirs = reached[ctx.run.id], reached[winner.id]
    fastest = min(scored, key=lambda ps: reached[ps[0].run.id][1])[0].run
    n = min(len(s) for _, s in scored)
    confidence, reason = evidence_confidence(n, 0.7)
    section = copy.deepcopy(plain_json(winner.spec.get("strategy") or {}))
    section["max_trials"] = (ctx.spec.get("strategy") or {}).get("max_trials",
                                                                 section.get("max_trials"))
    if section.get("max_trials") is None:
        section.pop("max_trials", None)
    return [Suggestion(
        rule="race",
        title=f"{winner.strategy} reached the best level first in the race: use it "
              f"({mine[0]} trials here, {theirs[0]} there)",
        evidence=tuple(
            f"Run {p.run.id} ({p.run.strategy}): reached {fmt(ctx.sign * target)} after "
            f"{reached[p.run.id][0]} trials, {reached[p.run.id][1]:.0f} s; best "
            f"{fmt(max(ctx.sign * t.score for t in s) * ctx.sign)}."
            for p, s in order) + (
            f"By wall time the first was run {fastest.id} ({fastest.strategy}).",
            f"Proposed: strategy {ctx.run.strategy} → {winner.strategy} (its settings from "
            f"run {winner.id}, this run's max_trials)."),
        confidence=confidence, confidence_reason=reason + "; one race on one seed",
        changes=(change(ctx.spec, ("strategy",), section),),
        chart=Chart("bars", "run", "trials to reach the level", points=tuple(
            {"x": f"{p.run.id} {p.run.strategy}", "y": reached[p.run.id][0],
             "marked": p.run.id == winner.id} for p, _ in order)),
        trials=())]


register(Rule("race", "which strategy of a race got there first", race, weight=0.8))
