"""The ``strategy`` section of a spec: the strategy's own fields and its trial budget,
KerasTuner's parallel workers and pruning, sequential stages, and Hyperband's size.
Tools (``tuning.strategies.tools``) check their own fields; this module hands them the section.

Part of the validator behind ``specs.validate_spec``; checks record problems on the
shared ``Checker`` and return normalised values (None when a problem was recorded).
"""
from __future__ import annotations

import math
from typing import Any

from tuning import catalog
from tuning.strategies.manual import candidate_values, combined_size, sequential_plan
from .checker import MAX_EPOCHS_LIMIT, MAX_GRID_COMBINATIONS, MAX_TRIALS_LIMIT, Checker
from .space import grid_size
from tuning.strategies.tools import TOOLS

STRATEGY_FIELDS = ("name", "max_trials", "executions_per_trial", "max_epochs", "factor",
                   "hyperband_iterations", "num_initial_points", "alpha", "beta", "cv_folds",
                   "max_consecutive_failed_trials", "recycle_every", "order", "samples",
                   "combine", "pruning", "workers", "chief_host", "chief_port", "relay_port")
PRUNING_FIELDS = ("warmup_epochs", "min_trials")
PRUNABLE = ("random", "bayesian", "grid", "random_sampling")


def check_strategy(c: Checker, strategy: dict[str, Any], kind: str,
                   space: dict[str, Any], family: str | None) -> dict[str, Any]:
    """Check ``strategy`` against the model ``kind`` and the already checked ``space``;
    return it normalised, with ``max_trials`` set to how many trials the run will make
    (None when that is unknown because of a problem recorded)."""
    tool = TOOLS.get(strategy.get("name", ""))
    c.unknown_keys("strategy", strategy, STRATEGY_FIELDS + (tool.fields if tool else ()))
    name = c.choice("strategy.name", strategy.get("name"), catalog.STRATEGIES)
    out: dict[str, Any] = {"name": name}
    if name is None:
        return out
    if kind not in catalog.STRATEGIES[name].kinds:
        c.fail("strategy.name", f"{name} cannot tune {kind} models; use one of "
               + ", ".join(s for s, d in catalog.STRATEGIES.items() if kind in d.kinds), name)
    get = strategy.get
    out["executions_per_trial"] = c.integer("strategy.executions_per_trial",
                                            get("executions_per_trial", 1), 1, 20)
    out["max_consecutive_failed_trials"] = c.integer(
        "strategy.max_consecutive_failed_trials", get("max_consecutive_failed_trials", 3), 1, 1000)
    out["recycle_every"] = c.integer("strategy.recycle_every", get("recycle_every", 25), 1, 10_000)
    if kind == "sklearn":
        out["cv_folds"] = c.integer("strategy.cv_folds", get("cv_folds", 3), 2, 20)
    if name in TOOLS:
        from tuning.strategies.tools._common import refuse_engine_fields

        out.update(TOOLS[name].check()(c, strategy, kind, space, out))
        refuse_engine_fields(c, strategy, name)  # workers, chief/relay ports, pruning
        return out
    out["pruning"] = _check_pruning(c, get("pruning"), name, kind)
    out.update(_check_workers(c, strategy))
    # The helpers below add to ``out`` in place: the stored spec keeps its fields in the
    # order they are read, as it did when this was one function.
    if name == "sequential":
        out["order"], out["max_trials"] = _check_sequential(c, get("order"), space, family)
    elif name == "random_sampling":
        _check_random_sampling(c, strategy, space, out)
    elif name == "hyperband":
        _check_hyperband(c, strategy, out)
    elif name == "grid":
        combos = grid_size(c, space)
        requested = get("max_trials")
        out["max_trials"] = combos if requested is None else c.integer(
            "strategy.max_trials", requested, 1, MAX_TRIALS_LIMIT)
    else:
        _check_budget(c, strategy, name, out)
    return out


def _check_random_sampling(c: Checker, strategy: dict[str, Any], space: dict[str, Any],
                           out: dict[str, Any]) -> None:
    get = strategy.get
    out["samples"] = c.integer("strategy.samples", get("samples", 10), 1, MAX_TRIALS_LIMIT)
    combine = get("combine", False)
    if not isinstance(combine, bool):
        c.fail("strategy.combine", "must be true or false", combine)
        combine = False
    out["combine"] = combine
    if out["samples"] is not None:
        total = combined_size(space, out["samples"]) if combine else out["samples"]
        if total > MAX_GRID_COMBINATIONS:
            c.fail("strategy.samples", f"with combine makes {total} combinations, more than "
                   f"the {MAX_GRID_COMBINATIONS} allowed; draw fewer samples per "
                   "hyperparameter or set combine to false", out["samples"])
        out["max_trials"] = total


def _check_hyperband(c: Checker, strategy: dict[str, Any], out: dict[str, Any]) -> None:
    get = strategy.get
    out["max_epochs"] = c.integer("strategy.max_epochs", get("max_epochs", 20), 2,
                                  MAX_EPOCHS_LIMIT)
    out["factor"] = c.integer("strategy.factor", get("factor", 3), 2, 100)
    out["hyperband_iterations"] = c.integer("strategy.hyperband_iterations",
                                            get("hyperband_iterations", 1), 1, 100)
    out["max_trials"] = hyperband_trials(out)


def _check_budget(c: Checker, strategy: dict[str, Any], name: str, out: dict[str, Any]) -> None:
    """``max_trials`` for the strategies that draw points (random, bayesian), and the
    Gaussian process's settings for bayesian."""
    get = strategy.get
    out["max_trials"] = c.integer("strategy.max_trials", get("max_trials", 10), 1,
                                  MAX_TRIALS_LIMIT)
    if name == "bayesian":
        if get("num_initial_points") is not None:
            out["num_initial_points"] = c.integer("strategy.num_initial_points",
                                                  get("num_initial_points"), 1, MAX_TRIALS_LIMIT)
        out["alpha"] = c.number("strategy.alpha", get("alpha", 1e-4), 0, 1, low_open=True)
        out["beta"] = c.number("strategy.beta", get("beta", 2.6), 0, 100, low_open=True)


def _check_workers(c: Checker, strategy: dict[str, Any]) -> dict[str, Any]:
    """Parallel trials on KerasTuner's chief/worker engine (see ``distributed``)."""
    out: dict[str, Any] = {"workers": c.integer("strategy.workers", strategy.get("workers", 1),
                                                1, 64)}
    host = strategy.get("chief_host", "127.0.0.1")
    if not isinstance(host, str) or not host or any(ch.isspace() for ch in host):
        c.fail("strategy.chief_host", "must be a host name or IP address to serve the oracle on "
               "(127.0.0.1 keeps it on this machine)", host)
    out["chief_host"] = host
    port = strategy.get("chief_port")
    out["chief_port"] = None if port is None else c.integer("strategy.chief_port", port, 1024,
                                                            65535)
    port = strategy.get("relay_port")
    out["relay_port"] = None if port is None else c.integer("strategy.relay_port", port, 1024,
                                                            65535)
    return out


def _check_pruning(c: Checker, pruning: Any, name: str, kind: str) -> dict[str, Any] | None:
    if pruning is None or pruning is False:
        return None
    if pruning is True:
        pruning = {}
    if not isinstance(pruning, dict):
        c.fail("strategy.pruning", 'must be an object such as {"warmup_epochs": 2, "min_trials": 3}',
               pruning)
        return None
    c.unknown_keys("strategy.pruning", pruning, PRUNING_FIELDS)
    if kind != "keras" or name not in PRUNABLE:
        c.fail("strategy.pruning", "applies to Keras models tuned by " + ", ".join(PRUNABLE)
               + "; remove it", name)
        return None
    return {
        "warmup_epochs": c.integer("strategy.pruning.warmup_epochs",
                                   pruning.get("warmup_epochs", 2), 0, MAX_EPOCHS_LIMIT),
        "min_trials": c.integer("strategy.pruning.min_trials", pruning.get("min_trials", 3), 1,
                                MAX_TRIALS_LIMIT),
    }


def _check_sequential(c: Checker, order: Any, space: dict[str, Any],
                      family: str | None) -> tuple[list[str], int | None]:
    if not isinstance(order, list) or not order or not all(isinstance(n, str) for n in order):
        c.fail("strategy.order", "must list the hyperparameters to tune, one stage each, e.g. "
               '["learning_rate", "units"]', order if order is not None else ...)
        return [], None
    if len(set(order)) != len(order):
        c.fail("strategy.order", "must not name a hyperparameter twice", order)
        return [], None
    total = 0
    for name in order:
        if name not in space:
            c.fail("strategy.order", f"names {name!r}, which is not in search_space; add it there "
                   "or remove it from the order", order)
            continue
        values = candidate_values(space[name])
        if values is None:
            c.fail(f"search_space.{name}.step", "is required to tune a float range in a "
                   "sequential stage; add a step or list candidates with type choice")
            continue
        total += len(values)
    if total > MAX_GRID_COMBINATIONS:
        c.fail("strategy.order", f"makes {total} trials, more than the {MAX_GRID_COMBINATIONS} "
               "allowed; list fewer candidates")
    if c.problems:
        return list(order), total
    return list(order), len(sequential_plan(space, order, family))


def hyperband_trials(strategy: dict[str, Any]) -> int | None:
    """How many trials KerasTuner's Hyperband runs at most (its own bracket arithmetic,
    from ``HyperbandOracle._get_size``; fewer when a small space runs out of new points).
    None when ``max_epochs``, ``factor`` or ``hyperband_iterations`` is missing."""
    max_epochs, factor, iterations = (strategy.get("max_epochs"), strategy.get("factor"),
                                      strategy.get("hyperband_iterations"))
    if not (max_epochs and factor and iterations):
        return None
    brackets, epochs = 0, float(max_epochs)
    while epochs >= 1:
        epochs /= factor
        brackets += 1
    end_size0 = math.ceil(1 + math.log(max_epochs, factor))
    total = 0
    for bracket in range(brackets):
        for round_ in range(bracket + 1):
            total += math.ceil(end_size0 / (bracket + 1) * factor ** (bracket - round_))
    return total * iterations

