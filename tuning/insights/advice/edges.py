"""Range rules: the best trials sit at the edge of a range (widen it that way), and a
linear range over two decades or more whose good values crowd its low end (sample it on
a log scale)."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .context import RunContext, fmt, is_range, position
from .patch import change
from .registry import Rule, register
from .suggestion import REMOVED, Chart, Suggestion, evidence_confidence

MIN_TRIALS = 6
EDGE = 0.15            # the outer part of a range: its first and last 15%
LEADERS_AT_EDGE = 0.7  # the leaders' mean position beyond this (or below 1 - this)
LOG_DECADES = 2.0
LOG_CROWD = 0.2        # good values within the lowest fifth of a linear range

# Bounds a hyperparameter can never cross, by name: (lowest, highest); None is open.
DOMAINS: dict[str, tuple[float | None, float | None]] = {
    "dropout": (0.0, 0.9), "learning_rate": (1e-7, 10.0), "l2": (0.0, 10.0),
    "num_layers": (1, 16), "units": (1, 4096), "batch_size": (1, 65536),
    "subsample": (0.05, 1.0), "l1_ratio": (0.0, 1.0), "max_samples": (0.05, 1.0),
    "max_features": (0.05, 1.0), "validation_fraction": (0.05, 0.9), "tol": (1e-12, None),
}


def domain(name: str, hp: Mapping[str, Any], family: str) -> tuple[float | None, float | None]:
    """Where a range may go: the named domain, else non-negative when it starts so (and at
    least 1 for an integer starting there); gradient boosting's rate stays at most 1."""
    if name.startswith("units_"):
        name = "units"
    low, high = DOMAINS.get(name, (None, None))
    if name == "learning_rate" and family == "gradient_boosting":
        high = 1.0
    if low is None and float(hp["min"]) >= 0:
        low = 1 if hp["type"] == "int" and hp["min"] >= 1 else 0.0
    if hp.get("sampling") == "log" and (low is None or low <= 0):
        low = float(hp["min"]) / 1000
    return low, high


def _round(value: float, kind: str) -> float | int:
    if kind == "int":
        return int(round(value))
    return float(f"{value:.3g}")


def widened(name: str, hp: Mapping[str, Any], up: bool, family: str) -> Any:
    """The new bound when the range grows on one side: by half its width on a linear
    scale (whole steps where it has one), by a decade on a log scale; None when the
    bound already sits at the limit of its domain."""
    low, high = domain(name, hp, family)
    kind, lo, hi = hp["type"], float(hp["min"]), float(hp["max"])
    if hp.get("sampling") == "log":
        target = hi * 10 if up else lo / 10
    else:
        grow = 0.5 * (hi - lo)
        step = hp.get("step")
        if step:
            grow = max(1, round(grow / step)) * step
        elif kind == "int":
            grow = max(1, round(grow))
        target = hi + grow if up else lo - grow
    if up and high is not None:
        target = min(target, high)
    if not up and low is not None:
        target = max(target, low)
    target = _round(target, kind)
    current = hi if up else lo
    if (up and target <= current) or (not up and target >= current):
        return None
    return target


def _scatter(ctx: RunContext, name: str, hp: Mapping[str, Any], leaders: set[str],
             extra: dict[str, Any] | None = None) -> Chart:
    points = tuple({"trial": t.trial_key, "x": v, "y": float(t.score),
                    "marked": t.trial_key in leaders}
                   for t, v in zip(ctx.scored, ctx.values(name, ctx.scored))
                   if isinstance(v, (int, float)) and not isinstance(v, bool))
    bounds = [{"x": hp["min"], "label": "min"}, {"x": hp["max"], "label": "max"}]
    if extra:
        bounds.append(extra)
    return Chart("scatter", name, ctx.metric or "score", points=points,
                 x_log=hp.get("sampling") == "log", bounds=tuple(bounds))


def edge_of_range(ctx: RunContext) -> list[Suggestion]:
    if len(ctx.scored) < MIN_TRIALS:
        return []
    out = []
    leaders = ctx.leaders()
    best = ctx.ranked[0]
    for name, hp in ctx.space.items():
        if not is_range(hp):
            continue
        spots = [position(hp, v) for v in ctx.values(name, leaders)]
        spots = [p for p in spots if p is not None]
        top = position(hp, ctx.values(name, [best])[0])
        if top is None or len(spots) < 3:
            continue
        mean = sum(spots) / len(spots)
        if top >= 1 - EDGE and mean >= LEADERS_AT_EDGE:
            up, side = True, "max"
        elif top <= EDGE and mean <= 1 - LEADERS_AT_EDGE:
            up, side = False, "min"
        else:
            continue
        new = widened(name, hp, up, ctx.run.model_family)
        if new is None:
            continue
        outer = sum(1 for p in spots if (p >= 1 - 2 * EDGE if up else p <= 2 * EDGE))
        scale = "a decade (log scale)" if hp.get("sampling") == "log" else \
            "half its width (linear scale)"
        strength = min(1.0, abs(mean - 0.5) * 2)
        confidence, reason = evidence_confidence(len(ctx.scored), strength)
        word = "top" if up else "bottom"
        out.append(Suggestion(
            rule="edge_of_range",
            title=f"Widen {name} {'upwards' if up else 'downwards'}: the best trials sit at "
                  f"its {side} ({fmt(hp[side])} → {fmt(new)})",
            evidence=(
                f"The best trial ({best.trial_key}, score {fmt(best.score)}) has {name} = "
                f"{fmt(ctx.values(name, [best])[0])}, at {top:.0%} of the range "
                f"[{fmt(hp['min'])}, {fmt(hp['max'])}].",
                f"{outer} of the {len(spots)} leading trials sit in the {word} 30% of the "
                f"range (mean position {mean:.0%}).",
                f"Proposed: {side} {fmt(hp[side])} → {fmt(new)}, {scale}.",
            ),
            confidence=confidence, confidence_reason=reason,
            changes=(change(ctx.spec, ("search_space", name, side), new),),
            chart=_scatter(ctx, name, hp, {t.trial_key for t in leaders},
                           {"x": new, "label": f"proposed {side}"}),
            trials=tuple(t.trial_key for t in leaders),
            impact=0.5 + ctx.importance.get(name, 0.5)))
    return out


def log_sampling(ctx: RunContext) -> list[Suggestion]:
    if len(ctx.scored) < MIN_TRIALS:
        return []
    out = []
    leaders = ctx.leaders()
    for name, hp in ctx.space.items():
        if not is_range(hp) or hp.get("sampling") == "log" or float(hp["min"]) <= 0:
            continue
        decades = math.log10(float(hp["max"]) / float(hp["min"]))
        if decades < LOG_DECADES:
            continue
        spots = [position(hp, v) for v in ctx.values(name, leaders)]
        spots = [p for p in spots if p is not None]
        if len(spots) < 3 or max(spots) > LOG_CROWD:
            continue
        lo, hi = float(hp["min"]), float(hp["max"])
        top_decade = (hi - hi / 10) / (hi - lo)
        crowd = lo + max(spots) * (hi - lo)
        below = sum(1 for v in ctx.values(name, ctx.scored)
                    if position(hp, v) is not None and position(hp, v) <= LOG_CROWD)
        confidence, reason = evidence_confidence(len(ctx.scored), 1 - max(spots) / LOG_CROWD / 2)
        changes = [change(ctx.spec, ("search_space", name, "sampling"), "log")]
        if "step" in hp:
            changes.append(change(ctx.spec, ("search_space", name, "step"), REMOVED))
        out.append(Suggestion(
            rule="log_sampling",
            title=f"Sample {name} on a log scale: its good values crowd the low end of "
                  f"[{fmt(hp['min'])}, {fmt(hp['max'])}]",
            evidence=(
                f"The range spans {decades:.1f} decades, sampled linearly: {top_decade:.0%} "
                "of the draws land in its top decade.",
                f"All {len(spots)} leading trials have {name} in the lowest {LOG_CROWD:.0%} "
                f"of the range (up to {fmt(crowd)}); "
                f"only {below} of {len(ctx.scored)} trials were drawn there.",
                "Proposed: sampling linear → log" + (" (the step is dropped)" if "step" in hp
                                                       else "") + ".",
            ),
            confidence=confidence, confidence_reason=reason, changes=tuple(changes),
            chart=_scatter(ctx, name, hp, {t.trial_key for t in leaders}),
            trials=tuple(t.trial_key for t in leaders),
            impact=0.5 + ctx.importance.get(name, 0.5)))
    return out


register(Rule("edge_of_range", "the best trials sit at the edge of a range", edge_of_range,
              weight=1.2))
register(Rule("log_sampling", "a wide linear range whose good values crowd its low end",
              log_sampling, weight=1.1))
