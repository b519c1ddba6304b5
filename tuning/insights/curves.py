"""Reading learning curves: flags for overfitting, divergence and no learning, and the
median pruning rule. Pure functions over lists of numbers; no TensorFlow."""
from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

OVERFIT_EPOCHS = 3        # consecutive epochs of val loss up while train loss down
EXPLODE_FACTOR = 10.0     # loss this many times its first value counts as divergence
FLAT_TOLERANCE = 0.01     # loss within 1% of its first value over the whole curve: no learning
FLAT_MIN_EPOCHS = 4


def finite_number(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing, not a number, NaN or infinite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def diagnose(curve: Sequence[Mapping[str, float | None]]) -> list[str]:
    """Flags for one training curve (epoch dicts of Keras logs), each with its reason."""
    losses = [e.get("loss") for e in curve]
    val_losses = [e.get("val_loss") for e in curve]
    flags = []
    divergence = _divergence(losses)
    if divergence:
        flags.append(divergence)
        return flags  # a diverged curve says nothing reliable about the rest
    overfit = _overfitting(losses, val_losses)
    if overfit:
        flags.append(overfit)
    flat = _no_learning(losses)
    if flat:
        flags.append(flat)
    return flags


def _divergence(losses: Sequence[float | None]) -> str | None:
    for epoch, loss in enumerate(losses, start=1):
        if not _finite(loss):
            return f"divergence: loss became {loss if loss is not None else 'NaN'} at epoch {epoch}"
    if len(losses) >= 2 and losses[0] > 0:
        peak = max(losses[1:])
        if peak > EXPLODE_FACTOR * losses[0]:
            epoch = losses.index(peak) + 1
            return (f"divergence: loss exploded from {losses[0]:.4g} to {peak:.4g} by epoch "
                    f"{epoch}; lower the learning rate")
    return None


def _overfitting(losses: Sequence[float | None], val_losses: Sequence[float | None]) -> str | None:
    """The first streak of at least OVERFIT_EPOCHS epochs, reported over its whole length."""
    start = None
    for i in range(1, len(losses) + 1):
        diverging = i < len(losses) and all(
            _finite(v) for v in (losses[i - 1], losses[i], val_losses[i - 1], val_losses[i])) \
            and losses[i] < losses[i - 1] and val_losses[i] > val_losses[i - 1]
        if diverging:
            start = i - 1 if start is None else start
            continue
        if start is not None and (i - 1) - start >= OVERFIT_EPOCHS:
            end = i - 1
            return (f"overfitting: validation loss rose from {val_losses[start]:.4g} to "
                    f"{val_losses[end]:.4g} over epochs {start + 1}-{end + 1} while training "
                    "loss fell; add dropout or regularisation, or stop earlier")
        start = None
    return None


def _no_learning(losses: Sequence[float | None]) -> str | None:
    finite = [v for v in losses if _finite(v)]
    if len(finite) < FLAT_MIN_EPOCHS or finite[0] == 0:
        return None
    spread = (max(finite) - min(finite)) / abs(finite[0])
    if spread < FLAT_TOLERANCE:
        return (f"no learning: loss stayed within {spread:.1%} of {finite[0]:.4g} over "
                f"{len(finite)} epochs; raise the learning rate or check the data")
    return None


def median_rule(value: float | None, earlier: Sequence[float], direction: str,
                min_trials: int) -> float | None:
    """The median a trial is pruned against, or None when it should go on.

    A trial is pruned when its objective at an epoch is worse than the median of what
    earlier trials reached at that same epoch (with at least ``min_trials`` of them).
    """
    if len(earlier) < min_trials or not _finite(value):
        return None  # too few to judge; a NaN value fails the trial elsewhere
    median = statistics.median(earlier)
    worse = value < median if direction == "max" else value > median
    return median if worse else None
