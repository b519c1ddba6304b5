"""Reading a learning-rate range test: smoothing, the divergence point, the suggestion.

Pure functions over lists of numbers, free of TensorFlow, so the dashboard can redo the
analysis of a recorded range test and carry its suggestion into a new run's search space.

The range test trains one model for a few hundred batches while the learning rate rises
exponentially. The loss first falls, then flattens, then climbs as the rate becomes too
large. ``find_divergence`` locates where the climb starts and suggests half that rate: the
largest rate that still trains stably, with a margin (Smith, "Cyclical Learning Rates for
Training Neural Networks", 2017).
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from storage import plain_json

BETA = 0.98             # smoothing of the recorded loss (fast.ai's default)
DIVERGE_FACTOR = 4.0    # the test stops when the smoothed loss exceeds 4 x its minimum
MEDIAN_WINDOW = 5       # smallest window of the running median used to locate the points
RISE_FRACTION = 0.1     # the loss "starts to diverge" once it has climbed back 10 % of its fall
SUGGESTION_FACTOR = 0.5  # suggest half the rate where the loss starts to diverge
SPACE_BELOW = 10.0      # suggested_space spans lr/10 ...
SPACE_ABOVE = 3.0       # ... to 3 lr, capped at MAX_SPACE_LR
MAX_SPACE_LR = 1.0


def lr_schedule(min_lr: float, max_lr: float, steps: int) -> list[float]:
    """``steps`` learning rates rising exponentially from ``min_lr`` to ``max_lr``."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2; got {steps}")
    if not 0 < min_lr < max_lr:
        raise ValueError(f"need 0 < min_lr < max_lr; got {min_lr}, {max_lr}")
    ratio = (max_lr / min_lr) ** (1.0 / (steps - 1))
    return [min_lr * ratio ** i for i in range(steps)]


class LossSmoother:
    """Exponential moving average with bias correction, fed one batch loss at a time.

    ``update`` returns the smoothed loss; ``diverged`` is true once the smoothed loss has
    exceeded ``factor`` times its minimum so far, or a loss was not finite.
    """

    def __init__(self, beta: float = BETA, factor: float = DIVERGE_FACTOR):
        self.beta = beta
        self.factor = factor
        self.average = 0.0
        self.count = 0
        self.minimum = math.inf
        self.diverged = False

    def update(self, loss: float) -> float:
        if not math.isfinite(loss):
            self.diverged = True
            return math.inf
        self.count += 1
        self.average = self.beta * self.average + (1 - self.beta) * loss
        smoothed = self.average / (1 - self.beta ** self.count)
        if smoothed > self.factor * self.minimum:
            self.diverged = True
        self.minimum = min(self.minimum, smoothed)
        return smoothed


def smooth(losses: Sequence[float], beta: float = BETA) -> list[float]:
    """The smoothed losses ``LossSmoother`` records, for a whole list at once."""
    smoother = LossSmoother(beta)
    return [smoother.update(float(x)) for x in losses]


def rolling_median(values: Sequence[float], window: int) -> list[float]:
    """Centred running median: follows the trend without lagging behind it (an exponential
    average does lag), and one wild batch, such as a spike as the loss blows up, does not
    leak into its neighbours."""
    half = window // 2
    return [statistics.median(values[max(0, i - half):i + half + 1]) for i in range(len(values))]


def _window(points: int) -> int:
    return max(MEDIAN_WINDOW, (points // 20) | 1)


def _finite_prefix(lrs: Sequence[float], losses: Sequence[float]) -> tuple[list[float], list[float], bool]:
    """The points before the first non-finite loss, and whether one was met."""
    kept_lrs, kept = [], []
    for lr, loss in zip(lrs, losses):
        if loss is None or not math.isfinite(float(loss)):
            return kept_lrs, kept, True
        kept_lrs.append(float(lr))
        kept.append(float(loss))
    return kept_lrs, kept, False


def loss_minimum(lrs: Sequence[float], losses: Sequence[float]
                 ) -> tuple[float | None, float | None]:
    """(learning rate, loss) at the lowest point of the running-median loss curve that
    ``find_divergence`` reads; (None, None) before any finite loss."""
    xs, ys, _ = _finite_prefix(lrs, losses)
    if not xs:
        return None, None
    curve = rolling_median(ys, _window(len(ys)))
    low = min(range(len(curve)), key=curve.__getitem__)
    return xs[low], curve[low]


def find_divergence(lrs: Sequence[float], losses: Sequence[float]
                    ) -> tuple[float | None, float | None, str]:
    """Where the loss starts to diverge, the suggested learning rate, and why.

    ``lrs`` rise step by step; ``losses`` are the raw batch losses at those rates (the
    recorded ``loss`` column; a non-finite loss counts as divergence there). Returns
    ``(diverge_lr, suggested_lr, reasoning)``: ``diverge_lr`` is the first rate after
    the loss minimum at which the loss has climbed back ``RISE_FRACTION`` of its fall;
    the suggestion is half of it. Both are read off a centred running median of the
    losses (a window of 5 batches, or a twentieth of the test if longer). When the loss
    never climbs, ``diverge_lr`` is None and the suggestion is half the rate of the lowest
    loss; when it never falls, or there are too few points, both are None. ``reasoning``
    says which case applied, with figures.
    """
    if len(lrs) != len(losses):
        raise ValueError(f"lrs and losses must have the same length; got {len(lrs)} and "
                         f"{len(losses)}")
    xs, ys, blew_up = _finite_prefix(lrs, losses)
    if len(xs) < 5:
        return None, None, (f"only {len(xs)} finite losses were recorded; the test needs more "
                            "steps, or a lower min_lr if the loss blew up at once")
    curve = rolling_median(ys, _window(len(ys)))
    low = min(range(len(curve)), key=curve.__getitem__)
    start, bottom = curve[0], curve[low]
    fall = start - bottom
    if low == 0 or fall <= 0.02 * abs(start):
        return None, None, (f"the loss did not fall between {xs[0]:.3g} and {xs[-1]:.3g} "
                            f"(from {start:.4g} it reached {bottom:.4g} at best); lower min_lr, "
                            "or check that the model can learn this data")
    threshold = bottom + RISE_FRACTION * fall
    climb = next((i for i in range(low + 1, len(curve)) if curve[i] > threshold), None)
    if climb is None and blew_up:
        climb = len(xs) - 1
    if climb is None:
        suggested = SUGGESTION_FACTOR * xs[low]
        return None, suggested, (
            f"the loss fell from {start:.4g} to {bottom:.4g} (at learning rate {xs[low]:.3g}) and "
            f"had not started to climb by {xs[-1]:.3g}; without a divergence point, the "
            f"suggestion is half the rate of the lowest loss: {suggested:.3g}. Raise max_lr to "
            "see where it diverges")
    diverge = xs[climb]
    suggested = SUGGESTION_FACTOR * diverge
    how = ("the loss became infinite or NaN" if blew_up and climb == len(xs) - 1 and
           curve[climb] <= threshold else
           f"the loss (running median) climbed back above {threshold:.4g} (its minimum plus "
           f"{RISE_FRACTION:.0%} of its fall)")
    return diverge, suggested, (
        f"the loss fell from {start:.4g} to a minimum of {bottom:.4g} at learning rate "
        f"{xs[low]:.3g}; at {diverge:.3g} {how}, so it starts to diverge there. Half of "
        f"that, {suggested:.3g}, is the largest rate that should still train stably")


def suggested_space(suggested_lr: float) -> dict[str, Any]:
    """A log-sampled learning-rate range around a suggestion, for a new run's search space."""
    if not (isinstance(suggested_lr, (int, float)) and math.isfinite(suggested_lr)
            and suggested_lr > 0):
        raise ValueError(f"suggested_lr must be a positive number; got {suggested_lr!r}")
    high = min(suggested_lr * SPACE_ABOVE, MAX_SPACE_LR)
    low = min(suggested_lr / SPACE_BELOW, high / SPACE_BELOW)
    return {"type": "float", "min": float(f"{low:.3g}"), "max": float(f"{high:.3g}"),
            "sampling": "log"}


def follow_up_spec(spec: Mapping[str, Any], suggested_lr: float,
                   max_trials: int = 10) -> dict[str, Any]:
    """A new run's spec from a range test's: the same data, model and fixed values, with
    ``learning_rate`` searched around the suggestion by random search.

    Validate the result with ``tuning.spec.validate_spec`` before queueing it.
    """
    spec = plain_json(spec)
    space = spec.get("search_space", {})
    space["learning_rate"] = suggested_space(suggested_lr)
    new = {key: spec[key] for key in ("seed", "data", "model", "objective", "training")
           if key in spec}
    new["name"] = f"{spec.get('name', 'run')} · learning rate around {suggested_lr:.2g}"
    new["search_space"] = space
    new["strategy"] = {"name": "random", "max_trials": max_trials}
    return new


def fixed_training_spec(spec: Mapping[str, Any], suggested_lr: float) -> dict[str, Any]:
    """A new run's spec from a range test's: one training at the suggested rate, annealed
    along a cosine to 0 over the range test spec's ``training.epochs`` (Smith's use of
    the test: the highest stable rate early, a falling one to settle). The same data,
    model, and every other hyperparameter fixed at the value the range test trained with
    (``manual.default_value``); one grid trial.

    Validate the result with ``tuning.spec.validate_spec`` before queueing it.
    """
    from .manual import default_value

    if not (isinstance(suggested_lr, (int, float)) and math.isfinite(suggested_lr)
            and suggested_lr > 0):
        raise ValueError(f"suggested_lr must be a positive number; got {suggested_lr!r}")
    spec = plain_json(spec)
    family = spec.get("model", {}).get("family")
    space = {name: {"type": "fixed", "value": default_value(name, hp, family)}
             for name, hp in spec.get("search_space", {}).items()}
    space["learning_rate"] = {"type": "fixed", "value": float(f"{suggested_lr:.3g}")}
    new = {key: spec[key] for key in ("seed", "data", "model", "objective") if key in spec}
    new["name"] = f"{spec.get('name', 'run')} · one training at {suggested_lr:.2g}, cosine"
    new["search_space"] = space
    new["strategy"] = {"name": "grid"}
    new["training"] = {**spec.get("training", {}), "lr_schedule": "cosine"}
    return new

