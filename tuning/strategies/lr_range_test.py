"""Learning-rate range test: one trial trains the run's model (the MLP, the CNN, or the
user's own builder at its defaults: ``tuning.runner.tool_model``) for a few hundred
batches while the compiled optimizer's learning rate rises exponentially, and records
loss against learning rate. A model whose optimizer has no settable rate is refused.

Each batch is recorded as one "epoch" row: ``{"lr", "loss", "smoothed_loss"}``. The test
stops once the smoothed loss exceeds 4 times its minimum. The trial's metrics hold
``diverge_lr`` and ``suggested_lr`` (see ``tuning.strategies.lr_finder``) and its message the
reasoning; it has no score (the model it leaves behind is wrecked on purpose).

Strategy fields: ``min_lr`` (default 1e-6), ``max_lr`` (1.0), ``steps`` (batches, 100).
Every other hyperparameter is fixed at its search-space default or fixed value.

The test sets the rate itself, batch by batch: the spec's ``training`` callbacks (early
stopping, schedule) do not apply, and ``strategy.executions_per_trial`` must be 1. The
time limits are checked at every batch (``ToolContext.record_epoch``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuning.strategies.lr_finder import LossSmoother, find_divergence, loss_minimum, lr_schedule

from ._tools import fixed_values, run_trials, single_execution
from .registry import Strategy, register

if TYPE_CHECKING:
    from tuning.runner.tool_context import ToolContext

DEFAULTS = {"min_lr": 1e-6, "max_lr": 1.0, "steps": 100}


def check(c: Any, strategy: Mapping[str, Any], kind: str, space: Mapping[str, Any],
          out: Mapping[str, Any], family: str | None = None) -> dict[str, Any]:
    get = strategy.get
    min_lr = c.number("strategy.min_lr", get("min_lr", DEFAULTS["min_lr"]), 0, 10,
                      low_open=True)
    max_lr = c.number("strategy.max_lr", get("max_lr", DEFAULTS["max_lr"]), 0, 100,
                      low_open=True)
    if min_lr is not None and max_lr is not None and min_lr >= max_lr:
        c.fail("strategy.max_lr", f"must be > min_lr ({min_lr:g}); raise it", max_lr)
    steps = c.integer("strategy.steps", get("steps", DEFAULTS["steps"]), 10, 100_000)
    single_execution(c, out, "lr_range_test makes one sweep; remove "
                     "strategy.executions_per_trial or set it to 1")
    return {"min_lr": min_lr, "max_lr": max_lr, "steps": steps, "max_trials": 1}


def run(ctx: ToolContext) -> None:
    strategy = ctx.spec["strategy"]
    values = fixed_values(ctx.spec)
    values.pop("learning_rate", None)  # swept, not fixed
    values["batch_size"] = int(values.get("batch_size", ctx.spec["training"]["batch_size"]))
    hyperparameters = {**values, "min_lr": strategy["min_lr"], "max_lr": strategy["max_lr"],
                       "steps": strategy["steps"]}
    run_trials(ctx, [("range", hyperparameters)],
               lambda trial_id, _: _range_test(ctx, trial_id, values))


def _range_test(ctx: ToolContext, trial_id: int, values: Mapping[str, Any]):
    import keras
    import numpy as np

    from tuning.runner.tool_model import build_tool_model, settable_rate

    strategy, data = ctx.spec["strategy"], ctx.dataset
    seed = int(ctx.spec["seed"])
    keras.utils.set_random_seed(seed)
    model = build_tool_model(ctx.spec, data, {**values, "learning_rate": strategy["min_lr"]})
    rate = settable_rate(model, ctx.spec, "lr_range_test")
    batch = min(int(values["batch_size"]), len(data.x_train))
    rng = np.random.default_rng(seed)
    order, position = rng.permutation(len(data.x_train)), 0
    smoother = LossSmoother()
    lrs, losses = [], []
    for step, lr in enumerate(lr_schedule(strategy["min_lr"], strategy["max_lr"],
                                          strategy["steps"])):
        if position + batch > len(order):
            order, position = rng.permutation(len(data.x_train)), 0
        rows = order[position:position + batch]
        position += batch
        rate.assign(lr)
        loss = float(model.train_on_batch(data.x_train[rows], data.y_train[rows],
                                          return_dict=True)["loss"])
        smoothed = smoother.update(loss)
        lrs.append(lr)
        losses.append(loss)
        ctx.record_epoch(trial_id, step, {"lr": lr, "loss": loss, "smoothed_loss": smoothed})
        if smoother.diverged:
            break
    diverge, suggested, reasoning = find_divergence(lrs, losses)
    min_loss_lr, min_loss = loss_minimum(lrs, losses)
    metrics = {"diverge_lr": diverge, "suggested_lr": suggested, "min_loss": min_loss,
               "min_loss_lr": min_loss_lr, "steps_run": len(lrs),
               "stopped_at_divergence": smoother.diverged,
               "epochs_equivalent": len(lrs) * batch / len(data.x_train)}
    flags = [] if suggested is not None else ["no suggestion: " + reasoning]
    return None, metrics, reasoning, flags


STRATEGY = register(Strategy(
    "lr_range_test", "Learning-rate range test",
    "Before tuning the learning rate: one short training while the rate rises "
    "exponentially shows where the loss diverges, and suggests half that rate.",
    ("keras",), check, options=(),
    fields=("min_lr", "max_lr", "steps"),
    run=run, distributable=False, panel="lr_range",
    sets_learning_rate=True, any_keras_model=True))
