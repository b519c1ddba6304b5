"""What a KerasTuner search says about itself, translated into this project's terms.

KerasTuner saves its state as JSON (``oracle.json``, ``trial_*/trial.json``); a live
tuner holds the same structures (``HyperParameters.get_config()``, ``Trial.get_state()``).
These pure functions read either, so the watch API (in a script that has TensorFlow)
and the importer (in the dashboard, which never imports it) describe a search the same
way. Nothing here imports TensorFlow or KerasTuner.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from storage import TrialStatus
from tuning import strategies
from tuning.insights.curves import finite_number

CUSTOM = "custom"
_KT_STATUS = {"COMPLETED": TrialStatus.COMPLETED, "FAILED": TrialStatus.FAILED,
              "INVALID": TrialStatus.FAILED, "STOPPED": TrialStatus.STOPPED}


def strategy_of_class(oracle_cls: type) -> str:
    """Our strategy name for an oracle class (``custom`` for one we do not know)."""
    chosen = strategies.of_oracle_class(oracle_cls)
    return chosen.name if chosen else CUSTOM


def strategy_section(name: str, settings: Mapping[str, Any] | Any,
                     space: Mapping[str, Mapping[str, Any]],
                     max_trials: int | None = None) -> dict[str, Any]:
    """What is known of a KerasTuner search's strategy, as a spec's strategy section:
    its name, the settings its oracle keeps (``settings``: the oracle itself, or
    ``oracle.json``), and how many trials it plans (None when that cannot be told)."""
    section: dict[str, Any] = {"name": name}
    chosen = strategies.find(name)
    if chosen is None:
        section["max_trials"] = max_trials
        return section
    section.update(strategies.describe_oracle(chosen, settings))
    if chosen.budget is not None:
        try:
            max_trials = chosen.budget({k: int(section[k]) for k in chosen.oracle_fields})
        except (TypeError, ValueError, OverflowError):  # an oracle.json's NaN or Infinity
            max_trials = None
    elif chosen.exhausts_space and max_trials is None:
        max_trials = grid_size(space)
    section["max_trials"] = max_trials
    return section


def planned_epochs(section: Mapping[str, Any]) -> int | None:
    """The epochs a strategy fixes per trial itself (Hyperband's ``max_epochs``), or None."""
    chosen = strategies.find(section.get("name"))
    return section.get(chosen.epochs_field) if chosen and chosen.epochs_field else None


def trial_status(kt_status: str | None) -> TrialStatus:
    """A saved trial's status. RUNNING or IDLE on disk means its search was cut off:
    KerasTuner trains such a trial again from its first epoch when the search resumes."""
    return _KT_STATUS.get(str(kt_status), TrialStatus.INTERRUPTED)


def short_message(message: str | None) -> str | None:
    """KerasTuner stores whole tracebacks; people need the last line."""
    if not message:
        return None
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    return lines[-1] if lines else None


# -- search space ---------------------------------------------------------------------


def search_space(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Our ``search_space`` format from a ``HyperParameters.get_config()`` mapping.

    Int/Float become ranges (``reverse_log`` is drawn as ``log``), Choice a choice,
    Boolean a bool and Fixed a fixed value. A conditional hyperparameter keeps its
    conditions under ``"conditions"`` (our launch specs have none; pages ignore the key).
    Entries of an unknown class are left out.
    """
    space: dict[str, dict[str, Any]] = {}
    for entry in config.get("space") or ():
        kind = entry.get("class_name")
        hp = entry.get("config") or {}
        name = hp.get("name")
        if not isinstance(name, str) or name in space:
            continue
        translated = _translate(kind, hp)
        if translated is None:
            continue
        if hp.get("conditions"):
            translated["conditions"] = list(hp["conditions"])
        space[name] = translated
    return space


def _translate(kind: Any, hp: Mapping[str, Any]) -> dict[str, Any] | None:
    if kind in ("Int", "Float"):
        low, high = hp.get("min_value"), hp.get("max_value")
        if low is None or high is None:
            return None
        cast = int if kind == "Int" else float
        out: dict[str, Any] = {"type": kind.lower(), "min": cast(low), "max": cast(high),
                               "sampling": "log" if "log" in str(hp.get("sampling")) else "linear"}
        step = hp.get("step")
        # KerasTuner's Int always has a step (1 by default); only a real one is worth keeping.
        if step is not None and not (kind == "Int" and step == 1):
            out["step"] = cast(step)
        if hp.get("default") is not None:
            out["default"] = cast(hp["default"])
        return out
    if kind == "Choice":
        out = {"type": "choice", "values": list(hp.get("values") or ())}
        if hp.get("default") is not None:
            out["default"] = hp["default"]
        return out
    if kind == "Boolean":
        return {"type": "bool", "default": bool(hp.get("default", False))}
    if kind == "Fixed":
        return {"type": "fixed", "value": hp.get("value")}
    return None


def space_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """The value each hyperparameter takes when nothing is tuned (GridSearch's first trial)."""
    defaults = {}
    for entry in config.get("space") or ():
        hp = entry.get("config") or {}
        kind = entry.get("class_name")
        if kind in ("Int", "Float"):
            value = hp.get("default")
            defaults[hp.get("name")] = hp.get("min_value") if value is None else value
        elif kind == "Choice":
            value = hp.get("default")
            values = hp.get("values") or [None]
            defaults[hp.get("name")] = values[0] if value is None else value
        elif kind == "Boolean":
            defaults[hp.get("name")] = bool(hp.get("default", False))
        elif kind == "Fixed":
            defaults[hp.get("name")] = hp.get("value")
    return defaults


#: The largest grid counted: beyond it a trial count means nothing, and would not fit a
#: float (plots) or an SQLite integer.
GRID_LIMIT = 2**53


def grid_size(space: Mapping[str, Mapping[str, Any]]) -> int | None:
    """Combinations in a space whose every hyperparameter is discrete; None otherwise, or
    when there are more than ``GRID_LIMIT`` (counted without overflow whatever the bounds)."""
    total = 1
    for hp in space.values():
        count = _grid_count(hp)
        if count is None:
            return None
        total *= count
        if total > GRID_LIMIT:
            return None
    return total


def _grid_count(hp: Mapping[str, Any]) -> int | None:
    kind = hp["type"]
    if kind == "choice":
        return max(1, len(hp["values"]))
    if kind == "bool":
        return 2
    if kind == "fixed":
        return 1
    step = hp.get("step", 1 if kind == "int" else None)
    if kind not in ("int", "float") or not step or step <= 0 or hp.get("sampling") == "log":
        return None
    if kind == "int":
        return (int(hp["max"]) - int(hp["min"])) // int(step) + 1
    steps = (hp["max"] - hp["min"]) / step
    if not math.isfinite(steps) or steps > GRID_LIMIT:
        return None
    return int(math.floor(steps + 1e-9)) + 1


# -- trials ---------------------------------------------------------------------------


def epoch_rows(metrics_config: Mapping[str, Any]) -> list[tuple[int, int, dict[str, float]]]:
    """(execution, epoch, metrics) rows from a ``MetricsTracker.get_config()`` mapping.

    KerasTuner keeps, per metric, observations ``{"value": [one per execution], "step"}``;
    the stock tuner saves only the best epoch's (averaged over executions), so most
    trials give one row. Values that are not finite numbers are left out.
    """
    rows: dict[tuple[int, int], dict[str, float]] = {}
    for name, history in (metrics_config.get("metrics") or {}).items():
        for obs in history.get("observations") or ():
            values = obs.get("value")
            values = values if isinstance(values, list) else [values]
            step = int(obs.get("step") or 0)
            for execution, value in enumerate(values):
                value = finite_number(value)
                if value is not None:
                    rows.setdefault((execution, step), {})[str(name)] = value
    return [(execution, step, metrics) for (execution, step), metrics in sorted(rows.items())]


def best_metrics(metrics_config: Mapping[str, Any]) -> dict[str, float | None]:
    """Each metric's best value (mean over executions, best by its direction)."""
    best: dict[str, float | None] = {}
    for name, history in (metrics_config.get("metrics") or {}).items():
        means = []
        for obs in history.get("observations") or ():
            values = obs.get("value")
            values = [finite_number(v) for v in (values if isinstance(values, list) else [values])]
            values = [v for v in values if v is not None]
            if values:
                means.append(sum(values) / len(values))
        if not means:
            best[str(name)] = None
        else:
            best[str(name)] = min(means) if history.get("direction") == "min" else max(means)
    return best


def infer_objective(trials: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The objective of a saved search, which KerasTuner does not write down.

    A completed trial's score is its objective metric's best value: the metric that
    matches in the most trials wins (validation metrics first on a tie). Returns
    ``{"metric", "direction"}``; ``{"metric": "score", "direction": "max"}`` when no
    completed trial tells (a multi-objective search scores a sum no metric matches,
    and KerasTuner minimises it).
    """
    votes: dict[str, int] = {}
    directions: dict[str, str] = {}
    unmatched = 0
    for trial in trials:
        score = finite_number(trial.get("score"))
        if trial.get("status") != "COMPLETED" or score is None:
            continue
        metrics = trial.get("metrics") or {}
        best = best_metrics(metrics)
        hits = [n for n, v in best.items() if v is not None and math.isclose(v, score,
                                                                           rel_tol=1e-9,
                                                                           abs_tol=1e-12)]
        for name in hits:
            votes[name] = votes.get(name, 0) + 1
            directions[name] = (metrics.get("metrics", {}).get(name, {}).get("direction")
                                or "max")
        unmatched += not hits
    if not votes:
        return {"metric": "multi_objective", "direction": "min"} if unmatched else \
            {"metric": "score", "direction": "max"}
    metric = max(votes, key=lambda n: (votes[n], n.startswith("val_"), n))
    return {"metric": metric, "direction": directions[metric]}
