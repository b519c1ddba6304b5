"""Spec patches: apply a suggestion's changes (one, or several touching different fields),
find the conflicts between suggestions, and list the difference between two specs field
by field (what the launch form shows before anything is queued)."""
from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from storage import plain_json

from .suggestion import REMOVED, Change, Suggestion


class AdviceError(ValueError):
    """A patch that cannot be applied: the message names the fields, the rule and the fix."""


def change(spec: Mapping[str, Any], path: Sequence[str], new: Any) -> Change:
    """A ``Change`` of ``spec`` at ``path`` to ``new``, with the spec's current value as old."""
    return Change(tuple(path), lookup(spec, path), new)


def lookup(spec: Mapping[str, Any], path: Sequence[str]) -> Any:
    node: Any = spec
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return REMOVED
        node = node[key]
    return copy.deepcopy(plain_json(node))


def _overlap(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def conflicts(suggestions: Sequence[Suggestion]) -> list[tuple[Suggestion, Suggestion, str]]:
    """Pairs of suggestions that change the same field (or one inside the other), each
    with the first field they share."""
    found = []
    for i, first in enumerate(suggestions):
        for second in suggestions[i + 1:]:
            shared = next((a.field for a in first.changes for b in second.changes
                           if _overlap(a.path, b.path)), None)
            if shared is not None:
                found.append((first, second, shared))
    return found


def apply_changes(spec: Mapping[str, Any], changes: Iterable[Change]) -> dict[str, Any]:
    """A copy of ``spec`` with ``changes`` made (not validated: pass it to ``validate_spec``)."""
    out = copy.deepcopy(plain_json(spec))
    for item in changes:
        node = out
        for key in item.path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        if item.new is REMOVED:
            node.pop(item.path[-1], None)
        else:
            node[item.path[-1]] = copy.deepcopy(item.new)
    return out


def apply_suggestions(spec: Mapping[str, Any],
                      suggestions: Sequence[Suggestion]) -> dict[str, Any]:
    """``spec`` with every suggestion applied, validated; ``AdviceError`` when two of them
    change the same field, or the result is not a valid spec."""
    from tuning.spec import SpecError, validate_spec

    clashes = conflicts(suggestions)
    if clashes:
        first, second, shared = clashes[0]
        raise AdviceError(f"suggestions '{first.title}' and '{second.title}' both change "
                          f"{shared}; apply one of them, then ask again")
    patched = apply_changes(spec, [c for s in suggestions for c in s.changes])
    patched.pop("name", None)
    base = str(spec.get("name") or "run")
    patched["name"] = _next_name(base)
    try:
        return validate_spec(patched)
    except SpecError as exc:
        raise AdviceError("the patched spec is not valid: " + "; ".join(
            str(p) for p in exc.problems) + "; edit it in the launch form") from None


def _next_name(name: str) -> str:
    suffix = " (advised)"
    stem = name[:-len(suffix)] if name.endswith(suffix) else name
    return (stem[:120 - len(suffix)] + suffix).strip()


def spec_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every leaf field that differs between two specs, in the order of ``old`` then
    ``new``; a section present on one side only shows each of its fields."""
    rows: list[Change] = []
    _walk(plain_json(old), plain_json(new), (), rows)
    return rows


def _walk(old: Any, new: Any, path: tuple[str, ...], rows: list[Change]) -> None:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in list(old) + [k for k in new if k not in old]:
            _walk(old.get(key, REMOVED), new.get(key, REMOVED), path + (str(key),), rows)
        return
    if isinstance(old, Mapping) and new is REMOVED:
        for key in old:
            _walk(old[key], REMOVED, path + (str(key),), rows)
        return
    if isinstance(new, Mapping) and old is REMOVED:
        for key in new:
            _walk(REMOVED, new[key], path + (str(key),), rows)
        return
    if old != new or type(old) is not type(new) and not _same_number(old, new):
        rows.append(Change(path, old, new))


def _same_number(a: Any, b: Any) -> bool:
    numbers = (int, float)
    return isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) \
        and not isinstance(b, bool) and a == b


def diff_rows(changes: Iterable[Change]) -> list[dict[str, str]]:
    """Display rows (field, old, new) for a table: absent values read "(none)"."""
    def show(value: Any) -> str:
        return "(none)" if value is REMOVED else repr(value) if isinstance(value, str) \
            else str(value)
    return [{"field": c.field, "old": show(c.old), "new": show(c.new)} for c in changes]
