"""How numbers read, everywhere a person reads them: pages, the CLI, Markdown and HTML.

One module so that a score, a learning rate or a duration reads the same on every
surface. Files meant for programs (CSV, JSON) keep full precision and never come here.

- ``fmt_number``: a float at ``digits`` significant digits with the float noise gone
  (``0.30000000000000004`` reads ``0.3``); integers and non-numbers as they are.
- ``fmt_score``: a score at 4 significant digits; None as an en dash.
- ``fmt_duration``: seconds as ``42s``, ``3m 05s``, ``2h 07m``, ``3d 04h``.
- ``fmt_time``: a Unix time as local ``YYYY-MM-DD HH:MM:SS``.
- ``rounded``: a value (a mapping, a list, a float) with every float at ``digits``
  significant digits, still numbers: for ``st.json`` and tables.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from typing import Any

DASH = "–"
DIGITS = 6
SCORE_DIGITS = 4


def _is_float(value: Any) -> bool:
    return isinstance(value, float) or (
        hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f")


def round_significant(value: float, digits: int = DIGITS) -> float:
    """``value`` at ``digits`` significant digits (NaN and infinities unchanged)."""
    value = float(value)
    if not math.isfinite(value) or value == 0:
        return value
    return float(f"{value:.{digits}g}")


def fmt_number(value: Any, digits: int = DIGITS) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not _is_float(value):
        return str(value)
    if isinstance(value, int):
        return str(value)
    number = float(value)
    if math.isnan(number):
        return DASH
    if math.isinf(number):
        return "∞" if number > 0 else "-∞"
    text = repr(round_significant(number, digits))
    return text[:-2] if text.endswith(".0") and "e" not in text else text


def fmt_score(score: float | None) -> str:
    return DASH if score is None else fmt_number(score, SCORE_DIGITS)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or (isinstance(seconds, float) and not math.isfinite(seconds)):
        return DASH
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def fmt_time(timestamp: float | None) -> str:
    if timestamp is None:
        return DASH
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def rounded(value: Any, digits: int = DIGITS) -> Any:
    """Every float inside ``value`` at ``digits`` significant digits; the rest unchanged."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        return round_significant(value, digits)
    if isinstance(value, Mapping):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value
