"""The rule registry: every rule of advice declares, in one module, what it is and how it
reads a run. ``advise`` asks the registry for the rules and never names one.

A rule is a ``Rule`` registered under its name; its ``evaluate(ctx)`` returns the
suggestions it makes for a ``RunContext`` (none when its case does not hold). Built-in
rules are the modules named in ``BUILT_IN``.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from .context import RunContext
from .suggestion import Suggestion

BUILT_IN = ("edges", "importance", "curve_rules", "epochs", "pruning", "noise", "budget",
            "architecture", "cnn_architecture", "race", "dead_zone")


@dataclass(frozen=True)
class Rule:
    """``name``: the key suggestions carry (``Suggestion.rule``); ``label``: what it looks
    for, in a few words; ``weight``: how much acting on it usually buys, which multiplies
    the confidence when suggestions are ranked."""
    name: str
    label: str
    evaluate: Callable[[RunContext], list[Suggestion]]
    weight: float = 1.0


_RULES: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    if rule.name in _RULES:
        raise ValueError(f"rule {rule.name!r} is registered twice")
    _RULES[rule.name] = rule
    return rule


def rules() -> list[Rule]:
    """Every registered rule, in registration order (built-in ones first)."""
    _load()
    return list(_RULES.values())


def get(name: str) -> Rule:
    _load()
    return _RULES[name]


_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILT_IN:
            importlib.import_module(f"{__package__}.{module}")
