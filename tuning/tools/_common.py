"""What the tools share: validation helpers (no TensorFlow), the trial loop, and Keras
recording (imported inside functions, so the validator can import this module)."""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..catalog import MLP_DEFAULTS, default_direction
from ..curves import diagnose
from ..manual import candidate_values, default_value
from . import StopRequested, ToolContext, TrialCancelled

MAX_TOOL_TRIALS = 100


# -- validation ---------------------------------------------------------------------


def int_list(c: Any, field: str, value: Any, low: int, high: int, default: list[int],
             max_items: int = MAX_TOOL_TRIALS) -> list[int]:
    """A non-empty list of distinct integers in [low, high], in the order given."""
    if value is None:
        return list(default)
    if not isinstance(value, list) or not value or len(value) > max_items:
        c.fail(field, f"must be a list of 1 to {max_items} integers", value)
        return list(default)
    out = [c.integer(f"{field}[{i}]", v, low, high) for i, v in enumerate(value)]
    if any(v is None for v in out):
        return list(default)
    if len(set(out)) != len(out):
        c.fail(field, "must not repeat a value", value)
    return out  # type: ignore[return-value]


def boolean(c: Any, field: str, value: Any, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        c.fail(field, "must be true or false", value)
        return default
    return value


def learning_rates(c: Any, space: Mapping[str, Any], tool: str) -> list[float]:
    """The learning rates a grid tool tries: the candidates of ``search_space.learning_rate``
    (a choice, a fixed value, or a range with a step), or the MLP default when absent."""
    hp = space.get("learning_rate")
    if hp is None:
        return [float(MLP_DEFAULTS["learning_rate"])]
    values = candidate_values(hp)
    if values is None:
        c.fail("search_space.learning_rate", f"must list the rates {tool} tries: use type "
               'choice, e.g. {"type": "choice", "values": [0.001, 0.0003]}, or add a step')
        return []
    if len(values) > MAX_TOOL_TRIALS:
        c.fail("search_space.learning_rate", f"lists {len(values)} rates; {tool} tries at most "
               f"{MAX_TOOL_TRIALS}")
    return [float(v) for v in values]


# -- values a trial trains with -----------------------------------------------------


def fixed_values(spec: Mapping[str, Any]) -> dict[str, Any]:
    """One value per search-space entry: its fixed value or default, else the MLP default
    when it is a candidate, else the middle candidate (``manual.default_value``)."""
    family = spec["model"]["family"]
    return {name: default_value(name, hp, family) for name, hp in spec["search_space"].items()}


def clean(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe trial metrics: numpy scalars made Python, non-finite numbers None."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if hasattr(value, "item") and callable(value.item):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[str(key)] = value
    return out


def best_of(curve: Sequence[Mapping[str, Any]], metric: str, direction: str) -> float | None:
    values = [float(e[metric]) for e in curve if e.get(metric) is not None
              and math.isfinite(float(e[metric]))]
    if not values:
        return None
    return min(values) if direction == "min" else max(values)


def summarise(curve: Sequence[Mapping[str, Any]], objective: Mapping[str, str]
              ) -> tuple[float | None, dict[str, Any], list[str]]:
    """(score, metrics, flags) of a Keras curve, as the engine records a KerasTuner trial:
    the score is the objective's best epoch; each metric keeps its best value."""
    names = sorted({k for e in curve for k in e if k != "epoch_time_s"})
    metrics = {n: best_of(curve, n, default_direction(n)) for n in names}
    metrics["epochs_trained"] = len(curve)
    score = best_of(curve, objective["metric"], objective["direction"])
    return score, metrics, diagnose(curve)


def epoch_times(curve: Sequence[Mapping[str, Any]]) -> dict[str, float | None]:
    """Mean seconds per epoch, leaving out the first (it also builds and traces the model)."""
    times = [float(e["epoch_time_s"]) for e in curve if e.get("epoch_time_s") is not None]
    if not times:
        return {"mean_epoch_time_s": None, "first_epoch_time_s": None}
    steady = times[1:] or times
    return {"mean_epoch_time_s": sum(steady) / len(steady), "first_epoch_time_s": times[0]}


# -- the trial loop -----------------------------------------------------------------

TrialResult = tuple[float | None, Mapping[str, Any], str | None, list[str]]


def run_trials(ctx: ToolContext, plan: Iterable[tuple[str, Mapping[str, Any]]],
               train: Callable[[int, Mapping[str, Any]], TrialResult]) -> None:
    """Run each (key, hyperparameters) of ``plan`` through ``train(trial_id, values)``.

    Trials a resumed run already finished are skipped. A cancelled trial is recorded as
    cancelled and the run goes on; a trial that raises is recorded as failed, and
    ``max_consecutive_failed_trials`` failures in a row end the run as failed.
    ``StopRequested`` passes through (the executor records the run as stopped).
    """
    from storage import TrialStatus

    done = {t.trial_key for t in ctx.storage.list_trials(ctx.run_id)
            if t.status in (TrialStatus.COMPLETED, TrialStatus.CANCELLED, TrialStatus.FAILED)}
    limit = int(ctx.spec["strategy"].get("max_consecutive_failed_trials", 3))
    failures, last_error = 0, None
    for key, values in plan:
        if key in done:
            continue
        trial_id = ctx.begin_trial(key, values)
        try:
            score, metrics, message, flags = train(trial_id, values)
        except StopRequested:
            raise
        except TrialCancelled as exc:
            ctx.finish_trial(trial_id, TrialStatus.CANCELLED, message=str(exc))
            continue
        except Exception as exc:  # one bad trial must not end the others
            last_error = f"{type(exc).__name__}: {exc}".splitlines()[0]
            ctx.finish_trial(trial_id, TrialStatus.FAILED, message=last_error)
            failures += 1
            if failures >= limit:
                raise RuntimeError(f"{failures} trials failed in a row; last error: "
                                   f"{last_error}") from exc
            continue
        failures = 0
        ctx.finish_trial(trial_id, TrialStatus.COMPLETED, score=score, metrics=clean(metrics),
                         message=message, flags=flags)
    if not any(t.status is TrialStatus.COMPLETED for t in ctx.storage.list_trials(ctx.run_id)):
        raise RuntimeError(f"no trial completed; last error: {last_error or 'none recorded'}")


# -- Keras --------------------------------------------------------------------------


def recording_callback(ctx: ToolContext, trial_id: int, curve: list[dict[str, Any]]) -> Any:
    """A Keras callback that records every epoch (with ``epoch_time_s``, the training part
    of the epoch without validation) and appends it to ``curve``. Recording raises
    ``StopRequested`` or ``TrialCancelled`` out of ``fit`` when asked to."""
    import keras

    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()
            self.trained: float | None = None

        def on_test_begin(self, logs=None):
            if getattr(self, "started", None) is not None and self.trained is None:
                self.trained = time.perf_counter() - self.started

        def on_epoch_end(self, epoch, logs=None):
            row = {k: float(v) for k, v in (logs or {}).items()}
            row["epoch_time_s"] = self.trained if self.trained is not None else (
                time.perf_counter() - self.started)
            curve.append(row)
            ctx.record_epoch(trial_id, epoch, row)

    return Recorder()


def count_weights(weights: Iterable[Any]) -> int:
    return int(sum(math.prod(int(d) for d in w.shape) for w in weights))


def parameter_counts(model: Any) -> dict[str, int]:
    trainable = count_weights(model.trainable_weights)
    frozen = count_weights(model.non_trainable_weights)
    return {"trainable_params": trainable, "non_trainable_params": frozen,
            "total_params": trainable + frozen}
