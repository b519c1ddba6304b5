"""The ``search_space`` section of a spec: each hyperparameter's type, range or values,
what the MLP builder accepts for it, and how big a grid over the space would be.

Part of the validator behind ``specs.validate_spec``; checks record problems on the
shared ``Checker`` and return normalised values (None when a problem was recorded).
"""
from __future__ import annotations

import json
from typing import Any

from tuning import catalog
from tuning.strategies.manual import candidate_values

from .architecture import SHAPES
from .checker import MAX_GRID_COMBINATIONS, Checker, got, is_int, is_number, number_rule


def check_space(c: Checker, space: Any, family: str | None, kind: str) -> dict[str, Any]:
    """Check ``search_space``; return the hyperparameters that passed, normalised.

    ``family`` None (the family was invalid) skips the known-name check. A hyperparameter
    with a problem is left out, so later checks see only valid definitions."""
    if space is None or (isinstance(space, dict) and not space):
        c.fail("search_space", "must name at least one hyperparameter, e.g. "
               '{"learning_rate": {"type": "float", "min": 0.0001, "max": 0.01, "sampling": "log"}}',
               space if space is not None else ...)
        return {}
    if not isinstance(space, dict):
        c.fail("search_space", "must be an object of hyperparameter name to definition", space)
        return {}
    known = _known_hyperparameters(family)
    out: dict[str, Any] = {}
    for name, hp in space.items():
        field = f"search_space.{name}"
        if known is not None and not _is_known_hp(name, known, family):
            c.fail(field, f"is not a hyperparameter of model family {family}; use one of "
                   + ", ".join(sorted(known)))
            continue
        checked = _check_hp(c, field, hp)
        if checked is not None:
            _check_hp_domain(c, field, name, checked, family)
            out[name] = checked
    return out


def _is_known_hp(name: str, known: set[str], family: str | None) -> bool:
    if name in known:
        return True
    if family == "mlp" and name.startswith("units_"):
        index = name[len("units_"):]
        return index.isdigit() and int(index) < catalog.MLP_MAX_LAYERS
    return False


def _known_hyperparameters(family: str | None) -> set[str] | None:
    if family is None:
        return None
    if family == "mlp":
        return set(catalog.MLP_DEFAULTS)
    names: set[str] = set()
    for _, path in catalog.FAMILIES[family].estimators:
        names |= set(_estimator_params(path))
    return names


def _estimator_params(path: str) -> dict[str, Any]:
    import importlib

    module, cls = path.split(":")
    return importlib.import_module(module).__dict__[cls]().get_params()


HP_FIELDS = {
    "int": ("type", "min", "max", "step", "sampling", "default"),
    "float": ("type", "min", "max", "step", "sampling", "default"),
    "choice": ("type", "values", "default"),
    "bool": ("type", "default"),
    "fixed": ("type", "value"),
}


def _check_hp(c: Checker, field: str, hp: Any) -> dict[str, Any] | None:
    if not isinstance(hp, dict):
        c.fail(field, 'must be an object such as {"type": "int", "min": 1, "max": 4}', hp)
        return None
    kind = hp.get("type")
    if c.choice(f"{field}.type", kind, catalog.HP_TYPES) is None:
        return None
    c.unknown_keys(field, hp, HP_FIELDS[kind])
    if kind in ("int", "float"):
        return _check_range(c, field, hp, kind)
    if kind == "choice":
        return _check_choice(c, field, hp)
    if kind == "bool":
        out = {"type": "bool"}
        if "default" in hp:
            if not isinstance(hp["default"], bool):
                c.fail(f"{field}.default", "must be true or false", hp["default"])
            out["default"] = hp["default"]
        return out
    if "value" not in hp:
        c.fail(f"{field}.value", "is required for a fixed hyperparameter")
        return None
    value = hp["value"]
    if not isinstance(value, (str, bool)) and not is_number(value):
        c.fail(f"{field}.value", "must be a string, a boolean or a finite number"
               + _huge_note([value]), value)
        return None
    return {"type": "fixed", "value": value}


def _check_choice(c: Checker, field: str, hp: dict[str, Any]) -> dict[str, Any] | None:
    values = hp.get("values")
    if not isinstance(values, list) or not values:
        c.fail(f"{field}.values", "must be a non-empty list of values to choose from",
               values if values is not None else ...)
        return None
    types = {type(v) for v in values}
    if not all(isinstance(v, (str, int, float, bool)) for v in values) or len(
            types - {int, float}) > 1 or (str in types and len(types) > 1) or (
            bool in types and len(types) > 1):
        c.fail(f"{field}.values", "must all be strings, all numbers or all booleans", values)
        return None
    if any(not isinstance(v, (str, bool)) and not is_number(v) for v in values):
        c.fail(f"{field}.values", "must be finite numbers" + _huge_note(values), values)
        return None
    if len(set(map(json.dumps, values))) != len(values):
        c.fail(f"{field}.values", "must not repeat a value", values)
        return None
    out = {"type": "choice", "values": values}
    if "default" in hp:
        if hp["default"] not in values:
            c.fail(f"{field}.default", "must be one of the values", hp["default"])
        out["default"] = hp["default"]
    return out


def _huge_note(values: list[Any]) -> str:
    if any(isinstance(v, int) and not isinstance(v, bool) and not is_number(v) for v in values):
        return "; integers must be no larger than 2**53 in size (larger ones cannot be read back exactly)"
    return ""


def _check_range(c: Checker, field: str, hp: dict[str, Any], kind: str) -> dict[str, Any] | None:
    ok = True
    bounds = {}
    for key in ("min", "max"):
        value = hp.get(key)
        check = is_int if kind == "int" else is_number
        if value is None:
            c.fail(f"{field}.{key}", f"is required for a {kind} hyperparameter")
            ok = False
        elif not check(value) or not is_number(value):
            noun = "an integer" if kind == "int" else "a number"
            c.fail(f"{field}.{key}", number_rule(value, noun) if check(value) else f"must be {noun}",
                   value)
            ok = False
        else:
            bounds[key] = int(value) if kind == "int" else float(value)
    sampling = hp.get("sampling", "linear")
    if c.choice(f"{field}.sampling", sampling, catalog.SAMPLINGS) is None:
        ok = False
    step = hp.get("step")
    if step is not None:
        if not is_number(step) or step <= 0 or (kind == "int" and not is_int(step)):
            c.fail(f"{field}.step", f"must be a positive {'integer' if kind == 'int' else 'number'}",
                   step)
            ok = False
    if not ok:
        return None
    low, high = bounds["min"], bounds["max"]
    # Messages quote the bounds as written: "got 0", not the normalised "got 0.0".
    if low > high:
        c.fail(f"{field}.min", f"must be <= max ({got(hp['max'])}); swap them", hp["min"])
        return None
    if sampling == "log" and low <= 0:
        c.fail(f"{field}.min", "must be > 0 when sampling is log", hp["min"])
        return None
    if step is not None and sampling == "log":
        c.fail(f"{field}.step", "cannot be combined with log sampling; drop one of them", step)
        return None
    if step is not None and step > (high - low) and high > low:
        c.fail(f"{field}.step", f"must be <= max - min ({got(high - low)})", step)
        return None
    out: dict[str, Any] = {"type": kind, "min": low, "max": high, "sampling": sampling}
    if step is not None:
        out["step"] = int(step) if kind == "int" else float(step)
    if "default" in hp:
        default = hp["default"]
        if not is_number(default) or not low <= default <= high:
            c.fail(f"{field}.default", "must be a number between min and max", default)
        else:
            out["default"] = int(default) if kind == "int" else float(default)
    return out


# MLP hyperparameters whose values are names: what they are called, and the names allowed.
MLP_NAMED_VALUES = {
    "activation": ("activations", catalog.MLP_ACTIVATIONS),
    "shape": ("layer shapes", SHAPES),
    "optimizer": ("optimizers", catalog.MLP_OPTIMIZERS),
}


def _check_hp_domain(c: Checker, field: str, name: str, hp: dict[str, Any],
                     family: str | None) -> None:
    """Rules that depend on what the hyperparameter means to the MLP builder."""
    if family != "mlp":
        return
    values = _possible_values(hp)
    if name in MLP_NAMED_VALUES:
        noun, allowed = MLP_NAMED_VALUES[name]
        bad = [v for v in values if v not in allowed]
        if bad:
            c.fail(field, f"values must be {noun} among " + ", ".join(allowed), bad)
    elif name == "num_layers":
        if any(not is_int(v) or not 1 <= v <= catalog.MLP_MAX_LAYERS for v in values):
            c.fail(field, f"must stay between 1 and {catalog.MLP_MAX_LAYERS} layers",
                   _range_repr(hp))
    elif name in ("units", "batch_size") or name.startswith("units_"):
        if any(not is_int(v) or v < 1 for v in values):
            c.fail(field, "must be positive integers", _range_repr(hp))
    elif name == "dropout":
        if any(not is_number(v) or not 0 <= v < 1 for v in values):
            c.fail(field, "must stay in [0, 1)", _range_repr(hp))
    elif name in ("learning_rate", "l2"):
        low = 0 if name == "l2" else 1e-12
        if any(not is_number(v) or v < low or v > 10 for v in values):
            c.fail(field, "must stay between 0 and 10" if name == "l2"
                   else "must be > 0 and at most 10", _range_repr(hp))


def _possible_values(hp: dict[str, Any]) -> list[Any]:
    kind = hp["type"]
    if kind in ("int", "float"):
        return [hp["min"], hp["max"]]
    if kind == "choice":
        return list(hp["values"])
    if kind == "bool":
        return [True, False]
    return [hp["value"]]


def _range_repr(hp: dict[str, Any]) -> Any:
    if hp["type"] in ("int", "float"):
        return {"min": hp["min"], "max": hp["max"]}
    return _possible_values(hp)


def grid_size(c: Checker, space: dict[str, Any]) -> int | None:
    """How many combinations a grid over ``space`` has; None, with a problem recorded, when
    a float range has no step or the grid exceeds ``MAX_GRID_COMBINATIONS``."""
    total = 1
    for name, hp in space.items():
        values = candidate_values(hp)
        if values is None:
            c.fail(f"search_space.{name}.step",
                   "is required for grid search over a float range; add a step or list values "
                   "with type choice")
            return None
        total *= len(values)
    if total > MAX_GRID_COMBINATIONS:
        c.fail("search_space", f"makes a grid of {total} combinations, more than the "
               f"{MAX_GRID_COMBINATIONS} allowed; use larger steps, fewer values, or random search")
        return None
    return total

