"""What the tools share: validation helpers (no TensorFlow), the trial loop, and Keras
recording (imported inside functions, so the validator can import this module)."""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tuning.catalog import MLP_DEFAULTS, default_direction
from tuning.insights.curves import diagnose
from tuning.runner.run_control import StopRequested, TimeLimitReached, TrialCancelled, TrialTimedOut
from tuning.runner.tool_context import ToolContext, ToolRefused
from tuning.strategies.manual import candidate_values, default_value

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


def single_execution(c: Any, out: Mapping[str, Any], why: str) -> None:
    """Refuse ``strategy.executions_per_trial`` > 1 for a tool that trains once per trial;
    ``why`` says why and how to fix it. ``out`` holds the value the validator already read
    (None when it was invalid, which the validator has reported)."""
    value = out.get("executions_per_trial")
    if value is not None and value > 1:
        c.fail("strategy.executions_per_trial", f"must be 1: {why}", value)


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
    cancelled and the run goes on; a trial that raises, or runs past
    ``trial_time_limit_s``, is recorded as failed, and ``max_consecutive_failed_trials``
    failures in a row end the run as failed. ``StopRequested`` passes through (the executor
    records the run as stopped), and so does ``TimeLimitReached``: no trial starts once the
    run's ``time_limit_s`` is spent, and a trial it cuts short is recorded as stopped,
    unscored (the executor ends the run completed, the reason as its error).
    """
    from storage import TrialStatus

    done = {t.trial_key for t in ctx.storage.list_trials(ctx.run_id)
            if t.status in (TrialStatus.COMPLETED, TrialStatus.CANCELLED, TrialStatus.FAILED)}
    limit = int(ctx.spec["strategy"].get("max_consecutive_failed_trials", 3))
    failures, last_error = 0, None
    for key, values in plan:
        if key in done:
            continue
        ctx.check_time_budget()
        status, error = _run_one(ctx, ctx.begin_trial(key, values), values, train)
        if status is TrialStatus.COMPLETED:
            failures = 0
        elif error is not None:
            failures, last_error = failures + 1, _reason(error)
            if failures >= limit:
                raise RuntimeError(f"{failures} trials failed in a row; last error: "
                                   f"{last_error}") from error
    if not any(t.status is TrialStatus.COMPLETED for t in ctx.storage.list_trials(ctx.run_id)):
        raise RuntimeError(f"no trial completed; last error: {last_error or 'none recorded'}")


def _reason(exc: Exception) -> str:
    """A failed trial's message: the first line of the error, named unless it is ours."""
    text = str(exc) if isinstance(exc, TrialTimedOut) else f"{type(exc).__name__}: {exc}"
    return text.splitlines()[0]


def _run_one(ctx: ToolContext, trial_id: int, values: Mapping[str, Any],
             train: Callable[[int, Mapping[str, Any]], TrialResult]
             ) -> tuple[Any, Exception | None]:
    """Train one trial and record how it ended: (its status, the error if it failed)."""
    from storage import TrialStatus

    try:
        score, metrics, message, flags = train(trial_id, values)
    except StopRequested:
        raise
    except TimeLimitReached as exc:
        ctx.finish_trial(trial_id, TrialStatus.STOPPED,
                         message=f"{exc}: this trial was ended early and is not scored")
        raise
    except ToolRefused as exc:  # every trial would fail alike: the run ends with why
        ctx.finish_trial(trial_id, TrialStatus.FAILED, message=str(exc))
        raise
    except TrialCancelled as exc:
        ctx.finish_trial(trial_id, TrialStatus.CANCELLED, message=str(exc))
        return TrialStatus.CANCELLED, None
    except Exception as exc:  # one bad trial must not end the others
        ctx.finish_trial(trial_id, TrialStatus.FAILED, message=_reason(exc))
        return TrialStatus.FAILED, exc
    ctx.finish_trial(trial_id, TrialStatus.COMPLETED, score=score, metrics=clean(metrics),
                     message=message, flags=flags)
    return TrialStatus.COMPLETED, None


# -- several executions of a trial ---------------------------------------------------

Summary = tuple[float | None, dict[str, Any], list[str]]
SUMMED = ("epochs_trained",)  # the engine records the epochs of all executions together


def executions(spec: Mapping[str, Any]) -> int:
    return int(spec["strategy"].get("executions_per_trial", 1))


def train_executions(ctx: ToolContext, train_once: Callable[[int], Summary]) -> Summary:
    """Train a trial ``strategy.executions_per_trial`` times: ``train_once(i)`` trains
    execution ``i`` (seeded with the spec's seed + ``i``, its epochs recorded with
    ``execution=i``) and returns its summary; the trial's is ``average_executions``."""
    return average_executions([train_once(i) for i in range(executions(ctx.spec))])


def average_executions(summaries: Sequence[Summary]) -> Summary:
    """One trial's (score, metrics, flags) from those of its executions.

    KerasTuner 1.4.8 scores a trial of several executions so (``tuner_utils.
    convert_to_metrics_dict`` then ``average_metrics_dicts``): each execution gives the
    metrics of its best epoch for the objective, and those are averaged. So the score here
    is the mean over executions of each execution's best objective value. Every other
    numeric metric is the mean of the executions' values as ``summarise`` and
    ``epoch_times`` give them (``mean_epoch_time_s`` is the mean of each execution's mean),
    except ``epochs_trained``, summed as the engine records it. A value equal in every
    execution (a parameter count) is kept as it is; a metric some execution has no finite
    value for is None, as NaN would make KerasTuner's mean NaN. Flags are the union.
    """
    if len(summaries) == 1:
        return summaries[0]
    scores = [s[0] for s in summaries]
    names = list(dict.fromkeys(name for s in summaries for name in s[1]))
    metrics = {name: _mean([s[1].get(name) for s in summaries], name in SUMMED)
               for name in names}
    flags = list(dict.fromkeys(flag for s in summaries for flag in s[2]))
    return _mean(scores, False), metrics, flags


def _mean(values: Sequence[Any], summed: bool) -> Any:
    if all(v == values[0] for v in values) and not summed:
        return values[0]
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
               and math.isfinite(v)]
    if len(numbers) < len(values):
        return None
    return sum(numbers) if summed else sum(numbers) / len(numbers)


# -- Keras --------------------------------------------------------------------------


def recording_callback(ctx: ToolContext, trial_id: int, curve: list[dict[str, Any]],
                       execution: int = 0) -> Any:
    """A Keras callback that records every epoch of ``execution`` (with ``epoch_time_s``,
    the training part of the epoch without validation) and appends it to ``curve``.
    Recording raises ``StopRequested``, ``TrialCancelled``, ``TrialTimedOut`` or
    ``TimeLimitReached`` out of ``fit`` (see ``ToolContext.record_epoch``); the per-trial
    time limit is also checked after every batch, as the engine does."""
    import keras

    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()
            self.trained: float | None = None

        def on_train_batch_end(self, batch, logs=None):
            ctx.check_trial_time()

        def on_test_begin(self, logs=None):
            if getattr(self, "started", None) is not None and self.trained is None:
                self.trained = time.perf_counter() - self.started

        def on_epoch_end(self, epoch, logs=None):
            row = {k: float(v) for k, v in (logs or {}).items()}
            row["epoch_time_s"] = self.trained if self.trained is not None else (
                time.perf_counter() - self.started)
            curve.append(row)
            ctx.record_epoch(trial_id, epoch, row, execution)

    return Recorder()


def fit_recorded(ctx: ToolContext, trial_id: int, model: Any, *args: Any, execution: int = 0,
                 **kwargs: Any) -> list[dict[str, Any]]:
    """``model.fit(*args, **kwargs)`` recording each epoch as ``execution``, with the
    callbacks the spec's ``training`` asks for (early stopping, learning-rate schedule:
    ``tuning.runner.training.fit_callbacks``); returns the recorded curve."""
    from tuning.runner.training import fit_callbacks

    curve: list[dict[str, Any]] = []
    model.fit(*args, verbose=0, callbacks=[recording_callback(ctx, trial_id, curve, execution),
                                           *fit_callbacks(ctx.spec)], **kwargs)
    return curve


def summarise_fit(ctx: ToolContext, curve: Sequence[Mapping[str, Any]]) -> Summary:
    """``summarise`` of a curve ``fit_recorded`` gave, flagged as the engine flags it when
    early stopping ended it before ``training.epochs``."""
    score, metrics, flags = summarise(curve, ctx.spec["objective"])
    early = ctx.spec["training"].get("early_stopping")
    planned = int(ctx.spec["training"]["epochs"])
    if early and len(curve) < planned:
        flags.append(f"early stopped: trained {len(curve)} of {planned} epochs "
                     f"({early['monitor']} did not improve for {early['patience']} epochs)")
    return score, metrics, flags


def count_weights(weights: Iterable[Any]) -> int:
    return int(sum(math.prod(int(d) for d in w.shape) for w in weights))


def parameter_counts(model: Any) -> dict[str, int]:
    trainable = count_weights(model.trainable_weights)
    frozen = count_weights(model.non_trainable_weights)
    return {"trainable_params": trainable, "non_trainable_params": frozen,
            "total_params": trainable + frozen}
