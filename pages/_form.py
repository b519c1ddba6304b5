"""The launch form's plain parts (no Streamlit): the search-space table and the map
between a spec and the form's widget keys.

The table has one row per hyperparameter: name, type, min, max, step, sampling, values
(the comma-separated choices of a ``choice``, or the value of a ``fixed``) and an optional
default.
"""
from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from tuning import strategies
from tuning.spec import Problem

COLUMNS = ("name", "type", "min", "max", "step", "sampling", "values", "default")


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def space_to_frame(space: dict[str, dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for name, hp in space.items():
        kind = hp.get("type", "float")
        values = ""
        if kind == "choice":
            values = ", ".join(_fmt(v) for v in hp.get("values", []))
        elif kind == "fixed":
            values = _fmt(hp.get("value", ""))
        rows.append({
            "name": name, "type": kind,
            "min": hp.get("min"), "max": hp.get("max"), "step": hp.get("step"),
            "sampling": hp.get("sampling", "linear") if kind in ("int", "float") else None,
            "values": values,
            "default": _fmt(hp["default"]) if "default" in hp else None,
        })
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("min", "max", "step"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in ("name", "type", "sampling", "values", "default"):
        frame[col] = frame[col].astype(object)
    return frame


def parse_value(text: str) -> Any:
    """``"32"`` -> 32, ``"0.1"`` -> 0.1, ``"true"`` -> True, anything else stays text."""
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def parse_values(text: str) -> list[Any]:
    return [parse_value(part) for part in str(text).split(",") if part.strip()]


def _cell(value: Any) -> Any:
    """A table cell with pandas' missing markers turned into None."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _number(value: Any, kind: str) -> Any:
    value = _cell(value)
    if value is None:
        return None
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if hasattr(value, "item"):
        value = value.item()
    return value


def space_from_frame(frame: pd.DataFrame) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The search space a table describes, and the faults only the table can have
    (rows without a name, names used twice). Ranges are checked by ``validate_spec``."""
    space: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for position, row in enumerate(frame.to_dict("records"), start=1):
        row = {k: _cell(row.get(k)) for k in COLUMNS}
        name = str(row["name"] or "").strip()
        if not name:
            if any(row[k] not in (None, "") for k in COLUMNS if k != "name"):
                problems.append(Problem("search_space", f"row {position} needs a name"))
            continue
        if name in space:
            problems.append(Problem(f"search_space.{name}",
                                    f"is defined twice (row {position}); remove one row"))
            continue
        kind = str(row["type"] or "").strip()
        hp: dict[str, Any] = {"type": kind}
        if kind in ("int", "float"):
            for key in ("min", "max", "step"):
                number = _number(row[key], kind)
                if number is not None:
                    hp[key] = number
            hp["sampling"] = row["sampling"] or "linear"
        elif kind == "choice":
            hp["values"] = parse_values(row["values"] or "")
        elif kind == "fixed":
            text = str(row["values"] or "")
            if text.strip():
                hp["value"] = parse_value(text)
        default = str(row["default"] or "").strip()
        if default and kind != "fixed":
            hp["default"] = parse_value(default)
        space[name] = hp
    return space, problems


# -- spec <-> widgets ------------------------------------------------------------------

# Strategy options, by spec field, to the widget key that holds them.
OPTION_KEYS = {"max_trials": "f_max_trials", "executions_per_trial": "f_executions",
               "num_initial_points": "f_num_initial", "alpha": "f_alpha", "beta": "f_beta",
               "max_epochs": "f_max_epochs", "factor": "f_factor",
               "hyperband_iterations": "f_hb_iterations", "cv_folds": "f_cv_folds",
               "max_consecutive_failed_trials": "f_max_failures", "recycle_every": "f_recycle",
               "samples": "f_samples", "workers": "f_workers"}


def option_widgets(strategy: str) -> dict[str, tuple[str, Any, dict[str, Any]]]:
    """Per strategy option: (label, starting value, ``st.number_input`` bounds).

    Bounds are never tighter than ``validate_spec``'s, so any valid spec loads back.
    """
    widgets: dict[str, tuple[str, Any, dict[str, Any]]] = {
        "max_trials": ("Max trials", 10, dict(min_value=1, step=1)),
        "executions_per_trial": ("Executions per trial", 1,
                                 dict(min_value=1, max_value=20, step=1)),
        "num_initial_points": ("Initial random points (empty: automatic)", None,
                               dict(min_value=1, step=1)),
        "alpha": ("alpha (noise)", 1e-4, dict(min_value=0.0, max_value=1.0, format="%g")),
        "beta": ("beta (exploration)", 2.6, dict(min_value=0.0, max_value=100.0, format="%g")),
        "max_epochs": ("Max epochs per model", 20, dict(min_value=2, step=1)),
        "factor": ("Reduction factor", 3, dict(min_value=2, max_value=100, step=1)),
        "hyperband_iterations": ("Hyperband iterations", 1,
                                 dict(min_value=1, max_value=100, step=1)),
        "cv_folds": ("Cross-validation folds", 3, dict(min_value=2, max_value=20, step=1)),
        "samples": ("Samples (per hyperparameter when combined)", 10,
                    dict(min_value=1, step=1)),
    }
    if strategies.get(strategy).exhausts_space:
        widgets["max_trials"] = ("Max trials (empty: every combination)", None,
                                 dict(min_value=1, step=1))
    return widgets


def form_state(spec: dict[str, Any]) -> dict[str, Any]:
    """The widget values that show ``spec`` in the launch form (its search space aside)."""
    data, strategy = spec.get("data", {}), spec.get("strategy", {})
    source = data.get("source", "sklearn")
    out: dict[str, Any] = {
        "f_name": spec.get("name", ""), "f_description": spec.get("description", ""),
        "f_source": source, "f_val_split": float(data.get("validation_split", 0.2)),
        "f_max_rows": data.get("max_rows"), "f_family": spec.get("model", {}).get("family"),
        "f_strategy": strategy.get("name"),
        "f_metric": spec.get("objective", {}).get("metric"), "f_seed": spec.get("seed", 42),
    }
    if source in ("sklearn", "keras"):
        out["f_sk_name" if source == "sklearn" else "f_keras_name"] = data.get("name")
    else:
        out.update({"csv_path": data.get("path"), "f_target": data.get("target"),
                    "f_task": data.get("task", "auto")})
    for option, key in OPTION_KEYS.items():
        if strategy.get(option) is not None:
            out[key] = strategy[option]
    training = spec.get("training") or {}
    if training:
        out["f_epochs"] = training.get("epochs", 5)
        out["f_batch_size"] = training.get("batch_size", 32)
    limit = spec.get("time_limit_s")
    out["f_time_limit_min"] = None if limit is None else float(limit) / 60
    out["f_trial_limit_s"] = spec.get("trial_time_limit_s")
    chosen = strategies.find(strategy.get("name"))
    if chosen is not None and chosen.is_tool:
        fields = chosen.fields
        out["f_tool_options"] = json.dumps({k: strategy[k] for k in fields if k in strategy})
    out["f_order"] = list(strategy.get("order") or [])
    out["f_combine"] = bool(strategy.get("combine", False))
    out["f_chief_host"] = strategy.get("chief_host", "127.0.0.1")
    pruning = strategy.get("pruning") or {}
    out["f_pruning"] = bool(pruning)
    out["f_prune_warmup"] = pruning.get("warmup_epochs", 2)
    out["f_prune_min_trials"] = pruning.get("min_trials", 3)
    early = training.get("early_stopping") or {}
    out["f_early"] = bool(early)
    out["f_es_monitor"] = early.get("monitor", "val_loss")
    out["f_es_patience"] = early.get("patience", 3)
    out["f_es_min_delta"] = float(early.get("min_delta", 0.0))
    out["f_es_restore"] = bool(early.get("restore_best_weights", True))
    out["f_lr_schedule"] = training.get("lr_schedule", "constant")
    return out
