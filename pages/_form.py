"""The search-space table of the launch form, as plain functions (no Streamlit).

One row per hyperparameter: name, type, min, max, step, sampling and values (the
comma-separated choices of a ``choice``, or the value of a ``fixed``).
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

from tuning.specs import Problem

COLUMNS = ("name", "type", "min", "max", "step", "sampling", "values")


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def space_to_frame(space: dict[str, dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for name, hp in space.items():
        kind = hp.get("type", "float")
        values = ""
        if kind == "choice":
            values = ", ".join(_fmt(v) for v in hp.get("values", []))
        elif kind == "fixed":
            values = _fmt(hp.get("value", ""))
        rows.append({
            "name": name, "type": kind,
            "min": hp.get("min"), "max": hp.get("max"), "step": hp.get("step"),
            "sampling": hp.get("sampling", "linear") if kind in ("int", "float") else None,
            "values": values,
        })
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("min", "max", "step"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in ("name", "type", "sampling", "values"):
        frame[col] = frame[col].astype(object)
    return frame


def parse_value(text: str) -> Any:
    """``"32"`` -> 32, ``"0.1"`` -> 0.1, ``"true"`` -> True, anything else stays text."""
    text = text.strip()
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    return number if math.isfinite(number) else text


def parse_values(text: str) -> list[Any]:
    return [parse_value(part) for part in str(text).split(",") if part.strip()]


def _cell(value: Any) -> Any:
    """A table cell with pandas' missing markers turned into None."""
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _number(value: Any, kind: str) -> Any:
    value = _cell(value)
    if value is None:
        return None
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if hasattr(value, "item"):
        value = value.item()
    return value


def space_from_frame(frame: pd.DataFrame) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The search space a table describes, and the faults only the table can have
    (rows without a name, names used twice). Ranges are checked by ``validate_spec``."""
    space: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for position, row in enumerate(frame.to_dict("records"), start=1):
        row = {k: _cell(row.get(k)) for k in COLUMNS}
        name = str(row["name"] or "").strip()
        if not name:
            if any(row[k] not in (None, "") for k in COLUMNS if k != "name"):
                problems.append(Problem("search_space", f"row {position} needs a name"))
            continue
        if name in space:
            problems.append(Problem(f"search_space.{name}",
                                    f"is defined twice (row {position}); remove one row"))
            continue
        kind = str(row["type"] or "").strip()
        hp: dict[str, Any] = {"type": kind}
        if kind in ("int", "float"):
            for key in ("min", "max", "step"):
                number = _number(row[key], kind)
                if number is not None:
                    hp[key] = number
            hp["sampling"] = row["sampling"] or "linear"
        elif kind == "choice":
            hp["values"] = parse_values(row["values"] or "")
        elif kind == "fixed":
            text = str(row["values"] or "")
            if text.strip():
                hp["value"] = parse_value(text)
        space[name] = hp
    return space, problems
