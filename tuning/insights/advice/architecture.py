"""Architecture (MLP): the trials that ran with a bottleneck or a model too large for the
data (``spec.architecture``'s warnings, read on each trial's own layers), against the
winning shape → keep the space away from them."""
from __future__ import annotations

import json
import statistics
from functools import lru_cache
from typing import Any

from storage import Trial
from tuning import catalog
from tuning.spec.architecture import (
    PARAMS_PER_ROW,
    SHARP_NARROWING,
    count_parameters,
    layer_widths,
    output_width,
)

from ..analysis import hyperparameters
from .context import RunContext, fmt, is_range
from .patch import change
from .registry import Rule, register
from .suggestion import Change, Chart, Suggestion, evidence_confidence

MIN_TRIALS = 5


@lru_cache(maxsize=16)
def _sizes(data_json: str, seed: int) -> tuple[int, int, int] | None:
    from tuning.data import DataError, load_dataset

    try:
        data = load_dataset(json.loads(data_json), seed)
    except (DataError, KeyError, ValueError, OSError):
        return None
    return (int(data.x_train.shape[1]), output_width(data.task, data.n_classes),
            int(len(data.x_train)))


def data_sizes(spec: Any) -> tuple[int, int, int] | None:
    """(features, outputs, training rows) of a spec's data set; None when unreadable."""
    return _sizes(json.dumps(dict(spec.get("data") or {}), sort_keys=True, default=str),
                  int(spec.get("seed") or 0))


def problems_of(trial: Trial, sizes: tuple[int, int, int]) -> tuple[list[int], list[str]]:
    """The trial's hidden widths and what is wrong with them: ``bottleneck``, ``narrowing``,
    ``too large``."""
    features, outputs, rows = sizes
    try:
        widths = layer_widths(hyperparameters(trial))
    except (ValueError, TypeError, KeyError):
        return [], []
    kinds = []
    if widths and min(widths) < outputs:
        kinds.append("bottleneck")
    if any(widths[i] / max(widths[i + 1], 1) > SHARP_NARROWING for i in range(len(widths) - 1)):
        kinds.append("narrowing")
    if count_parameters(widths, features, outputs) > PARAMS_PER_ROW * rows:
        kinds.append("too large")
    return widths, kinds


def _raise_min(ctx: RunContext, name: str, floor: int) -> Change | None:
    hp = ctx.space.get(name)
    if hp is None or not is_range(hp) or hp["min"] >= floor:
        return None
    step = int(hp.get("step") or 1)
    new = int(hp["min"]) + -(-(floor - int(hp["min"])) // step) * step
    return change(ctx.spec, ("search_space", name, "min"), new) if new < hp["max"] else None


def _lower_max(ctx: RunContext, sizes: tuple[int, int, int]) -> Change | None:
    hp = ctx.space.get("units")
    if hp is None or not is_range(hp):
        return None
    features, outputs, rows = sizes
    layers = [int(v) for v in ctx.values("num_layers", ctx.scored)
              if isinstance(v, (int, float)) and not isinstance(v, bool)]
    depth = max(layers) if layers else int(catalog.MLP_DEFAULTS["num_layers"])
    step = int(hp.get("step") or 1)
    width = int(hp["max"])
    while width - step >= hp["min"] and count_parameters(
            [width] * depth, features, outputs) > PARAMS_PER_ROW * rows:
        width -= step
    return change(ctx.spec, ("search_space", "units", "max"), width) \
        if width < hp["max"] and width > hp["min"] else None


def warned_scoring_worse(ctx: RunContext, found: dict[str, tuple[Any, list[str]]]
                         ) -> tuple[list[Trial], list[Trial], set[str]] | None:
    """(the trials with shape warnings, those without, the warnings' kinds) when both
    exist, the best trial has none and the warned ones scored worse on average; else
    None. ``found``: trial key -> (its shape, its warnings), for every scored trial."""
    warned = [t for t in ctx.scored if found[t.trial_key][1]]
    healthy = [t for t in ctx.scored if not found[t.trial_key][1]]
    if not warned or not healthy or found[ctx.ranked[0].trial_key][1]:
        return None
    if statistics.mean(map(ctx.goodness, warned)) >= statistics.mean(map(ctx.goodness, healthy)):
        return None
    return warned, healthy, {k for t in warned for k in found[t.trial_key][1]}


def architecture(ctx: RunContext) -> list[Suggestion]:
    if ctx.run.model_family != "mlp" or ctx.is_tool or len(ctx.scored) < MIN_TRIALS:
        return []
    sizes = data_sizes(ctx.spec)
    if sizes is None:
        return []
    found = {t.trial_key: problems_of(t, sizes) for t in ctx.scored}
    split = warned_scoring_worse(ctx, found)
    if split is None:
        return []
    warned, healthy, kinds = split
    best = ctx.ranked[0]
    changes: list[Change] = []
    if "bottleneck" in kinds:
        changes += [c for name in ["units", *(f"units_{i}" for i in range(16))]
                    if (c := _raise_min(ctx, name, sizes[1])) is not None]
    if "narrowing" in kinds and not changes and "shape" in ctx.space:
        changes.append(change(ctx.spec, ("search_space", "shape"),
                              {"type": "fixed", "value": "funnel"}))
    if "too large" in kinds and (c := _lower_max(ctx, sizes)) is not None:
        changes.append(c)
    if not changes:
        return []
    widths = found[best.trial_key][0]
    params = count_parameters(widths, sizes[0], sizes[1])
    confidence, reason = evidence_confidence(len(ctx.scored), min(1.0, len(warned) / 3))
    mean_w = ctx.sign * statistics.mean(map(ctx.goodness, warned))
    mean_h = ctx.sign * statistics.mean(map(ctx.goodness, healthy))
    return [Suggestion(
        rule="architecture",
        title=f"Keep the network's shape healthy: {len(warned)} trials had a "
              + " / ".join(sorted(kinds)) + f" and scored worse (winner: {widths})",
        evidence=(f"Trials with {' / '.join(sorted(kinds))}: "
                  + ", ".join(f"{t.trial_key} {found[t.trial_key][0]}" for t in warned[:6])
                  + f"; mean score {fmt(mean_w)} against {fmt(mean_h)} for the others.",
                  f"The winning shape: hidden layers {widths}, {params:,} parameters for "
                  f"{sizes[2]:,} training rows and {sizes[1]} outputs.",
                  "Proposed: " + "; ".join(f"{c.field} → {c.new}" for c in changes) + "."),
        confidence=confidence, confidence_reason=reason,
        changes=tuple(changes),
        chart=Chart("scatter", "parameters", ctx.metric or "score", x_log=True, points=tuple(
            {"trial": t.trial_key, "x": count_parameters(found[t.trial_key][0] or [1],
                                                         sizes[0], sizes[1]),
             "y": float(t.score), "marked": bool(found[t.trial_key][1])} for t in ctx.scored)),
        trials=tuple(t.trial_key for t in warned))]


register(Rule("architecture", "bottlenecks and models too large for the data", architecture,
              weight=0.8))
