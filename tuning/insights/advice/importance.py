"""Importance rules: a hyperparameter that barely moves the score (fix it at its best
value and spend the budget on the rest), and one that drives it (search it finer)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..analysis import hyperparameters
from .context import RunContext, fmt, is_range, position
from .patch import change
from .registry import Rule, register
from .suggestion import REMOVED, Chart, Suggestion, evidence_confidence

MIN_TRIALS = 10        # importance from fewer trials is mostly noise
UNIMPORTANT = 0.05     # share of the importance below which a hyperparameter does not matter
DOMINANT = 0.5         # share above which one hyperparameter drives the score
NARROWING = 0.7        # search finer only when the new range is at most 70% of the old
EDGE = 0.15            # as edge_of_range: a best value this close to an end is on the edge


def _importance(ctx: RunContext):
    if len(ctx.scored) < MIN_TRIALS:
        return None
    importance = pd.Series(ctx.importance, dtype=float)
    if importance.empty or float(importance.sum()) == 0:
        return None
    return importance


def _bars(importance, marked: set[str]) -> Chart:
    return Chart("bars", "hyperparameter", "importance", points=tuple(
        {"x": name, "y": round(float(v), 4), "marked": name in marked}
        for name, v in importance.items()))


def unimportant(ctx: RunContext) -> list[Suggestion]:
    importance = _importance(ctx)
    if importance is None:
        return []
    best = hyperparameters(ctx.ranked[0])
    weak = [n for n, v in importance.items() if v < UNIMPORTANT and n in best
            and ctx.space.get(n, {}).get("type") != "fixed"]
    if not weak or len(weak) == len(importance):
        return []
    changes = tuple(change(ctx.spec, ("search_space", n), {"type": "fixed", "value": best[n]})
                    for n in weak)
    confidence, reason = evidence_confidence(len(ctx.scored), 0.8, enough=30)
    names = ", ".join(weak)
    return [Suggestion(
        rule="unimportant",
        title=f"Fix {names} at the best trial's value: "
              + ("it barely moves" if len(weak) == 1 else "they barely move") + " the score",
        evidence=tuple(
            f"{n}: importance {importance[n]:.1%} of the total (below {UNIMPORTANT:.0%}); "
            f"the best trial used {fmt(best[n])}." for n in weak) + (
            f"Most of the score follows {importance.index[0]} ({importance.iloc[0]:.0%}); "
            "the budget is better spent there.",),
        confidence=confidence, confidence_reason=reason + "; importance is association "
                                                          "in the trials seen, not cause",
        changes=changes, chart=_bars(importance, set(weak)),
        trials=(ctx.ranked[0].trial_key,))]


def finer_range(hp: Mapping[str, Any], values: list[Any]) -> dict[str, Any] | None:
    """A range around ``values`` (the leaders'), padded by a tenth of their spread on the
    range's scale, kept inside the old range; None when it would not be much narrower."""
    spots = sorted(p for p in (position(hp, v) for v in values) if p is not None)
    if len(spots) < 2:
        return None
    pad = max(0.05, 0.1 * (spots[-1] - spots[0]))
    low, high = max(0.0, spots[0] - pad), min(1.0, spots[-1] + pad)
    if high - low > NARROWING:
        return None
    lo, hi = float(hp["min"]), float(hp["max"])

    def at(p: float) -> float:
        if hp.get("sampling") == "log":
            return 10 ** (math.log10(lo) + p * (math.log10(hi) - math.log10(lo)))
        return lo + p * (hi - lo)
    new = dict(hp)
    if hp["type"] == "int":
        step = int(hp.get("step") or 1)
        a = int(lo + math.floor((at(low) - lo) / step) * step)
        b = int(lo + math.ceil((at(high) - lo) / step) * step)
        if b <= a:
            return None
        if "step" in hp and hp["step"] > b - a:
            new.pop("step")
        new["min"], new["max"] = a, min(b, int(hi))
    else:
        new["min"], new["max"] = float(f"{at(low):.3g}"), float(f"{at(high):.3g}")
        if new["max"] <= new["min"]:
            return None
        if "step" in hp and hp["step"] > new["max"] - new["min"]:
            new.pop("step")
    if "default" in new and not new["min"] <= new["default"] <= new["max"]:
        new.pop("default")
    return new


def most_important(ctx: RunContext) -> list[Suggestion]:
    importance = _importance(ctx)
    if importance is None:
        return []
    name, share = importance.index[0], float(importance.iloc[0])
    hp = ctx.space.get(name, {})
    if share < DOMINANT:
        return []
    leaders = ctx.leaders()
    values = ctx.values(name, leaders)
    changes = []
    if is_range(hp):
        best = position(hp, values[0])
        if best is None or not EDGE < best < 1 - EDGE:
            return []  # the leaders press on an edge: widen first (edge_of_range)
        new = finer_range(hp, values)
        if new is None:
            return []
        for key in ("min", "max", "step", "default"):
            if hp.get(key) != new.get(key):
                changes.append(change(ctx.spec, ("search_space", name, key), new.get(key)
                                      if key in new else REMOVED))
        what = f"[{fmt(hp['min'])}, {fmt(hp['max'])}] → [{fmt(new['min'])}, {fmt(new['max'])}]"
    elif hp.get("type") == "choice":
        kept = [v for v in hp["values"] if v in values]
        if not 0 < len(kept) < len(hp["values"]):
            return []
        changes.append(change(ctx.spec, ("search_space", name, "values"), kept))
        if "default" in hp and hp["default"] not in kept:
            changes.append(change(ctx.spec, ("search_space", name, "default"), REMOVED))
        what = f"values {list(hp['values'])} → {kept}"
    else:
        return []
    confidence, reason = evidence_confidence(len(ctx.scored), min(1.0, share))
    return [Suggestion(
        rule="most_important",
        title=f"Search {name} finer: it drives {share:.0%} of the score ({what})",
        evidence=(f"{name} holds {share:.0%} of the importance; the next is "
                  f"{importance.index[1]} at {importance.iloc[1]:.0%}." if len(importance) > 1
                  else f"{name} holds {share:.0%} of the importance.",
                  f"The {len(leaders)} leading trials used {name} = "
                  + ", ".join(fmt(v) for v in values) + ".",
                  f"Proposed: {what}, so the next trials sample where the leaders are."),
        confidence=confidence, confidence_reason=reason,
        changes=tuple(changes), chart=_bars(importance, {name}),
        trials=tuple(t.trial_key for t in leaders))]


register(Rule("unimportant", "a hyperparameter that does not matter", unimportant, weight=0.8))
register(Rule("most_important", "the hyperparameter that matters most", most_important,
              weight=0.9))
