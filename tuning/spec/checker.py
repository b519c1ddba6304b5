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
# Numbers a spec holds are read as doubles by JSON readers, Plotly and JavaScript: an integer
# beyond 2**53 would change value (and one beyond 1e308 cannot become a float at all).
MAX_SAFE_INTEGER = 2**53


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
    """``value`` as a message quotes it: JSON (strings repr'd), cut to 80 characters.

    Never raises: an integer of thousands of digits or a deeply nested value is described
    by its size instead."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**60:
        # str() of an integer beyond 4300 digits raises; the bit length says its size.
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    try:
        text = json.dumps(value) if not isinstance(value, str) else repr(value)
    except (ValueError, TypeError, RecursionError):
        text = f"a {type(value).__name__}"
    return text if len(text) <= 80 else text[:77] + "..."


def is_number(value: Any) -> bool:
    """A finite int or float that a float holds exactly enough: booleans are not numbers here,
    nor integers beyond ``MAX_SAFE_INTEGER`` in size (see ``number_rule``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(value, int):
        return abs(value) <= MAX_SAFE_INTEGER
    return math.isfinite(value)


def number_rule(value: Any, noun: str = "a number") -> str:
    """What to say about a value ``is_number`` refused: its size when it is a huge integer."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (f"must be {noun} no larger than {MAX_SAFE_INTEGER} (2**53) in size; larger "
                "integers cannot be read back exactly")
    return f"must be {noun}"


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
                shown = key if key != "" else '""'  # an empty key still names a field
                where = f"{field}.{shown}" if field else shown
                self.fail(where, f"is not a known field; use one of {', '.join(sorted(known))}")

    def integer(self, field: str, value: Any, low: int, high: int | None = None) -> int | None:
        """An integer in [low, high]; ``high`` None means at most ``MAX_SAFE_INTEGER``.
        Compared as integers, so 10**400 is a message, never an ``OverflowError``."""
        if not is_int(value):
            self.fail(field, "must be an integer", value)
            return None
        value = int(value)
        if value < low or value > (MAX_SAFE_INTEGER if high is None else high):
            bound = f"between {low} and {high}" if high is not None else f">= {low}"
            if high is None and value > MAX_SAFE_INTEGER:
                bound = f"between {low} and {MAX_SAFE_INTEGER} (2**53)"
            self.fail(field, f"must be {bound}", value)
            return None
        return value

    def number(self, field: str, value: Any, low: float, high: float,
               low_open: bool = False, high_open: bool = False) -> float | None:
        if not is_number(value):
            self.fail(field, number_rule(value), value)
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

