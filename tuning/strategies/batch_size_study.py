"""Batch-size study: one trial per batch size, everything else fixed, so the trade-off
between speed (seconds per epoch) and generalisation (validation score) is visible.
Each trial trains a fresh copy of the run's model (the MLP, the CNN, or the user's own
builder at its defaults: ``tuning.runner.tool_model``), seeded alike, so every batch
size starts from the same weights.

Strategy fields: ``batch_sizes`` (default [16, 32, 64, 128, 256]), ``scale_learning_rate``
(default false: when true, each trial's learning rate is the fixed one times
batch_size / ``base_batch_size``, the linear scaling rule) and ``base_batch_size``
(default 32). Every epoch row carries ``epoch_time_s`` (training only, no validation); the
trial's metrics add ``mean_epoch_time_s`` (leaving out the first epoch, which also traces
the model), ``first_epoch_time_s`` and ``final_score`` (the objective at the last epoch).

Each trial trains ``strategy.executions_per_trial`` times (seed + execution index), with
the spec's ``training`` callbacks; its score and metrics average the executions'
(``_tools.average_executions``, KerasTuner's rule).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuning import catalog

from ._tools import (
    boolean,
    epoch_times,
    fit_recorded,
    fixed_values,
    int_list,
    run_trials,
    summarise_fit,
    train_executions,
)
from .registry import Strategy, register

if TYPE_CHECKING:
    from tuning.runner.tool_context import ToolContext

DEFAULT_BATCH_SIZES = [16, 32, 64, 128, 256]
DEFAULT_BASE = 32


def check(c: Any, strategy: Mapping[str, Any], kind: str, space: Mapping[str, Any],
          out: Mapping[str, Any], family: str | None = None) -> dict[str, Any]:
    sizes = int_list(c, "strategy.batch_sizes", strategy.get("batch_sizes"), 1, 65536,
                     DEFAULT_BATCH_SIZES)
    if "batch_size" in space:
        c.fail("search_space.batch_size", "is what batch_size_study varies; list the sizes in "
               "strategy.batch_sizes and remove it from the search space")
    scale = boolean(c, "strategy.scale_learning_rate", strategy.get("scale_learning_rate"),
                    False)
    spec_family = catalog.FAMILIES.get(family or "")
    if scale and spec_family and spec_family.user_code and "learning_rate" not in space:
        c.fail("strategy.scale_learning_rate", "needs the rate to scale: add "
               'search_space.learning_rate, e.g. {"type": "fixed", "value": 0.001} (it is '
               "set on your model's optimizer), or set scale_learning_rate to false", scale)
    return {
        "batch_sizes": sizes,
        "scale_learning_rate": scale,
        "base_batch_size": c.integer("strategy.base_batch_size",
                                     strategy.get("base_batch_size", DEFAULT_BASE), 1, 65536),
        "max_trials": len(sizes),
    }


def trial_plan(spec: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(trial key, hyperparameters) for each batch size, learning rate scaled if asked.
    The user's own model keeps the rate it compiles unless the search space names one
    (scaling needs one: ``check_user_model``)."""
    strategy = spec["strategy"]
    values = fixed_values(spec)
    user_code = catalog.FAMILIES[spec["model"]["family"]].user_code
    if user_code and "learning_rate" not in values:
        return [(f"bs-{size}", {**values, "batch_size": size})
                for size in strategy["batch_sizes"]]
    base_lr = float(values.get("learning_rate", 1e-3))
    plan = []
    for size in strategy["batch_sizes"]:
        lr = base_lr * size / strategy["base_batch_size"] if strategy["scale_learning_rate"] \
            else base_lr
        plan.append((f"bs-{size}", {**values, "batch_size": size, "learning_rate": lr}))
    return plan


def run(ctx: ToolContext) -> None:
    run_trials(ctx, trial_plan(ctx.spec), lambda trial_id, values: _train(ctx, trial_id, values))


def _train(ctx: ToolContext, trial_id: int, values: Mapping[str, Any]):
    score, metrics, flags = train_executions(
        ctx, lambda execution: _train_once(ctx, trial_id, values, execution))
    return score, metrics, None, flags


def _train_once(ctx: ToolContext, trial_id: int, values: Mapping[str, Any], execution: int):
    import keras

    from tuning.runner.tool_model import build_tool_model, settable_rate

    data, spec = ctx.dataset, ctx.spec
    keras.utils.set_random_seed(int(spec["seed"]) + execution)
    model = build_tool_model(spec, data, values)  # the same start at every batch size
    if "learning_rate" in values:  # the user's model may hard-code its rate
        settable_rate(model, spec, "batch_size_study").assign(float(values["learning_rate"]))
    curve = fit_recorded(ctx, trial_id, model, data.x_train, data.y_train,
                         batch_size=int(values["batch_size"]),
                         epochs=spec["training"]["epochs"],
                         validation_data=(data.x_val, data.y_val), execution=execution)
    score, metrics, flags = summarise_fit(ctx, curve)
    metrics.update(epoch_times(curve))
    metrics["final_score"] = curve[-1].get(spec["objective"]["metric"]) if curve else None
    metrics["param_count"] = int(model.count_params())
    return score, metrics, flags


STRATEGY = register(Strategy(
    "batch_size_study", "Batch-size study",
    "To choose a batch size: one trial per size with everything else fixed, charting "
    "time per epoch against validation score.",
    ("keras",), check, options=("executions_per_trial",),
    fields=("batch_sizes", "scale_learning_rate", "base_batch_size"),
    run=run, distributable=False, panel="batch_size", any_keras_model=True))
