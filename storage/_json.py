"""JSON values in and out of the frozen records: the one place that converts them."""
from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


def plain_json(value: Any) -> Any:
    """``value`` as plain JSON-able Python: mappings (frozen ones included) become dicts,
    tuples and lists become lists, numpy scalars become Python numbers, and non-finite
    floats (NaN, inf) become None, since JSON has none of these.

    Keys are kept as they are (decoded JSON has str keys; ``json.dumps`` turns int keys
    into the same text). Anything else is returned unchanged, so ``json.dumps`` still
    refuses what JSON cannot hold. Also usable as ``json.dumps(default=plain_json)``.
    """
    if isinstance(value, Mapping):
        return {k: plain_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(v) for v in value]
    # numpy scalars; np.str_ is a str already, and np.float64 a float (json would skip
    # ``default`` for it, hence the finiteness check below rather than in ``default``).
    if not isinstance(value, (str, bytes)) and callable(getattr(value, "item", None)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def frozen_json(value: Any) -> Any:
    """Decoded JSON (dicts and lists) as read-only mappings and tuples, for frozen records."""
    if isinstance(value, dict):
        return MappingProxyType({k: frozen_json(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(frozen_json(v) for v in value)
    return value
