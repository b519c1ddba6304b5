"""Architecture (CNN): the trials that ran with a dense head narrower than the outputs,
blocks that only saw a 1 x 1 image, or a model too large for the data
(``spec.cnn_architecture``'s rules, read on each trial's own values), against the winning
shape → keep the space away from them."""
from __future__ import annotations

import json
import statistics
from functools import lru_cache

from storage import Trial
from tuning import catalog
from tuning.spec.architecture import output_width
from tuning.spec.cnn_architecture import (
    CNN_PARAMS_PER_ROW,
    block_shapes,
    cnn_parameters,
    collapsed_block,
)

from ..analysis import hyperparameters
from .architecture import warned_scoring_worse
from .context import RunContext, fmt, is_range
from .patch import change
from .registry import Rule, register
from .suggestion import Change, Chart, Suggestion, evidence_confidence

MIN_TRIALS = 5
Sizes = tuple[tuple[int, ...], int, int]   # (sample shape, outputs, training rows)


@lru_cache(maxsize=16)
def _sizes(data_json: str, seed: int) -> Sizes | None:
    from tuning.data import DataError, load_dataset

    try:
        data = load_dataset(json.loads(data_json), seed)
    except (DataError, KeyError, ValueError, OSError):
        return None
    return (tuple(int(n) for n in data.x_train.shape[1:]),
            output_width(data.task, data.n_classes), int(len(data.x_train)))


def problems_of(trial: Trial, sizes: Sizes) -> tuple[int | None, list[str]]:
    """The trial's parameter count and what is wrong with its shape: ``bottleneck``,
    ``too deep``, ``too large``."""
    sample, outputs, rows = sizes
    values = hyperparameters(trial)
    try:
        params = cnn_parameters(values, sample, outputs)
        collapsed = collapsed_block(values, sample)
        dense = int({**catalog.CNN_DEFAULTS, **values}["dense_units"])
    except (ValueError, TypeError, KeyError):
        return None, []
    kinds = []
    if dense < outputs:
        kinds.append("bottleneck")
    if collapsed is not None:
        kinds.append("too deep")
    if params > CNN_PARAMS_PER_ROW * rows:
        kinds.append("too large")
    return params, kinds


def _set_bound(ctx: RunContext, name: str, end: str, value: int) -> Change | None:
    hp = ctx.space.get(name)
    if hp is None or not is_range(hp):
        return None
    if end == "min" and hp["min"] < value < hp["max"]:
        return change(ctx.spec, ("search_space", name, "min"), int(value))
    if end == "max" and hp["min"] < value < hp["max"]:
        return change(ctx.spec, ("search_space", name, "max"), int(value))
    return None


def _changes(ctx: RunContext, kinds: set[str], sizes: Sizes, healthy: list[Trial]
             ) -> list[Change]:
    sample, outputs, _ = sizes
    found: list[Change | None] = []
    if "bottleneck" in kinds:
        found.append(_set_bound(ctx, "dense_units", "min", outputs))
    if "too deep" in kinds:
        hp = ctx.space.get("conv_blocks")
        if hp is not None and is_range(hp):
            deepest = max((n for n in range(int(hp["min"]), int(hp["max"]) + 1)
                           if collapsed_block({**hyperparameters(ctx.ranked[0]),
                                               "conv_blocks": n}, sample) is None),
                          default=None)
            if deepest is not None:
                found.append(_set_bound(ctx, "conv_blocks", "max", deepest))
    if "too large" in kinds:
        widest = max((int(hyperparameters(t).get("dense_units", 0)) for t in healthy),
                     default=0)
        found.append(_set_bound(ctx, "dense_units", "max", widest))
    return [c for c in found if c is not None]


def cnn_architecture(ctx: RunContext) -> list[Suggestion]:
    if ctx.run.model_family != "cnn" or ctx.is_tool or len(ctx.scored) < MIN_TRIALS:
        return []
    sizes = _sizes(json.dumps(dict(ctx.spec.get("data") or {}), sort_keys=True, default=str),
                   int(ctx.spec.get("seed") or 0))
    if sizes is None:
        return []
    found = {t.trial_key: problems_of(t, sizes) for t in ctx.scored}
    split = warned_scoring_worse(ctx, found)
    if split is None:
        return []
    warned, healthy, kinds = split
    best = ctx.ranked[0]
    changes = _changes(ctx, kinds, sizes, healthy)
    if not changes:
        return []
    shape = block_shapes(hyperparameters(best), sizes[0])
    confidence, reason = evidence_confidence(len(ctx.scored), min(1.0, len(warned) / 3))
    mean_w = ctx.sign * statistics.mean(map(ctx.goodness, warned))
    mean_h = ctx.sign * statistics.mean(map(ctx.goodness, healthy))
    return [Suggestion(
        rule="cnn_architecture",
        title=f"Keep the CNN's shape healthy: {len(warned)} trials were "
              + " / ".join(sorted(kinds)) + f" and scored worse (winner: {len(shape)} blocks)",
        evidence=(f"Trials {' / '.join(sorted(kinds))}: "
                  + ", ".join(t.trial_key for t in warned[:8])
                  + f"; mean score {fmt(mean_w)} against {fmt(mean_h)} for the others.",
                  "The winning shape: blocks (height, width, filters) "
                  + ", ".join(str(b) for b in shape)
                  + f"; {found[best.trial_key][0]:,} parameters for {sizes[2]:,} training "
                  f"rows and {sizes[1]} outputs.",
                  "Proposed: " + "; ".join(f"{c.field} → {c.new}" for c in changes) + "."),
        confidence=confidence, confidence_reason=reason,
        changes=tuple(changes),
        chart=Chart("scatter", "parameters", ctx.metric or "score", x_log=True, points=tuple(
            {"trial": t.trial_key, "x": found[t.trial_key][0] or 1, "y": float(t.score),
             "marked": bool(found[t.trial_key][1])} for t in ctx.scored)),
        trials=tuple(t.trial_key for t in warned))]


register(Rule("cnn_architecture", "CNN blocks that see one pixel, narrow heads, models too "
              "large for the data", cnn_architecture, weight=0.8))
