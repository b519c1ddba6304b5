"""The launch form's search-space table: one row per hyperparameter, and the search
space it describes, both ways.

A row has the keys of ``COLUMNS``: name, type, min, max, step, sampling, values (the
comma-separated choices of a ``choice``, or the value of a ``fixed``) and an optional
default. ``space_from_rows(space_to_rows(s))`` gives back a checked space ``s``, also
through the editor's frame (``rows_frame``), whose empty cells read back as NaN.

No Streamlit here; pandas for the editor's frame and its missing-cell markers.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from tuning.spec.checker import Problem

COLUMNS = ("name", "type", "min", "max", "step", "sampling", "values", "default")
TEMPLATE_NAMES = ("num_layers", "units", "shape")  # and units_<i>: what a template replaces


def space_to_rows(space: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The table rows that show ``space``."""
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
            "default": _fmt(hp["default"]) if "default" in hp else None,
        })
    return rows


def rows_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The rows as the table editor's frame: numbers as float64, text as object."""
    frame = pd.DataFrame(list(rows), columns=list(COLUMNS))
    for col in ("min", "max", "step"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64")
    for col in ("name", "type", "sampling", "values", "default"):
        frame[col] = frame[col].astype(object)
    return frame


def space_from_rows(rows: Iterable[Mapping[str, Any]] | pd.DataFrame
                    ) -> tuple[dict[str, dict[str, Any]], list[Problem]]:
    """The search space the table describes, and the faults only the table can have
    (rows without a name, names used twice). Ranges are checked by ``validate_spec``.
    Accepts the editor's frame as well as rows; empty cells may be None or NaN."""
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict("records")
    space: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for position, raw in enumerate(rows, start=1):
        row = {k: _cell(raw.get(k)) for k in COLUMNS}
        name = str(row["name"] or "").strip()
        if not name:
            if any(row[k] not in (None, "") for k in COLUMNS if k != "name"):
                problems.append(Problem("search_space", f"row {position} needs a name"))
            continue
        if name in space:
            problems.append(Problem(f"search_space.{name}",
                                    f"is defined twice (row {position}); remove one row"))
            continue
        space[name] = _hp_from_row(row)
    return space, problems


def with_template(space: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
    """``space`` with its depth and width entries replaced by ``template``'s
    (``architecture.template_space``)."""
    keep = {k: v for k, v in space.items()
            if k not in TEMPLATE_NAMES and not k.startswith("units_")}
    return {**keep, **template}


def _hp_from_row(row: Mapping[str, Any]) -> dict[str, Any]:
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
    default = str(row["default"] or "").strip()
    if default and kind != "fixed":
        hp["default"] = parse_value(default)
    return hp


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
    """A ``choice``'s comma-separated values, each through ``parse_value``."""
    return [parse_value(part) for part in str(text).split(",") if part.strip()]


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
