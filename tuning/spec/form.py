"""The launch form as plain data: its state, and the maps between that state and a spec.

The form's state is a dict from widget key to value: exactly what the launch page keeps
in ``st.session_state``, so the page draws each widget with ``key=`` one of these keys.
``FORM_DEFAULTS`` lists every key with the value a fresh form starts from. Two keys are
not widgets: ``csv_path``/``csv_label`` (the stored CSV and a label for the default run
name, set by the page when a file is chosen) and ``space_rows`` (the search-space table,
one dict per row; see ``spec.space_table``).

- ``spec_from_form(state)`` -> ``FormDraft(doc, problems)``: the spec document the form
  describes (not yet validated: pass it to ``validate_spec``) and the faults only the form
  can have (a table row without a name, a name used twice, tool options that are not a
  JSON object). Keys missing from ``state`` take their default. It reads only the fields
  the form shows for the chosen strategy and model kind, so a stale value of a hidden
  widget never reaches the spec.
- ``form_from_spec(spec)`` -> state: a complete state (every key of ``FORM_DEFAULTS``)
  that shows ``spec``. For a normalised spec ``s``,
  ``validate_spec(spec_from_form(form_from_spec(s)).doc) == s`` (tests/spec/test_form.py
  checks it on every example spec). The form has no widget for ``chief_port`` or
  ``relay_port``; they do not survive the trip.

Which fields the form offers for a strategy is decided by the predicates in the section
"What the form offers", in one place, each asking the strategy registry.

No Streamlit here.
"""
from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tuning import catalog, strategies
from tuning.spec.checker import Problem
from tuning.spec.space_table import space_from_rows, space_to_rows

# -- what the form offers ------------------------------------------------------------
# Each predicate answers one "does the form show this field" question, from what the
# strategy registry (``tuning.strategies``) and the catalog declare.


def model_kind(family: str | None) -> str | None:
    """"keras" or "sklearn" for a known family, else None (nothing kind-specific shows)."""
    spec = catalog.FAMILIES.get(family or "")
    return spec.kind if spec else None


def strategy_options(strategy: str | None) -> tuple[str, ...]:
    """The strategy's options as it declares them (empty for an unknown name)."""
    chosen = strategies.find(strategy)
    return chosen.options if chosen else ()


def number_options(strategy: str | None, kind: str | None) -> list[str]:
    """The strategy options drawn as number inputs, in the order the strategy declares them, then
    ``cv_folds`` for a scikit-learn model (every strategy cross-validates those)."""
    options = [o for o in strategy_options(strategy) if o in STRATEGY_NUMBER_FIELDS]
    return options + (["cv_folds"] if kind == "sklearn" else [])


def takes_tool_options(strategy: str | None) -> bool:
    """A tool (a strategy that runs its own trials) takes its own fields as a JSON object."""
    chosen = strategies.find(strategy)
    return chosen is not None and chosen.is_tool


def takes_stage_order(strategy: str | None) -> bool:
    """The strategy lists ``order`` (sequential: one stage per hyperparameter)."""
    return "order" in strategy_options(strategy)


def takes_combine(strategy: str | None) -> bool:
    """The strategy lists ``combine`` (random_sampling: every combination of samples)."""
    return "combine" in strategy_options(strategy)


def offers_pruning(strategy: str | None, kind: str | None) -> bool:
    """Median pruning: Keras models under a strategy that declares itself prunable."""
    chosen = strategies.find(strategy)
    return kind == "keras" and chosen is not None and chosen.prunable


def offers_workers(strategy: str | None) -> bool:
    """KerasTuner's chief/worker engine, for a strategy that declares itself
    distributable (the tools run their own trial loop in one process)."""
    chosen = strategies.find(strategy)
    return chosen is not None and chosen.distributable


def sets_own_epochs(strategy: str | None) -> bool:
    """The strategy gives each model its epochs (Hyperband: ``validate_spec`` replaces
    ``training.epochs`` with its ``epochs_field``), so the form asks for no epochs."""
    chosen = strategies.find(strategy)
    return chosen is not None and chosen.epochs_field is not None


def offers_lr_schedule(strategy: str | None, kind: str | None) -> bool:
    """A learning-rate schedule for Keras training; not for a strategy that sets the
    rate itself (the range test: ``validate_spec`` refuses cosine there)."""
    chosen = strategies.find(strategy)
    return kind == "keras" and not (chosen is not None and chosen.sets_learning_rate)


def offers_early_stopping(strategy: str | None, kind: str | None) -> bool:
    """Early stopping for Keras training under a strategy that takes it."""
    chosen = strategies.find(strategy)
    return kind == "keras" and chosen is not None and chosen.early_stopping


# -- the state: keys and starting values -------------------------------------------

# Strategy options, by spec field, to the widget key that holds them.
OPTION_KEYS = {"max_trials": "f_max_trials", "executions_per_trial": "f_executions",
               "num_initial_points": "f_num_initial", "alpha": "f_alpha", "beta": "f_beta",
               "max_epochs": "f_max_epochs", "factor": "f_factor",
               "hyperband_iterations": "f_hb_iterations", "cv_folds": "f_cv_folds",
               "max_consecutive_failed_trials": "f_max_failures", "recycle_every": "f_recycle",
               "samples": "f_samples", "workers": "f_workers"}


@dataclass(frozen=True)
class NumberField:
    """A strategy option's number input: its label, starting value and
    ``st.number_input`` bounds (never tighter than ``validate_spec``'s, so any valid
    spec loads back)."""
    label: str
    start: Any
    bounds: Mapping[str, Any] = field(default_factory=dict)


STRATEGY_NUMBER_FIELDS: dict[str, NumberField] = {
    "max_trials": NumberField("Max trials", 10, dict(min_value=1, step=1)),
    "executions_per_trial": NumberField("Executions per trial", 1,
                                        dict(min_value=1, max_value=20, step=1)),
    "num_initial_points": NumberField("Initial random points (empty: automatic)", None,
                                      dict(min_value=1, step=1)),
    "alpha": NumberField("alpha (noise)", 1e-4, dict(min_value=0.0, max_value=1.0, format="%g")),
    "beta": NumberField("beta (exploration)", 2.6,
                        dict(min_value=0.0, max_value=100.0, format="%g")),
    "max_epochs": NumberField("Max epochs per model", 20, dict(min_value=2, step=1)),
    "factor": NumberField("Reduction factor", 3, dict(min_value=2, max_value=100, step=1)),
    "hyperband_iterations": NumberField("Hyperband iterations", 1,
                                        dict(min_value=1, max_value=100, step=1)),
    "cv_folds": NumberField("Cross-validation folds", 3, dict(min_value=2, max_value=20, step=1)),
    "samples": NumberField("Samples (per hyperparameter when combined)", 10,
                           dict(min_value=1, step=1)),
}
# Grid search with no max_trials tries every combination.
GRID_MAX_TRIALS = NumberField("Max trials (empty: every combination)", None,
                              dict(min_value=1, step=1))
# Drawn for every strategy, in the "Failure handling" expander.
FAILURE_FIELDS: dict[str, NumberField] = {
    "max_consecutive_failed_trials": NumberField(
        "Give up after this many failed trials in a row", 3, dict(min_value=1, step=1)),
    "recycle_every": NumberField("Start a fresh worker process every N trials", 25,
                                 dict(min_value=1, step=1)),
}
WORKERS_START = 1
LOCAL_HOST = "127.0.0.1"


def number_field(option: str, strategy: str | None) -> NumberField:
    """The number input for a strategy option under ``strategy``."""
    chosen = strategies.find(strategy)
    if option == "max_trials" and chosen is not None and chosen.exhausts_space:
        return GRID_MAX_TRIALS
    if option in FAILURE_FIELDS:
        return FAILURE_FIELDS[option]
    return STRATEGY_NUMBER_FIELDS[option]


def option_start(option: str, strategy: str | None) -> Any:
    """The value a strategy option's widget starts from."""
    if option == "workers":
        return WORKERS_START
    return number_field(option, strategy).start


EARLY_STOPPING_MONITORS = sorted({m for ms in catalog.KERAS_METRICS.values() for m in ms})

FORM_DEFAULTS: dict[str, Any] = {
    # data
    "f_source": "sklearn", "f_sk_name": None, "f_keras_name": None,
    "csv_path": None, "csv_label": None, "f_target": None, "f_task": "auto",
    "f_val_split": 0.2, "f_max_rows": None,
    # your own data: an npz file or image folder (f_data_path), a Python loader
    "f_data_path": "", "f_image_h": 64, "f_image_w": 64, "f_color_mode": "rgb",
    "f_data_module": "", "f_data_function": "load_data",
    # model and search space (f_module, f_build: your own model's file and builder)
    "f_family": None, "f_module": "", "f_build": "build_model", "space_rows": [],
    # strategy (None for a selection: the page picks the first option offered)
    "f_strategy": None,
    **{key: option_start(option, None) for option, key in OPTION_KEYS.items()},
    "f_tool_options": "{}", "f_order": [], "f_combine": False, "f_chief_host": LOCAL_HOST,
    "f_pruning": False, "f_prune_warmup": 2, "f_prune_min_trials": 3,
    # objective, budget, training
    "f_metric": None, "f_seed": 42, "f_epochs": 5, "f_batch_size": 32,
    "f_time_limit_min": None, "f_trial_limit_s": None, "f_lr_schedule": "constant",
    "f_early": False, "f_es_monitor": "val_loss", "f_es_patience": 3, "f_es_min_delta": 0.0,
    "f_es_restore": True,
    # naming
    "f_name": "", "f_description": "",
}


def fresh_state() -> dict[str, Any]:
    """A copy of ``FORM_DEFAULTS`` (lists copied too)."""
    return {k: list(v) if isinstance(v, list) else v for k, v in FORM_DEFAULTS.items()}


# -- form -> spec --------------------------------------------------------------------


@dataclass(frozen=True)
class FormDraft:
    """What the form describes: ``doc``, the spec document before validation, and
    ``problems``, the faults only the form can have (``validate_spec`` finds the rest)."""
    doc: dict[str, Any]
    problems: list[Problem]


def spec_from_form(state: Mapping[str, Any]) -> FormDraft:
    """The spec document ``state`` describes, and the form's own problems (see the module
    docstring). Values have the types the widgets return (numbers from number inputs);
    whether they are valid is ``validate_spec``'s to say, field by field."""
    get = _reader(state)
    family, strategy_name = get("f_family"), get("f_strategy")
    kind = model_kind(family)
    data = _data_from_form(get)
    space, problems = space_from_rows(get("space_rows"))
    strategy, tool_problems = _strategy_from_form(get, strategy_name, kind)
    training = _training_from_form(get, strategy_name, kind)
    seed, limit_min, trial_limit = get("f_seed"), get("f_time_limit_min"), get("f_trial_limit_s")
    doc: dict[str, Any] = {
        "name": str(get("f_name") or "").strip() or default_name(state),
        "description": get("f_description"),
        "seed": int(seed) if seed is not None else seed,
        "data": data,
        "model": _model_from_form(get, family),
        "search_space": space,
        "strategy": strategy,
        "objective": {"metric": get("f_metric")},
        "time_limit_s": None if limit_min is None else round(float(limit_min) * 60, 3),
        "trial_time_limit_s": None if trial_limit is None else float(trial_limit),
    }
    if training:
        doc["training"] = training
    return FormDraft(doc, problems + tool_problems)


def default_name(state: Mapping[str, Any]) -> str:
    """The run name used when the name field is empty: data set, family, strategy."""
    get = _reader(state)
    source = get("f_source")
    label = {"sklearn": get("f_sk_name"), "keras": get("f_keras_name"),
             "npz": os.path.basename(str(get("f_data_path") or "")),
             "images": os.path.basename(os.path.normpath(str(get("f_data_path") or "x"))),
             "python": get("f_data_function")}.get(source)
    family = get("f_family")
    if _is_user_model(family) and get("f_module"):
        family = os.path.basename(str(get("f_module")))
    return f"{label or get('csv_label') or 'csv'} · {family} · {get('f_strategy')}"


def _is_user_model(family: str | None) -> bool:
    spec = catalog.FAMILIES.get(family or "")
    return bool(spec and spec.user_code)


def _model_from_form(get, family: str | None) -> dict[str, Any]:
    if not _is_user_model(family):
        return {"family": family}
    return {"family": family, "module": get("f_module") or None,
            "build": str(get("f_build") or "").strip() or "build_model"}


_UNSET = object()


def _reader(state: Mapping[str, Any]):
    """``get(key, fallback)``: the state's value, else ``fallback``, else the default."""
    def get(key: str, fallback: Any = _UNSET) -> Any:
        if key in state:
            return state[key]
        return FORM_DEFAULTS[key] if fallback is _UNSET else fallback
    return get


def _data_from_form(get) -> dict[str, Any]:
    source = get("f_source")
    data: dict[str, Any] = {"source": source}
    if source == "sklearn":
        data["name"] = get("f_sk_name")
    elif source == "keras":
        data["name"] = get("f_keras_name")
    elif source in ("npz", "images"):
        data["path"] = str(get("f_data_path") or "").strip()
        if source == "images":
            data["image_size"] = [get("f_image_h"), get("f_image_w")]
            data["color_mode"] = get("f_color_mode")
    elif source == "python":
        module = str(get("f_data_module") or "").strip() or get("f_module") or ""
        data["module"] = module
        data["function"] = str(get("f_data_function") or "").strip() or "load_data"
    if source in ("npz", "python"):
        data["task"] = get("f_task")
    if source == "csv" and get("csv_path"):
        data["path"] = get("csv_path")
        # The page passes no target while the CSV has no readable columns.
        if get("f_target") is not None:
            data["target"], data["task"] = get("f_target"), get("f_task")
    data["validation_split"] = get("f_val_split")
    if get("f_max_rows") is not None:
        data["max_rows"] = int(get("f_max_rows"))
    return data


def _strategy_from_form(get, name: str | None,
                        kind: str | None) -> tuple[dict[str, Any], list[Problem]]:
    strategy: dict[str, Any] = {"name": name}
    problems: list[Problem] = []
    for option in number_options(name, kind):
        value = get(OPTION_KEYS[option], option_start(option, name))
        if value is not None:
            strategy[option] = value
    if takes_tool_options(name):
        extra = _tool_options(get("f_tool_options"))
        if extra is None:
            problems.append(Problem("strategy", "options must be a JSON object such as "
                                    '{"batch_sizes": [16, 64, 256]}'))
        else:
            strategy.update({k: v for k, v in extra.items() if k != "name"})
    if takes_stage_order(name):
        strategy["order"] = list(get("f_order") or [])
    if takes_combine(name):
        strategy["combine"] = get("f_combine")
    if offers_pruning(name, kind) and get("f_pruning"):
        strategy["pruning"] = {"warmup_epochs": get("f_prune_warmup"),
                               "min_trials": get("f_prune_min_trials")}
    if offers_workers(name):
        strategy["workers"] = get("f_workers")
        host = str(get("f_chief_host") or "").strip()
        if host != LOCAL_HOST:
            strategy["chief_host"] = host
    for option in FAILURE_FIELDS:
        strategy[option] = get(OPTION_KEYS[option])
    return strategy, problems


def _tool_options(raw: Any) -> dict[str, Any] | None:
    try:
        extra = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return None
    return extra if isinstance(extra, dict) else None


def _training_from_form(get, strategy: str | None, kind: str | None) -> dict[str, Any]:
    if kind != "keras":
        return {}
    training: dict[str, Any] = {}
    if not sets_own_epochs(strategy):
        training["epochs"] = get("f_epochs")
    training["batch_size"] = get("f_batch_size")
    if offers_lr_schedule(strategy, kind) and get("f_lr_schedule") != "constant":
        training["lr_schedule"] = get("f_lr_schedule")
    if offers_early_stopping(strategy, kind) and get("f_early"):
        training["early_stopping"] = {
            "monitor": get("f_es_monitor"), "patience": get("f_es_patience"),
            "min_delta": get("f_es_min_delta"), "restore_best_weights": get("f_es_restore")}
    return training


# -- spec -> form --------------------------------------------------------------------


def form_from_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A complete form state that shows ``spec``: its values where it has them, the
    defaults elsewhere (see the module docstring for the round trip this guarantees)."""
    data, strategy = spec.get("data") or {}, spec.get("strategy") or {}
    training = spec.get("training") or {}
    name = strategy.get("name")
    out = fresh_state()
    source = data.get("source", "sklearn")
    out.update({
        "f_name": spec.get("name", ""), "f_description": spec.get("description", ""),
        "f_source": source, "f_val_split": float(data.get("validation_split", 0.2)),
        "f_max_rows": data.get("max_rows"), "f_family": (spec.get("model") or {}).get("family"),
        "space_rows": space_to_rows(spec.get("search_space") or {}),
        "f_strategy": name,
        "f_metric": (spec.get("objective") or {}).get("metric"), "f_seed": spec.get("seed", 42),
    })
    model = spec.get("model") or {}
    if model.get("module"):
        out["f_module"], out["f_build"] = model["module"], model.get("build", "build_model")
    if source == "sklearn":
        out["f_sk_name"] = data.get("name")
    elif source == "keras":
        out["f_keras_name"] = data.get("name")
    elif source in ("npz", "images"):
        out["f_data_path"] = data.get("path", "")
        height, width = data.get("image_size", [64, 64])
        out.update({"f_image_h": height, "f_image_w": width,
                    "f_color_mode": data.get("color_mode", "rgb")})
    elif source == "python":
        module = data.get("module", "")
        out["f_data_module"] = "" if module == model.get("module") else module
        out["f_data_function"] = data.get("function", "load_data")
    if source in ("npz", "python"):
        out["f_task"] = data.get("task", "auto")
    if source == "csv":
        path = data.get("path")
        out.update({"csv_path": path, "csv_label": os.path.basename(path) if path else None,
                    "f_target": data.get("target"), "f_task": data.get("task", "auto")})
    for option, key in OPTION_KEYS.items():
        value = strategy.get(option)
        out[key] = value if value is not None else option_start(option, name)
    if takes_tool_options(name):
        fields = strategies.get(name).fields
        out["f_tool_options"] = json.dumps({k: strategy[k] for k in fields if k in strategy})
    out["f_order"] = list(strategy.get("order") or [])
    out["f_combine"] = bool(strategy.get("combine", False))
    out["f_chief_host"] = strategy.get("chief_host", LOCAL_HOST)
    pruning = strategy.get("pruning") or {}
    out["f_pruning"] = bool(pruning)
    out["f_prune_warmup"] = pruning.get("warmup_epochs", 2)
    out["f_prune_min_trials"] = pruning.get("min_trials", 3)
    out["f_epochs"] = training.get("epochs", 5)
    out["f_batch_size"] = training.get("batch_size", 32)
    early = training.get("early_stopping") or {}
    out["f_early"] = bool(early)
    out["f_es_monitor"] = early.get("monitor", "val_loss")
    out["f_es_patience"] = early.get("patience", 3)
    out["f_es_min_delta"] = float(early.get("min_delta", 0.0))
    out["f_es_restore"] = bool(early.get("restore_best_weights", True))
    out["f_lr_schedule"] = training.get("lr_schedule", "constant")
    limit = spec.get("time_limit_s")
    out["f_time_limit_min"] = None if limit is None else float(limit) / 60
    out["f_trial_limit_s"] = spec.get("trial_time_limit_s")
    return out
