"""The ``strategy`` section of a spec: the fields every strategy shares, KerasTuner's
parallel workers and pruning; each strategy checks its own fields and budget (its
``Strategy.check`` in ``tuning.strategies``), handed the section by this module.

Part of the validator behind ``tuning.spec.validate_spec``; checks record problems on the
shared ``Checker`` and return normalised values (None when a problem was recorded).
"""
from __future__ import annotations

from typing import Any

from tuning import strategies
from tuning.network import chief_host_refusal

from .checker import MAX_EPOCHS_LIMIT, MAX_TRIALS_LIMIT, Checker

# Fields every search strategy's section may carry; each strategy adds its own
# (``Strategy.fields``), and so does every tool.
COMMON_FIELDS = ("name", "max_trials", "executions_per_trial", "cv_folds",
                 "max_consecutive_failed_trials", "recycle_every", "pruning", "workers",
                 "chief_host", "chief_port", "relay_port")
PRUNING_FIELDS = ("warmup_epochs", "min_trials")


def accepted_fields(strategy: strategies.Strategy | None) -> tuple[str, ...]:
    """The keys a strategy section may hold: the common ones, every search strategy's own
    (a section switched from one search to another keeps validating), and the named
    strategy's."""
    searches = [f for s in strategies.REGISTRY.values() if not s.is_tool for f in s.fields]
    own = strategy.fields if strategy else ()
    return tuple(dict.fromkeys(COMMON_FIELDS + tuple(searches) + own))


def check_strategy(c: Checker, strategy: dict[str, Any], kind: str,
                   space: dict[str, Any], family: str | None) -> dict[str, Any]:
    """Check ``strategy`` against the model ``kind`` and the already checked ``space``;
    return it normalised, with ``max_trials`` set to how many trials the run will make
    (None when that is unknown because of a problem recorded)."""
    chosen = strategies.find(strategy.get("name", ""))
    c.unknown_keys("strategy", strategy, accepted_fields(chosen))
    name = c.choice("strategy.name", strategy.get("name"), strategies.REGISTRY)
    out: dict[str, Any] = {"name": name}
    if name is None:
        return out
    chosen = strategies.get(name)
    if kind not in chosen.kinds:
        c.fail("strategy.name", f"{name} cannot tune {kind} models; use one of "
               + ", ".join(strategies.names(kind)), name)
    get = strategy.get
    out["executions_per_trial"] = c.integer("strategy.executions_per_trial",
                                            get("executions_per_trial", 1), 1, 20)
    out["max_consecutive_failed_trials"] = c.integer(
        "strategy.max_consecutive_failed_trials", get("max_consecutive_failed_trials", 3), 1, 1000)
    out["recycle_every"] = c.integer("strategy.recycle_every", get("recycle_every", 25), 1, 10_000)
    if kind == "sklearn":
        out["cv_folds"] = c.integer("strategy.cv_folds", get("cv_folds", 3), 2, 20)
    if chosen.is_tool:
        out.update(chosen.check(c, strategy, kind, space, out, family))
        _refuse_engine_fields(c, strategy, name)  # workers, chief/relay ports, pruning
        return out
    out["pruning"] = _check_pruning(c, get("pruning"), chosen, kind)
    out.update(_check_workers(c, strategy))
    out.update(chosen.check(c, strategy, kind, space, out, family))
    return out


def _refuse_engine_fields(c: Checker, strategy: dict[str, Any], tool: str) -> None:
    """Refuse the KerasTuner engine's distribution and pruning fields for a tool: a tool
    runs its own trial loop in one worker process, so they would be silently ignored."""
    workers = strategy.get("workers", 1)
    if workers != 1 or isinstance(workers, bool):
        c.fail("strategy.workers", f"must be 1 for {tool}: tools run in one worker process; "
               "remove strategy.workers", workers)
    for name in ("chief_host", "chief_port", "relay_port"):
        if name in strategy:
            c.fail(f"strategy.{name}", f"serves parallel workers, which {tool} does not use "
                   f"(tools run in one worker process); remove strategy.{name}",
                   strategy[name])
    if strategy.get("pruning") not in (None, False):
        c.fail("strategy.pruning", f"does not apply to {tool}, which trains every trial it "
               "plans; remove strategy.pruning", strategy["pruning"])


def _check_workers(c: Checker, strategy: dict[str, Any]) -> dict[str, Any]:
    """Parallel trials on KerasTuner's chief/worker engine (see ``distributed``)."""
    out: dict[str, Any] = {"workers": c.integer("strategy.workers", strategy.get("workers", 1),
                                                1, 64)}
    host = strategy.get("chief_host", "127.0.0.1")
    if not isinstance(host, str) or not host or any(ch.isspace() for ch in host):
        c.fail("strategy.chief_host", "must be a host name or IP address to serve the oracle on "
               "(127.0.0.1 keeps it on this machine)", host)
    elif (refusal := chief_host_refusal(host)) is not None:
        c.fail("strategy.chief_host", f"must {refusal}", host)
    out["chief_host"] = host
    port = strategy.get("chief_port")
    out["chief_port"] = None if port is None else c.integer("strategy.chief_port", port, 1024,
                                                            65535)
    port = strategy.get("relay_port")
    out["relay_port"] = None if port is None else c.integer("strategy.relay_port", port, 1024,
                                                            65535)
    return out


def _check_pruning(c: Checker, pruning: Any, strategy: strategies.Strategy,
                   kind: str) -> dict[str, Any] | None:
    if pruning is None or pruning is False:
        return None
    if pruning is True:
        pruning = {}
    if not isinstance(pruning, dict):
        c.fail("strategy.pruning", 'must be an object such as {"warmup_epochs": 2, "min_trials": 3}',
               pruning)
        return None
    c.unknown_keys("strategy.pruning", pruning, PRUNING_FIELDS)
    if kind != "keras" or not strategy.prunable:
        c.fail("strategy.pruning", "applies to Keras models tuned by "
               + ", ".join(strategies.prunable()) + "; remove it", strategy.name)
        return None
    return {
        "warmup_epochs": c.integer("strategy.pruning.warmup_epochs",
                                   pruning.get("warmup_epochs", 2), 0, MAX_EPOCHS_LIMIT),
        "min_trials": c.integer("strategy.pruning.min_trials", pruning.get("min_trials", 3), 1,
                                MAX_TRIALS_LIMIT),
    }
