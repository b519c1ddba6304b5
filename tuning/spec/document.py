"""A spec document before its fields are read: JSON text parsed with limits, and the walk
that refuses what no field check should ever meet (nesting too deep, text that is not
valid Unicode). Both raise ``SpecError``, never ``ValueError`` or ``RecursionError``."""
from __future__ import annotations

import json
from typing import Any

from .checker import Problem, SpecError

# A spec is a few kilobytes; these bound what a pasted or uploaded document can cost.
MAX_SPEC_CHARS = 1_000_000
MAX_DEPTH = 32
MAX_INT_DIGITS = 1000


class _Refused(Exception):
    def __init__(self, message: str):
        self.message = message


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise _Refused(f"must not hold integers of more than {MAX_INT_DIGITS} digits; one has "
                       f"{digits}")
    return int(text)


def _parse_constant(name: str) -> Any:
    raise _Refused(f"must be valid JSON; {name} is not a JSON number (write null, or a "
                   "finite number)")


def parse_text(text: str) -> Any:
    """The JSON value of ``text``; every fault is a ``SpecError`` on the field ``spec``."""
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError([Problem("spec", f"must be at most {MAX_SPEC_CHARS} characters; got "
                                 f"{len(text)}")])
    try:
        doc = json.loads(text, parse_int=_parse_int, parse_constant=_parse_constant)
    except _Refused as exc:
        raise SpecError([Problem("spec", exc.message)]) from None
    except json.JSONDecodeError as exc:
        raise SpecError([Problem(
            "spec", f"must be valid JSON; line {exc.lineno} column {exc.colno}: {exc.msg}")]
        ) from None
    except RecursionError:
        raise SpecError([Problem("spec", f"must not nest objects or lists more than {MAX_DEPTH} "
                                 "levels deep")]) from None
    except ValueError as exc:  # any other limit of the decoder
        raise SpecError([Problem("spec", f"must be valid JSON; {exc}")]) from None
    check_document(doc)
    return doc


def _shown(key: str) -> str:
    # A key goes into a field name users read: escape what cannot be printed or encoded.
    return key if key.isprintable() and not _has_surrogate(key) else ascii(key)[1:-1]


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def check_document(doc: Any) -> None:
    """Refuse a document nested deeper than ``MAX_DEPTH`` or holding a lone surrogate (text
    that cannot be written as UTF-8, so it would fail in storage or a download) in any key
    or string, naming the field. Iterative: a deep document cannot exhaust the stack."""
    problems: list[Problem] = []
    stack: list[tuple[Any, str, int]] = [(doc, "", 0)]
    while stack and len(problems) < 20:
        value, field, depth = stack.pop()
        if isinstance(value, str):
            if _has_surrogate(value):
                problems.append(Problem(field or "spec", "must be valid Unicode text; it holds "
                                        "a lone surrogate (such as \\ud800): retype it"))
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth >= MAX_DEPTH:
            # Named by its top-level field: the full path would be 32 levels long.
            top = field.split(".")[0].split("[")[0] or "spec"
            problems.append(Problem(top, f"must not nest objects or lists more than "
                                    f"{MAX_DEPTH} levels deep"))
            continue
        if isinstance(value, list):
            stack.extend((v, f"{field}[{i}]", depth + 1) for i, v in enumerate(value))
            continue
        for key, item in value.items():
            key_text = _shown(str(key))
            where = f"{field}.{key_text}" if field else key_text
            if isinstance(key, str) and _has_surrogate(key):
                problems.append(Problem(where, "must be a name of valid Unicode text; it holds "
                                        "a lone surrogate (such as \\ud800): retype it"))
            stack.append((item, where, depth + 1))
    if problems:
        raise SpecError(sorted(problems, key=lambda p: p.field))
