"""Every field the importer reads from a KerasTuner project's JSON, checked first.

``oracle.json`` and ``trial.json`` may be damaged, hand-edited or hostile. Each check here
takes the parsed document and returns a clean copy holding only the fields the importer
reads, each of the type and range it is used as, or None after adding one line per fault
to ``problems``: the file, the field, the rule, the value and the fix. Nothing here raises
on what a file says, so the importer's own error is the only one a user sees.

The shapes are KerasTuner 1.4's own (``Oracle.get_state``, ``Trial.get_state``,
``HyperParameters.get_config``, ``MetricsTracker.get_config``); names (hyperparameters,
metrics) follow the spec's rule for names (``tuning.spec.NAME_MAX_LENGTH``, no control
characters) and must be text SQLite can store (no lone surrogates).
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from tuning.spec import NAME_MAX_LENGTH
from tuning.spec.checker import MAX_EPOCHS_LIMIT, got

from .project_files import MAX_ENTRIES

MAX_HYPERPARAMETERS = 1_000
MAX_CHOICES = 10_000
MAX_CONDITIONS = 100
MAX_METRICS = 1_000
MAX_OBSERVATIONS = 10_000   # per metric of one trial
MAX_EXECUTIONS = 1_000      # values per observation
MAX_VALUE_LENGTH = 1_000    # characters of a string value
MAX_MESSAGE_LENGTH = 2_000  # characters of a trial's message kept
MAX_INT = 2**53             # integers beyond lose digits as floats (plots, JSON readers)
MAX_STEP = 2**31 - 1
MAX_SEED = 2**32 - 1        # what numpy's generators accept, as KerasTuner seeds them
MAX_BRACKETS = 10_000
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
TRIAL_ID = re.compile(r"[0-9]{1,18}")  # KerasTuner's ids are zero-padded numbers
KT_STATUSES = ("COMPLETED", "FAILED", "INVALID", "STOPPED", "RUNNING", "IDLE")
SAMPLINGS = ("linear", "log", "reverse_log")
NUMERIC = ("Int", "Float")


def _shown(value: Any) -> str:
    """A value as a message quotes it, without dumping a whole (maybe huge) container."""
    if isinstance(value, (list, dict)):
        items = value.values() if isinstance(value, dict) else value
        if len(value) <= 10 and all(_small_scalar(v) for v in items) and all(
                _small_scalar(k) for k in value if isinstance(value, dict)):
            return got(value)
        return f"{'an array' if isinstance(value, list) else 'an object'} of {len(value)} items"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return f"an integer of {len(str(abs(value)))} digits"
    return got(value)


def _small_scalar(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= 80
    return value is None or isinstance(value, (bool, float)) or (
        isinstance(value, int) and abs(value) <= 10**30)


def text_problem(value: Any, limit: int = NAME_MAX_LENGTH) -> str | None:
    """Why ``value`` is not a name a spec would accept, or None: a non-empty string of at
    most ``limit`` characters, without control characters, storable as UTF-8."""
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    if len(value) > limit:
        return f"must be at most {limit} characters"
    if _CONTROL.search(value):
        return "must not contain control characters such as newlines"
    if not _storable(value):
        return "must be valid Unicode text (it holds a lone surrogate)"
    return None


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable_text(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, with what UTF-8 cannot hold replaced."""
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text if _storable(text) else _SURROGATE.sub("\ufffd", text)


class Fields:
    """The checks of one file. Each returns the clean value, or None after recording a
    problem (or when an optional field is absent: pass ``optional=True``)."""

    #: Problems listed per file: a file with thousands of bad values is damaged all the
    #: same, and the message must stay readable.
    LISTED = 10

    def __init__(self, path: str, problems: list[str], fix: str):
        self.path, self.problems, self.fix = path, problems, fix
        self.failed = False
        self.count = 0

    def fail(self, field: str, rule: str, value: Any = ...) -> None:
        self.failed = True
        self.count += 1
        if self.count <= self.LISTED:
            shown = "" if value is ... else f"; got {_shown(value)}"
            self.problems.append(f"{self.path}: {field} {rule}{shown}; {self.fix}")
        elif self.count == self.LISTED + 1:
            self.problems.append(f"{self.path}: more problems than these {self.LISTED}; "
                                 f"{self.fix}")

    def mapping(self, field: str, value: Any, limit: int = MAX_ENTRIES,
                optional: bool = False) -> dict[str, Any] | None:
        if value is None and optional:
            return None
        if not isinstance(value, dict):
            self.fail(field, "must be an object", value)
            return None
        if len(value) > limit:
            self.fail(field, f"must have at most {limit} entries", value)
            return None
        return value

    def array(self, field: str, value: Any, limit: int, optional: bool = False) -> list | None:
        if value is None and optional:
            return None
        if not isinstance(value, list):
            self.fail(field, "must be an array", value)
            return None
        if len(value) > limit:
            self.fail(field, f"must have at most {limit} items", value)
            return None
        return value

    def integer(self, field: str, value: Any, low: int, high: int,
                optional: bool = False) -> int | None:
        if value is None and optional:
            return None
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(field, "must be a whole number", value)
            return None
        if not low <= value <= high:
            self.fail(field, f"must be between {low} and {high}", value)
            return None
        return value

    def number(self, field: str, value: Any, optional: bool = False,
               finite: bool = True) -> float | int | None:
        """A JSON number a float can hold (ints within ``MAX_INT`` stay ints); with
        ``finite=False`` NaN and infinities pass (a diverged metric is one)."""
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field, "must be a number", value)
            return None
        if isinstance(value, int):
            if abs(value) > MAX_INT:
                self.fail(field, f"must be a number within ±{MAX_INT}", value)
                return None
            return value
        if finite and not math.isfinite(value):
            self.fail(field, "must be a finite number", value)
            return None
        return value

    def name(self, field: str, value: Any) -> str | None:
        problem = text_problem(value)
        if problem:
            self.fail(field, problem, value)
            return None
        return value

    def choice(self, field: str, value: Any, options: Iterable[str],
               optional: bool = False) -> str | None:
        if value is None and optional:
            return None
        options = tuple(options)
        if value not in options:
            self.fail(field, f"must be one of {', '.join(options)}", value)
            return None
        return value

    def scalar(self, field: str, value: Any, optional: bool = False) -> Any:
        """A hyperparameter's value: a string, a number or a boolean (None when optional)."""
        if value is None:
            if not optional:
                self.fail(field, "must be a string, a number or a boolean", value)
            return None
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            if len(value) > MAX_VALUE_LENGTH or not _storable(value):
                self.fail(field, f"must be Unicode text of at most {MAX_VALUE_LENGTH} "
                          "characters", value)
                return None
            return value
        if isinstance(value, (int, float)):
            return self.number(field, value)
        self.fail(field, "must be a string, a number or a boolean", value)
        return None


def _kind(value: Any) -> str:
    return "bool" if isinstance(value, bool) else "str" if isinstance(value, str) else "number"


# -- oracle.json ----------------------------------------------------------------------


def check_oracle(f: Fields, state: Any) -> dict[str, Any] | None:
    """``oracle.json``: its search space, seed and trial order checked; the other keys
    (the strategy's settings, checked by ``check_settings``) passed on as they are."""
    if state is None:
        return None
    if not isinstance(state, dict):
        f.fail("the document", "must be a JSON object (KerasTuner's oracle state)", state)
        return None
    hps = f.mapping("hyperparameters", state.get("hyperparameters"))
    space = f.array("hyperparameters.space", hps.get("space"), MAX_HYPERPARAMETERS) \
        if hps is not None else None
    entries = []
    for i, entry in enumerate(space or ()):
        checked = _check_entry(f, f"hyperparameters.space[{i}]", entry)
        if checked is not None:
            entries.append(checked)
    seed = f.integer("seed", state.get("seed"), 0, MAX_SEED, optional=True)
    order = f.array("start_order", state.get("start_order"), MAX_ENTRIES, optional=True)
    for i, key in enumerate(order or ()):
        if not isinstance(key, str):
            f.fail(f"start_order[{i}]", "must be a trial id (a string)", key)
            break
    if f.failed:
        return None
    return {**state, "hyperparameters": {"space": entries}, "seed": seed,
            "start_order": list(order or ())}


def _check_entry(f: Fields, field: str, entry: Any) -> dict[str, Any] | None:
    """One ``HyperParameters.get_config()["space"]`` entry, or None (also for a class this
    importer does not know, which is left out of the space)."""
    entry = f.mapping(field, entry)
    if entry is None:
        return None
    kind = entry.get("class_name")
    if not isinstance(kind, str) or len(kind) > NAME_MAX_LENGTH:
        f.fail(f"{field}.class_name", "must be a hyperparameter class such as Int or Choice",
               kind)
        return None
    hp = f.mapping(f"{field}.config", entry.get("config"))
    if hp is None:
        return None
    name = f.name(f"{field}.config.name", hp.get("name"))
    if name is None:
        return None
    where = f"{field} ({name})"
    config: dict[str, Any] = {"name": name}
    conditions = _check_conditions(f, f"{where}.conditions", hp.get("conditions"))
    if conditions:
        config["conditions"] = conditions
    if kind in NUMERIC:
        checked = _check_numeric(f, where, kind, hp)
    elif kind == "Choice":
        checked = _check_choice(f, where, hp)
    elif kind == "Boolean":
        default = hp.get("default")
        if default is not None and not isinstance(default, bool):
            f.fail(f"{where}.default", "must be true, false or null", default)
            return None
        checked = {"default": default}
    elif kind == "Fixed":
        value = f.scalar(f"{where}.value", hp.get("value"))
        checked = None if value is None else {"value": value}
    else:
        return None  # a class of a later KerasTuner: left out, as search_space documents
    return None if checked is None else {"class_name": kind, "config": {**config, **checked}}


def _check_numeric(f: Fields, where: str, kind: str, hp: Mapping[str, Any]) -> dict | None:
    integral = kind == "Int"

    def read(key: str, optional: bool) -> Any:
        if integral:
            return f.integer(f"{where}.{key}", hp.get(key), -MAX_INT, MAX_INT, optional)
        return f.number(f"{where}.{key}", hp.get(key), optional)

    low, high = read("min_value", False), read("max_value", False)
    step, default = read("step", True), read("default", True)
    sampling = f.choice(f"{where}.sampling", hp.get("sampling") or "linear", SAMPLINGS)
    if low is None or high is None or sampling is None or f.failed:
        return None
    if low > high:
        f.fail(f"{where}.min_value", f"must be <= max_value ({got(high)})", low)
        return None
    if sampling != "linear" and low <= 0:
        f.fail(f"{where}.min_value", f"must be > 0 when sampling is {sampling}", low)
        return None
    if step is not None and step <= 0:
        f.fail(f"{where}.step", "must be a positive number (or null)", step)
        return None
    return {"min_value": low, "max_value": high, "step": step, "default": default,
            "sampling": sampling}


def _check_choice(f: Fields, where: str, hp: Mapping[str, Any]) -> dict | None:
    values = f.array(f"{where}.values", hp.get("values"), MAX_CHOICES)
    if values is None:
        return None
    if not values:
        f.fail(f"{where}.values", "must list at least one value")
        return None
    clean = [f.scalar(f"{where}.values[{i}]", v) for i, v in enumerate(values)]
    if f.failed:
        return None
    if len({_kind(v) for v in clean}) > 1:
        f.fail(f"{where}.values", "must all be strings, all numbers or all booleans", values)
        return None
    default = hp.get("default")
    if default is not None and default not in clean:
        f.fail(f"{where}.default", "must be one of the values (or null)", default)
        return None
    return {"values": clean, "default": default}


def _check_conditions(f: Fields, field: str, conditions: Any) -> list[dict[str, Any]]:
    """``conditions``: KerasTuner's ``Parent`` conditions, each a name and the values
    under which the hyperparameter is active."""
    out = []
    for i, cond in enumerate(f.array(field, conditions, MAX_CONDITIONS, optional=True) or ()):
        cond = f.mapping(f"{field}[{i}]", cond)
        if cond is None:
            continue
        config = f.mapping(f"{field}[{i}].config", cond.get("config"))
        if config is None:
            continue
        kind = cond.get("class_name")
        name = f.name(f"{field}[{i}].config.name", config.get("name"))
        values = f.array(f"{field}[{i}].config.values", config.get("values"), MAX_CHOICES)
        if not isinstance(kind, str) or len(kind) > NAME_MAX_LENGTH:
            f.fail(f"{field}[{i}].class_name", "must be a condition class such as Parent", kind)
        elif name is not None and values is not None:
            clean = [f.scalar(f"{field}[{i}].config.values[{j}]", v) for j, v in
                     enumerate(values)]
            out.append({"class_name": kind, "config": {"name": name, "values": clean}})
    return out


def check_settings(f: Fields, oracle: Mapping[str, Any], fields: Iterable[str],
                   epochs_field: str | None) -> None:
    """A strategy's settings in ``oracle.json`` (``Strategy.oracle_fields``): each a
    number or null; the one that fixes each trial's epochs a whole number of epochs."""
    for key in fields:
        if key == epochs_field:
            f.integer(key, oracle.get(key), 1, MAX_EPOCHS_LIMIT, optional=True)
        else:
            f.number(key, oracle.get(key), optional=True)


# -- trial.json -----------------------------------------------------------------------


def check_trial(f: Fields, state: Any) -> dict[str, Any] | None:
    """``trial.json``: its id, values, status, score, message and metrics, checked."""
    if state is None:
        return None
    if not isinstance(state, dict):
        f.fail("the document", "must be a JSON object (KerasTuner's trial state)", state)
        return None
    trial_id = state.get("trial_id")
    if not isinstance(trial_id, str) or not TRIAL_ID.fullmatch(trial_id):
        f.fail("trial_id", "must be a plain number as a string, as KerasTuner writes it "
               "(\"00\", \"0003\")", trial_id)
    hps = f.mapping("hyperparameters", state.get("hyperparameters"))
    values = _check_values(f, hps.get("values")) if hps is not None else None
    status = f.choice("status", state.get("status"), KT_STATUSES)
    score = f.number("score", state.get("score"), optional=True)
    message = state.get("message")
    if message is not None and not isinstance(message, str):
        f.fail("message", "must be a string or null", message)
    metrics = _check_metrics(f, state.get("metrics"))
    if f.failed:
        return None
    return {"trial_id": trial_id, "hyperparameters": {"values": values}, "status": status,
            "score": None if score is None else float(score),
            "message": None if message is None else storable_text(message, 10**6),
            "metrics": metrics}


def _check_values(f: Fields, values: Any) -> dict[str, Any] | None:
    values = f.mapping("hyperparameters.values", values, MAX_HYPERPARAMETERS)
    if values is None:
        return None
    clean = {}
    for key, value in values.items():
        field = f"hyperparameters.values.{key}" if _storable(key) else "hyperparameters.values"
        if f.name(field, key) is None:
            continue
        if key in ("tuner/bracket", "tuner/round"):
            clean[key] = f.integer(field, value, 0, MAX_BRACKETS, optional=True)
        elif key in ("tuner/epochs", "tuner/initial_epoch"):
            clean[key] = f.integer(field, value, 0, MAX_STEP, optional=True)
        elif key == "tuner/trial_id" and value not in (None, ""):
            if not isinstance(value, str) or not TRIAL_ID.fullmatch(value):
                f.fail(field, "must be the parent's trial id (a plain number as a string)",
                       value)
            clean[key] = value
        else:
            clean[key] = f.scalar(field, value, optional=True)
    return clean


def _check_metrics(f: Fields, config: Any) -> dict[str, Any]:
    """``MetricsTracker.get_config()``: per metric a direction and observations, each
    ``{"value": [one per execution], "step": epoch}``. NaN and infinities pass (an epoch
    that diverged); they are left out of the epochs later."""
    config = f.mapping("metrics", config, optional=True) or {}
    histories = f.mapping("metrics.metrics", config.get("metrics"), MAX_METRICS,
                          optional=True) or {}
    clean: dict[str, Any] = {}
    for name, history in histories.items():
        field = f"metrics.metrics.{name}" if _storable(name) else "metrics.metrics"
        if f.name(field, name) is None or f.mapping(field, history) is None:
            continue
        direction = f.choice(f"{field}.direction", history.get("direction"), ("min", "max"),
                             optional=True)
        observations = []
        listed = f.array(f"{field}.observations", history.get("observations"),
                         MAX_OBSERVATIONS, optional=True)
        for i, obs in enumerate(listed or ()):
            obs = f.mapping(f"{field}.observations[{i}]", obs)
            if obs is None:
                break
            value = obs.get("value")
            value = value if isinstance(value, list) else [value]
            if len(value) > MAX_EXECUTIONS:
                f.fail(f"{field}.observations[{i}].value",
                       f"must hold at most {MAX_EXECUTIONS} values", value)
                break
            numbers = [f.number(f"{field}.observations[{i}].value", v, optional=True,
                                finite=False) for v in value]
            step = f.integer(f"{field}.observations[{i}].step", obs.get("step"), 0, MAX_STEP,
                             optional=True)
            if f.failed:
                break
            observations.append({"value": [float("nan") if v is None else float(v)
                                           for v in numbers], "step": step or 0})
        clean[name] = {"direction": direction, "observations": observations}
    return {"metrics": clean}
