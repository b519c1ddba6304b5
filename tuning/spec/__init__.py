"""Run specs: one JSON document describes a run. Validation without TensorFlow.

``validate_spec`` checks a whole document and reports every problem at once, each
naming the field, the rule and the value::

    search_space.lr.min must be > 0 when sampling is log; got 0

It returns the spec normalised: every optional field filled with its default, so
what is stored is exactly what runs.

This module is the validator's entry and checks the top-level fields and the data,
model, objective and training sections. ``space`` checks ``search_space``,
``strategy`` checks ``strategy`` (each strategy its own fields), and ``checker`` holds what
they share.
Import the validator's names from here: ``__all__`` lists them.
"""
from __future__ import annotations

import os
from typing import Any

from tuning import catalog, strategies
from tuning.runner.training import SCHEDULES

from .checker import (
    MAX_EPOCHS_LIMIT,
    MAX_GRID_COMBINATIONS,
    MAX_TRIALS_LIMIT,
    Checker,
    Problem,
    SpecError,
)
from .document import check_document, parse_text
from .space import check_space
from .strategy import check_strategy

__all__ = ["MAX_EPOCHS_LIMIT", "MAX_GRID_COMBINATIONS", "MAX_TRIALS_LIMIT", "NAME_MAX_LENGTH",
           "Problem", "SpecError", "load_spec_file", "parse_spec_text", "validate_spec"]

NAME_MAX_LENGTH = 120

def load_spec_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a spec file; every failure is a ``SpecError``."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise SpecError([Problem(
            "spec", f"cannot be read from {os.fspath(path)}: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise SpecError([Problem(
            "spec", f"must be UTF-8 JSON text; {os.fspath(path)} is not")]) from None
    return validate_spec(parse_spec_text(text))


def parse_spec_text(text: str) -> Any:
    """Parse a spec's JSON text (not yet validated); every fault is a ``SpecError``: bad JSON,
    NaN or Infinity, an integer of more than 1000 digits, nesting deeper than 32 levels, a
    lone surrogate, more than a million characters."""
    return parse_text(text)


TOP_LEVEL = ("name", "seed", "data", "model", "search_space", "strategy", "objective",
             "training", "time_limit_s", "trial_time_limit_s", "description")


def validate_spec(doc: Any) -> dict[str, Any]:
    """Check a spec document; return it normalised or raise ``SpecError`` listing every problem."""
    c = Checker()
    if not isinstance(doc, dict):
        raise SpecError([Problem("spec", f"must be a JSON object; got {type(doc).__name__}")])
    check_document(doc)
    c.unknown_keys("", doc, TOP_LEVEL)
    out: dict[str, Any] = {}
    out["name"] = _check_name(c, doc.get("name"))
    out["description"] = _check_description(c, doc.get("description"))
    seed = doc.get("seed", 42)
    out["seed"] = c.integer("seed", seed, 0, 2**31 - 1)
    model_doc = c.section(doc, "model")
    data, task, sample_shape = _check_data(c, c.section(doc, "data"), model_doc)
    out["data"] = data
    model, kind = _check_model(c, model_doc, task, data, sample_shape)
    out["model"] = model
    out["search_space"] = check_space(c, doc.get("search_space"), model.get("family"), kind)
    out["strategy"] = check_strategy(c, c.section(doc, "strategy"), kind, out["search_space"],
                                     model.get("family"))
    family_spec = catalog.FAMILIES.get(model.get("family") or "")
    user_code = bool(family_spec and family_spec.user_code)
    out["objective"] = _check_objective(c, c.section(doc, "objective", required=False), kind, task,
                                        free_metrics=user_code)
    out["training"] = _check_training(c, c.section(doc, "training", required=False), kind,
                                      out["search_space"])
    chosen = strategies.find(out["strategy"].get("name"))
    if chosen and chosen.is_tool and family_spec and family_spec.kind == "keras" \
            and not family_spec.tools and not chosen.any_keras_model:
        c.fail("strategy.name", f"{chosen.name} trains the shipped MLP, not the "
               f"{family_spec.name} family's model; pick a search strategy (random, bayesian, "
               "hyperband, grid, sequential, random_sampling)", chosen.name)
    if out["training"].get("lr_schedule") == "cosine" and chosen and chosen.sets_learning_rate:
        c.fail("training.lr_schedule", f"does not apply to {chosen.name}, which sets the rate "
               "itself; remove it (use cosine when you train at the suggested rate)", "cosine")
    limit = doc.get("time_limit_s")
    out["time_limit_s"] = None if limit is None else c.number(
        "time_limit_s", limit, 0, 30 * 24 * 3600, low_open=True)
    limit = doc.get("trial_time_limit_s")
    out["trial_time_limit_s"] = None if limit is None else c.number(
        "trial_time_limit_s", limit, 0, 30 * 24 * 3600, low_open=True)
    if not c.problems:
        from .estimates import memory_problem

        too_big = memory_problem(out)
        if too_big:
            c.problems.append(Problem(*too_big))
    if c.problems:
        raise SpecError(c.problems)
    epochs_field = strategies.get(out["strategy"]["name"]).epochs_field
    if epochs_field:
        out["training"]["epochs"] = out["strategy"][epochs_field]
    return out


def _check_name(c: Checker, name: Any) -> str:
    if name is None:
        return "untitled run"
    if not isinstance(name, str) or not name.strip():
        c.fail("name", "must be a non-empty string", name)
        return ""
    if len(name) > NAME_MAX_LENGTH:
        c.fail("name", f"must be at most {NAME_MAX_LENGTH} characters; shorten it", len(name))
    if any(ord(ch) < 32 for ch in name):
        c.fail("name", "must not contain control characters such as newlines", name)
    return name.strip()


DESCRIPTION_MAX_LENGTH = 5000


def _check_description(c: Checker, description: Any) -> str:
    if description is None:
        return ""
    if not isinstance(description, str):
        c.fail("description", "must be a string", description)
        return ""
    if len(description) > DESCRIPTION_MAX_LENGTH:
        c.fail("description", f"must be at most {DESCRIPTION_MAX_LENGTH} characters; shorten "
               "it", len(description))
    return description


DATA_FIELDS = ("source", "name", "path", "target", "task", "validation_split", "max_rows",
               "image_size", "color_mode", "module", "function")
# Sources of arrays that only the Keras families train on.
ARRAY_SOURCES = ("npz", "images", "python")


def _check_data(c: Checker, data: dict[str, Any], model: dict[str, Any]
                ) -> tuple[dict[str, Any], str, list[int] | None]:
    """The data section normalised, the task it implies, and the shape of one sample
    where known before loading (an npz file or an image folder)."""
    if not data:
        return {}, "classification", None
    c.unknown_keys("data", data, DATA_FIELDS)
    shape = None
    out: dict[str, Any] = {}
    source = c.choice("data.source", data.get("source", "sklearn"), catalog.DATA_SOURCES)
    out["source"] = source
    task = data.get("task", "auto")
    if c.choice("data.task", task, catalog.TASKS) is None:
        task = "auto"
    inferred = "classification"
    if source == "sklearn":
        name = c.choice("data.name", data.get("name"), catalog.SKLEARN_DATASETS)
        out["name"] = name
        inferred = catalog.SKLEARN_DATASETS.get(name or "", "classification")
    elif source == "keras":
        name = c.choice("data.name", data.get("name"), catalog.KERAS_DATASETS)
        out["name"] = name
    elif source == "csv":
        path = data.get("path")
        if not isinstance(path, str) or not path.strip():
            c.fail("data.path", "is required for a CSV source (the CSV file's path)", path)
        else:
            out["path"] = path
            out["name"] = os.path.basename(path)
        target = data.get("target")
        if not isinstance(target, str) or not target:
            c.fail("data.target", "is required for a CSV source (the column to predict)", target)
        out["target"] = target
        readable = out.get("path") and _check_csv_location(c, out["path"])
        inferred = _inspect_csv_task(c, out["path"] if readable else None, target, task)
    elif source in ARRAY_SOURCES:
        from .sources import check_user_data

        found, shape = check_user_data(c, source, data, out, model)
        inferred = _npz_task(out.get("path"), task) if source == "npz" and found == "auto" \
            and not c.problems else found
    if source in ARRAY_SOURCES and source != "python" and task == "auto" and inferred == "auto":
        inferred = "classification"
    if source == "images" and task == "regression":
        c.fail("data.task", "must be classification for an image folder (its sub-folders are "
               "the classes)", task)
    if source == "keras" and task == "regression":
        c.fail("data.task", f"must be classification for Keras data set {out.get('name')}", task)
    out["task"] = inferred if task == "auto" else task
    split = data.get("validation_split", 0.2)
    out["validation_split"] = c.number("data.validation_split", split, 0.0, 0.9,
                                       low_open=True)
    max_rows = data.get("max_rows")
    out["max_rows"] = None if max_rows is None else c.integer("data.max_rows", max_rows, 10)
    effective_task = out["task"] if out["task"] != "auto" else "classification"
    return out, effective_task, shape


def _npz_task(path: str | None, task: str) -> str:
    """The task an npz file's labels imply (its y arrays are read; x is not)."""
    if not path:
        return "classification"
    import numpy as np

    from tuning.data import DataError
    from tuning.data.arrays import infer_task
    from tuning.paths import resolve_spec_path

    try:
        with np.load(resolve_spec_path(path), allow_pickle=False) as archive:
            ys = [archive[k] for k in ("y", "y_train", "y_val") if k in archive.files]
    except (OSError, ValueError):
        return "classification"
    try:
        return infer_task(ys, {"task": task})
    except DataError:
        return "classification"


def _check_csv_location(c: Checker, path: str) -> bool:
    """A CSV is read only from the project's data folders, by the rule every file a spec
    names follows (``paths.spec_path_problem``): a spec must not point the dashboard at any
    file of the machine. Never reads the file."""
    from tuning.paths import spec_path_problem

    problem = spec_path_problem(path)
    if problem is None:
        return True
    c.fail("data.path", problem, path)
    return False


def _inspect_csv_task(c: Checker, path: str | None, target: Any, task: str) -> str:
    """Read the CSV now, so a bad file or target is reported before anything is queued
    and "auto" becomes the task its target column implies."""
    if not path or not isinstance(target, str) or not target:
        return "classification"
    from tuning.data import DataError, inspect_csv

    try:
        summary = inspect_csv(path, target, task)
    except DataError as exc:
        message = exc.message
        prefix = f"{exc.field}: "
        c.problems.append(Problem(exc.field, message[len(prefix):] if message.startswith(prefix)
                                  else message.replace(exc.field, "", 1).strip()))
        return "classification"
    return summary.task or "classification"


def _check_model(c: Checker, model: dict[str, Any], task: str, data: dict[str, Any],
                 sample_shape: list[int] | None) -> tuple[dict[str, Any], str]:
    family = c.choice("model.family", model.get("family"), catalog.FAMILIES)
    spec = catalog.FAMILIES.get(family or "")
    c.unknown_keys("model", model, ("family", "module", "build") if spec and spec.user_code
                   else ("family",))
    if spec is None:
        return {"family": None}, "keras"
    if task not in spec.tasks:
        c.fail("model.family", f"{family} cannot do {task}; pick one of "
               + ", ".join(f.name for f in catalog.FAMILIES.values() if task in f.tasks), family)
    if spec.kind != "keras" and data.get("source") in ARRAY_SOURCES:
        c.fail("data.source", f"{data['source']} data trains Keras models only; pick a Keras "
               "family (custom, cnn, mlp) or give a CSV of features", data["source"])
    if spec.kind == "keras" and spec.inputs == "flat" and sample_shape is not None \
            and len(sample_shape) > 1:
        c.fail("model.family", f"{family} takes one row of features per sample, but the data's "
               f"samples have shape {sample_shape}; use the cnn family or your own model", family)
    from .sources import check_custom_model, check_image_input

    check_image_input(c, family, data, sample_shape)
    if spec.user_code:
        return check_custom_model(c, model), spec.kind
    return {"family": family}, spec.kind


TRAINING_FIELDS = ("epochs", "batch_size", "early_stopping", "lr_schedule")
EARLY_STOPPING_FIELDS = ("monitor", "patience", "min_delta", "restore_best_weights")


def _check_training(c: Checker, training: dict[str, Any], kind: str,
                    space: dict[str, Any]) -> dict[str, Any]:
    c.unknown_keys("training", training, TRAINING_FIELDS)
    if kind == "sklearn":
        for key in training:
            if key in TRAINING_FIELDS:
                c.fail(f"training.{key}", "applies to Keras models only; remove it for a "
                       "scikit-learn model", training[key])
        return {}
    return {
        "epochs": c.integer("training.epochs", training.get("epochs", 5), 1, MAX_EPOCHS_LIMIT),
        "batch_size": c.integer("training.batch_size", training.get("batch_size", 32), 1, 65536),
        "early_stopping": _check_early_stopping(c, training.get("early_stopping")),
        "lr_schedule": c.choice("training.lr_schedule", training.get("lr_schedule", "constant"),
                                SCHEDULES),
    }


def _check_early_stopping(c: Checker, early: Any) -> dict[str, Any] | None:
    if early is None or early is False:
        return None
    if early is True:
        early = {}
    if not isinstance(early, dict):
        c.fail("training.early_stopping", 'must be an object such as {"monitor": "val_loss", '
               '"patience": 3}', early)
        return None
    c.unknown_keys("training.early_stopping", early, EARLY_STOPPING_FIELDS)
    monitor = c.choice("training.early_stopping.monitor", early.get("monitor", "val_loss"),
                       sorted({m for ms in catalog.KERAS_METRICS.values() for m in ms}))
    restore = early.get("restore_best_weights", True)
    if not isinstance(restore, bool):
        c.fail("training.early_stopping.restore_best_weights", "must be true or false", restore)
    return {
        "monitor": monitor,
        "patience": c.integer("training.early_stopping.patience", early.get("patience", 3), 0,
                              MAX_EPOCHS_LIMIT),
        "min_delta": c.number("training.early_stopping.min_delta", early.get("min_delta", 0.0),
                              0, 1e6),
        "restore_best_weights": bool(restore),
    }


OBJECTIVE_FIELDS = ("metric", "direction")


def _check_objective(c: Checker, objective: dict[str, Any], kind: str,
                     task: str, free_metrics: bool = False) -> dict[str, Any]:
    """``free_metrics``: the user's own model compiles its own metrics, so any metric name
    its logs may hold (``val_auc``) is accepted; KerasTuner fails the trial if it is not."""
    c.unknown_keys("objective", objective, OBJECTIVE_FIELDS)
    metrics = (catalog.SKLEARN_SCORINGS if kind == "sklearn" else catalog.KERAS_METRICS)[task]
    metric = objective.get("metric", catalog.default_metric(kind, task))
    if not (free_metrics and isinstance(metric, str) and metric.isidentifier()):
        metric = c.choice("objective.metric", metric, metrics)
    if metric is None:
        return {"metric": None, "direction": "max"}
    expected = catalog.default_direction(metric)
    direction = objective.get("direction", expected)
    if c.choice("objective.direction", direction, ("min", "max")) is not None \
            and direction != expected:
        c.fail("objective.direction", f"must be {expected} for {metric}", direction)
    return {"metric": metric, "direction": expected}
