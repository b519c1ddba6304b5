"""What every part of the spec validator shares: the error type, the problem it lists,
the limits, and ``Checker``, which collects problems instead of stopping at the first.

``tuning.spec`` re-exports ``Problem``, ``SpecError`` and the limits; import them from there.
This module imports nothing of ours, so ``space``, ``strategy`` and the strategies' checks
can use it without a cycle through ``tuning.spec``.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MAX_GRID_COMBINATIONS = 10_000
MAX_TRIALS_LIMIT = 100_000
MAX_EPOCHS_LIMIT = 10_000


@dataclass(frozen=True)
class Problem:
    """One fault: ``field`` is its dotted path (``search_space.lr.min``), ``message`` the
    rule and the value; ``str()`` joins them into the line users read."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field} {self.message}"


class SpecError(ValueError):
    """A spec that cannot run. ``problems`` lists every fault found, each naming its field."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def by_field(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for p in self.problems:
            grouped.setdefault(p.field, []).append(str(p))
        return grouped


def got(value: Any) -> str:
    """``value`` as a message quotes it: JSON (strings repr'd), cut to 80 characters."""
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def is_number(value: Any) -> bool:
    """A finite int or float; booleans are not numbers here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value: Any) -> bool:
    """An int, or a float with no fractional part (a spec may write 3.0 for 3); not a boolean."""
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())


class Checker:
    """Collects problems while reading a document; never stops at the first.

    Each check returns the normalised value, or None after recording a problem. Tools'
    ``check`` functions get one too (see ``tuning.strategies.registry``), so these method names and
    signatures are an interface, not an implementation detail."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, field: str, rule: str, value: Any = ...) -> None:
        suffix = "" if value is ... else f"; got {got(value)}"
        self.problems.append(Problem(field, rule + suffix))

    def section(self, doc: Mapping[str, Any], key: str, required: bool = True) -> dict[str, Any]:
        value = doc.get(key)
        if value is None:
            if required:
                self.fail(key, "is required (an object)")
            return {}
        if not isinstance(value, dict):
            self.fail(key, "must be an object", value)
            return {}
        return value

    def unknown_keys(self, field: str, value: Mapping[str, Any], known: Iterable[str]) -> None:
        known = set(known)
        for key in value:
            if key not in known:
                where = f"{field}.{key}" if field else key
                self.fail(where, f"is not a known field; use one of {', '.join(sorted(known))}")

    def integer(self, field: str, value: Any, low: int, high: int | None = None) -> int | None:
        if not is_int(value) or not math.isfinite(float(value)):
            self.fail(field, "must be an integer", value)
            return None
        value = int(value)
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            self.fail(field, f"must be {bound}", value)
            return None
        return value

    def number(self, field: str, value: Any, low: float, high: float,
               low_open: bool = False, high_open: bool = False) -> float | None:
        if not is_number(value):
            self.fail(field, "must be a number", value)
            return None
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if too_low or too_high:
            left = "(" if low_open else "["
            right = ")" if high_open else "]"
            self.fail(field, f"must be in {left}{low}, {high}{right}", value)
            return None
        return float(value)

    def choice(self, field: str, value: Any, options: Iterable[str]) -> str | None:
        options = tuple(options)
        if value not in options:
            self.fail(field, f"must be one of {', '.join(options)}", value)
            return None
        return value

