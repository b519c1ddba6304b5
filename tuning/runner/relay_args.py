"""The arguments of every relay call, checked before anything reaches the database.

A token holder on the network is not trusted to send well-formed values: a ``flags`` that
is a number, stored as it is, would make every later read of the run's trials raise. Each
call declares its arguments here (``CALLS``), each argument a rule that returns the value
as the storage wants it or raises ``BadArgument`` naming the argument, the rule and the
value. Sizes are capped too, so one call cannot fill the database.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from storage import TrialStatus

MAX_TEXT = 64 * 1024        # a message, a metric's or a hyperparameter's text value
MAX_NAME = 256              # keys, worker names, metric and hyperparameter names
MAX_ENTRIES = 1000          # hyperparameters or metrics in one call
MAX_FLAGS = 64
MAX_DEPTH = 8               # nesting of a value (a curve or a tuple choice is a list)
MAX_INT = 2**63 - 1         # what SQLite stores
MAX_COUNT = 10**9           # trial numbers, brackets, rounds, executions, epochs


class BadArgument(ValueError):
    """A call's argument broke its rule; ``name`` is the argument."""

    def __init__(self, name: str, rule: str, value: Any):
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        super().__init__(f"argument {name} must be {rule}; got {shown}")
        self.name = name


Rule = Callable[[str, Any], Any]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def count(name: str, value: Any) -> int:
    if not _is_int(value) or not 0 <= value <= MAX_COUNT:
        raise BadArgument(name, f"a whole number from 0 to {MAX_COUNT}", value)
    return value


def trial_id(name: str, value: Any) -> int:
    if not _is_int(value) or not 1 <= value <= MAX_INT:
        raise BadArgument(name, "a trial's id (a whole number from 1)", value)
    return value


def text(name: str, value: Any, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise BadArgument(name, f"text of at most {limit} characters", value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: SQLite cannot store it
        raise BadArgument(name, "valid Unicode text", value) from None
    return value


def name_(name: str, value: Any) -> str:
    return text(name, value, MAX_NAME)


def key(name: str, value: Any) -> str:
    """A trial key: text, or a whole number (any str()-able key, as ``Recorder`` says)."""
    if _is_int(value) and abs(value) <= MAX_INT:
        return str(value)
    return text(name, value, MAX_NAME)


def optional(rule: Rule) -> Rule:
    def check(name: str, value: Any) -> Any:
        return None if value is None else rule(name, value)
    return check


def number(name: str, value: Any) -> float | int:
    """A score or metric: NaN and infinities included (the storage keeps them as None)."""
    if _is_int(value) and abs(value) <= MAX_INT:
        return value
    if isinstance(value, float):
        return value
    raise BadArgument(name, "a number", value)


def _scalar(name: str, value: Any) -> Any:
    if value is None or isinstance(value, bool) or (_is_int(value) and abs(value) <= MAX_INT):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if isinstance(value, str):
        return text(name, value)
    raise BadArgument(name, "text, a finite number, true, false or null", value)


def _mapping(name: str, value: Any, entry: Rule) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) > MAX_ENTRIES:
        raise BadArgument(name, f"an object of at most {MAX_ENTRIES} entries", value)
    out = {}
    for k, v in value.items():
        name_(f"{name} key", k)
        out[k] = entry(f"{name}.{k}", v)
    return out


def hyperparameters(name: str, value: Any) -> dict[str, Any]:
    """Values of the search space: scalars mostly, a list for a tuple-valued choice."""
    return _mapping(name, value, lambda n, v: _json(n, v, 1))


def epoch_metrics(name: str, value: Any) -> dict[str, Any]:
    return _mapping(name, value, optional(number))


def _json(name: str, value: Any, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise BadArgument(name, f"JSON nested at most {MAX_DEPTH} deep", value)
    if isinstance(value, list):
        if len(value) > 100_000:
            raise BadArgument(name, "a list of at most 100000 items", value)
        return [_json(f"{name}[{i}]", v, depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return _mapping(name, value, lambda n, v: _json(n, v, depth + 1))
    if isinstance(value, float):
        return value  # NaN and infinities are stored as None
    return _scalar(name, value)


def final_metrics(name: str, value: Any) -> dict[str, Any]:
    return _mapping(name, value, lambda n, v: _json(n, v, 1))


def flags(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_FLAGS:
        raise BadArgument(name, f"a list of at most {MAX_FLAGS} texts", value)
    return [text(f"{name}[{i}]", v, 1000) for i, v in enumerate(value)]


_ENDINGS = tuple(s.value for s in TrialStatus if s.is_finished())


def ending(name: str, value: Any) -> TrialStatus:
    if value not in _ENDINGS:
        raise BadArgument(name, "how a trial ended, one of " + ", ".join(_ENDINGS), value)
    return TrialStatus(value)


# call -> {argument: (rule, required)}
CALLS: dict[str, dict[str, tuple[Rule, bool]]] = {
    "get_run": {},
    "begin_trial": {"trial_key": (key, True), "number": (count, True),
                    "hyperparameters": (hyperparameters, True),
                    "bracket": (optional(count), False), "round": (optional(count), False),
                    "parent_key": (optional(key), False), "worker": (optional(name_), False)},
    "record_epoch": {"trial_id": (trial_id, True), "execution": (count, True),
                     "epoch": (count, True), "metrics": (epoch_metrics, True)},
    "finish_trial": {"trial_id": (trial_id, True), "status": (ending, True),
                     "score": (optional(number), False),
                     "metrics": (optional(final_metrics), False),
                     "message": (optional(text), False), "flags": (optional(flags), False),
                     "hyperparameters": (optional(hyperparameters), False)},
    "record_trial_output": {"trial_id": (trial_id, True), "traceback": (optional(text), False),
                            "log": (optional(text), False)},
    "control_flags": {"trial_id": (optional(trial_id), False)},
    "get_trial_by_key": {"trial_key": (key, True)},
    "list_trials": {},
    "list_epochs": {"trial_id": (optional(trial_id), False)},
}


def check_call(method: Any, args: Any) -> dict[str, Any]:
    """The checked arguments of ``method``; ``LookupError`` for a call that does not exist,
    ``BadArgument`` for an argument that is unknown, missing or breaks its rule."""
    if not isinstance(method, str) or method not in CALLS:
        raise LookupError(f"no call {method!r}; the relay answers " + ", ".join(CALLS))
    if not isinstance(args, dict):
        raise BadArgument("args", "an object of the call's arguments", args)
    rules = CALLS[method]
    for given in args:
        if given not in rules:
            raise BadArgument(str(given)[:MAX_NAME], f"one of {method}'s arguments ("
                              + ", ".join(rules) + ")", args[given])
    out = {}
    for name, (rule, required) in rules.items():
        if name not in args:
            if required:
                raise BadArgument(name, f"given: {method} needs it", None)
            continue
        out[name] = rule(name, args[name])
    return out
