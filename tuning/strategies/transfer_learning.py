"""Transfer learning: start from a trained model, replace its head, and tune how many lower
layers stay frozen and the fine-tuning learning rate; one from-scratch baseline trial in
the same run shows what the transfer bought.

Strategy fields:

* ``source``: where the trained model comes from, either
  ``{"classes": [0, 1, 2, 3, 4]}`` (default; ``digits_classes`` is accepted as another
  name): the worker first trains the MLP on the rows of these classes of the run's data
  set, and the trials learn the remaining classes; or ``{"path": "model.keras"}``: a Keras
  model file, loaded with safe mode on (never a pickle), whose input must match the data
  set's features; the trials learn the whole data set. ``source.epochs`` sets the source
  training's epochs (default ``training.epochs``).
* ``frozen_layers``: counts of lower layers (with weights, below the head) kept frozen,
  one trial each per fine-tuning rate (default [0, 1, 2]).
* ``baseline``: add the from-scratch trial (default true).
* ``target_rows``: train on at most this many target rows (default: all of them); transfer
  matters most when the target task has little data.

The fine-tuning rates are the candidates of ``search_space.learning_rate``; the source
model and the baseline train at its default. Each trial records ``trainable_params`` and
``non_trainable_params`` in its metrics.

The source training and every trial's fit use the spec's ``training`` callbacks (early
stopping, learning-rate schedule). Each trial trains ``strategy.executions_per_trial``
times, the new head (or the baseline network) drawn with seed + execution index; its score
and metrics average the executions' (``_tools.average_executions``, KerasTuner's rule).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tuning.catalog import MLP_DEFAULTS

from ._tools import (
    boolean,
    fit_recorded,
    fixed_values,
    int_list,
    learning_rates,
    parameter_counts,
    run_trials,
    summarise_fit,
    train_executions,
)
from .registry import Strategy, register

if TYPE_CHECKING:
    from tuning.runner.tool_context import ToolContext

SOURCE_FIELDS = ("classes", "digits_classes", "path", "epochs")
DEFAULT_SOURCE = {"classes": [0, 1, 2, 3, 4]}
DEFAULT_FROZEN = [0, 1, 2]


def check(c: Any, strategy: Mapping[str, Any], kind: str, space: Mapping[str, Any],
          out: Mapping[str, Any], family: str | None = None) -> dict[str, Any]:
    source = _check_source(c, strategy.get("source", DEFAULT_SOURCE))
    frozen = int_list(c, "strategy.frozen_layers", strategy.get("frozen_layers"), 0, 64,
                      DEFAULT_FROZEN)
    layers = space.get("num_layers", {"type": "fixed", "value": MLP_DEFAULTS["num_layers"]})
    if "classes" in source and layers["type"] == "fixed":
        if any(k > int(layers["value"]) for k in frozen):
            c.fail("strategy.frozen_layers", f"must not exceed num_layers ({layers['value']}), "
                   "the hidden layers of the source model", frozen)
    if layers["type"] != "fixed":
        c.fail("search_space.num_layers", "must be fixed for transfer_learning: the source "
               "model has one architecture", layers)
    rates = learning_rates(c, space, "transfer_learning")
    baseline = boolean(c, "strategy.baseline", strategy.get("baseline"), True)
    rows = strategy.get("target_rows")
    return {"source": source, "frozen_layers": frozen, "baseline": baseline,
            "target_rows": None if rows is None else c.integer("strategy.target_rows", rows,
                                                               10),
            "max_trials": len(frozen) * len(rates) + int(baseline)}


def _check_source(c: Any, source: Any) -> dict[str, Any]:
    if not isinstance(source, dict):
        c.fail("strategy.source", 'must be an object: {"classes": [0, 1, 2, 3, 4]} or '
               '{"path": "model.keras"}', source)
        return dict(DEFAULT_SOURCE)
    c.unknown_keys("strategy.source", source, SOURCE_FIELDS)
    out: dict[str, Any] = {}
    if "epochs" in source:
        out["epochs"] = c.integer("strategy.source.epochs", source["epochs"], 1, 10_000)
    classes = source.get("classes", source.get("digits_classes"))
    path = source.get("path")
    if (classes is None) == (path is None):
        c.fail("strategy.source", "must name exactly one of classes (train the source model "
               "on these classes first) or path (a .keras file)", source)
        return {**DEFAULT_SOURCE, **out}
    if path is not None:
        from tuning.paths import resolve_spec_path, spec_path_problem

        if not isinstance(path, str) or not path.endswith(".keras"):
            c.fail("strategy.source.path", "must be the path of a .keras model file", path)
        elif spec_path_problem(path):
            c.fail("strategy.source.path", spec_path_problem(path), path)
        elif not resolve_spec_path(path).is_file():
            c.fail("strategy.source.path", "must be an existing file", path)
        return {"path": path, **out}
    out["classes"] = int_list(c, "strategy.source.classes", classes, 0, 10_000, [0])
    return out


def run(ctx: ToolContext) -> None:
    import keras

    spec, strategy = ctx.spec, ctx.spec["strategy"]
    source = strategy["source"]
    task = _Task.split(ctx.dataset, source.get("classes"), strategy["target_rows"],
                       int(spec["seed"]))
    values = fixed_values(spec)
    base_lr = float(values.get("learning_rate", 1e-3))
    if "path" in source:
        from tuning.paths import checked_spec_path

        # Checked again where it is read: the rule is today's, the spec may be older.
        model = keras.saving.load_model(
            str(checked_spec_path(source["path"], "strategy.source.path")), safe_mode=True)
        described, source_metrics = f"the model in {os.path.basename(source['path'])}", {}
    else:
        model, source_metrics = _train_source(ctx, task, values, source)
        model.save(os.path.join(ctx.folder, "source_model.keras"))
        described = "classes " + ", ".join(str(k) for k in source["classes"])
    rates = [float(v) for v in (_rates(spec) or [base_lr])]
    plan = [(f"frozen-{k}-lr-{lr:g}", {"init": "transfer", "frozen_layers": k,
                                       "fine_tune_lr": lr})
            for k in strategy["frozen_layers"] for lr in rates]
    if strategy["baseline"]:
        plan.append(("scratch", {"init": "scratch", "frozen_layers": 0,
                                 "fine_tune_lr": base_lr}))

    def train(trial_id: int, hp: Mapping[str, Any]):
        message = ("baseline: the same network trained from scratch" if hp["init"] == "scratch"
                   else f"from {described}: {hp['frozen_layers']} lower layer(s) frozen, "
                   "new head")

        def once(execution: int):
            keras.utils.set_random_seed(int(spec["seed"]) + execution)
            fresh = _trial_model(model, hp, task, values)
            score, metrics, flags = summarise_fit(ctx, _fit(ctx, trial_id, fresh, task, values,
                                                            execution))
            return score, {**metrics, **parameter_counts(fresh)}, flags

        score, metrics, flags = train_executions(ctx, once)
        metrics.update({**source_metrics, "target_train_rows": len(task.x_train)})
        return score, metrics, message, flags

    run_trials(ctx, plan, train)


def _trial_model(source: Any, hp: Mapping[str, Any], task: _Task,
                 values: Mapping[str, Any]) -> Any:
    """The network a trial trains: the baseline built afresh, or the source model with a
    new head and ``hp["frozen_layers"]`` frozen."""
    if hp["init"] == "scratch":
        from tuning.runner.models import build_mlp

        return build_mlp(values, task.x_train.shape[1], task.kind, task.n_classes)
    return transfer_model(source, hp["frozen_layers"], task.kind, task.n_classes,
                          values.get("optimizer", "adam"), hp["fine_tune_lr"])


def _rates(spec: Mapping[str, Any]) -> list[float] | None:
    from tuning.strategies.manual import candidate_values

    hp = spec["search_space"].get("learning_rate")
    return None if hp is None else candidate_values(hp)


class _Task:
    """The target task's arrays (and, for a class split, the source task's)."""

    def __init__(self, **arrays: Any):
        self.__dict__.update(arrays)

    @classmethod
    def split(cls, data: Any, classes: list[int] | None, target_rows: int | None,
              seed: int) -> _Task:
        import numpy as np

        if classes is None:
            task = cls(kind=data.task, n_classes=data.n_classes, x_train=data.x_train,
                       y_train=data.y_train, x_val=data.x_val, y_val=data.y_val)
        else:
            if data.task != "classification":
                raise ValueError("strategy.source.classes needs a classification data set; "
                                 f"{data.name} is {data.task}")
            bad = [k for k in classes if k >= (data.n_classes or 0)]
            rest = [k for k in range(data.n_classes or 0) if k not in classes]
            if bad or len(rest) < 2:
                raise ValueError(f"strategy.source.classes {classes} must be class indices of "
                                 f"{data.name} (0 to {(data.n_classes or 0) - 1}) that leave at "
                                 "least 2 classes for the target task")
            source_train = np.isin(data.y_train, classes)
            source_val = np.isin(data.y_val, classes)
            relabel = np.full(data.n_classes, -1)
            relabel[rest] = np.arange(len(rest))
            source_label = np.full(data.n_classes, -1)
            source_label[classes] = np.arange(len(classes))
            task = cls(kind="classification", n_classes=len(rest),
                       x_train=data.x_train[~source_train],
                       y_train=relabel[data.y_train[~source_train]],
                       x_val=data.x_val[~source_val], y_val=relabel[data.y_val[~source_val]],
                       source=(data.x_train[source_train],
                               source_label[data.y_train[source_train]],
                               data.x_val[source_val], source_label[data.y_val[source_val]]),
                       n_source_classes=len(classes))
        if target_rows is not None and target_rows < len(task.x_train):
            keep = np.sort(np.random.default_rng(seed).choice(len(task.x_train), target_rows,
                                                              replace=False))
            task.x_train, task.y_train = task.x_train[keep], task.y_train[keep]
        return task


def _train_source(ctx: ToolContext, task: _Task, values: Mapping[str, Any],
                  source: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    import keras

    from tuning.runner.models import build_mlp
    from tuning.runner.training import fit_callbacks

    keras.utils.set_random_seed(int(ctx.spec["seed"]) + 1)
    x_train, y_train, x_val, y_val = task.source
    model = build_mlp(values, x_train.shape[1], "classification", task.n_source_classes)
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), verbose=0,
                        callbacks=fit_callbacks(ctx.spec),
                        epochs=source.get("epochs", ctx.spec["training"]["epochs"]),
                        batch_size=int(values.get("batch_size",
                                                  ctx.spec["training"]["batch_size"])))
    return model, {"source_val_accuracy": float(history.history["val_accuracy"][-1])}


def transfer_model(source: Any, frozen_layers: int, task: str, n_classes: int | None,
                   optimizer: str, learning_rate: float) -> Any:
    """A copy of ``source`` with a new head for ``task`` and its ``frozen_layers`` lowest
    layers with weights frozen; compiled as ``build_mlp`` compiles."""
    import keras

    copy = keras.models.clone_model(source)
    copy.set_weights(source.get_weights())
    body = keras.Model(copy.inputs, copy.layers[-2].output)
    weighted = [layer for layer in body.layers if layer.weights]
    if frozen_layers > len(weighted):
        raise ValueError(f"frozen_layers {frozen_layers} is more than the {len(weighted)} "
                         "layers with weights below the source model's head")
    for layer in body.layers:
        layer.trainable = True
    for layer in weighted[:frozen_layers]:
        layer.trainable = False
    if task == "classification":
        head = keras.layers.Dense(int(n_classes or 2), activation="softmax", name="new_head")
        loss, metrics = "sparse_categorical_crossentropy", ["accuracy"]
    else:
        head = keras.layers.Dense(1, name="new_head")
        loss, metrics = "mse", ["mae"]
    model = keras.Model(body.inputs, head(body.outputs[0]))
    model.compile(optimizer=keras.optimizers.get({"class_name": optimizer,
                                                  "config": {"learning_rate": learning_rate}}),
                  loss=loss, metrics=metrics)
    return model


def _fit(ctx: ToolContext, trial_id: int, model: Any, task: _Task, values: Mapping[str, Any],
         execution: int) -> list[dict[str, Any]]:
    return fit_recorded(ctx, trial_id, model, task.x_train, task.y_train,
                        validation_data=(task.x_val, task.y_val),
                        epochs=ctx.spec["training"]["epochs"],
                        batch_size=int(values.get("batch_size",
                                                  ctx.spec["training"]["batch_size"])),
                        execution=execution)


STRATEGY = register(Strategy(
    "transfer_learning", "Transfer learning (frozen layers, fine-tuning rate)",
    "When a model trained on a related task exists: replace its head, tune how many "
    "lower layers stay frozen and the fine-tuning rate, against a from-scratch baseline.",
    ("keras",), check, options=("executions_per_trial",),
    fields=("source", "frozen_layers", "baseline", "target_rows"),
    run=run, distributable=False, panel="transfer"))
